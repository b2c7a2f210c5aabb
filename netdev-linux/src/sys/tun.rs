//! TUN/TAP system calls: create (or attach to) a TAP device through
//! `/dev/net/tun`, and move one frame per `read`/`write` on its descriptor.
//!
//! Layer 2 of the Linux backend; `crate::packet::Tap` gives these meaning.

use std::io;
use std::mem::zeroed;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Opens `/dev/net/tun` (close-on-exec, nonblocking) and attaches it to the
/// TAP device `name` with `TUNSETIFF` (`IFF_TAP | IFF_NO_PI |
/// IFF_VNET_HDR`: whole Ethernet frames, each read and written after a
/// 10-byte `virtio_net_hdr`), creating the device if
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
    ifr.ifr_ifru.ifru_flags =
        (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
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

/// Which offloads the kernel may leave to the reader of the tap
/// (`TUNSETOFFLOAD`: `TUN_F_CSUM`, `TUN_F_TSO4`...; 0: complete frames
/// only).
pub(crate) fn set_offload(fd: BorrowedFd<'_>, flags: libc::c_uint) -> io::Result<()> {
    // TUNSETOFFLOAD takes its argument by value.
    syscall!(ioctl(
        fd.as_raw_fd(),
        libc::TUNSETOFFLOAD,
        flags as libc::c_ulong
    ))?;
    Ok(())
}

/// Reads one frame's `virtio_net_hdr` into `hdr` and the frame into `buf`
/// with one `readv(2)`; returns the bytes read, header included (cut to
/// the buffers). `EAGAIN` when none waits; retries on `EINTR`.
pub(crate) fn read_prefixed(
    fd: BorrowedFd<'_>,
    hdr: &mut [u8],
    buf: &mut [u8],
) -> io::Result<usize> {
    let iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr() as *mut libc::c_void,
            iov_len: hdr.len(),
        },
        libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        },
    ];
    loop {
        // `iov` describes two live buffers exclusively borrowed for this
        // call; the kernel writes at most their lengths.
        match syscall!(readv(fd.as_raw_fd(), iov.as_ptr(), 2)) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `hdr` (a `virtio_net_hdr`) and `frame` as one frame with one
/// `writev(2)`. `EAGAIN` when the device cannot take it now; retries on
/// `EINTR`.
pub(crate) fn write_prefixed(fd: BorrowedFd<'_>, hdr: &[u8], frame: &[u8]) -> io::Result<usize> {
    let iov = [
        libc::iovec {
            iov_base: hdr.as_ptr() as *mut libc::c_void,
            iov_len: hdr.len(),
        },
        libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        },
    ];
    loop {
        // `iov` describes two live buffers; the kernel only reads them.
        match syscall!(writev(fd.as_raw_fd(), iov.as_ptr(), 2)) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}
