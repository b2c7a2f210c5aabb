//! `struct if_data` (`<net/if.h>`): the link state, MTU and counters the
//! kernel embeds in `RTM_IFINFO` messages and in `struct ifmibdata`.
//! Offsets in [`super::layout`].

use netdev_core::Stats;

use super::layout::*;
use super::{Bytes, WireError};

/// `ifi_link_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// `LINK_STATE_UNKNOWN`: the driver does not report it (loopback,
    /// most tunnels).
    Unknown,
    /// `LINK_STATE_DOWN`.
    Down,
    /// `LINK_STATE_UP`.
    Up,
    /// A value this crate does not know, kept as it came.
    Other(u8),
}

impl LinkState {
    /// From the raw `ifi_link_state`.
    pub fn from_raw(v: u8) -> LinkState {
        match v {
            LINK_STATE_UNKNOWN => LinkState::Unknown,
            LINK_STATE_DOWN => LinkState::Down,
            LINK_STATE_UP => LinkState::Up,
            v => LinkState::Other(v),
        }
    }

    /// The carrier it states: `None` when it states none (unknown), so a
    /// cache asks the device (`SIOCGIFMEDIA`) instead of guessing.
    pub fn carrier(self) -> Option<bool> {
        match self {
            LinkState::Up => Some(true),
            LinkState::Down => Some(false),
            LinkState::Unknown | LinkState::Other(_) => None,
        }
    }
}

/// `ifi_type` values (`IFT_*`, `<net/if_types.h>`) of the interfaces
/// FreeBSD creates, with the names status reports use.
const IF_TYPE_NAMES: &[(u8, &str)] = &[
    (0x01, "other"),
    (0x06, "ethernet"),
    (0x17, "ppp"),
    (0x18, "loopback"),
    (0x35, "virtual"),
    (0x47, "ieee80211"),
    (0x83, "tunnel"),
    (0x87, "vlan"),
    (0xa1, "lagg"),
    (0xd1, "bridge"),
    (0xd7, "stf"),
    (0xf0, "gif"),
    (0xf4, "enc"),
    (0xf6, "pflog"),
    (0xf7, "pfsync"),
    (0xf8, "carp"),
];

/// The name of an `ifi_type`, or its number in hex for a type not listed.
pub fn if_type_name(if_type: u8) -> String {
    IF_TYPE_NAMES
        .iter()
        .find(|&&(t, _)| t == if_type)
        .map_or_else(|| format!("{if_type:#04x}"), |&(_, n)| n.to_owned())
}

/// The fields of `struct if_data` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IfData {
    /// `ifi_type` (`IFT_*`, e.g. 6 for Ethernet).
    pub if_type: u8,
    /// `ifi_link_state`, raw (see [`IfData::link_state`]).
    pub link_state: u8,
    /// `ifi_mtu`.
    pub mtu: u32,
    /// `ifi_metric`.
    pub metric: u32,
    /// `ifi_baudrate`, bit/s.
    pub baudrate: u64,
    /// `ifi_ipackets`.
    pub ipackets: u64,
    /// `ifi_ierrors`.
    pub ierrors: u64,
    /// `ifi_opackets`.
    pub opackets: u64,
    /// `ifi_oerrors`.
    pub oerrors: u64,
    /// `ifi_collisions`.
    pub collisions: u64,
    /// `ifi_ibytes`.
    pub ibytes: u64,
    /// `ifi_obytes`.
    pub obytes: u64,
    /// `ifi_imcasts`.
    pub imcasts: u64,
    /// `ifi_omcasts`.
    pub omcasts: u64,
    /// `ifi_iqdrops`.
    pub iqdrops: u64,
    /// `ifi_oqdrops` (includes the send queue's drops: FreeBSD's
    /// `if_get_counter_default` adds `if_snd.ifq_drops` to it).
    pub oqdrops: u64,
    /// `ifi_noproto`.
    pub noproto: u64,
    /// `ifi_epoch`: the system uptime in seconds when the interface was
    /// attached. A rename keeps it; an interface destroyed and created
    /// again (which may reuse the index, FreeBSD hands out the lowest
    /// free one) gets a new one unless both happened within a second.
    pub epoch: i64,
}

impl IfData {
    /// Decodes a `struct if_data` at the start of `bytes` (at least
    /// [`IF_DATA_LEN`] bytes; more is ignored).
    ///
    /// `ifi_datalen` must be 0 (some paths leave it so) or at least
    /// [`IF_DATA_LEN`]: a smaller one means another layout.
    pub fn parse(bytes: &[u8]) -> Result<IfData, WireError> {
        let b = Bytes::new(bytes, "struct if_data");
        if bytes.len() < IF_DATA_LEN {
            return Err(WireError::Truncated {
                what: b.what,
                need: IF_DATA_LEN,
                have: bytes.len(),
            });
        }
        let datalen = usize::from(b.u16(IFI_DATALEN)?);
        if datalen != 0 && datalen < IF_DATA_LEN {
            return Err(WireError::Invalid {
                what: b.what,
                detail: format!("ifi_datalen {datalen} is smaller than {IF_DATA_LEN}"),
            });
        }
        Ok(IfData {
            if_type: b.u8(IFI_TYPE)?,
            link_state: b.u8(IFI_LINK_STATE)?,
            mtu: b.u32(IFI_MTU)?,
            metric: b.u32(IFI_METRIC)?,
            baudrate: b.u64(IFI_BAUDRATE)?,
            ipackets: b.u64(IFI_IPACKETS)?,
            ierrors: b.u64(IFI_IERRORS)?,
            opackets: b.u64(IFI_OPACKETS)?,
            oerrors: b.u64(IFI_OERRORS)?,
            collisions: b.u64(IFI_COLLISIONS)?,
            ibytes: b.u64(IFI_IBYTES)?,
            obytes: b.u64(IFI_OBYTES)?,
            imcasts: b.u64(IFI_IMCASTS)?,
            omcasts: b.u64(IFI_OMCASTS)?,
            iqdrops: b.u64(IFI_IQDROPS)?,
            oqdrops: b.u64(IFI_OQDROPS)?,
            noproto: b.u64(IFI_NOPROTO)?,
            epoch: b.u64(IFI_EPOCH)? as i64,
        })
    }

    /// The link state.
    pub fn link_state(&self) -> LinkState {
        LinkState::from_raw(self.link_state)
    }

    /// The counters as core [`Stats`]. FreeBSD has no detailed error
    /// counters here; those stay 0. `ifi_noproto` (frames for a protocol
    /// nobody handles) is not a drop in the Linux sense and is left out.
    pub fn stats(&self) -> Stats {
        Stats {
            rx_packets: self.ipackets,
            tx_packets: self.opackets,
            rx_bytes: self.ibytes,
            tx_bytes: self.obytes,
            rx_errors: self.ierrors,
            tx_errors: self.oerrors,
            rx_dropped: self.iqdrops,
            tx_dropped: self.oqdrops,
            multicast: self.imcasts,
            collisions: self.collisions,
            ..Stats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(if_type_name(0x06), "ethernet");
        assert_eq!(if_type_name(0xd1), "bridge");
        assert_eq!(if_type_name(0x18), "loopback");
        assert_eq!(if_type_name(0x25), "0x25", "ATM is not named: numbered");
    }
}
