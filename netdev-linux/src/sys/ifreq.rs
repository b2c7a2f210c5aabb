//! Interface ioctls on an `AF_INET` datagram socket: IPv4 address and
//! netmask, and ethtool link settings (`SIOCETHTOOL`).

use std::io;
use std::mem::zeroed;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::ethtool::EthtoolSettings;

/// A socket for interface ioctls (any AF_INET socket will do). Ioctls act
/// in the network namespace the socket was created in, so callers keep one
/// per namespace.
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

/// An `ifreq` naming `name` (already validated: at most 15 bytes).
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    if name.len() >= libc::IFNAMSIZ || name.as_bytes().contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut ifr: libc::ifreq = unsafe { zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = *src as libc::c_char;
    }
    Ok(ifr)
}

fn ioctl(sock: BorrowedFd<'_>, request: libc::Ioctl, ifr: &mut libc::ifreq) -> io::Result<()> {
    // `ifr` is a live, exclusively borrowed ifreq; every request passed here
    // reads or writes only an ifreq (or, for SIOCETHTOOL, the buffer its
    // ifru_data points at, which the caller keeps alive).
    syscall!(ioctl(sock.as_raw_fd(), request, ifr as *mut libc::ifreq))?;
    Ok(())
}

fn sockaddr_in_addr(ifr: &libc::ifreq) -> Ipv4Addr {
    // SAFETY: after SIOCGIFADDR/SIOCGIFNETMASK the union holds an AF_INET
    // sockaddr, i.e. a sockaddr_in: same size, plain old data.
    let sin: libc::sockaddr_in = unsafe {
        std::ptr::read_unaligned(
            &ifr.ifr_ifru.ifru_addr as *const libc::sockaddr as *const libc::sockaddr_in,
        )
    };
    Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
}

fn set_sockaddr_in(ifr: &mut libc::ifreq, addr: Ipv4Addr) {
    // SAFETY: sockaddr_in is plain old data; all-zero is valid.
    let mut sin: libc::sockaddr_in = unsafe { zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr.s_addr = u32::from(addr).to_be();
    // SAFETY: the union's sockaddr member is exactly as large as a
    // sockaddr_in; writing one there is how SIOCSIFADDR expects it.
    unsafe {
        std::ptr::write_unaligned(
            &mut ifr.ifr_ifru.ifru_addr as *mut libc::sockaddr as *mut libc::sockaddr_in,
            sin,
        );
    }
}

/// The primary IPv4 address and netmask of `name`; `None` if it has none.
pub(crate) fn get_in4(
    sock: BorrowedFd<'_>,
    name: &str,
) -> io::Result<Option<(Ipv4Addr, Ipv4Addr)>> {
    let mut ifr = ifreq(name)?;
    match ioctl(sock, libc::SIOCGIFADDR, &mut ifr) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => return Ok(None),
        Err(e) => return Err(e),
    }
    let addr = sockaddr_in_addr(&ifr);
    let mut ifr = ifreq(name)?;
    ioctl(sock, libc::SIOCGIFNETMASK, &mut ifr)?;
    Ok(Some((addr, sockaddr_in_addr(&ifr))))
}

/// Sets the primary IPv4 address and netmask of `name`; address 0.0.0.0
/// removes it.
pub(crate) fn set_in4(
    sock: BorrowedFd<'_>,
    name: &str,
    addr: Ipv4Addr,
    netmask: Ipv4Addr,
) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    set_sockaddr_in(&mut ifr, addr);
    ioctl(sock, libc::SIOCSIFADDR, &mut ifr)?;
    if !addr.is_unspecified() {
        let mut ifr = ifreq(name)?;
        set_sockaddr_in(&mut ifr, netmask);
        ioctl(sock, libc::SIOCSIFNETMASK, &mut ifr)?;
    }
    Ok(())
}

const ETHTOOL_GSET: u32 = 0x1;
const ETHTOOL_GLINKSETTINGS: u32 = 0x4c;
/// Most 32-bit words one link-mode mask can have (`link_mode_masks_nwords`
/// is an `s8`).
const MAX_NWORDS: usize = 127;

