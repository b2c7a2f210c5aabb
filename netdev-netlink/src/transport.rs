//! What the request/reply machinery needs from a connection: send one
//! datagram, receive one datagram. Kept this small so that a kernel Netlink
//! socket, a Unix `SOCK_SEQPACKET` socket to a userspace daemon and an
//! in-memory test peer can all implement it, and so that it stays
//! object-safe (`&mut dyn Transport`): the request code is compiled once,
//! not once per transport.

use std::io::{self, IoSlice};
use std::time::Duration;

/// A datagram connection to a Netlink peer (the kernel, or a userspace
/// daemon speaking Netlink-framed messages).
///
/// Datagram boundaries matter: a Netlink message never spans two
/// datagrams, and a receive returns exactly one datagram, which may hold
/// several messages.
pub trait Transport {
    /// Sends one datagram: the concatenation of `parts`, each of which
    /// holds one or more whole, aligned messages.
    fn send(&mut self, parts: &[IoSlice<'_>]) -> io::Result<()>;

    /// Receives one datagram into `buf`, waiting at most `timeout` (`None`:
    /// until one comes; `Some(Duration::ZERO)`: only what is already
    /// waiting).
    ///
    /// Returns the datagram's length. A length larger than `buf.len()`
    /// means the datagram did not fit and was truncated (the caller reports
    /// it; it cannot be read again). `Ok(0)` means the peer closed the
    /// connection. When nothing arrived in time, fails with an error for
    /// which [`is_timeout`] is true.
    fn recv(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize>;

    /// The port id this end is known by (stamped as `nlmsg_pid` on
    /// requests and expected on replies), or `None` when the peer does not
    /// address replies by port (replies are then matched by sequence
    /// number alone).
    fn local_port(&self) -> Option<u32> {
        None
    }
}

/// So generic code that takes a transport by value can be lent one.
impl<T: Transport + ?Sized> Transport for &mut T {
    fn send(&mut self, parts: &[IoSlice<'_>]) -> io::Result<()> {
        (**self).send(parts)
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        (**self).recv(buf, timeout)
    }

    fn local_port(&self) -> Option<u32> {
        (**self).local_port()
    }
}

/// True if `e` means "nothing arrived in time": `WouldBlock` (a
/// non-blocking receive, `EAGAIN`) or `TimedOut` (a receive timeout), the
/// two ways operating systems report it.
#[inline]
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
