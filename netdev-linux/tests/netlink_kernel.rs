//! The Netlink socket layer against the real kernel, each test in its own
//! network namespace full of `ifb` devices (the kernel here has no `dummy`
//! link type; `ifb` devices are as cheap and have no peer), checked against
//! `ip -j link`. Needs root: without it every test fails, none is skipped.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use netdev_linux::netlink::{
    is_overflow, Msg, MsgBuilder, MsgIter, SharedDump, Socket, Transaction, NETLINK_ROUTE,
    NLM_F_REQUEST, RTM_GETLINK, RTM_NEWLINK, RTM_SETLINK,
};
use support::NetNs;

/// `RTNLGRP_LINK`: link notifications.
const RTNLGRP_LINK: u32 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFINFOMSG_LEN: usize = 16;

/// `RTM_GETLINK` for one ifindex.
fn getlink(ifindex: u32) -> MsgBuilder {
    let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST);
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    b.put_fixed(&ifi);
    b
}

/// `RTM_SETLINK` of one ifindex's MTU.
fn setmtu(ifindex: u32, mtu: u32) -> MsgBuilder {
    let mut b = MsgBuilder::new(RTM_SETLINK, NLM_F_REQUEST);
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    b.put_fixed(&ifi).put_u32(IFLA_MTU, mtu);
    b
}

