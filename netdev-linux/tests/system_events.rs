//! Events that must not destroy a device (bridge port changes, renames),
//! the notifier's namespace, and the provider operations the switch and
//! the CLI build on (enumeration, status, all-device counters, the send
//! descriptor), against the kernel in private namespaces and checked with
//! `ip -j`, `bridge -j` and `ethtool`.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use netdev_core::{ErrorKind, Netdev, Registry};
use serde_json::Value;
use support::{eventually, NetNs};

/// A namespace with a veth pair v0/v1 (up) and two bridges br0/br1 (up).
fn setup() -> (NetNs, Registry) {
    support::require_root();
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    for br in ["br0", "br1"] {
        ns.ip(&["link", "add", br, "type", "bridge"]);
        ns.ip(&["link", "set", br, "up"]);
    }
    ns.ip(&["link", "set", "v0", "up"]);
    ns.ip(&["link", "set", "v1", "up"]);
    let reg = Registry::new();
    netdev_linux::register(&reg).unwrap();
    (ns, reg)
}

fn open(ns: &NetNs, reg: &Registry, name: &str) -> Netdev {
    let _in = ns.enter();
    reg.open(name, "system").unwrap()
}

/// `ip -j -d link show dev NAME`, first element.
fn ip_link(ns: &NetNs, name: &str) -> Value {
    let v: Value =
        serde_json::from_str(&ns.ip(&["-j", "-d", "link", "show", "dev", name])).unwrap();
    v[0].clone()
}

/// Runs `step`, waits until the handle saw an event, and checks the device
/// is still there, still answers, and has the master `ip` reports.
fn survives(ns: &NetNs, dev: &Netdev, what: &str, step: impl FnOnce()) {
    let seq = dev.change_seq();
    step();
    eventually(&format!("an event after {what}"), || {
        dev.change_seq() != seq
    });
    // Let every message of the step arrive (a bridge sends several).
    std::thread::sleep(Duration::from_millis(50));
    assert!(!dev.is_gone(), "{what}: the handle says the device is gone");
    let name = dev.name();
    let link = ip_link(ns, &name);
    assert_eq!(
        u64::from(dev.mtu().unwrap_or_else(|e| panic!("{what}: {e}"))),
        link["mtu"].as_u64().unwrap(),
        "{what}"
    );
    let status = dev.status().unwrap();
    assert_eq!(
        status.get("master").map(String::as_str),
        link["master"].as_str(),
        "{what}: status {status:?}"
    );
}

#[test]
fn bridge_port_events_never_remove_the_device() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    survives(&ns, &dev, "enslave to br0", || {
        ns.ip(&["link", "set", "v0", "master", "br0"]);
    });
    survives(&ns, &dev, "bridge port settings", || {
        ns.bridge(&["link", "set", "dev", "v0", "cost", "50"]);
    });
    let cost = {
        let v: Value =
            serde_json::from_str(&ns.bridge(&["-j", "-d", "link", "show", "dev", "v0"])).unwrap();
        v[0]["cost"].as_u64()
    };
    assert_eq!(cost, Some(50), "the setting took effect");
    survives(&ns, &dev, "move to br1", || {
        ns.ip(&["link", "set", "v0", "master", "br1"]);
    });
    // What brcompat's delif does: the bridge sends RTM_DELLINK (AF_BRIDGE)
    // about a device that stays.
    survives(&ns, &dev, "release (nomaster)", || {
        ns.ip(&["link", "set", "v0", "nomaster"]);
    });
    survives(&ns, &dev, "rename", || {
        ns.ip(&["link", "set", "v0", "name", "port0"]);
    });
    assert_eq!(&*dev.name(), "port0");
    survives(&ns, &dev, "enslave after rename", || {
        ns.ip(&["link", "set", "port0", "master", "br0"]);
    });
    survives(&ns, &dev, "release again", || {
        ns.ip(&["link", "set", "port0", "nomaster"]);
    });
    // Later changes made with ip are still seen.
    ns.ip(&["link", "set", "port0", "mtu", "1400"]);
    eventually("the new MTU", || dev.mtu().unwrap() == 1400);
    // And a real removal still is one.
    ns.ip(&["link", "del", "port0"]);
    eventually("removal", || dev.is_gone());
    assert_eq!(dev.mtu().unwrap_err().kind(), &ErrorKind::Gone);
}

#[test]
fn notifier_listens_in_the_class_namespace_whoever_starts_it() {
    let (ns, reg) = setup();
    // No linger: the next open starts a new notifier.
    reg.set_notifier_linger(Duration::ZERO);
    // The class's sockets are made in the namespace of the first opener.
    drop(open(&ns, &reg, "v0"));
    assert!(!reg.notifier_running("rtnetlink"));
    // Reopened from a thread outside the namespace: the device is found
    // (the class asks in its namespace) and so must the events be.
    let dev = std::thread::spawn({
        let reg = reg.clone();
        move || reg.open("v0", "system").unwrap()
    })
    .join()
    .unwrap();
    assert!(reg.notifier_running("rtnetlink"));
    let seq = dev.change_seq();
    ns.ip(&["link", "set", "v0", "mtu", "1234"]);
    eventually("the event from the class's namespace", || {
        dev.change_seq() != seq
    });
    assert_eq!(dev.mtu().unwrap(), 1234);
}

