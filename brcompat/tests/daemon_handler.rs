//! The daemon's request handlers against `dummy` devices and a file store
//! in a temporary directory: every request kind and its errors, fake
//! bridges and bonds, FDB paging over 10,000 entries, and malformed,
//! truncated, oversized and unknown requests (each answered `EINVAL` with
//! its sequence number, the daemon serving on). Unprivileged.

mod daemon_support;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use brcompat::daemon::{Daemon, DaemonOptions, MAX_FDB_ENTRIES};
use brcompat::model::{Change, VlanId};
use brcompat::proto::{Reply, ReplyData, Request, UNIX_FAMILY_ID};
use brcompat::store::{ConfigBackend, FdbEntry, FdbSource, FileStore};
use daemon_support::{addbr, addif, delbr, delif, fdb, ports, TempDir};
use netdev::{EthAddr, Netdev, Registry};
use netdev_netlink::MsgBuilder;

const EINVAL: u32 = libc::EINVAL as u32;
const EEXIST: u32 = libc::EEXIST as u32;
const ENXIO: u32 = libc::ENXIO as u32;
const ENODEV: u32 = libc::ENODEV as u32;
const EBUSY: u32 = libc::EBUSY as u32;

/// An FDB of fixed entries, answering a page as the trait asks: the
/// entries of one bridge and VLAN, `skip` then at most `max`.
#[derive(Debug, Default)]
struct TableFdb(Vec<(String, FdbEntry)>);

impl FdbSource for TableFdb {
    fn entries(
        &self,
        bridge: &str,
        vlan: u16,
        skip: usize,
        max: usize,
    ) -> io::Result<Vec<FdbEntry>> {
        Ok(self
            .0
            .iter()
            .filter(|(b, e)| b == bridge && e.vlan == vlan)
            .map(|(_, e)| *e)
            .skip(skip)
            .take(max)
            .collect())
    }
}

/// A daemon on `dummy` devices, the devices held open by the test.
struct Fixture {
    _dir: TempDir,
    backend: Arc<FileStore>,
    daemon: Daemon,
    devices: Vec<Netdev>,
    seq: u32,
}

impl Fixture {
    fn new(fdb: TableFdb, devices: &[&str]) -> Fixture {
        let dir = TempDir::new("handler");
        let backend = Arc::new(FileStore::open(dir.config()).unwrap());
        let registry = Registry::new();
        netdev_dummy::register(&registry).unwrap();
        let devices = devices
            .iter()
            .map(|n| registry.open(n, "dummy").unwrap())
            .collect();
        let daemon = Daemon::new(
            backend.clone(),
            registry,
            Arc::new(fdb),
            DaemonOptions {
                device_type: "dummy".into(),
            },
        );
        Fixture {
            _dir: dir,
            backend,
            daemon,
            devices,
            seq: 100,
        }
    }

    fn device(&self, name: &str) -> &Netdev {
        self.devices
            .iter()
            .find(|d| &*d.name() == name)
            .unwrap_or_else(|| panic!("no device {name}"))
    }

    fn ifindex(&self, name: &str) -> i32 {
        i32::try_from(self.device(name).ifindex().unwrap()).unwrap()
    }

    /// Sends `bytes`, checks the reply echoes `seq`, returns it.
    fn raw(&mut self, bytes: &[u8], seq: u32) -> Reply {
        let out = self.daemon.handle(bytes, None);
        let (got_seq, reply) = Reply::parse(&out, UNIX_FAMILY_ID).unwrap();
        assert_eq!(got_seq, seq, "the reply echoes the request's seq");
        reply
    }

    fn ask(&mut self, r: &Request) -> Reply {
        self.seq += 1;
        let seq = self.seq;
        let bytes = r
            .encode(&mut MsgBuilder::default(), UNIX_FAMILY_ID, seq)
            .unwrap()
            .to_vec();
        self.raw(&bytes, seq)
    }

    fn errno(&mut self, r: &Request) -> u32 {
        self.ask(r).errno
    }

    fn apply(&self, c: Change) {
        self.backend.apply(&c).unwrap();
    }
}

fn v(n: u32) -> VlanId {
    VlanId::new(n).unwrap()
}

