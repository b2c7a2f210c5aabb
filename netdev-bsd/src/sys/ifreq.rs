//! Interface ioctls on an `AF_INET` datagram socket: flags (with
//! `ifr_flagshigh`), MTU, link-level address, media, rename, destroy, and
//! the IPv4 address with its netmask.
//!
//! One small builder owns the `ifreq` ([`ifreq`]); one `unsafe` ioctl call
//! ([`ioctl`]) takes it. The request numbers libc does not define for
//! FreeBSD are encoded here from `<sys/sockio.h>`; [`super::layout`] checks
//! the ones libc has and the sizes the encodings depend on.

use std::io;
use std::mem::zeroed;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{ifname, iow, iowr};

/// `SIOCSIFFLAGS`: `_IOW('i', 16, struct ifreq)`.
pub(crate) const SIOCSIFFLAGS: libc::c_ulong = iow::<libc::ifreq>(b'i', 16);
/// `SIOCGIFFLAGS`: `_IOWR('i', 17, struct ifreq)`.
pub(crate) const SIOCGIFFLAGS: libc::c_ulong = iowr::<libc::ifreq>(b'i', 17);
/// `SIOCDIFADDR`: `_IOW('i', 25, struct ifreq)`.
pub(crate) const SIOCDIFADDR: libc::c_ulong = iow::<libc::ifreq>(b'i', 25);
/// `SIOCGIFADDR`: `_IOWR('i', 33, struct ifreq)` (libc has this one; the
/// layout module checks the encoding against it).
pub(crate) const SIOCGIFADDR: libc::c_ulong = iowr::<libc::ifreq>(b'i', 33);
/// `SIOCGIFNETMASK`: `_IOWR('i', 37, struct ifreq)`.
pub(crate) const SIOCGIFNETMASK: libc::c_ulong = iowr::<libc::ifreq>(b'i', 37);
/// `SIOCSIFNAME`: `_IOW('i', 40, struct ifreq)`.
pub(crate) const SIOCSIFNAME: libc::c_ulong = iow::<libc::ifreq>(b'i', 40);
/// `SIOCAIFADDR`: `_IOW('i', 43, struct ifaliasreq)` (FreeBSD 10 and
/// later; 26 is the 9.x `oifaliasreq` compatibility number).
pub(crate) const SIOCAIFADDR: libc::c_ulong = iow::<libc::ifaliasreq>(b'i', 43);
/// `SIOCGIFMTU`: `_IOWR('i', 51, struct ifreq)`.
pub(crate) const SIOCGIFMTU: libc::c_ulong = iowr::<libc::ifreq>(b'i', 51);
/// `SIOCSIFMTU`: `_IOW('i', 52, struct ifreq)`.
pub(crate) const SIOCSIFMTU: libc::c_ulong = iow::<libc::ifreq>(b'i', 52);
/// `SIOCGIFMEDIA`: `_IOWR('i', 56, struct ifmediareq)`.
pub(crate) const SIOCGIFMEDIA: libc::c_ulong = iowr::<libc::ifmediareq>(b'i', 56);
/// `SIOCSIFLLADDR`: `_IOW('i', 60, struct ifreq)`.
pub(crate) const SIOCSIFLLADDR: libc::c_ulong = iow::<libc::ifreq>(b'i', 60);
/// `SIOCIFDESTROY`: `_IOW('i', 121, struct ifreq)`.
pub(crate) const SIOCIFDESTROY: libc::c_ulong = iow::<libc::ifreq>(b'i', 121);

/// A socket for interface ioctls (any `AF_INET` socket will do).
pub(crate) fn inet_socket() -> io::Result<OwnedFd> {
    let fd = syscall!(socket(
        libc::AF_INET,
        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
        0
    ))?;
    // SAFETY: `fd` was just returned by socket(2) and belongs to nobody
    // else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// An `ifreq` naming `name`; `EINVAL` if the name does not fit.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    // SAFETY: ifreq is plain old data (a name and a union of integers,
    // addresses and pointers); all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { zeroed() };
    ifr.ifr_name = ifname(name)?;
    Ok(ifr)
}

/// The one ioctl call of this module. Every request passed here reads or
/// writes exactly the `T` given (an `ifreq`, `ifmediareq` or
/// `ifaliasreq`, as its encoding says), plus any buffer that `T` points
/// at, which the caller keeps alive for the call.
fn ioctl<T>(sock: BorrowedFd<'_>, request: libc::c_ulong, arg: &mut T) -> io::Result<()> {
    syscall!(ioctl(sock.as_raw_fd(), request, arg as *mut T))?;
    Ok(())
}

