//! Test support for the packet paths: references that share no code with
//! the library under test.
//!
//! - [`RawSocket`]: a plain `AF_PACKET` socket built with `nix` (safe
//!   wrappers, no `recvmmsg`, no auxdata), to send frames the library must
//!   receive and to see frames the library sent.
//! - [`Capture`]: `tcpdump` capturing on an interface of a namespace, read
//!   back with `tcpdump -r`.
//! - [`test_frame`] / [`frame_seq`]: frames with a recognisable EtherType and
//!   a sequence number, so background traffic never confuses a check.
//!
//! - Helpers both packet test files share: a quiet veth pair, receiving and
//!   sending test frames in batches, comparing them, VLAN-tagged frames.
//!
//! Included with `#[path]` by test crates that also declare `mod support;`
//! (the namespace helpers use `crate::support::NetNs`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, AddressFamily, LinkAddr, MsgFlags, SockFlag, SockProtocol, SockType};

/// The EtherType of test frames: IEEE "local experimental EtherType 1",
/// which no stack on the host sends.
pub const TEST_ETHERTYPE: u16 = 0x88b5;

/// Source MAC of test frames (locally administered).
pub const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
/// Destination MAC of test frames (locally administered, unicast: the
/// kernel drops such frames quietly).
pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x02];

/// `PACKET_OUTGOING`: frames the host transmitted.
pub const PACKET_OUTGOING: u8 = 4;

/// A test frame of `len` bytes (at least 20): Ethernet header with
/// [`TEST_ETHERTYPE`], a 32-bit big-endian sequence number, then a pattern
/// derived from `seq` so corruption shows.
pub fn test_frame(seq: u32, len: usize) -> Vec<u8> {
    assert!(len >= 20, "test frames are at least 20 bytes");
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend((f.len()..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seq) as u8));
    f
}

/// The sequence number of a test frame, `None` for any other frame.
pub fn frame_seq(frame: &[u8]) -> Option<u32> {
    if frame.len() < 18 || frame[12..14] != TEST_ETHERTYPE.to_be_bytes() {
        return None;
    }
    Some(u32::from_be_bytes([
        frame[14], frame[15], frame[16], frame[17],
    ]))
}

/// A frame received by a [`RawSocket`].
#[derive(Debug, Clone)]
pub struct RawFrame {
    /// The bytes (up to the receive buffer's size).
    pub data: Vec<u8>,
    /// `sll_pkttype`: host, broadcast, other host, outgoing...
    pub pkttype: u8,
}

/// A plain `AF_PACKET` raw socket bound to one interface (`ETH_P_ALL`).
#[derive(Debug)]
pub struct RawSocket {
    fd: OwnedFd,
    ifindex: usize,
}

