//! Sysctls: the routing socket's interface list (`NET_RT_IFLIST`, for one
//! interface or all) and the interface MIB (`net.link.generic`), addressed
//! directly by interface index, so reading one device's counters costs one
//! call whatever the number of interfaces.
//!
//! These return the kernel's bytes; `crate::wire` parses them.

use std::io;
use std::ptr;

/// `NETLINK_GENERIC` in `<net/if_mib.h>`: the generic interface subtree.
pub(crate) const NETLINK_GENERIC: libc::c_int = 0;
/// `IFMIB_SYSTEM`: system-wide values (`net.link.generic.system`).
pub(crate) const IFMIB_SYSTEM: libc::c_int = 1;
/// `IFMIB_IFDATA`: per-interface data (`net.link.generic.ifdata`).
pub(crate) const IFMIB_IFDATA: libc::c_int = 2;
/// `IFMIB_IFCOUNT`: the highest interface index in use.
pub(crate) const IFMIB_IFCOUNT: libc::c_int = 1;
/// `IFDATA_GENERAL`: a `struct ifmibdata`.
pub(crate) const IFDATA_GENERAL: libc::c_int = 1;
/// `IFDATA_DRIVERNAME`: the driver instance, `if_dname` and `if_dunit`
/// (`em0`), as a NUL-terminated string.
pub(crate) const IFDATA_DRIVERNAME: libc::c_int = 3;

/// How often a list that grew between sizing and reading is asked again.
const RETRIES: usize = 8;

/// `sysctl(mib)` into `buf`; returns the length the kernel wrote.
fn sysctl_into(mib: &[libc::c_int], buf: &mut [u8]) -> io::Result<usize> {
    let mut len = buf.len();
    let namelen = libc::c_uint::try_from(mib.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // `mib` is read for `namelen` ints; `buf` is live and exclusively
    // borrowed and the kernel writes at most `len` (its length) bytes;
    // `len` is updated in place; no new value is set (null, 0).
    syscall!(sysctl(
        mib.as_ptr(),
        namelen,
        buf.as_mut_ptr() as *mut libc::c_void,
        &mut len,
        ptr::null(),
        0
    ))?;
    Ok(len)
}

/// How many bytes `sysctl(mib)` would return now.
fn sysctl_size(mib: &[libc::c_int]) -> io::Result<usize> {
    let mut len = 0usize;
    let namelen = libc::c_uint::try_from(mib.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // A null old pointer asks only for the size, written to `len`.
    syscall!(sysctl(
        mib.as_ptr(),
        namelen,
        ptr::null_mut(),
        &mut len,
        ptr::null(),
        0
    ))?;
    Ok(len)
}

/// A variable-size sysctl read in two calls (size, then data) into `out`
/// (reused), retrying when the answer grew in between (`ENOMEM`).
fn sysctl_vec(mib: &[libc::c_int], out: &mut Vec<u8>) -> io::Result<()> {
    for _ in 0..RETRIES {
        let size = sysctl_size(mib)?;
        // Room for a little growth between the two calls.
        out.clear();
        out.resize(size + size / 8 + 512, 0);
        match sysctl_into(mib, out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(());
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

/// The `NET_RT_IFLIST` messages (`RTM_IFINFO` with its link-level
/// address, then `RTM_NEWADDR` per address) of interface `ifindex`, or of
/// every interface when `ifindex` is 0, into `out`.
pub(crate) fn iflist(ifindex: u32, out: &mut Vec<u8>) -> io::Result<()> {
    let index =
        libc::c_int::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mib = [
        libc::CTL_NET,
        libc::PF_ROUTE,
        0,
        libc::AF_UNSPEC,
        libc::NET_RT_IFLIST,
        index,
    ];
    sysctl_vec(&mib, out)
}

/// The `struct ifmibdata` of interface `ifindex`
/// (`net.link.generic.ifdata.<ifindex>.general`), into `out` (sized to
/// the struct); returns how many bytes the kernel wrote. `ENOENT` if no
/// interface has that index.
pub(crate) fn ifmib_general(ifindex: u32, out: &mut [u8]) -> io::Result<usize> {
    sysctl_into(&ifdata_mib(ifindex, IFDATA_GENERAL)?, out)
}

/// The driver instance of interface `ifindex`
/// (`net.link.generic.ifdata.<ifindex>.drivername`), into `out`; returns
/// how many bytes the kernel wrote (with the NUL). `ENOENT` if no
/// interface has that index.
pub(crate) fn drivername(ifindex: u32, out: &mut [u8]) -> io::Result<usize> {
    sysctl_into(&ifdata_mib(ifindex, IFDATA_DRIVERNAME)?, out)
}

/// `net.link.generic.ifdata.<ifindex>.<leaf>`.
fn ifdata_mib(ifindex: u32, leaf: libc::c_int) -> io::Result<[libc::c_int; 6]> {
    let index =
        libc::c_int::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    Ok([
        libc::CTL_NET,
        libc::PF_LINK,
        NETLINK_GENERIC,
        IFMIB_IFDATA,
        index,
        leaf,
    ])
}

/// The highest interface index in use (`net.link.generic.system.ifcount`).
pub(crate) fn ifcount() -> io::Result<u32> {
    let mib = [
        libc::CTL_NET,
        libc::PF_LINK,
        NETLINK_GENERIC,
        IFMIB_SYSTEM,
        IFMIB_IFCOUNT,
    ];
    let mut buf = [0u8; 4];
    let n = sysctl_into(&mib, &mut buf)?;
    if n != buf.len() {
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    }
    Ok(u32::from_ne_bytes(buf))
}
