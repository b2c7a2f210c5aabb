//! A `TPACKET_V3` receive ring: [`PacketRingRxq`], a receive queue on one
//! interface that the kernel fills through shared memory, without a system
//! call or a control message per frame.
//!
//! The kernel copies each frame into the current block of the ring, with a
//! `struct tpacket3_hdr` in front that carries its lengths and the VLAN tag
//! it stripped (`hv1.tp_vlan_tci`/`tp_vlan_tpid`,
//! `TP_STATUS_VLAN_VALID`/`TP_STATUS_VLAN_TPID_VALID`). A block goes to
//! user space when it is full or when it has held frames for the retire
//! timeout ([`RingConfig::retire_timeout`]); receiving walks the frames of
//! the ready blocks, copies each into a [`PacketBatch`] slot (putting the
//! tag back with the same helper as [`crate::packet::PacketRxq`]) and
//! returns every fully read block to the kernel.
//!
//! Trade-offs against [`crate::packet::PacketRxq`]: a lone frame waits up
//! to the retire timeout before it can be read; the ring's memory
//! ([`RingConfig::bytes`]) is reserved per queue whether used or not; a
//! frame longer than a block is cut to fit it (reported truncated with its
//! real length). Every block that holds a frame is handed over at the
//! retire timeout, full or not, so a stalled reader's ring is full after
//! `block_count` timeouts even under a light load; then the kernel drops
//! new frames.
//!
//! Measured on a veth pair (`examples/bench_packet.rs`, 64-byte frames,
//! a sender streaming on one core): the fastest raw method whichever core
//! runs the kernel's receive work, but a lone frame waits for the retire
//! timeout (median about 0.5 ms, up to 1 ms, against about 0.08 ms for
//! `recvmmsg` or a `TPACKET_V2` ring). The `system` class therefore uses
//! the V2 ring by default ([`crate::packet_rx::RxMethod`]); choose this
//! one (`RxMethod::RingV3`) for bulk capture where throughput matters
//! more than latency.
//!
//! Layer 3 (classes) helper: safe code over `crate::sys::ring`, which
//! lends out a block only while user space owns it. Malformed headers in a
//! block end that block (never a panic). Nothing is allocated per packet.

use std::fmt;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use log::debug;
use netdev_core::{PacketBatch, Result, RxQueueBackend};

use crate::packet::{
    bind_for_rx, count_drops, insert_vlan_tag, poll_ring, skip_outgoing, vlan_from_auxdata,
};
use crate::sys::packet as sys;
use crate::sys::ring::{self, RingGeometry, RxRing};

/// `PACKET_OUTGOING`, the `sll_pkttype` of a frame this host transmitted.
const PACKET_OUTGOING: u8 = libc::PACKET_OUTGOING;

// Offsets in a block (`struct tpacket_block_desc`, header `bh1`).
const BLOCK_HDR: usize = offset_of!(libc::tpacket_block_desc, hdr);
const NUM_PKTS: usize = BLOCK_HDR + offset_of!(libc::tpacket_hdr_v1, num_pkts);
const FIRST_PKT: usize = BLOCK_HDR + offset_of!(libc::tpacket_hdr_v1, offset_to_first_pkt);
/// The low 32 bits of the block's 64-bit sequence number (`seq_num`),
/// which the kernel sets from a counter each time it opens a block.
const SEQ_LOW: usize = BLOCK_HDR
    + offset_of!(libc::tpacket_hdr_v1, seq_num)
    + if cfg!(target_endian = "little") { 0 } else { 4 };

// Offsets in a frame header (`struct tpacket3_hdr`).
const NEXT_OFFSET: usize = offset_of!(libc::tpacket3_hdr, tp_next_offset);
const SNAPLEN: usize = offset_of!(libc::tpacket3_hdr, tp_snaplen);
const LEN: usize = offset_of!(libc::tpacket3_hdr, tp_len);
const STATUS: usize = offset_of!(libc::tpacket3_hdr, tp_status);
const MAC: usize = offset_of!(libc::tpacket3_hdr, tp_mac);
const HV1: usize = offset_of!(libc::tpacket3_hdr, hv1);
const VLAN_TCI: usize = HV1 + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tci);
const VLAN_TPID: usize = HV1 + offset_of!(libc::tpacket_hdr_variant1, tp_vlan_tpid);
const FRAME_HDR_LEN: usize = size_of::<libc::tpacket3_hdr>();
/// The `sockaddr_ll` follows the header at `TPACKET_ALIGN(sizeof hdr)`.
const PKTTYPE: usize = FRAME_HDR_LEN.next_multiple_of(libc::TPACKET_ALIGNMENT)
    + offset_of!(libc::sockaddr_ll, sll_pkttype);

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let bytes = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

