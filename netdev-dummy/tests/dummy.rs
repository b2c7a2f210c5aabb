//! The dummy class through the public netdev API.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use netdev_core::{
    CacheFields, ErrorKind, EthAddr, Flags, Ipv4Net, Ipv6Net, Netdev, PacketBatch, Registry, Stats,
};
use netdev_dummy::{DummyClass, DummyDevice};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

fn setup() -> (Registry, Arc<DummyClass>) {
    let reg = Registry::new();
    let class = netdev_dummy::register(&reg).unwrap();
    (reg, class)
}

fn up(reg: &Registry, class: &DummyClass, name: &str) -> (Netdev, DummyDevice) {
    let dev = reg.open(name, "dummy").unwrap();
    dev.update_flags(Flags::empty(), Flags::UP).unwrap();
    (dev, class.device(name).unwrap())
}

/// A minimal Ethernet frame from `src` with `fill` as payload.
fn frame(dst: [u8; 6], src: EthAddr, fill: u8, len: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&[0x88, 0xb5]);
    f.resize(len, fill);
    f
}

fn readable(fd: &impl AsFd) -> bool {
    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::ZERO).unwrap() == 1
}

#[test]
fn connected_pair_moves_frames_both_ways() {
    let (reg, class) = setup();
    let (a, ca) = up(&reg, &class, "a0");
    let (b, cb) = up(&reg, &class, "b0");
    ca.connect(&cb);
    assert_eq!(ca.peer().as_deref(), Some("b0"));
    let mut rxa = a.open_rx().unwrap();
    let mut rxb = b.open_rx().unwrap();
    let mut batch = PacketBatch::new(16, 2048);

    let to_b: Vec<Vec<u8>> = (0..3)
        .map(|i| frame([2, 0, 0, 0, 0, 2], a.mac().unwrap(), i, 60 + i as usize))
        .collect();
    let refs: Vec<&[u8]> = to_b.iter().map(|f| &f[..]).collect();
    assert_eq!(a.send_batch(&refs).unwrap(), 3);
    assert_eq!(rxb.recv_batch(&mut batch).unwrap(), 3);
    let got: Vec<&[u8]> = batch.iter().map(|p| p.data).collect();
    assert_eq!(got, refs);
    assert_eq!(rxa.recv_batch(&mut batch).unwrap(), 0, "no echo to sender");

    let back = frame([0xff; 6], b.mac().unwrap(), 9, 1514);
    assert_eq!(b.send_batch(&[&back]).unwrap(), 1);
    assert_eq!(rxa.recv_batch(&mut batch).unwrap(), 1);
    assert_eq!(batch.get(0).unwrap().data, &back[..]);

    let sa = a.stats().unwrap();
    let sb = b.stats().unwrap();
    assert_eq!((sa.tx_packets, sa.tx_bytes), (3, 60 + 61 + 62));
    assert_eq!((sb.rx_packets, sb.rx_bytes), (3, 60 + 61 + 62));
    assert_eq!((sb.tx_packets, sa.rx_packets, sa.multicast), (1, 1, 1));
    assert_eq!(ca.take_sent(), to_b);
    assert!(ca.take_sent().is_empty());

    ca.disconnect();
    assert_eq!(cb.peer(), None);
    a.send_batch(&refs).unwrap();
    assert_eq!(rxb.recv_batch(&mut batch).unwrap(), 0);
}

#[test]
fn rx_fd_polls_readable_exactly_while_frames_wait() {
    let (reg, class) = setup();
    let (dev, ctl) = up(&reg, &class, "p0");
    let mut rx = dev.open_rx().unwrap();
    let mut batch = PacketBatch::new(2, 2048);
    assert!(!readable(&rx));
    let f = frame([2; 6], EthAddr([2, 0, 0, 0, 0, 9]), 1, 64);
    for _ in 0..3 {
        assert_eq!(ctl.inject_rx(&f), 1);
    }
    assert!(readable(&rx));
    assert_eq!(rx.recv_batch(&mut batch).unwrap(), 2, "batch capacity");
    assert!(readable(&rx), "one frame still waits");
    assert_eq!(rx.recv_batch(&mut batch).unwrap(), 1);
    assert!(!readable(&rx));
    ctl.inject_rx(&f);
    assert!(readable(&rx));
    rx.drain().unwrap();
    assert!(!readable(&rx));
    assert_eq!(rx.recv_batch(&mut batch).unwrap(), 0);
}

