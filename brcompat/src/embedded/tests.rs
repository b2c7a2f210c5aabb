//! The mapping, and the backend and FDB source on `dummy` devices.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use netdev::{EthAddr, Registry};
use netdev_switch::{PortConfig, PortKind, Switch, SwitchOptions, VlanMode};

use super::*;
use crate::model::VlanId;

#[path = "../../tests/temp_dir/mod.rs"]
mod temp_dir;
use temp_dir::TempDir;

fn v(n: u32) -> VlanId {
    VlanId::new(n).unwrap()
}

#[test]
fn mapping_of_every_kind_of_port() {
    let mut c = Config::new();
    c.add_bridge("br0").unwrap();
    c.add_interface("br0", "eth0").unwrap();
    c.add_port("br0", "bond0", &["eth2", "eth1"], None).unwrap();
    c.add_port("br0", "eth5", &["eth5"], Some(v(20))).unwrap();
    c.add_fake_bridge("vlan10", "br0", v(10)).unwrap();
    c.add_interface("vlan10", "eth3").unwrap();
    c.add_bridge("br1").unwrap();
    let s = switch_config(&c);
    assert_eq!(s.bridges.keys().collect::<Vec<_>>(), ["br0", "br1"]);
    let br0 = &s.bridges["br0"];
    assert_eq!(
        br0.ports.keys().collect::<Vec<_>>(),
        ["bond0", "br0", "eth0", "eth3", "eth5", "vlan10"]
    );
    assert_eq!(br0.ports["br0"], PortConfig::internal("br0"));
    assert_eq!(br0.ports["eth0"], PortConfig::member("eth0"));
    assert_eq!(
        br0.ports["bond0"],
        PortConfig {
            interfaces: vec!["eth1".into(), "eth2".into()],
            kind: PortKind::Member,
            vlan: VlanMode::Trunk,
        }
    );
    assert_eq!(
        br0.ports["eth5"],
        PortConfig::member("eth5").with_vlan(VlanMode::Access(20))
    );
    assert_eq!(
        br0.ports["eth3"],
        PortConfig::member("eth3").with_vlan(VlanMode::Access(10))
    );
    assert_eq!(
        br0.ports["vlan10"],
        PortConfig::internal("vlan10").with_vlan(VlanMode::Access(10))
    );
    assert_eq!(
        s.bridges["br1"],
        netdev_switch::BridgeConfig::with_local_port("br1")
    );
    assert!(switch_config(&Config::new()).bridges.is_empty());
}

struct Fixture {
    dir: TempDir,
    class: Arc<netdev_dummy::DummyClass>,
    switch: Arc<Switch>,
    registry: Registry,
}

impl Fixture {
    /// Dummy device `name`, up (members are not brought up by the switch).
    fn up(&self, name: &str) -> netdev::Netdev {
        let dev = self.registry.open(name, "dummy").unwrap();
        dev.update_flags(netdev::Flags::empty(), netdev::Flags::UP)
            .unwrap();
        dev
    }
}

fn dummy_switch() -> Fixture {
    let dir = TempDir::new("embedded");
    let registry = Registry::new();
    let class = netdev_dummy::register(&registry).unwrap();
    let options = SwitchOptions {
        member_type: "dummy".into(),
        internal_type: "dummy".into(),
        ..SwitchOptions::default()
    };
    let switch = Arc::new(Switch::new(registry.clone(), options).unwrap());
    Fixture {
        dir,
        class,
        switch,
        registry,
    }
}

fn config_path(dir: &TempDir) -> PathBuf {
    dir.config()
}

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(60, 0);
    f
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn backend_stores_then_runs_and_reloads() {
    let f = dummy_switch();
    let store = FileStore::open(config_path(&f.dir)).unwrap();
    let backend = SwitchBackend::new(store, f.switch.clone());
    backend
        .apply(&Change::AddBridge { name: "br0".into() })
        .unwrap();
    backend
        .apply(&Change::AddInterface {
            bridge: "br0".into(),
            interface: "p1".into(),
        })
        .unwrap();
    // A port whose device cannot be opened is no error of the request.
    assert_eq!(
        f.switch.config(),
        switch_config(&backend.snapshot()),
        "switch runs the stored config"
    );
    let names = |sw: &Switch| {
        sw.ports("br0")
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.port_no))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&f.switch), [("br0".into(), 0), ("p1".into(), 1)]);
    let text = std::fs::read_to_string(config_path(&f.dir)).unwrap();
    assert!(text.contains("bridge.br0.port=p1"), "{text}");
    // A refused change changes neither.
    assert!(backend
        .apply(&Change::AddBridge { name: "br0".into() })
        .is_err());
    // Reload after an edit of the file: the switch follows.
    drop(backend);
    std::fs::write(
        config_path(&f.dir),
        "bridge.br0.port=br0\nbridge.br1.port=br1\n",
    )
    .unwrap();
    let store = FileStore::open(config_path(&f.dir)).unwrap();
    let backend = SwitchBackend::new(store, f.switch.clone());
    assert_eq!(
        f.switch.config().bridges.keys().collect::<Vec<_>>(),
        ["br0", "br1"]
    );
    assert_eq!(names(&f.switch), [("br0".into(), 0)]);
    std::fs::write(config_path(&f.dir), "bridge.br2.port=br2\n").unwrap();
    backend.load().unwrap();
    assert_eq!(
        f.switch.config().bridges.keys().collect::<Vec<_>>(),
        ["br2"]
    );
}

