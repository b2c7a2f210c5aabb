//! The switch's forwarding on dummy devices: learning, ageing (with a
//! manual clock), flooding, VLAN access and trunk ports, MAC moves, fake
//! bridges, live reconfiguration. Each switch port `pN` is cabled to a
//! host-side dummy `hN`, whose receive queue shows what the switch sent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use netdev::{EthAddr, Flags, Netdev, PacketBatch, Registry, RxQueue};
use netdev_dummy::DummyClass;
use netdev_switch::{
    BridgeConfig, ManualClock, PortConfig, Switch, SwitchConfig, SwitchOptions, VlanMode,
};

const BCAST: [u8; 6] = [0xff; 6];

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

/// An Ethernet frame from `src` to `dst`, tagged `tci` if given, carrying
/// `id` so a test can tell frames apart.
fn frame(dst: [u8; 6], src: [u8; 6], tci: Option<u16>, id: u8) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    if let Some(t) = tci {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&t.to_be_bytes());
    }
    f.extend_from_slice(&[0x88, 0xb5]);
    f.extend_from_slice(&[id; 46]);
    f
}

struct Host {
    dev: Netdev,
    rx: RxQueue,
}

struct Lab {
    registry: Registry,
    clock: Arc<ManualClock>,
    switch: Switch,
    hosts: BTreeMap<String, Host>,
    // The switch-side devices p1..pN: kept alive and up across
    // reconfigurations, and driven by tests (down, MTU).
    switch_side: Vec<Netdev>,
    class: Arc<DummyClass>,
}

impl Lab {
    /// Ports p1..=pN cabled to hosts h1..=hN (all up), a switch with no
    /// bridge yet.
    fn new(n: usize) -> Lab {
        let registry = Registry::new();
        let class = netdev_dummy::register(&registry).unwrap();
        let clock = Arc::new(ManualClock::new());
        let options = SwitchOptions {
            member_type: "dummy".into(),
            internal_type: "dummy".into(),
            clock: clock.clone(),
            ..SwitchOptions::default()
        };
        let mut hosts = BTreeMap::new();
        let mut ports = Vec::new();
        for i in 1..=n {
            let p = registry.open(&format!("p{i}"), "dummy").unwrap();
            let h = registry.open(&format!("h{i}"), "dummy").unwrap();
            p.update_flags(Flags::empty(), Flags::UP).unwrap();
            h.update_flags(Flags::empty(), Flags::UP).unwrap();
            class
                .device(&format!("p{i}"))
                .unwrap()
                .connect(&class.device(&format!("h{i}")).unwrap());
            let rx = h.open_rx().unwrap();
            hosts.insert(format!("h{i}"), Host { dev: h, rx });
            ports.push(p);
        }
        let switch = Switch::new(registry.clone(), options).unwrap();
        Lab {
            registry,
            clock,
            switch,
            hosts,
            switch_side: ports,
            class,
        }
    }

    fn apply(&self, config: &SwitchConfig) {
        let problems = self.switch.apply(config);
        assert!(problems.is_empty(), "{problems:?}");
    }

    fn send(&self, host: &str, frame: &[u8]) {
        assert_eq!(self.hosts[host].dev.send_batch(&[frame]).unwrap(), 1);
    }

    /// The frames host `name` has received (waiting up to `wait` for each
    /// next one).
    fn received(&mut self, name: &str, wait: Duration) -> Vec<Vec<u8>> {
        let host = self.hosts.get_mut(name).unwrap();
        let mut out = Vec::new();
        let mut batch = PacketBatch::new(64, 2048);
        while host.rx.wait(Some(wait)).unwrap() {
            host.rx.recv_batch(&mut batch).unwrap();
            out.extend(batch.iter().map(|p| p.data.to_vec()));
        }
        out
    }

