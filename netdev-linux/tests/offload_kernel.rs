//! Privileged tests of offload metadata on the Linux paths, through the
//! public API (`Netdev::open_rx_with`, `Netdev::send_batch_offload`):
//!
//! - a TCP transfer between two namespaces: the receive queue opened with
//!   offload sees the sender's TSO segments whole (longer than a ring
//!   slot, so through the socket), with `GSO_TCPV4` and a pending checksum,
//!   and every payload byte the sender wrote;
//! - a GSO frame sent with its metadata crosses a veth as the kernel's own
//!   GSO frames do, metadata intact;
//! - a frame with a pending checksum sent on a tap with its metadata
//!   (`IFF_VNET_HDR`) is accepted by the kernel's UDP stack; the same bytes
//!   sent without the metadata are dropped as a checksum error;
//! - what the host sends through a tap reaches an offload queue with its
//!   checksum pending, and a plain queue complete (valid checksum), and
//!   the tap's offloads follow the offload queue's life.
//!
//! References: the kernel's TCP and UDP stacks (std sockets), and `nstat`.

#![cfg(target_os = "linux")]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use netdev_core::{Flags, Netdev, Offload, PacketBatch, Registry, RxQueueOptions};
use support::NetNs;

/// Two namespaces joined by a veth: `oa` 10.77.0.1 in the first, `ob`
/// 10.77.0.2 in the second.
fn pair() -> (NetNs, NetNs) {
    let n1 = NetNs::new();
    let n2 = NetNs::new();
    n1.veth_to("oa", &n2, "ob");
    n1.ip(&["addr", "add", "10.77.0.1/24", "dev", "oa"]);
    n2.ip(&["addr", "add", "10.77.0.2/24", "dev", "ob"]);
    n1.ip(&["link", "set", "oa", "up"]);
    n2.ip(&["link", "set", "ob", "up"]);
    (n1, n2)
}

/// A registry with the Linux classes whose first device, `name` of type
/// `kind`, is opened by a thread inside `ns` (the classes keep the
/// namespace of their first opener).
fn open_in(ns: &NetNs, name: &str, kind: &str) -> (Registry, Netdev) {
    let _in = ns.enter();
    let reg = Registry::new();
    netdev_linux::register(&reg).unwrap();
    let dev = reg.open(name, kind).unwrap();
    (reg, dev)
}

/// Internet checksum helpers, independent of the library's.
fn sum16(data: &[u8], mut sum: u32) -> u32 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    sum
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

#[test]
fn tcp_segments_arrive_whole_with_their_offload_metadata() {
    let (n1, n2) = pair();
    let (_reg, ob) = open_in(&n2, "ob", "system");
    let mut rxq = ob
        .open_rx_with(&RxQueueOptions::new().with_offload(true))
        .unwrap();
    let listener = {
        let _in = n2.enter();
        TcpListener::bind("10.77.0.2:0").unwrap()
    };
    let port = listener.local_addr().unwrap().port();
    const TOTAL: usize = 4 << 20;
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0;
        while got < TOTAL {
            match s.read(&mut buf).unwrap() {
                0 => break,
                n => got += n,
            }
        }
        got
    });
    let mut client = {
        let _in = n1.enter();
        TcpStream::connect(("10.77.0.2", port)).unwrap()
    };
    let data = vec![0x5au8; TOTAL];
    client.write_all(&data).unwrap();
    drop(client);
    assert_eq!(server.join().unwrap(), TOTAL, "the server got every byte");

    let mut batch = PacketBatch::new(64, 70_000);
    let mut payload = 0usize;
    let mut gso_frames = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if rxq.recv_batch(&mut batch).unwrap() == 0 {
            if !rxq.wait(Some(Duration::from_millis(300))).unwrap() {
                break;
            }
            continue;
        }
        for p in batch.iter() {
            let f = p.data;
            // IPv4 TCP to the listener's port only.
            if f.len() < 54 || f[12..14] != [8, 0] || f[23] != 6 {
                continue;
            }
            let ihl = usize::from(f[14] & 0xf) * 4;
            let l4 = 14 + ihl;
            if u16::from_be_bytes([f[l4 + 2], f[l4 + 3]]) != port {
                continue;
            }
            assert!(!p.is_truncated(), "{} of {} bytes", f.len(), p.orig_len);
            let doff = usize::from(f[l4 + 12] >> 4) * 4;
            payload += f.len() - l4 - doff;
            let o = p.offload;
            if f.len() > 1514 {
                gso_frames += 1;
                assert!(o.is_gso(), "a {}-byte frame without GSO: {o:?}", f.len());
                assert_eq!(o.gso_type & !Offload::GSO_ECN, Offload::GSO_TCPV4);
                assert!((500..=1460).contains(&o.gso_size), "{o:?}");
            }
            if o.needs_csum() {
                assert_eq!(
                    (usize::from(o.csum_start), o.csum_offset),
                    (l4, 16),
                    "{o:?}"
                );
            }
        }
    }
    assert!(gso_frames > 0, "no TSO segment seen whole");
    // Retransmissions may add some; nothing may be missing.
    assert!(payload >= TOTAL, "payload seen {payload} of {TOTAL}");
}

