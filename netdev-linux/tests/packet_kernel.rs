//! Privileged tests of the Linux packet paths (`netdev_linux::packet`)
//! against the real kernel, each in its own network namespace.
//!
//! References: a plain `AF_PACKET` socket built with `nix` (no code shared
//! with the library), `tcpdump -r` of a capture when tcpdump is installed,
//! and `ip -j link`. Frames carry a private EtherType and a sequence
//! number, so background traffic cannot confuse a check; IPv6 address
//! generation is off on every device so the kernel stays quiet.
//!
//! VLAN: the `8021q` module is not needed. The kernel's receive path strips
//! an 802.1Q/802.1ad tag from any frame arriving on a veth into packet
//! metadata, so a tagged frame sent by the peer exercises the
//! `PACKET_AUXDATA` restoration end to end; the pure functions are also
//! unit-tested in `src/packet.rs`.

#![cfg(target_os = "linux")]

#[path = "support/packet_util.rs"]
mod packet_util;
mod support;

use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use netdev_core::{ErrorKind, PacketBatch, RxQueueBackend};
use netdev_linux::packet::{PacketRxq, PacketTx, Tap, TapRxq};
use packet_util::{
    assert_same_frames, fill, frame_seq, link_info, quiet_up, recv_test_frames, refs, send_all,
    tagged, test_frame, test_frames, veth, Capture, RawSocket, PACKET_OUTGOING,
};
use support::NetNs;

const SECOND: Duration = Duration::from_secs(1);
const QUIET: Duration = Duration::from_millis(200);

/// The frames of a batch, copied out, with their wire lengths.
fn frames_of(batch: &PacketBatch) -> Vec<(Vec<u8>, usize)> {
    batch
        .iter()
        .map(|p| (p.data.to_vec(), p.orig_len))
        .collect()
}

#[test]
fn tx_batch_of_64_arrives_on_peer() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let peer = RawSocket::bind("pb");
    let capture = Capture::start(ns.name(), "pb", 64);
    let tx = PacketTx::open(ia).expect("PacketTx::open");
    assert_eq!(tx.ifindex(), ia);
    assert!(
        tx.send_wait(Some(SECOND)).unwrap(),
        "a fresh socket has room"
    );

    let frames = test_frames(0, 64);
    assert_eq!(
        tx.send_batch(&refs(&frames)).expect("send_batch"),
        64,
        "64 frames in one call"
    );

    let got = peer.recv_test_frames(64, SECOND);
    assert_eq!(
        got.len(),
        64,
        "the peer's own AF_PACKET socket saw all frames"
    );
    assert_same_frames(&got, &frames, "peer socket");

    if let Some(capture) = capture {
        let seen: Vec<_> = capture
            .finish()
            .into_iter()
            .filter(|f| frame_seq(&f.bytes).is_some())
            .collect();
        let seqs: Vec<_> = seen.iter().filter_map(|f| frame_seq(&f.bytes)).collect();
        assert_eq!(seqs, (0..64).collect::<Vec<_>>(), "tcpdump saw all frames");
        for (f, want) in seen.iter().zip(&frames) {
            assert_eq!(f.length, want.len());
            assert_eq!(&f.bytes, want);
        }
    }
}

#[test]
fn rx_batch_of_64_in_one_call() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    // Opened before the queue: the kernel hands each frame to the newest
    // packet socket of a device first, so once this one has seen all 64
    // the queue holds them too, even when a loaded machine defers the
    // receive work to ksoftirqd.
    let barrier = RawSocket::bind("pa");
    let mut rxq = PacketRxq::open(ia).expect("PacketRxq::open");
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
    assert_eq!(barrier.recv_test_frames(64, SECOND).len(), 64);
    assert!(rxq.wait(Some(SECOND)).unwrap());
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    let n = rxq.recv_batch(&mut batch).expect("recv_batch");
    assert_eq!(n, 64, "all 64 frames in one call");
    let got = frames_of(&batch);
    for ((data, orig_len), want) in got.iter().zip(&frames) {
        assert_eq!(data, want);
        assert_eq!(*orig_len, want.len());
    }
    batch.clear();
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0, "nothing left");
}

