//! Linux packet paths: the building blocks the `system` and `tap` classes
//! use to receive and send Ethernet frames in batches.
//!
//! - [`PacketRxq`]: an `AF_PACKET` socket bound to one interface, receiving
//!   with one `recvmmsg(2)` per call straight into a
//!   [`PacketBatch`]'s slots. Frames this host transmits on the interface
//!   are ignored (`PACKET_IGNORE_OUTGOING`, or by `sll_pkttype` on kernels
//!   older than 4.20); VLAN tags the kernel stripped are put back from
//!   `PACKET_AUXDATA`; a frame larger than its slot is reported truncated
//!   with its real length.
//! - [`PacketTx`]: an `AF_PACKET` socket for sending on one interface, one
//!   `sendmmsg(2)` per batch, usable from many threads.
//! - [`Tap`] / [`TapRxq`]: a TAP device created through `/dev/net/tun`,
//!   frames read from and written to its descriptor.
//!
//! Layer 3 (classes) helpers: safe code over `crate::sys`. Nothing here
//! allocates per packet: the arrays the system calls need live in the
//! queue and are reused.
//!
//! Send contract (as [`netdev_core::DeviceBackend::send_batch`]): frames go
//! out in order; the call stops at the first frame that cannot be queued
//! now and returns how many were sent. `EAGAIN`/`ENOBUFS` ("no room now")
//! give `Ok(count)`, possibly `Ok(0)`. Any other failure is returned as an
//! error naming the frame only when it hits the first frame of the call;
//! when earlier frames went out, the call returns their count and the
//! failing frame, now first, reports its error on the next call. That way a
//! returned count is always exact.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use log::debug;
use netdev_core::offload::finish_checksum;
use netdev_core::{Error, ErrorKind, Offload, PacketBatch, Result, RxQueueBackend};
use parking_lot::Mutex;

use crate::sys::packet::{self as sys, MmsgRecv, MmsgSend};
use crate::sys::tun;

/// `PACKET_OUTGOING`, the `sll_pkttype` of a frame this host transmitted.
const PACKET_OUTGOING: u8 = libc::PACKET_OUTGOING;

/// Ethernet destination and source addresses: where an 802.1Q tag goes.
const VLAN_TAG_OFFSET: usize = 12;
/// Bytes of an 802.1Q/802.1ad tag (TPID and TCI).
const VLAN_HEADER_LEN: usize = 4;
/// EtherType (TPID) of an 802.1Q customer tag.
const ETH_TYPE_VLAN_8021Q: u16 = 0x8100;
/// EtherType (TPID) of an 802.1ad service tag.
const ETH_TYPE_VLAN_8021AD: u16 = 0x88a8;

/// The smallest frame a packet socket's buffer can queue is charged much
/// more than its length; bounding a drain by `rcvbuf / this` covers every
/// queued frame while ending a drain under a flood.
const MIN_CHARGED_FRAME: usize = 64;

/// How many frames [`TapRxq::drain`](RxQueueBackend::drain) discards at
/// most: more than any TAP queue holds by default (`txqueuelen` 1000), and
/// finite under a flood.
const TAP_DRAIN_LIMIT: usize = 1 << 16;

/// Room for the largest frame a TAP device can deliver (64 KiB of MTU, an
/// Ethernet header and a VLAN tag), so its real length is always learned.
const TAP_SCRATCH_LEN: usize = 65536 + 64 + Offload::LEN;

/// A VLAN tag as it appears on the wire after the MAC addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VlanTag {
    tpid: u16,
    tci: u16,
}

/// The tag the kernel stripped from a received frame, from the
/// `tpacket_auxdata` fields (`tp_status`, `tp_vlan_tci`, `tp_vlan_tpid`).
/// `frame` is the frame as received (after the strip).
///
/// Follows Open vSwitch: a tag is present when `TP_STATUS_VLAN_VALID` is set
/// or the TCI is non-zero (kernels before 3.0 had no flag). Without
/// `TP_STATUS_VLAN_TPID_VALID` (kernels before 3.14) the TPID is guessed:
/// 802.1ad when the frame still carries a tag (the stripped one was the
/// outer tag of a double-tagged frame), 802.1Q otherwise.
pub(crate) fn vlan_from_auxdata(status: u32, tci: u16, tpid: u16, frame: &[u8]) -> Option<VlanTag> {
    if tci == 0 && status & libc::TP_STATUS_VLAN_VALID == 0 {
        return None;
    }
    let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
        tpid
    } else {
        match frame.get(VLAN_TAG_OFFSET..VLAN_TAG_OFFSET + 2) {
            Some(&[a, b])
                if matches!(
                    u16::from_be_bytes([a, b]),
                    ETH_TYPE_VLAN_8021Q | ETH_TYPE_VLAN_8021AD
                ) =>
            {
                ETH_TYPE_VLAN_8021AD
            }
            _ => ETH_TYPE_VLAN_8021Q,
        }
    };
    Some(VlanTag { tpid, tci })
}

