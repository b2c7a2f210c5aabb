//! `struct ifmibdata` (`<net/if_mib.h>`): one interface's name, flags and
//! `struct if_data`, read directly by index with the sysctl
//! `net.link.generic.ifdata.<ifindex>.general` (the C seed scanned every
//! interface by name instead: O(N) per call).

use netdev_core::{Flags, Stats};

use super::if_data::{IfData, LinkState};
use super::layout::*;
use super::{flags, Bytes, WireError};

/// The sysctl MIB name of one interface's `struct ifmibdata`:
/// `{CTL_NET, PF_LINK, NETLINK_GENERIC, IFMIB_IFDATA, ifindex,
/// IFDATA_GENERAL}`. `None` if `ifindex` does not fit a C int (no such
/// interface can exist).
pub fn ifdata_mib(ifindex: u32) -> Option<[i32; 6]> {
    let row = i32::try_from(ifindex).ok()?;
    Some([
        CTL_NET,
        PF_LINK,
        NETLINK_GENERIC,
        IFMIB_IFDATA,
        row,
        IFDATA_GENERAL,
    ])
}

/// The sysctl MIB name of the interface count
/// (`net.link.generic.system.ifcount`), for callers that must enumerate.
pub fn ifcount_mib() -> [i32; 5] {
    [
        CTL_NET,
        PF_LINK,
        NETLINK_GENERIC,
        IFMIB_SYSTEM,
        IFMIB_IFCOUNT,
    ]
}

/// A decoded `struct ifmibdata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMibData {
    /// `ifmd_name`.
    pub name: String,
    /// `ifmd_pcount`: promiscuous listeners.
    pub pcount: i32,
    /// `ifmd_flags`: `IFF_*`.
    pub flags: u32,
    /// `ifmd_snd_len`.
    pub snd_len: i32,
    /// `ifmd_snd_maxlen`.
    pub snd_maxlen: i32,
    /// `ifmd_snd_drops` (already part of `ifi_oqdrops`).
    pub snd_drops: i32,
    /// `ifmd_data`.
    pub data: IfData,
}

impl IfMibData {
    /// Decodes the sysctl's answer: at least [`IFMIBDATA_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<IfMibData, WireError> {
        let b = Bytes::new(bytes, "struct ifmibdata");
        if bytes.len() < IFMIBDATA_LEN {
            return Err(WireError::Truncated {
                what: b.what,
                need: IFMIBDATA_LEN,
                have: bytes.len(),
            });
        }
        Ok(IfMibData {
            name: b.name(IFMD_NAME, IFNAMSIZ)?,
            pcount: b.i32(IFMD_PCOUNT)?,
            flags: b.i32(IFMD_FLAGS)? as u32,
            snd_len: b.i32(IFMD_SND_LEN)?,
            snd_maxlen: b.i32(IFMD_SND_MAXLEN)?,
            snd_drops: b.i32(IFMD_SND_DROPS)?,
            data: IfData::parse(b.slice(IFMD_DATA, IF_DATA_LEN)?)?,
        })
    }

    /// The counters (see [`IfData::stats`]).
    pub fn stats(&self) -> Stats {
        self.data.stats()
    }

    /// The flags as core [`Flags`].
    pub fn core_flags(&self) -> Flags {
        flags::from_iff(self.flags)
    }

    /// The link state.
    pub fn link_state(&self) -> LinkState {
        self.data.link_state()
    }
}

/// The driver instance from the sysctl
/// `net.link.generic.ifdata.<ifindex>.drivername`: `if_dname` followed by
/// `if_dunit` in decimal (only `if_dname` for a driver without units),
/// NUL-terminated. Unlike the interface name, a rename does not change it.
pub fn parse_drivername(bytes: &[u8]) -> Result<String, WireError> {
    const WHAT: &str = "drivername sysctl";
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| WireError::Invalid {
            what: WHAT,
            detail: format!("no NUL in {} bytes", bytes.len()),
        })?;
    if end == 0 {
        return Err(WireError::Invalid {
            what: WHAT,
            detail: "empty".into(),
        });
    }
    Ok(String::from_utf8_lossy(&bytes[..end]).into_owned())
}