/// The MTU `ip -j link show NAME` reports.
fn ip_mtu(ns: &NetNs, name: &str) -> u64 {
    let json = ns.ip(&["-j", "link", "show", name]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v[0]["mtu"]
        .as_u64()
        .unwrap_or_else(|| panic!("no mtu in {json}"))
}

/// `RTM_GETLINK` dump request.
fn dump_links_request() -> MsgBuilder {
    let mut b = MsgBuilder::new(RTM_GETLINK, 0);
    b.put_fixed(&[0u8; IFINFOMSG_LEN]);
    b
}

/// `ifi_index` of a link message.
fn ifindex(msg: &Msg<'_>) -> u32 {
    let ifi = msg.fixed_header(IFINFOMSG_LEN).expect("ifinfomsg");
    u32::from_ne_bytes(ifi[4..8].try_into().unwrap())
}

fn ifname(msg: &Msg<'_>) -> String {
    let attr = msg
        .attrs(IFINFOMSG_LEN)
        .expect("attributes")
        .find(IFLA_IFNAME)
        .expect("well-formed attributes")
        .expect("IFLA_IFNAME present");
    attr.get_str().expect("a string").to_owned()
}

fn mtu(msg: &Msg<'_>) -> u32 {
    let attr = msg
        .attrs(IFINFOMSG_LEN)
        .expect("attributes")
        .find(IFLA_MTU)
        .expect("well-formed attributes")
        .expect("IFLA_MTU present");
    attr.get_u32().expect("a u32")
}

fn link_of(msg: &Msg<'_>) -> (u32, String) {
    assert_eq!(msg.msg_type(), RTM_NEWLINK, "not a link message");
    (ifindex(msg), ifname(msg))
}

/// Sorts `links` and checks it equals the reference exactly, with no
/// duplicates (a duplicate would survive a set comparison).
fn assert_same_links(mut got: Vec<(u32, String)>, mut want: Vec<(u32, String)>, what: &str) {
    got.sort();
    want.sort();
    let mut unique = got.clone();
    unique.dedup();
    assert_eq!(
        unique.len(),
        got.len(),
        "{what}: {} duplicate links",
        got.len() - unique.len()
    );
    if got != want {
        let g: BTreeSet<_> = got.iter().collect();
        let w: BTreeSet<_> = want.iter().collect();
        let missing: Vec<_> = w.difference(&g).take(10).collect();
        let extra: Vec<_> = g.difference(&w).take(10).collect();
        panic!(
            "{what}: {} links, ip -j link has {}; missing {missing:?}, extra {extra:?}",
            got.len(),
            want.len()
        );
    }
}

/// A namespace with `lo` and `count` ifb devices; returns it with the
/// reference list from `ip -j link`.
fn namespace_with_links(count: usize) -> (NetNs, Vec<(u32, String)>) {
    let ns = NetNs::new();
    ns.add_ifbs("ifb", count);
    let links = ns.links();
    assert_eq!(
        links.len(),
        count + 1,
        "ip -j link after creating {count} ifbs"
    );
    (ns, links)
}

#[test]
fn dump_of_1000_links_matches_ip_link() {
    let (ns, reference) = namespace_with_links(1000);
    let _inside = ns.enter();
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();
    let mut got = Vec::new();
    {
        let mut dump = s.dump(&mut dump_links_request()).unwrap();
        while let Some(m) = dump.next_msg() {
            got.push(link_of(&m.unwrap()));
        }
    }
    assert_same_links(got, reference, "Socket::dump");
    // The names are the ones this test created, not the host's.
    assert!(ns.links().iter().any(|(_, n)| n == "ifb999"));
}

#[test]
fn transact_multiple_500_getlinks_by_ifindex() {
    let (ns, reference) = namespace_with_links(1000);
    let _inside = ns.enter();
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();

    let max = reference.iter().map(|(i, _)| *i).max().unwrap();
    let existing: Vec<&(u32, String)> = reference
        .iter()
        .filter(|(_, n)| n != "lo")
        .step_by(2)
        .collect();
    assert_eq!(existing.len(), 500);
    // Every 25th request asks for an index no device has.
    let mut wanted: Vec<Option<&(u32, String)>> = Vec::new();
    let mut missing = Vec::new();
    for (k, link) in existing.iter().enumerate() {
        if k % 25 == 0 {
            let absent = max + 1 + k as u32 * 7;
            assert!(!reference.iter().any(|(i, _)| *i == absent));
            missing.push(absent);
            wanted.push(None);
        }
        wanted.push(Some(link));
    }
    missing.push(0x7fff_fff0);
    wanted.push(None);
    let mut absent_iter = missing.iter();
    let mut txns: Vec<Transaction> = wanted
        .iter()
        .map(|w| match w {
            Some((i, _)) => Transaction::new(getlink(*i)),
            None => Transaction::new(getlink(*absent_iter.next().unwrap())),
        })
        .collect();
    assert_eq!(txns.len(), 500 + missing.len());

    s.transact_multiple(&mut txns).unwrap();

    let mut absent_iter = missing.iter();
    for (k, (t, w)) in txns.iter().zip(&wanted).enumerate() {
        match w {
            Some((index, name)) => {
                let m = t
                    .result()
                    .unwrap_or_else(|e| panic!("txn {k} ({name}): {e}"))
                    .unwrap_or_else(|| panic!("txn {k} ({name}): an ack, no reply"));
                assert_eq!(link_of(&m), (*index, name.clone()), "txn {k}");
            }
            None => {
                let absent = absent_iter.next().unwrap();
                assert_eq!(
                    t.errno(),
                    libc::ENODEV,
                    "txn {k} (ifindex {absent}): {:?}",
                    t.result().map(|r| r.map(|m| link_of(&m)))
                );
                assert_eq!(t.result().unwrap_err().raw_os_error(), Some(libc::ENODEV));
            }
        }
    }
    // The socket is usable afterwards, and single transactions agree.
    let (index, name) = existing[123];
    let r = s.transact(&mut getlink(*index)).unwrap().unwrap();
    assert_eq!(link_of(&r.msg()), (*index, name.clone()));
    // Nothing is left behind: a GET draws its reply and no ack.
    assert!(!s.wait_readable(Some(Duration::ZERO)).unwrap());
}

#[test]
fn transact_setlink_is_acked_and_applied() {
    let ns = NetNs::new();
    ns.add_ifbs("set", 3);
    let links = ns.links();
    let index_of = |name: &str| links.iter().find(|(_, n)| n == name).unwrap().0;
    let _inside = ns.enter();
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();

    // A SET draws no reply: its outcome is the ack, Ok(None).
    assert_eq!(
        s.transact(&mut setmtu(index_of("set0"), 1400)).unwrap(),
        None
    );
    assert_eq!(ip_mtu(&ns, "set0"), 1400);
    assert!(
        !s.wait_readable(Some(Duration::ZERO)).unwrap(),
        "ack left queued"
    );
    // Its errors are the kernel's.
    let e = s.transact(&mut setmtu(0x7fff_fff0, 1400)).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    assert_eq!(ip_mtu(&ns, "set0"), 1400);
    assert!(!s.wait_readable(Some(Duration::ZERO)).unwrap());

    // Mixed in one batch: SETs acked, GETs answered, errors in place.
    let mut txns = vec![
        Transaction::new(setmtu(index_of("set1"), 1300)),
        Transaction::new(getlink(index_of("set1"))),
        Transaction::new(setmtu(0x7fff_fff0, 1300)),
        Transaction::new(setmtu(index_of("set2"), 1280)),
        Transaction::new(getlink(0x7fff_fff0)),
        Transaction::new(getlink(index_of("set2"))),
    ];
    s.transact_multiple(&mut txns).unwrap();
    assert!(txns[0].result().unwrap().is_none());
    let m = txns[1].result().unwrap().unwrap();
    assert_eq!((ifname(&m), mtu(&m)), ("set1".to_string(), 1300));
    assert_eq!(txns[2].errno(), libc::ENODEV);
    assert!(txns[3].result().unwrap().is_none());
    assert_eq!(txns[4].errno(), libc::ENODEV);
    let m = txns[5].result().unwrap().unwrap();
    assert_eq!((ifname(&m), mtu(&m)), ("set2".to_string(), 1280));
    assert_eq!(ip_mtu(&ns, "set1"), 1300);
    assert_eq!(ip_mtu(&ns, "set2"), 1280);
}

#[test]
fn overflow_is_reported_then_drain_recovers() {
    let ns = NetNs::new();
    let _inside = ns.enter();
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();
    s.set_rcvbuf(2048).unwrap();
    assert!(s.rcvbuf() < 16 * 1024, "rcvbuf {} not small", s.rcvbuf());
    s.join_group(RTNLGRP_LINK).unwrap();

    // A flood of notifications (each several hundred bytes), unread.
    ns.add_ifbs("flood", 300);
    ns.del_links("flood", 300);

    // Reading reports the overflow instead of quietly returning what is
    // left: the kernel dropped notifications.
    let mut seen = 0;
    let overflow = loop {
        match s.recv(false) {
            Ok(_) => seen += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                panic!("no overflow reported after {seen} datagrams of a 600-event flood")
            }
            Err(e) => break e,
        }
    };
    assert!(
        is_overflow(&overflow),
        "expected ENOBUFS, got {overflow:?} (after {seen} datagrams)"
    );
    assert_eq!(overflow.raw_os_error(), Some(libc::ENOBUFS));

    // drain() forgets it; the socket then works.
    s.drain().unwrap();
    let e = s.recv(false).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{e:?}");
    let r = s.transact(&mut getlink(1)).unwrap().expect("a reply");
    assert_eq!(link_of(&r.msg()), (1, "lo".to_string()));
}

