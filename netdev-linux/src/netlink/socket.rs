//! Netlink sockets (layer 2 user, Linux only): creation with a
//! kernel-assigned port id, multicast membership, sending with fresh
//! sequence numbers, and receiving into a reusable buffer.
//!
//! The socket is the kernel's [`Transport`]; the request/reply matching on
//! top of it is the sans-IO [`Requester`] of `netdev-netlink`, told that
//! this peer is the kernel ([`PeerModel::KernelSynchronous`]).

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{
    MsgBuilder, MsgDisplay, MsgIter, PeerModel, Protocol, Requester, Transport, NLMSG_HDRLEN,
};
use crate::sys::netlink as sys;

/// Receive buffer the socket asks for: large enough that bursts of
/// notifications and dump replies rarely overflow.
pub const DEFAULT_RCVBUF: i32 = 1024 * 1024;

/// About a page of requests per `sendmsg`: large kernel buffers are
/// expensive to allocate.
const MAX_BATCH_BYTES: usize = 4096 - 512;

/// True if `e` means the socket's receive buffer overflowed and the kernel
/// dropped messages (`ENOBUFS`): for a notification socket, events were
/// lost and the listener must resynchronise.
pub fn is_overflow(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOBUFS)
}

pub(crate) fn protocol_error(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A Netlink socket connected to the kernel.
pub struct Socket {
    io: KernelIo,
    rcvbuf: usize,
    /// Matches replies to requests; also owns the receive buffer, which
    /// [`Socket::recv`] shares.
    requester: Requester,
    /// Bytes of the last datagram [`Socket::recv`] left in the buffer.
    len: usize,
}

/// The socket as a [`Transport`]: what the requester needs, apart from the
/// buffer it lends.
pub(super) struct KernelIo {
    fd: OwnedFd,
    protocol: i32,
    port: u32,
}

impl Socket {
    /// Opens a socket for `protocol` (`NETLINK_ROUTE`, `NETLINK_GENERIC`...)
    /// with a kernel-assigned port id and a 1 MiB receive buffer (forced
    /// past `rmem_max` when running as root, else as large as allowed).
    pub fn new(protocol: i32) -> io::Result<Socket> {
        let fd = sys::socket(protocol)?;
        if let Err(e) = sys::set_rcvbuf(fd.as_fd(), DEFAULT_RCVBUF) {
            log::warn!("setting a {DEFAULT_RCVBUF}-byte netlink receive buffer failed: {e}");
        }
        let rcvbuf = sys::rcvbuf(fd.as_fd())?;
        sys::connect_kernel(fd.as_fd())?;
        let port = sys::local_port(fd.as_fd())?;
        sys::enable_ext_ack(fd.as_fd());
        let mut requester = Requester::new(PeerModel::KernelSynchronous, Some(port));
        // An overflow drops answers, never requests: sending again is safe.
        requester.resend_when(is_overflow);
        let mut sock = Socket {
            io: KernelIo { fd, protocol, port },
            rcvbuf,
            requester,
            len: 0,
        };
        sock.set_batch_limits();
        Ok(sock)
    }

    /// As many requests per `sendmsg` as the receive buffer can answer
    /// (rcvbuf / 4096), at most the iovec limit.
    fn set_batch_limits(&mut self) {
        let count = (self.rcvbuf / 4096).clamp(1, sys::max_iovs());
        self.requester.set_batch_limits(count, MAX_BATCH_BYTES);
    }

    /// The socket as a transport and its requester, borrowed apart.
    pub(super) fn parts(&mut self) -> (&mut KernelIo, &mut Requester) {
        self.len = 0;
        (&mut self.io, &mut self.requester)
    }

    /// The Netlink protocol.
    pub fn protocol(&self) -> i32 {
        self.io.protocol
    }

    /// The port id the kernel assigned (`nlmsg_pid` of what we send).
    pub fn port(&self) -> u32 {
        self.io.port
    }

    /// The receive buffer size the kernel reports.
    pub fn rcvbuf(&self) -> usize {
        self.rcvbuf
    }

    /// Changes the receive buffer size (the kernel doubles the value).
    pub fn set_rcvbuf(&mut self, bytes: usize) -> io::Result<()> {
        sys::set_rcvbuf(self.io.fd.as_fd(), bytes.min(i32::MAX as usize) as i32)?;
        self.rcvbuf = sys::rcvbuf(self.io.fd.as_fd())?;
        self.set_batch_limits();
        Ok(())
    }

    /// Joins multicast group `group` (for example `RTNLGRP_LINK`).
    pub fn join_group(&self, group: u32) -> io::Result<()> {
        sys::add_membership(self.io.fd.as_fd(), group)
    }

    /// Leaves multicast group `group`.
    pub fn leave_group(&self, group: u32) -> io::Result<()> {
        sys::drop_membership(self.io.fd.as_fd(), group)
    }

    /// Reserves `n` consecutive sequence numbers and returns the first
    /// (from the same counter the transactions use, so they never clash).
    pub fn allocate_seq(&mut self, n: u32) -> u32 {
        self.requester.matcher_mut().allocate_seq(n)
    }

    /// Sends the message built in `msg` with a fresh sequence number and
    /// this socket's port id; returns the sequence number.
    pub fn send(&mut self, msg: &mut MsgBuilder) -> io::Result<u32> {
        let seq = self.allocate_seq(1);
        self.send_seq(msg, seq)?;
        Ok(seq)
    }

    /// Sends `msg` with sequence number `seq`: for a reply to a request
    /// received with that number.
    pub fn send_seq(&mut self, msg: &mut MsgBuilder, seq: u32) -> io::Result<()> {
        msg.set_seq(seq).set_pid(self.io.port);
        let bytes = msg.finish()?;
        self.io.send(&[IoSlice::new(bytes)])
    }

    /// Receives one datagram (one or more messages; see
    /// [`super::MsgIter`]) into the socket's reusable buffer. With `wait`
    /// false, fails with `WouldBlock` when nothing is waiting.
    ///
    /// Errors: `ENOBUFS` when the kernel dropped messages because the
    /// receive buffer overflowed (see [`is_overflow`]); `E2BIG` for a
    /// datagram longer than the buffer and its 64 KiB tail (the kernel
    /// truncated it); `EPROTO` for a datagram that does not start with a
    /// valid header.
    pub fn recv(&mut self, wait: bool) -> io::Result<&[u8]> {
        self.len = 0;
        let n = recv_checked(&self.io, self.requester.buffer_mut(), wait)?;
        self.len = n;
        Ok(&self.requester.buffer()[..n])
    }

    /// Like [`Socket::recv`], into `buf` instead of the socket's buffer
    /// (which [`Socket::last_received`] then does not show): for a reader
    /// that keeps a buffer of its own, warm in its own CPU's cache.
    #[inline]
    pub fn recv_into<'b>(&self, buf: &'b mut [u8], wait: bool) -> io::Result<&'b [u8]> {
        let n = recv_checked(&self.io, buf, wait)?;
        Ok(&buf[..n])
    }

    /// The datagram of the last successful [`Socket::recv`].
    pub fn last_received(&self) -> &[u8] {
        &self.requester.buffer()[..self.len]
    }

    /// Waits until a datagram is waiting or `timeout` passes.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        sys::poll_readable(self.io.fd.as_fd(), timeout)
    }

    /// Discards every datagram waiting (and forgets an overflow).
    pub fn drain(&mut self) -> io::Result<()> {
        loop {
            match self.recv(false) {
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if is_overflow(&e) => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.io.fd.as_fd()
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.io.fd.as_raw_fd()
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("protocol", &self.io.protocol)
            .field("port", &self.io.port)
            .field("fd", &self.io.fd.as_raw_fd())
            .finish()
    }
}

/// One datagram into `buf`, checked (see [`Socket::recv`]): its length.
#[inline]
fn recv_checked(io: &KernelIo, buf: &mut [u8], wait: bool) -> io::Result<usize> {
    let n = io.recv_datagram(buf, !wait)?;
    let first_len = match buf.get(..4) {
        Some(&[a, b, c, d]) => u32::from_ne_bytes([a, b, c, d]) as usize,
        _ => 0,
    };
    if n == 0 || n > buf.len() || n < NLMSG_HDRLEN || first_len < NLMSG_HDRLEN || first_len > n {
        return Err(bad_datagram(n, buf.len(), first_len));
    }
    Ok(n)
}

/// Why a datagram of `n` bytes whose first message claims `first_len` was
/// refused (see [`recv_checked`]). Out of line: the waiting caller's path
/// through a receive is a few cache lines of code, not these.
#[cold]
#[inline(never)]
fn bad_datagram(n: usize, capacity: usize, first_len: usize) -> io::Error {
    if n == 0 {
        return io::Error::from_raw_os_error(libc::ECONNRESET);
    }
    if n > capacity {
        return io::Error::new(
            io::Error::from_raw_os_error(libc::E2BIG).kind(),
            format!("netlink datagram longer than {capacity} bytes was truncated"),
        );
    }
    io::Error::new(
        io::Error::from_raw_os_error(libc::EPROTO).kind(),
        format!("received invalid netlink datagram: {n} bytes, first message claims {first_len}"),
    )
}

impl KernelIo {
    fn protocol_tag(&self) -> Option<Protocol> {
        Some(Protocol::from_raw(self.protocol))
    }

    /// One `recv(2)` into `buf`: the datagram's real length (more than
    /// `buf.len()` if truncated), or the error some kernels return as if
    /// it were a byte count.
    #[inline]
    fn recv_datagram(&self, buf: &mut [u8], dontwait: bool) -> io::Result<usize> {
        // Some kernels have returned an errno as if it were a byte count
        // without writing anything: mark the header impossible so we can
        // tell (the guard of Open vSwitch's nl_sock_recv__).
        buf[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        let n = sys::recv_trunc(self.fd.as_fd(), buf, dontwait)?;
        if n > 0 && u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) == u32::MAX {
            let errno = i32::try_from(n).unwrap_or(libc::EPROTO);
            return Err(io::Error::from_raw_os_error(errno));
        }
        if log::log_enabled!(log::Level::Debug) && n <= buf.len() {
            self.log_received(&buf[..n]);
        }
        Ok(n)
    }

    #[cold]
    #[inline(never)]
    fn log_received(&self, datagram: &[u8]) {
        for m in MsgIter::new(datagram).flatten() {
            log::debug!(
                "nl recv: {}",
                MsgDisplay::new(m.bytes(), self.protocol_tag())
            );
        }
    }
}

/// The kernel end of the socket. Sends never block for long (the kernel
/// handles a request inside `sendmsg`); receives wait as asked.
impl Transport for KernelIo {
    fn send(&mut self, parts: &[IoSlice<'_>]) -> io::Result<()> {
        if log::log_enabled!(log::Level::Debug) {
            for part in parts {
                log::debug!("nl send: {}", MsgDisplay::new(part, self.protocol_tag()));
            }
        }
        match parts {
            // One buffer needs no `msghdr` for the kernel to copy in:
            // measurably cheaper per transaction.
            [one] => sys::send(self.fd.as_fd(), one, false).map(|_| ()),
            _ => sys::sendmsg(self.fd.as_fd(), parts, false).map(|_| ()),
        }
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        let dontwait = match timeout {
            None => false,
            Some(t) if t.is_zero() => true,
            Some(t) => {
                if !sys::poll_readable(self.fd.as_fd(), Some(t))? {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                true
            }
        };
        self.recv_datagram(buf, dontwait)
    }

    fn local_port(&self) -> Option<u32> {
        Some(self.port)
    }
}