#[test]
fn wait_times_out_then_wakes_on_arrival() {
    let (reg, class) = setup();
    let (dev, ctl) = up(&reg, &class, "w0");
    let mut rx = dev.open_rx().unwrap();
    assert!(!rx.wait(Some(Duration::from_millis(10))).unwrap());
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        ctl.inject_rx(&[0u8; 60]);
    });
    assert!(rx.wait(Some(Duration::from_secs(10))).unwrap());
    t.join().unwrap();
}

#[test]
fn every_rx_queue_gets_a_copy_and_full_queues_count_drops() {
    let (reg, class) = setup();
    let (dev, ctl) = up(&reg, &class, "m0");
    let mut q1 = dev.open_rx().unwrap();
    ctl.set_rx_limit(2);
    let mut q2 = dev.open_rx().unwrap();
    for _ in 0..3 {
        ctl.inject_rx(&[1u8; 60]);
    }
    let mut batch = PacketBatch::new(8, 2048);
    assert_eq!(q1.recv_batch(&mut batch).unwrap(), 3);
    assert_eq!(q2.recv_batch(&mut batch).unwrap(), 2);
    let s = dev.stats().unwrap();
    assert_eq!((s.rx_packets, s.rx_dropped), (3, 1));
    drop(q1);
    assert_eq!(ctl.inject_rx(&[1u8; 60]), 1, "closed queues get nothing");
}

#[test]
fn oversized_frames_are_reported_truncated() {
    let (reg, class) = setup();
    let (dev, ctl) = up(&reg, &class, "t0");
    let mut rx = dev.open_rx().unwrap();
    ctl.inject_rx(&[7u8; 100]);
    let mut batch = PacketBatch::new(4, 64);
    assert_eq!(rx.recv_batch(&mut batch).unwrap(), 1);
    let p = batch.get(0).unwrap();
    assert!(p.is_truncated());
    assert_eq!((p.data.len(), p.orig_len), (64, 100));
}

#[test]
fn down_device_refuses_to_send_and_drops_arrivals() {
    let (reg, class) = setup();
    let dev = reg.open("d0", "dummy").unwrap();
    let ctl = class.device("d0").unwrap();
    let f = [0u8; 60];
    let e = dev.send_batch(&[&f]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENETDOWN));
    assert_eq!(e.to_string(), "d0: send: device is down");
    assert_eq!(ctl.inject_rx(&f), 0);
    assert_eq!(dev.stats().unwrap().rx_dropped, 1);
    // Frames too short or too long for the device are refused, naming the
    // frame; nothing of the batch is sent.
    dev.update_flags(Flags::empty(), Flags::UP).unwrap();
    let e = dev.send_batch(&[&f, &[0u8; 10]]).unwrap_err();
    assert!(
        e.to_string().contains("frame 1 of the batch, 10 bytes"),
        "{e}"
    );
    let big = vec![0u8; 1500 + 19];
    let e = dev.send_batch(&[&f, &big]).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EMSGSIZE));
    assert!(e.to_string().contains("frame 1"), "{e}");
    assert!(ctl.take_sent().is_empty());
    assert_eq!(dev.send_batch(&[]).unwrap(), 0);
}