#[test]
fn tap_over_another_kind_of_device_says_why() {
    let (ns, reg) = setup();
    let e = {
        let _in = ns.enter();
        reg.open("v0", "tap").unwrap_err()
    };
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("a device of another type has that name"),
        "detail lost: {text}"
    );
    assert!(text.starts_with("v0: open: "), "{text}");
}

#[test]
fn enumerate_all_stats_and_status_match_ip_and_ethtool() {
    let (ns, reg) = setup();
    ns.ip(&["link", "set", "v0", "master", "br0"]);
    ns.ip(&["tuntap", "add", "t0", "mode", "tap"]);
    let list = {
        let _in = ns.enter();
        reg.enumerate("system").unwrap()
    };
    let ip: Value = serde_json::from_str(&ns.ip(&["-j", "-d", "link"])).unwrap();
    let ip = ip.as_array().unwrap();
    assert_eq!(list.len(), ip.len());
    let ifindex_of: BTreeMap<u64, &str> = ip
        .iter()
        .map(|l| {
            (
                l["ifindex"].as_u64().unwrap(),
                l["ifname"].as_str().unwrap(),
            )
        })
        .collect();
    for (ours, theirs) in list.iter().zip(ip) {
        assert_eq!(u64::from(ours.ifindex), theirs["ifindex"].as_u64().unwrap());
        assert_eq!(ours.name, theirs["ifname"].as_str().unwrap());
        assert_eq!(
            ours.kind.as_deref(),
            theirs["linkinfo"]["info_kind"].as_str(),
            "{}",
            ours.name
        );
        assert_eq!(
            ours.master.map(|m| ifindex_of[&u64::from(m)].to_owned()),
            theirs["master"].as_str().map(str::to_owned),
            "{}",
            ours.name
        );
        assert_eq!(ours.mtu.map(u64::from), theirs["mtu"].as_u64());
    }
    assert!(reg.lookup("v0").is_none(), "enumerating opens nothing");
    // The tap class lists the taps only.
    let taps = {
        let _in = ns.enter();
        reg.enumerate("tap").unwrap()
    };
    let names: Vec<&str> = taps.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["t0"]);

    // Counters of every device through the registry, against ip -s taken
    // just before and just after (IPv6 housekeeping traffic may flow
    // meanwhile: ours must lie between the two).
    let ip_counters = || -> BTreeMap<u64, [u64; 3]> {
        let ip: Value = serde_json::from_str(&ns.ip(&["-j", "-s", "link"])).unwrap();
        ip.as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let s = &l["stats64"];
                (
                    l["ifindex"].as_u64().unwrap(),
                    [
                        s["rx"]["packets"].as_u64().unwrap(),
                        s["tx"]["packets"].as_u64().unwrap(),
                        s["tx"]["dropped"].as_u64().unwrap(),
                    ],
                )
            })
            .collect()
    };
    let before = ip_counters();
    let mut ours = BTreeMap::new();
    {
        let _in = ns.enter();
        reg.all_stats("system", &mut |i, s| {
            ours.insert(u64::from(i), [s.rx_packets, s.tx_packets, s.tx_dropped]);
        })
        .unwrap();
    }
    let after = ip_counters();
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (i, got) in &ours {
        for k in 0..3 {
            assert!(
                before[i][k] <= got[k] && got[k] <= after[i][k],
                "ifindex {i} counter {k}: {got:?} not within {:?}..{:?}",
                before[i],
                after[i]
            );
        }
    }

    // Status: kind and master as ip says, driver as ethtool says.
    let dev = open(&ns, &reg, "v0");
    let status = dev.status().unwrap();
    assert_eq!(status["kind"], "veth");
    assert_eq!(status["master"], "br0");
    assert_eq!(status["operstate"], "up");
    let ethtool = ns.exec("ethtool", &["-i", "v0"]);
    let driver = ethtool
        .lines()
        .find_map(|l| l.strip_prefix("driver: "))
        .unwrap();
    assert_eq!(status["driver_name"], driver.trim());
}

#[test]
fn send_descriptor_polls_writable() {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    let fd = dev.send_fd().unwrap();
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    assert_eq!(poll(&mut fds, PollTimeout::from(1000u16)).unwrap(), 1);
    assert!(fds[0]
        .revents()
        .is_some_and(|r| r.contains(PollFlags::POLLOUT)));
}

#[test]
fn lookup_by_name_matches_the_listing() {
    use netdev_core::NetdevClass;
    let (ns, reg) = setup();
    ns.ip(&["link", "set", "v0", "master", "br0"]);
    ns.ip(&["tuntap", "add", "t0", "mode", "tap"]);
    let _in = ns.enter();
    let system = netdev_linux::SystemClass::new();
    let tap = netdev_linux::SystemClass::tap();
    let list = reg.enumerate("system").unwrap();
    assert!(list.len() >= 5, "lo, v0, v1, br0, br1, t0: {list:?}");
    // One request per name, the same answer as the dump.
    for d in &list {
        assert_eq!(
            system.lookup(&d.name).unwrap().as_ref(),
            Some(d),
            "{}",
            d.name
        );
    }
    assert_eq!(system.lookup("nosuch0").unwrap(), None);
    // The tap class knows its taps only.
    assert_eq!(tap.lookup("v0").unwrap(), None);
    assert_eq!(tap.lookup("t0").unwrap().map(|d| d.name), Some("t0".into()));
}
