//! A `TPACKET_V2` receive ring: [`PacketRingV2Rxq`], a receive queue on
//! one interface that the kernel fills through shared memory, one frame
//! per fixed-size slot, each handed to user space as soon as it is
//! written (no block, no retire timeout: libpcap's choice in immediate
//! mode).
//!
//! Each slot starts with a `struct tpacket2_hdr` (status, lengths, the
//! VLAN tag the kernel stripped in `tp_vlan_tci`/`tp_vlan_tpid` with
//! `TP_STATUS_VLAN_VALID`/`TP_STATUS_VLAN_TPID_VALID`), then the
//! `sockaddr_ll` (for `sll_pkttype`) and the frame. Receiving walks the
//! slots user space owns, copies each frame into a [`PacketBatch`] slot
//! (putting the tag back with the same helper as
//! [`crate::packet::PacketRxq`]) and hands the slot back at once. Checking
//! for frames is a memory read, so a receive that finds none costs no
//! system call, and a burst costs none at all.
//!
//! Trade-offs against [`crate::packet::PacketRxq`] (measured by
//! `examples/bench_packet.rs`, see the README): no system call per batch,
//! no socket-buffer charge per frame, and the kernel's copy is cheaper
//! than its clone-and-queue, so it keeps up with a veth where `recvmmsg`
//! loses most frames when the kernel's receive work shares the reader's
//! core; a lone frame is seen as fast. The ring's memory
//! ([`RingV2Config::bytes`]) is reserved per queue whether used or not,
//! and a frame longer than a slot (minus its header) is cut to fit it,
//! reported truncated with its real length. Against the `TPACKET_V3`
//! ring ([`crate::packet_ring::PacketRingRxq`]): no retire delay, but a
//! whole slot per frame however short (fewer frames per byte of ring).
//!
//! Layer 3 (classes) helper: safe code over `crate::sys::ring`, which
//! lends out a slot only while user space owns it. A malformed header
//! skips its slot (never a panic). Nothing is allocated per packet.

use std::fmt;
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use log::debug;
use netdev_core::{Offload, PacketBatch, Result, RxQueueBackend};

use crate::packet::{
    bind_for_rx, count_drops, insert_vlan_tag, poll_ring, skip_outgoing, vlan_from_auxdata,
};
use crate::sys::packet as sys;
use crate::sys::ring::{self, RxRing};

/// `PACKET_OUTGOING`, the `sll_pkttype` of a frame this host transmitted.
const PACKET_OUTGOING: u8 = libc::PACKET_OUTGOING;

// Offsets in a slot (`struct tpacket2_hdr`).
const STATUS: usize = offset_of!(libc::tpacket2_hdr, tp_status);
const LEN: usize = offset_of!(libc::tpacket2_hdr, tp_len);
const SNAPLEN: usize = offset_of!(libc::tpacket2_hdr, tp_snaplen);
const MAC: usize = offset_of!(libc::tpacket2_hdr, tp_mac);
const VLAN_TCI: usize = offset_of!(libc::tpacket2_hdr, tp_vlan_tci);
const VLAN_TPID: usize = offset_of!(libc::tpacket2_hdr, tp_vlan_tpid);
const FRAME_HDR_LEN: usize = size_of::<libc::tpacket2_hdr>();
/// The `sockaddr_ll` follows the header at `TPACKET_ALIGN(sizeof hdr)`.
const PKTTYPE: usize = FRAME_HDR_LEN.next_multiple_of(libc::TPACKET_ALIGNMENT)
    + offset_of!(libc::sockaddr_ll, sll_pkttype);

/// Socket buffer of an offload ring for the frames too long for a slot:
/// about 250 TCP segments of 64 KiB.
const OFFLOAD_RCVBUF: usize = 16 * 1024 * 1024;

/// The smallest slot: the header, the address and a minimum frame.
const MIN_FRAME_SIZE: usize = 128;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let bytes = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

/// One frame as its slot's `tpacket2_hdr` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SlotFrame {
    /// Where the frame's bytes start in the slot, and how many were
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