#[test]
fn carrier_loss_drops_tx_and_counts_resets() {
    let (reg, class) = setup();
    let (dev, ctl) = up(&reg, &class, "c0");
    assert!(dev.carrier().unwrap());
    assert!(dev
        .flags()
        .unwrap()
        .contains(Flags::RUNNING | Flags::LOWER_UP));
    let seq = dev.change_seq();
    ctl.set_carrier(false);
    assert!(dev.change_seq() > seq);
    assert!(!dev.carrier().unwrap());
    assert!(!dev.flags().unwrap().contains(Flags::RUNNING));
    assert_eq!(dev.send_batch(&[&[0u8; 60]]).unwrap(), 1);
    assert_eq!(dev.stats().unwrap().tx_dropped, 1);
    assert!(ctl.take_sent().is_empty());
    ctl.set_carrier(true);
    ctl.set_carrier(false);
    ctl.set_carrier(false);
    assert_eq!(dev.carrier_resets().unwrap(), 2);
}

#[test]
fn outside_changes_refresh_the_cache_and_bump_the_sequence() {
    let (reg, class) = setup();
    let (dev, ctl) = up(&reg, &class, "o0");
    let mac = dev.mac().unwrap();
    assert!(mac.is_valid_unicast() && mac.is_local());
    assert_eq!(dev.mtu().unwrap(), 1500);
    assert!(dev
        .cached_fields()
        .contains(CacheFields::MTU | CacheFields::MAC));

    let mut seq = dev.change_seq();
    let mut bumped = |what: &str| {
        let now = dev.change_seq();
        assert!(now > seq, "{what} did not bump the change sequence");
        seq = now;
    };
    ctl.set_mtu(9000).unwrap();
    bumped("set_mtu");
    assert_eq!(dev.mtu().unwrap(), 9000);
    let new_mac = EthAddr([2, 1, 2, 3, 4, 5]);
    ctl.set_mac(new_mac);
    bumped("set_mac");
    assert_eq!(dev.mac().unwrap(), new_mac);
    let net = Ipv4Net::with_prefix("192.0.2.7".parse().unwrap(), 24).unwrap();
    ctl.set_in4(Some(net));
    bumped("set_in4");
    assert_eq!(dev.in4().unwrap(), Some(net));
    let v6 = vec![
        Ipv6Net::new("2001:db8::7".parse().unwrap(), 64).unwrap(),
        Ipv6Net::new("fe80::1".parse().unwrap(), 64).unwrap(),
    ];
    ctl.set_in6(v6.clone());
    bumped("set_in6");
    assert_eq!(dev.in6().unwrap(), v6);
    ctl.set_flags(Flags::UP | Flags::PROMISC | Flags::LOOPBACK);
    bumped("set_flags");
    let f = dev.flags().unwrap();
    assert!(f.contains(Flags::PROMISC) && !f.contains(Flags::LOOPBACK));
    // Counters and traffic are not status changes: no bump, so a loop
    // waiting for configuration changes is not woken by every frame.
    ctl.set_stats(Stats {
        rx_crc_errors: 5,
        ..Stats::default()
    });
    ctl.inject_rx(&[0u8; 60]);
    dev.send_batch(&[&[0u8; 60]]).unwrap();
    assert_eq!(dev.change_seq(), seq);
    assert_eq!(dev.stats().unwrap().rx_crc_errors, 5);
    assert!(ctl.set_mtu(20).is_err());
    assert_eq!(ctl.change_seq(), dev.change_seq());
}

#[test]
fn setters_through_the_handle() {
    let (reg, class) = setup();
    let dev = reg.open("s0", "dummy").unwrap();
    let mac: EthAddr = "02:aa:bb:cc:dd:ee".parse().unwrap();
    dev.set_mac(mac).unwrap();
    dev.set_mtu(1400).unwrap();
    let net = Ipv4Net::with_prefix("10.0.0.1".parse().unwrap(), 8).unwrap();
    dev.set_in4(Some(net)).unwrap();
    // Read through a fresh open of the same name: one shared device.
    let again = reg.open("s0", "dummy").unwrap();
    assert_eq!(again.mac().unwrap(), mac);
    assert_eq!(again.mtu().unwrap(), 1400);
    assert_eq!(again.in4().unwrap(), Some(net));
    let e = dev.set_mtu(65536).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput(_)), "{e}");
    assert_eq!(dev.mtu().unwrap(), 1400);
    dev.set_in4(None).unwrap();
    assert_eq!(again.in4().unwrap(), None);
    assert!(class.device("s0").is_some());
}