#[test]
fn add_and_delete_bridges() {
    let mut f = Fixture::new(TableFdb::default(), &["eth0", "vlan10"]);
    assert_eq!(f.errno(&addbr("br0")), 0);
    assert!(f.backend.snapshot().bridge("br0").is_some());
    assert_eq!(f.errno(&addbr("br0")), EEXIST, "a configured bridge");
    assert_eq!(f.errno(&addbr("eth0")), EEXIST, "another network device");
    f.apply(Change::AddFakeBridge {
        name: "vlan10".into(),
        parent: "br0".into(),
        tag: v(10),
    });
    let before = f.backend.snapshot();
    assert_eq!(f.errno(&addbr("vlan10")), 0, "a fake bridge's device");
    assert_eq!(f.backend.snapshot(), before, "and nothing changes");
    assert_eq!(f.errno(&addif("br0", "eth0")), 0);
    assert_eq!(f.errno(&addbr("eth0")), EEXIST, "a port's name");

    assert_eq!(f.errno(&delbr("nosuch")), ENXIO);
    assert_eq!(f.errno(&delbr("vlan10")), 0, "a fake bridge");
    assert_eq!(f.errno(&delbr("br0")), 0);
    assert!(f.backend.snapshot().is_empty());
    assert_eq!(f.errno(&delbr("br0")), ENXIO);
}

#[test]
fn add_and_delete_interfaces() {
    let mut f = Fixture::new(TableFdb::default(), &["eth0", "eth1", "eth2", "eth3"]);
    assert_eq!(f.errno(&addif("br0", "eth0")), EINVAL, "no such bridge");
    assert_eq!(f.errno(&addbr("br0")), 0);
    assert_eq!(f.errno(&addbr("br1")), 0);
    assert_eq!(f.errno(&addif("br0", "nosuch0")), EINVAL, "no such device");
    assert!(
        f.daemon.registry().lookup("nosuch0").is_none(),
        "checking for a device does not create one"
    );
    assert_eq!(f.errno(&addif("br0", "eth0")), 0);
    assert_eq!(
        f.daemon.tracked_ifindex("eth0"),
        Some(f.ifindex("eth0") as u32)
    );
    assert_eq!(f.errno(&addif("br0", "eth0")), EBUSY, "already a port");
    assert_eq!(f.errno(&addif("br1", "eth0")), EBUSY, "a port elsewhere");
    let loc = f.backend.snapshot().locate("eth0").unwrap();
    assert_eq!(loc.bridge, "br0");

    assert_eq!(f.errno(&delif("nosuch", "eth0")), EINVAL, "no such bridge");
    assert_eq!(f.errno(&delif("br0", "nosuch0")), EINVAL, "no such device");
    assert_eq!(f.errno(&delif("br1", "eth0")), EINVAL, "not a port of br1");
    assert_eq!(f.errno(&delif("br0", "eth1")), EINVAL, "not a port at all");
    assert_eq!(f.errno(&delif("br0", "eth0")), 0);
    assert!(f.backend.snapshot().locate("eth0").is_none());
    assert_eq!(f.daemon.tracked_ifindex("eth0"), None);

    // A bond has no device of its own name: delif by the bond's name works.
    f.apply(Change::AddPort {
        bridge: "br0".into(),
        port: "bond0".into(),
        interfaces: vec!["eth2".into(), "eth3".into()],
        tag: None,
    });
    assert_eq!(f.errno(&delif("br0", "bond0")), 0);
    assert!(f.backend.snapshot().locate("eth2").is_none());

    // Through a fake bridge: the port goes on the parent with the tag.
    f.apply(Change::AddFakeBridge {
        name: "vlan10".into(),
        parent: "br0".into(),
        tag: v(10),
    });
    assert_eq!(f.errno(&addif("vlan10", "eth1")), 0);
    let loc = f.backend.snapshot().locate("eth1").unwrap();
    assert_eq!((loc.bridge.as_str(), loc.vlan), ("br0", Some(v(10))));
    assert_eq!(f.errno(&delif("vlan10", "eth1")), 0);
}

