//! The daemon's transport: netlink-framed brcompat messages over a Unix
//! `SOCK_SEQPACKET` socket, one datagram per batch of messages.
//!
//! Layer 5 plumbing under the daemon and the client: it moves datagrams
//! and knows nothing of their contents. The daemon side is a [`Listener`]
//! (a socket file created mode 0600, never stolen from a live daemon,
//! removed on drop) that hands out non-blocking [`Connection`]s carrying
//! their peer's credentials, checked against an [`Access`] policy. The
//! client side is [`connect`], whose [`Connection`] implements
//! [`netdev_netlink::Transport`] so that a [`netdev_netlink::Requester`]
//! with [`netdev_netlink::PeerModel::Asynchronous`] does request/reply
//! over it.
//!
//! Every descriptor is non-blocking and exposed with `AsFd`, so one poll
//! loop can serve the listener and all connections; the blocking helpers
//! wait with `poll(2)` and a timeout, never forever unless asked.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

mod access;
mod listener;

pub use access::{parse_status_groups, Access, PeerCred, Refused};
pub use listener::{Listener, ListenerOptions};

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_PATH: &str = "/run/brcompat.sock";

/// The largest datagram a [`Connection`] accepts unless told otherwise:
/// far more than any brcompat request, and room for a reply of a few
/// thousand FDB entries.
pub const DEFAULT_MAX_DATAGRAM: usize = 64 * 1024;

/// What went wrong in the transport. `Display` gives one line meant for a
/// person; [`Error::errno`] the errno a protocol reply would carry.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `another brcompatd is running on PATH`: a live daemon answers on the
    /// socket path (or holds its lock), so it is not taken over.
    AlreadyRunning {
        /// The socket path.
        path: PathBuf,
    },
    /// `cannot connect to brcompatd at PATH: REASON`: no daemon listens
    /// there (`No such file or directory`, `Connection refused`), it is
    /// not ours to talk to (`Permission denied`), or it did not accept in
    /// time (`Connection timed out`).
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// `datagram of N bytes exceeds the maximum of M`: a datagram larger
    /// than the connection accepts, received (and discarded: its length is
    /// known on Linux only) or about to be sent. The daemon answers it
    /// with `EINVAL`.
    Oversized {
        /// The datagram's length, when known.
        len: Option<usize>,
        /// The connection's maximum.
        max: usize,
    },
    /// `OPERATION [PATH]: REASON`: a system call failed.
    Io {
        /// What was being done (`bind`, `recv`, ...).
        op: &'static str,
        /// The file concerned, if any.
        path: Option<PathBuf>,
        /// Why.
        source: io::Error,
    },
}

impl Error {
    fn io(op: &'static str, source: impl Into<io::Error>) -> Error {
        Error::Io {
            op,
            path: None,
            source: source.into(),
        }
    }

    fn io_at(op: &'static str, path: &Path, source: impl Into<io::Error>) -> Error {
        Error::Io {
            op,
            path: Some(path.to_owned()),
            source: source.into(),
        }
    }

    /// The errno this error amounts to: `EINVAL` for an oversized
    /// datagram, `EADDRINUSE` for a running daemon, the system call's own
    /// otherwise (`EIO` if it had none).
    #[must_use]
    pub fn errno(&self) -> i32 {
        match self {
            Error::AlreadyRunning { .. } => libc::EADDRINUSE,
            Error::Oversized { .. } => libc::EINVAL,
            Error::Connect { source, .. } | Error::Io { source, .. } => {
                source.raw_os_error().unwrap_or(libc::EIO)
            }
        }
    }

    /// True if nothing arrived (or could be sent) in time: a non-blocking
    /// call that would have blocked, or an expired timeout.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Io { source, .. } => netdev_netlink::is_timeout(source),
            _ => false,
        }
    }
}

/// The text of an I/O error without Rust's ` (os error N)` suffix, as C
/// programs print it.
fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_owned(),
        None if e.kind() == io::ErrorKind::TimedOut => Errno::ETIMEDOUT.desc().to_owned(),
        None => e.to_string(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyRunning { path } => {
                write!(f, "another brcompatd is running on {}", path.display())
            }
            Error::Connect { path, source } => write!(
                f,
                "cannot connect to brcompatd at {}: {}",
                path.display(),
                describe(source)
            ),
            Error::Oversized {
                len: Some(len),
                max,
            } => {
                write!(f, "datagram of {len} bytes exceeds the maximum of {max}")
            }
            Error::Oversized { len: None, max } => {
                write!(f, "datagram exceeds the maximum of {max} bytes")
            }
            Error::Io {
                op,
                path: Some(path),
                source,
            } => write!(f, "{op} {}: {}", path.display(), describe(source)),
            Error::Io {
                op,
                path: None,
                source,
            } => write!(f, "{op}: {}", describe(source)),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            // Keep the kind (WouldBlock, TimedOut) that callers test.
            Error::Io { source, .. } if source.raw_os_error().is_none() => source,
            e => {
                let errno = e.errno();
                let kind = io::Error::from_raw_os_error(errno).kind();
                io::Error::new(kind, e)
            }
        }
    }
}