    /// Sends `frame` from `from` and returns which hosts got what, once the
    /// datapath has forwarded it.
    fn deliver(&mut self, from: &str, frame: &[u8]) -> BTreeMap<String, Vec<Vec<u8>>> {
        self.send(from, frame);
        self.sync();
        let names: Vec<String> = self.hosts.keys().cloned().collect();
        names
            .into_iter()
            .map(|n| {
                let got = self.received(&n, Duration::ZERO);
                (n, got)
            })
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// Waits until the datapath has forwarded every frame received so far
    /// (a query does that before it answers).
    fn sync(&self) {
        let _ = self.switch.ports("br0");
    }
}

fn bridge(ports: &[(&str, VlanMode)]) -> SwitchConfig {
    let mut br = BridgeConfig::with_local_port("br0");
    for (name, vlan) in ports {
        br = br.port(name, PortConfig::member(name).with_vlan(*vlan));
    }
    SwitchConfig::new().bridge("br0", br)
}

fn trunk3() -> SwitchConfig {
    bridge(&[
        ("p1", VlanMode::Trunk),
        ("p2", VlanMode::Trunk),
        ("p3", VlanMode::Trunk),
    ])
}

fn hosts_of(got: &BTreeMap<String, Vec<Vec<u8>>>) -> Vec<&str> {
    got.keys().map(String::as_str).collect()
}

#[test]
fn floods_unknown_then_forwards_learned() {
    let mut lab = Lab::new(3);
    lab.apply(&trunk3());
    // Unknown destination: flooded to every other port, not back.
    let f = frame(mac(2), mac(1), None, 1);
    let got = lab.deliver("h1", &f);
    assert_eq!(hosts_of(&got), ["h2", "h3"]);
    assert_eq!(got["h2"], vec![f.clone()], "unchanged");
    // h2 answers: h1 was learned, so only h1 gets it.
    let g = frame(mac(1), mac(2), None, 2);
    assert_eq!(hosts_of(&lab.deliver("h2", &g)), ["h1"]);
    // Now both are known: h1 → h2 goes only to h2.
    assert_eq!(hosts_of(&lab.deliver("h1", &f)), ["h2"]);
    // Broadcast and multicast always flood.
    let b = frame(BCAST, mac(1), None, 3);
    assert_eq!(hosts_of(&lab.deliver("h1", &b)), ["h2", "h3"]);
    let m = frame([0x01, 0, 0x5e, 0, 0, 1], mac(2), None, 4);
    assert_eq!(hosts_of(&lab.deliver("h2", &m)), ["h1", "h3"]);

    let ports = lab.switch.ports("br0").unwrap();
    let p = |n: &str| ports.iter().find(|p| p.name == n).unwrap().counters;
    assert_eq!(p("p1").rx_packets, 3);
    assert_eq!((p("p1").flooded, p("p1").forwarded), (2, 1));
    assert_eq!((p("p2").flooded, p("p2").forwarded), (1, 1));
    assert_eq!(p("p1").tx_packets, 2, "g and m");
    assert_eq!(p("p3").tx_packets, 3, "f, b, m");
    assert_eq!(p("p3").rx_packets, 0);

    let fdb = lab.switch.fdb("br0").unwrap();
    let learned: Vec<(u16, EthAddr, &str)> = fdb
        .iter()
        .filter(|r| !r.is_local)
        .map(|r| (r.vlan, r.mac, r.port.as_str()))
        .collect();
    assert_eq!(
        learned,
        [(0, EthAddr(mac(1)), "p1"), (0, EthAddr(mac(2)), "p2")]
    );
    // The member ports' own addresses are listed as local.
    let locals: Vec<&str> = fdb
        .iter()
        .filter(|r| r.is_local)
        .map(|r| r.port.as_str())
        .collect();
    assert_eq!(locals, ["p1", "p2", "p3"]);
    let p1_mac = lab.registry.lookup("p1").unwrap().mac().unwrap();
    assert!(fdb
        .iter()
        .any(|r| r.is_local && r.mac == p1_mac && r.port_no >= 1));
}

#[test]
fn a_destination_on_the_ingress_port_is_dropped() {
    let mut lab = Lab::new(2);
    lab.apply(&bridge(&[("p1", VlanMode::Trunk), ("p2", VlanMode::Trunk)]));
    lab.deliver("h1", &frame(BCAST, mac(1), None, 1));
    lab.deliver("h1", &frame(BCAST, mac(9), None, 1));
    // mac(9) is on p1 too: a frame from h1 to it goes nowhere.
    let got = lab.deliver("h1", &frame(mac(9), mac(1), None, 2));
    assert!(got.is_empty(), "{got:?}");
    let ports = lab.switch.ports("br0").unwrap();
    let p1 = ports.iter().find(|p| p.name == "p1").unwrap().counters;
    assert_eq!(p1.dropped, 1);
}

#[test]
fn addresses_age_out_with_the_clock() {
    let mut lab = Lab::new(3);
    lab.apply(&trunk3());
    lab.deliver("h2", &frame(BCAST, mac(2), None, 1));
    let to2 = frame(mac(2), mac(1), None, 2);
    assert_eq!(hosts_of(&lab.deliver("h1", &to2)), ["h2"]);
    lab.clock.advance(Duration::from_secs(299));
    assert_eq!(
        hosts_of(&lab.deliver("h1", &to2)),
        ["h2"],
        "299 s: still known"
    );
    let age = lab
        .switch
        .fdb("br0")
        .unwrap()
        .into_iter()
        .find(|r| r.mac == EthAddr(mac(2)))
        .unwrap()
        .age;
    assert_eq!(age, Duration::from_secs(299));
    lab.clock.advance(Duration::from_secs(1));
    assert_eq!(
        hosts_of(&lab.deliver("h1", &to2)),
        ["h2", "h3"],
        "300 s: forgotten, flooded"
    );
    assert!(!lab
        .switch
        .fdb("br0")
        .unwrap()
        .iter()
        .any(|r| r.mac == EthAddr(mac(2))));
}

#[test]
fn a_moved_address_is_relearned() {
    let mut lab = Lab::new(3);
    lab.apply(&trunk3());
    lab.deliver("h2", &frame(BCAST, mac(7), None, 1));
    let to7 = frame(mac(7), mac(1), None, 2);
    assert_eq!(hosts_of(&lab.deliver("h1", &to7)), ["h2"]);
    // The station moves behind p3.
    lab.deliver("h3", &frame(BCAST, mac(7), None, 3));
    assert_eq!(hosts_of(&lab.deliver("h1", &to7)), ["h3"]);
    let on: Vec<String> = lab
        .switch
        .fdb("br0")
        .unwrap()
        .into_iter()
        .filter(|r| r.mac == EthAddr(mac(7)))
        .map(|r| r.port)
        .collect();
    assert_eq!(on, ["p3"]);
}

#[test]
fn access_and_trunk_ports_tag_strip_and_isolate() {
    let mut lab = Lab::new(4);
    lab.apply(&bridge(&[
        ("p1", VlanMode::Access(10)),
        ("p2", VlanMode::Access(10)),
        ("p3", VlanMode::Access(20)),
        ("p4", VlanMode::Trunk),
    ]));
    // Untagged into access VLAN 10: the other VLAN-10 port gets it as is,
    // the trunk tagged 10, VLAN 20 nothing.
    let f = frame(BCAST, mac(1), None, 1);
    let got = lab.deliver("h1", &f);
    assert_eq!(hosts_of(&got), ["h2", "h4"]);
    assert_eq!(got["h2"], vec![f.clone()]);
    assert_eq!(got["h4"], vec![frame(BCAST, mac(1), Some(10), 1)]);
    // Tagged 20 (priority 5) into the trunk: only the VLAN-20 port, untagged.
    let t = frame(BCAST, mac(4), Some(0xa014), 2);
    let got = lab.deliver("h4", &t);
    assert_eq!(hosts_of(&got), ["h3"]);
    assert_eq!(got["h3"], vec![frame(BCAST, mac(4), None, 2)]);
    // A VLAN nobody has: nowhere.
    assert!(lab
        .deliver("h4", &frame(BCAST, mac(4), Some(30), 3))
        .is_empty());
    // Learning is per VLAN: mac(4) is known in VLAN 20 only, so a VLAN-10
    // frame to it floods within VLAN 10.
    let got = lab.deliver("h1", &frame(mac(4), mac(1), None, 4));
    assert_eq!(hosts_of(&got), ["h2", "h4"]);
    // A tagged frame into an access port is dropped and counted.
    assert!(lab
        .deliver("h1", &frame(BCAST, mac(1), Some(10), 5))
        .is_empty());
    // A priority-tagged frame (VID 0) into an access port is in its VLAN;
    // it leaves the trunk with the VLAN set and the priority kept.
    let got = lab.deliver("h3", &frame(BCAST, mac(3), Some(0x6000), 6));
    assert_eq!(hosts_of(&got), ["h4"]);
    assert_eq!(got["h4"], vec![frame(BCAST, mac(3), Some(0x6014), 6)]);
    let ports = lab.switch.ports("br0").unwrap();
    let p1 = ports.iter().find(|p| p.name == "p1").unwrap().counters;
    assert_eq!((p1.rx_packets, p1.dropped), (3, 1));
}

#[test]
fn fake_bridge_is_a_local_port_of_its_vlan() {
    let mut lab = Lab::new(2);
    let config = SwitchConfig::new().bridge(
        "br0",
        BridgeConfig::with_local_port("br0")
            .port("p1", PortConfig::member("p1"))
            .port(
                "p2",
                PortConfig::member("p2").with_vlan(VlanMode::Access(5)),
            )
            .port(
                "vl5",
                PortConfig::internal("vl5").with_vlan(VlanMode::Access(5)),
            ),
    );
    lab.apply(&config);
    // The internal ports exist as devices, up. With dummies, what the
    // switch sends to the host on them is their sent log, and what the
    // host sends is injected as received (a tap's two directions).
    let vl5 = lab.registry.lookup("vl5").expect("fake bridge device");
    assert!(vl5.flags().unwrap().contains(Flags::UP));
    let vl5 = lab.class.device("vl5").unwrap();
    let br0 = lab.class.device("br0").expect("local port device");
    // A broadcast on VLAN 5 from the trunk reaches the fake bridge (and
    // p2) untagged; the bridge's local port is a trunk, as in Open
    // vSwitch, so it gets the frame tagged.
    lab.deliver("h1", &frame(BCAST, mac(1), Some(5), 1));
    assert_eq!(vl5.take_sent(), vec![frame(BCAST, mac(1), None, 1)]);
    assert_eq!(br0.take_sent(), vec![frame(BCAST, mac(1), Some(5), 1)]);
    // An untagged broadcast reaches the local port, not the fake bridge.
    lab.deliver("h1", &frame(BCAST, mac(1), None, 2));
    assert_eq!(br0.take_sent(), vec![frame(BCAST, mac(1), None, 2)]);
    assert!(vl5.take_sent().is_empty());
    // What the host sends on the fake bridge leaves the trunk tagged 5.
    assert_eq!(vl5.inject_rx(&frame(mac(1), mac(50), None, 3)), 1);
    lab.sync();
    let got = lab.received("h1", Duration::ZERO);
    assert_eq!(got, vec![frame(mac(1), mac(50), Some(5), 3)]);
    // Entries learned on internal ports other than the local port are
    // listed; nothing learned on the local port is.
    let fdb = lab.switch.fdb("br0").unwrap();
    assert!(fdb
        .iter()
        .any(|r| r.mac == EthAddr(mac(50)) && r.port == "vl5" && r.vlan == 5));
}

#[test]
fn reconfiguration_keeps_other_ports_and_closes_removed_ones() {
    let mut lab = Lab::new(3);
    lab.apply(&trunk3());
    lab.deliver("h1", &frame(BCAST, mac(1), None, 1));
    lab.deliver("h2", &frame(BCAST, mac(2), None, 1));
    // Remove p3: its device is closed by the switch (only the lab's
    // handle is left), its promiscuous flag restored.
    let p3 = lab.registry.lookup("p3").unwrap();
    assert!(p3.flags().unwrap().contains(Flags::PROMISC));
    lab.apply(&bridge(&[("p1", VlanMode::Trunk), ("p2", VlanMode::Trunk)]));
    assert!(!p3.flags().unwrap().contains(Flags::PROMISC));
    let got = lab.deliver("h1", &frame(BCAST, mac(1), None, 2));
    assert_eq!(hosts_of(&got), ["h2"]);
    // The learned addresses of untouched ports survive.
    assert_eq!(
        hosts_of(&lab.deliver("h1", &frame(mac(2), mac(1), None, 3))),
        ["h2"]
    );
    // Changing a port's mode re-adds it.
    lab.apply(&bridge(&[
        ("p1", VlanMode::Trunk),
        ("p2", VlanMode::Access(3)),
    ]));
    let got = lab.deliver("h1", &frame(BCAST, mac(1), None, 4));
    assert!(
        got.is_empty(),
        "VLAN 0 does not reach an access port: {got:?}"
    );
    // Deleting the bridge closes everything: the local port device goes.
    lab.apply(&SwitchConfig::new());
    assert!(lab.switch.ports("br0").is_none());
    assert!(lab.class.device("br0").is_none(), "local port destroyed");
    drop(p3);
}

#[test]
fn a_missing_device_is_reported_and_retried() {
    let mut lab = Lab::new(2);
    let config = SwitchConfig::new().bridge(
        "br0",
        BridgeConfig::with_local_port("br0")
            .port("p1", PortConfig::member("p1"))
            .port("p2", PortConfig::member("p2"))
            .port("bad/name", PortConfig::member("bad/name")),
    );
    let problems = lab.switch.apply(&config);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].port, "bad/name");
    let ports = lab.switch.ports("br0").unwrap();
    let bad = ports.iter().find(|p| p.name == "bad/name").unwrap();
    assert!(bad.active.is_none() && bad.error.is_some());
    // The others forward regardless.
    assert_eq!(
        hosts_of(&lab.deliver("h1", &frame(BCAST, mac(1), None, 1))),
        ["h2"]
    );
}

