//! Receive ring system calls: switch a packet socket to `TPACKET_V2` or
//! `TPACKET_V3`, ask the kernel for a ring (`PACKET_RX_RING`), map it,
//! and hand its slots back and forth.
//!
//! Layer 2 of the Linux backend. [`RxRing`] owns the mapping (unmapped on
//! drop) and is the only code that touches ring memory through pointers.
//! A ring is a row of equal slots, each with a status word the kernel and
//! user space pass ownership through: a block of frames in `TPACKET_V3`
//! (`hdr.bh1.block_status`), one frame in `TPACKET_V2`
//! (`tpacket2_hdr.tp_status`). It lends a slot out as a byte slice only
//! while the slot belongs to user space (`TP_STATUS_USER`, read with
//! acquire ordering) and returns it to the kernel with a release store.
//! What the bytes of a slot mean is decided above, in
//! `crate::packet_ring` and `crate::packet_ring_v2`, with bounds-checked
//! safe code.

use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, Ordering};

/// Offset of `hdr.bh1.block_status` in `struct tpacket_block_desc` (the
/// union's fields all start at its beginning).
const BLOCK_STATUS_OFFSET: usize =
    offset_of!(libc::tpacket_block_desc, hdr) + offset_of!(libc::tpacket_hdr_v1, block_status);
const _: () = assert!(BLOCK_STATUS_OFFSET % 4 == 0);
/// Offset of `tp_status` in `struct tpacket2_hdr`.
const FRAME_STATUS_OFFSET: usize = offset_of!(libc::tpacket2_hdr, tp_status);
const _: () = assert!(FRAME_STATUS_OFFSET % 4 == 0);

/// The shape of a ring, as `struct tpacket_req3` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RingGeometry {
    /// Bytes per block: a multiple of the page size.
    pub(crate) block_size: u32,
    /// Number of blocks.
    pub(crate) block_nr: u32,
    /// Nominal frame size (frames are packed at their real size in
    /// `TPACKET_V3`; the kernel only checks `frame_nr` against it).
    pub(crate) frame_size: u32,
    /// Milliseconds after which the kernel hands a block that holds frames
    /// to user space even if it is not full.
    pub(crate) retire_blk_tov_ms: u32,
}

/// The system's page size: ring blocks are made of whole pages.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf takes no pointers and only reads a constant.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Sets an integer option of level `SOL_PACKET`.
fn set_packet_opt(fd: BorrowedFd<'_>, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // `value` lives across the call and its size is passed.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        libc::SOL_PACKET,
        name,
        &value as *const libc::c_int as *const libc::c_void,
        size_of::<libc::c_int>() as libc::socklen_t
    ))?;
    Ok(())
}

/// Switches the socket to `TPACKET_V3` (`PACKET_VERSION`). Must come before
/// [`set_rx_ring`].
pub(crate) fn set_version_v3(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_packet_opt(
        fd,
        libc::PACKET_VERSION,
        libc::tpacket_versions::TPACKET_V3 as libc::c_int,
    )
}

/// Switches the socket to `TPACKET_V2` (`PACKET_VERSION`). Must come before
/// [`set_rx_ring_v2`].
pub(crate) fn set_version_v2(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_packet_opt(
        fd,
        libc::PACKET_VERSION,
        libc::tpacket_versions::TPACKET_V2 as libc::c_int,
    )
}

/// Asks the kernel for a `TPACKET_V2` receive ring (`PACKET_RX_RING` with a
/// `struct tpacket_req`) of `frame_nr` frames of `frame_size` bytes, in
/// blocks of `block_size` bytes (a multiple of both the page size and
/// `frame_size`, so frame `i` lies at `i * frame_size` of the mapping).
pub(crate) fn set_rx_ring_v2(
    fd: BorrowedFd<'_>,
    block_size: u32,
    frame_size: u32,
    frame_nr: u32,
) -> io::Result<()> {
    let per_block = block_size / frame_size.max(1);
    if per_block == 0 || block_size % frame_size != 0 || frame_nr % per_block != 0 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let req = libc::tpacket_req {
        tp_block_size: block_size,
        tp_block_nr: frame_nr / per_block,
        tp_frame_size: frame_size,
        tp_frame_nr: frame_nr,
    };
    // `req` lives across the call and its size is passed.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        libc::SOL_PACKET,
        libc::PACKET_RX_RING,
        &req as *const libc::tpacket_req as *const libc::c_void,
        size_of::<libc::tpacket_req>() as libc::socklen_t
    ))?;
    Ok(())
}

/// Asks the kernel for a receive ring of `geometry` (`PACKET_RX_RING` with
/// a `struct tpacket_req3`).
pub(crate) fn set_rx_ring(fd: BorrowedFd<'_>, geometry: &RingGeometry) -> io::Result<()> {
    let frames_per_block = geometry.block_size / geometry.frame_size.max(1);
    let req = libc::tpacket_req3 {
        tp_block_size: geometry.block_size,
        tp_block_nr: geometry.block_nr,
        tp_frame_size: geometry.frame_size,
        tp_frame_nr: frames_per_block.saturating_mul(geometry.block_nr),
        tp_retire_blk_tov: geometry.retire_blk_tov_ms,
        tp_sizeof_priv: 0,
        tp_feature_req_word: 0,
    };
    // `req` lives across the call and its size is passed.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        libc::SOL_PACKET,
        libc::PACKET_RX_RING,
        &req as *const libc::tpacket_req3 as *const libc::c_void,
        size_of::<libc::tpacket_req3>() as libc::socklen_t
    ))?;
    Ok(())
}