/// Time left until `deadline` (`None`: no deadline).
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(Instant::now()))
}

/// Waits until `fd` is ready for `events` or `timeout` passes; true if
/// ready. Interrupted waits resume with the time that is left.
pub(crate) fn wait_for(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let wait = match remaining(deadline) {
            None => PollTimeout::NONE,
            // Round up, so a short wait is not a busy loop.
            Some(left) => PollTimeout::try_from(left.max(Duration::from_millis(1)))
                .unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(fd, events)];
        match nix::poll::poll(&mut fds, wait) {
            Ok(0) if deadline.is_some_and(|d| Instant::now() >= d) => return Ok(false),
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => return Ok(true),
            Err(e) => return Err(e.into()),
        }
    }
}

/// One end of a brcompat connection: a connected, non-blocking
/// `SOCK_SEQPACKET` socket that sends and receives whole datagrams of at
/// most [`Connection::max_datagram`] bytes.
///
/// A zero-length datagram cannot be told from the peer closing the
/// connection (both read as 0 bytes), so it is taken for the latter.
#[derive(Debug)]
pub struct Connection {
    fd: OwnedFd,
    peer: Option<PeerCred>,
    max_datagram: usize,
    send_timeout: Option<Duration>,
}

/// `recvmsg` flags: Linux reports a truncated datagram's real length when
/// asked with `MSG_TRUNC`; elsewhere only the output flag says it.
#[cfg(any(target_os = "linux", target_os = "android"))]
const RECV_FLAGS: MsgFlags = MsgFlags::MSG_TRUNC;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const RECV_FLAGS: MsgFlags = MsgFlags::empty();

impl Connection {
    fn new(fd: OwnedFd, peer: Option<PeerCred>, send_timeout: Option<Duration>) -> Connection {
        Connection {
            fd,
            peer,
            max_datagram: DEFAULT_MAX_DATAGRAM,
            send_timeout,
        }
    }

    /// The peer's credentials as the kernel gave them when the connection
    /// was made (`None` if it could not).
    #[must_use]
    pub fn peer(&self) -> Option<PeerCred> {
        self.peer
    }

    /// The largest datagram sent or accepted.
    #[must_use]
    pub fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    /// Changes the largest datagram sent or accepted.
    pub fn set_max_datagram(&mut self, max: usize) {
        self.max_datagram = max;
    }

    /// How long [`Connection::send`] waits for room in the peer's queue:
    /// `Some(Duration::ZERO)` (a daemon's connections: never wait, a stuck
    /// client must not stall the daemon) or the client's timeout.
    pub fn set_send_timeout(&mut self, timeout: Option<Duration>) {
        self.send_timeout = timeout;
    }

    /// Sends one datagram, the concatenation of `parts`, waiting for room
    /// at most the send timeout.
    ///
    /// Errors: [`Error::Oversized`] above the maximum (nothing is sent),
    /// a timeout ([`Error::is_timeout`]), the peer gone (`EPIPE`).
    pub fn send(&self, parts: &[IoSlice<'_>]) -> Result<(), Error> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > self.max_datagram {
            return Err(Error::Oversized {
                len: Some(len),
                max: self.max_datagram,
            });
        }
        let deadline = self.send_timeout.map(|t| Instant::now() + t);
        loop {
            match socket::sendmsg::<()>(
                self.fd.as_raw_fd(),
                parts,
                &[],
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => {}
                Err(Errno::EMSGSIZE) => {
                    return Err(Error::Oversized {
                        len: Some(len),
                        max: self.max_datagram,
                    })
                }
                Err(Errno::EAGAIN) => {
                    let left = remaining(deadline);
                    if left.is_some_and(|l| l.is_zero()) {
                        return Err(Error::io("send", Errno::EAGAIN));
                    }
                    if !wait_for(self.fd.as_fd(), PollFlags::POLLOUT, left)
                        .map_err(|e| Error::io("poll", e))?
                    {
                        return Err(Error::io("send", io::ErrorKind::TimedOut));
                    }
                }
                Err(e) => return Err(Error::io("send", e)),
            }
        }
    }

