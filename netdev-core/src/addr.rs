//! IP address configuration of a device.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, ErrorKind};

/// An IPv4 address with its netmask, as `SIOCGIFADDR`/`SIOCGIFNETMASK`
/// report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    /// The address.
    pub addr: Ipv4Addr,
    /// The netmask (contiguous ones, for example 255.255.255.0).
    pub netmask: Ipv4Addr,
}

impl Ipv4Net {
    /// An address with a contiguous netmask; an error for a netmask with
    /// holes such as 255.0.255.0.
    pub fn new(addr: Ipv4Addr, netmask: Ipv4Addr) -> Result<Ipv4Net, Error> {
        let bits = u32::from(netmask);
        if bits.leading_ones() + bits.trailing_zeros() != 32 {
            return Err(Error::new(ErrorKind::InvalidInput(format!(
                "netmask {netmask} is not contiguous"
            ))));
        }
        Ok(Ipv4Net { addr, netmask })
    }

    /// An address with a prefix length (0..=32).
    pub fn with_prefix(addr: Ipv4Addr, prefix_len: u8) -> Result<Ipv4Net, Error> {
        if prefix_len > 32 {
            return Err(Error::new(ErrorKind::InvalidInput(format!(
                "prefix length {prefix_len} is larger than 32"
            ))));
        }
        let mask = u32::MAX
            .checked_shl(32 - u32::from(prefix_len))
            .unwrap_or(0);
        Ok(Ipv4Net {
            addr,
            netmask: Ipv4Addr::from(mask),
        })
    }

    /// The prefix length of the netmask.
    pub fn prefix_len(&self) -> u8 {
        u32::from(self.netmask).leading_ones() as u8
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len())
    }
}

/// An IPv6 address with its prefix length, as `ip -6 addr` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Net {
    addr: Ipv6Addr,
    prefix_len: u8,
}

impl Ipv6Net {
    /// An address with a prefix length (0..=128).
    pub fn new(addr: Ipv6Addr, prefix_len: u8) -> Result<Ipv6Net, Error> {
        if prefix_len > 128 {
            return Err(Error::new(ErrorKind::InvalidInput(format!(
                "prefix length {prefix_len} is larger than 128"
            ))));
        }
        Ok(Ipv6Net { addr, prefix_len })
    }

    /// The address.
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length (0..=128).
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
}

impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_mask_agree() {
        let a = Ipv4Addr::new(192, 0, 2, 1);
        for len in 0..=32u8 {
            let net = Ipv4Net::with_prefix(a, len).unwrap();
            assert_eq!(net.prefix_len(), len);
            assert_eq!(Ipv4Net::new(a, net.netmask).unwrap(), net);
        }
        assert_eq!(
            Ipv4Net::with_prefix(a, 24).unwrap().to_string(),
            "192.0.2.1/24"
        );
        assert!(Ipv4Net::with_prefix(a, 33).is_err());
        assert!(Ipv4Net::new(a, Ipv4Addr::new(255, 0, 255, 0)).is_err());
    }

    #[test]
    fn ipv6_prefix_is_checked_and_shown() {
        let a: Ipv6Addr = "fe80::1".parse().unwrap();
        assert_eq!(Ipv6Net::new(a, 64).unwrap().to_string(), "fe80::1/64");
        assert_eq!(Ipv6Net::new(a, 128).unwrap().prefix_len(), 128);
        assert!(Ipv6Net::new(a, 129).is_err());
    }
}
