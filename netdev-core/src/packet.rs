//! Batched packet I/O: the caller-owned [`PacketBatch`] that receive fills
//! without allocating, the backend's [`RxQueueBackend`], and the per-handle
//! [`RxQueue`].

use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::slice::ChunksExactMut;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::netdev::Device;
use crate::offload::Offload;

/// One received frame inside a [`PacketBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The bytes stored (at most the batch's slot size).
    pub data: &'a [u8],
    /// The frame's length on the wire; larger than `data.len()` when the
    /// frame did not fit its slot.
    pub orig_len: usize,
    /// What is left to do for the frame (a checksum, segmentation):
    /// [`Offload::NONE`] unless the queue was opened with
    /// [`RxQueueOptions::offload`].
    pub offload: Offload,
}

impl Packet<'_> {
    /// True if the frame was cut to fit its slot.
    pub fn is_truncated(&self) -> bool {
        self.orig_len > self.data.len()
    }
}

/// A reusable set of fixed-size receive slots in one allocation.
///
/// Receive paths write straight into the slots (one `recvmmsg` can target
/// all of them), so receiving allocates nothing per packet. A frame larger
/// than a slot is stored cut and reported as truncated, never silently.
pub struct PacketBatch {
    buf: Vec<u8>,
    slot_size: usize,
    lens: Vec<(usize, usize)>,
    /// Parallel to `lens`; all [`Offload::NONE`] unless a backend sets one.
    offloads: Vec<Offload>,
}

impl PacketBatch {
    /// Default slot size: a 1500-byte MTU frame with Ethernet and two VLAN
    /// headers fits, rounded up to a cache-friendly size.
    pub const DEFAULT_SLOT_SIZE: usize = 2048;

    /// A batch of `capacity` slots of `slot_size` bytes each.
    ///
    /// Both are at least 1.
    pub fn new(capacity: usize, slot_size: usize) -> PacketBatch {
        let capacity = capacity.max(1);
        let slot_size = slot_size.max(1);
        PacketBatch {
            buf: vec![0; capacity * slot_size],
            slot_size,
            lens: Vec::with_capacity(capacity),
            offloads: Vec::with_capacity(capacity),
        }
    }

    /// How many frames the batch can hold.
    pub fn capacity(&self) -> usize {
        self.buf.len() / self.slot_size
    }

    /// The size of each slot in bytes.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// How many frames the batch holds.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// True if the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// True if every slot is used.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Forgets the frames (keeps the memory).
    pub fn clear(&mut self) {
        self.lens.clear();
        self.offloads.clear();
    }

    /// Frame `i`, if present.
    pub fn get(&self, i: usize) -> Option<Packet<'_>> {
        let &(len, orig_len) = self.lens.get(i)?;
        let start = i * self.slot_size;
        Some(Packet {
            data: &self.buf[start..start + len],
            orig_len,
            offload: self.offloads.get(i).copied().unwrap_or_default(),
        })
    }

    /// The frames in order.
    pub fn iter(&self) -> impl Iterator<Item = Packet<'_>> + '_ {
        (0..self.len()).filter_map(move |i| self.get(i))
    }

    /// The next free slot, for a backend that receives one frame at a time;
    /// follow with [`PacketBatch::commit`]. `None` if the batch is full.
    pub fn next_slot(&mut self) -> Option<&mut [u8]> {
        let start = self.len() * self.slot_size;
        self.buf.get_mut(start..start + self.slot_size)
    }

    /// All free slots, in order, for a backend that receives many frames in
    /// one call; follow with one [`PacketBatch::commit`] per frame received.
    pub fn free_slots_mut(&mut self) -> ChunksExactMut<'_, u8> {
        let start = self.len() * self.slot_size;
        self.buf[start..].chunks_exact_mut(self.slot_size)
    }

    /// Records that the next free slot now holds a frame whose wire length
    /// is `orig_len`, of which `stored` bytes were written (clamped to the
    /// slot size). Returns false, recording nothing, if the batch is full.
    pub fn commit(&mut self, stored: usize, orig_len: usize) -> bool {
        self.commit_offload(stored, orig_len, Offload::NONE)
    }

    /// Like [`PacketBatch::commit`], for a frame with offload metadata.
    pub fn commit_offload(&mut self, stored: usize, orig_len: usize, offload: Offload) -> bool {
        if self.is_full() {
            return false;
        }
        let stored = stored.min(self.slot_size);
        self.lens.push((stored, orig_len.max(stored)));
        self.offloads.push(offload);
        true
    }

    /// Copies `frame` into the next free slot (truncating if needed). A
    /// convenience for in-memory backends; returns false if full.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        let Some(slot) = self.next_slot() else {
            return false;
        };
        let n = frame.len().min(slot.len());
        slot[..n].copy_from_slice(&frame[..n]);
        self.commit(n, frame.len())
    }
}