#[test]
fn kernel_traffic_received_and_own_transmissions_not() {
    let ns = NetNs::new();
    let (_, ib) = veth(&ns);
    let (_, pb_mac) = link_info(&ns, "pb");
    let pb_mac_str = pb_mac.map(|b| format!("{b:02x}")).join(":");
    ns.ip(&["addr", "add", "10.99.0.1/24", "dev", "pa"]);
    ns.ip(&["addr", "add", "10.99.1.1/24", "dev", "pb"]);
    // 10.99.0.3 "lives" behind pa at pb's MAC: the kernel sends to it
    // straight away, and the frame arrives on pb.
    ns.ip(&[
        "neigh",
        "add",
        "10.99.0.3",
        "lladdr",
        &pb_mac_str,
        "dev",
        "pa",
        "nud",
        "permanent",
    ]);
    let _in = ns.enter();
    let mut rxq = PacketRxq::open(ib).expect("PacketRxq::open");
    let mut rxq_user = PacketRxq::open_filtering_in_userspace(ib).expect("open (userspace filter)");
    let reference = RawSocket::bind("pb");
    let peer = RawSocket::bind("pa");

    // Incoming, sent by the kernel's IP stack on pa.
    let udp = UdpSocket::bind("10.99.0.1:0").unwrap();
    udp.send_to(b"hello from the kernel", "10.99.0.3:9")
        .unwrap();
    // Outgoing on pb, sent by the kernel: an ARP request for a neighbour
    // of pb's subnet.
    udp.send_to(b"never sent: needs ARP", "10.99.1.7:9")
        .unwrap();
    // Outgoing on pb, sent by us.
    let tx = PacketTx::open(ib).unwrap();
    let ours = test_frames(0, 8);
    send_all(|f| tx.send_batch(f), &refs(&ours));

    // The reference socket on pb proves the kernel did transmit on pb.
    let mut saw_outgoing_arp = false;
    while let Some(f) = reference.recv(QUIET) {
        if f.pkttype == PACKET_OUTGOING && f.data.get(12..14) == Some(&[0x08, 0x06][..]) {
            saw_outgoing_arp = true;
        }
    }
    assert!(saw_outgoing_arp, "the kernel sent an ARP request on pb");
    assert_eq!(
        peer.recv_test_frames(8, SECOND).len(),
        8,
        "our frames left pb"
    );

    for (what, q) in [
        ("kernel filter", &mut rxq),
        ("userspace filter", &mut rxq_user),
    ] {
        let mut batch = PacketBatch::new(4, PacketBatch::DEFAULT_SLOT_SIZE);
        let mut got = Vec::new();
        loop {
            batch.clear();
            if q.recv_batch(&mut batch).unwrap() == 0 && !q.wait(Some(QUIET)).unwrap() {
                break;
            }
            got.extend(frames_of(&batch).into_iter().map(|(d, _)| d));
        }
        assert!(
            got.iter().all(|f| f[6..12] != pb_mac),
            "{what}: a frame transmitted on pb was received on pb: {got:02x?}"
        );
        let udp_in = got.iter().find(|f| {
            f[12..14] == [0x08, 0x00] && f.windows(21).any(|w| w == b"hello from the kernel")
        });
        let udp_in = udp_in
            .unwrap_or_else(|| panic!("{what}: the UDP datagram was not received: {got:02x?}"));
        assert_eq!(udp_in[0..6], pb_mac, "{what}: sent to pb's MAC");
        assert_eq!(udp_in[30..34], [10, 99, 0, 3], "{what}: to 10.99.0.3");
    }
}