/// An IPv4 TCP frame of `payload` bytes from 10.77.0.1 to 10.77.0.2 with
/// the checksum field holding the pseudo-header sum (what a sender with
/// checksum offload hands over).
fn partial_tcp_frame(dst: [u8; 6], src: [u8; 6], payload: usize) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&[8, 0]);
    let tot = (40 + payload) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&tot.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 77, 0, 1, 10, 77, 0, 2]);
    let c = !fold(sum16(&f[14..34], 0));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&[
        0x9c, 0x40, 0x23, 0x28, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
    ]);
    let pseudo = fold(sum16(&f[26..34], 6 + 20 + payload as u32));
    f.extend_from_slice(&pseudo.to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend((0..payload).map(|i| i as u8));
    f
}

#[test]
fn a_gso_frame_sent_with_its_metadata_crosses_a_veth_intact() {
    let (n1, n2) = pair();
    let (_reg1, oa) = open_in(&n1, "oa", "system");
    let (_reg2, ob) = open_in(&n2, "ob", "system");
    let mut rxq = ob
        .open_rx_with(&RxQueueOptions::new().with_offload(true))
        .unwrap();
    let frame = partial_tcp_frame(ob.mac().unwrap().0, oa.mac().unwrap().0, 3000);
    let offload = Offload {
        flags: Offload::F_NEEDS_CSUM,
        gso_type: Offload::GSO_TCPV4,
        hdr_len: 54,
        gso_size: 1000,
        csum_start: 34,
        csum_offset: 16,
    };
    assert_eq!(oa.send_batch_offload(&[&frame], &[offload]).unwrap(), 1);
    let mut batch = PacketBatch::new(8, 70_000);
    let mut seen = None;
    while rxq.wait(Some(Duration::from_secs(2))).unwrap() {
        rxq.recv_batch(&mut batch).unwrap();
        if let Some(p) = batch.iter().find(|p| p.data.len() == frame.len()) {
            seen = Some((p.data.to_vec(), p.offload));
            break;
        }
    }
    let (data, o) = seen.expect("the GSO frame arrived whole");
    assert_eq!(data, frame);
    assert_eq!(
        (o.gso_type, o.gso_size, o.csum_start, o.csum_offset),
        (Offload::GSO_TCPV4, 1000, 34, 16)
    );
    assert!(o.needs_csum());
    // Mismatched lengths are refused, naming the problem.
    let e = oa.send_batch_offload(&[&frame], &[]).unwrap_err();
    assert!(e.to_string().contains("offload records"), "{e}");
}

