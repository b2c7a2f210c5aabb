//! `PF_ROUTE` messages (`<net/route.h>`) from bytes, and the core
//! [`Change`] each one means.
//!
//! A read from a routing socket returns one message; a sysctl dump
//! (`NET_RT_IFLIST`) returns many, back to back, each starting with its
//! own length. [`messages`] walks either; [`parse_message`] decodes one.
//! Only the interface messages are decoded (`RTM_IFINFO`,
//! `RTM_IFANNOUNCE`, `RTM_NEWADDR`, `RTM_DELADDR`); every other type comes
//! back as [`RouteMsg::Other`] with its type, so nothing is silently
//! misread. Layouts (x86_64, native byte order) are listed in
//! [`super`] and [`super::layout`].
//!
//! Malformed input is a [`WireError`], never a panic: a length field that
//! is zero, shorter than its header or past the buffer ends the walk (the
//! next message cannot be found), a bad message with a sound length is
//! reported and the walk goes on.

use std::net::{Ipv4Addr, Ipv6Addr};

use netdev_core::{Change, IfName, LinkInfo};

use super::if_data::IfData;
use super::layout::*;
use super::{flags, Bytes, WireError};

/// One decoded routing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMsg {
    /// `RTM_IFINFO`: flags or link state of an interface changed.
    IfInfo(IfInfo),
    /// `RTM_IFANNOUNCE`: an interface arrived or departed.
    IfAnnounce(IfAnnounce),
    /// `RTM_NEWADDR` / `RTM_DELADDR`.
    Addr(AddrMsg),
    /// Any other type (routes, multicast memberships...), not decoded.
    Other {
        /// `rtm_type`.
        msg_type: u8,
        /// `rtm_msglen`.
        len: usize,
    },
}

/// `struct if_msghdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfInfo {
    /// `ifm_index`.
    pub ifindex: u32,
    /// `ifm_flags`: `IFF_*` (see [`super::flags::from_iff`]).
    pub flags: u32,
    /// `ifm_addrs`: `RTA_*` bits of sockaddrs following (none for
    /// notifications).
    pub addrs: u32,
    /// `ifm_data`.
    pub data: IfData,
}

/// `ifan_what`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnounceWhat {
    /// `IFAN_ARRIVAL`.
    Arrival,
    /// `IFAN_DEPARTURE`.
    Departure,
    /// Another value, kept.
    Other(u16),
}

/// `struct if_announcemsghdr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAnnounce {
    /// `ifan_index`.
    pub ifindex: u32,
    /// `ifan_name`.
    pub name: IfName,
    /// `ifan_what`.
    pub what: AnnounceWhat,
}

/// Whether an address came or went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrOp {
    /// `RTM_NEWADDR`.
    New,
    /// `RTM_DELADDR`.
    Del,
}

/// `struct ifa_msghdr` and the sockaddrs after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrMsg {
    /// Added or removed.
    pub op: AddrOp,
    /// `ifam_index`.
    pub ifindex: u32,
    /// `ifam_flags`.
    pub flags: i32,
    /// `ifam_metric`.
    pub metric: i32,
    /// `ifam_addrs`: which `RTA_*` sockaddrs followed.
    pub addrs: u32,
    /// `RTA_NETMASK`.
    pub netmask: Option<SockAddr>,
    /// `RTA_IFP`: the interface's link-level address.
    pub ifp: Option<SockAddr>,
    /// `RTA_IFA`: the address itself.
    pub ifa: Option<SockAddr>,
    /// `RTA_BRD`: broadcast or point-to-point destination.
    pub brd: Option<SockAddr>,
}

/// A `struct sockaddr_dl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAddr {
    /// `sdl_index`.
    pub index: u16,
    /// `sdl_type` (`IFT_*`).
    pub if_type: u8,
    /// The name part of `sdl_data` (may be empty).
    pub name: Vec<u8>,
    /// The address part of `sdl_data` (6 bytes for Ethernet).
    pub addr: Vec<u8>,
}