impl RawSocket {
    /// Opens and binds a socket to interface `ifname` of the calling
    /// thread's namespace (call it inside `NetNs::enter`), then discards
    /// whatever was queued before the bind took effect.
    pub fn bind(ifname: &str) -> RawSocket {
        // The interface's link-layer address as getifaddrs reports it:
        // family AF_PACKET and its ifindex, which is all bind needs.
        let addr: LinkAddr = nix::ifaddrs::getifaddrs()
            .expect("getifaddrs")
            .filter(|a| a.interface_name == ifname)
            .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
            .unwrap_or_else(|| panic!("no AF_PACKET address for {ifname}: does it exist?"));
        let fd = socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            SockProtocol::EthAll,
        )
        .expect("AF_PACKET socket");
        socket::bind(fd.as_raw_fd(), &addr).unwrap_or_else(|e| panic!("bind to {ifname}: {e}"));
        let s = RawSocket {
            fd,
            ifindex: addr.ifindex(),
        };
        let mut buf = [0u8; 64];
        while socket::recv(s.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT).is_ok() {}
        s
    }

    /// Sends one frame on the interface.
    pub fn send(&self, frame: &[u8]) {
        let n = socket::send(self.fd.as_raw_fd(), frame, MsgFlags::empty())
            .unwrap_or_else(|e| panic!("send of a {}-byte frame: {e}", frame.len()));
        assert_eq!(n, frame.len(), "short send");
    }

    /// Receives one frame of this interface, waiting up to `timeout`;
    /// `None` on timeout.
    pub fn recv(&self, timeout: Duration) -> Option<RawFrame> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            match socket::recvfrom::<LinkAddr>(self.fd.as_raw_fd(), &mut buf) {
                Ok((n, addr)) => {
                    let addr = addr.expect("AF_PACKET recvfrom returns an address");
                    if addr.ifindex() != self.ifindex {
                        continue;
                    }
                    return Some(RawFrame {
                        data: buf[..n.min(buf.len())].to_vec(),
                        pkttype: addr.pkttype(),
                    });
                }
                Err(Errno::EAGAIN) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => panic!("recvfrom: {e}"),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let ms =
                PollTimeout::try_from(left.as_millis().max(1) as u64).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => panic!("poll: {e}"),
            }
        }
    }

    /// Receives test frames (by [`frame_seq`]) that this host did not
    /// transmit, until `count` arrived or nothing came for `idle`.
    pub fn recv_test_frames(&self, count: usize, idle: Duration) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < count {
            match self.recv(idle) {
                Some(f) if f.pkttype != PACKET_OUTGOING && frame_seq(&f.data).is_some() => {
                    out.push(f.data)
                }
                Some(_) => {}
                None => break,
            }
        }
        out
    }
}

/// One frame read back from a capture file by `tcpdump -r`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// The length on the wire, as tcpdump prints it.
    pub length: usize,
    /// The bytes, from tcpdump's hex dump (`-xx`).
    pub bytes: Vec<u8>,
}

static CAPTURES: AtomicU32 = AtomicU32::new(0);