/// A mapped receive ring: `block_nr` slots of `block_size` bytes (blocks
/// of a `TPACKET_V3` ring, frames of a `TPACKET_V2` one), shared with the
/// kernel. Unmapped on drop.
pub(crate) struct RxRing {
    base: NonNull<u8>,
    block_size: usize,
    block_nr: usize,
    /// Where a slot's status word lies in it.
    status_offset: usize,
}

// SAFETY: the mapping belongs to this value alone (nothing else holds its
// address) and is reached only through `&self`/`&mut self`, so moving the
// value to another thread moves all access with it.
unsafe impl Send for RxRing {}

impl std::fmt::Debug for RxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxRing")
            .field("block_size", &self.block_size)
            .field("block_nr", &self.block_nr)
            .finish()
    }
}

impl RxRing {
    /// Maps the ring the socket got from [`set_rx_ring`] with `geometry`.
    pub(crate) fn map(fd: BorrowedFd<'_>, geometry: &RingGeometry) -> io::Result<RxRing> {
        RxRing::map_slots(
            fd,
            geometry.block_size as usize,
            geometry.block_nr as usize,
            BLOCK_STATUS_OFFSET,
        )
    }

    /// Maps the `TPACKET_V2` ring the socket got from [`set_rx_ring_v2`]:
    /// one slot per frame.
    pub(crate) fn map_v2(
        fd: BorrowedFd<'_>,
        frame_size: usize,
        frame_nr: usize,
    ) -> io::Result<RxRing> {
        if frame_size % 16 != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        RxRing::map_slots(fd, frame_size, frame_nr, FRAME_STATUS_OFFSET)
    }

    /// Maps `block_nr` slots of `block_size` bytes whose status words lie
    /// at `status_offset` (a multiple of 4, as is `block_size`: every word
    /// stays aligned in the page-aligned mapping).
    fn map_slots(
        fd: BorrowedFd<'_>,
        block_size: usize,
        block_nr: usize,
        status_offset: usize,
    ) -> io::Result<RxRing> {
        if block_size % 4 != 0 || status_offset % 4 != 0 || status_offset + 4 > block_size {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let len = block_size
            .checked_mul(block_nr)
            .filter(|&l| l > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh shared mapping chosen by the kernel (null hint),
        // overlapping nothing of ours; the result is checked below.
        let addr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(addr.cast::<u8>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        Ok(RxRing {
            base,
            block_size,
            block_nr,
            status_offset,
        })
    }

    /// Number of blocks.
    pub(crate) fn block_nr(&self) -> usize {
        self.block_nr
    }

    /// Bytes per block.
    pub(crate) fn block_size(&self) -> usize {
        self.block_size
    }

    /// The status word of block `i` (below [`RxRing::block_nr`]).
    fn status_word(&self, i: usize) -> &AtomicU32 {
        assert!(i < self.block_nr, "block {i} of {}", self.block_nr);
        // The mapping is page aligned and `block_size` and `status_offset`
        // multiples of 4 (checked in `map_slots`), so the word is aligned;
        // `i < block_nr` and `status_offset + 4 <= block_size` put it inside
        // the mapping; the kernel and this type only access it atomically.
        // SAFETY: in bounds and aligned (above), only accessed atomically.
        unsafe {
            &*self
                .base
                .as_ptr()
                .add(i * self.block_size + self.status_offset)
                .cast::<AtomicU32>()
        }
    }

    /// Block `i` as bytes if it belongs to user space (`TP_STATUS_USER`,
    /// read with acquire ordering so the kernel's writes to it are seen),
    /// `None` while the kernel owns it.
    pub(crate) fn user_block(&self, i: usize) -> Option<&[u8]> {
        if self.status_word(i).load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            return None;
        }
        // The kernel does not write to a user block until `release_block`,
        // which takes `&mut self` and so cannot run while this borrow lives.
        // SAFETY: in bounds (checked by `status_word`); the block is not
        // written by anyone while borrowed (above).
        Some(unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().add(i * self.block_size), self.block_size)
        })
    }

    /// The 32-bit word at `offset` in block `i`, read atomically whoever
    /// owns the block; `None` if it does not lie in the block or is not
    /// aligned. For a word of a block the kernel owns but no longer
    /// writes (a `TPACKET_V3` ring's open block once no frame can reach
    /// it).
    pub(crate) fn load_word(&self, i: usize, offset: usize) -> Option<u32> {
        if i >= self.block_nr || offset % 4 != 0 || offset.checked_add(4)? > self.block_size {
            return None;
        }
        // The mapping is page aligned and `block_size` a multiple of 4, so
        // the word is aligned; it lies inside the mapping (checked above);
        // it is only read, atomically, while the kernel may write it.
        // SAFETY: in bounds and aligned (above), accessed atomically.
        let word = unsafe {
            &*self
                .base
                .as_ptr()
                .add(i * self.block_size + offset)
                .cast::<AtomicU32>()
        };
        Some(word.load(Ordering::Acquire))
    }

    /// True if block `i` belongs to user space.
    pub(crate) fn is_user(&self, i: usize) -> bool {
        self.status_word(i).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Hands block `i` back to the kernel (`TP_STATUS_KERNEL`, a release
    /// store: every read of the block happens before the kernel refills
    /// it).
    pub(crate) fn release_block(&mut self, i: usize) {
        self.status_word(i)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        let len = self.block_size * self.block_nr;
        // SAFETY: `base`/`len` are exactly the mapping made in `map`, and no
        // borrow of it can outlive `self`.
        let r = unsafe { libc::munmap(self.base.as_ptr().cast(), len) };
        debug_assert_eq!(r, 0, "munmap: {}", io::Error::last_os_error());
    }
}
