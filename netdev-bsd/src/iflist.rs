//! What a `NET_RT_IFLIST` sysctl answer says about interfaces: per
//! interface its index, name, Ethernet address, flags and MTU (from
//! `RTM_IFINFO` and the `sockaddr_dl` after it), and its IPv6 addresses
//! with prefix lengths (from the `RTM_NEWADDR` messages after it).
//!
//! Platform-free, tested on every OS. Messages are decoded by
//! [`crate::wire::route`]; only the `sockaddr_dl` that follows an
//! `RTM_IFINFO` in a listing is read here, because the wire decoder's
//! `IfInfo` does not keep its trailing sockaddrs (notifications carry
//! none). When it does, [`link_after_ifinfo`] goes.

use std::net::Ipv6Addr;

use netdev_core::{EthAddr, Ipv6Net};

use crate::wire::layout as w;
use crate::wire::route::{self, RouteMsg, SockAddr};
use crate::wire::WireError;

/// One interface of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfEntry {
    /// Interface index.
    pub ifindex: u32,
    /// Name, from the `sockaddr_dl` (empty if it carried none).
    pub name: String,
    /// Ethernet address, if the link-level address is 6 bytes.
    pub mac: Option<EthAddr>,
    /// `IFF_*` flags.
    pub flags: u32,
    /// MTU.
    pub mtu: u32,
    /// Carrier from the link state, if known.
    pub carrier: Option<bool>,
    /// IPv6 addresses with prefix lengths.
    pub in6: Vec<Ipv6Net>,
    /// Attach time (`ifi_epoch`), which tells this interface from a later
    /// one given the same index (see [`crate::track`]).
    pub epoch: i64,
}

/// The `(name, link-level address)` of the `sockaddr_dl` right after an
/// `RTM_IFINFO` header (`RTA_IFP`, the only sockaddr a listing puts
/// there), if the message has one.
pub fn link_after_ifinfo(msg: &[u8]) -> Option<(String, Vec<u8>)> {
    let addrs = u32::from_ne_bytes(
        msg.get(w::IF_MSGHDR_ADDRS..w::IF_MSGHDR_ADDRS + 4)?
            .try_into()
            .ok()?,
    );
    if addrs & w::RTA_IFP == 0 || addrs & (w::RTA_IFP - 1) != 0 {
        return None;
    }
    let sa = msg.get(w::IF_MSGHDR_LEN..)?;
    let sa_len = usize::from(*sa.get(w::SA_LEN)?);
    if *sa.get(w::SA_FAMILY)? != w::AF_LINK || sa_len < w::SDL_DATA || sa_len > sa.len() {
        return None;
    }
    let nlen = usize::from(sa[w::SDL_NLEN]);
    let alen = usize::from(sa[w::SDL_ALEN]);
    let data = sa.get(w::SDL_DATA..sa_len)?;
    let name = data.get(..nlen)?;
    let addr = data.get(nlen..nlen + alen)?;
    Some((String::from_utf8_lossy(name).into_owned(), addr.to_vec()))
}

/// The prefix length of a (possibly shortened) netmask.
fn prefix_len(mask: &Ipv6Addr) -> u8 {
    let mut len = 0;
    for byte in mask.octets() {
        len += byte.leading_ones();
        if byte != 0xff {
            break;
        }
    }
    len as u8
}

