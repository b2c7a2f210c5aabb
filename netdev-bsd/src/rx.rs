//! The receive decisions of the FreeBSD packet paths, platform-free: how
//! a frame that pcap captured or a tap `read` returned lands in the
//! caller's [`PacketBatch`], and when it is reported as truncated.
//!
//! The FreeBSD code (`packet`, `sys`) only moves bytes; what is stored and
//! what wire length is reported is decided here and unit-tested on every
//! OS.
//!
//! - pcap hands each frame over with `caplen` (bytes captured, at most the
//!   snap length) and `len` (bytes on the wire): [`store_captured`] copies
//!   what fits the slot and records the larger of the two lengths.
//! - A tap `read` moves one frame and silently drops whatever does not fit
//!   the buffer (`tunread` frees the rest of the mbuf chain). Reading with
//!   `readv` into the slot and a spill buffer behind it
//!   ([`read_frame`]) costs nothing when the frame fits (no extra copy, no
//!   extra system call) and tells the frame's real length when it does
//!   not.

use std::io::{self, IoSliceMut};

use netdev_core::PacketBatch;

/// Size of the spill buffer behind a tap read: larger than any frame a
/// tap hands out (its MRU is 65535 bytes plus a virtio-net header), so a
/// frame cut by its slot is still measured to its end.
pub const SPILL_LEN: usize = 65536 + 64;

/// Copies a captured frame into the batch's next free slot. `data` is
/// what was captured (`caplen` bytes), `wire_len` the frame's length on
/// the wire (`pcap_pkthdr.len`); the frame is recorded as truncated when
/// the slot or the snap length cut it. Returns false, storing nothing, if
/// the batch is full.
pub fn store_captured(batch: &mut PacketBatch, data: &[u8], wire_len: u32) -> bool {
    let Some(slot) = batch.next_slot() else {
        return false;
    };
    let n = data.len().min(slot.len());
    slot[..n].copy_from_slice(&data[..n]);
    // A header claiming fewer bytes on the wire than were captured is
    // wrong; the capture is the better lower bound.
    let wire = usize::try_from(wire_len).unwrap_or(usize::MAX);
    batch.commit(n, wire.max(data.len()))
}

/// What one tap read put where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRead {
    /// Bytes now in the slot.
    pub stored: usize,
    /// The frame's length: larger than `stored` when the slot cut it.
    pub wire_len: usize,
}