/// `struct ethtool_link_settings` followed by room for its three masks.
#[repr(C)]
struct LinkSettingsBuf {
    /// The 48-byte fixed part, as 32-bit words (see `EthtoolSettings`).
    hdr: [u32; 12],
    masks: [u32; 3 * MAX_NWORDS],
}

/// `struct ethtool_cmd` (the legacy `ETHTOOL_GSET` answer).
#[repr(C)]
#[derive(Default)]
struct EthtoolCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

fn ethtool(sock: BorrowedFd<'_>, name: &str, data: *mut libc::c_void) -> io::Result<()> {
    let mut ifr = ifreq(name)?;
    ifr.ifr_ifru.ifru_data = data as *mut libc::c_char;
    ioctl(sock, libc::SIOCETHTOOL as libc::Ioctl, &mut ifr)
}

/// The link settings of `name`: `ETHTOOL_GLINKSETTINGS`, falling back to
/// the legacy `ETHTOOL_GSET`. Devices without ethtool support answer
/// `EOPNOTSUPP`.
pub(crate) fn ethtool_settings(sock: BorrowedFd<'_>, name: &str) -> io::Result<EthtoolSettings> {
    let mut buf = Box::new(LinkSettingsBuf {
        hdr: [0; 12],
        masks: [0; 3 * MAX_NWORDS],
    });
    buf.hdr[0] = ETHTOOL_GLINKSETTINGS;
    // First call with nwords 0: the kernel answers with -(nwords it needs).
    match ethtool(
        sock,
        name,
        &mut *buf as *mut LinkSettingsBuf as *mut libc::c_void,
    ) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => return legacy_settings(sock, name),
        Err(e) => return Err(e),
    }
    let nwords = -i32::from(header_nwords(&buf.hdr));
    if nwords <= 0 || nwords as usize > MAX_NWORDS {
        return legacy_settings(sock, name);
    }
    let n = nwords as usize;
    buf.hdr = [0; 12];
    buf.hdr[0] = ETHTOOL_GLINKSETTINGS;
    set_header_nwords(&mut buf.hdr, nwords as i8);
    ethtool(
        sock,
        name,
        &mut *buf as *mut LinkSettingsBuf as *mut libc::c_void,
    )?;
    let b2 = buf.hdr[2].to_ne_bytes();
    Ok(EthtoolSettings {
        speed: buf.hdr[1],
        duplex: b2[0],
        port: b2[1],
        autoneg: b2[3],
        supported: buf.masks[..n].to_vec(),
        advertising: buf.masks[n..2 * n].to_vec(),
        lp_advertising: buf.masks[2 * n..3 * n].to_vec(),
    })
}

/// Offset of `link_mode_masks_nwords` (an `s8`) in `struct
/// ethtool_link_settings`: after cmd, speed (4 bytes each) and seven
/// one-byte fields. Addressed as a byte, not by shifting the word that
/// holds it, which would pick another byte on big-endian machines.
const NWORDS_BYTE: usize = 15;

fn header_nwords(hdr: &[u32; 12]) -> i8 {
    hdr[NWORDS_BYTE / 4].to_ne_bytes()[NWORDS_BYTE % 4] as i8
}

fn set_header_nwords(hdr: &mut [u32; 12], nwords: i8) {
    let mut word = hdr[NWORDS_BYTE / 4].to_ne_bytes();
    word[NWORDS_BYTE % 4] = nwords as u8;
    hdr[NWORDS_BYTE / 4] = u32::from_ne_bytes(word);
}

const ETHTOOL_GDRVINFO: u32 = 0x3;

/// `struct ethtool_drvinfo`.
#[repr(C)]
struct EthtoolDrvinfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// What `ETHTOOL_GDRVINFO` says about a device's driver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DriverInfo {
    pub(crate) driver: String,
    pub(crate) version: String,
    pub(crate) fw_version: String,
    pub(crate) bus_info: String,
}