#[test]
fn ifindexes_are_unique_and_looked_up() {
    let (reg, _class) = setup();
    let sys = netdev_dummy::override_system(&reg).unwrap();
    let devs: Vec<Netdev> = (0..20)
        .map(|i| {
            let ty = if i % 2 == 0 { "dummy" } else { "system" };
            reg.open(&format!("u{i}"), ty).unwrap()
        })
        .collect();
    let mut idx: Vec<u32> = devs.iter().map(|d| d.ifindex().unwrap()).collect();
    for (d, i) in devs.iter().zip(&idx) {
        assert!(reg.lookup_ifindex(*i).unwrap().same_device(d));
    }
    idx.sort_unstable();
    idx.dedup();
    assert_eq!(idx.len(), 20);
    assert_eq!(sys.device_names().len(), 10);
    assert_eq!(reg.open("u1", "system").unwrap().type_name(), "system");
}

#[test]
fn override_system_replaces_an_idle_system_class() {
    let reg = Registry::new();
    netdev_dummy::override_system(&reg).unwrap();
    let held = reg.open("eth0", "system").unwrap();
    // Busy while a device is open.
    let e = netdev_dummy::override_system(&reg).unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Busy);
    drop(held);
    let class = netdev_dummy::override_system(&reg).unwrap();
    let dev = reg.open("eth0", "system").unwrap();
    assert!(class.device("eth0").is_some());
    assert_eq!(dev.mtu().unwrap(), 1500);
}

#[test]
fn device_is_destroyed_with_its_last_handle() {
    let (reg, class) = setup();
    let dev = reg.open("x0", "dummy").unwrap();
    dev.set_mtu(1400).unwrap();
    drop(dev);
    assert!(class.device("x0").is_none());
    assert!(class.device_names().is_empty());
    assert_eq!(reg.open("x0", "dummy").unwrap().mtu().unwrap(), 1500);
}

#[test]
fn self_loop_and_sent_limit() {
    let (reg, class) = setup();
    let (dev, ctl) = up(&reg, &class, "l0");
    ctl.connect(&ctl);
    let mut rx = dev.open_rx().unwrap();
    ctl.set_sent_limit(2);
    for i in 0..5u8 {
        dev.send_batch(&[&[i; 60]]).unwrap();
    }
    let mut batch = PacketBatch::new(8, 2048);
    assert_eq!(rx.recv_batch(&mut batch).unwrap(), 5);
    let sent = ctl.take_sent();
    assert_eq!(sent, vec![vec![3u8; 60], vec![4u8; 60]]);
    assert_eq!(ctl.sent_discarded(), 3);
    ctl.set_sent_limit(0);
    dev.send_batch(&[&[9; 60]]).unwrap();
    assert!(ctl.take_sent().is_empty());
    assert_eq!(ctl.sent_discarded(), 4);
}