#[test]
fn own_transmissions_ignored_between_incoming_frames() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    // Delivery barrier (see rx_batch_of_64_in_one_call).
    let barrier = RawSocket::bind("pa");
    let mut rxqs = [
        PacketRxq::open(ia).unwrap(),
        PacketRxq::open_filtering_in_userspace(ia).unwrap(),
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
    assert_same_frames(&barrier.recv_test_frames(10, SECOND), &want, "barrier");
    for rxq in &mut rxqs {
        // Small batches: dropped outgoing frames fall in the middle of
        // several calls, which exercises closing the gaps.
        let mut batch = PacketBatch::new(16, PacketBatch::DEFAULT_SLOT_SIZE);
        let mut got = Vec::new();
        for _ in 0..100 {
            batch.clear();
            rxq.recv_batch(&mut batch).unwrap();
            got.extend(frames_of(&batch).into_iter().map(|(d, _)| d));
        }
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
    let mut rxq = PacketRxq::open(ia).unwrap();
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
    let got: Vec<_> = batch.iter().collect();
    for (p, f) in got.iter().zip(&frames) {
        assert_eq!(p.orig_len, f.len(), "real length reported");
        assert_eq!(p.data, &f[..f.len().min(128)], "bytes up to the slot size");
        assert_eq!(p.is_truncated(), f.len() > 128);
    }
}

#[test]
fn vlan_tags_stripped_by_the_kernel_are_restored() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let mut rxq = PacketRxq::open(ia).unwrap();
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
fn wait_and_drain() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    // Delivery barrier (see rx_batch_of_64_in_one_call).
    let barrier = RawSocket::bind("pa");
    let mut rxq = PacketRxq::open(ia).unwrap();
    let peer = RawSocket::bind("pb");
    assert!(
        !rxq.wait(Some(Duration::from_millis(50))).unwrap(),
        "nothing yet"
    );
    for f in test_frames(0, 150) {
        peer.send(&f);
    }
    assert_eq!(barrier.recv_test_frames(150, SECOND).len(), 150);
    assert!(rxq.wait(Some(SECOND)).unwrap());
    rxq.drain().unwrap();
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0, "drained");
    assert!(!rxq.wait(Some(Duration::from_millis(50))).unwrap());
    // Still works after a drain.
    peer.send(&test_frame(7, 60));
    assert_eq!(
        recv_test_frames(&mut rxq, 64, 1, SECOND),
        vec![test_frame(7, 60)]
    );
}

#[test]
fn rxq_across_interface_down_and_up() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    ns.ip(&["link", "set", "dev", "pa", "down"]);
    let _in = ns.enter();
    // Opening on a down interface is fine and reports nothing stale.
    let mut rxq = PacketRxq::open(ia).unwrap();
    let mut batch = PacketBatch::new(8, PacketBatch::DEFAULT_SLOT_SIZE);
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0);
    assert!(!rxq.wait(Some(Duration::from_millis(50))).unwrap());
    ns.set_up_and_wait("pa", "pb");
    let peer = RawSocket::bind("pb");
    peer.send(&test_frame(1, 60));
    assert_eq!(
        recv_test_frames(&mut rxq, 64, 1, SECOND).len(),
        1,
        "receives once up"
    );

    // Going down is reported once, then the queue carries on.
    ns.ip(&["link", "set", "dev", "pa", "down"]);
    assert!(rxq.wait(Some(SECOND)).unwrap(), "the error wakes a waiter");
    batch.clear();
    let err = rxq.recv_batch(&mut batch).expect_err("ENETDOWN reported");
    assert_eq!(err.kind(), &ErrorKind::NetworkDown);
    batch.clear();
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0, "reported once");
    ns.set_up_and_wait("pa", "pb");
    peer.send(&test_frame(2, 60));
    assert_eq!(
        recv_test_frames(&mut rxq, 64, 1, SECOND),
        vec![test_frame(2, 60)]
    );
}