fn udp_in_csum_errors(ns: &NetNs) -> u64 {
    let out = ns.exec("nstat", &["-az", "UdpInCsumErrors"]);
    out.lines()
        .find_map(|l| l.strip_prefix("UdpInCsumErrors"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no UdpInCsumErrors in nstat output: {out}"))
}

#[test]
fn a_pending_checksum_sent_on_a_tap_is_accepted_with_its_metadata() {
    let ns = NetNs::new();
    let (_reg, tap) = open_in(&ns, "otap0", "tap");
    tap.update_flags(Flags::empty(), Flags::UP).unwrap();
    ns.ip(&["addr", "add", "10.78.0.1/24", "dev", "otap0"]);
    let sock = {
        let _in = ns.enter();
        UdpSocket::bind("10.78.0.1:9999").unwrap()
    };
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // A UDP datagram from 10.78.0.2 to 10.78.0.1:9999, checksum pending.
    let build = |body: &[u8]| {
        let mut f = tap.mac().unwrap().0.to_vec();
        f.extend_from_slice(&[2, 0, 0, 0, 0, 0x42, 8, 0]);
        let tot = (28 + body.len()) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&tot.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0, 10, 78, 0, 2, 10, 78, 0, 1]);
        let c = !fold(sum16(&f[14..34], 0));
        f[24..26].copy_from_slice(&c.to_be_bytes());
        let ulen = (8 + body.len()) as u16;
        f.extend_from_slice(&[0x30, 0x39, 0x27, 0x0f]);
        f.extend_from_slice(&ulen.to_be_bytes());
        let pseudo = fold(sum16(&f[26..34], 17 + u32::from(ulen)));
        f.extend_from_slice(&pseudo.to_be_bytes());
        f.extend_from_slice(body);
        f
    };
    let offload = Offload {
        flags: Offload::F_NEEDS_CSUM,
        csum_start: 34,
        csum_offset: 6,
        ..Offload::NONE
    };
    let before = udp_in_csum_errors(&ns);
    let bad = build(b"sent as is");
    assert_eq!(tap.send_batch(&[&bad]).unwrap(), 1);
    let good = build(b"completed");
    assert_eq!(tap.send_batch_offload(&[&good], &[offload]).unwrap(), 1);
    let mut buf = [0u8; 64];
    let (n, from) = sock.recv_from(&mut buf).expect("the completed datagram");
    assert_eq!(&buf[..n], b"completed");
    assert_eq!(from.to_string(), "10.78.0.2:12345");
    assert_eq!(
        udp_in_csum_errors(&ns) - before,
        1,
        "the frame sent without its metadata failed the kernel's check"
    );
}

/// The UDP checksum of an IPv4 frame verifies (RFC 1071: the sum over
/// the pseudo-header and the datagram folds to all ones).
fn udp4_checksum_ok(f: &[u8]) -> bool {
    let l4 = 14 + usize::from(f[14] & 0xf) * 4;
    let ulen = u16::from_be_bytes([f[l4 + 4], f[l4 + 5]]);
    let pseudo = sum16(&f[26..34], 17 + u32::from(ulen));
    fold(sum16(&f[l4..l4 + usize::from(ulen)], pseudo)) == 0xffff
}

#[test]
fn what_the_host_sends_through_a_tap_comes_with_its_metadata_only_when_asked() {
    let ns = NetNs::new();
    let (_reg, tap) = open_in(&ns, "otap1", "tap");
    tap.update_flags(Flags::empty(), Flags::UP).unwrap();
    ns.ip(&["addr", "add", "10.79.0.1/24", "dev", "otap1"]);
    ns.ip(&[
        "neigh",
        "add",
        "10.79.0.2",
        "lladdr",
        "02:00:00:00:00:42",
        "dev",
        "otap1",
    ]);
    let sock = {
        let _in = ns.enter();
        UdpSocket::bind("10.79.0.1:0").unwrap()
    };
    let mut batch = PacketBatch::new(8, 70_000);
    let mut one = |q: &mut netdev_core::RxQueue, body: &[u8]| {
        sock.send_to(body, "10.79.0.2:7").unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if q.recv_batch(&mut batch).unwrap() == 0 {
                q.wait(Some(Duration::from_millis(200))).unwrap();
                continue;
            }
            if let Some(p) = batch
                .iter()
                .find(|p| p.data.len() > 42 && p.data.ends_with(body))
            {
                return (p.data.to_vec(), p.offload);
            }
        }
        panic!("the datagram did not reach the tap's queue");
    };
    {
        let mut q = tap
            .open_rx_with(&RxQueueOptions::new().with_offload(true))
            .unwrap();
        let (f, o) = one(&mut q, b"offloaded");
        assert!(o.needs_csum(), "{o:?}");
        assert_eq!((o.csum_start, o.csum_offset), (34, 6));
        assert!(!udp4_checksum_ok(&f), "left to the reader");
        let mut done = f.clone();
        netdev_core::offload::finish_checksum(&mut done, &o).unwrap();
        assert!(udp4_checksum_ok(&done), "completed from the metadata");
    }
    // The offload queue is gone: a plain queue gets complete frames.
    let mut q = tap.open_rx().unwrap();
    let (f, o) = one(&mut q, b"complete");
    assert!(!o.needs_csum(), "{o:?}");
    assert!(udp4_checksum_ok(&f));
}
