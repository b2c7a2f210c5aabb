//! Builders of kernel-format bytes, field by field from [`super::layout`]:
//! fixtures for this crate's tests, the fuzz seeds, and the `sys` layer's
//! fakes. They write what the FreeBSD kernel writes (x86_64, native byte
//! order), including `SA_SIZE` padding and `ifi_datalen`, so the decoders
//! are tested against a layout spelled out once more rather than against
//! opaque hex.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::if_data::IfData;
use super::layout::*;
use super::route::sa_size;

/// A byte buffer written at offsets; grows with zeros as needed.
#[derive(Debug, Clone, Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    /// A zeroed buffer of `len` bytes.
    pub fn zeroed(len: usize) -> Writer {
        Writer(vec![0; len])
    }

    /// Writes `bytes` at `off`.
    pub fn put(&mut self, off: usize, bytes: &[u8]) -> &mut Writer {
        let end = off + bytes.len();
        if self.0.len() < end {
            self.0.resize(end, 0);
        }
        self.0[off..end].copy_from_slice(bytes);
        self
    }

    /// Writes a u8.
    pub fn u8(&mut self, off: usize, v: u8) -> &mut Writer {
        self.put(off, &[v])
    }

    /// Writes a native-endian u16.
    pub fn u16(&mut self, off: usize, v: u16) -> &mut Writer {
        self.put(off, &v.to_ne_bytes())
    }

    /// Writes a native-endian u32.
    pub fn u32(&mut self, off: usize, v: u32) -> &mut Writer {
        self.put(off, &v.to_ne_bytes())
    }

    /// Writes a native-endian u64.
    pub fn u64(&mut self, off: usize, v: u64) -> &mut Writer {
        self.put(off, &v.to_ne_bytes())
    }

    /// Writes `name` NUL-padded into a `char[IFNAMSIZ]` at `off` (cut to
    /// 15 bytes so the NUL fits).
    pub fn name(&mut self, off: usize, name: &str) -> &mut Writer {
        let mut field = [0u8; IFNAMSIZ];
        let n = name.len().min(IFNAMSIZ - 1);
        field[..n].copy_from_slice(&name.as_bytes()[..n]);
        self.put(off, &field)
    }

    /// The bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// A `struct if_data` ([`IF_DATA_LEN`] bytes) holding `d`.
pub fn if_data(d: &IfData) -> Vec<u8> {
    let mut w = Writer::zeroed(IF_DATA_LEN);
    w.u8(IFI_TYPE, d.if_type)
        .u8(IFI_LINK_STATE, d.link_state)
        .u16(IFI_DATALEN, IF_DATA_LEN as u16)
        .u32(IFI_MTU, d.mtu)
        .u32(IFI_METRIC, d.metric)
        .u64(IFI_BAUDRATE, d.baudrate)
        .u64(IFI_IPACKETS, d.ipackets)
        .u64(IFI_IERRORS, d.ierrors)
        .u64(IFI_OPACKETS, d.opackets)
        .u64(IFI_OERRORS, d.oerrors)
        .u64(IFI_COLLISIONS, d.collisions)
        .u64(IFI_IBYTES, d.ibytes)
        .u64(IFI_OBYTES, d.obytes)
        .u64(IFI_IMCASTS, d.imcasts)
        .u64(IFI_OMCASTS, d.omcasts)
        .u64(IFI_IQDROPS, d.iqdrops)
        .u64(IFI_OQDROPS, d.oqdrops)
        .u64(IFI_NOPROTO, d.noproto)
        .u64(IFI_EPOCH, d.epoch as u64);
    w.into_bytes()
}

/// The common head of a routing message of `len` bytes.
fn head(msg_type: u8, len: usize) -> Writer {
    let mut w = Writer::zeroed(len);
    w.u16(MSG_MSGLEN, len as u16)
        .u8(MSG_VERSION, RTM_VERSION)
        .u8(MSG_TYPE, msg_type);
    w
}

/// An `RTM_IFINFO` message (`struct if_msghdr`).
pub fn if_msghdr(ifindex: u16, iff: u32, data: &IfData) -> Vec<u8> {
    let mut w = head(RTM_IFINFO, IF_MSGHDR_LEN);
    w.u32(IF_MSGHDR_ADDRS, 0)
        .u32(IF_MSGHDR_FLAGS, iff)
        .u16(IF_MSGHDR_INDEX, ifindex)
        .put(IF_MSGHDR_DATA, &if_data(data));
    w.into_bytes()
}

/// An `RTM_IFANNOUNCE` message (`struct if_announcemsghdr`); `what` is
/// `IFAN_ARRIVAL`, `IFAN_DEPARTURE` or anything else.
pub fn if_announce(ifindex: u16, name: &str, what: u16) -> Vec<u8> {
    let mut w = head(RTM_IFANNOUNCE, IF_ANNOUNCEMSGHDR_LEN);
    w.u16(IF_ANNOUNCEMSGHDR_INDEX, ifindex)
        .name(IF_ANNOUNCEMSGHDR_NAME, name)
        .u16(IF_ANNOUNCEMSGHDR_WHAT, what);
    w.into_bytes()
}

/// A `struct sockaddr_in`.
pub fn sockaddr_in(addr: Ipv4Addr) -> Vec<u8> {
    let mut w = Writer::zeroed(SOCKADDR_IN_LEN);
    w.u8(SA_LEN, SOCKADDR_IN_LEN as u8)
        .u8(SA_FAMILY, AF_INET)
        .put(SIN_ADDR, &addr.octets());
    w.into_bytes()
}

