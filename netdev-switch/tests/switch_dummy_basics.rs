//! The switch on the in-memory `dummy` class: no privileges, every OS.
//! Frames are injected on a port's device (as if they arrived on its wire)
//! and read back from what the switch sent on the others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use netdev::{Flags, Netdev, Registry};
use netdev_dummy::DummyClass;
use netdev_switch::{
    BridgeConfig, ManualClock, PortConfig, PortCounters, Switch, SwitchConfig, SwitchOptions,
    VlanMode,
};

const BR: &str = "br0";
const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const C: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0c];
const BCAST: [u8; 6] = [0xff; 6];

fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A 60-byte frame, then an 802.1Q tag of `tci` inserted if given (so
/// pushing or stripping a tag maps one form onto the other exactly).
fn frame(dst: [u8; 6], src: [u8; 6], tci: Option<u16>, seq: u8) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5, seq]);
    f.resize(60, seq);
    if let Some(tci) = tci {
        let mut tag = vec![0x81, 0x00];
        tag.extend_from_slice(&tci.to_be_bytes());
        f.splice(12..12, tag);
    }
    f
}

struct Lab {
    switch: Switch,
    class: Arc<DummyClass>,
    clock: Arc<ManualClock>,
    /// Kept open so the devices exist and stay up.
    devs: Vec<Netdev>,
}

impl Lab {
    /// Dummy devices `p1`..`pN`, up, and a switch with no bridge.
    fn new(n: usize) -> Lab {
        let registry = Registry::new();
        let class = netdev_dummy::register(&registry).unwrap();
        let mut devs = Vec::new();
        for i in 1..=n {
            let d = registry.open(&format!("p{i}"), "dummy").unwrap();
            d.update_flags(Flags::empty(), Flags::UP).unwrap();
            devs.push(d);
        }
        let clock = Arc::new(ManualClock::new());
        let options = SwitchOptions {
            member_type: "dummy".into(),
            internal_type: "dummy".into(),
            clock: clock.clone(),
            ..SwitchOptions::default()
        };
        let switch = Switch::new(registry, options).unwrap();
        Lab {
            switch,
            class,
            clock,
            devs,
        }
    }

    fn apply(&self, ports: &[(&str, PortConfig)]) {
        let mut b = BridgeConfig::with_local_port(BR);
        for (n, pc) in ports {
            b = b.port(n, pc.clone());
        }
        let problems = self.switch.apply(&SwitchConfig::new().bridge(BR, b));
        assert!(problems.is_empty(), "{problems:?}");
    }

    fn inject(&self, dev: &str, f: &[u8]) {
        let n = self.class.device(dev).unwrap().inject_rx(f);
        assert!(n >= 1, "{dev} has no open receive queue");
    }

    fn sent(&self, dev: &str) -> Vec<Vec<u8>> {
        self.class.device(dev).unwrap().take_sent()
    }

    fn counters(&self, port: &str) -> PortCounters {
        self.switch
            .ports(BR)
            .unwrap()
            .into_iter()
            .find(|p| p.name == port)
            .unwrap_or_else(|| panic!("no port {port}"))
            .counters
    }

    /// Waits until `port` received `n` frames in all.
    fn wait_rx(&self, port: &str, n: u64) {
        eventually(&format!("{port} to receive {n} frames"), || {
            self.counters(port).rx_packets >= n
        });
    }
}

fn m(name: &str) -> (&str, PortConfig) {
    (name, PortConfig::member(name))
}

