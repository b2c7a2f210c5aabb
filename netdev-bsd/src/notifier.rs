//! The `PF_ROUTE` change source, platform-free: [`RouteSource`] turns raw
//! routing messages into core [`Change`] events, whatever reads them. The
//! FreeBSD `sys` layer supplies a [`RouteReader`] over a real routing
//! socket; tests supply scripted bytes.
//!
//! Lost notifications are never dropped silently: `ENOBUFS` from the
//! reader (the socket overflowed) and a message that cannot be decoded
//! both become [`Change::Overflow`], so the core drops its caches and
//! checks every device again.
//!
//! A departure is not always a removal: FreeBSD announces a rename
//! (`ifconfig em0 name lan0`) as the departure of the old name and the
//! arrival of the new one, same index, and an interface destroyed while
//! the reader lagged may already have handed its index to a new one. So a
//! departure whose index the kernel still knows
//! ([`RouteReader::index_exists`]) becomes [`Change::Overflow`]: every
//! device is checked again by index (the `system` class compares the
//! driver instance and attach time, see [`crate::track`]), which keeps a
//! renamed device and drops a replaced one; the arrival that follows
//! carries the new name. A departure whose index is free is a removal
//! (`if_detach` unlinks the interface before announcing it, so the check
//! cannot see a dying interface as alive).
//!
//! Unlike Linux (see `netdev-linux`'s notifier), nothing queued is thrown
//! away after an overflow: FreeBSD's `soreceive` delivers the data queued
//! before the overflow first and reports the error (`so_error`) only once
//! the buffer is empty, so events arrive in order and the resync comes
//! after everything older.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use netdev_core::ratelimit::RateLimit;
use netdev_core::{Change, ChangeSource, ChangeSourceSpec, Waker};

use crate::wire::route;

/// The key under which classes fed by the routing socket share one
/// notifier.
pub const ROUTE_KEY: &str = "pf_route";

/// Receive buffer for one read. A routing message is at most a header and
/// `RTAX_MAX` sockaddrs (a few hundred bytes); a longer datagram would be
/// truncated by the socket and then fail to decode (an overflow, not a
/// misread).
pub const READ_BUF_LEN: usize = 8192;

/// What [`RouteSource`] reads raw routing messages from.
pub trait RouteReader: Send + 'static {
    /// Waits until a datagram is available, the [`RouteReader::waker`] was
    /// called, or `timeout` passed (`None`: no limit), and reads one into
    /// `buf`: `Ok(Some(len))`, or `Ok(None)` when woken or timed out.
    /// `ENOBUFS` (lost messages) is returned as an error with that errno.
    fn read(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Option<usize>>;

    /// A handle that interrupts a blocked [`RouteReader::read`].
    fn waker(&self) -> Waker;

    /// A descriptor that polls readable when [`RouteReader::try_read`]
    /// would find a datagram (see [`ChangeSource::ready_fd`]). `None` (the
    /// default): only blocking reads are used.
    fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Reads one datagram if one is queued, without blocking; `Ok(None)`
    /// if none is. Called only on readers that have a
    /// [`RouteReader::ready_fd`].
    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let _ = buf;
        Ok(None)
    }

    /// Whether an interface has index `ifindex` now, asked for each
    /// announced departure: `Some(true)` turns the departure into a
    /// resynchronisation (a rename, or the index already reused),
    /// `Some(false)` keeps it a removal. `None` (the default): the reader
    /// cannot tell, and the departure is taken as a removal.
    fn index_exists(&mut self, ifindex: u32) -> io::Result<Option<bool>> {
        let _ = ifindex;
        Ok(None)
    }
}

/// Routing messages as core [`Change`] events.
#[derive(Debug)]
pub struct RouteSource<R> {
    reader: R,
    buf: Vec<u8>,
    malformed: RateLimit,
    probe_failed: RateLimit,
}

impl<R: RouteReader> RouteSource<R> {
    /// A source reading from `reader`.
    pub fn new(reader: R) -> RouteSource<R> {
        RouteSource {
            reader,
            buf: vec![0; READ_BUF_LEN],
            malformed: RateLimit::new(5, Duration::from_secs(60)),
            probe_failed: RateLimit::new(5, Duration::from_secs(60)),
        }
    }

    /// A spec (key [`ROUTE_KEY`]) whose `open` calls `open_reader`.
    pub fn spec<F>(open_reader: F) -> ChangeSourceSpec
    where
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        ChangeSourceSpec {
            key: ROUTE_KEY,
            open: Arc::new(move || {
                Ok(Box::new(RouteSource::new(open_reader()?)) as Box<dyn ChangeSource>)
            }),
        }
    }

    /// The reader.
    pub fn reader_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// Applies the result of one read: the events of the datagram, or an
    /// overflow for `ENOBUFS`. Returns whether anything was read.
    fn take(&mut self, read: io::Result<Option<usize>>, out: &mut Vec<Change>) -> io::Result<bool> {
        let len = match read {
            Ok(Some(len)) => len.min(self.buf.len()),
            Ok(None) => return Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                out.push(Change::Overflow);
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        let first = out.len();
        let decoded = route::changes(&self.buf[..len], out);
        self.settle_departures(&mut out[first..]);
        if let Err(e) = decoded {
            if let Some(n) = self.malformed.allow() {
                log::warn!(
                    "malformed routing message, resynchronising: {e}{}",
                    RateLimit::suffix(n)
                );
            }
            // We cannot know what it said: assume anything changed.
            out.push(Change::Overflow);
        }
        Ok(true)
    }
}

impl<R: RouteReader> RouteSource<R> {
    /// Turns each departure whose index is still (or already again) in use
    /// into an overflow; see the module documentation.
    fn settle_departures(&mut self, events: &mut [Change]) {
        for ev in events {
            let Change::LinkRemoved { ifindex, name } = ev else {
                continue;
            };
            match self.reader.index_exists(*ifindex) {
                Ok(Some(true)) => {
                    log::debug!(
                        "{}: departure with index {ifindex} still in use (a rename?), \
                         checking every device",
                        netdev_core::Escaped(name)
                    );
                    *ev = Change::Overflow;
                }
                Ok(_) => {}
                Err(e) => {
                    if let Some(n) = self.probe_failed.allow() {
                        log::warn!(
                            "cannot tell whether index {ifindex} still exists ({e}), \
                             resynchronising{}",
                            RateLimit::suffix(n)
                        );
                    }
                    *ev = Change::Overflow;
                }
            }
        }
    }
}

impl<R: RouteReader> ChangeSource for RouteSource<R> {
    /// Reads datagrams until one yields an event (routes and other
    /// messages we do not track yield none), or the wait ends.
    fn read_changes(&mut self, out: &mut Vec<Change>, timeout: Option<Duration>) -> io::Result<()> {
        loop {
            let before = out.len();
            let read = self.reader.read(&mut self.buf, timeout);
            if !self.take(read, out)? || out.len() > before {
                return Ok(());
            }
        }
    }

    fn waker(&self) -> Waker {
        self.reader.waker()
    }

    fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        self.reader.ready_fd()
    }

    fn try_read_changes(&mut self, out: &mut Vec<Change>) -> io::Result<()> {
        let read = self.reader.try_read(&mut self.buf);
        self.take(read, out).map(drop)
    }
}
