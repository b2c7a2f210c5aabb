//! Privileged tests of the receive path of `system` devices through the
//! public API: the default (`RxMethod::Adaptive`, which reads its
//! `TPACKET_V2` ring under a light load) and, where a test looks at the
//! ring itself, `RxMethod::RingV2` (`netdev_linux::packet_ring_v2`): a `Registry`, `Netdev::open_rx`, `RxQueue::recv_batch`. Each test
//! runs in its own network namespace.
//!
//! References: a plain `AF_PACKET` socket built with `nix` (no code shared
//! with the library), `ip -s -j link` counters, `getsockopt` through
//! `nix`, and `/proc/self/maps` for the ring's size. The kernel strips an
//! 802.1Q/802.1ad tag from a frame arriving on a veth, so tagged frames
//! sent by the peer exercise the restoration end to end.

#![cfg(target_os = "linux")]

#[path = "support/packet_util.rs"]
mod packet_util;
mod support;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use netdev_core::{Netdev, PacketBatch, Registry, RxQueue, RxQueueOptions};
use netdev_linux::packet_rx::RxMethod;
use netdev_linux::{SystemClass, SystemOptions};
use packet_util::{
    assert_same_frames, frame_seq, quiet_up, refs, send_all, test_frame, test_frames, veth,
    vlan_test_frames, RawSocket,
};
use support::NetNs;

const SECOND: Duration = Duration::from_secs(1);
const QUIET: Duration = Duration::from_millis(200);

/// `pa` opened through a registry whose `system` class has `options`.
fn open(options: SystemOptions) -> (Registry, Netdev) {
    let reg = Registry::new();
    reg.register(SystemClass::with_options(options)).unwrap();
    let dev = reg.open("pa", "system").unwrap();
    (reg, dev)
}

/// Receives until `count` frames came or nothing came for `idle`; returns
/// every frame (bytes and wire length).
fn recv(rxq: &mut RxQueue, batch: &mut PacketBatch, count: usize) -> Vec<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    while out.len() < count {
        let n = rxq.recv_batch(batch).expect("recv_batch");
        if n == 0 {
            if !rxq.wait(Some(QUIET)).expect("wait") {
                break;
            }
            continue;
        }
        out.extend(batch.iter().map(|p| (p.data.to_vec(), p.orig_len)));
    }
    out
}

/// The bytes of the mapping of socket `fd` in this process (the ring).
fn mapped_bytes(fd: i32) -> usize {
    use std::os::unix::fs::MetadataExt;
    let ino = std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .ino();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let needle = format!("socket:[{ino}]");
    maps.lines()
        .filter(|l| l.ends_with(&needle))
        .map(|l| {
            let range = l.split_whitespace().next().unwrap();
            let (a, b) = range.split_once('-').unwrap();
            usize::from_str_radix(b, 16).unwrap() - usize::from_str_radix(a, 16).unwrap()
        })
        .sum()
}

