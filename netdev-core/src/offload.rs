//! Offload metadata of a frame ([`Offload`], the fields of Linux's
//! `struct virtio_net_hdr`, which `PACKET_VNET_HDR` sockets and
//! `IFF_VNET_HDR` taps carry, and FreeBSD's tap with `TAPSVNETHDR`), and
//! the software fallbacks for a device that cannot take it:
//! [`finish_checksum`] and [`segment`].
//!
//! A frame whose checksum the sender left for the hardware
//! (`NEEDS_CSUM`), or a TCP segment larger than the MTU that the hardware
//! is to cut (`GSO`), must keep that metadata from the device it arrived
//! on to the one it leaves by. Forwarding it as plain bytes loses it: the
//! receiver drops the bad checksum, and a 64 KiB "frame" does not fit the
//! wire. A userspace switch carries it end to end, and completes the work
//! in software only where the egress device cannot.

use std::fmt;

/// The offload metadata of one frame; all zero ([`Offload::NONE`]) for a
/// complete frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Offload {
    /// `NEEDS_CSUM` and `DATA_VALID` ([`Offload::F_NEEDS_CSUM`],
    /// [`Offload::F_DATA_VALID`]).
    pub flags: u8,
    /// The segmentation type ([`Offload::GSO_TCPV4`]...), with
    /// [`Offload::GSO_ECN`] or'ed in.
    pub gso_type: u8,
    /// Length of the headers to copy into every segment.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where the checksummed region starts (from the Ethernet header).
    pub csum_start: u16,
    /// Where the checksum lies, from `csum_start`.
    pub csum_offset: u16,
}

/// Why a software fallback could not complete a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffloadError(String);

impl fmt::Display for OffloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OffloadError {}

fn bad(what: &str) -> OffloadError {
    OffloadError(what.to_owned())
}

impl Offload {
    /// A complete frame: nothing left to do.
    pub const NONE: Offload = Offload {
        flags: 0,
        gso_type: 0,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };
    /// The checksum at `csum_start + csum_offset` holds only the
    /// pseudo-header sum: the rest is still to be added.
    pub const F_NEEDS_CSUM: u8 = 1;
    /// The checksum was verified by the device.
    pub const F_DATA_VALID: u8 = 2;
    /// No segmentation.
    pub const GSO_NONE: u8 = 0;
    /// TCP over IPv4.
    pub const GSO_TCPV4: u8 = 1;
    /// UDP fragmentation (obsolete UFO).
    pub const GSO_UDP: u8 = 3;
    /// TCP over IPv6.
    pub const GSO_TCPV6: u8 = 4;
    /// UDP segmentation (`UDP_SEGMENT`).
    pub const GSO_UDP_L4: u8 = 5;
    /// The ECN bit: the first segment carries CWR.
    pub const GSO_ECN: u8 = 0x80;
    /// Size of the wire form ([`Offload::to_bytes`]).
    pub const LEN: usize = 10;

    /// True when the frame is complete as it is.
    pub fn is_none(&self) -> bool {
        !self.needs_csum() && !self.is_gso()
    }

    /// True when the checksum is still to be completed.
    pub fn needs_csum(&self) -> bool {
        self.flags & Offload::F_NEEDS_CSUM != 0
    }

    /// True when the frame is to be segmented.
    pub fn is_gso(&self) -> bool {
        self.gso_type & !Offload::GSO_ECN != Offload::GSO_NONE
    }

    /// The metadata after `delta` bytes were inserted (positive) or removed
    /// (negative) in front of the checksummed region, as a VLAN tag push or
    /// pop does. `None` if the offsets would leave their range.
    pub fn shifted(self, delta: i32) -> Option<Offload> {
        if self.is_none() {
            return Some(self);
        }
        let shift = |v: u16| -> Option<u16> {
            if v == 0 {
                return Some(0);
            }
            u16::try_from(i32::from(v) + delta).ok()
        };
        Some(Offload {
            csum_start: if self.needs_csum() {
                shift(self.csum_start)?
            } else {
                self.csum_start
            },
            hdr_len: shift(self.hdr_len)?,
            ..self
        })
    }