/// True if `tcpdump` can be run.
pub fn have_tcpdump() -> bool {
    Command::new("tcpdump")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `tcpdump` writing a capture of one interface of a namespace to a
/// temporary file. Stopped (and the file removed) on drop.
#[derive(Debug)]
pub struct Capture {
    child: Option<Child>,
    path: PathBuf,
}

impl Capture {
    /// Starts capturing the test frames ([`TEST_ETHERTYPE`]) on `ifname`
    /// inside namespace `ns`; tcpdump exits by itself after `count` of
    /// them. Returns once tcpdump is listening. `None` (with a loud
    /// warning) when tcpdump is not installed: the caller's own checks
    /// still run.
    pub fn start(ns: &str, ifname: &str, count: usize) -> Option<Capture> {
        if !have_tcpdump() {
            eprintln!(
                "WARNING: tcpdump is not installed: the capture cross-check of this test \
                 did NOT run (apt-get install tcpdump)"
            );
            return None;
        }
        let path = std::env::temp_dir().join(format!(
            "{ns}-{ifname}-{}-{}.pcap",
            std::process::id(),
            CAPTURES.fetch_add(1, Ordering::Relaxed)
        ));
        let path_str = path.to_str().expect("temporary paths are UTF-8 here");
        // `ip netns exec` execs tcpdump in place, so the child's pid is
        // tcpdump's own and signals reach it.
        let mut child = Command::new("ip")
            .args([
                "netns", "exec", ns, "tcpdump", "-i", ifname, "-n", "-U", "-s", "0",
            ])
            // Not --immediate-mode: libpcap then uses a small ring that
            // drops bursts (31 of 64 frames here); -c ends the capture.
            .args(["-B", "8192", "-c", &count.to_string(), "-w", path_str])
            .args(["ether", "proto", &format!("0x{TEST_ETHERTYPE:04x}")])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run tcpdump: {e}"));
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut said = String::new();
        let listening = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    let found = line.contains("listening on");
                    said.push_str(&line);
                    said.push('\n');
                    if found {
                        break true;
                    }
                }
                _ => break false,
            }
        };
        let mut cap = Capture {
            child: Some(child),
            path,
        };
        assert!(
            listening,
            "tcpdump did not start listening on {ifname}: {said}"
        );
        // Keep draining stderr so tcpdump never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        if cap
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
        {
            panic!("tcpdump exited right after starting: {said}");
        }
        Some(cap)
    }

    /// Waits for tcpdump to exit after its `count` frames (stopping it
    /// after 5 s if fewer came) and reads the capture back with
    /// `tcpdump -r`.
    pub fn finish(mut self) -> Vec<CapturedFrame> {
        if let Some(child) = self.child.as_mut() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        self.stop();
        let out = Command::new("tcpdump")
            .args(["-r"])
            .arg(&self.path)
            .args(["-n", "-e", "-xx"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run tcpdump -r: {e}"));
        assert!(
            out.status.success(),
            "tcpdump -r failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        parse_tcpdump_hex(&String::from_utf8_lossy(&out.stdout))
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT (not SIGKILL) so tcpdump flushes and closes the file;
            // sent with kill(1) to our own child's pid.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Parses `tcpdump -n -e -xx` output: a header line per frame (ending in
/// `length N: ...`) followed by indented `0xOFFS:  hhhh hhhh ...` lines.
pub fn parse_tcpdump_hex(text: &str) -> Vec<CapturedFrame> {
    let mut frames: Vec<CapturedFrame> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("0x") {
            let frame = frames
                .last_mut()
                .unwrap_or_else(|| panic!("hex line before any header: {line}"));
            let (_, hex) = rest
                .split_once(':')
                .unwrap_or_else(|| panic!("bad hex line: {line}"));
            for group in hex.split_whitespace() {
                assert!(group.len() % 2 == 0, "odd hex group {group:?} in {line}");
                for i in (0..group.len()).step_by(2) {
                    frame.bytes.push(
                        u8::from_str_radix(&group[i..i + 2], 16)
                            .unwrap_or_else(|e| panic!("bad hex {group:?}: {e}")),
                    );
                }
            }
        } else if !trimmed.is_empty() {
            // "... ethertype Unknown (0x88b5), length 64: ..."
            let length = line
                .split(", length ")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("no length in tcpdump line: {line}"));
            frames.push(CapturedFrame {
                length,
                bytes: Vec::new(),
            });
        }
    }
    frames
}

#[test]
fn parses_tcpdump_hex_dump() {
    let text = "12:00:00.000001 02:00:5e:10:00:01 > 02:00:5e:10:00:02, ethertype Unknown (0x88b5), length 20: \n\
                \t0x0000:  0200 5e10 0002 0200 5e10 0001 88b5 0000\n\
                \t0x0010:  0007 ab\n";
    let f = parse_tcpdump_hex(text);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].length, 20);
    assert_eq!(f[0].bytes.len(), 19);
    assert_eq!(frame_seq(&f[0].bytes), Some(7));
}