/// One frame of a block as its `tpacket3_hdr` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RingFrame {
    /// Offset of the next frame from this one (0 for the last).
    next_offset: usize,
    /// Where the frame's bytes start in the block, and how many were
    /// stored (`tp_snaplen`).
    data_start: usize,
    snaplen: usize,
    /// The frame's length on the wire, without the stripped tag.
    len: usize,
    status: u32,
    vlan_tci: u16,
    vlan_tpid: u16,
    pkttype: u8,
}

/// Parses the frame header at `off` of `block`. `None` when the header or
/// the bytes it points at do not lie inside the block.
fn parse_frame(block: &[u8], off: usize) -> Option<RingFrame> {
    let hdr = block.get(off..off.checked_add(PKTTYPE + 1)?)?;
    let snaplen = u32_at(hdr, SNAPLEN)? as usize;
    let data_start = off + usize::from(u16_at(hdr, MAC)?);
    block.get(data_start..data_start.checked_add(snaplen)?)?;
    Some(RingFrame {
        next_offset: u32_at(hdr, NEXT_OFFSET)? as usize,
        data_start,
        snaplen,
        len: u32_at(hdr, LEN)? as usize,
        status: u32_at(hdr, STATUS)?,
        // The kernel's field is 32 bits wide; a TCI is 16.
        vlan_tci: u32_at(hdr, VLAN_TCI)? as u16,
        vlan_tpid: u16_at(hdr, VLAN_TPID)?,
        pkttype: hdr[PKTTYPE],
    })
}

/// The size and timing of a [`PacketRingRxq`]'s ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingConfig {
    /// Bytes per block: a power of two, at least the page size. A block
    /// holds about `block_size / 160` 64-byte frames or `block_size / 1600`
    /// 1500-byte ones; a frame longer than a block is truncated.
    pub block_size: usize,
    /// Number of blocks.
    pub block_count: usize,
    /// How long the kernel lets a block hold frames before handing it to
    /// user space although it is not full: the longest a lone frame waits.
    /// Whole milliseconds, at least 1.
    pub retire_timeout: Duration,
}

impl Default for RingConfig {
    /// 32 blocks of 64 KiB (2 MiB per queue: about 13 800 64-byte frames
    /// or 1 300 1500-byte ones when blocks fill), 1 ms retire timeout.
    ///
    /// Many small blocks rather than a few big ones: a block with frames is
    /// handed over at the retire timeout however empty it is, so under a
    /// light load a reader that stalls loses frames after about
    /// `block_count` timeouts (32 ms here). A frame of more than about
    /// 65 400 bytes (a 64 KiB GSO frame) is cut to the block.
    fn default() -> RingConfig {
        RingConfig {
            block_size: 64 << 10,
            block_count: 32,
            retire_timeout: Duration::from_millis(1),
        }
    }
}

impl RingConfig {
    /// Bytes of ring memory a queue with this configuration maps.
    pub fn bytes(&self) -> usize {
        self.block_size.saturating_mul(self.block_count)
    }

    fn geometry(&self) -> io::Result<RingGeometry> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
        if !self.block_size.is_power_of_two() || self.block_size < 4096 {
            return Err(invalid(
                "ring block size must be a power of two of at least 4096",
            ));
        }
        if self.block_count == 0 {
            return Err(invalid("ring needs at least one block"));
        }
        let ms = self.retire_timeout.as_millis().max(1);
        Ok(RingGeometry {
            block_size: u32::try_from(self.block_size)
                .map_err(|_| invalid("ring block size too large"))?,
            block_nr: u32::try_from(self.block_count)
                .map_err(|_| invalid("too many ring blocks"))?,
            frame_size: 2048,
            retire_blk_tov_ms: u32::try_from(ms).unwrap_or(u32::MAX),
        })
    }
}

