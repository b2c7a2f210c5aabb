//! Ethernet (MAC) addresses.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind};

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthAddr(pub [u8; 6]);

impl EthAddr {
    /// `00:00:00:00:00:00`.
    pub const ZERO: EthAddr = EthAddr([0; 6]);
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthAddr = EthAddr([0xff; 6]);

    /// The six octets.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// True for `ff:ff:ff:ff:ff:ff`.
    pub fn is_broadcast(&self) -> bool {
        *self == EthAddr::BROADCAST
    }

    /// True if the group bit (least significant bit of the first octet) is
    /// set; broadcast is a multicast address too.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for `00:00:00:00:00:00`.
    pub fn is_zero(&self) -> bool {
        *self == EthAddr::ZERO
    }

    /// True if the locally-administered bit is set.
    pub fn is_local(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    /// True for an address a device may use as its own: not zero and not
    /// multicast (which includes broadcast).
    pub fn is_valid_unicast(&self) -> bool {
        !self.is_zero() && !self.is_multicast()
    }

    /// The address from the first six bytes of `bytes`, or `None` if shorter.
    pub fn from_slice(bytes: &[u8]) -> Option<EthAddr> {
        bytes.get(..6)?.try_into().ok().map(EthAddr)
    }
}

impl From<[u8; 6]> for EthAddr {
    fn from(octets: [u8; 6]) -> EthAddr {
        EthAddr(octets)
    }
}

impl fmt::Display for EthAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for EthAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EthAddr({self})")
    }
}

impl FromStr for EthAddr {
    type Err = Error;

    /// Parses `aa:bb:cc:dd:ee:ff` (also with `-` separators); each octet is
    /// one or two hex digits, as `ip link` and `ifconfig` accept.
    fn from_str(s: &str) -> Result<EthAddr, Error> {
        let bad = |why: &str| {
            Error::new(ErrorKind::InvalidInput(format!(
                "{s:?} is not an Ethernet address: {why}"
            )))
        };
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(sep);
        for (i, slot) in out.iter_mut().enumerate() {
            let part = parts
                .next()
                .ok_or_else(|| bad(&format!("expected 6 octets, found {i}")))?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(&format!(
                    "octet {} ({part:?}) is not 1-2 hex digits",
                    i + 1
                )));
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad("bad hex"))?;
        }
        if parts.next().is_some() {
            return Err(bad("more than 6 octets"));
        }
        Ok(EthAddr(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        let a: EthAddr = "aa:bb:cc:dd:ee:0f".parse().unwrap();
        assert_eq!(a.0, [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f]);
        assert_eq!(a.to_string(), "aa:bb:cc:dd:ee:0f");
        let b: EthAddr = "AA-BB-CC-DD-EE-F".parse().unwrap();
        assert_eq!(b.to_string(), "aa:bb:cc:dd:ee:0f");
        let c: EthAddr = "0:1:2:3:4:5".parse().unwrap();
        assert_eq!(c.0, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:fg",
            "aaa:bb:cc:dd:ee:ff",
            "aa::cc:dd:ee:ff",
            "+a:bb:cc:dd:ee:ff",
            "aa:bb:cc:dd:ee:ff ",
        ] {
            let err = bad.parse::<EthAddr>().unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{bad:?}");
            assert!(err.to_string().contains("not an Ethernet address"));
        }
    }

    #[test]
    fn classification() {
        assert!(EthAddr::BROADCAST.is_broadcast());
        assert!(EthAddr::BROADCAST.is_multicast());
        assert!(!EthAddr::BROADCAST.is_valid_unicast());
        assert!(EthAddr::ZERO.is_zero());
        assert!(!EthAddr::ZERO.is_valid_unicast());
        let mcast: EthAddr = "01:00:5e:00:00:01".parse().unwrap();
        assert!(mcast.is_multicast() && !mcast.is_broadcast());
        let local: EthAddr = "02:00:00:00:00:01".parse().unwrap();
        assert!(local.is_local() && local.is_valid_unicast());
        assert_eq!(EthAddr::from_slice(&[1, 2, 3]), None);
        assert_eq!(
            EthAddr::from_slice(&[1, 2, 3, 4, 5, 6, 7]),
            Some(EthAddr([1, 2, 3, 4, 5, 6]))
        );
    }
}
