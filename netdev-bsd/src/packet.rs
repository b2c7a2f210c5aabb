//! FreeBSD packet paths: receive queues over pcap (`system`, and later
//! handles of a `tap`) or over the tap's own descriptor (the first handle
//! of a `tap`), and sending with `pcap_inject` or a `write` to the tap.
//!
//! pcap captures are opened non-blocking, in immediate mode
//! (`BIOCIMMEDIATE`: no waiting for a full BPF buffer), for frames coming
//! in only, and read with `pcap_dispatch` in batches: frames are copied
//! from the BPF buffer straight into the caller's [`PacketBatch`] slots.
//! Tap reads go into the slot with a spill buffer behind it (`readv`). A
//! frame cut by a slot or the snap length is reported as truncated with
//! its wire length; what is stored and reported is decided in the
//! platform-free [`crate::rx`].

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netdev_core::{Error, ErrorKind, PacketBatch, Result, RxQueueBackend};

use crate::{rx, sys};

/// Snap length: whole frames up to 64 KiB.
pub(crate) const SNAPLEN: i32 = 65535;

fn pcap_error(op: &str, name: &str, e: pcap::Error) -> Error {
    Error::new(ErrorKind::Os(libc::EIO)).with_detail(format!("{op} on {name}: {e}"))
}

/// Opens a live capture of `name`: immediate, non-blocking, inbound only.
pub(crate) fn open_capture(name: &str) -> Result<pcap::Capture<pcap::Active>> {
    let cap = pcap::Capture::from_device(name)
        .map_err(|e| pcap_error("pcap_create", name, e))?
        .snaplen(SNAPLEN)
        .promisc(false)
        .immediate_mode(true)
        .open()
        .map_err(|e| pcap_error("pcap_activate", name, e))?
        .setnonblock()
        .map_err(|e| pcap_error("pcap_setnonblock", name, e))?;
    cap.direction(pcap::Direction::In)
        .map_err(|e| pcap_error("pcap_setdirection", name, e))?;
    Ok(cap)
}

/// A receive queue over a pcap capture.
pub(crate) struct PcapRxQueue {
    cap: pcap::Capture<pcap::Active>,
    /// The device's name when the queue opened, for error messages (the
    /// capture follows the interface through renames).
    name: String,
    /// `ps_drop` when the queue opened.
    drop_base: u32,
}

impl PcapRxQueue {
    pub(crate) fn open(name: &str) -> Result<PcapRxQueue> {
        let mut cap = open_capture(name)?;
        let drop_base = cap.stats().map(|s| s.dropped).unwrap_or(0);
        Ok(PcapRxQueue {
            cap,
            name: name.to_owned(),
            drop_base,
        })
    }
}

impl RxQueueBackend for PcapRxQueue {
    /// `pcap_dispatch` for as many frames as the batch has free slots,
    /// each copied straight from the BPF buffer into its slot
    /// ([`crate::rx::store_captured`]); again while frames keep coming
    /// and slots are left (one call hands over at most one BPF buffer).
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        let start = batch.len();
        while !batch.is_full() {
            let free = batch.capacity() - batch.len();
            // The callback only copies within bounds it checks itself: it
            // cannot panic (and the crate catches a panic before it
            // crosses libpcap, breaking the loop, and resumes it here).
            let got = self.cap.dispatch(Some(free), |packet| {
                rx::store_captured(batch, packet.data, packet.header.len);
            });
            match got {
                // Non-blocking: nothing (more) is waiting.
                Ok(0) => break,
                Ok(_) => continue,
                Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => break,
                Err(e) if batch.len() > start => {
                    log::debug!("pcap_dispatch after {} frames: {e}", batch.len() - start);
                    break;
                }
                Err(e) => return Err(pcap_error("pcap_dispatch", &self.name, e)),
            }
        }
        Ok(batch.len() - start)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        Ok(sys::poll::wait(sys::borrow_fd(&self.cap), false, timeout)?)
    }

    fn drain(&mut self) -> Result<()> {
        loop {
            // All the frames of one BPF buffer per call, none copied.
            match self.cap.dispatch(None, |_| {}) {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => return Ok(()),
                Err(e) => return Err(pcap_error("pcap_dispatch", &self.name, e)),
            }
        }
    }

    fn dropped(&mut self) -> Result<u64> {
        let s = self
            .cap
            .stats()
            .map_err(|e| Error::from_errno(libc::EIO).with_detail(e.to_string()))?;
        Ok(u64::from(s.dropped.wrapping_sub(self.drop_base)))
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        sys::borrow_fd(&self.cap)
    }
}

/// A receive queue on a tap's own descriptor (its first handle); gives the
/// descriptor back when dropped, so a later first handle can take it.
pub(crate) struct TapRxQueue {
    fd: Arc<OwnedFd>,
    taken: Arc<AtomicBool>,
    /// Behind each slot in a read, so a frame the slot cuts is still
    /// measured ([`crate::rx::read_frame`]).
    spill: Vec<u8>,
}

impl TapRxQueue {
    /// The queue if the descriptor is free, else `None` (use pcap).
    pub(crate) fn take(fd: &Arc<OwnedFd>, taken: &Arc<AtomicBool>) -> Option<TapRxQueue> {
        if taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        Some(TapRxQueue {
            fd: fd.clone(),
            taken: taken.clone(),
            spill: vec![0; rx::SPILL_LEN],
        })
    }
}

impl Drop for TapRxQueue {
    fn drop(&mut self) {
        self.taken.store(false, Ordering::Release);
    }
}

impl RxQueueBackend for TapRxQueue {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        let mut n = 0;
        let fd = self.fd.as_fd();
        while let Some(slot) = batch.next_slot() {
            match rx::read_frame(slot, &mut self.spill, |bufs| sys::tap::readv(fd, bufs)) {
                Ok(r) => {
                    batch.commit(r.stored, r.wire_len);
                    n += 1;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if n > 0 => {
                    log::debug!("tap read after {n} frames: {e}");
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        Ok(sys::poll::wait(self.fd.as_fd(), false, timeout)?)
    }

    fn drain(&mut self) -> Result<()> {
        loop {
            match sys::tap::read(self.fd.as_fd(), &mut self.spill) {
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
