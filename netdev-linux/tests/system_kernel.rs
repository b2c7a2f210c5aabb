//! The `system` class against the kernel, each test in its own network
//! namespace, checked against `ip -j`, `ethtool` and sysfs.
#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};

use netdev_core::{ErrorKind, EthAddr, Flags, Ipv4Net, Ipv6Net, Netdev, Registry};
use serde_json::Value;
use support::{eventually, NetNs};

/// A namespace with a veth pair v0/v1, both up, and a registry whose
/// `system` class lives in that namespace.
fn setup() -> (NetNs, Registry) {
    support::require_root();
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.ip(&["link", "set", "v0", "up"]);
    ns.ip(&["link", "set", "v1", "up"]);
    let reg = Registry::new();
    netdev_linux::register(&reg).unwrap();
    (ns, reg)
}

/// Opens `name` from inside the namespace (the class's sockets and the
/// notifier are created there).
fn open(ns: &NetNs, reg: &Registry, name: &str) -> Netdev {
    let _in = ns.enter();
    reg.open(name, "system").unwrap()
}

fn ip_link(ns: &NetNs, name: &str) -> Value {
    let out = ns.ip(&["-j", "-s", "-d", "link", "show", "dev", name]);
    let v: Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

fn ip_flags(link: &Value) -> Vec<String> {
    link["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

/// `/sys/class/net/DEV/ATTR` as seen inside the namespace (`ip netns exec`
/// mounts the namespace's own sysfs).
fn sysfs(ns: &NetNs, dev: &str, attr: &str) -> u64 {
    let path = format!("/sys/class/net/{dev}/{attr}");
    let out = ns.exec("cat", &[&path]);
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{path}: {out:?}: {e}"))
}

/// Moves v1 into a second namespace (so traffic crosses the pair rather
/// than staying local), addresses both ends and pings v1 `count` times from
/// v0. Returns the peer namespace, which must outlive the checks.
fn traffic_over_the_pair(ns: &NetNs, count: u32) -> NetNs {
    let peer = NetNs::new();
    ns.ip(&["link", "set", "v1", "netns", peer.name()]);
    peer.ip(&["link", "set", "v1", "up"]);
    ns.ip(&["addr", "add", "192.0.2.1/24", "dev", "v0"]);
    peer.ip(&["addr", "add", "192.0.2.2/24", "dev", "v1"]);
    let count = count.to_string();
    let args = [
        "netns",
        "exec",
        ns.name(),
        "ping",
        "-c",
        &count,
        "-i",
        "0.2",
        "-W",
        "5",
        "192.0.2.2",
    ];
    support::run("ip", &args);
    peer
}

#[test]
fn reads_match_ip_link() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    let link = ip_link(&ns, "v0");
    assert_eq!(
        u64::from(dev.ifindex().unwrap()),
        link["ifindex"].as_u64().unwrap()
    );
    assert_eq!(u64::from(dev.mtu().unwrap()), link["mtu"].as_u64().unwrap());
    assert_eq!(
        dev.mac().unwrap().to_string(),
        link["address"].as_str().unwrap()
    );
    let flags = dev.flags().unwrap();
    let ipf = ip_flags(&link);
    for (name, flag) in [
        ("UP", Flags::UP),
        ("BROADCAST", Flags::BROADCAST),
        ("MULTICAST", Flags::MULTICAST),
        ("LOWER_UP", Flags::LOWER_UP),
        ("PROMISC", Flags::PROMISC),
    ] {
        assert_eq!(
            flags.contains(flag),
            ipf.iter().any(|f| f == name),
            "{name}: ours {flags:?}, ip {ipf:?}"
        );
    }
    // Carrier: up on both ends of the pair.
    assert_eq!(link["operstate"], "UP");
    assert!(dev.carrier().unwrap());
    let down_count = sysfs(&ns, "v0", "carrier_down_count");
    assert_eq!(dev.carrier_resets().unwrap(), down_count);
    // A device that does not exist.
    let e = {
        let _in = ns.enter();
        reg.open("nosuch0", "system").unwrap_err()
    };
    assert_eq!(e.kind(), &ErrorKind::NoDevice, "{e}");
}

#[test]
fn stats_match_ip_s_link() {
    let (ns, reg) = setup();
    let _peer = traffic_over_the_pair(&ns, 3);
    let dev = open(&ns, &reg, "v0");
    let before = dev.stats().unwrap();
    let link = ip_link(&ns, "v0");
    let after = dev.stats().unwrap();
    let s = &link["stats64"];
    let between = |ours_before: u64, ours_after: u64, ip: &Value| {
        let ip = ip.as_u64().unwrap();
        assert!(
            ours_before <= ip && ip <= ours_after,
            "ip says {ip}, we said {ours_before} then {ours_after}"
        );
    };
    between(before.rx_packets, after.rx_packets, &s["rx"]["packets"]);
    between(before.rx_bytes, after.rx_bytes, &s["rx"]["bytes"]);
    between(before.tx_packets, after.tx_packets, &s["tx"]["packets"]);
    between(before.tx_bytes, after.tx_bytes, &s["tx"]["bytes"]);
    between(before.rx_dropped, after.rx_dropped, &s["rx"]["dropped"]);
    between(before.multicast, after.multicast, &s["rx"]["multicast"]);
    assert!(after.tx_packets >= 3, "the pings went out: {after:?}");
}

#[test]
fn setters_are_seen_by_ip() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    dev.set_mtu(1400).unwrap();
    assert_eq!(ip_link(&ns, "v0")["mtu"], 1400);
    assert_eq!(dev.mtu().unwrap(), 1400);
    let mac: EthAddr = "02:12:34:56:78:9a".parse().unwrap();
    dev.set_mac(mac).unwrap();
    assert_eq!(ip_link(&ns, "v0")["address"], "02:12:34:56:78:9a");
    assert_eq!(dev.mac().unwrap(), mac);
    // Promiscuous mode through a guard, restored on drop.
    {
        let _p = dev.turn_flags_on(Flags::PROMISC).unwrap();
        assert!(ip_flags(&ip_link(&ns, "v0")).contains(&"PROMISC".to_string()));
        assert!(dev.flags().unwrap().contains(Flags::PROMISC));
    }
    assert!(!ip_flags(&ip_link(&ns, "v0")).contains(&"PROMISC".to_string()));
    // Down and up again; the old flags are returned.
    let old = dev.update_flags(Flags::UP, Flags::empty()).unwrap();
    assert!(old.contains(Flags::UP));
    assert!(!ip_flags(&ip_link(&ns, "v0")).contains(&"UP".to_string()));
    dev.update_flags(Flags::empty(), Flags::UP).unwrap();
    assert!(ip_flags(&ip_link(&ns, "v0")).contains(&"UP".to_string()));
    // The kernel refuses an MTU a veth cannot take: its errno, with context.
    let e = dev.set_mtu(70_000).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    assert!(e.to_string().starts_with("v0: set_mtu:"), "{e}");
}

#[test]
fn addresses_match_ip_addr() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    assert_eq!(dev.in4().unwrap(), None);
    let net = Ipv4Net::with_prefix("198.51.100.7".parse().unwrap(), 24).unwrap();
    dev.set_in4(Some(net)).unwrap();
    let out = ns.ip(&["-j", "addr", "show", "dev", "v0"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let v4: Vec<(String, u64)> = v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["family"] == "inet")
        .map(|a| {
            (
                a["local"].as_str().unwrap().to_string(),
                a["prefixlen"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(v4, vec![("198.51.100.7".to_string(), 24)]);
    assert_eq!(dev.in4().unwrap(), Some(net));

    // Added behind our back: the notifier invalidates the cached answer.
    ns.ip(&["addr", "add", "2001:db8::7/64", "dev", "v0", "nodad"]);
    let want = Ipv6Net::new("2001:db8::7".parse().unwrap(), 64).unwrap();
    eventually("in6 to show the new address", || {
        dev.in6().unwrap().contains(&want)
    });
    let out = ns.ip(&["-j", "-6", "addr", "show", "dev", "v0"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    // With prefix lengths, as `ip` shows them.
    let mut ip6: Vec<String> = v[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["local"].as_str().unwrap(),
                a["prefixlen"].as_u64().unwrap()
            )
        })
        .collect();
    let mut ours: Vec<String> = dev.in6().unwrap().iter().map(|a| a.to_string()).collect();
    ip6.sort();
    ours.sort();
    assert_eq!(ours, ip6);
}

#[test]
fn features_match_ethtool_and_sysfs() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    let speed: u64 = support::run(
        "ip",
        &["netns", "exec", ns.name(), "cat", "/sys/class/net/v0/speed"],
    )
    .trim()
    .parse()
    .unwrap();
    let ethtool = ns.exec("ethtool", &["v0"]);
    assert!(
        ethtool.contains(&format!("Speed: {speed}Mb/s")),
        "ethtool and sysfs disagree? {ethtool}"
    );
    let s = dev.speed().unwrap();
    assert_eq!(s.mbps, speed);
    assert_eq!(
        ethtool.contains("Duplex: Full"),
        s.duplex == Some(netdev_core::Duplex::Full)
    );
    // The loopback device has no ethtool link settings: a clean answer.
    let lo = open(&ns, &reg, "lo");
    let e = lo.features().unwrap_err();
    assert!(e.is_not_supported(), "{e}");
}

#[test]
fn notifier_refreshes_cache_and_bumps_sequence() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    assert_eq!(dev.mtu().unwrap(), 1500);
    let seq = dev.change_seq();
    ns.ip(&["link", "set", "v0", "mtu", "1300"]);
    eventually("the MTU event", || dev.change_seq() != seq);
    assert_eq!(dev.mtu().unwrap(), 1300);
    // Carrier follows the peer.
    ns.ip(&["link", "set", "v1", "down"]);
    eventually("carrier loss", || !dev.carrier().unwrap());
    ns.ip(&["link", "set", "v1", "up"]);
    eventually("carrier back", || dev.carrier().unwrap());
}

#[test]
fn rename_is_followed_and_recreation_is_a_new_device() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    let old_index = dev.ifindex().unwrap();
    ns.ip(&["link", "set", "v0", "down"]);
    ns.ip(&["link", "set", "v0", "name", "w0"]);
    eventually("rename", || &*dev.name() == "w0");
    assert!(!dev.is_gone());
    assert_eq!(dev.mtu().unwrap(), 1500);
    assert!(reg.lookup("w0").is_some());

    // Delete it and create another device under the same name.
    ns.ip(&["link", "del", "w0"]);
    eventually("removal", || dev.is_gone());
    ns.ip(&["link", "add", "w0", "type", "veth", "peer", "name", "w1"]);
    let fresh = open(&ns, &reg, "w0");
    assert!(!fresh.same_device(&dev));
    assert_ne!(fresh.ifindex().unwrap(), old_index);
    assert_eq!(dev.mtu().unwrap_err().kind(), &ErrorKind::Gone);
}

/// An Ethernet frame from `src` to `dst` with an experimental EtherType.
fn frame(dst: EthAddr, src: EthAddr, fill: u8, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(len, fill);
    f
}

/// Receives until `want` frames with EtherType 0x88b5 arrived (other
/// traffic, e.g. IPv6 neighbour discovery, is skipped) or 10 s pass.
fn recv_ours(rx: &mut netdev_core::RxQueue, want: usize) -> Vec<Vec<u8>> {
    recv_ours_within(rx, want, Duration::from_secs(10))
}

fn recv_ours_within(rx: &mut netdev_core::RxQueue, want: usize, limit: Duration) -> Vec<Vec<u8>> {
    let mut batch = netdev_core::PacketBatch::new(64, 2048);
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    while got.len() < want && Instant::now() < deadline {
        rx.wait(Some(Duration::from_millis(100))).unwrap();
        rx.recv_batch(&mut batch).unwrap();
        for p in batch.iter() {
            assert!(!p.is_truncated());
            if p.data.get(12..14) == Some(&[0x88, 0xb5][..]) {
                got.push(p.data.to_vec());
            }
        }
    }
    got
}

#[test]
fn frames_cross_a_veth_pair_through_the_api() {
    let (ns, reg) = setup();
    let v0 = open(&ns, &reg, "v0");
    let v1 = open(&ns, &reg, "v1");
    // Opened from outside the namespace on purpose: the class creates the
    // packet sockets in the devices' namespace.
    let mut rx1 = v1.open_rx().unwrap();
    let mut rx0 = v0.open_rx().unwrap();
    let frames: Vec<Vec<u8>> = (0..32u8)
        .map(|i| frame(v1.mac().unwrap(), v0.mac().unwrap(), i, 60 + usize::from(i)))
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    let mut sent = 0;
    while sent < refs.len() {
        sent += v0.send_batch(&refs[sent..]).unwrap();
        if sent < refs.len() {
            v0.send_wait(Some(Duration::from_secs(1))).unwrap();
        }
    }
    assert_eq!(recv_ours(&mut rx1, 32), frames);
    // Our own transmissions are not received back on v0 (the frames are
    // already across, so half a second of silence is conclusive).
    assert!(recv_ours_within(&mut rx0, 1, Duration::from_millis(500)).is_empty());
    // And the other way.
    let back = frame(v0.mac().unwrap(), v1.mac().unwrap(), 0xee, 100);
    assert_eq!(v1.send_batch(&[&back]).unwrap(), 1);
    assert_eq!(recv_ours(&mut rx0, 1), vec![back]);
}

#[test]
fn tap_class_creates_and_destroys_a_tap() {
    let (ns, reg) = setup();
    let tap = {
        let _in = ns.enter();
        reg.open("tap0", "tap").unwrap()
    };
    let link = ip_link(&ns, "tap0");
    assert_eq!(link["linkinfo"]["info_kind"], "tun");
    assert_eq!(
        u64::from(tap.ifindex().unwrap()),
        link["ifindex"].as_u64().unwrap()
    );
    assert_eq!(
        tap.mac().unwrap().to_string(),
        link["address"].as_str().unwrap()
    );
    tap.update_flags(Flags::empty(), Flags::UP).unwrap();

    // The same device opened as `system` in another registry sees frames
    // the tap handle writes (the kernel receives them on tap0).
    let reg2 = Registry::new();
    netdev_linux::register(&reg2).unwrap();
    let sys = open(&ns, &reg2, "tap0");
    let mut sys_rx = sys.open_rx().unwrap();
    let f = frame(EthAddr::BROADCAST, EthAddr([2, 0, 0, 0, 0, 1]), 7, 64);
    assert_eq!(tap.send_batch(&[&f]).unwrap(), 1);
    assert_eq!(recv_ours(&mut sys_rx, 1), vec![f]);
    // And frames the kernel sends out tap0 are read from the tap.
    let mut tap_rx = tap.open_rx().unwrap();
    let g = frame(EthAddr::BROADCAST, EthAddr([2, 0, 0, 0, 0, 2]), 8, 70);
    assert_eq!(sys.send_batch(&[&g]).unwrap(), 1);
    assert_eq!(recv_ours(&mut tap_rx, 1), vec![g]);
    drop(sys_rx);
    drop(sys);

    // The tap goes away with its last handle and queue. Not always within
    // the drop itself here: other tests of this binary spawn `ip` at any
    // moment, and a child between its fork and its exec holds a reference
    // to every descriptor of the process, the tap's too; the kernel then
    // deletes the tap when that child execs. Within the drop, without
    // concurrent spawns: tests/tap_lifetime.rs.
    drop(tap_rx);
    drop(tap);
    eventually("tap0 to be destroyed", || {
        !ns.ip(&["-j", "link"]).contains("\"tap0\"")
    });
    // A name that exists as another kind of device cannot become a tap.
    let e = {
        let _in = ns.enter();
        reg.open("v0", "tap").unwrap_err()
    };
    assert!(e.raw_os_error().is_some(), "{e}");
}

#[test]
fn burst_overflow_leaves_correct_caches() {
    support::require_root();
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    ns.add_ifbs("ifb", 20);
    let reg = Registry::new();
    // A tiny notifier buffer: the burst below cannot fit.
    reg.register(netdev_linux::SystemClass::with_notifier_rcvbuf(2048))
        .unwrap();
    let names: Vec<String> = std::iter::once("v0".to_string())
        .chain((0..20).map(|i| format!("ifb{i}")))
        .collect();
    let devs: Vec<Netdev> = {
        let _in = ns.enter();
        names
            .iter()
            .map(|n| reg.open(n, "system").unwrap())
            .collect()
    };
    for d in &devs {
        d.mtu().unwrap();
        d.flags().unwrap();
    }
    let events = reg.subscribe().unwrap();
    // 4000 changes in one go; the last word on each device is what counts.
    let mut cmds = Vec::new();
    for round in 0..191 {
        for (i, n) in names.iter().enumerate() {
            let mtu = 1000 + (round * 7 + i) % 400;
            cmds.push(format!("link set {n} mtu {mtu}"));
        }
    }
    cmds.push("link set v0 mtu 1234".to_string());
    cmds.push("link set v0 address 02:00:00:00:12:34".to_string());
    cmds.push("link set ifb3 up".to_string());
    assert!(cmds.len() >= 4000);
    // The notifier is held back while the burst happens, so the loss does
    // not depend on who runs faster: the socket must overflow.
    let held = reg.hold_changes();
    ns.ip_batch(cmds);
    drop(held);

    // The loss must be reported, not swallowed.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut overflowed = false;
    while !overflowed && Instant::now() < deadline {
        if let Some(c) = events.recv_timeout(Duration::from_millis(100)) {
            overflowed = c == netdev_core::Change::Overflow;
        }
    }
    assert!(overflowed, "a 2 KiB buffer cannot hold 4000 notifications");

    // After resynchronisation every cached value agrees with ip.
    let check = || {
        names.iter().zip(&devs).all(|(n, d)| {
            let link = ip_link(&ns, n);
            u64::from(d.mtu().unwrap()) == link["mtu"].as_u64().unwrap()
                && d.mac().unwrap().to_string() == link["address"].as_str().unwrap()
                && d.flags().unwrap().contains(Flags::UP)
                    == ip_flags(&link).contains(&"UP".to_string())
        })
    };
    eventually("caches to agree with ip -j link", check);
    assert_eq!(devs[0].mtu().unwrap(), 1234);
    assert_eq!(devs[0].mac().unwrap().to_string(), "02:00:00:00:12:34");
    assert!(devs[4].flags().unwrap().contains(Flags::UP));
}

#[test]
fn all_stats_match_ip_s_link() {
    let (ns, reg) = setup();
    let _peer = traffic_over_the_pair(&ns, 2);
    let _ = reg;
    let (before, after, links) = {
        let _in = ns.enter();
        let before = netdev_linux::all_stats().unwrap();
        let out = ns.ip(&["-j", "-s", "link"]);
        let after = netdev_linux::all_stats().unwrap();
        (before, after, out)
    };
    let links: Value = serde_json::from_str(&links).unwrap();
    let links = links.as_array().unwrap();
    assert_eq!(before.len(), links.len());
    for l in links {
        let idx = l["ifindex"].as_u64().unwrap() as u32;
        let b = before.iter().find(|(i, _)| *i == idx).unwrap().1;
        let a = after.iter().find(|(i, _)| *i == idx).unwrap().1;
        for (ours_b, ours_a, ip) in [
            (b.rx_packets, a.rx_packets, &l["stats64"]["rx"]["packets"]),
            (b.tx_packets, a.tx_packets, &l["stats64"]["tx"]["packets"]),
            (b.rx_bytes, a.rx_bytes, &l["stats64"]["rx"]["bytes"]),
            (b.tx_bytes, a.tx_bytes, &l["stats64"]["tx"]["bytes"]),
        ] {
            let ip = ip.as_u64().unwrap();
            assert!(
                ours_b <= ip && ip <= ours_a,
                "{}: {ours_b} <= {ip} <= {ours_a}",
                l["ifname"]
            );
        }
    }
    let v0 = after
        .iter()
        .find(|(i, _)| u64::from(*i) == ip_link(&ns, "v0")["ifindex"].as_u64().unwrap())
        .unwrap();
    assert!(v0.1.tx_packets >= 2);
}

#[test]
fn notifier_sees_mac_changes_and_address_removal() {
    let (ns, reg) = setup();
    let dev = open(&ns, &reg, "v0");
    let before = dev.mac().unwrap();
    ns.ip(&["link", "set", "v0", "address", "02:aa:bb:cc:dd:ee"]);
    eventually("the MAC event", || dev.mac().unwrap() != before);
    assert_eq!(dev.mac().unwrap().to_string(), "02:aa:bb:cc:dd:ee");
    ns.ip(&["addr", "add", "203.0.113.9/24", "dev", "v0"]);
    eventually("the address", || dev.in4().unwrap().is_some());
    ns.ip(&["addr", "del", "203.0.113.9/24", "dev", "v0"]);
    eventually("the removal", || dev.in4().unwrap().is_none());
}

#[test]
fn bridge_and_ifb_devices_read_like_ip_says() {
    let (ns, reg) = setup();
    ns.ip(&["link", "add", "br0", "type", "bridge"]);
    ns.ip(&["link", "set", "v0", "master", "br0"]);
    ns.ip(&["link", "set", "br0", "up"]);
    ns.add_ifbs("ifb", 1);
    for name in ["br0", "ifb0"] {
        let dev = open(&ns, &reg, name);
        let link = ip_link(&ns, name);
        assert_eq!(
            u64::from(dev.ifindex().unwrap()),
            link["ifindex"].as_u64().unwrap()
        );
        assert_eq!(u64::from(dev.mtu().unwrap()), link["mtu"].as_u64().unwrap());
        assert_eq!(
            dev.mac().unwrap().to_string(),
            link["address"].as_str().unwrap()
        );
        let ipf = ip_flags(&link);
        assert_eq!(
            dev.flags().unwrap().contains(Flags::UP),
            ipf.contains(&"UP".to_string()),
            "{name}"
        );
        assert_eq!(
            dev.flags().unwrap().contains(Flags::NOARP),
            ipf.contains(&"NOARP".to_string()),
            "{name}"
        );
    }
    // The bridge's MTU follows its port: change the port, read the bridge.
    let br = open(&ns, &reg, "br0");
    let v0 = open(&ns, &reg, "v0");
    v0.set_mtu(1400).unwrap();
    eventually("the bridge MTU to follow its port", || {
        br.mtu().unwrap() == 1400
    });
    assert_eq!(ip_link(&ns, "br0")["mtu"], 1400);
}

#[test]
fn vlan_tags_restored_by_default_and_dropped_when_asked() {
    let (ns, reg) = setup();
    let plain = Registry::new();
    plain
        .register(netdev_linux::SystemClass::with_options(
            netdev_linux::SystemOptions {
                restore_vlan: false,
                ..Default::default()
            },
        ))
        .unwrap();
    let v0 = open(&ns, &reg, "v0");
    let v1 = open(&ns, &reg, "v1");
    let v1_plain = open(&ns, &plain, "v1");
    let mut rx = v1.open_rx().unwrap();
    let mut rx_plain = v1_plain.open_rx().unwrap();
    // An 802.1Q frame, VLAN 100, carrying our experimental EtherType.
    let mut tagged = Vec::new();
    tagged.extend_from_slice(&v1.mac().unwrap().octets());
    tagged.extend_from_slice(&v0.mac().unwrap().octets());
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x88, 0xb5]);
    tagged.resize(64, 0x5a);
    assert_eq!(v0.send_batch(&[&tagged]).unwrap(), 1);
    let mut batch = netdev_core::PacketBatch::new(16, 2048);
    let find = |rx: &mut netdev_core::RxQueue, batch: &mut netdev_core::PacketBatch| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            rx.wait(Some(Duration::from_millis(100))).unwrap();
            rx.recv_batch(batch).unwrap();
            // Exactly our frame, tagged or not: same addresses, and our
            // EtherType and payload at the end (the veth's own IPv6
            // multicast reports share the source address).
            if let Some(p) = batch.iter().find(|p| {
                p.data.get(..12) == Some(&tagged[..12]) && p.data.ends_with(&tagged[16..])
            }) {
                return p.data.to_vec();
            }
        }
        panic!("the tagged frame did not arrive");
    };
    // Default: the tag the kernel stripped is put back.
    assert_eq!(find(&mut rx, &mut batch), tagged);
    // Opted out: the frame arrives as the kernel left it, untagged.
    let mut untagged = tagged[..12].to_vec();
    untagged.extend_from_slice(&tagged[16..]);
    assert_eq!(find(&mut rx_plain, &mut batch), untagged);
}