/// The interfaces of a `NET_RT_IFLIST` answer, in order. A malformed
/// message is an error (no partial answer is guessed at).
pub fn parse(buf: &[u8]) -> Result<Vec<IfEntry>, WireError> {
    let mut out: Vec<IfEntry> = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let (msg, tail) = route::split_message(rest)?;
        rest = tail;
        match route::parse_message(msg)? {
            RouteMsg::IfInfo(info) => {
                let (name, lladdr) = link_after_ifinfo(msg).unwrap_or_default();
                out.push(IfEntry {
                    ifindex: info.ifindex,
                    name,
                    mac: EthAddr::from_slice(&lladdr),
                    flags: info.flags,
                    mtu: info.data.mtu,
                    carrier: info.data.link_state().carrier(),
                    in6: Vec::new(),
                    epoch: info.data.epoch,
                });
            }
            RouteMsg::Addr(a) => {
                let Some(entry) = out.iter_mut().rev().find(|e| e.ifindex == a.ifindex) else {
                    continue;
                };
                if let Some(SockAddr::Inet6 { addr, .. }) = a.ifa {
                    let len = match a.netmask {
                        Some(SockAddr::Inet6 { addr: mask, .. }) => prefix_len(&mask),
                        _ => 128,
                    };
                    if let Ok(net) = Ipv6Net::new(addr, len) {
                        entry.in6.push(net);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTM_IFINFO of `IF_MSGHDR_LEN` bytes followed by a sockaddr_dl.
    fn ifinfo(index: u16, name: &str, mac: &[u8]) -> Vec<u8> {
        let mut sdl = vec![0u8; w::SDL_DATA];
        sdl[w::SA_FAMILY] = w::AF_LINK;
        sdl[w::SDL_NLEN] = name.len() as u8;
        sdl[w::SDL_ALEN] = mac.len() as u8;
        sdl.extend_from_slice(name.as_bytes());
        sdl.extend_from_slice(mac);
        sdl[w::SA_LEN] = sdl.len() as u8;
        while sdl.len() % w::SA_ALIGN != 0 {
            sdl.push(0);
        }
        let mut m = vec![0u8; w::IF_MSGHDR_LEN];
        let len = (m.len() + sdl.len()) as u16;
        m[w::MSG_MSGLEN..w::MSG_MSGLEN + 2].copy_from_slice(&len.to_ne_bytes());
        m[w::MSG_VERSION] = w::RTM_VERSION;
        m[w::MSG_TYPE] = w::RTM_IFINFO;
        m[w::IF_MSGHDR_ADDRS..w::IF_MSGHDR_ADDRS + 4].copy_from_slice(&w::RTA_IFP.to_ne_bytes());
        m[w::IF_MSGHDR_FLAGS..w::IF_MSGHDR_FLAGS + 4].copy_from_slice(&w::IFF_UP.to_ne_bytes());
        m[w::IF_MSGHDR_INDEX..w::IF_MSGHDR_INDEX + 2].copy_from_slice(&index.to_ne_bytes());
        let d = w::IF_MSGHDR_DATA;
        m[d + w::IFI_MTU..d + w::IFI_MTU + 4].copy_from_slice(&1500u32.to_ne_bytes());
        m[d + w::IFI_LINK_STATE] = w::LINK_STATE_UP;
        m.extend_from_slice(&sdl);
        m
    }

    #[test]
    fn names_macs_and_flags_of_a_listing() {
        let mut buf = ifinfo(1, "em0", &[2, 0, 0, 0, 0, 1]);
        buf.extend(ifinfo(2, "lo0", &[]));
        let list = parse(&buf).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].name, "em0");
        assert_eq!(list[0].mac, Some(EthAddr([2, 0, 0, 0, 0, 1])));
        assert_eq!(
            (list[0].ifindex, list[0].mtu, list[0].flags),
            (1, 1500, w::IFF_UP)
        );
        assert_eq!(list[0].carrier, Some(true));
        assert_eq!((list[1].name.as_str(), list[1].mac), ("lo0", None));
    }

    #[test]
    fn malformed_is_an_error_and_short_sockaddrs_are_ignored() {
        let mut buf = ifinfo(1, "em0", &[2, 0, 0, 0, 0, 1]);
        buf.truncate(10);
        assert!(parse(&buf).is_err());
        let mut m = ifinfo(3, "x", &[1, 2, 3, 4, 5, 6]);
        m[w::IF_MSGHDR_LEN + w::SA_LEN] = 200; // past the end
        assert_eq!(link_after_ifinfo(&m), None);
    }

    #[test]
    fn prefix_lengths() {
        assert_eq!(prefix_len(&"ffff:ffff:ffff:ffff::".parse().unwrap()), 64);
        assert_eq!(prefix_len(&"ffff:ff80::".parse().unwrap()), 25);
        assert_eq!(prefix_len(&Ipv6Addr::UNSPECIFIED), 0);
        assert_eq!(
            prefix_len(&"ff00:ff00::".parse().unwrap()),
            8,
            "stops at the first hole"
        );
    }
}