/// Re-inserts `tag` after the MAC addresses of the frame in `slot`, of
/// which `stored` bytes are valid and whose wire length (without the tag)
/// is `orig_len`. The frame's tail moves right by 4 bytes inside the slot;
/// what no longer fits is dropped and shows as truncation. Returns the new
/// `(stored, orig_len)`. A frame too short to hold two MAC addresses is
/// left alone.
pub(crate) fn insert_vlan_tag(
    slot: &mut [u8],
    stored: usize,
    orig_len: usize,
    tag: VlanTag,
) -> (usize, usize) {
    let stored = stored.min(slot.len());
    if stored < VLAN_TAG_OFFSET {
        return (stored, orig_len);
    }
    let tag_end = VLAN_TAG_OFFSET + VLAN_HEADER_LEN;
    let end = (stored + VLAN_HEADER_LEN).min(slot.len());
    if end > tag_end {
        slot.copy_within(VLAN_TAG_OFFSET..end - VLAN_HEADER_LEN, tag_end);
    }
    let mut bytes = [0u8; VLAN_HEADER_LEN];
    bytes[..2].copy_from_slice(&tag.tpid.to_be_bytes());
    bytes[2..].copy_from_slice(&tag.tci.to_be_bytes());
    let fit = end.min(tag_end) - VLAN_TAG_OFFSET;
    slot[VLAN_TAG_OFFSET..VLAN_TAG_OFFSET + fit].copy_from_slice(&bytes[..fit]);
    (end, orig_len.max(stored) + VLAN_HEADER_LEN)
}

/// Converts a send failure into the error for frame `index` of the call.
fn frame_error(e: io::Error, index: usize, len: usize) -> Error {
    Error::from(e).with_detail(format!("frame {index} of the batch, {len} bytes"))
}

/// True for the errors that mean "no room now, try again".
fn is_try_again(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS)
}

/// Blocks until `fd` polls readable (or reports an error) or `timeout`
/// passes.
fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<bool> {
    Ok(sys::poll(fd, libc::POLLIN, timeout)? != 0)
}

/// Blocks until `fd` polls writable (or reports an error) or `timeout`
/// passes.
fn wait_writable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<bool> {
    Ok(sys::poll(fd, libc::POLLOUT, timeout)? != 0)
}