/// A sockaddr from a routing message.
///
/// Netmasks come shortened: the kernel sends a `sockaddr_in` mask with
/// `sa_len` 8 (or less: trailing zero bytes trimmed), so missing address
/// bytes read as zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    /// `AF_INET`.
    Inet(Ipv4Addr),
    /// `AF_INET6`.
    Inet6 {
        /// `sin6_addr`.
        addr: Ipv6Addr,
        /// `sin6_scope_id` (0 when absent).
        scope_id: u32,
    },
    /// `AF_LINK`.
    Link(LinkAddr),
    /// Another family (or `sa_len` 0): the bytes after `sa_family`.
    Other {
        /// `sa_family`.
        family: u8,
        /// The rest of the sockaddr.
        data: Vec<u8>,
    },
}

/// `SA_SIZE()`: the bytes a sockaddr of length `sa_len` occupies in a
/// routing message, rounded up to `sizeof(long)`; 0 still takes one long.
pub fn sa_size(sa_len: u8) -> usize {
    if sa_len == 0 {
        SA_ALIGN
    } else {
        1 + ((usize::from(sa_len) - 1) | (SA_ALIGN - 1))
    }
}

/// Iterator over the messages of a buffer; see [`messages`].
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    rest: &'a [u8],
}

/// Walks the routing messages in `buf`, each `rtm_msglen` long. After an
/// error that makes the next message impossible to find, it stops.
pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { rest: buf }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<RouteMsg, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (msg, rest) = match split_message(self.rest) {
            Ok(parts) => parts,
            Err(e) => {
                // No trustworthy length: no next message either.
                self.rest = &[];
                return Some(Err(e));
            }
        };
        self.rest = rest;
        Some(parse_message(msg))
    }
}

/// Splits the first message (its `rtm_msglen` bytes) off `buf`.
pub fn split_message(buf: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let b = Bytes::new(buf, "routing message header");
    if buf.len() < MSG_HDR_LEN {
        return Err(WireError::Truncated {
            what: b.what,
            need: MSG_HDR_LEN,
            have: buf.len(),
        });
    }
    let len = usize::from(b.u16(MSG_MSGLEN)?);
    if len < MSG_HDR_LEN || len > buf.len() {
        return Err(WireError::BadLength {
            what: "routing message",
            len,
            available: buf.len(),
        });
    }
    Ok(buf.split_at(len))
}

/// Decodes one message: `msg` starts with its header, and bytes past
/// `rtm_msglen` are ignored.
pub fn parse_message(msg: &[u8]) -> Result<RouteMsg, WireError> {
    let (msg, _) = split_message(msg)?;
    let b = Bytes::new(msg, "routing message");
    let version = b.u8(MSG_VERSION)?;
    let msg_type = b.u8(MSG_TYPE)?;
    match msg_type {
        RTM_IFINFO | RTM_IFANNOUNCE | RTM_NEWADDR | RTM_DELADDR => {}
        _ => {
            return Ok(RouteMsg::Other {
                msg_type,
                len: msg.len(),
            })
        }
    }
    // Checked only for the types we decode: a layout of another version
    // cannot be read with these offsets.
    if version != RTM_VERSION {
        return Err(WireError::BadVersion { msg_type, version });
    }
    match msg_type {
        RTM_IFINFO => parse_ifinfo(msg).map(RouteMsg::IfInfo),
        RTM_IFANNOUNCE => parse_announce(msg).map(RouteMsg::IfAnnounce),
        _ => parse_addr(msg, msg_type).map(RouteMsg::Addr),
    }
}

fn need(msg: &[u8], what: &'static str, len: usize) -> Result<(), WireError> {
    if msg.len() < len {
        return Err(WireError::Truncated {
            what,
            need: len,
            have: msg.len(),
        });
    }
    Ok(())
}

