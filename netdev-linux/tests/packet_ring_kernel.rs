//! Privileged tests of the `TPACKET_V3` receive ring
//! (`netdev_linux::packet_ring::PacketRingRxq`) against the real kernel,
//! each in its own network namespace. They mirror the receive tests of
//! `packet_kernel.rs`, whose references they share: a plain `AF_PACKET`
//! socket built with `nix` (`support/packet_util.rs`) and `ip -j link`.
//!
//! VLAN: the kernel's receive path strips an 802.1Q/802.1ad tag from any
//! frame arriving on a veth; the ring reports it in each frame's
//! `tpacket3_hdr`, so a tagged frame sent by the peer exercises the
//! restoration end to end.
//!
//! Frames reach the ring's reader a block at a time (when a block fills or
//! its retire timeout passes), so every check waits with `wait` or a
//! deadline rather than expecting frames right after sending.

#![cfg(target_os = "linux")]

#[path = "support/packet_util.rs"]
mod packet_util;
mod support;

use std::time::Duration;

use netdev_core::{ErrorKind, PacketBatch, RxQueueBackend};
use netdev_linux::packet::PacketTx;
use netdev_linux::packet_ring::{PacketRingRxq, RingConfig};
use packet_util::{
    assert_same_frames, fill, recv_test_frames, refs, send_all, tagged, test_frame, test_frames,
    veth, RawSocket,
};
use support::NetNs;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn rx_64_frames_arrive_identical_and_in_order() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let mut rxq = PacketRingRxq::open(ia).expect("PacketRingRxq::open");
    assert_eq!(rxq.ifindex(), ia);
    assert!(
        !rxq.filters_outgoing_in_userspace(),
        "kernel >= 4.20 filters"
    );
    let peer = RawSocket::bind("pb");
    let frames = test_frames(1000, 64);
    for f in &frames {
        peer.send(f);
    }
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    fill(&mut rxq, &mut batch, 64);
    assert_eq!(batch.len(), 64);
    for (p, want) in batch.iter().zip(&frames) {
        assert_eq!(p.data, &want[..]);
        assert_eq!(p.orig_len, want.len());
    }
    batch.clear();
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0, "nothing left");
}

#[test]
fn rx_across_blocks_and_small_batches() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    // The smallest blocks: 4 KiB hold about 25 frames of 60-123 bytes, so
    // 300 frames cross many blocks and wrap the ring more than once, and
    // batches of 7 stop in the middle of blocks. A longer retire timeout
    // keeps a slow sender from spreading a chunk over the whole ring.
    let config = RingConfig {
        block_size: 4096,
        block_count: 8,
        retire_timeout: Duration::from_millis(10),
    };
    let mut rxq = PacketRingRxq::open_with(ia, config).unwrap();
    assert_eq!(rxq.config(), &config);
    let peer = RawSocket::bind("pb");
    let mut got = Vec::new();
    let mut want = Vec::new();
    for chunk in 0..10 {
        // 30 frames at a time: two or three of the 8 blocks.
        let frames = test_frames(chunk * 30, 30);
        for f in &frames {
            peer.send(f);
        }
        want.extend(frames);
        got.extend(recv_test_frames(
            &mut rxq,
            7,
            want.len() - got.len(),
            SECOND,
        ));
    }
    assert_same_frames(&got, &want, "across blocks");
}

#[test]
fn own_transmissions_ignored() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let mut rxqs = [
        PacketRingRxq::open(ia).unwrap(),
        PacketRingRxq::open_filtering_in_userspace(ia).unwrap(),
    ];
    assert!(rxqs[1].filters_outgoing_in_userspace());
    let tx = PacketTx::open(ia).unwrap();
    let peer = RawSocket::bind("pb");

    let before = test_frames(100, 5);
    let ours = test_frames(0, 64);
    let after = test_frames(200, 5);
    for f in &before {
        peer.send(f);
    }
    send_all(|f| tx.send_batch(f), &refs(&ours));
    for f in &after {
        peer.send(f);
    }
    assert_same_frames(
        &peer.recv_test_frames(64, SECOND),
        &ours,
        "the peer got ours",
    );
    let want: Vec<Vec<u8>> = before.iter().chain(&after).cloned().collect();
    for rxq in &mut rxqs {
        let got = recv_test_frames(rxq, 16, want.len() + 1, Duration::from_millis(200));
        assert_same_frames(
            &got,
            &want,
            &format!("{rxq:?}: only the incoming frames, in order"),
        );
    }
}