/// Asks the kernel not to loop the host's own transmissions back to the
/// receive socket `fd` (`PACKET_IGNORE_OUTGOING`). Returns true when it
/// cannot (kernels before 4.20) or `force_userspace` is set: the caller
/// then drops them itself by `sll_pkttype`.
pub(crate) fn skip_outgoing(fd: BorrowedFd<'_>, force_userspace: bool) -> io::Result<bool> {
    if force_userspace {
        return Ok(true);
    }
    match sys::ignore_outgoing(fd) {
        Ok(()) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
            debug!("PACKET_IGNORE_OUTGOING unsupported (kernel < 4.20): filtering by sll_pkttype");
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Binds the receive socket `fd` to every protocol of interface `ifindex`.
pub(crate) fn bind_for_rx(fd: BorrowedFd<'_>, ifindex: u32) -> io::Result<()> {
    sys::bind(fd, ifindex, sys::ETH_P_ALL_BE)?;
    // Binding to an interface that is down leaves a pending ENETDOWN (the
    // socket starts receiving once it comes up): that is no news to the
    // caller, so clear it rather than fail the first receive.
    sys::take_error(fd)?;
    Ok(())
}

/// Sleeps until the ring socket `fd` polls readable or `timeout` passes;
/// true if it did. An error the poll reports (`ENETDOWN`) is taken from
/// the socket into `pending`, for the next receive to return.
pub(crate) fn poll_ring(
    fd: BorrowedFd<'_>,
    timeout: Option<Duration>,
    pending: &mut Option<i32>,
) -> Result<bool> {
    let revents = sys::poll(fd, libc::POLLIN, timeout)?;
    if revents & libc::POLLERR != 0 {
        let errno = sys::take_error(fd)?;
        if errno != 0 {
            *pending = Some(errno);
        }
    }
    Ok(revents != 0)
}

/// Adds the drops the kernel counted on `fd` since the last read
/// (`PACKET_STATISTICS`, which resets them) to `total`; returns it.
pub(crate) fn count_drops(fd: BorrowedFd<'_>, total: &mut u64) -> Result<u64> {
    let (_, drops) = sys::take_stats(fd)?;
    *total += u64::from(drops);
    Ok(*total)
}

/// A receive queue on one interface: an `AF_PACKET` socket bound to its
/// ifindex, implementing [`RxQueueBackend`].
///
/// Every queue sees every frame the interface receives (each socket gets
/// its own copy), but none of the frames the host transmits on it. When the
/// interface goes down the kernel reports `ENETDOWN` once, as an
/// [`ErrorKind::NetworkDown`] error from the next receive; the queue keeps
/// working when the interface comes back up.
pub struct PacketRxq {
    fd: OwnedFd,
    ifindex: u32,
    mmsg: MmsgRecv,
    /// True when the kernel could not be asked to skip outgoing frames, so
    /// they are recognised by `sll_pkttype` and dropped here.
    filter_in_userspace: bool,
    /// Staging area for moving a frame down over a dropped outgoing one
    /// (userspace filtering only); grown to the slot size once.
    scratch: Vec<u8>,
    /// Frames the kernel dropped so far (its counter resets when read).
    dropped: u64,
}

impl PacketRxq {
    /// Opens a receive queue on interface `ifindex` of the calling thread's
    /// network namespace.
    pub fn open(ifindex: u32) -> io::Result<PacketRxq> {
        PacketRxq::open_inner(ifindex, false, true)
    }

    /// Like [`PacketRxq::open`], without restoring VLAN tags: the kernel
    /// strips a received frame's tag (on most drivers) and, unless asked for
    /// `PACKET_AUXDATA`, does not say what it was. Skipping that per-frame
    /// control message measured ~10% more frames per second on a veth, for
    /// callers that do not need tags.
    pub fn open_without_vlan(ifindex: u32) -> io::Result<PacketRxq> {
        PacketRxq::open_inner(ifindex, false, false)
    }

    /// Like [`PacketRxq::open`], but drops outgoing frames in userspace by
    /// `sll_pkttype` as on kernels before 4.20, even if the kernel could do
    /// it. For tests of that path.
    #[doc(hidden)]
    pub fn open_filtering_in_userspace(ifindex: u32) -> io::Result<PacketRxq> {
        PacketRxq::open_inner(ifindex, true, true)
    }

    fn open_inner(ifindex: u32, force_userspace: bool, vlan: bool) -> io::Result<PacketRxq> {
        // Protocol 0 until bound: nothing is queued before the options are
        // set and the socket is tied to `ifindex`.
        let fd = sys::socket(0)?;
        if vlan {
            sys::enable_auxdata(fd.as_fd())?;
        }
        let filter_in_userspace = skip_outgoing(fd.as_fd(), force_userspace)?;
        bind_for_rx(fd.as_fd(), ifindex)?;
        Ok(PacketRxq {
            fd,
            ifindex,
            mmsg: MmsgRecv::new(filter_in_userspace),
            filter_in_userspace,
            scratch: Vec::new(),
            dropped: 0,
        })
    }

    /// The interface this queue receives from.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// True when outgoing frames are dropped here rather than by the
    /// kernel (kernels before 4.20).
    pub fn filters_outgoing_in_userspace(&self) -> bool {
        self.filter_in_userspace
    }

    /// Sets the socket's receive buffer (how many bytes of frames may wait
    /// before the kernel drops new ones). Root may exceed
    /// `net.core.rmem_max`.
    pub fn set_recv_buffer(&self, bytes: usize) -> io::Result<()> {
        sys::set_rcvbuf(self.fd.as_fd(), bytes)
    }

    /// Moves the frame in free slot `from` (relative to the first free
    /// slot) into the first free slot, through `scratch`: both are free
    /// slots of the same batch, which cannot be borrowed together.
    fn move_down(&mut self, batch: &mut PacketBatch, from: usize, len: usize) {
        let len = len.min(batch.slot_size());
        self.scratch.resize(batch.slot_size(), 0);
        if let Some(src) = batch.free_slots_mut().nth(from) {
            self.scratch[..len].copy_from_slice(&src[..len]);
        }
        if let Some(dst) = batch.next_slot() {
            dst[..len].copy_from_slice(&self.scratch[..len]);
        }
    }
}

impl RxQueueBackend for PacketRxq {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        let n = match self.mmsg.recv(self.fd.as_fd(), batch.free_slots_mut()) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let slot_size = batch.slot_size();
        let mut kept = 0;
        for k in 0..n {
            let meta = self.mmsg.meta(k);
            if self.filter_in_userspace && meta.pkttype == Some(PACKET_OUTGOING) {
                continue;
            }
            let mut stored = meta.len.min(slot_size);
            let mut orig_len = meta.len;
            if k != kept {
                // An outgoing frame was dropped before this one: close the
                // gap so the batch's frames stay contiguous.
                self.move_down(batch, k - kept, stored);
            }
            let Some(slot) = batch.next_slot() else {
                break;
            };
            if let Some(aux) = meta.aux {
                if let Some(tag) =
                    vlan_from_auxdata(aux.status, aux.vlan_tci, aux.vlan_tpid, &slot[..stored])
                {
                    (stored, orig_len) = insert_vlan_tag(slot, stored, orig_len, tag);
                }
            }
            batch.commit(stored, orig_len);
            kept += 1;
        }
        Ok(kept)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        wait_readable(self.fd.as_fd(), timeout)
    }

    fn drain(&mut self) -> Result<()> {
        let fd = self.fd.as_fd();
        let limit = sys::rcvbuf(fd)? / MIN_CHARGED_FRAME + 1;
        for _ in 0..limit {
            match sys::discard_one(fd) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // A pending "interface went down" is news about the past:
                // discarded like the frames.
                Err(e) if e.raw_os_error() == Some(libc::ENETDOWN) => {}
                Err(e) => return Err(e.into()),
            }
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

impl AsFd for PacketRxq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketRxq {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for PacketRxq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketRxq")
            .field("fd", &self.fd.as_raw_fd())
            .field("ifindex", &self.ifindex)
            .field("filter_in_userspace", &self.filter_in_userspace)
            .finish()
    }
}

/// A sender on one interface: an `AF_PACKET` socket bound to its ifindex
/// that receives nothing. Shareable between threads; concurrent batches
/// are sent one after the other.
pub struct PacketTx {
    fd: OwnedFd,
    ifindex: u32,
    mmsg: Mutex<MmsgSend>,
    /// Each frame sent starts with a `virtio_net_hdr` (`PACKET_VNET_HDR`).
    vnet: bool,
    /// The headers of the batch being sent (vnet senders).
    prefixes: Mutex<Vec<[u8; Offload::LEN]>>,
}

impl PacketTx {
    /// Opens a sender on interface `ifindex` of the calling thread's
    /// network namespace. The interface may be down; sending then fails
    /// with [`ErrorKind::NetworkDown`].
    pub fn open(ifindex: u32) -> io::Result<PacketTx> {
        // Protocol 0, bound with 0: the socket is tied to the interface for
        // sending but registers no receive hook, so the kernel does not
        // copy every frame of the interface to it.
        PacketTx::open_inner(ifindex, false)
    }

    /// Like [`PacketTx::open`], for frames with offload metadata
    /// ([`PacketTx::send_batch_offload`]): the kernel completes checksums
    /// and cuts TCP segments (or the device does, or the next one).
    pub fn open_offload(ifindex: u32) -> io::Result<PacketTx> {
        PacketTx::open_inner(ifindex, true)
    }

    fn open_inner(ifindex: u32, vnet: bool) -> io::Result<PacketTx> {
        let fd = sys::socket(0)?;
        if vnet {
            sys::enable_vnet_hdr(fd.as_fd())?;
        }
        sys::bind(fd.as_fd(), ifindex, 0)?;
        Ok(PacketTx {
            fd,
            ifindex,
            mmsg: Mutex::new(MmsgSend::new()),
            vnet,
            prefixes: Mutex::new(Vec::new()),
        })
    }

    /// The interface this sender transmits on.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sets the socket's send buffer (bytes of frames queued in the kernel
    /// before sending answers "try again").
    pub fn set_send_buffer(&self, bytes: usize) -> io::Result<()> {
        sys::set_sndbuf(self.fd.as_fd(), bytes)
    }

    /// Sends the frames in order with one `sendmmsg(2)` (per 1024 frames),
    /// stopping at the first one that cannot be queued now; returns how
    /// many were sent. See the module documentation for the contract:
    /// "no room" is `Ok(count)`, a refused frame (`EMSGSIZE`, `ENETDOWN`,
    /// ...) an error naming it when it is the first of the call.
    pub fn send_batch(&self, frames: &[&[u8]]) -> Result<usize> {
        if self.vnet {
            let mut prefixes = self.prefixes.lock();
            prefixes.clear();
            prefixes.resize(frames.len(), NO_OFFLOAD);
            return self.send_inner(frames, Some(&prefixes));
        }
        self.send_inner(frames, None)
    }

    /// Sends the frames with their offload metadata (`offloads[i]` for
    /// `frames[i]`), as [`PacketTx::send_batch`] does. On a sender opened
    /// without offload ([`PacketTx::open`]) this is `InvalidInput`.
    pub fn send_batch_offload(&self, frames: &[&[u8]], offloads: &[Offload]) -> Result<usize> {
        if !self.vnet {
            return Err(Error::new(ErrorKind::InvalidInput(
                "this sender was opened without offload".into(),
            )));
        }
        let mut prefixes = self.prefixes.lock();
        prefixes.clear();
        prefixes.extend(offloads.iter().map(Offload::to_bytes));
        self.send_inner(frames, Some(&prefixes))
    }

    fn send_inner(
        &self,
        frames: &[&[u8]],
        prefixes: Option<&[[u8; Offload::LEN]]>,
    ) -> Result<usize> {
        let mut mmsg = self.mmsg.lock();
        let mut sent = 0;
        while sent < frames.len() {
            let r = match prefixes {
                Some(p) => mmsg.send_prefixed(self.fd.as_fd(), &frames[sent..], &p[sent..]),
                None => mmsg.send(self.fd.as_fd(), &frames[sent..]),
            };
            match r {
                Ok(0) => break,
                Ok(n) => {
                    sent += n;
                    if sent < frames.len() && n < sys::MAX_VLEN {
                        // The kernel stopped early: no room, or the next
                        // frame fails (reported by the next call).
                        break;
                    }
                }
                Err(e) if is_try_again(&e) => break,
                Err(e) if sent > 0 => {
                    debug!("send stopped at frame {sent}: {e}");
                    break;
                }
                Err(e) => return Err(frame_error(e, sent, frames[sent].len())),
            }
        }
        Ok(sent)
    }

    /// Blocks until the socket has room to send or `timeout` passes (`None`:
    /// no limit); true if it has room.
    pub fn send_wait(&self, timeout: Option<Duration>) -> Result<bool> {
        wait_writable(self.fd.as_fd(), timeout)
    }
}

impl AsFd for PacketTx {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for PacketTx {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for PacketTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketTx")
            .field("fd", &self.fd.as_raw_fd())
            .field("ifindex", &self.ifindex)
            .finish()
    }
}

/// A TAP device and its `/dev/net/tun` descriptor (nonblocking).
///
/// Frames the host transmits on the device are read from the descriptor
/// ([`TapRxq`]); frames written to it ([`Tap::send_batch`]) arrive on the
/// device as if received from a wire. The device lives as long as this
/// value (unless someone made it persistent): dropping the last descriptor
/// destroys it.
pub struct Tap {
    fd: OwnedFd,
    name: String,
    /// Receive queues that take offload metadata: while there is one, the
    /// kernel may hand over TCP segments of up to 64 KiB and frames with
    /// their checksum pending (`TUNSETOFFLOAD`).
    offload_queues: Mutex<usize>,
}

/// What the kernel may leave to an offload reader of a tap: checksums and
/// TCP segmentation (with ECN), as a virtio NIC would.
const TAP_OFFLOADS: libc::c_uint =
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;

/// The header of a complete frame written to a tap.
const NO_OFFLOAD: [u8; Offload::LEN] = [0; Offload::LEN];

impl Tap {
    /// Creates the TAP device `name` in the calling thread's network
    /// namespace (`IFF_TAP | IFF_NO_PI`). An existing persistent TAP device
    /// of that name that nobody has open is attached to instead, as the
    /// kernel does.
    ///
    /// Errors: the name fails [`netdev_core::validate_name`] or contains
    /// `%` (a kernel name template; `InvalidInput`); a device of another
    /// type has the name (`EEXIST`, saying so); a TAP device of that name is
    /// already open elsewhere (`EBUSY`, saying so). Use
    /// [`netdev_core::errno_of`] on the error for the errno value.
    pub fn create(name: &str) -> io::Result<Tap> {
        if let Err(e) = netdev_core::validate_name(name) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()));
        }
        if name.contains('%') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid interface name: {name:?} contains '%' (a kernel name template)"),
            ));
        }
        match tun::open_tap(name) {
            Ok((fd, name)) => Ok(Tap {
                fd,
                name,
                offload_queues: Mutex::new(0),
            }),
            Err(e) => Err(explain_tunsetiff_error(name, e)),
        }
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes the frames to the device in order, one `write(2)` each;
    /// returns how many were written (see the module documentation for the
    /// contract). A device that is down refuses frames with
    /// [`ErrorKind::NetworkDown`].
    pub fn send_batch(&self, frames: &[&[u8]]) -> Result<usize> {
        self.send_inner(frames, None)
    }

    /// Like [`Tap::send_batch`], each frame with its offload metadata
    /// (`offloads[i]` for `frames[i]`): the kernel takes a pending checksum
    /// or a TCP segment of up to 64 KiB as it is (`IFF_VNET_HDR`).
    pub fn send_batch_offload(&self, frames: &[&[u8]], offloads: &[Offload]) -> Result<usize> {
        self.send_inner(frames, Some(offloads))
    }

    fn send_inner(&self, frames: &[&[u8]], offloads: Option<&[Offload]>) -> Result<usize> {
        for (i, frame) in frames.iter().enumerate() {
            let hdr = offloads
                .and_then(|o| o.get(i))
                .map_or(NO_OFFLOAD, Offload::to_bytes);
            match tun::write_prefixed(self.fd.as_fd(), &hdr, frame) {
                Ok(_) => {}
                Err(e) if is_try_again(&e) => return Ok(i),
                Err(e) if i > 0 => {
                    debug!("{}: send stopped at frame {i}: {e}", self.name);
                    return Ok(i);
                }
                // The TUN driver answers EIO for "device down".
                Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                    return Err(Error::new(ErrorKind::NetworkDown)
                        .with_detail(format!("frame 0 of the batch, {} bytes", frame.len())));
                }
                Err(e) => return Err(frame_error(e, i, frame.len())),
            }
        }
        Ok(frames.len())
    }

    /// Blocks until the device can take a frame or `timeout` passes;
    /// true if it can.
    pub fn send_wait(&self, timeout: Option<Duration>) -> Result<bool> {
        wait_writable(self.fd.as_fd(), timeout)
    }

    /// One more offload receive queue: the first turns the kernel's
    /// offloads toward this tap on.
    fn offload_queue_opened(&self) -> io::Result<()> {
        let mut n = self.offload_queues.lock();
        if *n == 0 {
            tun::set_offload(self.fd.as_fd(), TAP_OFFLOADS)?;
        }
        *n += 1;
        Ok(())
    }

    /// One offload receive queue fewer: the last turns them off again, so
    /// plain readers get complete frames.
    fn offload_queue_closed(&self) {
        let mut n = self.offload_queues.lock();
        *n = n.saturating_sub(1);
        if *n == 0 {
            if let Err(e) = tun::set_offload(self.fd.as_fd(), 0) {
                debug!("{}: turning tap offloads off: {e}", self.name);
            }
        }
    }
}

