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