/// Reads one frame with `readv` into `slot` then `spill`, and reports how
/// much of it the slot holds and how long it was. `readv` is the caller's
/// vectored read (the tap descriptor's, on FreeBSD); its errors pass
/// through. A frame that fills both buffers is reported with the length
/// read, a lower bound (it cannot happen with [`SPILL_LEN`] behind any
/// slot).
pub fn read_frame<F>(slot: &mut [u8], spill: &mut [u8], readv: F) -> io::Result<FrameRead>
where
    F: FnOnce(&mut [IoSliceMut<'_>]) -> io::Result<usize>,
{
    let slot_len = slot.len();
    let total = slot_len + spill.len();
    let mut bufs = [IoSliceMut::new(slot), IoSliceMut::new(spill)];
    let n = readv(&mut bufs)?;
    if n > total {
        // A vectored read cannot return more than it was given; a reader
        // that does is broken, and its count means nothing.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("read returned {n} bytes into {total} bytes of buffers"),
        ));
    }
    Ok(FrameRead {
        stored: n.min(slot_len),
        wire_len: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn frame(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn captured_frames_that_fit_are_whole() {
        let mut batch = PacketBatch::new(2, 64);
        let f = frame(60);
        assert!(store_captured(&mut batch, &f, 60));
        let p = batch.get(0).unwrap();
        assert_eq!(p.data, &f[..]);
        assert_eq!(p.orig_len, 60);
        assert!(!p.is_truncated());
    }

    #[test]
    fn a_small_slot_cuts_and_reports_the_wire_length() {
        let mut batch = PacketBatch::new(1, 16);
        let f = frame(100);
        assert!(store_captured(&mut batch, &f, 100));
        let p = batch.get(0).unwrap();
        assert_eq!(p.data, &f[..16]);
        assert_eq!(p.orig_len, 100);
        assert!(p.is_truncated());
    }

    #[test]
    fn the_snap_length_cut_is_reported_too() {
        // pcap captured 64 bytes of a 1514-byte frame: the slot has room,
        // the frame is still incomplete.
        let mut batch = PacketBatch::new(1, 2048);
        let f = frame(64);
        assert!(store_captured(&mut batch, &f, 1514));
        let p = batch.get(0).unwrap();
        assert_eq!((p.data.len(), p.orig_len), (64, 1514));
        assert!(p.is_truncated());
    }

    #[test]
    fn a_wire_length_below_the_capture_is_not_believed() {
        let mut batch = PacketBatch::new(1, 2048);
        assert!(store_captured(&mut batch, &frame(80), 10));
        assert_eq!(batch.get(0).unwrap().orig_len, 80);
    }

    #[test]
    fn a_full_batch_takes_nothing() {
        let mut batch = PacketBatch::new(1, 64);
        assert!(store_captured(&mut batch, &frame(10), 10));
        assert!(!store_captured(&mut batch, &frame(20), 20));
        assert_eq!(batch.len(), 1);
        assert_eq!(batch.get(0).unwrap().data.len(), 10);
    }

    /// Reads `frame` the way `tunread` does: one frame per read, copied
    /// across the buffers in order, the rest dropped. `&[u8]`'s vectored
    /// read fills buffers in order exactly so.
    fn tap_read(frame: &[u8], slot: &mut [u8], spill: &mut [u8]) -> io::Result<FrameRead> {
        let mut src = frame;
        read_frame(slot, spill, |bufs| src.read_vectored(bufs))
    }

    #[test]
    fn a_tap_frame_that_fits_stays_in_the_slot() {
        let f = frame(1514);
        let mut slot = vec![0u8; 2048];
        let mut spill = vec![0u8; SPILL_LEN];
        let r = tap_read(&f, &mut slot, &mut spill).unwrap();
        assert_eq!(
            r,
            FrameRead {
                stored: 1514,
                wire_len: 1514
            }
        );
        assert_eq!(&slot[..1514], &f[..]);
        assert!(spill.iter().all(|&b| b == 0), "nothing spilled");
    }

    #[test]
    fn a_tap_frame_longer_than_its_slot_is_measured() {
        let f = frame(9000);
        let mut slot = vec![0u8; 2048];
        let mut spill = vec![0u8; SPILL_LEN];
        let r = tap_read(&f, &mut slot, &mut spill).unwrap();
        assert_eq!(
            r,
            FrameRead {
                stored: 2048,
                wire_len: 9000
            }
        );
        assert_eq!(&slot[..], &f[..2048]);
        // Into a batch, as the queue does it: cut, and said so.
        let mut batch = PacketBatch::new(1, 2048);
        batch.next_slot().unwrap().copy_from_slice(&slot);
        batch.commit(r.stored, r.wire_len);
        let p = batch.get(0).unwrap();
        assert!(p.is_truncated());
        assert_eq!(p.orig_len, 9000);
    }

    #[test]
    fn a_frame_exactly_the_slot_size_is_not_truncated() {
        let f = frame(2048);
        let mut slot = vec![0u8; 2048];
        let mut spill = vec![0u8; SPILL_LEN];
        let r = tap_read(&f, &mut slot, &mut spill).unwrap();
        assert_eq!((r.stored, r.wire_len), (2048, 2048));
    }

    #[test]
    fn read_errors_pass_through_and_a_lying_reader_is_an_error() {
        let mut slot = [0u8; 8];
        let mut spill = [0u8; 8];
        let e = read_frame(&mut slot, &mut spill, |_| {
            Err(io::Error::from(io::ErrorKind::WouldBlock))
        })
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let e = read_frame(&mut slot, &mut spill, |_| Ok(17)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
