//! `ifaddrmsg` address messages.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::netlink::{policy_table, Error, Msg, Policy, RTM_DELADDR};

/// Size of `struct ifaddrmsg`.
pub const IFADDRMSG_LEN: usize = 8;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const AF_INET: u8 = 2;
// AF_INET6 is 10 on Linux; this decoder speaks Linux's wire format.
const AF_INET6: u8 = 10;

static ADDR_POLICY: [Policy; 3] = policy_table(&[
    (IFA_ADDRESS, Policy::unspec("IFA_ADDRESS").optional()),
    (IFA_LOCAL, Policy::unspec("IFA_LOCAL").optional()),
]);

/// A decoded address message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrMsg {
    /// True for `RTM_DELADDR`.
    pub deleted: bool,
    /// Interface index.
    pub ifindex: u32,
    /// Prefix length.
    pub prefix_len: u8,
    /// The address (`IFA_LOCAL` for IPv4 point-to-point, else
    /// `IFA_ADDRESS`), if it is IPv4 or IPv6.
    pub addr: Option<IpAddr>,
}

/// Decodes `RTM_NEWADDR`/`RTM_DELADDR`.
pub fn parse_addr(msg: &Msg<'_>) -> Result<AddrMsg, Error> {
    let hdr = msg.fixed_header(IFADDRMSG_LEN)?;
    let attrs = msg.attrs(IFADDRMSG_LEN)?.parse(&ADDR_POLICY)?;
    let family = hdr[0];
    let raw = attrs.get(IFA_LOCAL).or_else(|| attrs.get(IFA_ADDRESS));
    let addr = raw.and_then(|a| {
        let p = a.payload();
        match family {
            AF_INET => <[u8; 4]>::try_from(p)
                .ok()
                .map(|o| IpAddr::V4(Ipv4Addr::from(o))),
            AF_INET6 => <[u8; 16]>::try_from(p)
                .ok()
                .map(|o| IpAddr::V6(Ipv6Addr::from(o))),
            _ => None,
        }
    });
    Ok(AddrMsg {
        deleted: msg.msg_type() == RTM_DELADDR,
        ifindex: u32::from_ne_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]),
        prefix_len: hdr[1],
        addr,
    })
}

/// Starts `b` over as an `RTM_GETADDR` request for the addresses of
/// `family` (2 IPv4, 10 IPv6); send it as a dump. A nonzero `ifindex` asks
/// for that link's addresses only, which the kernel honours on a socket
/// with `NETLINK_GET_STRICT_CHK` (and ignores otherwise: filter replies).
pub fn getaddr_request(
    b: &mut crate::netlink::MsgBuilder,
    family: u8,
    ifindex: u32,
) -> &mut crate::netlink::MsgBuilder {
    b.reset(crate::netlink::RTM_GETADDR, crate::netlink::NLM_F_REQUEST);
    let [i0, i1, i2, i3] = ifindex.to_ne_bytes();
    b.put_fixed(&[family, 0, 0, 0, i0, i1, i2, i3]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{MsgBuilder, RTM_NEWADDR};

    #[test]
    fn decodes_v4_and_v6() {
        let mut b = MsgBuilder::new(RTM_NEWADDR, 0);
        b.put_fixed(&[AF_INET, 24, 0, 0, 3, 0, 0, 0])
            .put_bytes(IFA_ADDRESS, &[192, 0, 2, 1]);
        let bytes = b.finish().unwrap().to_vec();
        let a = parse_addr(&Msg::parse(&bytes).unwrap()).unwrap();
        assert_eq!(a.addr, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(
            (a.ifindex.to_le(), a.prefix_len, a.deleted),
            (3u32.to_le(), 24, false)
        );

        let mut b = MsgBuilder::new(RTM_DELADDR, 0);
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        b.put_fixed(&[AF_INET6, 64, 0, 0, 5, 0, 0, 0])
            .put_bytes(IFA_ADDRESS, &v6.octets());
        let bytes = b.finish().unwrap().to_vec();
        let a = parse_addr(&Msg::parse(&bytes).unwrap()).unwrap();
        assert!(a.deleted);
        assert_eq!(a.addr, Some(IpAddr::V6(v6)));
        // Wrong length: no address, but no error either.
        let mut b = MsgBuilder::new(RTM_NEWADDR, 0);
        b.put_fixed(&[AF_INET, 24, 0, 0, 3, 0, 0, 0])
            .put_bytes(IFA_ADDRESS, &[1, 2]);
        let bytes = b.finish().unwrap().to_vec();
        assert_eq!(parse_addr(&Msg::parse(&bytes).unwrap()).unwrap().addr, None);
        // Short header: an error.
        let mut b = MsgBuilder::new(RTM_NEWADDR, 0);
        b.put_fixed(&[AF_INET, 24]);
        let bytes = b.finish().unwrap().to_vec();
        assert!(parse_addr(&Msg::parse(&bytes).unwrap()).is_err());
    }
}