#[test]
fn list_bridges_and_ports() {
    let names = [
        "br0", "vlan10", "eth0", "eth1", "eth2", "eth3", "eth4", "eth5",
    ];
    let mut f = Fixture::new(TableFdb::default(), &names);
    // Bridges configured directly: a device of their name exists here.
    f.apply(Change::AddBridge { name: "br0".into() });
    f.apply(Change::AddBridge {
        name: "nodev".into(),
    });
    f.apply(Change::AddFakeBridge {
        name: "vlan10".into(),
        parent: "br0".into(),
        tag: v(10),
    });
    for (i, iface) in ["eth1", "eth0"].iter().enumerate() {
        assert_eq!(f.errno(&addif("br0", iface)), 0, "{i}");
    }
    f.apply(Change::AddPort {
        bridge: "br0".into(),
        port: "bond0".into(),
        interfaces: vec!["eth3".into(), "eth2".into()],
        tag: None,
    });
    assert_eq!(f.errno(&addif("vlan10", "eth4")), 0);
    assert_eq!(f.errno(&addif("nodev", "eth5")), 0);

    let mut bridges = vec![f.ifindex("br0"), f.ifindex("vlan10")];
    bridges.sort_unstable();
    let got = f.ask(&Request::GetBridges);
    assert_eq!(
        got,
        Reply::ifindexes(bridges),
        "real and fake; a bridge without a device is left out"
    );

    // Sorted by port name (bond0, eth0, eth1); the bond by its interfaces;
    // not the bridge itself, not the fake bridge, not VLAN 10's port.
    let want = ["eth2", "eth3", "eth0", "eth1"]
        .map(|n| f.ifindex(n))
        .to_vec();
    assert_eq!(f.ask(&ports("br0")), Reply::ifindexes(want));
    let vlan10 = f.ifindex("eth4");
    assert_eq!(f.ask(&ports("vlan10")), Reply::ifindexes(vec![vlan10]));
    assert_eq!(
        f.ask(&ports("nodev")),
        Reply::ifindexes(vec![f.ifindex("eth5")])
    );
    assert_eq!(f.errno(&ports("nosuch")), ENODEV);
    assert_eq!(f.errno(&ports("eth0")), ENODEV, "a port is not a bridge");
}

/// 10,000 entries: 5,000 on br0's VLAN 0, 4,000 on VLAN 10, 1,000 on
/// another bridge.
fn big_table(local: EthAddr) -> TableFdb {
    let mut t = Vec::new();
    for i in 0..10_000u32 {
        let (bridge, vlan) = match i % 10 {
            0..=4 => ("br0", 0),
            5..=8 => ("br0", 10),
            _ => ("br1", 0),
        };
        let b = i.to_be_bytes();
        let mac = if i == 0 {
            local
        } else {
            EthAddr([0x02, 0, b[0], b[1], b[2], b[3]])
        };
        t.push((
            bridge.to_owned(),
            FdbEntry {
                mac,
                port: u16::try_from(i % 700).unwrap(),
                vlan,
                age: Duration::from_millis(u64::from(i) * 10),
                is_local: false,
            },
        ));
    }
    TableFdb(t)
}