impl fmt::Debug for PacketBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketBatch")
            .field("capacity", &self.capacity())
            .field("slot_size", &self.slot_size)
            .field("len", &self.len())
            .finish()
    }
}

/// `timeout`, or `None` (no limit) if no deadline that far ahead can be
/// represented: backends add timeouts to `Instant::now()`, which panics on
/// overflow, and no caller means "wait 500 billion years, then give up".
pub(crate) fn bounded_timeout(timeout: Option<Duration>) -> Option<Duration> {
    timeout.filter(|t| std::time::Instant::now().checked_add(*t).is_some())
}

/// How [`crate::Netdev::open_rx_with`] opens a receive queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RxQueueOptions {
    /// Receive frames as the device has them, with their [`Offload`]
    /// metadata: a checksum still to complete, a TCP segment of up to
    /// 64 KiB still to cut (give the batch slots of 65 KiB or more). For
    /// forwarding to another device with [`crate::Netdev::send_batch_offload`],
    /// which saves the kernel the segmentation and the switch the copies.
    /// A backend that cannot do it delivers complete frames
    /// ([`Offload::NONE`]), which is always correct.
    pub offload: bool,
    /// How many bytes of frames may wait in the queue before new ones are
    /// dropped (counted in [`RxQueue::dropped`]): the receive ring or
    /// socket buffer the kernel reserves for this queue. `None`: the
    /// class's default (on Linux 32 MiB of ring, 16384 frames, chosen to
    /// lose nothing while the reader is preempted; a switch with many
    /// ports may want less memory per port, and accept more loss in
    /// bursts).
    pub buffer_bytes: Option<usize>,
}

impl RxQueueOptions {
    /// The defaults: complete frames.
    pub fn new() -> RxQueueOptions {
        RxQueueOptions::default()
    }

    /// These options with [`RxQueueOptions::offload`] set to `on`.
    pub fn with_offload(mut self, on: bool) -> RxQueueOptions {
        self.offload = on;
        self
    }

    /// These options with [`RxQueueOptions::buffer_bytes`] set.
    pub fn with_buffer_bytes(mut self, bytes: Option<usize>) -> RxQueueOptions {
        self.buffer_bytes = bytes;
        self
    }
}

/// The backend half of a receive queue, owned by one [`RxQueue`].
pub trait RxQueueBackend: Send + 'static {
    /// Appends the frames available now to `batch` (which the caller has
    /// cleared), up to its capacity, without blocking. Returns how many were
    /// added; 0 means none was waiting.
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize>;

    /// Blocks until a frame is waiting or `timeout` passes (`None`: no
    /// limit). True if a frame is waiting.
    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool>;

    /// Discards every frame waiting.
    fn drain(&mut self) -> Result<()>;

    /// How many frames the queue lost since it opened because its buffer
    /// or ring was full. "Not supported" where the backend cannot tell.
    fn dropped(&mut self) -> Result<u64> {
        Err(Error::not_supported())
    }

    /// A descriptor that polls readable when a frame is waiting, for
    /// poll/epoll/mio integration.
    fn as_fd(&self) -> BorrowedFd<'_>;
}

/// A receive queue of one handle: frames that arrive on the device while
/// it is open. Keeps its device open.
pub struct RxQueue {
    backend: Box<dyn RxQueueBackend>,
    device: Arc<Device>,
}