/// Parses the header of `slot`. `None` when the header or the bytes it
/// points at do not lie inside the slot.
fn parse_slot(slot: &[u8]) -> Option<SlotFrame> {
    let hdr = slot.get(..PKTTYPE + 1)?;
    let snaplen = u32_at(hdr, SNAPLEN)? as usize;
    let data_start = usize::from(u16_at(hdr, MAC)?);
    slot.get(data_start..data_start.checked_add(snaplen)?)?;
    Some(SlotFrame {
        data_start,
        snaplen,
        len: u32_at(hdr, LEN)? as usize,
        status: u32_at(hdr, STATUS)?,
        vlan_tci: u16_at(hdr, VLAN_TCI)?,
        vlan_tpid: u16_at(hdr, VLAN_TPID)?,
        pkttype: hdr[PKTTYPE],
    })
}

/// The size of a [`PacketRingV2Rxq`]'s ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingV2Config {
    /// Bytes per slot: a power of two, at least 128. A slot holds its
    /// header (66 bytes before an Ethernet frame) and the frame, so frames
    /// longer than `frame_size - 66` bytes are truncated.
    pub frame_size: usize,
    /// Number of slots: how many frames can wait before the kernel drops
    /// new ones. Rounded up to fill whole blocks (pages or, for slots
    /// larger than a page, one slot per block).
    pub frame_count: usize,
    /// How long [`wait`](RxQueueBackend::wait) keeps looking at the ring
    /// before it sleeps, when the receive before it found frames. A reader
    /// that sleeps as soon as the ring is empty is woken again a few
    /// frames later, and each wake-up costs the kernel's receive path (on
    /// whichever core it runs) an inter-processor interrupt and a
    /// scheduler round trip; looking a little longer lets frames that
    /// arrive at a high rate be read in bigger batches. Zero never spins.
    pub spin: Duration,
}

impl Default for RingV2Config {
    /// 16384 slots of 2048 bytes (32 MiB per queue), 50 µs of spinning: a
    /// 1500-byte MTU frame with two VLAN tags fits; bursts of 16384 frames
    /// are absorbed. The count was chosen by `examples/bench_packet.rs`:
    /// with the kernel's receive work on the reader's core, the reader is
    /// preempted for milliseconds at a time, and 4096 slots lost about 9%
    /// of a 64-byte flood where 16384 lost next to none.
    fn default() -> RingV2Config {
        RingV2Config {
            frame_size: 2048,
            frame_count: 16384,
            spin: Duration::from_micros(50),
        }
    }
}

impl RingV2Config {
    /// A ring of about `bytes` bytes (at least one block) of slots of
    /// `frame_size` bytes.
    pub fn with_bytes(frame_size: usize, bytes: usize) -> RingV2Config {
        RingV2Config {
            frame_size,
            frame_count: (bytes / frame_size.max(1)).max(1),
            ..RingV2Config::default()
        }
    }

    /// Bytes of ring memory a queue with this configuration maps.
    pub fn bytes(&self) -> usize {
        self.geometry()
            .map(|(_, size, count)| size as usize * count as usize)
            .unwrap_or(0)
    }

    /// `(block_size, frame_size, frame_count)` as the kernel wants them.
    fn geometry(&self) -> io::Result<(u32, u32, u32)> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
        if !self.frame_size.is_power_of_two() || self.frame_size < MIN_FRAME_SIZE {
            return Err(invalid(
                "ring frame size must be a power of two of at least 128",
            ));
        }
        if self.frame_count == 0 {
            return Err(invalid("ring needs at least one frame"));
        }
        let block_size = self.frame_size.max(ring::page_size());
        let per_block = block_size / self.frame_size;
        let count = self
            .frame_count
            .checked_next_multiple_of(per_block)
            .ok_or_else(|| invalid("too many ring frames"))?;
        let to_u32 = |v: usize| u32::try_from(v).map_err(|_| invalid("ring too large"));
        let total = count
            .checked_mul(self.frame_size)
            .ok_or_else(|| invalid("ring too large"))?;
        to_u32(total)?;
        Ok((
            to_u32(block_size)?,
            to_u32(self.frame_size)?,
            to_u32(count)?,
        ))
    }
}

