//! Netlink sockets against the running kernel, in the test's own network
//! namespace-free basics: the loopback device exists everywhere.
#![cfg(target_os = "linux")]

use netdev_linux::netlink::{
    lookup_family, lookup_mcast_group, MsgBuilder, Socket, Transaction, NETLINK_GENERIC,
    NETLINK_ROUTE, NLM_F_REQUEST, RTM_GETLINK,
};

const IFLA_IFNAME: u16 = 3;
const IFINFOMSG_LEN: usize = 16;

fn getlink(ifindex: i32) -> MsgBuilder {
    let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST);
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    b.put_fixed(&ifi);
    b
}

fn ifname(msg: &netdev_linux::netlink::Msg<'_>) -> String {
    let attr = msg
        .attrs(IFINFOMSG_LEN)
        .unwrap()
        .find(IFLA_IFNAME)
        .unwrap()
        .unwrap();
    attr.get_str().unwrap().to_owned()
}

#[test]
fn socket_gets_a_port_and_a_large_buffer() {
    let s = Socket::new(NETLINK_ROUTE).unwrap();
    assert_ne!(s.port(), 0);
    let t = Socket::new(NETLINK_ROUTE).unwrap();
    assert_ne!(s.port(), t.port());
    // Root can force past rmem_max; the kernel reports double.
    assert!(s.rcvbuf() >= 1024 * 1024, "rcvbuf {}", s.rcvbuf());
}

#[test]
fn transact_getlink_lo() {
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();
    let reply = s.transact(&mut getlink(1)).unwrap().expect("a reply");
    assert_eq!(ifname(&reply.msg()), "lo");
    // A device that does not exist: the kernel's errno.
    let e = s.transact(&mut getlink(0x7fff_fff0)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    // The stray ack of the first transaction does not confuse the next.
    let reply = s.transact(&mut getlink(1)).unwrap().unwrap();
    assert_eq!(ifname(&reply.msg()), "lo");
}

#[test]
fn transact_multiple_matches_replies() {
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();
    let mut txns: Vec<Transaction> = (0..300)
        .map(|i| Transaction::new(getlink(if i % 3 == 2 { 0x7fff_fff0 } else { 1 })))
        .collect();
    s.transact_multiple(&mut txns).unwrap();
    for (i, t) in txns.iter().enumerate() {
        if i % 3 == 2 {
            assert_eq!(t.errno(), libc::ENODEV, "txn {i}");
        } else {
            let m = t.result().unwrap().expect("reply");
            assert_eq!(ifname(&m), "lo", "txn {i}");
        }
    }
}

#[test]
fn dump_links_includes_lo() {
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();
    let mut req = MsgBuilder::new(RTM_GETLINK, 0);
    req.put_fixed(&[0u8; IFINFOMSG_LEN]);
    let mut names = Vec::new();
    {
        let mut dump = s.dump(&mut req).unwrap();
        while let Some(m) = dump.next_msg() {
            names.push(ifname(&m.unwrap()));
        }
    }
    assert!(names.contains(&"lo".to_string()), "{names:?}");
    // The socket is clean afterwards.
    let reply = s.transact(&mut getlink(1)).unwrap().unwrap();
    assert_eq!(ifname(&reply.msg()), "lo");
}

#[test]
fn genl_family_lookup() {
    let ctrl = lookup_family("nlctrl").unwrap();
    assert_eq!(ctrl.id, 16);
    assert_eq!(
        netdev_linux::netlink::family_name(16).as_deref(),
        Some("nlctrl")
    );
    let e = lookup_family("no-such-family").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    let _ = NETLINK_GENERIC;
    // ethtool's family has a "monitor" group (kernel 5.6+).
    let g = lookup_mcast_group("ethtool", "monitor").unwrap();
    assert_ne!(g, 0);
    assert!(lookup_mcast_group("ethtool", "nope").is_err());
}
