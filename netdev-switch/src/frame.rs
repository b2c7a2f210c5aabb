//! Ethernet and 802.1Q header handling: pure functions over frame bytes.

use netdev::EthAddr;

/// Length of an Ethernet header without a VLAN tag.
pub const ETH_HLEN: usize = 14;
/// Length of an 802.1Q tag (TPID and TCI).
pub const VLAN_HLEN: usize = 4;
/// The 802.1Q tag protocol identifier.
pub const TPID_8021Q: u16 = 0x8100;
/// The largest VLAN ID (4095 is reserved, but OVS and the kernel accept
/// it as a port tag; the model decides).
pub const VID_MASK: u16 = 0x0fff;

/// What the switch needs from a frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Destination address.
    pub dst: EthAddr,
    /// Source address.
    pub src: EthAddr,
    /// The 802.1Q tag control information, if the frame carries a tag.
    pub tci: Option<u16>,
}

impl Header {
    /// The VLAN ID of the tag (0 for a priority tag or no tag).
    pub fn vid(&self) -> u16 {
        self.tci.map_or(0, |t| t & VID_MASK)
    }
}

/// Parses the header of `frame`; `None` for a runt (shorter than an
/// Ethernet header, or than its VLAN tag).
pub fn parse(frame: &[u8]) -> Option<Header> {
    if frame.len() < ETH_HLEN {
        return None;
    }
    let dst = EthAddr::from_slice(&frame[0..6])?;
    let src = EthAddr::from_slice(&frame[6..12])?;
    let tpid = u16::from_be_bytes([frame[12], frame[13]]);
    let tci = if tpid == TPID_8021Q {
        if frame.len() < ETH_HLEN + VLAN_HLEN {
            return None;
        }
        Some(u16::from_be_bytes([frame[14], frame[15]]))
    } else {
        None
    };
    Some(Header { dst, src, tci })
}

/// How a frame leaves through one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Egress {
    /// Unchanged.
    AsIs,
    /// Without its 802.1Q tag.
    Strip,
    /// With a new 802.1Q tag carrying this TCI.
    Push(u16),
    /// Its tag's VLAN ID replaced (priority bits kept).
    SetVid(u16),
}

/// Writes `frame` transformed by `egress` at the end of `out` and returns
/// the written length. `frame` must have parsed with a tag for
/// [`Egress::Strip`] and [`Egress::SetVid`].
pub fn write_egress(frame: &[u8], egress: Egress, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    match egress {
        Egress::AsIs => out.extend_from_slice(frame),
        Egress::Strip => {
            out.extend_from_slice(&frame[..12]);
            out.extend_from_slice(&frame[ETH_HLEN + 2..]);
        }
        Egress::Push(tci) => {
            out.extend_from_slice(&frame[..12]);
            out.extend_from_slice(&TPID_8021Q.to_be_bytes());
            out.extend_from_slice(&tci.to_be_bytes());
            out.extend_from_slice(&frame[12..]);
        }
        Egress::SetVid(vid) => {
            out.extend_from_slice(frame);
            let tci = u16::from_be_bytes([frame[14], frame[15]]);
            let tci = (tci & !VID_MASK) | (vid & VID_MASK);
            out[start + 14..start + 16].copy_from_slice(&tci.to_be_bytes());
        }
    }
    out.len() - start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: Option<u16>) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
        if let Some(tci) = tag {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&tci.to_be_bytes());
        }
        f.extend_from_slice(&[0x08, 0x00, 0xaa, 0xbb]);
        f
    }

    #[test]
    fn parses_untagged_and_tagged() {
        let h = parse(&frame(None)).unwrap();
        assert!(h.dst.is_broadcast());
        assert_eq!(h.src, EthAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!((h.tci, h.vid()), (None, 0));
        let h = parse(&frame(Some(0xa00a))).unwrap();
        assert_eq!((h.tci, h.vid()), (Some(0xa00a), 10));
    }

    #[test]
    fn runts_do_not_parse() {
        assert!(parse(&[0; 13]).is_none());
        assert!(parse(&frame(Some(5))[..16]).is_none());
        assert!(parse(&frame(Some(5))[..18]).is_some());
    }

    #[test]
    fn egress_transforms_round_trip() {
        let untagged = frame(None);
        let tagged = frame(Some(0x2005));
        let mut out = Vec::new();
        let n = write_egress(&untagged, Egress::Push(0x2005), &mut out);
        assert_eq!(&out[..n], &tagged[..]);
        out.clear();
        let n = write_egress(&tagged, Egress::Strip, &mut out);
        assert_eq!(&out[..n], &untagged[..]);
        out.clear();
        let n = write_egress(&tagged, Egress::SetVid(7), &mut out);
        assert_eq!(&out[..n], &frame(Some(0x2007))[..], "priority kept");
        let before = out.len();
        let n = write_egress(&tagged, Egress::AsIs, &mut out);
        assert_eq!(&out[before..before + n], &tagged[..], "appended");
    }
}
