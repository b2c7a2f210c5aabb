//! Netlink sockets (layer 2 user, Linux only): creation with a
//! kernel-assigned port id, multicast membership, sending with fresh
//! sequence numbers, and receiving into a reusable buffer.

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{MsgBuilder, MsgDisplay, Protocol, NLMSG_HDRLEN};
use crate::sys::netlink as sys;

/// Receive buffer the socket asks for: large enough that bursts of
/// notifications and dump replies rarely overflow.
pub const DEFAULT_RCVBUF: i32 = 1024 * 1024;

/// Bytes of the usual datagram. The kernel sizes dump replies by the
/// largest buffer a reader has offered (capped at 32 KiB), so offering at
/// least that much means fewer, fuller datagrams.
const HEAD_LEN: usize = 32 * 1024;

/// Extra room for the rare larger datagram: a Netlink attribute is at most
/// 64 KiB, so a message this much larger than the head still fits. Head
/// and tail are one buffer, so a datagram arrives with a plain `recv(2)`
/// (no `msghdr` to copy in: measurably cheaper per transaction).
const TAIL_LEN: usize = 64 * 1024;

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
    fd: OwnedFd,
    protocol: i32,
    port: u32,
    next_seq: u32,
    rcvbuf: usize,
    buf: Vec<u8>,
    len: usize,
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
        Ok(Socket {
            fd,
            protocol,
            port,
            next_seq: 1,
            rcvbuf,
            buf: vec![0; HEAD_LEN + TAIL_LEN],
            len: 0,
        })
    }

    /// The Netlink protocol.
    pub fn protocol(&self) -> i32 {
        self.protocol
    }

    /// The port id the kernel assigned (`nlmsg_pid` of what we send).
    pub fn port(&self) -> u32 {
        self.port
    }

    /// The receive buffer size the kernel reports.
    pub fn rcvbuf(&self) -> usize {
        self.rcvbuf
    }

    /// Changes the receive buffer size (the kernel doubles the value).
    pub fn set_rcvbuf(&mut self, bytes: usize) -> io::Result<()> {
        sys::set_rcvbuf(self.fd.as_fd(), bytes.min(i32::MAX as usize) as i32)?;
        self.rcvbuf = sys::rcvbuf(self.fd.as_fd())?;
        Ok(())
    }

    /// Joins multicast group `group` (for example `RTNLGRP_LINK`).
    pub fn join_group(&self, group: u32) -> io::Result<()> {
        sys::add_membership(self.fd.as_fd(), group)
    }

    /// Leaves multicast group `group`.
    pub fn leave_group(&self, group: u32) -> io::Result<()> {
        sys::drop_membership(self.fd.as_fd(), group)
    }

    /// Reserves `n` consecutive sequence numbers and returns the first.
    pub fn allocate_seq(&mut self, n: u32) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(n.max(1));
        if self.next_seq == 0 {
            self.next_seq = 1;
        }
        seq
    }

    fn protocol_tag(&self) -> Option<Protocol> {
        Some(Protocol::from_raw(self.protocol))
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
        msg.set_seq(seq).set_pid(self.port);
        let bytes = msg.finish()?;
        if log::log_enabled!(log::Level::Debug) {
            log::debug!("nl send: {}", MsgDisplay::new(bytes, self.protocol_tag()));
        }
        sys::send(self.fd.as_fd(), bytes, false)?;
        Ok(())
    }

    /// Sends several finished messages in one datagram.
    pub(crate) fn send_many(&self, msgs: &[IoSlice<'_>]) -> io::Result<()> {
        sys::sendmsg(self.fd.as_fd(), msgs, false).map(|_| ())
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
        // Some kernels have returned an errno as if it were a byte count
        // without writing anything: mark the header impossible so we can
        // tell (the guard of Open vSwitch's nl_sock_recv__).
        self.buf[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        self.len = 0;
        let n = sys::recv_trunc(self.fd.as_fd(), &mut self.buf, !wait)?;
        let truncated = n > self.buf.len();
        if n == 0 {
            return Err(io::Error::from_raw_os_error(libc::ECONNRESET));
        }
        let first_len = u32::from_ne_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if first_len == u32::MAX {
            let errno = i32::try_from(n).unwrap_or(libc::EPROTO);
            return Err(io::Error::from_raw_os_error(errno));
        }
        if truncated {
            return Err(io::Error::new(
                io::Error::from_raw_os_error(libc::E2BIG).kind(),
                format!(
                    "netlink datagram longer than {} bytes was truncated",
                    HEAD_LEN + TAIL_LEN
                ),
            ));
        }
        if n < NLMSG_HDRLEN || (first_len as usize) < NLMSG_HDRLEN || first_len as usize > n {
            return Err(io::Error::new(
                io::Error::from_raw_os_error(libc::EPROTO).kind(),
                format!("received invalid netlink datagram: {n} bytes, first message claims {first_len}"),
            ));
        }
        self.len = n;
        let data = &self.buf[..n];
        if log::log_enabled!(log::Level::Debug) {
            for m in super::MsgIter::new(data).flatten() {
                log::debug!(
                    "nl recv: {}",
                    MsgDisplay::new(m.bytes(), self.protocol_tag())
                );
            }
        }
        Ok(data)
    }

    /// The datagram of the last successful [`Socket::recv`].
    pub fn last_received(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Waits until a datagram is waiting or `timeout` passes.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        sys::poll_readable(self.fd.as_fd(), timeout)
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
        self.fd.as_fd()
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("protocol", &self.protocol)
            .field("port", &self.port)
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}