#[test]
fn floods_unknown_then_forwards_learned_unicast() {
    let lab = Lab::new(3);
    lab.apply(&[m("p1"), m("p2"), m("p3")]);
    let f1 = frame(BCAST, A, None, 1);
    lab.inject("p1", &f1);
    lab.wait_rx("p1", 1);
    assert_eq!(lab.sent("p2"), std::slice::from_ref(&f1));
    assert_eq!(lab.sent("p3"), std::slice::from_ref(&f1));
    assert_eq!(
        lab.sent(BR),
        std::slice::from_ref(&f1),
        "the local port gets floods"
    );
    assert!(lab.sent("p1").is_empty(), "never back to the ingress port");

    // B answers A: A is known on p1, so only p1 gets it.
    let f2 = frame(A, B, None, 2);
    lab.inject("p2", &f2);
    lab.wait_rx("p2", 1);
    assert_eq!(lab.sent("p1"), [f2]);
    assert!(lab.sent("p3").is_empty());
    assert!(lab.sent(BR).is_empty());

    // To an unknown unicast address: flooded.
    let f3 = frame(C, A, None, 3);
    lab.inject("p1", &f3);
    lab.wait_rx("p1", 2);
    assert_eq!(lab.sent("p2"), std::slice::from_ref(&f3));
    assert_eq!(lab.sent("p3"), [f3]);

    // To an address on the ingress port itself: dropped.
    let f4 = frame(A, B, None, 4);
    let f5 = frame(B, A, None, 5);
    lab.inject("p2", &frame(BCAST, A, None, 6)); // A moves to p2
    lab.wait_rx("p2", 2);
    lab.sent("p1");
    lab.sent("p3");
    lab.sent(BR);
    lab.inject("p2", &f4);
    lab.inject("p2", &f5);
    lab.wait_rx("p2", 4);
    assert!(lab.sent("p1").is_empty() && lab.sent("p3").is_empty());

    let (p1, p2) = (lab.counters("p1"), lab.counters("p2"));
    assert_eq!((p1.rx_packets, p1.flooded, p1.forwarded), (2, 2, 0));
    assert_eq!(
        (p2.rx_packets, p2.flooded, p2.forwarded, p2.dropped),
        (4, 1, 1, 2)
    );

    let fdb = lab.switch.fdb(BR).unwrap();
    let learned: Vec<(&str, [u8; 6])> = fdb
        .iter()
        .filter(|r| !r.is_local)
        .map(|r| (r.port.as_str(), r.mac.0))
        .collect();
    assert_eq!(learned, [("p2", A), ("p2", B)], "{fdb:#?}");
}

#[test]
fn access_and_trunk_ports_tag_untag_and_isolate_vlans() {
    let lab = Lab::new(3);
    lab.apply(&[
        (
            "p1",
            PortConfig::member("p1").with_vlan(VlanMode::Access(10)),
        ),
        m("p2"),
        (
            "p3",
            PortConfig::member("p3").with_vlan(VlanMode::Access(20)),
        ),
    ]);
    // Untagged into access 10: out of the trunk tagged 10, not to VLAN 20.
    lab.inject("p1", &frame(BCAST, A, None, 1));
    lab.wait_rx("p1", 1);
    assert_eq!(lab.sent("p2"), [frame(BCAST, A, Some(10), 1)]);
    assert!(lab.sent("p3").is_empty());
    // Tagged 10 into the trunk: out of access 10 untagged.
    lab.inject("p2", &frame(BCAST, B, Some(10), 2));
    lab.wait_rx("p2", 1);
    assert_eq!(lab.sent("p1"), [frame(BCAST, B, None, 2)]);
    assert!(lab.sent("p3").is_empty());
    // Tagged 20 into the trunk: to access 20 only; priority bits dropped
    // with the tag.
    lab.inject("p2", &frame(BCAST, B, Some(0x6014), 3));
    lab.wait_rx("p2", 2);
    assert_eq!(lab.sent("p3"), [frame(BCAST, B, None, 3)]);
    assert!(lab.sent("p1").is_empty());
    // Tagged frames into an access port: dropped and counted.
    lab.inject("p1", &frame(BCAST, A, Some(10), 4));
    lab.inject("p1", &frame(BCAST, A, Some(20), 5));
    lab.wait_rx("p1", 3);
    assert!(lab.sent("p2").is_empty() && lab.sent("p3").is_empty());
    assert_eq!(lab.counters("p1").dropped, 2);
    // A priority-tagged frame (VID 0) into an access port is its VLAN.
    lab.inject("p1", &frame(BCAST, A, Some(0x2000), 6));
    lab.wait_rx("p1", 4);
    let out = lab.sent("p2");
    assert_eq!(out.len(), 1, "{out:02x?}");
    assert_eq!(
        &out[0][12..16],
        &[0x81, 0x00, 0x20, 0x0a],
        "VID 10 set, priority kept"
    );
    // Learned per VLAN.
    let fdb = lab.switch.fdb(BR).unwrap();
    let learned: Vec<(&str, u16, [u8; 6])> = fdb
        .iter()
        .filter(|r| !r.is_local)
        .map(|r| (r.port.as_str(), r.vlan, r.mac.0))
        .collect();
    assert_eq!(
        learned,
        [("p1", 10, A), ("p2", 10, B), ("p2", 20, B)],
        "{fdb:#?}"
    );
}

