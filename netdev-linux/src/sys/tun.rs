//! TUN/TAP system calls: create (or attach to) a TAP device through
//! `/dev/net/tun`, and move one frame per `read`/`write` on its descriptor.
//!
//! Layer 2 of the Linux backend; `crate::packet::Tap` gives these meaning.

use std::io;
use std::mem::zeroed;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Opens `/dev/net/tun` (close-on-exec, nonblocking) and attaches it to the
/// TAP device `name` with `TUNSETIFF` (`IFF_TAP | IFF_NO_PI`: whole
/// Ethernet frames, no packet-information header), creating the device if
/// no device has that name. Returns the descriptor and the name the kernel
/// used.
///
/// `name` must be shorter than `IFNAMSIZ` and contain no NUL (checked,
/// `EINVAL`). The kernel answers `EINVAL` when a device of another type
/// has the name and `EBUSY` when the TAP device is already attached to
/// another descriptor.
pub(crate) fn open_tap(name: &str) -> io::Result<(OwnedFd, String)> {
    if name.len() >= libc::IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let fd = syscall!(open(
        c"/dev/net/tun".as_ptr(),
        libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK
    ))?;
    // SAFETY: `fd` was just returned by open(2) and is owned by no one else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };

    // SAFETY: ifreq is plain old data (a name and a union of integers,
    // addresses and a pointer); all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // TUNSETIFF reads and writes one `struct ifreq`, and `ifr` is a live,
    // exclusively borrowed one.
    syscall!(ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut ifr))?;

    let used: Vec<u8> = ifr
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let used = String::from_utf8(used).unwrap_or_else(|_| name.to_owned());
    Ok((fd, used))
}

/// Reads one frame into `buf` and returns its length (cut to `buf.len()`:
/// a TAP `read` returns only what it copied). `EAGAIN` when none waits;
/// retries on `EINTR`.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // `buf` is live and exclusively borrowed; the kernel writes at most
        // `buf.len()` bytes into it.
        match syscall!(read(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len()
        )) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes one frame. `EAGAIN` when the device cannot take it now; retries
/// on `EINTR`.
pub(crate) fn write(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<usize> {
    loop {
        // `frame` is a live buffer of `frame.len()` bytes; the kernel only
        // reads it.
        match syscall!(write(
            fd.as_raw_fd(),
            frame.as_ptr() as *const libc::c_void,
            frame.len()
        )) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