/// An IPv4 netmask as the kernel sends it: a `sockaddr_in` cut to
/// `sa_len` bytes (8 for `in.c`'s `ia_sockmask`).
pub fn netmask_in(mask: Ipv4Addr, sa_len: u8) -> Vec<u8> {
    let mut v = sockaddr_in(mask);
    v[SA_LEN] = sa_len;
    v.truncate(usize::from(sa_len).max(2));
    v
}

/// A `struct sockaddr_in6`.
pub fn sockaddr_in6(addr: Ipv6Addr, scope_id: u32) -> Vec<u8> {
    let mut w = Writer::zeroed(SOCKADDR_IN6_LEN);
    w.u8(SA_LEN, SOCKADDR_IN6_LEN as u8)
        .u8(SA_FAMILY, AF_INET6)
        .put(SIN6_ADDR, &addr.octets())
        .u32(SIN6_SCOPE_ID, scope_id);
    w.into_bytes()
}

/// A `struct sockaddr_dl` (at least [`SOCKADDR_DL_LEN`] bytes, longer if
/// the name and address need it).
pub fn sockaddr_dl(index: u16, if_type: u8, name: &str, addr: &[u8]) -> Vec<u8> {
    let len = (SDL_DATA + name.len() + addr.len()).max(SOCKADDR_DL_LEN);
    let mut w = Writer::zeroed(len);
    w.u8(SA_LEN, len as u8)
        .u8(SA_FAMILY, AF_LINK)
        .u16(SDL_INDEX, index)
        .u8(SDL_TYPE, if_type)
        .u8(SDL_NLEN, name.len() as u8)
        .u8(SDL_ALEN, addr.len() as u8)
        .u8(SDL_SLEN, 0)
        .put(SDL_DATA, name.as_bytes())
        .put(SDL_DATA + name.len(), addr);
    w.into_bytes()
}

/// An `RTM_NEWADDR` or `RTM_DELADDR` message: `struct ifa_msghdr`, then
/// each `(RTA_* bit, sockaddr bytes)` in the order given (pass them lowest
/// bit first, as the kernel does), each padded to `SA_SIZE`.
pub fn ifa_msghdr(msg_type: u8, ifindex: u16, sockaddrs: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::zeroed(IFA_MSGHDR_LEN);
    let mut addrs = 0;
    let mut off = IFA_MSGHDR_LEN;
    for (bit, sa) in sockaddrs {
        addrs |= bit;
        w.put(off, sa);
        off += sa_size(sa.first().copied().unwrap_or(0));
        w.0.resize(off, 0);
    }
    w.u16(MSG_MSGLEN, off as u16)
        .u8(MSG_VERSION, RTM_VERSION)
        .u8(MSG_TYPE, msg_type)
        .u32(IFA_MSGHDR_ADDRS, addrs)
        .u32(IFA_MSGHDR_FLAGS, 0)
        .u16(IFA_MSGHDR_INDEX, ifindex)
        .u32(IFA_MSGHDR_METRIC, 0);
    w.into_bytes()
}

/// A message of another type (a route, say), `len` bytes of which the
/// head is set and the rest zero.
pub fn other(msg_type: u8, len: usize) -> Vec<u8> {
    head(msg_type, len.max(MSG_HDR_LEN)).into_bytes()
}

/// A `struct ifmibdata`.
pub fn ifmibdata(name: &str, iff: u32, snd_drops: i32, data: &IfData) -> Vec<u8> {
    let mut w = Writer::zeroed(IFMIBDATA_LEN);
    w.name(IFMD_NAME, name)
        .u32(IFMD_PCOUNT, 0)
        .u32(IFMD_FLAGS, iff)
        .u32(IFMD_SND_LEN, 0)
        .u32(IFMD_SND_MAXLEN, 50)
        .u32(IFMD_SND_DROPS, snd_drops as u32)
        .put(IFMD_DATA, &if_data(data));
    w.into_bytes()
}

/// An `RTM_NEWADDR` of `em0` (index 2, Ethernet, link address
/// `02:00:00:00:00:01`): `192.0.2.1/24`, broadcast `192.0.2.255`, with
/// the kernel's 8-byte netmask. A unit test and a fuzz seed.
pub fn sample_newaddr_v4() -> Vec<u8> {
    ifa_msghdr(
        RTM_NEWADDR,
        2,
        &[
            (RTA_NETMASK, netmask_in(Ipv4Addr::new(255, 255, 255, 0), 8)),
            (RTA_IFP, sockaddr_dl(2, 6, "em0", &[2, 0, 0, 0, 0, 1])),
            (RTA_IFA, sockaddr_in(Ipv4Addr::new(192, 0, 2, 1))),
            (RTA_BRD, sockaddr_in(Ipv4Addr::new(192, 0, 2, 255))),
        ],
    )
}

/// An `IfData` of an Ethernet interface with the given link state and
/// MTU, and distinct counters (so a field read from the wrong offset
/// shows).
pub fn sample_if_data(link_state: u8, mtu: u32) -> IfData {
    IfData {
        if_type: 6,
        link_state,
        mtu,
        metric: 0,
        baudrate: 1_000_000_000,
        ipackets: 101,
        ierrors: 102,
        opackets: 103,
        oerrors: 104,
        collisions: 105,
        ibytes: 106,
        obytes: 107,
        imcasts: 108,
        omcasts: 109,
        iqdrops: 110,
        oqdrops: 111,
        noproto: 112,
        epoch: 1234,
    }
}