#[test]
fn fdb_source_filters_pages_and_counts() {
    let f = dummy_switch();
    let store = FileStore::open(config_path(&f.dir)).unwrap();
    let backend = SwitchBackend::new(store, f.switch.clone());
    let _up = [f.up("p1"), f.up("p2")];
    for change in [
        Change::AddBridge { name: "br0".into() },
        Change::AddInterface {
            bridge: "br0".into(),
            interface: "p1".into(),
        },
        Change::AddInterface {
            bridge: "br0".into(),
            interface: "p2".into(),
        },
    ] {
        backend.apply(&change).unwrap();
    }
    let p1 = f.class.device("p1").unwrap();
    let p2 = f.class.device("p2").unwrap();
    let fdb = SwitchFdb::new(f.switch.clone());
    let a = [0x02, 0, 0, 0, 0, 0xa];
    let b = [0x02, 0, 0, 0, 0, 0xb];
    p1.inject_rx(&frame([0xff; 6], a));
    p2.inject_rx(&frame(a, b));
    wait_for("both learned", || {
        fdb.entries("br0", 0, 0, 100)
            .unwrap()
            .iter()
            .filter(|e| !e.is_local)
            .count()
            == 2
    });
    let all = fdb.entries("br0", 0, 0, 100).unwrap();
    let learned: Vec<(EthAddr, u16)> = all
        .iter()
        .filter(|e| !e.is_local)
        .map(|e| (e.mac, e.port))
        .collect();
    assert!(learned.contains(&(EthAddr(a), 1)), "{all:?}");
    assert!(learned.contains(&(EthAddr(b), 2)), "{all:?}");
    assert!(all
        .iter()
        .all(|e| e.vlan == 0 && e.age < Duration::from_secs(60)));
    // Paging: skip and max over the same order.
    let page = fdb.entries("br0", 0, 1, 1).unwrap();
    assert_eq!(page, all[1..2]);
    assert!(fdb.entries("br0", 0, all.len(), 10).unwrap().is_empty());
    assert!(fdb.entries("br0", 7, 0, 10).unwrap().is_empty());
    assert!(fdb.entries("nobr", 0, 0, 10).unwrap().is_empty());
    // A paged read continues from the table its first page took: an
    // address learned meanwhile shows only from the next first page.
    let first = fdb.entries("br0", 0, 0, 1).unwrap();
    let c = [0x02, 0, 0, 0, 0, 0xc];
    p1.inject_rx(&frame([0xff; 6], c));
    let _ = f.switch.ports("br0");
    let rest = fdb.entries("br0", 0, 1, 100).unwrap();
    let key = |v: &[FdbEntry]| -> Vec<(EthAddr, u16, bool)> {
        v.iter().map(|e| (e.mac, e.port, e.is_local)).collect()
    };
    assert_eq!(
        key(&[first, rest].concat()),
        key(&all),
        "one consistent table"
    );
    let fresh = fdb.entries("br0", 0, 0, 100).unwrap();
    assert!(fresh.iter().any(|e| e.mac == EthAddr(c)), "{fresh:?}");
    // Counters: p1 flooded one, p2 forwarded one; p2 and br0 got the flood.
    let stats = fdb.port_stats("br0").unwrap();
    let by = |n: &str| stats.iter().find(|s| s.name == n).unwrap().clone();
    assert_eq!((by("br0").port, by("p1").port, by("p2").port), (0, 1, 2));
    assert_eq!((by("p1").rx_packets, by("p1").flooded), (2, 2));
    assert_eq!((by("p2").rx_packets, by("p2").forwarded), (1, 1));
    assert_eq!(by("p2").tx_packets, 2);
    assert_eq!(by("p1").tx_packets, 1);
    assert_eq!(
        fdb.port_stats("nobr").unwrap_err().raw_os_error(),
        Some(libc::ENODEV)
    );
    assert_eq!(
        crate::store::EmptyFdb
            .port_stats("br0")
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EOPNOTSUPP)
    );
}