#[test]
fn oversized_frames_are_reported_truncated() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let mut rxq = PacketRingRxq::open(ia).unwrap();
    let peer = RawSocket::bind("pb");
    let frames = [
        test_frame(1, 1000),
        test_frame(2, 60),
        test_frame(3, 128),
        test_frame(4, 129),
    ];
    for f in &frames {
        peer.send(f);
    }
    let mut batch = PacketBatch::new(8, 128);
    fill(&mut rxq, &mut batch, 4);
    assert_eq!(batch.len(), 4);
    for (p, f) in batch.iter().zip(&frames) {
        assert_eq!(p.orig_len, f.len(), "real length reported");
        assert_eq!(p.data, &f[..f.len().min(128)], "bytes up to the slot size");
        assert_eq!(p.is_truncated(), f.len() > 128);
    }
}

#[test]
fn frames_longer_than_a_block_are_reported_truncated() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    ns.ip(&["link", "set", "dev", "pa", "mtu", "9000"]);
    ns.ip(&["link", "set", "dev", "pb", "mtu", "9000"]);
    let _in = ns.enter();
    let config = RingConfig {
        block_size: 4096,
        block_count: 4,
        retire_timeout: Duration::from_millis(1),
    };
    let mut rxq = PacketRingRxq::open_with(ia, config).unwrap();
    let peer = RawSocket::bind("pb");
    let big = test_frame(1, 8000);
    peer.send(&big);
    peer.send(&test_frame(2, 60));
    let mut batch = PacketBatch::new(4, 9100);
    fill(&mut rxq, &mut batch, 2);
    let p = batch.get(0).unwrap();
    assert!(p.is_truncated(), "cut to the block");
    assert_eq!(p.orig_len, big.len(), "real length reported");
    assert!(p.data.len() < 4096);
    assert_eq!(p.data, &big[..p.data.len()]);
    assert_eq!(batch.get(1).unwrap().data, &test_frame(2, 60)[..]);
}

#[test]
fn vlan_tags_stripped_by_the_kernel_are_restored() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let mut rxq = PacketRingRxq::open(ia).unwrap();
    let reference = RawSocket::bind("pa");
    let peer = RawSocket::bind("pb");
    let frames = [
        // 802.1Q, priority 3, VLAN 100.
        tagged(1, 60, &[(0x8100, 0x6064)]),
        // Priority tag: VLAN 0, priority 0 (TCI 0 is still a tag).
        tagged(2, 60, &[(0x8100, 0x0000)]),
        // 802.1ad outer tag over 802.1Q: only the outer one is stripped.
        tagged(3, 80, &[(0x88a8, 0x00c8), (0x8100, 0x0064)]),
        // Untagged.
        test_frame(4, 60),
    ];
    for f in &frames {
        peer.send(f);
    }
    let mut batch = PacketBatch::new(8, PacketBatch::DEFAULT_SLOT_SIZE);
    fill(&mut rxq, &mut batch, frames.len());
    assert_eq!(batch.len(), frames.len());
    for (p, f) in batch.iter().zip(&frames) {
        assert_eq!(p.data, &f[..], "frame restored byte for byte");
        assert_eq!(p.orig_len, f.len());
    }

    // The plain socket shows what the kernel delivered: tags stripped, so
    // the restoration above really ran.
    for f in &frames[..3] {
        let seen = reference.recv(SECOND).expect("reference frame").data;
        let mut stripped = f.clone();
        stripped.drain(12..16);
        assert_eq!(seen, stripped, "the kernel stripped the outer tag");
    }

    // A stripped frame that exactly fills its slot no longer fits once
    // the tag is back: reported truncated, with its real length.
    let f = tagged(5, 100, &[(0x8100, 0x0123)]);
    peer.send(&f);
    let mut small = PacketBatch::new(1, f.len() - 4);
    fill(&mut rxq, &mut small, 1);
    let p = small.get(0).unwrap();
    assert!(p.is_truncated());
    assert_eq!(p.orig_len, f.len());
    assert_eq!(p.data, &f[..f.len() - 4]);
}

#[test]
fn wait_times_out_when_idle_and_wakes_on_arrival() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let mut rxq = PacketRingRxq::open(ia).unwrap();
    let peer = RawSocket::bind("pb");
    assert!(
        !rxq.wait(Some(Duration::from_millis(50))).unwrap(),
        "nothing yet"
    );
    // A lone frame sent while another thread waits without a limit: the
    // block holding it is handed over at the retire timeout, which wakes
    // the waiter.
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let woke = rxq.wait(None).unwrap();
            let mut batch = PacketBatch::new(4, PacketBatch::DEFAULT_SLOT_SIZE);
            rxq.recv_batch(&mut batch).unwrap();
            (
                woke,
                batch.iter().map(|p| p.data.to_vec()).collect::<Vec<_>>(),
            )
        });
        std::thread::sleep(Duration::from_millis(50));
        peer.send(&test_frame(9, 60));
        let (woke, got) = waiter.join().unwrap();
        assert!(woke);
        assert_eq!(got, vec![test_frame(9, 60)]);
    });
    assert!(
        !rxq.wait(Some(Duration::from_millis(50))).unwrap(),
        "idle again"
    );
}

