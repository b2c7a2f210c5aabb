//! Layer 2: the system calls brcompat makes that `nix` does not wrap
//! safely. The only module of this crate with `unsafe`; every block says
//! why it is sound.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

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

/// Where the stop-signal handler writes: the write end of the daemon's
/// self-pipe, or -1 before [`install_stop_signals`].
static STOP_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_stop_signal(signo: libc::c_int) {
    let fd = STOP_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // Truncation is fine: SIGINT and SIGTERM fit in a byte.
        let byte = signo as u8;
        // SAFETY: write(2) is async-signal-safe; `byte` outlives the call
        // and its length is 1. A full pipe (EAGAIN) already holds a wake-up.
        let _ = unsafe { libc::write(fd, ptr::addr_of!(byte).cast(), 1) };
    }
}

/// Makes SIGTERM and SIGINT write their number as one byte to `pipe_fd`
/// (the write end of a non-blocking pipe that the caller keeps open for
/// the rest of the process) instead of ending the process, so an event
/// loop polling the read end can shut down cleanly.
pub(crate) fn install_stop_signals(pipe_fd: BorrowedFd<'_>) -> io::Result<()> {
    STOP_FD.store(pipe_fd.as_raw_fd(), Ordering::Relaxed);
    for signo in [libc::SIGTERM, libc::SIGINT] {
        // A zeroed `sigaction` is a valid starting value (empty mask, no
        // flags); the handler only calls async-signal-safe functions.
        // SAFETY: valid sigaction built above; handler is async-signal-safe.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction =
                on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signo, &action, ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
