//! Privileged tests of the adaptive receive queue
//! (`netdev_linux::packet_adaptive`, the `system` class's default): frames
//! sent in phases (a trickle, a flood, a trickle, ...) so that the queue
//! switches between its V2 and V3 rings, and every frame is checked by its
//! sequence number: each one delivered once, in the order sent, and every
//! frame not delivered counted as dropped. Each test runs in its own
//! network namespace; the sender is a plain packet socket on the veth's
//! other end.

#![cfg(target_os = "linux")]

#[path = "support/packet_util.rs"]
mod packet_util;
mod support;

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use netdev_core::{PacketBatch, Registry, RxQueueBackend};
use netdev_linux::packet::PacketTx;
use netdev_linux::packet_adaptive::{ActiveRing, AdaptiveConfig, PacketAdaptiveRxq};
use netdev_linux::{SystemClass, SystemOptions};
use packet_util::{frame_seq, test_frame, veth};
use support::NetNs;

/// One phase of the sender: `count` frames, `gap` between sends of
/// `burst` frames.
#[derive(Clone, Copy)]
struct Phase {
    count: u32,
    burst: usize,
    gap: Duration,
}

const TRICKLE: Phase = Phase {
    count: 40,
    burst: 1,
    gap: Duration::from_millis(2),
};

const FLOOD: Phase = Phase {
    count: 60_000,
    burst: 64,
    gap: Duration::ZERO,
};

/// Sends the phases from `pb` (ifindex `ifindex`), numbering frames from 0;
/// returns how many were sent.
fn send_phases(ifindex: u32, phases: &[Phase]) -> u32 {
    let tx = PacketTx::open(ifindex).expect("PacketTx on pb");
    let mut seq = 0u32;
    for p in phases {
        let end = seq + p.count;
        while seq < end {
            let n = (end - seq).min(p.burst as u32);
            let frames: Vec<Vec<u8>> = (seq..seq + n).map(|s| test_frame(s, 64)).collect();
            let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
            let mut sent = 0;
            let deadline = Instant::now() + Duration::from_secs(5);
            while sent < refs.len() {
                let k = tx.send_batch(&refs[sent..]).expect("send_batch");
                sent += k;
                if k == 0 {
                    assert!(Instant::now() < deadline, "sender stuck");
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            seq += n;
            if !p.gap.is_zero() {
                std::thread::sleep(p.gap);
            }
        }
    }
    seq
}

/// Receives test frames (`recv` fills a batch, `wait` sleeps a little)
/// until the sender is done and nothing came for 300 ms; returns their
/// sequence numbers in the order received.
fn receive_all(q: &mut impl Receiver, done: &std::sync::atomic::AtomicBool) -> Vec<u32> {
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    let mut seqs = Vec::new();
    let mut last = Instant::now();
    loop {
        batch.clear();
        let n = q.recv(&mut batch);
        if n > 0 {
            seqs.extend(batch.iter().filter_map(|p| frame_seq(p.data)));
            last = Instant::now();
            continue;
        }
        if done.load(std::sync::atomic::Ordering::Acquire)
            && last.elapsed() > Duration::from_millis(300)
        {
            return seqs;
        }
        q.wait_a_little();
    }
}

/// The queue under test: the adaptive queue itself or a public `RxQueue`.
trait Receiver {
    fn recv(&mut self, batch: &mut PacketBatch) -> usize;
    fn wait_a_little(&mut self);
    fn dropped_frames(&mut self) -> u64;
    /// More to say when a check fails.
    fn describe(&self) -> String {
        String::new()
    }
}

impl Receiver for PacketAdaptiveRxq {
    fn recv(&mut self, batch: &mut PacketBatch) -> usize {
        self.recv_batch(batch).expect("recv_batch")
    }
    fn wait_a_little(&mut self) {
        self.wait(Some(Duration::from_millis(20))).expect("wait");
    }
    fn dropped_frames(&mut self) -> u64 {
        self.dropped().expect("dropped")
    }
    fn describe(&self) -> String {
        format!(", {} switches", self.switches())
    }
}

impl Receiver for netdev_core::RxQueue {
    fn recv(&mut self, batch: &mut PacketBatch) -> usize {
        self.recv_batch(batch).expect("recv_batch")
    }
    fn wait_a_little(&mut self) {
        self.wait(Some(Duration::from_millis(20))).expect("wait");
    }
    fn dropped_frames(&mut self) -> u64 {
        self.dropped().expect("dropped")
    }
}

/// Sends `phases` from `pb` (ifindex `ib`, in `ns`) while `q` receives;
/// checks exactly-once, in-order delivery and that every frame not
/// delivered is counted as dropped; returns the sequence numbers
/// received.
fn exchange(ns: &NetNs, ib: u32, q: &mut impl Receiver, phases: &[Phase]) -> Vec<u32> {
    let done = std::sync::atomic::AtomicBool::new(false);
    let (sent, seqs) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let _in = ns.enter();
            let n = send_phases(ib, phases);
            done.store(true, std::sync::atomic::Ordering::Release);
            n
        });
        let seqs = receive_all(q, &done);
        (sender.join().expect("sender"), seqs)
    });
    assert_in_order_once(&seqs, sent);
    assert_eq!(
        u64::from(sent) - seqs.len() as u64,
        q.dropped_frames(),
        "every frame not delivered is counted as dropped ({} of {sent} delivered{})",
        seqs.len(),
        q.describe()
    );
    seqs
}