#[test]
fn shared_dump_by_four_threads_yields_each_link_once() {
    let (ns, reference) = namespace_with_links(1000);
    let _inside = ns.enter();
    let s = Socket::new(NETLINK_ROUTE).unwrap();
    let dump = SharedDump::start(s, &mut dump_links_request()).unwrap();

    let per_thread: Vec<Vec<(u32, String)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut got = Vec::new();
                    let mut buf = Vec::new();
                    while dump.next_batch(&mut buf).unwrap() {
                        assert!(!buf.is_empty(), "a batch with no messages");
                        for m in MsgIter::new(&buf) {
                            got.push(link_of(&m.unwrap()));
                        }
                    }
                    got
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let union: Vec<_> = per_thread.into_iter().flatten().collect();
    assert_same_links(union, reference, "SharedDump across 4 threads");

    // Finished: more calls say so, and the socket comes back clean.
    let mut buf = Vec::new();
    assert!(!dump.next_batch(&mut buf).unwrap());
    let mut s = dump.into_socket();
    assert!(!s.wait_readable(Some(Duration::ZERO)).unwrap());
    let r = s.transact(&mut getlink(1)).unwrap().unwrap();
    assert_eq!(link_of(&r.msg()), (1, "lo".to_string()));
}

#[test]
fn dump_dropped_early_is_drained() {
    let (ns, reference) = namespace_with_links(1000);
    let _inside = ns.enter();
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();
    {
        let mut dump = s.dump(&mut dump_links_request()).unwrap();
        let first = dump.next_msg().unwrap().unwrap();
        assert!(reference.contains(&link_of(&first)));
        // Dropped with ~1000 links still to come.
    }
    // Nothing of the dump is left waiting...
    assert!(
        !s.wait_readable(Some(Duration::ZERO)).unwrap(),
        "the rest of the dump is still queued"
    );
    // ...and the next transaction gets its own reply.
    let (index, name) = reference.last().unwrap().clone();
    let r = s.transact(&mut getlink(index)).unwrap().unwrap();
    assert_eq!(link_of(&r.msg()), (index, name));
    // A second full dump on the same socket is complete.
    let mut got = Vec::new();
    let mut dump = s.dump(&mut dump_links_request()).unwrap();
    while let Some(m) = dump.next_msg() {
        got.push(link_of(&m.unwrap()));
    }
    assert_same_links(got, reference, "dump after a dropped dump");
}