/// The ifindex and MAC of `name` as `ip -j link` reports them.
pub fn link_info(ns: &crate::support::NetNs, name: &str) -> (u32, [u8; 6]) {
    let json = ns.ip(&["-j", "link", "show", "dev", name]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("ip -j link JSON");
    let link = &v[0];
    let ifindex = link["ifindex"].as_u64().expect("ifindex") as u32;
    let mut mac = [0u8; 6];
    let text = link["address"].as_str().expect("address");
    for (m, part) in mac.iter_mut().zip(text.split(':')) {
        *m = u8::from_str_radix(part, 16).expect("hex MAC");
    }
    (ifindex, mac)
}

/// Brings `name` up with IPv6 address generation off (no DAD, router
/// solicitations or MLD reports to confuse the checks).
pub fn quiet_up(ns: &crate::support::NetNs, name: &str) {
    ns.ip(&["link", "set", "dev", name, "addrgenmode", "none"]);
    ns.ip(&["link", "set", "dev", name, "up"]);
}

/// A veth pair `pa`/`pb`, both up; returns their ifindexes.
pub fn veth(ns: &crate::support::NetNs) -> (u32, u32) {
    ns.ip(&["link", "add", "pa", "type", "veth", "peer", "name", "pb"]);
    quiet_up(ns, "pa");
    quiet_up(ns, "pb");
    (link_info(ns, "pa").0, link_info(ns, "pb").0)
}

/// Receives from `rxq` in batches of `batch_size` until `count` frames
/// came or nothing came for `idle`; keeps only test frames.
pub fn recv_test_frames<Q: netdev_core::RxQueueBackend>(
    rxq: &mut Q,
    batch_size: usize,
    count: usize,
    idle: Duration,
) -> Vec<Vec<u8>> {
    let mut batch =
        netdev_core::PacketBatch::new(batch_size, netdev_core::PacketBatch::DEFAULT_SLOT_SIZE);
    let mut out = Vec::new();
    while out.len() < count {
        batch.clear();
        let n = rxq.recv_batch(&mut batch).expect("recv_batch");
        if n == 0 {
            if !rxq.wait(Some(idle)).expect("wait") {
                break;
            }
            continue;
        }
        out.extend(
            batch
                .iter()
                .filter(|p| frame_seq(p.data).is_some())
                .map(|p| p.data.to_vec()),
        );
    }
    out
}

/// Receives into `batch` (without clearing it) until it holds `count`
/// frames; panics if they do not come within a second.
pub fn fill<Q: netdev_core::RxQueueBackend>(
    rxq: &mut Q,
    batch: &mut netdev_core::PacketBatch,
    count: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while batch.len() < count {
        rxq.recv_batch(batch).expect("recv_batch");
        if batch.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                rxq.wait(Some(left)).unwrap(),
                "only {} of {count} frames arrived",
                batch.len()
            );
        }
    }
}

/// Sends every frame, waiting for room when the sender says "try again".
pub fn send_all(send: impl Fn(&[&[u8]]) -> netdev_core::Result<usize>, frames: &[&[u8]]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut sent = 0;
    while sent < frames.len() {
        let n = send(&frames[sent..]).expect("send_batch");
        sent += n;
        if n == 0 {
            assert!(Instant::now() < deadline, "no progress sending");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Asserts two lists of test frames are equal, printing sequence numbers
/// and the first differing frame rather than every byte.
pub fn assert_same_frames(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    let seqs = |v: &[Vec<u8>]| v.iter().map(|f| frame_seq(f)).collect::<Vec<_>>();
    assert_eq!(seqs(got), seqs(want), "{what}: sequence numbers");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            g == w,
            "{what}: frame {i} differs:\n got {g:02x?}\nwant {w:02x?}"
        );
    }
}

/// Test frames `first..first + count`, of lengths 60 to 123 bytes.
pub fn test_frames(first: u32, count: u32) -> Vec<Vec<u8>> {
    (first..first + count)
        .map(|i| test_frame(i, 60 + (i as usize % 64)))
        .collect()
}

/// The frames as slices, for `send_batch`.
pub fn refs(frames: &[Vec<u8>]) -> Vec<&[u8]> {
    frames.iter().map(|f| f.as_slice()).collect()
}

/// A test frame with `tpid`/`tci` pairs pushed after the MAC addresses.
pub fn tagged(seq: u32, len: usize, tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = test_frame(seq, len);
    for &(tpid, tci) in tags.iter().rev() {
        let mut tag = tpid.to_be_bytes().to_vec();
        tag.extend(tci.to_be_bytes());
        f.splice(12..12, tag);
    }
    f
}

/// Tagged and untagged test frames whose outer tag the kernel strips on a
/// veth: 802.1Q (priority 3, VLAN 100), a priority tag (TCI 0 is still a
/// tag), 802.1ad over 802.1Q (only the outer one is stripped), untagged.
pub fn vlan_test_frames() -> [Vec<u8>; 4] {
    [
        tagged(1, 60, &[(0x8100, 0x6064)]),
        tagged(2, 60, &[(0x8100, 0x0000)]),
        tagged(3, 80, &[(0x88a8, 0x00c8), (0x8100, 0x0064)]),
        test_frame(4, 60),
    ]
}