/// The interface flags, `ifr_flags | ifr_flagshigh << 16` (so
/// `IFF_PPROMISC` and the other high flags are seen).
pub(crate) fn get_flags(sock: BorrowedFd<'_>, name: &str) -> io::Result<u32> {
    let mut ifr = ifreq(name)?;
    ioctl(sock, SIOCGIFFLAGS, &mut ifr)?;
    // SAFETY: after SIOCGIFFLAGS the union holds `ifru_flags`; every bit
    // pattern is a valid pair of shorts.
    let [lo, hi] = unsafe { ifr.ifr_ifru.ifru_flags };
    Ok(u32::from(lo as u16) | (u32::from(hi as u16) << 16))
}

/// Sets all interface flags (low half in `ifr_flags`, high half in
/// `ifr_flagshigh`).
pub(crate) fn set_flags(sock: BorrowedFd<'_>, name: &str, flags: u32) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    ifr.ifr_ifru.ifru_flags = [
        flags as u16 as libc::c_short,
        (flags >> 16) as u16 as libc::c_short,
    ];
    ioctl(sock, SIOCSIFFLAGS, &mut ifr)
}

/// The MTU.
pub(crate) fn get_mtu(sock: BorrowedFd<'_>, name: &str) -> io::Result<u32> {
    let mut ifr = ifreq(name)?;
    ioctl(sock, SIOCGIFMTU, &mut ifr)?;
    // SAFETY: after SIOCGIFMTU the union holds `ifru_mtu`, an int.
    let mtu = unsafe { ifr.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).map_err(|_| io::Error::from_raw_os_error(libc::EPROTO))
}

/// Sets the MTU.
pub(crate) fn set_mtu(sock: BorrowedFd<'_>, name: &str, mtu: u32) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    ifr.ifr_ifru.ifru_mtu =
        libc::c_int::try_from(mtu).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    ioctl(sock, SIOCSIFMTU, &mut ifr)
}

/// Sets the Ethernet address (`SIOCSIFLLADDR`, an `AF_LINK` sockaddr of
/// length 6 in `ifr_addr`).
pub(crate) fn set_lladdr(sock: BorrowedFd<'_>, name: &str, mac: [u8; 6]) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    // SAFETY: sockaddr is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr = unsafe { zeroed() };
    sa.sa_family = libc::AF_LINK as libc::sa_family_t;
    sa.sa_len = mac.len() as u8;
    for (dst, src) in sa.sa_data.iter_mut().zip(mac) {
        *dst = src as libc::c_char;
    }
    ifr.ifr_ifru.ifru_addr = sa;
    ioctl(sock, SIOCSIFLLADDR, &mut ifr)
}

/// Renames interface `from` to `to` (`SIOCSIFNAME`: `ifr_data` points at
/// the new, NUL-terminated name).
pub(crate) fn rename(sock: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    let mut ifr = ifreq(from)?;
    let mut new_name = ifname(to)?;
    ifr.ifr_ifru.ifru_data = new_name.as_mut_ptr();
    // `new_name` outlives the call; the kernel reads at most IFNAMSIZ
    // bytes from it and it is NUL-terminated (ifname guarantees a NUL).
    ioctl(sock, SIOCSIFNAME, &mut ifr)
}

/// Destroys a cloned interface (`SIOCIFDESTROY`).
pub(crate) fn destroy(sock: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    ioctl(sock, SIOCIFDESTROY, &mut ifr)
}

/// What `SIOCGIFMEDIA` tells: the current, active and status words and the
/// list of supported media words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Media {
    pub(crate) current: i32,
    pub(crate) mask: i32,
    pub(crate) status: i32,
    pub(crate) active: i32,
    pub(crate) list: Vec<i32>,
}