/// An interface index: 0 names no interface, so a message carrying it
/// cannot be applied to any.
fn ifindex(what: &'static str, v: u16) -> Result<u32, WireError> {
    if v == 0 {
        return Err(WireError::Invalid {
            what,
            detail: "interface index 0".into(),
        });
    }
    Ok(u32::from(v))
}

fn parse_ifinfo(msg: &[u8]) -> Result<IfInfo, WireError> {
    const WHAT: &str = "RTM_IFINFO (if_msghdr)";
    need(msg, WHAT, IF_MSGHDR_LEN)?;
    let b = Bytes::new(msg, WHAT);
    Ok(IfInfo {
        ifindex: ifindex(WHAT, b.u16(IF_MSGHDR_INDEX)?)?,
        flags: b.i32(IF_MSGHDR_FLAGS)? as u32,
        addrs: b.i32(IF_MSGHDR_ADDRS)? as u32,
        data: IfData::parse(b.slice(IF_MSGHDR_DATA, IF_DATA_LEN)?)?,
    })
}

fn parse_announce(msg: &[u8]) -> Result<IfAnnounce, WireError> {
    const WHAT: &str = "RTM_IFANNOUNCE (if_announcemsghdr)";
    need(msg, WHAT, IF_ANNOUNCEMSGHDR_LEN)?;
    let b = Bytes::new(msg, WHAT);
    let what = match b.u16(IF_ANNOUNCEMSGHDR_WHAT)? {
        IFAN_ARRIVAL => AnnounceWhat::Arrival,
        IFAN_DEPARTURE => AnnounceWhat::Departure,
        v => AnnounceWhat::Other(v),
    };
    Ok(IfAnnounce {
        ifindex: ifindex(WHAT, b.u16(IF_ANNOUNCEMSGHDR_INDEX)?)?,
        // At most IFNAMSIZ - 1 bytes, so it always fits.
        name: IfName::new(&b.name(IF_ANNOUNCEMSGHDR_NAME, IFNAMSIZ)?).map_err(|e| {
            WireError::Invalid {
                what: WHAT,
                detail: e.to_string(),
            }
        })?,
        what,
    })
}

fn parse_addr(msg: &[u8], msg_type: u8) -> Result<AddrMsg, WireError> {
    const WHAT: &str = "RTM_NEWADDR/RTM_DELADDR (ifa_msghdr)";
    need(msg, WHAT, IFA_MSGHDR_LEN)?;
    let b = Bytes::new(msg, WHAT);
    let addrs = b.i32(IFA_MSGHDR_ADDRS)? as u32;
    let mut out = AddrMsg {
        op: if msg_type == RTM_NEWADDR {
            AddrOp::New
        } else {
            AddrOp::Del
        },
        ifindex: ifindex(WHAT, b.u16(IFA_MSGHDR_INDEX)?)?,
        flags: b.i32(IFA_MSGHDR_FLAGS)?,
        metric: b.i32(IFA_MSGHDR_METRIC)?,
        addrs,
        netmask: None,
        ifp: None,
        ifa: None,
        brd: None,
    };
    let mut off = IFA_MSGHDR_LEN;
    for slot in 0..RTAX_MAX {
        let bit = 1u32 << slot;
        if addrs & bit == 0 {
            continue;
        }
        let (sa, size) = parse_sockaddr(msg, off)?;
        // The padding of the last sockaddr may be cut by the message's end;
        // its bytes proper were checked by parse_sockaddr.
        off = off.saturating_add(size);
        match bit {
            RTA_NETMASK => out.netmask = Some(sa),
            RTA_IFP => out.ifp = Some(sa),
            RTA_IFA => out.ifa = Some(sa),
            RTA_BRD => out.brd = Some(sa),
            _ => {}
        }
    }
    Ok(out)
}