/// A receive queue on one interface through a `TPACKET_V2` ring,
/// implementing [`RxQueueBackend`] with the same contract as
/// [`crate::packet::PacketRxq`]: every frame the interface receives, none
/// it transmits, VLAN tags the kernel stripped put back (unless opened
/// without), truncation reported with the real length, drops counted
/// ([`RxQueueBackend::dropped`]), `ENETDOWN` reported once (from the
/// receive after a [`wait`](RxQueueBackend::wait) that saw it).
pub struct PacketRingV2Rxq {
    // Declared before `fd`: unmapped before the socket closes.
    ring: RxRing,
    fd: OwnedFd,
    ifindex: u32,
    config: RingV2Config,
    /// The slot read next (the oldest one not handed back).
    next: usize,
    /// Put stripped VLAN tags back.
    restore_vlan: bool,
    /// True when the kernel could not be asked to skip outgoing frames, so
    /// they are recognised by `sll_pkttype` and skipped here.
    filter_in_userspace: bool,
    /// An error `wait` took from the socket, reported by the next receive.
    pending_error: Option<i32>,
    /// Every slot holds a `virtio_net_hdr` right before the frame
    /// (`PACKET_VNET_HDR`): frames keep their offload metadata.
    vnet: bool,
    /// Frames lost here: a `TP_STATUS_COPY` slot whose whole frame could
    /// not be read from the socket. Added to the kernel's count.
    lost: std::cell::Cell<u64>,
    /// Frames the kernel dropped so far (its counter resets when read).
    dropped: u64,
    /// True when the last receive that found frames came after the last
    /// wait: frames are flowing, so `wait` looks again for a while before
    /// it sleeps.
    flowing: bool,
}

impl PacketRingV2Rxq {
    /// Opens a ring receive queue on interface `ifindex` of the calling
    /// thread's network namespace, with [`RingV2Config::default`].
    pub fn open(ifindex: u32) -> io::Result<PacketRingV2Rxq> {
        PacketRingV2Rxq::open_with(ifindex, RingV2Config::default(), true)
    }

    /// Like [`PacketRingV2Rxq::open`] with a ring of `config`, restoring
    /// VLAN tags if `restore_vlan` (without, a tagged frame arrives as the
    /// kernel left it: usually untagged).
    pub fn open_with(
        ifindex: u32,
        config: RingV2Config,
        restore_vlan: bool,
    ) -> io::Result<PacketRingV2Rxq> {
        PacketRingV2Rxq::open_inner(ifindex, config, restore_vlan, false, false)
    }

    /// Like [`PacketRingV2Rxq::open_with`], receiving frames as the device
    /// has them with their offload metadata (`PACKET_VNET_HDR`): a
    /// checksum left to complete, a TCP segment of up to 64 KiB left to
    /// cut. A frame longer than a slot is also queued whole on the socket
    /// (`PACKET_COPY_THRESH`, 16 MiB of socket buffer) and read from there
    /// in its turn, so the slots can stay small.
    pub fn open_offload(
        ifindex: u32,
        config: RingV2Config,
        restore_vlan: bool,
    ) -> io::Result<PacketRingV2Rxq> {
        PacketRingV2Rxq::open_inner(ifindex, config, restore_vlan, false, true)
    }

    /// Like [`PacketRingV2Rxq::open`], but skips outgoing frames in
    /// userspace by `sll_pkttype` as on kernels before 4.20, even if the
    /// kernel could do it. For tests of that path.
    #[doc(hidden)]
    pub fn open_filtering_in_userspace(ifindex: u32) -> io::Result<PacketRingV2Rxq> {
        PacketRingV2Rxq::open_inner(ifindex, RingV2Config::default(), true, true, false)
    }

    fn open_inner(
        ifindex: u32,
        config: RingV2Config,
        restore_vlan: bool,
        force_userspace: bool,
        vnet: bool,
    ) -> io::Result<Self> {
        let (block_size, frame_size, frame_nr) = config.geometry()?;
        // Protocol 0 until bound: nothing is queued before the ring exists
        // and the socket is tied to `ifindex`.
        let fd = sys::socket(0)?;
        if vnet {
            sys::enable_vnet_hdr(fd.as_fd())?;
            // Frames longer than a slot (TCP segments of up to 64 KiB) are
            // queued whole on the socket as well, so slots stay small and
            // many: a ring of 64 KiB slots holds 16 times fewer short
            // frames in the same memory, and lost 11% of a 0.5 Mpps flood
            // of 64-byte frames where this loses none (bench_switch).
            sys::enable_copy_thresh(fd.as_fd())?;
            sys::enable_auxdata(fd.as_fd())?;
            sys::set_rcvbuf(fd.as_fd(), OFFLOAD_RCVBUF)?;
        }
        ring::set_version_v2(fd.as_fd())?;
        ring::set_rx_ring_v2(fd.as_fd(), block_size, frame_size, frame_nr)?;
        let ring = RxRing::map_v2(fd.as_fd(), frame_size as usize, frame_nr as usize)?;
        let filter_in_userspace = skip_outgoing(fd.as_fd(), force_userspace)?;
        bind_for_rx(fd.as_fd(), ifindex)?;
        Ok(PacketRingV2Rxq {
            ring,
            fd,
            ifindex,
            config,
            next: 0,
            restore_vlan,
            filter_in_userspace,
            pending_error: None,
            vnet,
            lost: std::cell::Cell::new(0),
            dropped: 0,
            flowing: false,
        })
    }

