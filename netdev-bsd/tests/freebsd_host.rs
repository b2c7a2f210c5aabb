//! FreeBSD host tests: what the Linux tests and the type-check cannot
//! show, against `ifconfig(8)` as the reference. Compiled (and
//! type-checked in CI) for FreeBSD only; run there as root with
//! `if_tuntap` loaded:
//!
//! ```sh
//! cargo test -p netdev-bsd --test freebsd_host -- --test-threads=1
//! ```
//!
//! Each test creates its own taps with names unique to the process and
//! destroys them on the way out, even when it fails.
#![cfg(target_os = "freebsd")]

use std::process::Command;
use std::time::{Duration, Instant};

use netdev_core::{PacketBatch, Registry, RxQueue};

/// Runs `ifconfig` with `args` (an argument vector, no shell); its
/// success and standard output.
fn ifconfig(args: &[&str]) -> (bool, String) {
    let out = Command::new("/sbin/ifconfig")
        .args(args)
        .output()
        .expect("run /sbin/ifconfig");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// An interface name unique to this process and `tag` (two letters).
fn unique(tag: &str) -> String {
    format!("nd{tag}{}", std::process::id() % 100_000)
}

/// Destroys the interfaces of these names, if any is left, when dropped.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.0 {
            if ifconfig(&[name]).0 {
                let _ = ifconfig(&[name, "destroy"]);
            }
        }
    }
}

/// Waits until `cond` holds; fails after a deadline far beyond any normal
/// delay (a wait for an event, not a timing check).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn registry() -> Registry {
    let reg = Registry::new();
    netdev_bsd::register(&reg).unwrap();
    reg
}

/// A broadcast frame of `len` bytes (a tap takes only frames for its own
/// address, multicast or broadcast ones), with the local experimental
/// EtherType so the stack ignores it.
fn frame(len: usize) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend([0x02, 0, 0, 0, 0, 1, 0x88, 0xb5]);
    f.resize(len, 0xab);
    f
}

/// `(stored, wire length)` of every frame `q` receives until `want` of
/// them match `pick`.
fn receive(
    q: &mut RxQueue,
    slots: usize,
    slot_size: usize,
    want: usize,
    pick: impl Fn(usize) -> bool,
) -> Vec<(usize, usize)> {
    let mut batch = PacketBatch::new(slots, slot_size);
    let mut got = Vec::new();
    eventually("frames received", || {
        q.wait(Some(Duration::from_millis(100))).unwrap();
        q.recv_batch(&mut batch).unwrap();
        got.extend(
            batch
                .iter()
                .map(|p| (p.data.len(), p.orig_len))
                .filter(|&(_, wire)| pick(wire)),
        );
        got.len() >= want
    });
    got
}

#[test]
fn a_tap_follows_a_rename_and_reports_its_status() {
    let reg = registry();
    let (a, b) = (unique("ra"), unique("rb"));
    let _cleanup = Cleanup(vec![a.clone(), b.clone()]);
    let dev = reg.open(&a, "tap").unwrap();
    let index = dev.ifindex().unwrap();

    let st = dev.status().unwrap();
    assert_eq!(st["kind"], "tap");
    assert_eq!(st["driver_name"], "tap");
    let (_, out) = ifconfig(&["-D", &a]);
    let driver = format!("drivername: tap{}", st["driver_unit"]);
    assert!(out.contains(&driver), "{driver} not in:\n{out}");
    assert!(st["media"].starts_with("Ethernet"), "{st:?}");

    assert!(ifconfig(&[&a, "name", &b]).0, "ifconfig name");
    // At once, whether or not the notifier has spoken: by index.
    dev.set_mtu(1400).unwrap();
    let (_, out) = ifconfig(&[&b]);
    assert!(out.contains("mtu 1400"), "{out}");
    assert_eq!(dev.ifindex().unwrap(), index);
    eventually("the core learns the new name", || *dev.name() == *b);
    assert!(!dev.is_gone());

    drop(dev);
    // The last handle destroyed the tap, under its new name.
    assert!(!ifconfig(&[&b]).0, "{b} still exists");
}

#[test]
fn both_receive_paths_report_truncation() {
    let reg = registry();
    let name = unique("rx");
    let _cleanup = Cleanup(vec![name.clone()]);
    let dev = reg.open(&name, "tap").unwrap();
    // The first queue reads the tap's descriptor, the second one pcap.
    let mut tap_q = dev.open_rx().unwrap();
    let mut pcap_q = dev.open_rx().unwrap();

    // Written to the tap: received by the interface, seen by pcap (in).
    let frames: Vec<Vec<u8>> = (0..8).map(|_| frame(1000)).collect();
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    assert_eq!(dev.send_batch(&refs).unwrap(), 8);
    let got = receive(&mut pcap_q, 16, 256, 8, |wire| wire == 1000);
    assert_eq!(got, vec![(256, 1000); 8]);

    // Sent by the interface (injected with BPF): read from the tap.
    let mut out = pcap::Capture::from_device(name.as_str())
        .unwrap()
        .open()
        .unwrap();
    out.sendpacket(frame(1500)).unwrap();
    let got = receive(&mut tap_q, 4, 128, 1, |wire| wire == 1500);
    assert_eq!(got, vec![(128, 1500)]);
}