/// Receives notifications until an `RTM_NEWLINK` for `index` with MTU
/// `want` arrives (other notifications may come first), or panics after a
/// few seconds.
fn await_mtu_change(s: &mut Socket, index: u32, want: u32) {
    for _ in 0..100 {
        assert!(
            s.wait_readable(Some(Duration::from_secs(5))).unwrap(),
            "no notification within 5 s"
        );
        let data = s.recv(false).unwrap();
        for m in MsgIter::new(data) {
            let m = m.unwrap();
            if m.msg_type() == RTM_NEWLINK && ifindex(&m) == index && mtu(&m) == want {
                assert_eq!(m.seq(), 0, "a notification, not a reply");
                return;
            }
        }
    }
    panic!("no RTM_NEWLINK with mtu {want} for ifindex {index}");
}

#[test]
fn multicast_link_notifications_until_leave() {
    let ns = NetNs::new();
    ns.add_ifbs("mc", 1);
    let (index, _) = ns
        .links()
        .into_iter()
        .find(|(_, n)| n == "mc0")
        .expect("mc0 in ip -j link");
    let _inside = ns.enter();
    let mut s = Socket::new(NETLINK_ROUTE).unwrap();
    s.join_group(RTNLGRP_LINK).unwrap();
    assert!(!s.wait_readable(Some(Duration::ZERO)).unwrap());

    ns.ip(&["link", "set", "mc0", "mtu", "1400"]);
    await_mtu_change(&mut s, index, 1400);

    s.leave_group(RTNLGRP_LINK).unwrap();
    s.drain().unwrap();
    ns.ip(&["link", "set", "mc0", "mtu", "1300"]);
    // The change happened (ip says so) but nothing reached us.
    assert_eq!(ip_mtu(&ns, "mc0"), 1300);
    assert!(
        !s.wait_readable(Some(Duration::from_millis(500))).unwrap(),
        "a notification arrived after leave_group"
    );

    // Joining again brings them back.
    s.join_group(RTNLGRP_LINK).unwrap();
    ns.ip(&["link", "set", "mc0", "mtu", "1200"]);
    await_mtu_change(&mut s, index, 1200);
}

#[test]
fn namespace_guard_removes_namespace_even_on_panic() {
    let name = std::panic::catch_unwind(|| {
        let ns = NetNs::new();
        let name = ns.name().to_owned();
        assert!(name.starts_with(support::PREFIX));
        assert!(ns.path().exists());
        std::panic::panic_any(name);
    })
    .unwrap_err()
    .downcast::<String>()
    .expect("the namespace name");
    assert!(
        !std::path::Path::new("/run/netns").join(&*name).exists(),
        "{name} left behind"
    );
    let list = support::run("ip", &["netns", "list"]);
    assert!(!list.contains(&*name), "{name} still listed: {list}");
}

/// The PID of a process that certainly no longer runs: one that ran
/// `true` and was waited for.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("running true");
    let pid = child.id();
    child.wait().expect("waiting for true");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still exists after wait"
    );
    pid
}