/// A receive queue on one interface through a `TPACKET_V3` ring,
/// implementing [`RxQueueBackend`] with the same contract as
/// [`crate::packet::PacketRxq`]: every frame the interface receives, none
/// it transmits, VLAN tags the kernel stripped put back, truncation
/// reported with the real length, `ENETDOWN` reported once (from the
/// receive after a [`wait`](RxQueueBackend::wait) that saw it).
///
/// Frames reach user space a block at a time: see the module
/// documentation for the latency and memory this costs.
pub struct PacketRingRxq {
    // Declared before `fd`: unmapped before the socket closes.
    ring: RxRing,
    fd: OwnedFd,
    ifindex: u32,
    config: RingConfig,
    /// The block read next (the oldest one not handed back).
    block: usize,
    /// True when `block` is user space's and `left`/`next` describe it.
    in_block: bool,
    /// Frames of `block` not read yet.
    left: u32,
    /// Offset in `block` of the next frame's header.
    next: usize,
    /// True when the kernel could not be asked to skip outgoing frames, so
    /// they are recognised by `sll_pkttype` and skipped here.
    filter_in_userspace: bool,
    /// An error `wait` took from the socket, reported by the next receive.
    pending_error: Option<i32>,
    /// Frames the kernel dropped so far (its counter resets when read).
    dropped: u64,
    /// Put stripped VLAN tags back.
    restore_vlan: bool,
    /// The low 32 bits of the sequence number of the last block handed
    /// back (0 before any: the kernel numbers blocks from 1).
    last_seq: u32,
}

impl PacketRingRxq {
    /// Opens a ring receive queue on interface `ifindex` of the calling
    /// thread's network namespace, with [`RingConfig::default`].
    pub fn open(ifindex: u32) -> io::Result<PacketRingRxq> {
        PacketRingRxq::open_with(ifindex, RingConfig::default())
    }

    /// Like [`PacketRingRxq::open`] with a ring of `config`.
    pub fn open_with(ifindex: u32, config: RingConfig) -> io::Result<PacketRingRxq> {
        PacketRingRxq::open_inner(ifindex, config, true, false, false)
    }

    /// Like [`PacketRingRxq::open_with`], restoring VLAN tags only if
    /// `restore_vlan`, and bound with a filter that accepts nothing until
    /// [`PacketRingRxq::accept_frames`]: for a fanout member, which must
    /// be bound to join but must not receive frames directly meanwhile.
    pub(crate) fn open_blocked(
        ifindex: u32,
        config: RingConfig,
        restore_vlan: bool,
    ) -> io::Result<PacketRingRxq> {
        PacketRingRxq::open_inner(ifindex, config, restore_vlan, false, true)
    }

    /// Removes the filter [`PacketRingRxq::open_blocked`] set.
    pub(crate) fn accept_frames(&self) -> io::Result<()> {
        sys::detach_filter(self.fd.as_fd())
    }

    /// True if a frame can be read now.
    pub(crate) fn has_frames(&self) -> bool {
        self.ready()
    }

    /// True if no frame is readable and the block the kernel fills next
    /// holds none. Only meaningful once no frame can reach the ring any
    /// more (steered away, see `crate::packet_adaptive`): then the kernel
    /// no longer writes that block's count.
    ///
    /// The block after the last one read is the kernel's open block only
    /// once the kernel has opened it again (its sequence number is then
    /// the next one); until then its count is the previous lap's, and the
    /// kernel holds no frame for this ring at all (it is handing the last
    /// block over, or its queue is frozen, which drops new frames).
    pub(crate) fn is_empty_and_idle(&self) -> bool {
        if self.ready() {
            return false;
        }
        let reopened =
            self.ring.load_word(self.block, SEQ_LOW) == Some(self.last_seq.wrapping_add(1));
        !reopened || self.ring.load_word(self.block, NUM_PKTS) == Some(0)
    }

    /// Like [`PacketRingRxq::open`], but skips outgoing frames in
    /// userspace by `sll_pkttype` as on kernels before 4.20, even if the
    /// kernel could do it. For tests of that path.
    #[doc(hidden)]
    pub fn open_filtering_in_userspace(ifindex: u32) -> io::Result<PacketRingRxq> {
        PacketRingRxq::open_inner(ifindex, RingConfig::default(), true, true, false)
    }

    fn open_inner(
        ifindex: u32,
        config: RingConfig,
        restore_vlan: bool,
        force_userspace: bool,
        blocked: bool,
    ) -> io::Result<Self> {
        let geometry = config.geometry()?;
        // Protocol 0 until bound: nothing is queued before the ring exists
        // and the socket is tied to `ifindex`.
        let fd = sys::socket(0)?;
        ring::set_version_v3(fd.as_fd())?;
        ring::set_rx_ring(fd.as_fd(), &geometry)?;
        let ring = RxRing::map(fd.as_fd(), &geometry)?;
        let filter_in_userspace = skip_outgoing(fd.as_fd(), force_userspace)?;
        if blocked {
            sys::attach_drop_all(fd.as_fd())?;
        }
        bind_for_rx(fd.as_fd(), ifindex)?;
        Ok(PacketRingRxq {
            ring,
            fd,
            ifindex,
            config,
            block: 0,
            in_block: false,
            left: 0,
            next: 0,
            filter_in_userspace,
            pending_error: None,
            dropped: 0,
            restore_vlan,
            last_seq: 0,
        })
    }

