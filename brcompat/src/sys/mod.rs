//! Layer 2: the system calls brcompat makes that `nix` does not wrap
//! safely. The only module of this crate with `unsafe`; every block says
//! why it is sound.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;

/// Accepts one connection on a listening socket, the new descriptor
/// non-blocking and close-on-exec. `WouldBlock` when none is waiting.
pub(crate) fn accept(listener: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // SAFETY: `listener` is a live descriptor for the call; null address
    // and length pointers are allowed (we do not want the peer's address).
    let fd = unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            ptr::null_mut(),
            ptr::null_mut(),
            libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: accept4 just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
