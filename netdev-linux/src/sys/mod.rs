//! Layer 2: the system calls of the Linux backend. The only place in this
//! crate with `unsafe`; every block says why it is sound. Functions are
//! small, take and return safe types, and turn `-1` into `io::Error`.

#![allow(unsafe_code)]

/// Calls a libc function, turning a `-1` return into the thread's `errno`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: call sites pass pointers to live, correctly sized buffers
        // they own for the call (each says which); this adds errno only.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

pub(crate) mod ifreq;
pub(crate) mod netlink;
pub(crate) mod packet;
pub(crate) mod ring;
pub(crate) mod sched;
pub(crate) mod strict;
pub(crate) mod tun;