#[test]
fn fdb_pages_through_ten_thousand_entries() {
    let local = EthAddr([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
    let mut f = Fixture::new(big_table(local), &["eth0", "eth1"]);
    f.device("eth0").set_mac(local).unwrap();
    f.apply(Change::AddBridge { name: "br0".into() });
    f.apply(Change::AddFakeBridge {
        name: "vlan10".into(),
        parent: "br0".into(),
        tag: v(10),
    });
    assert_eq!(f.errno(&addif("br0", "eth0")), 0);

    let mut all = Vec::new();
    loop {
        let r = f.ask(&fdb("br0", 256, all.len() as u64));
        let ReplyData::Fdb(page) = r.data else {
            panic!("no FDB data: {r:?}")
        };
        assert!(page.len() <= 256);
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    assert_eq!(all.len(), 5_000, "VLAN 0 of br0 only");
    assert!(all[0].is_local, "eth0's MAC is local");
    assert!(all[1..].iter().all(|e| !e.is_local));
    // Entry i = 10k + j (j < 5): port split, ageing in 1/100 s.
    let e = &all[3]; // i = 3
    assert_eq!((e.port, e.ageing_ticks), (3, 3));
    let e = &all[5 * 140]; // i = 1400: port 0, age 14 s
    assert_eq!((e.port, e.ageing_ticks), (0, 1400));
    let e = &all[5 * 130 + 2]; // i = 1302: port 602 = 0x25a
    assert_eq!(e.port, 602);
    assert_eq!(e.to_bytes()[6], 0x5a, "port_no");
    assert_eq!(e.to_bytes()[12], 0x02, "port_hi");

    // The fake bridge: VLAN 10 of br0.
    let r = f.ask(&fdb("vlan10", u64::MAX, 0));
    let ReplyData::Fdb(page) = r.data else {
        panic!("{r:?}")
    };
    assert_eq!(page.len(), 4_000);

    // Huge count: capped to what fits in a reply.
    let r = f.ask(&fdb("br0", u64::MAX, 1));
    let ReplyData::Fdb(page) = r.data else {
        panic!("{r:?}")
    };
    assert_eq!(page.len(), MAX_FDB_ENTRIES);
    // Huge skip, zero count: success with no records.
    for (count, skip) in [(10, u64::MAX), (10, 5_000), (0, 0), (u64::MAX, u64::MAX)] {
        assert_eq!(
            f.ask(&fdb("br0", count, skip)),
            Reply::fdb(vec![]),
            "{count} {skip}"
        );
    }
    assert_eq!(f.errno(&fdb("nosuch", 1, 0)), ENODEV);
}

#[test]
fn query_mc_and_bad_names() {
    let mut f = Fixture::new(TableFdb::default(), &["eth0"]);
    assert_eq!(f.errno(&Request::QueryMc), libc::EOPNOTSUPP as u32);
    for bad in ["", "a/b", "-rf", "a b", "x\u{1b}y", "1234567890123456"] {
        assert_eq!(f.errno(&addbr(bad)), EINVAL, "{bad:?}");
        assert_eq!(f.errno(&addif("br0", bad)), EINVAL, "{bad:?}");
        assert_eq!(f.errno(&fdb(bad, 1, 0)), EINVAL, "{bad:?}");
    }
    assert!(f.backend.snapshot().is_empty());
}

#[test]
fn malformed_requests_get_einval_with_their_seq() {
    let mut f = Fixture::new(TableFdb::default(), &["eth0"]);
    let good = addif("br0", "eth0")
        .encode(&mut MsgBuilder::default(), UNIX_FAMILY_ID, 7)
        .unwrap()
        .to_vec();
    // Every truncation: EINVAL, echoing the seq once the header arrived.
    for cut in 0..good.len() {
        let out = f.daemon.handle(&good[..cut], None);
        let (seq, reply) = Reply::parse(&out, UNIX_FAMILY_ID).unwrap();
        assert_eq!(reply, Reply::error(EINVAL), "cut at {cut}");
        assert_eq!(seq, if cut >= 16 { 7 } else { 0 }, "cut at {cut}");
    }
    // Unknown commands, a reply sent as a request, missing attributes.
    for cmd in [0u8, 3, 10, 42, 255] {
        let mut b = MsgBuilder::new_genl(UNIX_FAMILY_ID, 1, cmd, 1);
        b.set_seq(900 + u32::from(cmd));
        let bytes = b.finish().unwrap().to_vec();
        assert_eq!(f.raw(&bytes, 900 + u32::from(cmd)), Reply::error(EINVAL));
    }
    let mut b = MsgBuilder::new_genl(UNIX_FAMILY_ID, 1, 4, 1); // PORT_ADD
    b.set_seq(77).put_str(1, "br0");
    let bytes = b.finish().unwrap().to_vec();
    assert_eq!(f.raw(&bytes, 77), Reply::error(EINVAL), "no PORT_NAME");
    // Wrong family, trailing bytes, garbage.
    let mut wrong = good.clone();
    wrong[4] = 0x42;
    assert_eq!(f.raw(&wrong, 7), Reply::error(EINVAL));
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0; 8]);
    assert_eq!(f.raw(&trailing, 7), Reply::error(EINVAL));
    let mut garbage = good.clone();
    garbage[0] = 0xff; // length past the end
    assert_eq!(f.raw(&garbage, 7), Reply::error(EINVAL));
    // Oversized: only the head was received.
    let out = f.daemon.oversized(&good[..20]);
    assert_eq!(
        Reply::parse(&out, UNIX_FAMILY_ID).unwrap(),
        (7, Reply::error(EINVAL))
    );
    // And the daemon serves on.
    assert_eq!(f.errno(&addbr("br0")), 0);
    assert_eq!(f.raw(&good, 7), Reply::ok());
}
