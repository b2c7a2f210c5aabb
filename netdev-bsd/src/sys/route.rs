//! The `PF_ROUTE` socket: the kernel's routing messages (`RTM_IFINFO`,
//! `RTM_IFANNOUNCE`, `RTM_NEWADDR`/`RTM_DELADDR`...), one message per
//! `recv`. `crate::wire::route` decodes them; the class's `RouteReader`
//! (in `crate::system`) hands them to the notifier.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::retry_eintr;

/// An open routing socket (nonblocking, close-on-exec).
#[derive(Debug)]
pub(crate) struct RouteSocket {
    fd: OwnedFd,
}

impl RouteSocket {
    /// Opens a `PF_ROUTE` raw socket for every address family.
    pub(crate) fn open() -> io::Result<RouteSocket> {
        let fd = syscall!(socket(
            libc::PF_ROUTE,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::AF_UNSPEC
        ))?;
        // SAFETY: `fd` was just returned by socket(2) and belongs to nobody
        // else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(RouteSocket { fd })
    }

    /// Receives one routing message into `buf`; returns its length.
    /// `WouldBlock` when none is queued; `ENOBUFS` when the socket's
    /// buffer overflowed and messages were lost; retries on `EINTR`. A
    /// message longer than `buf` is cut (`MSG_TRUNC` is not reported by
    /// `recv` on FreeBSD routing sockets), so callers use a buffer larger
    /// than any message (the kernel's are under 2 KiB).
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // `buf` is live and exclusively borrowed; the kernel writes at
        // most `buf.len()` bytes into it.
        retry_eintr(|| {
            syscall!(recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0
            ))
        })
        .map(|n| n as usize)
    }
}

impl AsFd for RouteSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Which of two descriptors [`wait_either`] found readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Ready {
    pub(crate) first: bool,
    pub(crate) second: bool,
}

/// Waits until `first` or `second` is readable (or has an error or hang-up
/// to report), or `timeout` passes (`None`: no limit). Retries on
/// `EINTR` with the time left.
pub(crate) fn wait_either(
    first: BorrowedFd<'_>,
    second: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> io::Result<Ready> {
    let mut fds = [
        libc::pollfd {
            fd: first.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: second.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    super::poll::poll(&mut fds, timeout)?;
    Ok(Ready {
        first: fds[0].revents != 0,
        second: fds[1].revents != 0,
    })
}

/// The [`crate::notifier::RouteReader`] over a real routing socket, with
/// a socket pair to be woken through.
#[derive(Debug)]
pub(crate) struct SocketReader {
    sock: RouteSocket,
    wake_rx: std::os::unix::net::UnixStream,
    wake_tx: std::sync::Arc<std::os::unix::net::UnixStream>,
}

impl SocketReader {
    pub(crate) fn open() -> io::Result<SocketReader> {
        let sock = RouteSocket::open()?;
        let (wake_tx, wake_rx) = std::os::unix::net::UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(SocketReader {
            sock,
            wake_rx,
            wake_tx: std::sync::Arc::new(wake_tx),
        })
    }

    /// `Ok(None)` for "nothing queued"; `ENOBUFS` passes through as an
    /// error, which the source turns into an overflow.
    fn recv_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.sock.recv(buf) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl crate::notifier::RouteReader for SocketReader {
    fn read(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Option<usize>> {
        // Try first: during a burst each message costs one system call.
        if let Some(n) = self.recv_now(buf)? {
            return Ok(Some(n));
        }
        let ready = wait_either(self.sock.as_fd(), self.wake_rx.as_fd(), timeout)?;
        if ready.second {
            let mut drain = [0u8; 64];
            while matches!(io::Read::read(&mut &self.wake_rx, &mut drain), Ok(n) if n > 0) {}
            return Ok(None);
        }
        if ready.first {
            return self.recv_now(buf);
        }
        Ok(None)
    }

    fn waker(&self) -> netdev_core::Waker {
        let tx = self.wake_tx.clone();
        std::sync::Arc::new(move || {
            // A full socket buffer already means "wake up".
            let _ = io::Write::write(&mut &*tx, &[1]);
        })
    }

    fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.sock.as_fd())
    }

    fn try_read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.recv_now(buf)
    }
}