fn media_call(
    sock: BorrowedFd<'_>,
    name: &str,
    list: &mut [libc::c_int],
) -> io::Result<libc::ifmediareq> {
    // SAFETY: ifmediareq is plain old data (a name, ints and a pointer);
    // all-zero (a null list of count 0) is valid.
    let mut ifmr: libc::ifmediareq = unsafe { zeroed() };
    ifmr.ifm_name = ifname(name)?;
    if !list.is_empty() {
        ifmr.ifm_count = libc::c_int::try_from(list.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        ifmr.ifm_ulist = list.as_mut_ptr();
    }
    // `list` is live and exclusively borrowed for the call; the kernel
    // writes at most `ifm_count` ints into it.
    ioctl(sock, SIOCGIFMEDIA, &mut ifmr)?;
    Ok(ifmr)
}

/// `SIOCGIFMEDIA` in two calls: the first (with no list) tells the status
/// words and how many media words there are; the second fills a list of
/// exactly that size. The counts are checked by `crate::wire::media`
/// (negative or absurdly large is an error), and a list that grew between the calls is asked again (a
/// few times, then `EAGAIN`). `EINVAL`/`ENOTTY`/`EOPNOTSUPP`: the
/// interface has no media (loopback, tap).
pub(crate) fn get_media(sock: BorrowedFd<'_>, name: &str) -> io::Result<Media> {
    let mut list: Vec<libc::c_int> = Vec::new();
    for _ in 0..4 {
        let first = media_call(sock, name, &mut [])?;
        let count = crate::wire::media::media_list_len(first.ifm_count)?;
        let mut media = Media {
            current: first.ifm_current,
            mask: first.ifm_mask,
            status: first.ifm_status,
            active: first.ifm_active,
            list: Vec::new(),
        };
        if count == 0 {
            return Ok(media);
        }
        list.clear();
        list.resize(count, 0);
        let second = match media_call(sock, name, &mut list) {
            Ok(r) => r,
            // The list grew past our buffer between the calls.
            Err(e) if e.raw_os_error() == Some(libc::E2BIG) => continue,
            Err(e) => return Err(e),
        };
        let words: Vec<u32> = list.iter().map(|&w| w as u32).collect();
        let got = crate::wire::media::received_words(&words, second.ifm_count)?;
        if got.truncated {
            continue;
        }
        media.current = second.ifm_current;
        media.mask = second.ifm_mask;
        media.status = second.ifm_status;
        media.active = second.ifm_active;
        media.list = got.words.iter().map(|&w| w as i32).collect();
        return Ok(media);
    }
    Err(io::Error::from_raw_os_error(libc::EAGAIN))
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    // SAFETY: sockaddr_in is plain old data; all-zero is valid.
    let mut sin: libc::sockaddr_in = unsafe { zeroed() };
    sin.sin_len = std::mem::size_of::<libc::sockaddr_in>() as u8;
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr.s_addr = u32::from(addr).to_be();
    // The kernel reads an AF_INET address out of a `struct sockaddr` slot.
    // SAFETY: both are 16 bytes of plain old data (checked in `layout`).
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

fn in_addr_of(sa: &libc::sockaddr) -> Ipv4Addr {
    // SAFETY: the kernel put an AF_INET sockaddr in this slot; it is as
    // large as a sockaddr_in (checked in `layout`) and plain old data.
    let sin: libc::sockaddr_in = unsafe {
        std::ptr::read_unaligned(sa as *const libc::sockaddr as *const libc::sockaddr_in)
    };
    Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
}

/// The first IPv4 address of `name` and its netmask; `None` if it has
/// none (`EADDRNOTAVAIL`).
pub(crate) fn get_in4(
    sock: BorrowedFd<'_>,
    name: &str,
) -> io::Result<Option<(Ipv4Addr, Ipv4Addr)>> {
    let mut ifr = ifreq(name)?;
    match ioctl(sock, SIOCGIFADDR, &mut ifr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => return Ok(None),
        Err(e) => return Err(e),
    }
    // SAFETY: after SIOCGIFADDR the union holds `ifru_addr`.
    let addr = in_addr_of(unsafe { &ifr.ifr_ifru.ifru_addr });
    let mut ifr = ifreq(name)?;
    ifr.ifr_ifru.ifru_addr = sockaddr_in(addr);
    ioctl(sock, SIOCGIFNETMASK, &mut ifr)?;
    // SAFETY: after SIOCGIFNETMASK the union holds `ifru_addr`.
    let mask = in_addr_of(unsafe { &ifr.ifr_ifru.ifru_addr });
    Ok(Some((addr, mask)))
}

/// Removes the IPv4 address `addr` from `name` (`SIOCDIFADDR`).
pub(crate) fn del_in4(sock: BorrowedFd<'_>, name: &str, addr: Ipv4Addr) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    ifr.ifr_ifru.ifru_addr = sockaddr_in(addr);
    ioctl(sock, SIOCDIFADDR, &mut ifr)
}

/// Adds the IPv4 address `addr` with `netmask` to `name` (`SIOCAIFADDR`
/// with an `ifaliasreq`; the kernel derives the broadcast address).
pub(crate) fn add_in4(
    sock: BorrowedFd<'_>,
    name: &str,
    addr: Ipv4Addr,
    netmask: Ipv4Addr,
) -> io::Result<()> {
    // SAFETY: ifaliasreq is plain old data; all-zero is valid (an empty
    // broadcast address, vhid 0).
    let mut ifra: libc::ifaliasreq = unsafe { zeroed() };
    ifra.ifra_name = ifname(name)?;
    ifra.ifra_addr = sockaddr_in(addr);
    ifra.ifra_mask = sockaddr_in(netmask);
    ioctl(sock, SIOCAIFADDR, &mut ifra)
}

/// The interface index of `name`; `ENXIO`/`ENODEV` if there is none.
pub(crate) fn name_to_index(name: &str) -> io::Result<u32> {
    let raw = ifname(name)?;
    // SAFETY: `raw` is a NUL-terminated array that lives for the call.
    let index = unsafe { libc::if_nametoindex(raw.as_ptr()) };
    if index == 0 {
        let e = io::Error::last_os_error();
        // if_nametoindex leaves errno unset when the name is simply absent.
        return Err(match e.raw_os_error() {
            Some(0) | None => io::Error::from_raw_os_error(libc::ENXIO),
            _ => e,
        });
    }
    Ok(index)
}