/// A NUL-terminated field of a kernel struct; bytes that are not UTF-8 are
/// replaced rather than trusted.
fn c_field(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The driver of `name` (`ETHTOOL_GDRVINFO`).
pub(crate) fn ethtool_drvinfo(sock: BorrowedFd<'_>, name: &str) -> io::Result<DriverInfo> {
    let mut info = EthtoolDrvinfo {
        cmd: ETHTOOL_GDRVINFO,
        driver: [0; 32],
        version: [0; 32],
        fw_version: [0; 32],
        bus_info: [0; 32],
        erom_version: [0; 32],
        reserved2: [0; 12],
        n_priv_flags: 0,
        n_stats: 0,
        testinfo_len: 0,
        eedump_len: 0,
        regdump_len: 0,
    };
    ethtool(
        sock,
        name,
        &mut info as *mut EthtoolDrvinfo as *mut libc::c_void,
    )?;
    Ok(DriverInfo {
        driver: c_field(&info.driver),
        version: c_field(&info.version),
        fw_version: c_field(&info.fw_version),
        bus_info: c_field(&info.bus_info),
    })
}

fn legacy_settings(sock: BorrowedFd<'_>, name: &str) -> io::Result<EthtoolSettings> {
    let mut cmd = EthtoolCmd {
        cmd: ETHTOOL_GSET,
        ..EthtoolCmd::default()
    };
    ethtool(sock, name, &mut cmd as *mut EthtoolCmd as *mut libc::c_void)?;
    Ok(EthtoolSettings {
        speed: (u32::from(cmd.speed_hi) << 16) | u32::from(cmd.speed),
        duplex: cmd.duplex,
        port: cmd.port,
        autoneg: cmd.autoneg,
        supported: vec![cmd.supported],
        advertising: vec![cmd.advertising],
        lp_advertising: vec![cmd.lp_advertising],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_sizes_match_the_kernel() {
        assert_eq!(std::mem::size_of::<EthtoolCmd>(), 44);
        assert_eq!(std::mem::size_of::<[u32; 12]>(), 48);
        assert_eq!(std::mem::size_of::<libc::ifreq>(), 40);
    }

    #[test]
    fn nwords_is_byte_15_whatever_the_byte_order() {
        // The header as the kernel lays it out in memory: bytes.
        let mut bytes = [0u8; 48];
        bytes[12..16].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xfd]); // nwords -3
        let mut hdr = [0u32; 12];
        for (w, chunk) in hdr.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_ne_bytes(chunk.try_into().unwrap());
        }
        assert_eq!(header_nwords(&hdr), -3);
        set_header_nwords(&mut hdr, 5);
        let back: Vec<u8> = hdr.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(
            &back[12..16],
            &[0xaa, 0xbb, 0xcc, 5],
            "only byte 15 changes"
        );
        assert_eq!(std::mem::size_of::<EthtoolDrvinfo>(), 196);
    }

    #[test]
    fn driver_info_of_a_veth_peer_and_none_for_unknown() {
        use std::os::fd::AsFd;
        let sock = inet_socket().unwrap();
        // lo has a driver-less ethtool answer on some kernels and EOPNOTSUPP
        // on others; a missing device is always ENODEV.
        let e = ethtool_drvinfo(sock.as_fd(), "no-such-dev0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        assert_eq!(c_field(b"veth\0\0garbage"), "veth");
        assert_eq!(c_field(b"full-length"), "full-length");
    }

    #[test]
    fn loopback_has_no_ethtool_settings_and_names_are_checked() {
        use std::os::fd::AsFd;
        let sock = inet_socket().unwrap();
        let sock = sock.as_fd();
        let e = ethtool_settings(sock, "lo").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP));
        assert_eq!(
            get_in4(sock, "no-such-dev0").unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
        assert_eq!(
            get_in4(sock, "a-name-that-is-too-long")
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EINVAL)
        );
    }
}