#[test]
fn drain() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    // Delivery barrier: opened first, so the kernel hands each frame to the
    // ring before it (see packet_kernel.rs).
    let barrier = RawSocket::bind("pa");
    // Small blocks: 150 frames of 60-123 bytes fill several of them, which
    // the kernel hands over as they fill, whatever the timing.
    let config = RingConfig {
        block_size: 4096,
        block_count: 16,
        retire_timeout: Duration::from_millis(1),
    };
    let mut rxq = PacketRingRxq::open_with(ia, config).unwrap();
    let peer = RawSocket::bind("pb");
    for f in test_frames(0, 150) {
        peer.send(&f);
    }
    assert_eq!(barrier.recv_test_frames(150, SECOND).len(), 150);
    assert!(rxq.wait(Some(SECOND)).unwrap());
    // Partly read: drain also drops the rest of the block being read.
    let mut batch = PacketBatch::new(10, PacketBatch::DEFAULT_SLOT_SIZE);
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 10);
    rxq.drain().unwrap();
    batch.clear();
    assert_eq!(
        rxq.recv_batch(&mut batch).unwrap(),
        0,
        "every ready block dropped"
    );
    // The block that was still filling is handed over at its retire
    // timeout; drain it too until the queue stays idle.
    for _ in 0..20 {
        if !rxq.wait(Some(Duration::from_millis(50))).unwrap() {
            break;
        }
        rxq.drain().unwrap();
    }
    assert!(!rxq.wait(Some(Duration::from_millis(50))).unwrap(), "idle");
    // Still works after drains, many times around the ring.
    for round in 0..3 {
        for f in test_frames(round * 1000, 100) {
            peer.send(&f);
        }
        assert!(rxq.wait(Some(SECOND)).unwrap());
        rxq.drain().unwrap();
    }
    for _ in 0..20 {
        if !rxq.wait(Some(Duration::from_millis(50))).unwrap() {
            break;
        }
        rxq.drain().unwrap();
    }
    peer.send(&test_frame(7, 60));
    assert_eq!(
        recv_test_frames(&mut rxq, 64, 1, SECOND),
        vec![test_frame(7, 60)]
    );
}

#[test]
fn across_interface_down_and_up() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    ns.ip(&["link", "set", "dev", "pa", "down"]);
    let _in = ns.enter();
    // Opening on a down interface is fine and reports nothing stale.
    let mut rxq = PacketRingRxq::open(ia).unwrap();
    let mut batch = PacketBatch::new(8, PacketBatch::DEFAULT_SLOT_SIZE);
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0);
    assert!(!rxq.wait(Some(Duration::from_millis(50))).unwrap());
    ns.set_up_and_wait("pa", "pb");
    let peer = RawSocket::bind("pb");
    peer.send(&test_frame(1, 60));
    assert_eq!(recv_test_frames(&mut rxq, 8, 1, SECOND).len(), 1);

    // Going down wakes a waiter and is reported once by the next receive.
    ns.ip(&["link", "set", "dev", "pa", "down"]);
    assert!(rxq.wait(Some(SECOND)).unwrap(), "the error wakes a waiter");
    batch.clear();
    let err = rxq.recv_batch(&mut batch).expect_err("ENETDOWN reported");
    assert_eq!(err.kind(), &ErrorKind::NetworkDown);
    batch.clear();
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0, "reported once");
    assert!(!rxq.wait(Some(Duration::from_millis(50))).unwrap());
    ns.set_up_and_wait("pa", "pb");
    peer.send(&test_frame(2, 60));
    assert_eq!(
        recv_test_frames(&mut rxq, 8, 1, SECOND),
        vec![test_frame(2, 60)]
    );
}

#[test]
fn open_errors() {
    let ns = NetNs::new();
    let _in = ns.enter();
    let err = PacketRingRxq::open(0x7fff_fff0).expect_err("no such ifindex");
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
    let bad = RingConfig {
        block_size: 3000,
        ..RingConfig::default()
    };
    let err = PacketRingRxq::open_with(1, bad).expect_err("bad block size");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
}