/// The driver and unit of a driver instance: `("em", Some(0))` for `em0`.
/// The sysctl joins them without a separator, so a driver whose own name
/// ends in digits would lose them to the unit; no FreeBSD network driver
/// is named so.
pub fn split_driver(instance: &str) -> (&str, Option<u32>) {
    let digits = instance
        .bytes()
        .rev()
        .take_while(u8::is_ascii_digit)
        .count();
    let (driver, unit) = instance.split_at(instance.len() - digits);
    if driver.is_empty() {
        return (instance, None);
    }
    (driver, unit.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixture::{self, sample_if_data};

    #[test]
    fn mib_names() {
        assert_eq!(ifdata_mib(3), Some([4, 18, 0, 2, 3, 1]));
        assert_eq!(ifdata_mib(u32::MAX), None);
        assert_eq!(ifcount_mib(), [4, 18, 0, 1, 1]);
    }

    #[test]
    fn stats_and_identity() {
        let iff = IFF_UP | IFF_PPROMISC | IFF_RUNNING;
        let buf = fixture::ifmibdata("em0", iff, 7, &sample_if_data(LINK_STATE_DOWN, 1500));
        assert_eq!(buf.len(), IFMIBDATA_LEN);
        let m = IfMibData::parse(&buf).unwrap();
        assert_eq!(m.name, "em0");
        assert_eq!(m.flags, iff);
        assert_eq!(m.snd_drops, 7);
        assert_eq!(m.snd_maxlen, 50);
        assert_eq!(m.core_flags(), Flags::UP | Flags::PROMISC | Flags::RUNNING);
        assert_eq!(m.link_state(), LinkState::Down);
        assert_eq!(m.data.mtu, 1500);
        assert_eq!(
            m.stats(),
            Stats {
                rx_packets: 101,
                rx_errors: 102,
                tx_packets: 103,
                tx_errors: 104,
                collisions: 105,
                rx_bytes: 106,
                tx_bytes: 107,
                multicast: 108,
                rx_dropped: 110,
                tx_dropped: 111,
                ..Stats::default()
            }
        );
    }

    #[test]
    fn malformed() {
        let buf = fixture::ifmibdata("em0", 0, 0, &sample_if_data(2, 1500));
        for n in [0, 16, IFMD_DATA, IFMIBDATA_LEN - 1] {
            assert!(matches!(
                IfMibData::parse(&buf[..n]),
                Err(WireError::Truncated {
                    need: IFMIBDATA_LEN,
                    ..
                })
            ));
        }
        let mut long = buf.clone();
        long.extend([0; 16]);
        assert!(IfMibData::parse(&long).is_ok());
        let mut noname = buf.clone();
        noname[..IFNAMSIZ].fill(b'e');
        assert!(IfMibData::parse(&noname).is_err());
        let mut baddatalen = buf;
        let at = IFMD_DATA + IFI_DATALEN;
        baddatalen[at..at + 2].copy_from_slice(&8u16.to_ne_bytes());
        assert!(IfMibData::parse(&baddatalen).is_err());
    }

    #[test]
    fn driver_names() {
        assert_eq!(parse_drivername(b"em0\0").unwrap(), "em0");
        // The kernel writes the string and its NUL; a larger buffer is
        // fine.
        assert_eq!(parse_drivername(b"tap12\0\0\0").unwrap(), "tap12");
        assert!(parse_drivername(b"em0").is_err(), "no NUL");
        assert!(parse_drivername(b"\0").is_err(), "empty");
        assert!(parse_drivername(b"").is_err());
        assert_eq!(split_driver("em0"), ("em", Some(0)));
        assert_eq!(split_driver("vtnet12"), ("vtnet", Some(12)));
        assert_eq!(split_driver("pflog"), ("pflog", None));
        assert_eq!(split_driver("123"), ("123", None));
        // A unit too large for u32 is not a unit.
        assert_eq!(split_driver("ix99999999999"), ("ix", None));
    }
}