    /// The interface this queue receives from.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The ring's configuration.
    pub fn config(&self) -> &RingConfig {
        &self.config
    }

    /// True when outgoing frames are skipped here rather than by the
    /// kernel (kernels before 4.20).
    pub fn filters_outgoing_in_userspace(&self) -> bool {
        self.filter_in_userspace
    }

    /// Skips outgoing frames here from now on: for a fanout member whose
    /// group cannot skip them.
    pub(crate) fn filter_outgoing_in_userspace(&mut self) {
        self.filter_in_userspace = true;
    }

    /// True if a frame can be read now without waiting.
    fn ready(&self) -> bool {
        (self.in_block && self.left > 0) || self.ring.is_user(self.block)
    }

    /// Hands the current block back and moves to the next one.
    fn release_current(&mut self) {
        if let Some(seq) = self
            .ring
            .user_block(self.block)
            .and_then(|b| u32_at(b, SEQ_LOW))
        {
            self.last_seq = seq;
        }
        self.ring.release_block(self.block);
        self.block = (self.block + 1) % self.ring.block_nr();
        self.in_block = false;
        self.left = 0;
        self.next = 0;
    }

    /// Copies frames of the current block (which must be user space's)
    /// into `batch` until the block or the batch ends.
    fn read_block(&mut self, batch: &mut PacketBatch) -> usize {
        let Some(block) = self.ring.user_block(self.block) else {
            return 0;
        };
        if !self.in_block {
            self.left = u32_at(block, NUM_PKTS).unwrap_or(0);
            self.next = u32_at(block, FIRST_PKT).unwrap_or(0) as usize;
            self.in_block = true;
        }
        let mut n = 0;
        while self.left > 0 {
            let Some(frame) = parse_frame(block, self.next) else {
                debug!(
                    "ring block {}: malformed frame header at {}: {} frames skipped",
                    self.block, self.next, self.left
                );
                self.left = 0;
                break;
            };
            let skip = self.filter_in_userspace && frame.pkttype == PACKET_OUTGOING;
            if !skip {
                let Some(slot) = batch.next_slot() else {
                    break;
                };
                let mut stored = frame.snaplen.min(slot.len());
                let mut orig_len = frame.len.max(frame.snaplen);
                slot[..stored].copy_from_slice(&block[frame.data_start..frame.data_start + stored]);
                let tag = self.restore_vlan.then(|| {
                    vlan_from_auxdata(
                        frame.status,
                        frame.vlan_tci,
                        frame.vlan_tpid,
                        &slot[..stored],
                    )
                });
                if let Some(Some(tag)) = tag {
                    (stored, orig_len) = insert_vlan_tag(slot, stored, orig_len, tag);
                }
                batch.commit(stored, orig_len);
                n += 1;
            }
            self.left -= 1;
            if self.left > 0 && frame.next_offset == 0 {
                debug!(
                    "ring block {}: frame chain ends early: {} frames skipped",
                    self.block, self.left
                );
                self.left = 0;
            }
            self.next += frame.next_offset;
        }
        n
    }
}

impl RxQueueBackend for PacketRingRxq {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        if let Some(errno) = self.pending_error.take() {
            return Err(io::Error::from_raw_os_error(errno).into());
        }
        let mut n = 0;
        while !batch.is_full() {
            if !self.in_block && !self.ring.is_user(self.block) {
                break;
            }
            n += self.read_block(batch);
            if self.left == 0 {
                self.release_current();
            }
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        if self.pending_error.is_some() || self.ready() {
            return Ok(true);
        }
        poll_ring(self.fd.as_fd(), timeout, &mut self.pending_error)
    }

    fn drain(&mut self) -> Result<()> {
        // A pending "interface went down" is news about the past:
        // discarded like the frames.
        self.pending_error = None;
        sys::take_error(self.fd.as_fd())?;
        // Every ready block, and no more than one lap under a flood.
        for _ in 0..self.ring.block_nr() {
            if !self.in_block && !self.ring.is_user(self.block) {
                break;
            }
            self.release_current();
        }
        Ok(())
    }

