//! The rtnetlink change source: a Netlink socket joined to the link and
//! address groups, read by the core's notifier thread (see
//! `netdev_core::notifier`). Lost notifications (`ENOBUFS`) and malformed
//! ones are reported as [`Change::Overflow`] so caches resynchronise; none
//! is dropped silently.

use std::cell::RefCell;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use netdev_core::ratelimit::RateLimit;
use netdev_core::{Change, ChangeSource, ChangeSourceSpec, Waker};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::netlink::{is_overflow, MsgIter, Socket, NETLINK_ROUTE};
use crate::rtnl::{
    change_from_msg, lone_link_change, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_LINK,
};

/// The key under which rtnetlink-fed classes share one notifier.
pub const RTNL_KEY: &str = "rtnetlink";

/// The largest notification a reader takes: as much as the socket's own
/// buffer (a link with many virtual functions makes messages of tens of
/// KiB); a longer one is reported truncated.
const RECV_BUF_BYTES: usize = 96 * 1024;

thread_local! {
    /// Each reading thread's receive buffer (see `RtnlSource::read_one`),
    /// allocated on its first read.
    static RECV_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// rtnetlink notifications as core [`Change`] events.
#[derive(Debug)]
pub struct RtnlSource {
    sock: Socket,
    wake_rx: UnixStream,
    wake_tx: Arc<UnixStream>,
    malformed: RateLimit,
}

impl RtnlSource {
    /// Opens a socket in the calling thread's network namespace, joined to
    /// the link, IPv4-address and IPv6-address groups.
    pub fn open() -> io::Result<RtnlSource> {
        let sock = Socket::new(NETLINK_ROUTE)?;
        for group in [RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR] {
            sock.join_group(group)?;
        }
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(RtnlSource {
            sock,
            wake_rx,
            wake_tx: Arc::new(wake_tx),
            malformed: RateLimit::new(5, Duration::from_secs(60)),
        })
    }

    /// Like [`RtnlSource::open`], with the socket's receive buffer set to
    /// `rcvbuf` bytes when given (see [`RtnlSource::spec_with_rcvbuf`]).
    pub fn open_with_rcvbuf(rcvbuf: Option<usize>) -> io::Result<RtnlSource> {
        let mut source = RtnlSource::open()?;
        if let Some(bytes) = rcvbuf {
            source.sock.set_rcvbuf(bytes)?;
        }
        Ok(source)
    }

    /// A spec opening the source in the calling thread's namespace. The
    /// `system` class opens its own in the namespace of its sockets.
    pub fn spec() -> ChangeSourceSpec {
        RtnlSource::spec_with_rcvbuf(None)
    }

    /// Like [`RtnlSource::spec`], with the socket's receive buffer set to
    /// `rcvbuf` bytes instead of the default 1 MiB (smaller loses events
    /// sooner, larger absorbs longer bursts).
    pub fn spec_with_rcvbuf(rcvbuf: Option<usize>) -> ChangeSourceSpec {
        ChangeSourceSpec {
            key: RTNL_KEY,
            open: Arc::new(move || {
                Ok(Box::new(RtnlSource::open_with_rcvbuf(rcvbuf)?) as Box<dyn ChangeSource>)
            }),
        }
    }

    /// The underlying socket (to shrink its buffer in tests, say).
    pub fn socket_mut(&mut self) -> &mut Socket {
        &mut self.sock
    }

    /// Reads one datagram if one is waiting, without blocking, into `out`;
    /// false if none was.
    ///
    /// Into the reading thread's own buffer: the notifier thread and
    /// callers of `Registry::wait_for_change` take turns at the socket, and
    /// a shared buffer last written on another CPU makes the kernel's copy
    /// into it, and the decode after, miss the cache line by line. A
    /// waiting caller pays that: measured with `bench_system
    /// --only-change`, the decode of a link notification took 0.8-1.1 µs
    /// from a shared buffer and 0.4-0.5 µs from the caller's own.
    #[inline]
    fn read_one(&mut self, out: &mut Vec<Change>) -> io::Result<bool> {
        RECV_BUF.with_borrow_mut(|buf| {
            if buf.is_empty() {
                buf.resize(RECV_BUF_BYTES, 0);
            }
            self.read_one_into(buf, out)
        })
    }

    #[inline]
    fn read_one_into(&mut self, buf: &mut [u8], out: &mut Vec<Change>) -> io::Result<bool> {
        let data = match self.sock.recv_into(buf, false) {
            Ok(d) => d,
            Err(e) => return self.recv_failed(e, out),
        };
        // The usual datagram first, on a path of its own: see
        // `lone_link_change`.
        match lone_link_change(data) {
            Some(change) => out.push(change),
            None => self.decode(data, out),
        }
        Ok(true)
    }

    /// A receive that gave no datagram: false if nothing was waiting.
    #[cold]
    #[inline(never)]
    fn recv_failed(&mut self, e: io::Error, out: &mut Vec<Change>) -> io::Result<bool> {
        if e.kind() == io::ErrorKind::WouldBlock {
            return Ok(false);
        }
        if is_overflow(&e) {
            self.discard_queued();
            out.push(Change::Overflow);
            return Ok(true);
        }
        Err(e)
    }

    /// Every message of `data`, in order, as events.
    #[inline(never)]
    fn decode(&mut self, data: &[u8], out: &mut Vec<Change>) {
        for msg in MsgIter::new(data) {
            let parsed = msg.and_then(|m| change_from_msg(&m));
            match parsed {
                Ok(Some(change)) => out.push(change),
                Ok(None) => {}
                Err(e) => {
                    if let Some(n) = self.malformed.allow() {
                        log::warn!(
                            "malformed rtnetlink notification, resynchronising: {e}{}",
                            RateLimit::suffix(n)
                        );
                    }
                    // We cannot know what it said: assume anything.
                    out.push(Change::Overflow);
                    break;
                }
            }
        }
    }

    /// After an overflow: throws away what is still queued. The kernel
    /// reports the overflow before the notifications queued ahead of the
    /// lost ones; applied after the resynchronisation the overflow causes,
    /// those older notifications would put values back in the caches that
    /// the lost ones had superseded, for good (a cached MTU of 1127 while
    /// the device has 1141). The resynchronisation reads everything they
    /// could have said anyway.
    fn discard_queued(&mut self) {
        // Bounded, so a storm faster than we read cannot hold the thread
        // here; what stays queued then is newer than the last loss (a loss
        // meanwhile is reported by the next receive and resynchronised
        // again), so applying it in order is right.
        const MAX_DISCARD: usize = 1 << 16;
        let mut discarded = 0usize;
        while discarded < MAX_DISCARD {
            match self.sock.recv(false) {
                Ok(_) => discarded += 1,
                // Another overflow while draining: the resync that follows
                // covers it too.
                Err(e) if is_overflow(&e) => {}
                Err(_) => break,
            }
        }
        log::debug!("rtnetlink overflow: {discarded} queued datagrams superseded by a resync");
    }

    /// Blocks until the socket or the waker is readable, or `timeout`;
    /// true if the socket is.
    fn wait(&mut self, timeout: PollTimeout) -> io::Result<bool> {
        let (sock_ready, woken) = {
            let mut fds = [
                PollFd::new(self.sock.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.wake_rx.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => return Ok(false),
                Err(e) => return Err(e.into()),
            }
            let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
            (ready(&fds[0]), ready(&fds[1]))
        };
        if woken {
            let mut buf = [0u8; 64];
            while matches!((&self.wake_rx).read(&mut buf), Ok(n) if n > 0) {}
            return Ok(false);
        }
        Ok(sock_ready)
    }
}

impl ChangeSource for RtnlSource {
    /// One datagram's changes per call. The receive is tried before the
    /// poll, not after: during a burst each datagram then costs one system
    /// call, and when idle the path from a notification to its dispatch is
    /// poll's return plus one receive, with no "anything else?" receive
    /// (always EAGAIN for a lone change) in between (change latency, see
    /// `examples/bench_system.rs`).
    fn read_changes(&mut self, out: &mut Vec<Change>, timeout: Option<Duration>) -> io::Result<()> {
        // A timeout beyond poll's range waits as long as poll can; the
        // caller simply calls again.
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
        };
        loop {
            let before = out.len();
            if self.read_one(out)? {
                if out.len() > before {
                    return Ok(());
                }
                // A datagram of messages we do not track: look again.
                continue;
            }
            if !self.wait(timeout)? {
                return Ok(());
            }
        }
    }

    fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.sock.as_fd())
    }

    /// `SCHED_BATCH`: same share of the CPU, but no preemption on wake-up.
    /// The kernel wakes the notifier thread on the CPU of the thread that
    /// changed a device, before its system call returns; preempting it
    /// there delays the caller by two context switches, while a caller
    /// that goes on to `wait_for_change` applies the queued change itself
    /// (see `Registry::wait_for_change`). Failure only costs latency.
    fn on_reader_thread(&mut self) {
        if let Err(e) = crate::sys::sched::set_batch_policy() {
            log::debug!("rtnetlink notifier: SCHED_BATCH refused: {e}");
        }
    }

    /// One datagram, if one is queued: a caller waiting for its change
    /// gets it without a second "anything else?" receive (which would
    /// find nothing for a lone change), and the notifier thread's poll
    /// tells it when more is waiting.
    fn try_read_changes(&mut self, out: &mut Vec<Change>) -> io::Result<()> {
        self.read_one(out).map(drop)
    }

    fn waker(&self) -> Waker {
        let tx = self.wake_tx.clone();
        Arc::new(move || {
            // A full pipe already means "wake up"; nothing else can fail
            // usefully here.
            let _ = (&*tx).write(&[1]);
        })
    }
}