#[test]
fn tx_errors_name_the_frame() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let tx = PacketTx::open(ia).unwrap();
    let peer = RawSocket::bind("pb");
    let ok = test_frames(0, 2);
    let big = test_frame(9, 9000);
    let batch: Vec<&[u8]> = vec![&ok[0], &ok[1], &big, &ok[0]];
    // The frames before the refused one go out; the count says so.
    assert_eq!(tx.send_batch(&batch).unwrap(), 2);
    assert_same_frames(
        &peer.recv_test_frames(2, SECOND),
        &ok,
        "sent before the refused frame",
    );
    // Now first, the refused frame is an error that names it.
    let err = tx.send_batch(&batch[2..]).expect_err("EMSGSIZE");
    assert_eq!(err.raw_os_error(), Some(libc::EMSGSIZE), "{err}");
    assert!(
        err.to_string().contains("frame 0 of the batch, 9000 bytes"),
        "{err}"
    );
    assert_eq!(tx.send_batch(&[]).unwrap(), 0);

    ns.ip(&["link", "set", "dev", "pa", "down"]);
    let err = tx.send_batch(&batch[..1]).expect_err("down");
    assert_eq!(err.kind(), &ErrorKind::NetworkDown, "{err}");

    let err = PacketTx::open(0x7fff_fff0).expect_err("no such ifindex");
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
    let err = PacketRxq::open(0x7fff_fff0).expect_err("no such ifindex");
    assert_eq!(err.raw_os_error(), Some(libc::ENODEV), "{err}");
}

#[test]
fn tx_shared_between_threads() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let tx = PacketTx::open(ia).unwrap();
    let peer = RawSocket::bind("pb");
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let tx = &tx;
            s.spawn(move || {
                let frames = test_frames(t * 1000, 64);
                send_all(|f| tx.send_batch(f), &refs(&frames));
            });
        }
    });
    let got = peer.recv_test_frames(256, SECOND);
    assert_eq!(got.len(), 256);
    for t in 0..4u32 {
        let seqs: Vec<u32> = got
            .iter()
            .filter_map(|f| frame_seq(f))
            .filter(|s| s / 1000 == t)
            .collect();
        assert_eq!(
            seqs,
            (t * 1000..t * 1000 + 64).collect::<Vec<_>>(),
            "thread {t} in order"
        );
    }
}