/// The sockaddr at `off` in `msg` and the bytes it occupies (`SA_SIZE`).
fn parse_sockaddr(msg: &[u8], off: usize) -> Result<(SockAddr, usize), WireError> {
    let b = Bytes::new(msg, "sockaddr in routing message");
    let sa_len = b.u8(off + SA_LEN)?;
    if sa_len == 0 {
        // A zero-length sockaddr still takes one long (SA_SIZE), and must
        // fit: a message cannot end in the middle of it.
        b.slice(off, SA_ALIGN)?;
        return Ok((
            SockAddr::Other {
                family: 0,
                data: Vec::new(),
            },
            SA_ALIGN,
        ));
    }
    let len = usize::from(sa_len);
    if len < 2 {
        return Err(WireError::BadLength {
            what: "sockaddr",
            len,
            available: msg.len().saturating_sub(off),
        });
    }
    let raw = b.slice(off, len).map_err(|_| WireError::BadLength {
        what: "sockaddr",
        len,
        available: msg.len().saturating_sub(off),
    })?;
    let family = raw[SA_FAMILY];
    // Missing trailing bytes read as zeros (trimmed netmasks).
    let padded = |at: usize, n: usize| -> Vec<u8> {
        let mut v = vec![0u8; n];
        if let Some(src) = raw.get(at..) {
            let k = src.len().min(n);
            v[..k].copy_from_slice(&src[..k]);
        }
        v
    };
    let sa = match family {
        AF_INET => {
            let a = padded(SIN_ADDR, 4);
            SockAddr::Inet(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
        }
        AF_INET6 => {
            let a = padded(SIN6_ADDR, 16);
            let mut addr = [0u8; 16];
            addr.copy_from_slice(&a);
            let s = padded(SIN6_SCOPE_ID, 4);
            SockAddr::Inet6 {
                addr: Ipv6Addr::from(addr),
                scope_id: u32::from_ne_bytes([s[0], s[1], s[2], s[3]]),
            }
        }
        AF_LINK => SockAddr::Link(parse_sockaddr_dl(raw)?),
        _ => SockAddr::Other {
            family,
            data: raw[2..].to_vec(),
        },
    };
    Ok((sa, sa_size(sa_len)))
}

fn parse_sockaddr_dl(raw: &[u8]) -> Result<LinkAddr, WireError> {
    let b = Bytes::new(raw, "sockaddr_dl");
    let nlen = usize::from(b.u8(SDL_NLEN)?);
    let alen = usize::from(b.u8(SDL_ALEN)?);
    Ok(LinkAddr {
        index: b.u16(SDL_INDEX)?,
        if_type: b.u8(SDL_TYPE)?,
        name: b.slice(SDL_DATA, nlen)?.to_vec(),
        addr: b.slice(SDL_DATA + nlen, alen)?.to_vec(),
    })
}

/// The core event a message means, if any:
///
/// - `RTM_IFINFO` → [`Change::LinkChanged`] with no name (the message
///   carries only the index; the core keeps the device's name) and the
///   flags, the carrier (from the link state; none when unknown) and the
///   MTU it carries;
/// - arrival → [`Change::LinkChanged`] with the name;
/// - departure → [`Change::LinkRemoved`];
/// - address messages → [`Change::AddrChanged`];
/// - anything else, including an announcement of an unknown kind, →
///   `None`.
pub fn to_change(msg: &RouteMsg) -> Option<Change> {
    match msg {
        RouteMsg::IfInfo(i) => Some(Change::LinkChanged {
            ifindex: i.ifindex,
            name: None,
            info: LinkInfo {
                mtu: Some(i.data.mtu),
                mac: None,
                flags: Some(flags::from_iff(i.flags)),
                carrier: i.data.link_state().carrier(),
            },
        }),
        RouteMsg::IfAnnounce(a) => match a.what {
            AnnounceWhat::Arrival => Some(Change::LinkChanged {
                ifindex: a.ifindex,
                name: Some(a.name),
                info: LinkInfo::default(),
            }),
            AnnounceWhat::Departure => Some(Change::LinkRemoved {
                ifindex: a.ifindex,
                name: a.name,
            }),
            AnnounceWhat::Other(_) => None,
        },
        RouteMsg::Addr(a) => Some(Change::AddrChanged { ifindex: a.ifindex }),
        RouteMsg::Other { .. } => None,
    }
}

/// Decodes a whole buffer into core events, in order: the notifier's
/// decoder. Stops at the first malformed message and returns its error
/// with the events decoded before it (which are valid and should be
/// applied before resynchronising).
pub fn changes(buf: &[u8], out: &mut Vec<Change>) -> Result<(), WireError> {
    for msg in messages(buf) {
        if let Some(c) = to_change(&msg?) {
            out.push(c);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fixture::{self, sample_if_data};
    use netdev_core::Flags;

    fn one(buf: &[u8]) -> Result<RouteMsg, WireError> {
        let mut all: Vec<_> = messages(buf).collect();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn sa_size_rounds_to_long() {
        assert_eq!(sa_size(0), 8);
        assert_eq!(sa_size(1), 8);
        assert_eq!(sa_size(8), 8);
        assert_eq!(sa_size(9), 16);
        assert_eq!(sa_size(16), 16);
        assert_eq!(sa_size(28), 32);
        assert_eq!(sa_size(54), 56);
        assert_eq!(sa_size(255), 256);
    }

    #[test]
    fn ifinfo() {
        let iff = IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST;
        let buf = fixture::if_msghdr(3, iff, &sample_if_data(LINK_STATE_UP, 9000));
        assert_eq!(buf.len(), IF_MSGHDR_LEN);
        let RouteMsg::IfInfo(info) = one(&buf).unwrap() else {
            panic!()
        };
        assert_eq!(info.ifindex, 3);
        assert_eq!(info.flags, iff);
        assert_eq!(info.data, sample_if_data(LINK_STATE_UP, 9000));
        assert_eq!(
            to_change(&RouteMsg::IfInfo(info)),
            Some(Change::LinkChanged {
                ifindex: 3,
                name: None,
                info: LinkInfo {
                    mtu: Some(9000),
                    mac: None,
                    flags: Some(Flags::UP | Flags::BROADCAST | Flags::RUNNING | Flags::MULTICAST),
                    carrier: Some(true),
                },
            })
        );
    }

    #[test]
    fn ifinfo_carrier_follows_link_state() {
        for (state, carrier) in [
            (LINK_STATE_UP, Some(true)),
            (LINK_STATE_DOWN, Some(false)),
            (LINK_STATE_UNKNOWN, None),
            (7, None),
        ] {
            let buf = fixture::if_msghdr(1, 0, &sample_if_data(state, 1500));
            let Some(Change::LinkChanged { info, .. }) = to_change(&one(&buf).unwrap()) else {
                panic!()
            };
            assert_eq!(info.carrier, carrier, "link state {state}");
        }
    }

    #[test]
    fn announce() {
        let arrive = fixture::if_announce(7, "tap0", IFAN_ARRIVAL);
        let msg = one(&arrive).unwrap();
        assert_eq!(
            msg,
            RouteMsg::IfAnnounce(IfAnnounce {
                ifindex: 7,
                name: IfName::new("tap0").unwrap(),
                what: AnnounceWhat::Arrival
            })
        );
        assert_eq!(
            to_change(&msg),
            Some(Change::LinkChanged {
                ifindex: 7,
                name: Some(IfName::new("tap0").unwrap()),
                info: LinkInfo::default()
            })
        );
        let depart = fixture::if_announce(7, "tap0", IFAN_DEPARTURE);
        assert_eq!(
            to_change(&one(&depart).unwrap()),
            Some(Change::LinkRemoved {
                ifindex: 7,
                name: IfName::new("tap0").unwrap()
            })
        );
        let odd = fixture::if_announce(7, "tap0", 9);
        let msg = one(&odd).unwrap();
        assert!(matches!(
            msg,
            RouteMsg::IfAnnounce(IfAnnounce {
                what: AnnounceWhat::Other(9),
                ..
            })
        ));
        assert_eq!(to_change(&msg), None);
        // The longest name FreeBSD allows: 15 bytes and the NUL.
        let long = fixture::if_announce(1, "abcdefghijklmno", IFAN_ARRIVAL);
        assert!(
            matches!(one(&long).unwrap(), RouteMsg::IfAnnounce(a) if a.name == "abcdefghijklmno")
        );
    }

    #[test]
    fn announce_bad_names() {
        let mut buf = fixture::if_announce(1, "x", IFAN_ARRIVAL);
        buf[IF_ANNOUNCEMSGHDR_NAME..IF_ANNOUNCEMSGHDR_WHAT].fill(b'a');
        let e = one(&buf).unwrap_err();
        assert!(e.to_string().contains("NUL"), "{e}");
        let empty = fixture::if_announce(1, "", IFAN_ARRIVAL);
        assert!(one(&empty).unwrap_err().to_string().contains("empty"));
        let zero = fixture::if_announce(0, "em0", IFAN_ARRIVAL);
        assert!(one(&zero).unwrap_err().to_string().contains("index 0"));
    }

    #[test]
    fn newaddr_v4_with_short_netmask_and_broadcast() {
        let buf = fixture::sample_newaddr_v4();
        // 20 + 8 + 64 (sockaddr_dl 54 → 56... em0 + 6 fit in 54) + 16 + 16.
        assert_eq!(buf.len(), IFA_MSGHDR_LEN + 8 + 56 + 16 + 16);
        let RouteMsg::Addr(a) = one(&buf).unwrap() else {
            panic!()
        };
        assert_eq!(a.op, AddrOp::New);
        assert_eq!(a.ifindex, 2);
        assert_eq!(
            a.netmask,
            Some(SockAddr::Inet(Ipv4Addr::new(255, 255, 255, 0)))
        );
        assert_eq!(a.ifa, Some(SockAddr::Inet(Ipv4Addr::new(192, 0, 2, 1))));
        assert_eq!(a.brd, Some(SockAddr::Inet(Ipv4Addr::new(192, 0, 2, 255))));
        assert_eq!(
            a.ifp,
            Some(SockAddr::Link(LinkAddr {
                index: 2,
                if_type: 6,
                name: b"em0".to_vec(),
                addr: vec![2, 0, 0, 0, 0, 1]
            }))
        );
        assert_eq!(
            to_change(&RouteMsg::Addr(a)),
            Some(Change::AddrChanged { ifindex: 2 })
        );
    }

    #[test]
    fn deladdr_v6_and_trimmed_mask() {
        let addr: Ipv6Addr = "fe80::1".parse().unwrap();
        // A /64 mask trimmed after its last non-zero byte: sa_len 16.
        let mut mask = fixture::sockaddr_in6("ffff:ffff:ffff:ffff::".parse().unwrap(), 0);
        mask.truncate(16);
        mask[SA_LEN] = 16;
        let buf = fixture::ifa_msghdr(
            RTM_DELADDR,
            4,
            &[
                (RTA_NETMASK, mask),
                (RTA_IFA, fixture::sockaddr_in6(addr, 4)),
            ],
        );
        let RouteMsg::Addr(a) = one(&buf).unwrap() else {
            panic!()
        };
        assert_eq!(a.op, AddrOp::Del);
        assert_eq!(a.ifa, Some(SockAddr::Inet6 { addr, scope_id: 4 }));
        assert_eq!(
            a.netmask,
            Some(SockAddr::Inet6 {
                addr: "ffff:ffff:ffff:ffff::".parse().unwrap(),
                scope_id: 0
            })
        );
    }

    #[test]
    fn zero_length_and_unknown_family_sockaddrs() {
        let mut other = vec![0u8; 6];
        other[SA_LEN] = 6;
        other[SA_FAMILY] = 99;
        other[2..].copy_from_slice(&[1, 2, 3, 4]);
        let buf = fixture::ifa_msghdr(
            RTM_NEWADDR,
            1,
            &[(RTA_NETMASK, vec![0, 0]), (RTA_IFA, other)],
        );
        let RouteMsg::Addr(a) = one(&buf).unwrap() else {
            panic!()
        };
        assert_eq!(
            a.netmask,
            Some(SockAddr::Other {
                family: 0,
                data: vec![]
            })
        );
        assert_eq!(
            a.ifa,
            Some(SockAddr::Other {
                family: 99,
                data: vec![1, 2, 3, 4]
            })
        );
    }

    #[test]
    fn sockaddr_past_the_message_is_an_error() {
        let mut buf = fixture::ifa_msghdr(
            RTM_NEWADDR,
            1,
            &[(RTA_IFA, fixture::sockaddr_in(Ipv4Addr::LOCALHOST))],
        );
        // Claim another sockaddr (RTA_BRD) that is not there.
        buf[IFA_MSGHDR_ADDRS] |= RTA_BRD as u8;
        assert!(one(&buf).is_err());
        // A sockaddr whose sa_len runs past the message.
        let mut buf = fixture::ifa_msghdr(
            RTM_NEWADDR,
            1,
            &[(RTA_IFA, fixture::sockaddr_in(Ipv4Addr::LOCALHOST))],
        );
        buf[IFA_MSGHDR_LEN + SA_LEN] = 200;
        let e = one(&buf).unwrap_err();
        assert!(matches!(e, WireError::BadLength { len: 200, .. }), "{e}");
        // sa_len 1 cannot even hold the family.
        buf[IFA_MSGHDR_LEN + SA_LEN] = 1;
        assert!(one(&buf).is_err());
        // sockaddr_dl whose name and address lengths exceed it.
        let mut dl = fixture::sockaddr_dl(1, 6, "em0", &[1; 6]);
        dl[SDL_ALEN] = 250;
        let buf = fixture::ifa_msghdr(RTM_NEWADDR, 1, &[(RTA_IFP, dl)]);
        assert!(one(&buf).is_err());
    }

    #[test]
    fn several_messages_and_skipped_types() {
        let mut buf = fixture::other(1, 152); // RTM_ADD
        buf.extend(fixture::if_announce(5, "lo1", IFAN_ARRIVAL));
        buf.extend(fixture::other(RTM_NEWMADDR, 16));
        buf.extend(fixture::if_msghdr(5, IFF_UP, &sample_if_data(0, 16384)));
        buf.extend(fixture::ifa_msghdr(
            RTM_NEWADDR,
            5,
            &[(RTA_IFA, fixture::sockaddr_in(Ipv4Addr::LOCALHOST))],
        ));
        let msgs: Vec<_> = messages(&buf).map(Result::unwrap).collect();
        assert_eq!(msgs.len(), 5);
        assert_eq!(
            msgs[0],
            RouteMsg::Other {
                msg_type: 1,
                len: 152
            }
        );
        let mut out = Vec::new();
        changes(&buf, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert!(matches!(
            out[0],
            Change::LinkChanged {
                ifindex: 5,
                name: Some(_),
                ..
            }
        ));
        assert!(matches!(
            out[1],
            Change::LinkChanged {
                ifindex: 5,
                name: None,
                ..
            }
        ));
        assert_eq!(out[2], Change::AddrChanged { ifindex: 5 });
    }

    #[test]
    fn bad_lengths_stop_the_walk() {
        // Zero length: cannot advance.
        let mut buf = fixture::if_announce(1, "a", IFAN_ARRIVAL);
        buf[0] = 0;
        buf[1] = 0;
        let all: Vec<_> = messages(&buf).collect();
        assert_eq!(all.len(), 1);
        assert!(matches!(all[0], Err(WireError::BadLength { len: 0, .. })));
        // Length past the buffer.
        let mut buf = fixture::if_announce(1, "a", IFAN_ARRIVAL);
        buf.truncate(20);
        assert!(matches!(
            one(&buf),
            Err(WireError::BadLength {
                len: 24,
                available: 20,
                ..
            })
        ));
        // Fewer bytes than a header.
        for n in 1..MSG_HDR_LEN {
            assert!(matches!(
                one(&[4u8, 0, 5, 0x11][..n]),
                Err(WireError::Truncated { .. })
            ));
        }
        assert_eq!(messages(&[]).count(), 0);
        // A good message, then garbage: the good one is decoded first.
        let mut buf = fixture::if_announce(1, "a", IFAN_DEPARTURE);
        buf.extend([0xff, 0xff, 5]);
        let mut out = Vec::new();
        assert!(changes(&buf, &mut out).is_err());
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn header_only_or_short_bodies_are_errors() {
        for (t, full) in [
            (RTM_IFINFO, IF_MSGHDR_LEN),
            (RTM_IFANNOUNCE, IF_ANNOUNCEMSGHDR_LEN),
            (RTM_NEWADDR, IFA_MSGHDR_LEN),
            (RTM_DELADDR, IFA_MSGHDR_LEN),
        ] {
            for len in [MSG_HDR_LEN, full - 1] {
                let buf = fixture::other(t, len);
                let e = one(&buf).unwrap_err();
                assert!(
                    matches!(e, WireError::Truncated { .. }),
                    "type {t} len {len}: {e}"
                );
            }
        }
        // A message longer than its structure is fine (extra ignored).
        let mut buf = fixture::if_announce(2, "em1", IFAN_ARRIVAL);
        buf.extend([0; 8]);
        buf[0] = 32;
        assert!(one(&buf).is_ok());
    }

    #[test]
    fn wrong_version() {
        let mut buf = fixture::if_msghdr(1, 0, &sample_if_data(2, 1500));
        buf[MSG_VERSION] = 4;
        assert_eq!(
            one(&buf),
            Err(WireError::BadVersion {
                msg_type: RTM_IFINFO,
                version: 4
            })
        );
        // Skipped types are not checked: nothing is read from them.
        let mut other = fixture::other(1, 16);
        other[MSG_VERSION] = 9;
        assert!(one(&other).is_ok());
        // The walk goes on after a bad version (its length is sound).
        buf.extend(fixture::if_announce(1, "a", IFAN_ARRIVAL));
        let all: Vec<_> = messages(&buf).collect();
        assert_eq!(all.len(), 2);
        assert!(all[1].is_ok());
    }

    #[test]
    fn bad_if_data_length() {
        let mut buf = fixture::if_msghdr(1, 0, &sample_if_data(2, 1500));
        let at = IF_MSGHDR_DATA + IFI_DATALEN;
        buf[at..at + 2].copy_from_slice(&100u16.to_ne_bytes());
        assert!(one(&buf).unwrap_err().to_string().contains("ifi_datalen"));
        buf[at..at + 2].copy_from_slice(&0u16.to_ne_bytes());
        assert!(one(&buf).is_ok());
    }

    /// Every prefix and every single-byte corruption of a valid stream is
    /// decoded without panicking.
    #[test]
    fn no_panic_on_prefixes_and_corruptions() {
        let mut buf = fixture::if_announce(5, "lo1", IFAN_ARRIVAL);
        buf.extend(fixture::if_msghdr(5, IFF_UP, &sample_if_data(2, 1500)));
        buf.extend(fixture::ifa_msghdr(
            RTM_NEWADDR,
            5,
            &[
                (
                    RTA_NETMASK,
                    fixture::netmask_in(Ipv4Addr::new(255, 0, 0, 0), 5),
                ),
                (RTA_IFP, fixture::sockaddr_dl(5, 24, "lo1", &[])),
                (RTA_IFA, fixture::sockaddr_in(Ipv4Addr::LOCALHOST)),
            ],
        ));
        let mut out = Vec::new();
        for n in 0..=buf.len() {
            out.clear();
            let _ = changes(&buf[..n], &mut out);
        }
        for i in 0..buf.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut b = buf.clone();
                b[i] = v;
                out.clear();
                let _ = changes(&b, &mut out);
                for m in messages(&b).flatten() {
                    let _ = format!("{m:?}");
                }
            }
        }
    }
}
