//! A dummy receive queue: frames in memory, plus a socket pair whose read
//! end is readable exactly while frames are waiting, so callers can poll,
//! epoll or mio-register the queue like a real one.

use std::collections::VecDeque;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netdev_core::{PacketBatch, Result, RxQueueBackend};
use parking_lot::{Condvar, Mutex};

/// Default number of frames a queue holds before it drops (like a socket's
/// receive buffer filling up).
pub const DEFAULT_RX_LIMIT: usize = 4096;

/// Buffers kept for reuse, so steady-state traffic allocates nothing.
const SPARE_LIMIT: usize = 256;

#[derive(Debug)]
struct Queue {
    frames: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    limit: usize,
    /// True while a byte sits in the socket pair.
    signaled: bool,
}

/// The part of a queue the device delivers into.
#[derive(Debug)]
pub(crate) struct RxShared {
    queue: Mutex<Queue>,
    cond: Condvar,
    signal_tx: UnixStream,
    signal_rx: UnixStream,
}

impl RxShared {
    pub(crate) fn new(limit: usize) -> io::Result<Arc<RxShared>> {
        let (signal_tx, signal_rx) = UnixStream::pair()?;
        signal_tx.set_nonblocking(true)?;
        signal_rx.set_nonblocking(true)?;
        Ok(Arc::new(RxShared {
            queue: Mutex::new(Queue {
                frames: VecDeque::new(),
                spare: Vec::new(),
                limit: limit.max(1),
                signaled: false,
            }),
            cond: Condvar::new(),
            signal_tx,
            signal_rx,
        }))
    }

    /// Queues a copy of `frame`; false if the queue was full (dropped).
    pub(crate) fn deliver(&self, frame: &[u8]) -> bool {
        let mut q = self.queue.lock();
        if q.frames.len() >= q.limit {
            return false;
        }
        let mut buf = q.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(frame);
        q.frames.push_back(buf);
        if !q.signaled {
            // One byte in a fresh socket pair always fits; a failure would
            // only make the fd not poll readable, so say so.
            if let Err(e) = (&self.signal_tx).write_all(&[1]) {
                log::warn!("dummy rx queue: cannot signal readiness: {e}");
            }
            q.signaled = true;
        }
        drop(q);
        self.cond.notify_all();
        true
    }

    fn unsignal(&self, q: &mut Queue) {
        if q.signaled && q.frames.is_empty() {
            let mut byte = [0u8; 1];
            match (&self.signal_rx).read_exact(&mut byte) {
                Ok(()) => q.signaled = false,
                Err(e) => log::warn!("dummy rx queue: cannot clear readiness: {e}"),
            }
        }
    }
}

/// The backend half of a dummy rx queue.
#[derive(Debug)]
pub(crate) struct DummyRxq {
    pub(crate) shared: Arc<RxShared>,
}

impl RxQueueBackend for DummyRxq {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        let shared = &*self.shared;
        let mut q = shared.queue.lock();
        let mut n = 0;
        while !batch.is_full() {
            let Some(frame) = q.frames.pop_front() else {
                break;
            };
            batch.push(&frame);
            if q.spare.len() < SPARE_LIMIT {
                q.spare.push(frame);
            }
            n += 1;
        }
        shared.unsignal(&mut q);
        Ok(n)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut q = self.shared.queue.lock();
        while q.frames.is_empty() {
            match deadline {
                Some(d) => {
                    if self.shared.cond.wait_until(&mut q, d).timed_out() {
                        return Ok(!q.frames.is_empty());
                    }
                }
                None => self.shared.cond.wait(&mut q),
            }
        }
        Ok(true)
    }

    fn drain(&mut self) -> Result<()> {
        let mut q = self.shared.queue.lock();
        while let Some(frame) = q.frames.pop_front() {
            if q.spare.len() < SPARE_LIMIT {
                q.spare.push(frame);
            }
        }
        self.shared.unsignal(&mut q);
        Ok(())
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.signal_rx.as_fd()
    }
}