/// `pa`'s received-packet counter as `ip -s -j link` reports it.
fn ip_rx_packets(ns: &NetNs) -> u64 {
    let json = ns.ip(&["-s", "-j", "link", "show", "dev", "pa"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .expect("rx packets")
}

#[test]
fn frames_arrive_identical_and_in_order() {
    let ns = NetNs::new();
    veth(&ns);
    let _in = ns.enter();
    let (_reg, dev) = open(SystemOptions::default());
    let mut rxq = dev.open_rx().unwrap();
    let peer = RawSocket::bind("pb");
    let frames = test_frames(0, 300);
    for f in &frames {
        peer.send(f);
    }
    let mut batch = PacketBatch::new(32, PacketBatch::DEFAULT_SLOT_SIZE);
    let got = recv(&mut rxq, &mut batch, frames.len());
    let data: Vec<Vec<u8>> = got.iter().map(|(d, _)| d.clone()).collect();
    assert_same_frames(&data, &frames, "public V2 ring");
    assert!(got.iter().all(|(d, l)| d.len() == *l), "nothing truncated");
    assert_eq!(rxq.dropped().unwrap(), 0);
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0, "nothing more");
}

#[test]
fn burst_larger_than_the_ring_is_counted_not_hidden() {
    let ns = NetNs::new();
    veth(&ns);
    let _in = ns.enter();
    // 64 KiB: 32 slots of 2048 bytes.
    let (_reg, dev) = open(SystemOptions {
        rx_ring_bytes: Some(64 << 10),
        rx_method: RxMethod::RingV2,
        ..SystemOptions::default()
    });
    let mut rxq = dev.open_rx().unwrap();
    assert_eq!(mapped_bytes(rxq.as_raw_fd()), 64 << 10, "ring size option");
    let peer = RawSocket::bind("pb");
    let before = ip_rx_packets(&ns);
    let frames = test_frames(0, 500);
    for f in &frames {
        peer.send(f);
    }
    let after = ip_rx_packets(&ns);
    assert_eq!(after - before, 500, "the device received every frame");
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    let got = recv(&mut rxq, &mut batch, frames.len());
    let dropped = rxq.dropped().unwrap();
    assert!(
        got.len() <= 32,
        "no more than the ring holds: {}",
        got.len()
    );
    assert_eq!(
        got.len() as u64 + dropped,
        500,
        "received {} + dropped {dropped} = sent",
        got.len()
    );
    // The ones kept are the first ones, in order and intact.
    let data: Vec<Vec<u8>> = got.iter().map(|(d, _)| d.clone()).collect();
    assert_same_frames(&data, &frames[..got.len()], "kept frames");
    // The ring works again once read.
    peer.send(&test_frame(9999, 60));
    let again = recv(&mut rxq, &mut batch, 1);
    assert_eq!(again.len(), 1);
    assert_eq!(frame_seq(&again[0].0), Some(9999));
    assert_eq!(rxq.dropped().unwrap(), dropped, "drops are a running total");
}

#[test]
fn vlan_tags_restored_unless_turned_off() {
    let ns = NetNs::new();
    veth(&ns);
    let _in = ns.enter();
    let (_reg, dev) = open(SystemOptions::default());
    let mut rxq = dev.open_rx().unwrap();
    let plain_reg = Registry::new();
    plain_reg
        .register(SystemClass::with_options(SystemOptions {
            restore_vlan: false,
            ..SystemOptions::default()
        }))
        .unwrap();
    let plain_dev = plain_reg.open("pa", "system").unwrap();
    let mut plain = plain_dev.open_rx().unwrap();
    let reference = RawSocket::bind("pa");
    let peer = RawSocket::bind("pb");
    let frames = vlan_test_frames();
    for f in &frames {
        peer.send(f);
    }
    let mut batch = PacketBatch::new(8, PacketBatch::DEFAULT_SLOT_SIZE);
    let got = recv(&mut rxq, &mut batch, frames.len());
    assert_eq!(got.len(), frames.len());
    for ((d, len), f) in got.iter().zip(&frames) {
        assert_eq!(d, f, "frame restored byte for byte");
        assert_eq!(*len, f.len());
    }
    // The plain socket and the queue without restoration agree: the kernel
    // stripped the outer tag, so the restoration above really ran.
    let unrestored = recv(&mut plain, &mut batch, frames.len());
    for (f, (d, _)) in frames[..3].iter().zip(&unrestored) {
        let seen = reference.recv(SECOND).expect("reference frame").data;
        let mut stripped = f.clone();
        stripped.drain(12..16);
        assert_eq!(seen, stripped, "the kernel stripped the outer tag");
        assert_eq!(d, &stripped, "restore_vlan: false leaves it stripped");
    }
}

#[test]
fn own_transmissions_are_not_returned() {
    let ns = NetNs::new();
    veth(&ns);
    let _in = ns.enter();
    let (_reg, dev) = open(SystemOptions::default());
    let mut rxq = dev.open_rx().unwrap();
    let peer = RawSocket::bind("pb");
    let ours = test_frames(100, 40);
    let theirs = test_frames(200, 40);
    for (o, t) in ours.iter().zip(&theirs) {
        send_all(|f| dev.send_batch(f), &refs(std::slice::from_ref(o)));
        peer.send(t);
    }
    // The peer saw ours: they were transmitted.
    let seen = peer.recv_test_frames(ours.len(), QUIET);
    assert_same_frames(&seen, &ours, "transmitted on pa");
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    let got: Vec<Vec<u8>> = recv(&mut rxq, &mut batch, theirs.len() + ours.len())
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert_same_frames(&got, &theirs, "only the peer's frames");
}

#[test]
fn truncation_is_reported() {
    let ns = NetNs::new();
    veth(&ns);
    for dev in ["pa", "pb"] {
        ns.ip(&["link", "set", "dev", dev, "mtu", "4000"]);
    }
    let _in = ns.enter();
    let (_reg, dev) = open(SystemOptions::default());
    let mut rxq = dev.open_rx().unwrap();
    let peer = RawSocket::bind("pb");
    // Longer than a 2048-byte slot (minus its header), then longer than
    // the batch's slots only.
    let big = test_frame(1, 3000);
    let mid = test_frame(2, 1000);
    let small = test_frame(3, 100);
    peer.send(&big);
    let mut batch = PacketBatch::new(8, PacketBatch::DEFAULT_SLOT_SIZE);
    let got = recv(&mut rxq, &mut batch, 1);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, 3000, "real length reported");
    assert!(got[0].0.len() < 2048, "cut by the ring's slot");
    assert_eq!(&got[0].0[..], &big[..got[0].0.len()]);
    peer.send(&mid);
    peer.send(&small);
    let mut tiny = PacketBatch::new(8, 128);
    let rest = recv(&mut rxq, &mut tiny, 2);
    assert_eq!(rest.len(), 2);
    assert_eq!((rest[0].0.len(), rest[0].1), (128, 1000));
    assert_eq!(&rest[0].0[..], &mid[..128]);
    assert_eq!((rest[1].0.clone(), rest[1].1), (small.clone(), 100));
}