    fn dropped(&mut self) -> Result<u64> {
        count_drops(self.fd.as_fd(), &mut self.dropped)
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsFd for PacketRingRxq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketRingRxq {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for PacketRingRxq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketRingRxq")
            .field("fd", &self.fd.as_raw_fd())
            .field("ifindex", &self.ifindex)
            .field("config", &self.config)
            .field("block_size", &self.ring.block_size())
            .field("filter_in_userspace", &self.filter_in_userspace)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block with `frames` laid out the way the kernel does: block
    /// header, then each frame's header, `sockaddr_ll` and bytes at
    /// 16-byte aligned offsets.
    fn block(frames: &[(&[u8], u32, u32, u16, u16)]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        let first = 48usize;
        b[NUM_PKTS..NUM_PKTS + 4].copy_from_slice(&(frames.len() as u32).to_ne_bytes());
        b[FIRST_PKT..FIRST_PKT + 4].copy_from_slice(&(first as u32).to_ne_bytes());
        let mut off = first;
        for (i, &(data, len, status, tci, tpid)) in frames.iter().enumerate() {
            let mac = 82usize;
            let total = (mac + data.len()).next_multiple_of(16);
            let next = if i + 1 == frames.len() { 0 } else { total };
            let h = &mut b[off..];
            h[NEXT_OFFSET..NEXT_OFFSET + 4].copy_from_slice(&(next as u32).to_ne_bytes());
            h[SNAPLEN..SNAPLEN + 4].copy_from_slice(&(data.len() as u32).to_ne_bytes());
            h[LEN..LEN + 4].copy_from_slice(&len.to_ne_bytes());
            h[STATUS..STATUS + 4].copy_from_slice(&status.to_ne_bytes());
            h[MAC..MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            h[VLAN_TCI..VLAN_TCI + 4].copy_from_slice(&u32::from(tci).to_ne_bytes());
            h[VLAN_TPID..VLAN_TPID + 2].copy_from_slice(&tpid.to_ne_bytes());
            h[mac..mac + data.len()].copy_from_slice(data);
            off += total;
        }
        b
    }

    #[test]
    fn layout_matches_the_kernel_headers() {
        assert_eq!(FRAME_HDR_LEN, 48);
        assert_eq!((NUM_PKTS, FIRST_PKT), (12, 16));
        assert_eq!((VLAN_TCI, VLAN_TPID), (32, 36));
        assert_eq!(PKTTYPE, 48 + 10);
    }

    #[test]
    fn frames_parsed_and_chained() {
        let a = [1u8; 60];
        let b = [2u8; 100];
        let blk = block(&[
            (&a, 60, 0, 0, 0),
            (&b, 1000, libc::TP_STATUS_VLAN_VALID, 0x2064, 0x8100),
        ]);
        let f = parse_frame(&blk, 48).unwrap();
        assert_eq!((f.snaplen, f.len, f.data_start), (60, 60, 48 + 82));
        let g = parse_frame(&blk, 48 + f.next_offset).unwrap();
        assert_eq!((g.snaplen, g.len, g.next_offset), (100, 1000, 0));
        assert_eq!((g.vlan_tci, g.vlan_tpid), (0x2064, 0x8100));
        assert_eq!(&blk[g.data_start..g.data_start + g.snaplen], &b[..]);
    }

    #[test]
    fn malformed_headers_are_none() {
        let mut blk = block(&[(&[3u8; 60], 60, 0, 0, 0)]);
        assert!(parse_frame(&blk, 4090).is_none(), "header past the end");
        assert!(
            parse_frame(&blk, usize::MAX - 2).is_none(),
            "offset overflow"
        );
        // Snaplen pointing past the block.
        blk[48 + SNAPLEN..48 + SNAPLEN + 4].copy_from_slice(&5000u32.to_ne_bytes());
        assert!(parse_frame(&blk, 48).is_none());
        for off in 0..blk.len() {
            let _ = parse_frame(&blk, off);
        }
    }

    #[test]
    fn config_checked() {
        assert_eq!(RingConfig::default().bytes(), 2 << 20);
        let bad = |c: RingConfig| c.geometry().unwrap_err().kind();
        let d = RingConfig::default();
        for c in [
            RingConfig {
                block_size: 5000,
                ..d
            },
            RingConfig {
                block_size: 1024,
                ..d
            },
            RingConfig {
                block_count: 0,
                ..d
            },
        ] {
            assert_eq!(bad(c), io::ErrorKind::InvalidInput);
        }
        let g = RingConfig {
            retire_timeout: Duration::ZERO,
            ..d
        }
        .geometry()
        .unwrap();
        assert_eq!(g.retire_blk_tov_ms, 1, "never 0 (the kernel's default)");
    }
}