    /// Receives one datagram into `buf`, returning its length, waiting at
    /// most `timeout` (`None`: until one comes; zero: only what is already
    /// waiting). `Ok(0)`: the peer closed the connection.
    ///
    /// A datagram longer than the maximum or than `buf` is consumed and
    /// reported as [`Error::Oversized`]: the daemon answers it with
    /// `EINVAL` and goes on serving. Nothing in time: an error for which
    /// [`Error::is_timeout`] is true.
    pub fn recv(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<usize, Error> {
        let limit = buf.len().min(self.max_datagram);
        let (n, truncated) = self.recv_raw(&mut buf[..limit], timeout)?;
        if truncated {
            return Err(Error::Oversized {
                len: (n > limit).then_some(n),
                max: limit,
            });
        }
        Ok(n)
    }

    /// One `recvmsg`: the length (the real one if the OS tells it) and
    /// whether the datagram was truncated.
    fn recv_raw(&self, buf: &mut [u8], timeout: Option<Duration>) -> Result<(usize, bool), Error> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let mut iov = [IoSliceMut::new(buf)];
            match socket::recvmsg::<()>(self.fd.as_raw_fd(), &mut iov, None, RECV_FLAGS) {
                Ok(msg) => {
                    return Ok((msg.bytes, msg.flags.contains(MsgFlags::MSG_TRUNC)));
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    let left = remaining(deadline);
                    if left.is_some_and(|l| l.is_zero()) {
                        return Err(Error::io("recv", Errno::EAGAIN));
                    }
                    if !wait_for(self.fd.as_fd(), PollFlags::POLLIN, left)
                        .map_err(|e| Error::io("poll", e))?
                    {
                        return Err(Error::io("recv", io::ErrorKind::TimedOut));
                    }
                }
                Err(e) => return Err(Error::io("recv", e)),
            }
        }
    }

    /// Closes a connection whose peer [`Access::check`] refused, with a
    /// log line, after sending it `reply` (say, an `EPERM` answer to its
    /// request) if one is given and it fits in the peer's queue at once.
    ///
    /// What the peer already sent is read and discarded first: closing a
    /// socket with unread data makes the peer's next receive fail with
    /// `ECONNRESET` instead of delivering the reply (Linux).
    pub fn refuse(mut self, refused: &Refused, reply: Option<&[u8]>) {
        log::warn!("{refused}: closing the connection");
        if let Some(reply) = reply {
            let mut scrap = [0u8; 512];
            for _ in 0..64 {
                match self.recv_raw(&mut scrap, Some(Duration::ZERO)) {
                    Ok((0, _)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            self.send_timeout = Some(Duration::ZERO);
            if let Err(e) = self.send(&[IoSlice::new(reply)]) {
                log::debug!("refusal not delivered: {e}");
            }
        }
    }
}

impl AsFd for Connection {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Connection {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The client side of request/reply: a daemon does not address replies by
/// port id, so they are matched by sequence number alone.
impl netdev_netlink::Transport for Connection {
    fn send(&mut self, parts: &[IoSlice<'_>]) -> io::Result<()> {
        Connection::send(self, parts).map_err(io::Error::from)
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        let limit = buf.len().min(self.max_datagram);
        let (n, truncated) = self.recv_raw(&mut buf[..limit], timeout)?;
        // The trait's convention: a length beyond `buf` means truncated.
        Ok(if truncated { n.max(buf.len() + 1) } else { n })
    }
}

/// Connects to the daemon listening at `path`, waiting at most `timeout`
/// for it to accept; the connection then waits at most `timeout` to send.
///
/// A daemon that is not running is one clear error, never a hang:
/// `cannot connect to brcompatd at PATH: No such file or directory` (no
/// socket file) or `...: Connection refused` (a stale one).
pub fn connect(path: impl AsRef<Path>, timeout: Option<Duration>) -> Result<Connection, Error> {
    let path = path.as_ref();
    let fail = |e: io::Error| Error::Connect {
        path: path.to_owned(),
        source: e,
    };
    let fd = seqpacket_socket().map_err(fail)?;
    let addr = UnixAddr::new(path).map_err(|e| fail(e.into()))?;
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        match socket::connect(fd.as_raw_fd(), &addr) {
            Ok(()) => break,
            Err(Errno::EINTR) => {}
            // Linux: the listen queue is full; nothing to poll for.
            Err(Errno::EAGAIN) => {
                if remaining(deadline).is_some_and(|l| l.is_zero()) {
                    return Err(fail(Errno::ETIMEDOUT.into()));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(Errno::EINPROGRESS) => {
                if !wait_for(fd.as_fd(), PollFlags::POLLOUT, remaining(deadline)).map_err(fail)? {
                    return Err(fail(Errno::ETIMEDOUT.into()));
                }
                match socket::getsockopt(&fd, socket::sockopt::SocketError) {
                    Ok(0) => break,
                    Ok(errno) => return Err(fail(io::Error::from_raw_os_error(errno))),
                    Err(e) => return Err(fail(e.into())),
                }
            }
            Err(e) => return Err(fail(e.into())),
        }
    }
    let peer = PeerCred::of(fd.as_fd()).ok();
    Ok(Connection::new(fd, peer, timeout))
}

/// A new non-blocking, close-on-exec `SOCK_SEQPACKET` Unix socket.
fn seqpacket_socket() -> io::Result<OwnedFd> {
    Ok(socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )?)
}
