//! Layer 2: the system calls of the FreeBSD backend. The only place in this
//! crate with `unsafe`; every block says why it is sound. Functions are
//! small, take and return safe types, and turn `-1` into `io::Error`.
//!
//! Compiled for `target_os = "freebsd"` only (the `cfg` is on the `mod`
//! line in `lib.rs`, nowhere inside). Without a FreeBSD host in CI, this
//! module is type-checked (`cargo clippy --target x86_64-unknown-freebsd`)
//! and its layouts are checked at compile time against the `libc` crate
//! ([`layout`]); what only a FreeBSD host can confirm is listed in
//! `crate::verification`.

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

/// Calls `f` again for as long as it fails with `EINTR`.
pub(crate) fn retry_eintr<T>(mut f: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            res => return res,
        }
    }
}

pub(crate) mod ifreq;
pub(crate) mod layout;
pub(crate) mod poll;
pub(crate) mod route;
pub(crate) mod sysctl;
pub(crate) mod tap;

/// Encodes an ioctl request number as `<sys/ioccom.h>` does:
/// direction bits, parameter length, group and number.
pub(crate) const fn ioc(dir: libc::c_ulong, group: u8, num: u8, len: usize) -> libc::c_ulong {
    dir | (((len as libc::c_ulong) & IOCPARM_MASK) << 16)
        | ((group as libc::c_ulong) << 8)
        | num as libc::c_ulong
}

/// `IOCPARM_MASK`: parameter lengths are 13 bits.
const IOCPARM_MASK: libc::c_ulong = 0x1fff;
/// `IOC_OUT`: the kernel copies the parameter out.
pub(crate) const IOC_OUT: libc::c_ulong = 0x4000_0000;
/// `IOC_IN`: the kernel copies the parameter in.
pub(crate) const IOC_IN: libc::c_ulong = 0x8000_0000;
/// `IOC_INOUT`.
pub(crate) const IOC_INOUT: libc::c_ulong = IOC_IN | IOC_OUT;

/// `_IOW(group, num, T)`.
pub(crate) const fn iow<T>(group: u8, num: u8) -> libc::c_ulong {
    ioc(IOC_IN, group, num, std::mem::size_of::<T>())
}

/// `_IOR(group, num, T)`.
pub(crate) const fn ior<T>(group: u8, num: u8) -> libc::c_ulong {
    ioc(IOC_OUT, group, num, std::mem::size_of::<T>())
}

/// `_IOWR(group, num, T)`.
pub(crate) const fn iowr<T>(group: u8, num: u8) -> libc::c_ulong {
    ioc(IOC_INOUT, group, num, std::mem::size_of::<T>())
}

/// Copies `name` into a NUL-padded `IFNAMSIZ` array; `EINVAL` if it does
/// not fit with its terminating NUL or contains a NUL.
pub(crate) fn ifname(name: &str) -> std::io::Result<[libc::c_char; libc::IFNAMSIZ]> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
    for (dst, src) in out.iter_mut().zip(name.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    Ok(out)
}

/// The text of a NUL-terminated name array, lossily decoded (the kernel's
/// bytes are not trusted to be UTF-8).
pub(crate) fn name_from(raw: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = raw
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The descriptor of `owner` (a pcap capture, say) as a `BorrowedFd` tied
/// to the borrow of `owner`.
pub(crate) fn borrow_fd<T: std::os::fd::AsRawFd>(owner: &T) -> std::os::fd::BorrowedFd<'_> {
    // SAFETY: `owner` keeps its descriptor open for as long as it lives,
    // and the returned value cannot outlive the borrow of `owner`.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(owner.as_raw_fd()) }
}