/// Turns the bare errno of a failed `TUNSETIFF` into an error that says
/// what happened, keeping the errno retrievable ([`netdev_core::errno_of`]).
fn explain_tunsetiff_error(name: &str, e: io::Error) -> io::Error {
    let coded =
        |errno: i32, why: String| io::Error::from(Error::from_errno(errno).with_detail(why));
    match e.raw_os_error() {
        // The driver says EINVAL when the name belongs to a device of
        // another type; tell that apart from a genuinely bad request.
        Some(libc::EINVAL) if nix::net::if_::if_nametoindex(name).is_ok() => coded(
            libc::EEXIST,
            format!("cannot create tap device {name:?}: a device of another type has that name"),
        ),
        Some(libc::EBUSY) => coded(
            libc::EBUSY,
            format!("cannot open tap device {name:?}: it is already open elsewhere"),
        ),
        Some(errno) => coded(errno, format!("cannot create tap device {name:?}")),
        None => e,
    }
}

impl AsFd for Tap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Tap {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for Tap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tap")
            .field("name", &self.name)
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

/// A receive queue on a [`Tap`]: frames the host transmits on the device,
/// read from its descriptor. Every `TapRxq` of one `Tap` reads the same
/// queue, so each frame reaches only one of them.
pub struct TapRxq {
    tap: Arc<Tap>,
    /// Where frames are read when the slot is smaller than the largest
    /// frame the device can deliver, so their real length is known.
    scratch: Box<[u8]>,
    /// Frames keep their offload metadata (opened with offload).
    offload: bool,
    /// Frames discarded here: a GSO frame for a plain queue (another
    /// queue of the tap asked for offloads), or a read shorter than the
    /// header.
    lost: u64,
}

impl TapRxq {
    /// A receive queue reading `tap`'s descriptor, complete frames only.
    pub fn new(tap: Arc<Tap>) -> TapRxq {
        TapRxq {
            tap,
            scratch: vec![0; TAP_SCRATCH_LEN].into_boxed_slice(),
            offload: false,
            lost: 0,
        }
    }

