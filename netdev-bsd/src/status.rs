//! What a FreeBSD device's `status()` reports, platform-free: the
//! translation of values the class reads anyway (one
//! `net.link.generic.ifdata.<index>` read, one `drivername` read, the
//! `SIOCGIFMEDIA` words) into the free-form map, in Open vSwitch's
//! `get_status` spirit.
//!
//! Keys, each present only when its source answered:
//!
//! - `kind`: `system` or `tap`;
//! - `driver_name`, `driver_unit`: the driver and unit (`em`, `0`) from the
//!   `drivername` sysctl, which a rename does not change;
//! - `if_type`: `ifi_type` by name (`ethernet`, `bridge`, `loopback`...);
//! - `link_state`: `up`, `down` or `unknown` (`ifi_link_state`);
//! - `media`, `media_status`: the `media:` and `status:` lines `ifconfig`
//!   prints, from the media words.
//!
//! Bridge membership is not reported: FreeBSD keeps no link from a member
//! to its bridge that one call reads (it takes `BRDGGIFS` on every
//! bridge), which is not cheap.

use std::collections::BTreeMap;

use crate::wire::if_data::{if_type_name, LinkState};
use crate::wire::ifmib::{split_driver, IfMibData};
use crate::wire::media;

/// The `SIOCGIFMEDIA` words of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaNow {
    /// `ifm_status`.
    pub status: u32,
    /// `ifm_current`: what is configured.
    pub current: u32,
    /// `ifm_active`: what runs now.
    pub active: u32,
}

/// What the class read for a status.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// `system` or `tap`.
    pub kind: &'a str,
    /// The interface MIB, if it answered.
    pub mib: Option<&'a IfMibData>,
    /// The driver instance (`em0`), if the sysctl answered.
    pub driver: Option<&'a str>,
    /// The media words, if the device has media.
    pub media: Option<MediaNow>,
}

/// The status map of `facts`.
pub fn status_map(facts: &Facts<'_>) -> BTreeMap<String, String> {
    let mut s = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        s.insert(k.to_owned(), v);
    };
    put("kind", facts.kind.to_owned());
    if let Some(instance) = facts.driver {
        let (driver, unit) = split_driver(instance);
        put("driver_name", driver.to_owned());
        if let Some(unit) = unit {
            put("driver_unit", unit.to_string());
        }
    }
    if let Some(mib) = facts.mib {
        put("if_type", if_type_name(mib.data.if_type));
        let state = match mib.link_state() {
            LinkState::Up => "up".to_owned(),
            LinkState::Down => "down".to_owned(),
            LinkState::Unknown => "unknown".to_owned(),
            LinkState::Other(v) => format!("state {v}"),
        };
        put("link_state", state);
    }
    if let Some(m) = facts.media {
        put("media", media::describe_media(m.current, m.active));
        if let Some(st) = media::describe_status(m.active, m.status) {
            put("media_status", st.to_owned());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixture::{self, sample_if_data};
    use crate::wire::layout::*;

    fn mib(if_type: u8, link_state: u8) -> IfMibData {
        let mut d = sample_if_data(link_state, 1500);
        d.if_type = if_type;
        IfMibData::parse(&fixture::ifmibdata("lan0", IFF_UP, 0, &d)).unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn a_gigabit_nic() {
        let m = mib(0x06, LINK_STATE_UP);
        let facts = Facts {
            kind: "system",
            mib: Some(&m),
            driver: Some("em0"),
            media: Some(MediaNow {
                status: IFM_AVALID | IFM_ACTIVE,
                current: IFM_ETHER | IFM_AUTO,
                active: IFM_ETHER | 16 | IFM_FDX,
            }),
        };
        assert_eq!(
            status_map(&facts),
            map(&[
                ("kind", "system"),
                ("driver_name", "em"),
                ("driver_unit", "0"),
                ("if_type", "ethernet"),
                ("link_state", "up"),
                ("media", "Ethernet autoselect (1000baseT <full-duplex>)"),
                ("media_status", "active"),
            ])
        );
    }

    #[test]
    fn a_tap_without_a_reader_and_a_loopback_without_media() {
        // if_tuntap answers IFM_ETHER with IFM_ACTIVE only while open.
        let m = mib(0x06, LINK_STATE_DOWN);
        let tap = Facts {
            kind: "tap",
            mib: Some(&m),
            driver: Some("tap3"),
            media: Some(MediaNow {
                status: IFM_AVALID,
                current: IFM_ETHER,
                active: IFM_ETHER,
            }),
        };
        let s = status_map(&tap);
        assert_eq!(s["media"], "Ethernet autoselect");
        assert_eq!(s["media_status"], "no carrier");
        assert_eq!(s["link_state"], "down");
        assert_eq!(s["driver_unit"], "3");

        let lo = mib(0x18, LINK_STATE_UNKNOWN);
        let s = status_map(&Facts {
            kind: "system",
            mib: Some(&lo),
            driver: Some("lo0"),
            media: None,
        });
        assert_eq!(s["if_type"], "loopback");
        assert_eq!(s["link_state"], "unknown");
        assert!(!s.contains_key("media") && !s.contains_key("media_status"));
    }

    #[test]
    fn only_what_answered_is_reported() {
        let s = status_map(&Facts {
            kind: "system",
            mib: None,
            driver: Some("pflog"),
            media: None,
        });
        assert_eq!(s, map(&[("kind", "system"), ("driver_name", "pflog")]));
        let odd = mib(0x25, 9);
        let s = status_map(&Facts {
            kind: "system",
            mib: Some(&odd),
            driver: None,
            media: None,
        });
        assert_eq!(s["if_type"], "0x25");
        assert_eq!(s["link_state"], "state 9");
    }
}