    /// The interface this queue receives from.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The ring's configuration (as asked; [`PacketRingV2Rxq::frame_count`]
    /// is what the kernel got).
    pub fn config(&self) -> &RingV2Config {
        &self.config
    }

    /// Number of slots in the ring.
    pub fn frame_count(&self) -> usize {
        self.ring.block_nr()
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

    /// Hands the current slot back and moves to the next one.
    fn release_current(&mut self) {
        self.ring.release_block(self.next);
        // A compare, not `%`: a division per frame is measurable at a
        // million frames a second.
        self.next += 1;
        if self.next == self.ring.block_nr() {
            self.next = 0;
        }
    }

    /// Copies the frame of the current slot (which must be user space's)
    /// into `batch`, which must not be full. False if it was skipped
    /// (outgoing or malformed).
    fn copy_current(&self, batch: &mut PacketBatch) -> bool {
        let Some(slot_bytes) = self.ring.user_block(self.next) else {
            return false;
        };
        // A skipped slot whose frame was also queued on the socket takes
        // that copy with it, or the next such slot would read this one's.
        let queued =
            self.vnet && u32_at(slot_bytes, STATUS).is_some_and(|s| s & libc::TP_STATUS_COPY != 0);
        let Some(frame) = parse_slot(slot_bytes) else {
            debug!("ring slot {}: malformed frame header: skipped", self.next);
            if queued {
                self.discard_queued();
            }
            return false;
        };
        if self.filter_in_userspace && frame.pkttype == PACKET_OUTGOING {
            if queued {
                self.discard_queued();
            }
            return false;
        }
        if batch.is_full() {
            return false;
        }
        if queued {
            return self.copy_queued(batch);
        }
        let Some(slot) = batch.next_slot() else {
            return false;
        };
        let mut offload = Offload::NONE;
        if self.vnet {
            // The kernel writes the header just before the frame.
            let hdr = frame
                .data_start
                .checked_sub(Offload::LEN)
                .and_then(|at| slot_bytes.get(at..frame.data_start))
                .and_then(Offload::from_bytes);
            match hdr {
                Some(h) => offload = h,
                None => {
                    debug!(
                        "ring slot {}: no room for the vnet header: skipped",
                        self.next
                    );
                    return false;
                }
            }
        }
        let stored = frame.snaplen.min(slot.len());
        let orig_len = frame.len.max(frame.snaplen);
        slot[..stored].copy_from_slice(&slot_bytes[frame.data_start..frame.data_start + stored]);
        let tag = (frame.status, frame.vlan_tci, frame.vlan_tpid);
        self.commit_restored(batch, stored, orig_len, Some(tag), offload)
    }

    /// Commits the frame in `batch`'s next slot (`stored` of `orig_len`
    /// bytes), first putting back the VLAN tag the kernel stripped
    /// (`tag`: status, TCI and TPID as the kernel reported them), unless
    /// opened without. The kernel's offload offsets count from the
    /// untagged frame, so they move with the tag; false (nothing
    /// committed) if they cannot.
    fn commit_restored(
        &self,
        batch: &mut PacketBatch,
        mut stored: usize,
        mut orig_len: usize,
        tag: Option<(u32, u16, u16)>,
        mut offload: Offload,
    ) -> bool {
        if let (true, Some((status, tci, tpid)), Some(slot)) =
            (self.restore_vlan, tag, batch.next_slot())
        {
            if let Some(tag) = vlan_from_auxdata(status, tci, tpid, &slot[..stored]) {
                (stored, orig_len) = insert_vlan_tag(slot, stored, orig_len, tag);
                match offload.shifted(4) {
                    Some(o) => offload = o,
                    None => return false,
                }
            }
        }
        batch.commit_offload(stored, orig_len, offload)
    }
}

impl PacketRingV2Rxq {
    /// True if a frame can be read now.
    pub(crate) fn has_frames(&self) -> bool {
        self.ring.is_user(self.next)
    }