#[test]
fn concurrent_traffic_both_ways_does_not_deadlock_or_lose() {
    let (reg, class) = setup();
    let (a, ca) = up(&reg, &class, "ta");
    let (b, cb) = up(&reg, &class, "tb");
    ca.connect(&cb);
    ca.set_rx_limit(100_000);
    cb.set_rx_limit(100_000);
    ca.set_sent_limit(0);
    cb.set_sent_limit(0);
    let mut rxa = a.open_rx().unwrap();
    let mut rxb = b.open_rx().unwrap();
    const N: u64 = 5000;
    let senders: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .map(|d| {
            std::thread::spawn(move || {
                let f = [0u8; 60];
                let batch = [&f[..]; 10];
                for _ in 0..N / 10 {
                    assert_eq!(d.send_batch(&batch).unwrap(), 10);
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let mut batch = PacketBatch::new(256, 128);
    let mut count = |rx: &mut netdev_core::RxQueue| {
        let mut n = 0;
        loop {
            let got = rx.recv_batch(&mut batch).unwrap();
            if got == 0 {
                break n;
            }
            n += got as u64;
        }
    };
    assert_eq!(count(&mut rxa), N);
    assert_eq!(count(&mut rxb), N);
    assert_eq!(a.stats().unwrap().rx_packets, N);
    assert_eq!(b.stats().unwrap().tx_packets, N);
}

#[test]
fn pcap_capture_is_readable_by_libpcap() {
    let (reg, class) = setup();
    let (a, ca) = up(&reg, &class, "pa");
    let (_b, cb) = up(&reg, &class, "pb");
    ca.connect(&cb);
    let dir = std::env::temp_dir().join(format!("netdev-dummy-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pa.pcap");
    ca.start_capture(&path).unwrap();
    let tx = frame([2, 0, 0, 0, 0, 2], a.mac().unwrap(), 0xab, 98);
    a.send_batch(&[&tx]).unwrap();
    let rx = frame([0xff; 6], EthAddr([2, 9, 9, 9, 9, 9]), 0xcd, 70);
    ca.inject_rx(&rx);
    ca.stop_capture();

    let mut cap = pcap::Capture::from_file(&path).unwrap();
    assert_eq!(cap.get_datalink(), pcap::Linktype::ETHERNET);
    let mut got = Vec::new();
    while let Ok(p) = cap.next_packet() {
        assert_eq!(p.header.len as usize, p.data.len());
        got.push(p.data.to_vec());
    }
    assert_eq!(got, vec![tx, rx]);
    std::fs::remove_dir_all(&dir).unwrap();

    let e = ca.start_capture("/nonexistent-dir/x.pcap").unwrap_err();
    assert!(e.to_string().contains("pa: start_capture"), "{e}");
}

#[test]
fn capture_never_follows_a_planted_symlink_and_is_private() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let (reg, class) = setup();
    let (_a, ca) = up(&reg, &class, "pc");
    let dir = std::env::temp_dir().join(format!("netdev-dummy-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let path = dir.join("cap.pcap");
    symlink(&victim, &path).unwrap();
    ca.start_capture(&path).unwrap();
    ca.inject_rx(&frame([0xff; 6], EthAddr([2, 9, 9, 9, 9, 9]), 1, 64));
    ca.stop_capture();
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "target truncated"
    );
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_file(), "the symlink was replaced");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let mut cap = pcap::Capture::from_file(&path).unwrap();
    assert!(cap.next_packet().is_ok());
    // Nothing left behind but the two files.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["cap.pcap", "victim"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn enumerate_status_all_stats_and_send_descriptor() {
    let reg = Registry::new();
    let class = DummyClass::new();
    reg.register(class.clone()).unwrap();
    let a = reg.open("dA", "dummy").unwrap();
    let b = reg.open("dB", "dummy").unwrap();
    class.device("dA").unwrap().set_mtu(9000).unwrap();
    let list = reg.enumerate("dummy").unwrap();
    let names: Vec<&str> = list.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["dA", "dB"], "sorted by ifindex: creation order");
    assert_eq!(list[0].ifindex, a.ifindex().unwrap());
    assert_eq!(list[0].mtu, Some(9000));
    assert_eq!(list[1].mac, Some(b.mac().unwrap()));
    assert_eq!(list[0].kind.as_deref(), Some("dummy"));

    class.device("dB").unwrap().set_stats(Stats {
        rx_packets: 7,
        ..Stats::default()
    });
    let mut seen = Vec::new();
    reg.all_stats("dummy", &mut |i, s| seen.push((i, s.rx_packets)))
        .unwrap();
    seen.sort();
    assert_eq!(
        seen,
        vec![(a.ifindex().unwrap(), 0), (b.ifindex().unwrap(), 7)]
    );

    assert_eq!(a.status().unwrap()["kind"], "dummy");
    // Sends never wait: the descriptor polls writable at once.
    let fd = a.send_fd().unwrap();
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    assert_eq!(poll(&mut fds, PollTimeout::ZERO).unwrap(), 1);
    drop(b);
    let names: Vec<String> = reg
        .enumerate("dummy")
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["dA"], "a closed dummy no longer exists");
}