    /// The wire form: `struct virtio_net_hdr` in the host's byte order (the
    /// legacy layout both Linux interfaces use on this host).
    pub fn to_bytes(&self) -> [u8; Offload::LEN] {
        let mut b = [0u8; Offload::LEN];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// Parses the wire form; `None` if `b` is shorter than
    /// [`Offload::LEN`].
    pub fn from_bytes(b: &[u8]) -> Option<Offload> {
        let b = b.get(..Offload::LEN)?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(Offload {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }
}

/// One's-complement sum of `data` (as 16-bit big-endian words), added to
/// `sum`; not folded.
fn sum16(data: &[u8], mut sum: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    sum
}

fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// Completes the checksum of a `NEEDS_CSUM` frame in place: the field at
/// `csum_start + csum_offset` holds the pseudo-header sum; the sum of the
/// region from `csum_start` is folded into it. A frame without
/// `NEEDS_CSUM` is left alone.
pub fn finish_checksum(frame: &mut [u8], offload: &Offload) -> Result<(), OffloadError> {
    if !offload.needs_csum() {
        return Ok(());
    }
    let start = usize::from(offload.csum_start);
    let at = start + usize::from(offload.csum_offset);
    if at + 2 > frame.len() {
        return Err(bad("checksum offset beyond the frame"));
    }
    let mut c = !fold(sum16(&frame[start..], 0));
    // UDP says "no checksum" with 0; a computed 0 is sent as its
    // one's-complement twin.
    if c == 0 && offload.csum_offset == 6 {
        c = 0xffff;
    }
    frame[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Where the headers of a TCP frame are.
struct TcpLayout {
    l3: usize,
    v6: bool,
    l4: usize,
    payload: usize,
}

fn tcp_layout(frame: &[u8]) -> Result<TcpLayout, OffloadError> {
    let mut l3 = 12;
    let mut ethertype;
    loop {
        let b = frame
            .get(l3..l3 + 2)
            .ok_or_else(|| bad("truncated Ethernet header"))?;
        ethertype = u16::from_be_bytes([b[0], b[1]]);
        if ethertype == 0x8100 || ethertype == 0x88a8 {
            l3 += 4;
            continue;
        }
        l3 += 2;
        break;
    }
    let (v6, l4) = match ethertype {
        0x0800 => {
            let ihl =
                usize::from(frame.get(l3).ok_or_else(|| bad("truncated IPv4 header"))? & 0x0f) * 4;
            if ihl < 20 || frame.get(l3 + 9) != Some(&6) {
                return Err(bad("not a TCP/IPv4 frame"));
            }
            (false, l3 + ihl)
        }
        0x86dd => {
            // Extension headers are not walked: GSO frames from the kernel
            // put TCP right after the fixed header.
            if frame.get(l3 + 6) != Some(&6) {
                return Err(bad("not a TCP/IPv6 frame (or one with extension headers)"));
            }
            (true, l3 + 40)
        }
        _ => return Err(bad("not an IP frame")),
    };
    let doff = usize::from(
        frame
            .get(l4 + 12)
            .ok_or_else(|| bad("truncated TCP header"))?
            >> 4,
    ) * 4;
    if doff < 20 || frame.len() < l4 + doff {
        return Err(bad("truncated TCP header"));
    }
    Ok(TcpLayout {
        l3,
        v6,
        l4,
        payload: l4 + doff,
    })
}

/// The TCP checksum of `seg` (headers and payload as laid out by `t`),
/// written into its field.
fn tcp_checksum(seg: &mut [u8], t: &TcpLayout) {
    let tcp_len = seg.len() - t.l4;
    let mut sum = if t.v6 {
        sum16(&seg[t.l3 + 8..t.l3 + 40], 0)
    } else {
        sum16(&seg[t.l3 + 12..t.l3 + 20], 0)
    };
    sum += 6 + tcp_len as u64;
    seg[t.l4 + 16..t.l4 + 18].copy_from_slice(&[0, 0]);
    let c = !fold(sum16(&seg[t.l4..], sum));
    seg[t.l4 + 16..t.l4 + 18].copy_from_slice(&c.to_be_bytes());
}

/// Cuts a TCP GSO frame (IPv4 or IPv6, as the kernel hands them out) into
/// frames of at most `gso_size` payload bytes, each a complete frame with
/// its IP length, IPv4 identification and checksum, TCP sequence number,
/// flags (FIN and PSH only on the last, CWR only on the first) and TCP
/// checksum fixed. Appends them to `out` and their lengths to `lens`. A
/// frame without GSO is appended complete ([`finish_checksum`]). Other GSO
/// types (UDP) are refused.
pub fn segment(
    frame: &[u8],
    offload: &Offload,
    out: &mut Vec<u8>,
    lens: &mut Vec<usize>,
) -> Result<(), OffloadError> {
    if !offload.is_gso() {
        let start = out.len();
        out.extend_from_slice(frame);
        finish_checksum(&mut out[start..], offload)?;
        lens.push(frame.len());
        return Ok(());
    }
    let kind = offload.gso_type & !Offload::GSO_ECN;
    if kind != Offload::GSO_TCPV4 && kind != Offload::GSO_TCPV6 {
        return Err(bad("only TCP segmentation is done in software"));
    }
    let t = tcp_layout(frame)?;
    let mss = usize::from(offload.gso_size);
    if mss == 0 {
        return Err(bad("segment size 0"));
    }
    let headers = &frame[..t.payload];
    let payload = &frame[t.payload..];
    let seq0 = u32::from_be_bytes(frame[t.l4 + 4..t.l4 + 8].try_into().expect("4 bytes"));
    let id0 = u16::from_be_bytes([frame[t.l3 + 4], frame[t.l3 + 5]]);
    let flags0 = frame[t.l4 + 13];
    let count = payload.len().div_ceil(mss).max(1);
    for i in 0..count {
        let chunk = &payload[(i * mss).min(payload.len())..((i + 1) * mss).min(payload.len())];
        let start = out.len();
        out.extend_from_slice(headers);
        out.extend_from_slice(chunk);
        let seg = &mut out[start..];
        let seg_len = seg.len();
        if t.v6 {
            let plen = u16::try_from(seg_len - t.l3 - 40).map_err(|_| bad("segment too long"))?;
            seg[t.l3 + 4..t.l3 + 6].copy_from_slice(&plen.to_be_bytes());
        } else {
            let tot = u16::try_from(seg_len - t.l3).map_err(|_| bad("segment too long"))?;
            seg[t.l3 + 2..t.l3 + 4].copy_from_slice(&tot.to_be_bytes());
            seg[t.l3 + 4..t.l3 + 6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            seg[t.l3 + 10..t.l3 + 12].copy_from_slice(&[0, 0]);
            let c = !fold(sum16(&seg[t.l3..t.l4], 0));
            seg[t.l3 + 10..t.l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        let seq = seq0.wrapping_add((i * mss) as u32);
        seg[t.l4 + 4..t.l4 + 8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = flags0;
        if i + 1 < count {
            flags &= !(0x01 | 0x08); // FIN, PSH
        }
        if i > 0 {
            flags &= !0x80; // CWR
        }
        seg[t.l4 + 13] = flags;
        tcp_checksum(seg, &t);
        lens.push(seg_len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP frame with `payload` bytes, checksums
    /// correct, flags `flags`.
    fn tcp4(payload: usize, flags: u8, seq: u32) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        let tot = (20 + 20 + payload) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&tot.to_be_bytes());
        f.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        let c = !fold(sum16(&f[14..34], 0));
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&[0x30, 0x39, 0x00, 0x50]);
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend((0..payload).map(|i| (i % 251) as u8));
        let t = tcp_layout(&f).unwrap();
        tcp_checksum(&mut f, &t);
        assert!(verify_tcp(&f));
        f
    }

    /// The receiver's check (RFC 1071): the sum over the pseudo-header
    /// and the whole segment, checksum field included, folds to all ones;
    /// likewise the IPv4 header.
    fn verify_tcp(seg: &[u8]) -> bool {
        let l4 = 34;
        let tcp_len = (seg.len() - l4) as u64;
        let pseudo = sum16(&seg[26..34], 6 + tcp_len);
        fold(sum16(&seg[l4..], pseudo)) == 0xffff && fold(sum16(&seg[14..34], 0)) == 0xffff
    }

    #[test]
    fn wire_form_round_trips() {
        let o = Offload {
            flags: 1,
            gso_type: Offload::GSO_TCPV4 | Offload::GSO_ECN,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        assert_eq!(Offload::from_bytes(&o.to_bytes()), Some(o));
        assert!(o.is_gso() && o.needs_csum() && !o.is_none());
        assert!(Offload::from_bytes(&[0; 9]).is_none());
        assert!(Offload::NONE.is_none());
        let valid = Offload {
            flags: Offload::F_DATA_VALID,
            ..Offload::NONE
        };
        assert!(valid.is_none());
    }

    #[test]
    fn shifting_moves_offsets() {
        let o = Offload {
            flags: 1,
            gso_type: 1,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let s = o.shifted(4).unwrap();
        assert_eq!((s.csum_start, s.hdr_len, s.csum_offset), (38, 70, 16));
        assert_eq!(s.shifted(-4), Some(o));
        assert_eq!(Offload { csum_start: 2, ..o }.shifted(-4), None);
        assert_eq!(Offload::NONE.shifted(4), Some(Offload::NONE));
    }

    #[test]
    fn checksum_is_completed_from_the_pseudo_header_sum() {
        let good = tcp4(100, 0x18, 7);
        // What a sender with checksum offload hands over: the field holds
        // the pseudo-header sum, not inverted.
        let mut partial = good.clone();
        let pseudo = fold(sum16(&good[26..34], 6 + 120));
        partial[50..52].copy_from_slice(&pseudo.to_be_bytes());
        assert_ne!(partial, good);
        let o = Offload {
            flags: Offload::F_NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 16,
            ..Offload::NONE
        };
        finish_checksum(&mut partial, &o).unwrap();
        assert_eq!(partial, good);
        let far = Offload {
            csum_start: 200,
            ..o
        };
        assert!(finish_checksum(&mut partial, &far).is_err());
    }

    #[test]
    fn tcp_segmentation_matches_the_rules() {
        let big = tcp4(3000, 0x80 | 0x18 | 0x01, 1000); // CWR PSH ACK FIN
        let o = Offload {
            flags: Offload::F_NEEDS_CSUM,
            gso_type: Offload::GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let (mut out, mut lens) = (Vec::new(), Vec::new());
        segment(&big, &o, &mut out, &mut lens).unwrap();
        assert_eq!(lens, [54 + 1448, 54 + 1448, 54 + 104]);
        let mut at = 0;
        let mut payload = Vec::new();
        for (i, len) in lens.iter().enumerate() {
            let seg = &out[at..at + len];
            at += len;
            assert!(verify_tcp(seg), "segment {i} checksums");
            let tot = u16::from_be_bytes([seg[16], seg[17]]) as usize;
            assert_eq!(tot, len - 14);
            assert_eq!(u16::from_be_bytes([seg[18], seg[19]]), 0x1234 + i as u16);
            let seq = u32::from_be_bytes(seg[38..42].try_into().unwrap());
            assert_eq!(seq, 1000 + (i * 1448) as u32);
            let flags = seg[47];
            assert_eq!(flags & 0x80 != 0, i == 0, "CWR on the first only");
            assert_eq!(flags & 0x09 != 0, i == 2, "FIN, PSH on the last only");
            assert!(flags & 0x10 != 0, "ACK on all");
            payload.extend_from_slice(&seg[54..]);
        }
        assert_eq!(payload, big[54..]);
    }

    #[test]
    fn non_tcp_gso_and_garbage_are_refused() {
        let o = Offload {
            gso_type: Offload::GSO_UDP_L4,
            gso_size: 100,
            ..Offload::NONE
        };
        let (mut out, mut lens) = (Vec::new(), Vec::new());
        assert!(segment(&tcp4(300, 0x10, 1), &o, &mut out, &mut lens).is_err());
        let o = Offload {
            gso_type: Offload::GSO_TCPV4,
            gso_size: 100,
            ..Offload::NONE
        };
        for junk in [
            &[][..],
            &[0u8; 13][..],
            &[0u8; 60][..],
            &tcp4(300, 0x10, 1)[..40],
        ] {
            assert!(segment(junk, &o, &mut out, &mut lens).is_err());
        }
        // Without GSO the frame is passed through, completed.
        segment(&tcp4(10, 0x10, 1), &Offload::NONE, &mut out, &mut lens).unwrap();
        assert_eq!(lens, [64]);
    }
}
