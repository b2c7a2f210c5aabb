//! Netlink socket system calls.

use std::io::{self, IoSlice};
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// `SOL_NETLINK`, the socket option level of Netlink options.
const SOL_NETLINK: libc::c_int = 270;

/// Opens an `AF_NETLINK` raw socket of `protocol`, close-on-exec.
pub(crate) fn socket(protocol: i32) -> io::Result<OwnedFd> {
    let fd = syscall!(socket(
        libc::AF_NETLINK,
        libc::SOCK_RAW | libc::SOCK_CLOEXEC,
        protocol
    ))?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one
    // else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr_nl(pid: u32, groups: u32) -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_nl = unsafe { zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_pid = pid;
    sa.nl_groups = groups;
    sa
}

/// Connects to the kernel (port 0), which also makes the kernel assign this
/// socket a unique port id.
pub(crate) fn connect_kernel(fd: BorrowedFd<'_>) -> io::Result<()> {
    let sa = sockaddr_nl(0, 0);
    // `sa` lives across the call and its size is passed.
    syscall!(connect(
        fd.as_raw_fd(),
        &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
        size_of::<libc::sockaddr_nl>() as libc::socklen_t
    ))?;
    Ok(())
}

/// The port id the kernel assigned.
pub(crate) fn local_port(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut sa = sockaddr_nl(0, 0);
    let mut len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
    // `sa` and `len` are live and `len` holds the size of `sa`.
    syscall!(getsockname(
        fd.as_raw_fd(),
        &mut sa as *mut libc::sockaddr_nl as *mut libc::sockaddr,
        &mut len
    ))?;
    if (len as usize) < size_of::<libc::sockaddr_nl>()
        || sa.nl_family != libc::AF_NETLINK as libc::sa_family_t
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "getsockname returned a name that is not a Netlink address",
        ));
    }
    Ok(sa.nl_pid)
}

fn set_int_opt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: i32,
) -> io::Result<()> {
    // `value` lives across the call and its size is passed.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        &value as *const i32 as *const libc::c_void,
        size_of::<i32>() as libc::socklen_t
    ))?;
    Ok(())
}

fn get_int_opt(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut value: i32 = 0;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // `value` and `len` are live and `len` holds the size of `value`.
    syscall!(getsockopt(
        fd.as_raw_fd(),
        level,
        name,
        &mut value as *mut i32 as *mut libc::c_void,
        &mut len
    ))?;
    Ok(value)
}

/// Sets the receive buffer to `bytes`: `SO_RCVBUFFORCE` (root only, may
/// exceed `rmem_max`), falling back to `SO_RCVBUF`.
pub(crate) fn set_rcvbuf(fd: BorrowedFd<'_>, bytes: i32) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
        .or_else(|_| set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes))
}

/// The receive buffer size the kernel uses (it doubles what was set).
pub(crate) fn rcvbuf(fd: BorrowedFd<'_>) -> io::Result<usize> {
    get_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).map(|v| v.max(0) as usize)
}

/// Joins multicast group `group`.
pub(crate) fn add_membership(fd: BorrowedFd<'_>, group: u32) -> io::Result<()> {
    set_int_opt(fd, SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, group as i32)
}

/// Leaves multicast group `group`.
pub(crate) fn drop_membership(fd: BorrowedFd<'_>, group: u32) -> io::Result<()> {
    set_int_opt(fd, SOL_NETLINK, libc::NETLINK_DROP_MEMBERSHIP, group as i32)
}

/// Asks for extended acknowledgements (error messages and offsets) and for
/// acks that do not echo the whole request. Best effort: old kernels lack
/// them.
pub(crate) fn enable_ext_ack(fd: BorrowedFd<'_>) {
    let _ = set_int_opt(fd, SOL_NETLINK, libc::NETLINK_EXT_ACK, 1);
    let _ = set_int_opt(fd, SOL_NETLINK, libc::NETLINK_CAP_ACK, 1);
}

/// Sends the buffers as one datagram (several Netlink messages), retrying
/// on `EINTR`.
pub(crate) fn sendmsg(
    fd: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    dontwait: bool,
) -> io::Result<usize> {
    // SAFETY: msghdr is plain old data; all-zero is valid (no name, no
    // control data).
    let mut msg: libc::msghdr = unsafe { zeroed() };
    // IoSlice is ABI-compatible with iovec (documented by std).
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    let flags = if dontwait { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // `msg` points at `bufs`, which outlives the call; the kernel only
        // reads through it.
        match syscall!(sendmsg(fd.as_raw_fd(), &msg, flags)) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Waits until `fd` is readable or `timeout` passes (`None`: forever).
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let ms = match timeout {
        None => -1,
        Some(t) => t.as_millis().min(i32::MAX as u128) as i32,
    };
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // `pfd` is one live pollfd and we pass a count of 1.
        match syscall!(poll(&mut pfd, 1, ms)) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The most iovecs one `sendmsg` takes (`_SC_UIO_MAXIOV`), at least the
/// POSIX minimum of 16.
pub(crate) fn max_iovs() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_IOV_MAX) };
    if n < 16 {
        16
    } else {
        n as usize
    }
}

/// Sends `buf` as one datagram (`send(2)`: no `msghdr` to copy in),
/// retrying on `EINTR`.
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8], dontwait: bool) -> io::Result<usize> {
    let flags = if dontwait { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // `buf` is live and readable for its length across the call.
        match syscall!(send(
            fd.as_raw_fd(),
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            flags
        )) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Receives one datagram into `buf` (`recv(2)` with `MSG_TRUNC`), retrying
/// on `EINTR`. Returns the datagram's real length, which is more than
/// `buf.len()` if it was truncated.
///
/// Through `syscall(2)`, as `recvfrom` with no address (what libc's `recv`
/// makes of it on Linux), without libc's `recv` and its thread-cancellation
/// bookkeeping, which a Rust program never uses: the notifier's receive is
/// on the path of a caller waiting for its own change, after a pause, when
/// every line of code it runs is a cache miss.
#[inline]
pub(crate) fn recv_trunc(fd: BorrowedFd<'_>, buf: &mut [u8], dontwait: bool) -> io::Result<usize> {
    let flags = libc::MSG_TRUNC | if dontwait { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // `buf` is exclusively borrowed and writable for its length; no
        // address is asked for (both pointers null). Every argument is
        // passed as a full register.
        match syscall!(syscall(
            libc::SYS_recvfrom,
            libc::c_long::from(fd.as_raw_fd()),
            buf.as_mut_ptr() as libc::c_long,
            buf.len() as libc::c_long,
            libc::c_long::from(flags),
            0 as libc::c_long,
            0 as libc::c_long
        )) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