#[test]
fn oversized_and_runt_frames_are_dropped_and_counted() {
    let mut lab = Lab::new(2);
    lab.apply(&bridge(&[("p1", VlanMode::Trunk), ("p2", VlanMode::Trunk)]));
    let mut big = frame(BCAST, mac(1), None, 1);
    big.resize(70_000, 0);
    let dummy = lab.class.device("p1").unwrap();
    dummy.inject_rx(&big);
    dummy.inject_rx(&frame(BCAST, mac(1), None, 2)[..13]);
    // A multicast source is not an address to learn or forward.
    dummy.inject_rx(&frame(BCAST, [1, 0, 0, 0, 0, 1], None, 3));
    lab.sync();
    assert!(lab.received("h2", Duration::ZERO).is_empty());
    let ports = lab.switch.ports("br0").unwrap();
    let p1 = ports.iter().find(|p| p.name == "p1").unwrap().counters;
    assert_eq!((p1.rx_packets, p1.dropped), (3, 3));
}

#[test]
fn a_port_that_is_down_or_refuses_a_frame_costs_only_its_own_frames() {
    let mut lab = Lab::new(3);
    lab.apply(&trunk3());
    // p3 goes down: flooding still reaches h2; p3's share is dropped and
    // counted, once per frame.
    lab.switch_side[2]
        .update_flags(Flags::UP, Flags::empty())
        .unwrap();
    for i in 0..5 {
        let got = lab.deliver("h1", &frame(BCAST, mac(1), None, i));
        assert_eq!(hosts_of(&got), ["h2"]);
    }
    let ports = lab.switch.ports("br0").unwrap();
    let p3 = ports.iter().find(|p| p.name == "p3").unwrap().counters;
    assert_eq!((p3.tx_packets, p3.tx_dropped), (0, 5));
    // A frame too long for p2's MTU is refused alone; the next one goes.
    lab.switch_side[1].set_mtu(100).unwrap();
    let mut big = frame(BCAST, mac(1), None, 9);
    big.resize(400, 0);
    let small = frame(BCAST, mac(1), None, 10);
    lab.hosts["h1"].dev.send_batch(&[&big, &small]).unwrap();
    lab.sync();
    let got = lab.received("h2", Duration::ZERO);
    assert_eq!(got, vec![small]);
    let ports = lab.switch.ports("br0").unwrap();
    let p2 = ports.iter().find(|p| p.name == "p2").unwrap().counters;
    assert_eq!(p2.tx_dropped, 1, "{p2:?}");
}
