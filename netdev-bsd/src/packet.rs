//! FreeBSD packet paths: receive queues over pcap (`system`, and later
//! handles of a `tap`) or over the tap's own descriptor (the first handle
//! of a `tap`), and sending with `pcap_inject` or a `write` to the tap.
//!
//! pcap captures are opened non-blocking, in immediate mode
//! (`BIOCIMMEDIATE`: no waiting for a full BPF buffer), for frames coming
//! in only. Frames are copied straight into the caller's
//! [`PacketBatch`] slots; a frame cut by a slot or the snap length is
//! reported as truncated with its wire length.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netdev_core::{Error, ErrorKind, PacketBatch, Result, RxQueueBackend};

use crate::sys;

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
    /// `ps_drop` when the queue opened.
    drop_base: u32,
}

impl PcapRxQueue {
    pub(crate) fn open(name: &str) -> Result<PcapRxQueue> {
        let mut cap = open_capture(name)?;
        let drop_base = cap.stats().map(|s| s.dropped).unwrap_or(0);
        Ok(PcapRxQueue { cap, drop_base })
    }
}

impl RxQueueBackend for PcapRxQueue {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        let mut n = 0;
        while !batch.is_full() {
            let packet = match self.cap.next_packet() {
                Ok(p) => p,
                // Non-blocking: nothing (more) is waiting.
                Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => break,
                Err(e) if n > 0 => {
                    log::debug!("pcap read after {n} frames: {e}");
                    break;
                }
                Err(e) => return Err(Error::from_errno(libc::EIO).with_detail(e.to_string())),
            };
            let Some(slot) = batch.next_slot() else { break };
            let k = packet.data.len().min(slot.len());
            slot[..k].copy_from_slice(&packet.data[..k]);
            batch.commit(k, packet.header.len as usize);
            n += 1;
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        Ok(sys::poll::wait(sys::borrow_fd(&self.cap), false, timeout)?)
    }

    fn drain(&mut self) -> Result<()> {
        loop {
            match self.cap.next_packet() {
                Ok(_) => continue,
                Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => return Ok(()),
                Err(e) => return Err(Error::from_errno(libc::EIO).with_detail(e.to_string())),
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
        while let Some(slot) = batch.next_slot() {
            match sys::tap::read(self.fd.as_fd(), slot) {
                Ok(len) => {
                    batch.commit(len, len);
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
        let mut buf = vec![0u8; 65536];
        loop {
            match sys::tap::read(self.fd.as_fd(), &mut buf) {
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