/// Asserts `seqs` are increasing (in order, none twice) and below `sent`.
fn assert_in_order_once(seqs: &[u32], sent: u32) {
    let mut previous = None;
    for (i, &s) in seqs.iter().enumerate() {
        assert!(s < sent, "frame {i}: sequence {s} was never sent");
        if let Some(p) = previous {
            assert!(
                s > p,
                "frame {i}: sequence {s} after {p}: out of order or delivered twice"
            );
        }
        previous = Some(s);
    }
}

/// Runs `phases` into a queue of `config`; checks exactly-once, in-order
/// delivery and the drop count; returns the queue.
fn run(config: AdaptiveConfig, phases: &[Phase]) -> (PacketAdaptiveRxq, Vec<u32>) {
    let ns = NetNs::new();
    let (ia, ib) = veth(&ns);
    let _in = ns.enter();
    let mut q = PacketAdaptiveRxq::open_with(ia, config, true).expect("adaptive queue");
    let seqs = exchange(&ns, ib, &mut q, phases);
    (q, seqs)
}

#[test]
fn frames_stay_in_order_and_exactly_once_across_switches() {
    // A low threshold, so that the flood switches to the V3 ring even on a
    // loaded machine.
    let config = AdaptiveConfig {
        high_rate: 20_000,
        ..AdaptiveConfig::default()
    };
    let (q, seqs) = run(config, &[TRICKLE, FLOOD, TRICKLE, FLOOD, TRICKLE]);
    assert!(
        q.switches() >= 2,
        "the floods switched to the V3 ring and the trickles back: {} switches",
        q.switches()
    );
    assert_eq!(
        q.active_ring(),
        ActiveRing::V2,
        "back on V2 after the trickle"
    );
    assert!(
        seqs.len() > 100_000,
        "most frames delivered: {}",
        seqs.len()
    );
}

#[test]
fn a_queue_that_never_switches_is_a_v2_ring() {
    let config = AdaptiveConfig {
        high_rate: u32::MAX,
        ..AdaptiveConfig::default()
    };
    let (q, _) = run(config, &[TRICKLE, FLOOD, TRICKLE]);
    assert_eq!(q.switches(), 0);
    assert_eq!(q.active_ring(), ActiveRing::V2);
}

/// True if the queue's descriptor polls readable within `ms`.
fn readable(q: &PacketAdaptiveRxq, ms: u16) -> bool {
    let mut fds = [nix::poll::PollFd::new(
        AsFd::as_fd(q),
        nix::poll::PollFlags::POLLIN,
    )];
    nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)).expect("poll") == 1
}

#[test]
fn the_descriptor_polls_readable_when_a_frame_waits() {
    let ns = NetNs::new();
    let (ia, ib) = veth(&ns);
    let _in = ns.enter();
    let mut q = PacketAdaptiveRxq::open(ia).expect("adaptive queue");
    assert!(!readable(&q, 50), "nothing sent yet");
    send_phases(
        ib,
        &[Phase {
            count: 1,
            ..TRICKLE
        }],
    );
    assert!(readable(&q, 2000), "a frame waits");
    let mut batch = PacketBatch::new(8, PacketBatch::DEFAULT_SLOT_SIZE);
    assert_eq!(q.recv_batch(&mut batch).unwrap(), 1);
    assert_eq!(frame_seq(batch.get(0).unwrap().data), Some(0));
    assert!(!readable(&q, 50), "taken");
}