#[test]
fn learned_addresses_age_out_and_go_with_their_port() {
    let lab = Lab::new(2);
    lab.apply(&[m("p1"), m("p2")]);
    lab.inject("p1", &frame(BCAST, A, None, 1));
    lab.inject("p2", &frame(BCAST, B, None, 2));
    lab.wait_rx("p2", 1);
    let learned = |lab: &Lab| {
        lab.switch
            .fdb(BR)
            .unwrap()
            .iter()
            .filter(|r| !r.is_local)
            .count()
    };
    assert_eq!(learned(&lab), 2);
    lab.clock.advance(Duration::from_secs(301));
    eventually("learned addresses to age out", || learned(&lab) == 0);

    lab.inject("p1", &frame(BCAST, A, None, 3));
    lab.inject("p2", &frame(BCAST, B, None, 4));
    lab.wait_rx("p2", 2);
    assert_eq!(learned(&lab), 2);
    // p2 removed: its addresses are forgotten, and frames to B flood.
    lab.apply(&[m("p1")]);
    let fdb = lab.switch.fdb(BR).unwrap();
    assert!(fdb.iter().all(|r| r.port != "p2"), "{fdb:#?}");
    lab.sent(BR);
    lab.inject("p1", &frame(B, A, None, 5));
    lab.wait_rx("p1", 3);
    assert_eq!(lab.sent(BR), [frame(B, A, None, 5)]);
    assert_eq!(lab.counters("p1").flooded, 3);
}

#[test]
fn ports_are_numbered_and_reported_with_their_devices() {
    let lab = Lab::new(3);
    lab.apply(&[m("p1"), m("p2"), m("p3")]);
    let ports = lab.switch.ports(BR).unwrap();
    let seen: Vec<(&str, u16, Option<&str>)> = ports
        .iter()
        .map(|p| (p.name.as_str(), p.port_no, p.active.as_deref()))
        .collect();
    assert_eq!(
        seen,
        [
            (BR, 0, Some(BR)),
            ("p1", 1, Some("p1")),
            ("p2", 2, Some("p2")),
            ("p3", 3, Some("p3"))
        ]
    );
    assert!(ports.iter().all(|p| p.error.is_none()));
    // Member ports are promiscuous while in the switch, and get their
    // flags back when released.
    let flags = |n: &str| {
        lab.devs[n[1..].parse::<usize>().unwrap() - 1]
            .flags()
            .unwrap()
    };
    assert!(flags("p2").contains(Flags::PROMISC));
    lab.apply(&[m("p1"), m("p3")]);
    assert!(!flags("p2").contains(Flags::PROMISC));
    assert!(flags("p2").contains(Flags::UP));
    assert!(lab.switch.ports("nosuch").is_none());
    assert!(lab.switch.fdb("nosuch").is_none());
}