    /// The first part of [`RxQueueBackend::wait`]: true if a frame is
    /// ready now or, when the last receive found frames, appears within
    /// the configured spin (bounded by `timeout`).
    pub(crate) fn spin(&mut self, timeout: Option<Duration>) -> bool {
        if self.ring.is_user(self.next) {
            return true;
        }
        let spin = self.config.spin.min(timeout.unwrap_or(Duration::MAX));
        if std::mem::take(&mut self.flowing) && !spin.is_zero() {
            let start = Instant::now();
            while start.elapsed() < spin {
                if self.ring.is_user(self.next) {
                    return true;
                }
                // Yield, not just spin: when the kernel's receive work runs
                // on this core (RPS, or ksoftirqd under load), a spinning
                // reader takes the CPU it needs to fill the ring, and
                // frames are lost (measured: 12.7% lost spinning, 0% with
                // yields, at 64-byte line rate on veth).
                std::thread::yield_now();
            }
        }
        false
    }

    /// Takes the socket's copy of a skipped `TP_STATUS_COPY` slot.
    fn discard_queued(&self) {
        let mut hdr = [0u8; Offload::LEN];
        let _ = sys::recv_prefixed(self.fd.as_fd(), &mut hdr, &mut [0u8; 0]);
    }

    /// Reads the whole frame of a `TP_STATUS_COPY` slot from the socket
    /// into `batch`. False if none was queued (which the kernel's
    /// accounting should not allow): the frame is lost, and counted by the
    /// caller's truncation check no more than any other.
    fn copy_queued(&self, batch: &mut PacketBatch) -> bool {
        let Some(slot) = batch.next_slot() else {
            return false;
        };
        let mut hdr = [0u8; Offload::LEN];
        let meta = match sys::recv_prefixed(self.fd.as_fd(), &mut hdr, slot) {
            Ok(m) => m,
            Err(e) => {
                debug!(
                    "ring slot {}: frame not queued on the socket: {e}",
                    self.next
                );
                self.lost.set(self.lost.get() + 1);
                return false;
            }
        };
        let Some(len) = meta.len.checked_sub(Offload::LEN) else {
            self.lost.set(self.lost.get() + 1);
            return false;
        };
        let offload = Offload::from_bytes(&hdr).unwrap_or(Offload::NONE);
        let stored = len.min(slot.len());
        let tag = meta.aux.map(|a| (a.status, a.vlan_tci, a.vlan_tpid));
        self.commit_restored(batch, stored, len, tag, offload)
    }
}

impl RxQueueBackend for PacketRingV2Rxq {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        if let Some(errno) = self.pending_error.take() {
            return Err(io::Error::from_raw_os_error(errno).into());
        }
        let mut n = 0;
        while !batch.is_full() && self.ring.is_user(self.next) {
            if self.copy_current(batch) {
                n += 1;
            }
            self.release_current();
        }
        if n > 0 {
            self.flowing = true;
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        if self.pending_error.is_some() || self.spin(timeout) {
            return Ok(true);
        }
        poll_ring(self.fd.as_fd(), timeout, &mut self.pending_error)
    }

    fn drain(&mut self) -> Result<()> {
        // A pending "interface went down" is news about the past:
        // discarded like the frames.
        self.pending_error = None;
        sys::take_error(self.fd.as_fd())?;
        // Every ready slot, and no more than one lap under a flood.
        for _ in 0..self.ring.block_nr() {
            if !self.ring.is_user(self.next) {
                break;
            }
            self.release_current();
        }
        Ok(())
    }

