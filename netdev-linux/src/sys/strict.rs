//! `NETLINK_GET_STRICT_CHK`: asks the kernel to check GET requests strictly
//! and, in return, to honour the filters they carry (an `RTM_GETADDR` dump
//! of one link's addresses instead of every address of the namespace).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `NETLINK_GET_STRICT_CHK` from `linux/netlink.h` (Linux 4.20).
const NETLINK_GET_STRICT_CHK: libc::c_int = 12;

/// Turns strict checking on for the Netlink socket `sock`. Kernels before
/// 4.20 answer `ENOPROTOOPT`.
pub(crate) fn enable_strict_check(sock: BorrowedFd<'_>) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a live c_int for the duration of the call and its
    // size is passed; the descriptor is borrowed, so it is open.
    syscall!(setsockopt(
        sock.as_raw_fd(),
        libc::SOL_NETLINK,
        NETLINK_GET_STRICT_CHK,
        &on as *const libc::c_int as *const libc::c_void,
        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
    ))
    .map(drop)
}
