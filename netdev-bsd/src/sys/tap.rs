//! `/dev/tap`: clone a tap interface by opening the cloning device, learn
//! its name, and move one frame per `read`/`write` on its descriptor.
//!
//! `crate::tap` sequences these (with the undo of each step).

use std::io::{self, IoSliceMut};
use std::mem::zeroed;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{ior, name_from, retry_eintr};

/// `TAPGIFNAME` (`TUNGIFNAME` since FreeBSD 13): `_IOR('t', 93, struct
/// ifreq)`.
pub(crate) const TAPGIFNAME: libc::c_ulong = ior::<libc::ifreq>(b't', 93);

/// Opens `/dev/tap`, which clones a new `tapN` interface, close-on-exec
/// and nonblocking from the start (no separate step that could fail with
/// the interface already made).
pub(crate) fn open_clone() -> io::Result<OwnedFd> {
    let fd = syscall!(open(
        c"/dev/tap".as_ptr(),
        libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK
    ))?;
    // SAFETY: `fd` was just returned by open(2) and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The interface name of the tap behind `fd` (`TAPGIFNAME`).
pub(crate) fn tap_name(fd: BorrowedFd<'_>) -> io::Result<String> {
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { zeroed() };
    // TAPGIFNAME writes one `struct ifreq` (its name), and `ifr` is a live,
    // exclusively borrowed one.
    syscall!(ioctl(
        fd.as_raw_fd(),
        TAPGIFNAME,
        &mut ifr as *mut libc::ifreq
    ))?;
    let name = name_from(&ifr.ifr_name);
    if name.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    }
    Ok(name)
}

/// The device name of the character device behind `fd` (`tap3` for
/// `/dev/tap3`), from `fstat` and `devname_r`: the way to learn which
/// interface to destroy when `TAPGIFNAME` itself failed (the seed leaked
/// the interface there).
pub(crate) fn dev_name(fd: BorrowedFd<'_>) -> io::Result<String> {
    // SAFETY: stat is plain old data; all-zero is valid.
    let mut st: libc::stat = unsafe { zeroed() };
    // `st` is a live, exclusively borrowed stat for fstat to fill.
    syscall!(fstat(fd.as_raw_fd(), &mut st))?;
    let mut buf = [0 as libc::c_char; 64];
    // devname_r writes a NUL-terminated name of at most the length given
    // and returns `buf` (or a static "#..." string) or null.
    // SAFETY: `buf` is live and 64 bytes long, and that is the length given.
    let p = unsafe {
        libc::devname_r(
            st.st_rdev,
            libc::S_IFCHR,
            buf.as_mut_ptr(),
            buf.len() as libc::c_int,
        )
    };
    if p.is_null() {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    let name = name_from(&buf);
    // devname_r answers "#C:..." when the device has no name.
    if name.is_empty() || name.starts_with('#') {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    Ok(name)
}

/// Reads one frame into `buf`, dropping what does not fit (`tunread`
/// frees the rest): for draining. Receive queues use [`readv`], which
/// measures a frame cut by its slot. `EAGAIN` when none waits; retries on
/// `EINTR`.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // `buf` is live and exclusively borrowed; the kernel writes at most
    // `buf.len()` bytes into it.
    retry_eintr(|| {
        syscall!(read(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len()
        ))
    })
    .map(|n| n as usize)
}

/// Reads one frame across `bufs`, in order (`tunread` moves it with
/// `uiomove`, which walks the iovecs): with a spill buffer after the
/// caller's slot, the count returned is the frame's whole length even when
/// the slot cut it (`crate::rx::read_frame`). `EAGAIN` when none waits;
/// retries on `EINTR`.
pub(crate) fn readv(fd: BorrowedFd<'_>, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    let count = libc::c_int::try_from(bufs.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // `IoSliceMut` is guaranteed ABI-compatible with `struct iovec` on
    // Unix; each one points at a live, exclusively borrowed buffer of
    // its length, and `count` is the number of them.
    retry_eintr(|| {
        syscall!(readv(
            fd.as_raw_fd(),
            bufs.as_mut_ptr() as *const libc::iovec,
            count
        ))
    })
    .map(|n| n as usize)
}

/// Writes one frame. `EAGAIN` when the device cannot take it now; retries
/// on `EINTR`.
pub(crate) fn write(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<usize> {
    // `frame` is a live buffer of `frame.len()` bytes; the kernel only
    // reads it.
    retry_eintr(|| {
        syscall!(write(
            fd.as_raw_fd(),
            frame.as_ptr() as *const libc::c_void,
            frame.len()
        ))
    })
    .map(|n| n as usize)
}