impl RxQueue {
    pub(crate) fn new(backend: Box<dyn RxQueueBackend>, device: Arc<Device>) -> RxQueue {
        RxQueue { backend, device }
    }

    fn check(&self, op: &'static str) -> Result<()> {
        self.device.check_present(op)
    }

    fn context<T>(&self, op: &'static str, r: Result<T>) -> Result<T> {
        r.map_err(|e| self.device.error_context(e, op))
    }

    /// Receives the frames waiting now into `batch` (cleared first), up to
    /// its capacity, without blocking; returns how many. `Ok(0)` means none
    /// was waiting: use [`RxQueue::wait`] or poll the descriptor.
    pub fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        self.check("recv")?;
        batch.clear();
        let r = self.backend.recv_batch(batch);
        match r {
            Err(e) if e.kind() == &ErrorKind::WouldBlock => Ok(0),
            r => self.context("recv", r),
        }
    }

    /// Blocks until a frame is waiting or `timeout` passes; true if one is.
    /// A timeout too long to express as a deadline (`Duration::MAX`, say)
    /// waits without limit, like `None`.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.check("recv_wait")?;
        let r = self.backend.wait(bounded_timeout(timeout));
        self.context("recv_wait", r)
    }

    /// Discards every frame waiting.
    pub fn drain(&mut self) -> Result<()> {
        self.check("drain")?;
        let r = self.backend.drain();
        self.context("drain", r)
    }

    /// How many frames this queue lost since it opened because its buffer
    /// or ring was full (the receiver fell behind): drops are counted,
    /// never hidden.
    pub fn dropped(&mut self) -> Result<u64> {
        let r = self.backend.dropped();
        self.context("rx_dropped", r)
    }

    /// The name of the device this queue receives from.
    pub fn device_name(&self) -> Arc<str> {
        self.device.state.name()
    }
}

impl AsFd for RxQueue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.backend.as_fd()
    }
}

impl AsRawFd for RxQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.backend.as_fd().as_raw_fd()
    }
}

impl fmt::Debug for RxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RxQueue")
            .field("device", &self.device_name())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// Turns an error of a frame the device refuses for good into one that
/// names the frame, so the caller knows which one of a batch failed.
pub(crate) fn frame_error(e: Error, index: usize, len: usize) -> Error {
    e.with_detail(format!("frame {index} of the batch, {len} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_and_truncation() {
        let mut b = PacketBatch::new(2, 4);
        assert_eq!((b.capacity(), b.slot_size(), b.len()), (2, 4, 0));
        assert!(b.push(&[1, 2, 3]));
        assert!(b.push(&[9, 8, 7, 6, 5, 4]));
        assert!(!b.push(&[0]), "full batch refuses");
        assert!(b.is_full());
        let p0 = b.get(0).unwrap();
        assert_eq!(p0.data, &[1, 2, 3]);
        assert!(!p0.is_truncated());
        let p1 = b.get(1).unwrap();
        assert_eq!(p1.data, &[9, 8, 7, 6]);
        assert_eq!(p1.orig_len, 6);
        assert!(p1.is_truncated());
        assert_eq!(b.iter().count(), 2);
        b.clear();
        assert!(b.is_empty());
        assert!(b.get(0).is_none());
    }

    #[test]
    fn free_slots_then_commit() {
        let mut b = PacketBatch::new(3, 8);
        b.push(&[7; 8]);
        let mut n = 0;
        for (i, slot) in b.free_slots_mut().enumerate() {
            slot[0] = i as u8 + 1;
            n += 1;
        }
        assert_eq!(n, 2);
        assert!(b.commit(1, 1));
        assert!(b.commit(100, 100), "clamped to the slot size");
        assert!(!b.commit(1, 1));
        assert_eq!(b.get(1).unwrap().data, &[1]);
        let last = b.get(2).unwrap();
        assert_eq!((last.data.len(), last.orig_len), (8, 100));
        assert_eq!(last.data[0], 2);
    }

    #[test]
    fn zero_sizes_are_raised_to_one() {
        let b = PacketBatch::new(0, 0);
        assert_eq!((b.capacity(), b.slot_size()), (1, 1));
    }
}