#[test]
fn options_take_effect() {
    let ns = NetNs::new();
    veth(&ns);
    quiet_up(&ns, "pa");
    let _in = ns.enter();
    // The default ring: 32 MiB mapped.
    let (_reg, dev) = open(SystemOptions {
        rx_method: RxMethod::RingV2,
        ..SystemOptions::default()
    });
    let rxq = dev.open_rx().unwrap();
    assert_eq!(mapped_bytes(rxq.as_raw_fd()), 32 << 20);
    // Smaller slots: the same bytes hold more frames, longer frames cut.
    let (_reg2, dev2) = open(SystemOptions {
        rx_ring_bytes: Some(1 << 20),
        rx_ring_frame_size: Some(256),
        rx_method: RxMethod::RingV2,
        ..SystemOptions::default()
    });
    let mut small = dev2.open_rx().unwrap();
    assert_eq!(mapped_bytes(small.as_raw_fd()), 1 << 20);
    // A queue's own buffer size wins over the class's, with or without
    // offload.
    for offload in [false, true] {
        let q = dev2
            .open_rx_with(
                &RxQueueOptions::new()
                    .with_offload(offload)
                    .with_buffer_bytes(Some(512 << 10)),
            )
            .unwrap();
        assert_eq!(mapped_bytes(q.as_raw_fd()), 512 << 10, "offload {offload}");
    }
    RawSocket::bind("pb").send(&test_frame(5, 400));
    let mut batch = PacketBatch::new(4, PacketBatch::DEFAULT_SLOT_SIZE);
    let got = recv(&mut small, &mut batch, 1);
    assert_eq!(got[0].1, 400);
    assert!(got[0].0.len() < 256, "cut by the 256-byte slot");
    // recvmmsg with a socket buffer: no mapping, the buffer as the kernel
    // reports it (twice what was asked).
    let (_reg3, dev3) = open(SystemOptions {
        rx_method: RxMethod::Recvmmsg,
        rx_rcvbuf: Some(1 << 20),
        ..SystemOptions::default()
    });
    let q3 = dev3.open_rx().unwrap();
    assert_eq!(mapped_bytes(q3.as_raw_fd()), 0);
    let fd = borrowed_fd(&q3);
    let rcvbuf = nix::sys::socket::getsockopt(&fd, nix::sys::socket::sockopt::RcvBuf).unwrap();
    assert_eq!(rcvbuf, 2 << 20);
    // The V3 ring by option, sized in bytes.
    let (_reg4, dev4) = open(SystemOptions {
        rx_method: RxMethod::RingV3,
        rx_ring_bytes: Some(256 << 10),
        ..SystemOptions::default()
    });
    let q4 = dev4.open_rx().unwrap();
    assert_eq!(mapped_bytes(q4.as_raw_fd()), 256 << 10);
}

/// The queue's descriptor as a `BorrowedFd` for `nix`.
fn borrowed_fd(q: &RxQueue) -> std::os::fd::BorrowedFd<'_> {
    use std::os::fd::AsFd;
    q.as_fd()
}

#[test]
fn wait_wakes_on_a_lone_frame() {
    let ns = NetNs::new();
    veth(&ns);
    let _in = ns.enter();
    let (_reg, dev) = open(SystemOptions::default());
    let mut rxq = dev.open_rx().unwrap();
    assert!(!rxq.wait(Some(Duration::from_millis(50))).unwrap());
    let peer = RawSocket::bind("pb");
    let t = Instant::now();
    peer.send(&test_frame(7, 60));
    assert!(rxq.wait(Some(10 * SECOND)).unwrap());
    assert!(t.elapsed() < 10 * SECOND);
    let mut batch = PacketBatch::new(4, PacketBatch::DEFAULT_SLOT_SIZE);
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 1);
    assert_eq!(frame_seq(batch.get(0).unwrap().data), Some(7));
    rxq.drain().unwrap();
}