/// `(kind, tun type)` of `name` from `ip -d -j link`, `None` if absent.
fn tun_kind(ns: &NetNs, name: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&ns.ip(&["-d", "-j", "link"])).unwrap();
    v.as_array()?.iter().find(|l| l["ifname"] == name).map(|l| {
        let info = &l["linkinfo"];
        (
            info["info_kind"].as_str().unwrap_or_default().to_owned(),
            info["info_data"]["type"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    })
}

#[test]
fn tap_created_listed_and_destroyed_on_drop() {
    let ns = NetNs::new();
    let entered = ns.enter();
    let tap = Tap::create("ndtap0").expect("Tap::create");
    drop(entered);
    assert_eq!(tap.name(), "ndtap0");
    assert_eq!(
        tun_kind(&ns, "ndtap0"),
        Some(("tun".to_owned(), "tap".to_owned())),
        "ip -d -j link lists a tap"
    );
    assert!(ns.links().iter().any(|(_, n)| n == "ndtap0"));
    drop(tap);
    assert_eq!(tun_kind(&ns, "ndtap0"), None, "gone once the fd closed");
    assert!(!ns.links().iter().any(|(_, n)| n == "ndtap0"));
}

#[test]
fn tap_frames_both_ways() {
    let ns = NetNs::new();
    let _in = ns.enter();
    let tap = Arc::new(Tap::create("ndtap1").unwrap());
    quiet_up(&ns, "ndtap1");
    let raw = RawSocket::bind("ndtap1");
    let capture = Capture::start(ns.name(), "ndtap1", 64);

    // Written to the fd: the device receives them.
    let frames = test_frames(0, 64);
    assert!(tap.send_wait(Some(SECOND)).unwrap());
    assert_eq!(
        tap.send_batch(&refs(&frames)).unwrap(),
        64,
        "64 frames in one call"
    );
    assert_same_frames(
        &raw.recv_test_frames(64, SECOND),
        &frames,
        "written to the tap",
    );
    if let Some(capture) = capture {
        let seen: Vec<Vec<u8>> = capture
            .finish()
            .into_iter()
            .filter(|f| frame_seq(&f.bytes).is_some())
            .map(|f| f.bytes)
            .collect();
        let seqs: Vec<_> = seen.iter().filter_map(|f| frame_seq(f)).collect();
        assert_eq!(seqs, (0..64).collect::<Vec<_>>(), "tcpdump saw all frames");
        assert_same_frames(&seen, &frames, "tcpdump");
    }

    // Sent on the device: read from the fd.
    let mut rxq = TapRxq::new(Arc::clone(&tap));
    let back = test_frames(500, 64);
    for f in &back {
        raw.send(f);
    }
    assert!(rxq.wait(Some(SECOND)).unwrap());
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    assert_eq!(
        rxq.recv_batch(&mut batch).unwrap(),
        64,
        "64 frames in one call"
    );
    let got: Vec<Vec<u8>> = frames_of(&batch).into_iter().map(|(d, _)| d).collect();
    assert_same_frames(&got, &back, "read from the tap");

    // Truncation is reported with the real length.
    raw.send(&test_frame(1, 1000));
    raw.send(&test_frame(2, 60));
    let mut small = PacketBatch::new(4, 128);
    fill(&mut rxq, &mut small, 2);
    assert_eq!(small.len(), 2);
    let p = small.get(0).unwrap();
    assert_eq!((p.data.len(), p.orig_len), (128, 1000));
    assert_eq!(p.data, &test_frame(1, 1000)[..128]);
    assert_eq!(small.get(1).unwrap().data, &test_frame(2, 60)[..]);

    // Drain empties the queue.
    for f in &back {
        raw.send(f);
    }
    rxq.drain().unwrap();
    batch.clear();
    assert_eq!(rxq.recv_batch(&mut batch).unwrap(), 0);
}

#[test]
fn tap_errors_are_clear() {
    let ns = NetNs::new();
    ns.ip(&[
        "link", "add", "ndx0", "type", "veth", "peer", "name", "ndx1",
    ]);
    let _in = ns.enter();

    let err = Tap::create("ndx0").expect_err("a veth has that name");
    assert_eq!(netdev_core::errno_of(&err), Some(libc::EEXIST), "{err}");
    assert!(err.to_string().contains("another type"), "{err}");

    let tap = Tap::create("ndtap2").unwrap();
    let err = Tap::create("ndtap2").expect_err("already open");
    assert_eq!(netdev_core::errno_of(&err), Some(libc::EBUSY), "{err}");
    assert!(err.to_string().contains("already open"), "{err}");

    for bad in ["", "a/b", "sixteen-chars-xx", "tap%d"] {
        let err = Tap::create(bad).expect_err(bad);
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::InvalidInput,
            "{bad:?}: {err}"
        );
    }

    // Down: frames are refused as "network down", naming the frame.
    let err = tap
        .send_batch(&[&test_frame(1, 60)])
        .expect_err("tap is down");
    assert_eq!(err.kind(), &ErrorKind::NetworkDown, "{err}");
    // A frame shorter than an Ethernet header is refused for good.
    quiet_up(&ns, "ndtap2");
    let err = tap.send_batch(&[&[1u8; 10]]).expect_err("runt frame");
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err}");
    assert!(
        err.to_string().contains("frame 0 of the batch, 10 bytes"),
        "{err}"
    );
}