/// Namespaces named by hand, deleted when dropped (when the sweep under
/// test failed to), so a failing test leaves nothing behind.
struct Named(Vec<String>);

impl Named {
    fn add(&mut self, name: String) -> String {
        support::run("ip", &["netns", "add", &name]);
        self.0.push(name.clone());
        name
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        for name in &self.0 {
            if support::netns_exists(name) {
                let _ = std::process::Command::new("ip")
                    .args(["netns", "delete", name])
                    .output();
            }
        }
    }
}

/// What an interrupted run leaves (namespaces named with the PID of a
/// process that is gone, one of them holding devices) is removed when the
/// next run creates its first namespace; the namespace of a live process
/// stays. The next run is this test binary run again, for one test.
#[test]
fn next_run_removes_namespaces_of_dead_runs() {
    support::require_root();
    // This process's own sweep is done (or waited for), so it is the next
    // run that removes them (or, harmlessly, a concurrent direct sweep).
    support::sweep_stale_namespaces_once();
    let dead = dead_pid();
    let me = std::process::id();
    let mut named = Named(Vec::new());
    let stale = named.add(format!("{}{dead}-0-5eedf00d", support::PREFIX));
    support::run("ip", &["-n", &stale, "link", "add", "ifb0", "type", "ifb"]);
    let stale_cli = named.add(format!("ndcli-{dead}-3"));
    let live = named.add(format!("{}{me}-999-a11fe000", support::PREFIX));
    let other = named.add(format!("ndsweep{dead}-0"));

    let exe = std::env::current_exe().expect("this test binary");
    let out = std::process::Command::new(exe)
        .args([
            "namespace_guard_removes_namespace_even_on_panic",
            "--exact",
            "--test-threads",
            "1",
        ])
        .output()
        .expect("running the test binary again");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the next run failed: {stderr}");

    assert!(
        !support::netns_exists(&stale),
        "{stale} survived the next run"
    );
    assert!(
        !support::netns_exists(&stale_cli),
        "{stale_cli} survived the next run"
    );
    assert!(
        support::netns_exists(&live),
        "{live} of a live process was removed"
    );
    assert!(
        support::netns_exists(&other),
        "{other} is not a test namespace"
    );
}

/// The sweep called directly: a dead owner's namespace goes, a live one's
/// stays, and the removed names are returned.
#[test]
fn sweep_removes_only_dead_owners_namespaces() {
    support::require_root();
    let dead = dead_pid();
    let mut named = Named(Vec::new());
    let stale = named.add(format!("{}{dead}-1-5eedf00d", support::PREFIX));
    let live = named.add(format!(
        "{}{}-998-a11fe000",
        support::PREFIX,
        std::process::id()
    ));
    let removed = support::sweep_stale_namespaces();
    assert!(!support::netns_exists(&stale), "{stale} was not removed");
    // A concurrent sweep (another test's first NetNs) may have been first.
    assert!(removed.iter().all(|n| n != &live), "{removed:?}");
    assert!(support::netns_exists(&live), "{live} was removed");
}

/// Liveness survives PID reuse: a process that started after a namespace
/// was made is not the one that made it.
#[test]
fn owner_liveness_checks_start_time() {
    use std::time::{Duration, SystemTime};
    let me = std::process::id();
    let now = SystemTime::now();
    assert!(support::owner_alive(me, now), "this process is alive");
    assert!(
        !support::owner_alive(me, now - Duration::from_secs(3600)),
        "this process started after a namespace made an hour ago: a reused PID"
    );
    assert!(!support::owner_alive(dead_pid(), now), "a dead process");
    // PID 1 started at boot, before any test namespace.
    assert!(support::owner_alive(1, now));

    assert_eq!(support::owner_pid("ndtest-1234-5-abcdef01"), Some(1234));
    assert_eq!(support::owner_pid("ndcli-77-0"), Some(77));
    for other in [
        "ndtest-",
        "ndtest-x1-2",
        "ndtest-12",
        "ndtest--1-2",
        "ndtest-0-1",
        "netns1",
        "ndcli-+5-1",
    ] {
        assert_eq!(support::owner_pid(other), None, "{other}");
    }
}