    fn dropped(&mut self) -> Result<u64> {
        Ok(count_drops(self.fd.as_fd(), &mut self.dropped)? + self.lost.get())
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsFd for PacketRingV2Rxq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketRingV2Rxq {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for PacketRingV2Rxq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketRingV2Rxq")
            .field("fd", &self.fd.as_raw_fd())
            .field("ifindex", &self.ifindex)
            .field("config", &self.config)
            .field("frame_count", &self.ring.block_nr())
            .field("restore_vlan", &self.restore_vlan)
            .field("filter_in_userspace", &self.filter_in_userspace)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slot laid out the way the kernel does: header, `sockaddr_ll`,
    /// frame at `tp_mac`.
    fn slot(data: &[u8], len: u32, status: u32, tci: u16, tpid: u16, pkttype: u8) -> Vec<u8> {
        let mut s = vec![0u8; 2048];
        let mac = 66usize;
        s[STATUS..STATUS + 4].copy_from_slice(&(status | libc::TP_STATUS_USER).to_ne_bytes());
        s[LEN..LEN + 4].copy_from_slice(&len.to_ne_bytes());
        s[SNAPLEN..SNAPLEN + 4].copy_from_slice(&(data.len() as u32).to_ne_bytes());
        s[MAC..MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
        s[VLAN_TCI..VLAN_TCI + 2].copy_from_slice(&tci.to_ne_bytes());
        s[VLAN_TPID..VLAN_TPID + 2].copy_from_slice(&tpid.to_ne_bytes());
        s[PKTTYPE] = pkttype;
        s[mac..mac + data.len()].copy_from_slice(data);
        s
    }

    #[test]
    fn layout_matches_the_kernel_headers() {
        assert_eq!(FRAME_HDR_LEN, 32);
        assert_eq!((STATUS, LEN, SNAPLEN, MAC), (0, 4, 8, 12));
        assert_eq!((VLAN_TCI, VLAN_TPID), (24, 26));
        assert_eq!(PKTTYPE, 32 + 10);
    }

    #[test]
    fn slot_parsed() {
        let d = [5u8; 100];
        let s = slot(&d, 1000, libc::TP_STATUS_VLAN_VALID, 0x2064, 0x8100, 0);
        let f = parse_slot(&s).unwrap();
        assert_eq!((f.data_start, f.snaplen, f.len), (66, 100, 1000));
        assert_eq!((f.vlan_tci, f.vlan_tpid, f.pkttype), (0x2064, 0x8100, 0));
        assert_ne!(f.status & libc::TP_STATUS_VLAN_VALID, 0);
        assert_eq!(&s[f.data_start..f.data_start + f.snaplen], &d[..]);
        let out = slot(&d, 100, 0, 0, 0, PACKET_OUTGOING);
        assert_eq!(parse_slot(&out).unwrap().pkttype, PACKET_OUTGOING);
    }

    #[test]
    fn malformed_headers_are_none() {
        let mut s = slot(&[3u8; 60], 60, 0, 0, 0, 0);
        assert!(parse_slot(&s[..PKTTYPE]).is_none(), "short slot");
        s[SNAPLEN..SNAPLEN + 4].copy_from_slice(&5000u32.to_ne_bytes());
        assert!(parse_slot(&s).is_none(), "snaplen past the slot");
        s[SNAPLEN..SNAPLEN + 4].copy_from_slice(&60u32.to_ne_bytes());
        s[MAC..MAC + 2].copy_from_slice(&u16::MAX.to_ne_bytes());
        assert!(parse_slot(&s).is_none(), "tp_mac past the slot");
        for cut in 0..s.len() {
            let _ = parse_slot(&s[..cut]);
        }
    }

    #[test]
    fn config_checked_and_rounded() {
        let d = RingV2Config::default();
        assert_eq!(d.bytes(), 32 << 20);
        for c in [
            RingV2Config {
                frame_size: 1000,
                ..d
            },
            RingV2Config {
                frame_size: 64,
                ..d
            },
            RingV2Config {
                frame_count: 0,
                ..d
            },
        ] {
            assert_eq!(
                c.geometry().unwrap_err().kind(),
                io::ErrorKind::InvalidInput
            );
        }
        let page = ring::page_size();
        let (block, size, count) = RingV2Config {
            frame_size: 2048,
            frame_count: 3,
            ..d
        }
        .geometry()
        .unwrap();
        assert_eq!((block as usize, size), (page.max(2048), 2048));
        assert_eq!(count as usize % (block as usize / 2048), 0, "whole blocks");
        assert!(count >= 3);
        let big = RingV2Config {
            frame_size: 65536,
            frame_count: 2,
            ..d
        };
        assert_eq!(big.geometry().unwrap(), (65536.max(page as u32), 65536, 2));
        assert_eq!(RingV2Config::with_bytes(2048, 1 << 20).frame_count, 512);
    }
}