#[test]
fn the_system_class_default_switches_in_order_through_the_public_path() {
    let ns = NetNs::new();
    let (_, ib) = veth(&ns);
    let _in = ns.enter();
    let reg = Registry::new();
    reg.register(SystemClass::with_options(SystemOptions::default()))
        .unwrap();
    let dev = reg.open("pa", "system").unwrap();
    let mut q = dev.open_rx().unwrap();
    let phases = [TRICKLE, FLOOD, FLOOD, FLOOD, TRICKLE];
    exchange(&ns, ib, &mut q, &phases);
}

#[test]
fn down_and_up_on_the_flood_ring_keeps_receiving() {
    let ns = NetNs::new();
    let (ia, ib) = veth(&ns);
    let _in = ns.enter();
    let config = AdaptiveConfig {
        high_rate: 20_000,
        ..AdaptiveConfig::default()
    };
    let mut q = PacketAdaptiveRxq::open_with(ia, config, true).expect("adaptive queue");
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    // A flood, read while it comes, moves the queue to the V3 ring.
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let _in = ns.enter();
            send_phases(ib, &[FLOOD, FLOOD]);
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        while !done.load(std::sync::atomic::Ordering::Acquire) {
            batch.clear();
            if q.recv_batch(&mut batch).expect("recv_batch") == 0 {
                q.wait(Some(Duration::from_millis(5))).expect("wait");
            }
        }
    });
    assert!(q.switches() >= 1, "the flood switched to the V3 ring");
    // Drain what is left.
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        batch.clear();
        if q.recv_batch(&mut batch).expect("recv_batch") == 0 {
            q.wait(Some(Duration::from_millis(20))).expect("wait");
        }
    }
    // Down and up: the kernel re-links the group's members.
    ns.ip(&["link", "set", "pa", "down"]);
    ns.ip(&["link", "set", "pa", "up"]);
    packet_util::quiet_up(&ns, "pa");
    // ENETDOWN is reported once, then frames flow again.
    let mut downs = 0;
    let mut seqs = Vec::new();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let _in = ns.enter();
            send_phases(ib, &[TRICKLE]);
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        let mut last = Instant::now();
        loop {
            batch.clear();
            match q.recv_batch(&mut batch) {
                Ok(0) => {}
                Ok(_) => {
                    seqs.extend(batch.iter().filter_map(|p| frame_seq(p.data)));
                    last = Instant::now();
                    continue;
                }
                Err(e) if *e.kind() == netdev_core::ErrorKind::NetworkDown => downs += 1,
                Err(e) => panic!("recv_batch: {e}"),
            }
            if done.load(std::sync::atomic::Ordering::Acquire)
                && last.elapsed() > Duration::from_millis(300)
            {
                break;
            }
            q.wait(Some(Duration::from_millis(20))).expect("wait");
        }
    });
    assert!(downs <= 1, "ENETDOWN reported {downs} times");
    assert_eq!(
        seqs,
        (0..TRICKLE.count).collect::<Vec<_>>(),
        "every frame after the link came back, in order"
    );
}

#[test]
fn a_caller_polling_the_descriptor_hears_of_link_down_once() {
    let ns = NetNs::new();
    let (ia, _) = veth(&ns);
    let _in = ns.enter();
    let mut q = PacketAdaptiveRxq::open(ia).expect("adaptive queue");
    let mut batch = PacketBatch::new(8, PacketBatch::DEFAULT_SLOT_SIZE);
    // Only the descriptor and `recv_batch`, never `wait`.
    ns.ip(&["link", "set", "pa", "down"]);
    assert!(
        readable(&q, 2000),
        "the error makes the descriptor readable"
    );
    let err = q.recv_batch(&mut batch).expect_err("link down reported");
    assert_eq!(*err.kind(), netdev_core::ErrorKind::NetworkDown, "{err}");
    // Both sockets had the error; it was taken from both and reported
    // once, so the descriptor is quiet and receives answer nothing.
    assert!(!readable(&q, 100), "no error left to spin on");
    assert_eq!(q.recv_batch(&mut batch).expect("no second report"), 0);
}