    /// A receive queue that takes frames as the host hands them to the
    /// tap, with their offload metadata: TCP segments of up to 64 KiB,
    /// checksums pending (the kernel's offloads toward the tap are on
    /// while such a queue is open).
    pub fn new_offload(tap: Arc<Tap>) -> io::Result<TapRxq> {
        tap.offload_queue_opened()?;
        let mut q = TapRxq::new(tap);
        q.offload = true;
        Ok(q)
    }

    /// The device this queue reads.
    pub fn tap(&self) -> &Arc<Tap> {
        &self.tap
    }
}

impl Drop for TapRxq {
    fn drop(&mut self) {
        if self.offload {
            self.tap.offload_queue_closed();
        }
    }
}

impl RxQueueBackend for TapRxq {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        let fd = self.tap.fd.as_fd();
        let mut n = 0;
        while let Some(slot) = batch.next_slot() {
            // A slot that can hold any frame is read into directly, the
            // header beside it. Otherwise the frame goes to the scratch
            // buffer, which can, and its head is copied: a TAP read cuts a
            // frame to the buffer and returns only what it copied, so
            // reading into a small slot would lose the real length.
            let mut hdr = [0u8; Offload::LEN];
            let direct = slot.len() + Offload::LEN >= self.scratch.len();
            let read = if direct {
                tun::read_prefixed(fd, &mut hdr, slot)
            } else {
                tun::read(fd, &mut self.scratch)
            };
            match read {
                // Nothing more to read (0 only if the driver had nothing).
                Ok(0) => break,
                Ok(total) => {
                    let Some(len) = total.checked_sub(Offload::LEN) else {
                        self.lost += 1;
                        continue;
                    };
                    let stored = len.min(slot.len());
                    if !direct {
                        hdr.copy_from_slice(&self.scratch[..Offload::LEN]);
                        slot[..stored]
                            .copy_from_slice(&self.scratch[Offload::LEN..Offload::LEN + stored]);
                    }
                    let mut offload = Offload::from_bytes(&hdr).unwrap_or_default();
                    if !self.offload && !offload.is_none() {
                        // Another queue of this tap turned offloads on; a
                        // plain reader gets complete frames or none.
                        if offload.is_gso()
                            || stored < len
                            || finish_checksum(&mut slot[..stored], &offload).is_err()
                        {
                            self.lost += 1;
                            continue;
                        }
                        offload = Offload::NONE;
                    }
                    batch.commit_offload(stored, len, offload);
                    n += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // Keep what was read; the error recurs on the next call.
                Err(e) if n > 0 => {
                    debug!("{}: receive stopped after {n} frames: {e}", self.tap.name);
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }

    /// Frames this queue discarded (see the type's fields); what the
    /// tap's own queue dropped before they were read shows in the
    /// device's transmit drops.
    fn dropped(&mut self) -> Result<u64> {
        Ok(self.lost)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        wait_readable(self.tap.fd.as_fd(), timeout)
    }

    fn drain(&mut self) -> Result<()> {
        let fd = self.tap.fd.as_fd();
        for _ in 0..TAP_DRAIN_LIMIT {
            match tun::read(fd, &mut self.scratch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.tap.fd.as_fd()
    }
}

impl AsFd for TapRxq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.tap.fd.as_fd()
    }
}

impl fmt::Debug for TapRxq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TapRxq").field("tap", &self.tap).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: u32 = libc::TP_STATUS_VLAN_VALID;
    const TPID_VALID: u32 = libc::TP_STATUS_VLAN_TPID_VALID;

    /// dst, src, then `rest`.
    fn frame(rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1];
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn no_tag_without_flag_or_tci() {
        let f = frame(&[0x08, 0x00, 0x45]);
        assert_eq!(vlan_from_auxdata(0, 0, 0, &f), None);
        assert_eq!(vlan_from_auxdata(TPID_VALID, 0, 0x8100, &f), None);
    }

    #[test]
    fn tag_with_valid_tpid() {
        let f = frame(&[0x08, 0x00]);
        assert_eq!(
            vlan_from_auxdata(VALID | TPID_VALID, 0x2064, 0x88a8, &f),
            Some(VlanTag {
                tpid: 0x88a8,
                tci: 0x2064
            })
        );
        // VLAN 0 with priority 0 is a tag too when the flag says so.
        assert_eq!(
            vlan_from_auxdata(VALID | TPID_VALID, 0, 0x8100, &f),
            Some(VlanTag {
                tpid: 0x8100,
                tci: 0
            })
        );
    }

    #[test]
    fn tpid_guessed_on_old_kernels() {
        // Pre-3.0: no flag, non-zero TCI; pre-3.14: no TPID.
        let untagged = frame(&[0x08, 0x00]);
        assert_eq!(
            vlan_from_auxdata(0, 5, 0, &untagged),
            Some(VlanTag {
                tpid: 0x8100,
                tci: 5
            })
        );
        // Still tagged after the strip: the stripped tag was the outer one.
        let inner = frame(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
        assert_eq!(
            vlan_from_auxdata(VALID, 5, 0, &inner),
            Some(VlanTag {
                tpid: 0x88a8,
                tci: 5
            })
        );
        // Too short to tell: 802.1Q.
        assert_eq!(
            vlan_from_auxdata(VALID, 5, 0, &[0; 6]),
            Some(VlanTag {
                tpid: 0x8100,
                tci: 5
            })
        );
    }

    #[test]
    fn insert_tag_with_room() {
        let f = frame(&[0x08, 0x00, 1, 2, 3]);
        let mut slot = vec![0xee; 64];
        slot[..f.len()].copy_from_slice(&f);
        let tag = VlanTag {
            tpid: 0x8100,
            tci: 0x0064,
        };
        let (stored, orig) = insert_vlan_tag(&mut slot, f.len(), f.len(), tag);
        assert_eq!((stored, orig), (f.len() + 4, f.len() + 4));
        let want = frame(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00, 1, 2, 3]);
        assert_eq!(&slot[..stored], &want[..]);
    }

    #[test]
    fn insert_tag_in_full_slot_reports_truncation() {
        // The frame exactly fills the slot: the tag pushes 4 bytes out.
        let f = frame(&[0x08, 0x00, 1, 2, 3, 4, 5, 6]);
        let mut slot = f.clone();
        let tag = VlanTag {
            tpid: 0x88a8,
            tci: 0xf00d,
        };
        let (stored, orig) = insert_vlan_tag(&mut slot, f.len(), f.len(), tag);
        assert_eq!(stored, f.len());
        assert_eq!(orig, f.len() + 4);
        let want = frame(&[0x88, 0xa8, 0xf0, 0x0d, 0x08, 0x00, 1, 2, 3, 4, 5, 6]);
        assert_eq!(&slot[..], &want[..f.len()]);
    }

    #[test]
    fn insert_tag_into_already_truncated_frame() {
        // Slot of 20 bytes, frame of 100 cut to 20.
        let mut full = frame(&[0x08, 0x00]);
        full.extend((0..86).map(|i| i as u8));
        let mut slot = full[..20].to_vec();
        let tag = VlanTag {
            tpid: 0x8100,
            tci: 1,
        };
        let (stored, orig) = insert_vlan_tag(&mut slot, 20, 100, tag);
        assert_eq!((stored, orig), (20, 104));
        let mut want = full[..12].to_vec();
        want.extend([0x81, 0x00, 0x00, 0x01]);
        want.extend(&full[12..16]);
        assert_eq!(slot, want);
    }

    #[test]
    fn insert_tag_in_tiny_slots() {
        let tag = VlanTag {
            tpid: 0x8100,
            tci: 0x0203,
        };
        // Room for the MACs and half the tag.
        let mut slot = frame(&[])[..12].to_vec();
        slot.extend([0xaa, 0xbb]);
        let (stored, orig) = insert_vlan_tag(&mut slot, 14, 60, tag);
        assert_eq!((stored, orig), (14, 64));
        assert_eq!(&slot[12..], &[0x81, 0x00]);
        // Shorter than two MAC addresses: left alone.
        let mut short = vec![1, 2, 3];
        assert_eq!(insert_vlan_tag(&mut short, 3, 3, tag), (3, 3));
        assert_eq!(short, [1, 2, 3]);
    }

    #[test]
    fn shareable_as_documented() {
        fn send<T: Send>() {}
        fn send_sync<T: Send + Sync>() {}
        // Receive queues move to a poller thread; senders and taps are
        // shared between threads.
        send::<PacketRxq>();
        send::<TapRxq>();
        send_sync::<PacketTx>();
        send_sync::<Tap>();
    }

    #[test]
    fn try_again_errors() {
        assert!(is_try_again(&io::Error::from_raw_os_error(libc::EAGAIN)));
        assert!(is_try_again(&io::Error::from_raw_os_error(libc::ENOBUFS)));
        assert!(!is_try_again(&io::Error::from_raw_os_error(libc::EMSGSIZE)));
        let e = frame_error(io::Error::from_raw_os_error(libc::EMSGSIZE), 3, 9000);
        assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
        assert!(
            e.to_string().contains("frame 3 of the batch, 9000 bytes"),
            "{e}"
        );
    }
}
