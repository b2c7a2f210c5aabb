//! The daemon with the embedded switch on `dummy` devices: `addbr` and
//! `addif` through the request handler make a forwarding bridge; a frame
//! injected on one port is flooded to the other, its source appears in the
//! `FDB_QUERY` answer on the right port, and `GET_PORT_STATS` counts it.
//! Unprivileged.

mod daemon_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use brcompat::daemon::{Daemon, DaemonOptions};
use brcompat::embedded::{SwitchBackend, SwitchFdb};
use brcompat::proto::{Reply, ReplyData, Request, UNIX_FAMILY_ID};
use brcompat::store::{EmptyFdb, FileStore};
use daemon_support::{addbr, addif, fdb, TempDir};
use netdev::{Flags, Netdev, Registry};
use netdev_netlink::MsgBuilder;
use netdev_switch::{Switch, SwitchOptions};

fn ask(daemon: &mut Daemon, r: &Request) -> Reply {
    let mut b = MsgBuilder::default();
    let bytes = r.encode(&mut b, UNIX_FAMILY_ID, 7).unwrap().to_vec();
    let reply = daemon.handle(&bytes, None);
    Reply::parse(&reply, UNIX_FAMILY_ID).unwrap().1
}

fn up(registry: &Registry, name: &str) -> Netdev {
    let dev = registry.open(name, "dummy").unwrap();
    dev.update_flags(Flags::empty(), Flags::UP).unwrap();
    dev
}

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(60, 0x5a);
    f
}

#[test]
fn addbr_addif_then_a_frame_is_flooded_and_learned() {
    let dir = TempDir::new("switch");
    let registry = Registry::new();
    let class = netdev_dummy::register(&registry).unwrap();
    let _devs = [
        up(&registry, "p1"),
        up(&registry, "p2"),
        up(&registry, "h2"),
    ];
    let options = SwitchOptions {
        member_type: "dummy".into(),
        internal_type: "dummy".into(),
        ..SwitchOptions::default()
    };
    let switch = Arc::new(Switch::new(registry.clone(), options).unwrap());
    let backend = SwitchBackend::new(FileStore::open(dir.config()).unwrap(), switch.clone());
    let mut daemon = Daemon::new(
        Arc::new(backend),
        registry.clone(),
        Arc::new(SwitchFdb::new(switch.clone())),
        DaemonOptions {
            device_type: "dummy".into(),
        },
    );
    assert_eq!(ask(&mut daemon, &addbr("br0")), Reply::ok());
    // The switch made the bridge's own port; the bridge still answers
    // EEXIST to a second addbr, not because of its device only.
    assert!(class.device("br0").is_some());
    assert_eq!(ask(&mut daemon, &addbr("br0")).errno, libc::EEXIST as u32);
    assert_eq!(ask(&mut daemon, &addif("br0", "p1")), Reply::ok());
    assert_eq!(ask(&mut daemon, &addif("br0", "p2")), Reply::ok());

    let p1 = class.device("p1").unwrap();
    let p2 = class.device("p2").unwrap();
    p2.connect(&class.device("h2").unwrap());
    let src = [0x02, 0, 0, 0, 0x01, 0x0a];
    let sent = frame([0xff; 6], src);
    assert_eq!(p1.inject_rx(&sent), 1, "the switch's queue on p1 got it");

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut out = Vec::new();
    while !out.contains(&sent) {
        assert!(Instant::now() < deadline, "not flooded to p2: {out:?}");
        std::thread::sleep(Duration::from_millis(5));
        out.extend(p2.take_sent());
    }
    let entries = match ask(&mut daemon, &fdb("br0", 100, 0)).data {
        ReplyData::Fdb(e) => e,
        other => panic!("{other:?}"),
    };
    let learned: Vec<_> = entries.iter().filter(|e| e.mac == src).collect();
    assert_eq!(learned.len(), 1, "{entries:?}");
    assert_eq!((learned[0].port, learned[0].is_local), (1, false));
    // The ports' own addresses are listed as local.
    let p1_mac = registry.open("p1", "dummy").unwrap().mac().unwrap();
    assert!(entries
        .iter()
        .any(|e| e.mac == p1_mac.octets() && e.port == 1 && e.is_local));

    let stats = match ask(
        &mut daemon,
        &Request::GetPortStats {
            bridge: "br0".into(),
        },
    )
    .data
    {
        ReplyData::PortStats(s) => s,
        other => panic!("{other:?}"),
    };
    let names: Vec<(&str, u16)> = stats.iter().map(|s| (s.name.as_str(), s.port)).collect();
    assert_eq!(names, [("br0", 0), ("p1", 1), ("p2", 2)]);
    assert_eq!((stats[1].rx_packets, stats[1].flooded), (1, 1));
    assert!(stats[2].tx_packets >= 1);
    let nobr = Request::GetPortStats {
        bridge: "nobr".into(),
    };
    assert_eq!(ask(&mut daemon, &nobr).errno, libc::ENODEV as u32);
}

#[test]
fn without_a_datapath_port_stats_are_not_supported() {
    let dir = TempDir::new("nodp");
    let registry = Registry::new();
    netdev_dummy::register(&registry).unwrap();
    let mut daemon = Daemon::new(
        Arc::new(FileStore::open(dir.config()).unwrap()),
        registry,
        Arc::new(EmptyFdb),
        DaemonOptions {
            device_type: "dummy".into(),
        },
    );
    assert_eq!(ask(&mut daemon, &addbr("br0")), Reply::ok());
    let r = Request::GetPortStats {
        bridge: "br0".into(),
    };
    assert_eq!(ask(&mut daemon, &r).errno, libc::EOPNOTSUPP as u32);
}
