//! Packet-rate benchmark of the Linux packet paths against a raw `libc`
//! floor measured in the same run.
//!
//! In a fresh network namespace with a veth pair (`ba`/`bb`) and a TAP
//! device (`btap`), for 64-byte frames:
//!
//! - veth transmit: [`PacketTx::send_batch`] of 64 frames per call vs a
//!   raw `sendmmsg(2)` of the same 64 frames with headers built once;
//! - veth receive: [`PacketRxq`] with a 64-slot [`PacketBatch`] vs a raw
//!   `recvmmsg(2)` of 64 messages with headers built once, with and
//!   without `PACKET_AUXDATA` (the control message that carries stripped
//!   VLAN tags, which `PacketRxq` needs; the kernel's per-frame cost of it
//!   is the whole difference between the two floors). The sockets are
//!   bound to `ba` at the same time and filled by the same burst from
//!   `bb`, then drained one after the other (order rotating by round), so
//!   each measures only its own receive path;
//! - veth receive through a `TPACKET_V3` ring: [`PacketRingRxq`] (VLAN
//!   tags from each frame's header, no control message, no system call per
//!   batch) with a 64-slot [`PacketBatch`], bound and drained with the
//!   sockets above, against the same no-auxdata floor. Its ring is made
//!   big enough for the whole burst (as the sockets' buffers are), and
//!   every drain starts a few retire timeouts after the burst, so the
//!   ring's last block has been handed over;
//! - veth receive, whole cost (informative): the rows above time only the
//!   drain, but part of a receiver's cost is paid in the sender's system
//!   call (the veth delivers in the sender's softirq: `packet_rcv` clones
//!   and queues, while a ring's `tpacket_rcv` copies the frame there). So
//!   each receiver is also measured alone (only it bound to `ba`): its
//!   cost is the burst's send time minus the send time with no receiver,
//!   plus its drain time;
//! - lone-frame latency (informative): one frame sent from `bb`, the time
//!   until a sleeping receiver (`wait` then `recv_batch`) has it, for
//!   [`PacketRxq`] and for [`PacketRingRxq`] with its default ring (whose
//!   blocks are handed over at the retire timeout when not full);
//! - tap transmit: [`Tap::send_batch`] vs a raw `write(2)` loop;
//! - tap receive: [`TapRxq`] vs a raw `read(2)` loop, each draining its
//!   own burst sent to the tap (whose queue is made long enough).
//!
//! Prints the median rate (Mpps) of several rounds and ours/floor ratios
//! (goal: at least 0.90). Nothing is asserted: this is a program, not a
//! test. Run as root: `cargo run --release -p netdev-linux --example
//! bench_packet [-- --rounds 7 --frames 200000]`.

// The floor is the best raw libc code: unsafe system calls, each block
// documented as the library's own are.
#![allow(unsafe_code)]

#[cfg(target_os = "linux")]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("bench_packet measures the Linux packet paths; nothing to do on this OS");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use netdev_core::{PacketBatch, RxQueueBackend};
    use netdev_linux::packet::{PacketRxq, PacketTx, Tap, TapRxq};
    use netdev_linux::packet_ring::{PacketRingRxq, RingConfig};

    use super::support::NetNs;

    /// Frame length handed to the APIs (Ethernet header included).
    const FRAME_LEN: usize = 64;
    /// Frames per call, for ours and for the floor.
    const BATCH: usize = 64;
    /// Receive buffer of the drain tests: room for the whole burst.
    const RCVBUF: usize = 256 << 20;
    /// The ring of the drain tests: 512 blocks of 256 KiB (128 MiB). A
    /// block is handed over when full (about 1700 64-byte frames) or 1 ms
    /// after it got its first frame, so a burst needs a block per
    /// millisecond of sending at least: this holds a 100 000-frame burst
    /// sent at 0.2 Mpps or more.
    const RING: RingConfig = RingConfig {
        block_size: 256 << 10,
        block_count: 512,
        retire_timeout: Duration::from_millis(1),
    };
    /// Pause between a burst and its drains: many retire timeouts.
    const SETTLE: Duration = Duration::from_millis(20);
    /// Samples of the lone-frame latency.
    const LATENCY_SAMPLES: usize = 41;

    struct Args {
        rounds: usize,
        frames: usize,
    }

    fn args() -> Args {
        let mut a = Args {
            rounds: 7,
            frames: 200_000,
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let value = it.next().and_then(|v| v.parse().ok());
            match (flag.as_str(), value) {
                ("--rounds", Some(v)) if v > 0 => a.rounds = v,
                ("--frames", Some(v)) if v >= BATCH => a.frames = v,
                _ => {
                    eprintln!("usage: bench_packet [--rounds N] [--frames N (>= {BATCH})]");
                    std::process::exit(2);
                }
            }
        }
        a
    }

    /// 64 distinct 64-byte frames to an address nobody has: the receiving
    /// stack drops them early (as "other host").
    fn frames() -> Vec<Vec<u8>> {
        (0..BATCH)
            .map(|i| {
                let mut f = vec![0u8; FRAME_LEN];
                f[..6].copy_from_slice(&[0x02, 0, 0x5e, 0x10, 0, 2]);
                f[6..12].copy_from_slice(&[0x02, 0, 0x5e, 0x10, 0, 1]);
                f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
                f[14] = i as u8;
                f
            })
            .collect()
    }

    fn mpps(frames: usize, elapsed: Duration) -> f64 {
        frames as f64 / elapsed.as_secs_f64() / 1e6
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    fn ifindex(name: &str) -> u32 {
        nix::net::if_::if_nametoindex(name).unwrap_or_else(|e| panic!("ifindex of {name}: {e}"))
    }

    /// The raw floor: plain libc calls with every header built once.
    mod raw {
        use std::mem::{size_of, zeroed};
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
        use std::ptr;

        /// An `AF_PACKET` raw socket bound to `ifindex` with `protocol`
        /// (network byte order; 0 for send-only), nonblocking.
        pub fn packet_socket(ifindex: u32, protocol: u16) -> OwnedFd {
            // SAFETY: socket(2) takes no pointers.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                    0,
                )
            };
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
            let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = protocol;
            sll.sll_ifindex = ifindex as i32;
            // SAFETY: `sll` is live and its size is passed.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert!(r == 0, "bind: {}", std::io::Error::last_os_error());
            fd
        }

        /// Sets an integer socket option.
        pub fn setsockopt(fd: RawFd, level: i32, name: i32, value: i32) {
            // SAFETY: `value` is live and its size is passed.
            let r = unsafe {
                libc::setsockopt(
                    fd,
                    level,
                    name,
                    &value as *const i32 as *const libc::c_void,
                    size_of::<i32>() as u32,
                )
            };
            assert!(r == 0, "setsockopt: {}", std::io::Error::last_os_error());
        }

        /// `mmsghdr`s and `iovec`s pointing at fixed buffers, built once.
        pub struct Mmsg {
            hdrs: Vec<libc::mmsghdr>,
            _iovs: Vec<libc::iovec>,
            bufs: Vec<u8>,
            _ctrl: Vec<u64>,
            ctrl_len: usize,
        }

        impl Mmsg {
            /// For sending: the frames copied into one buffer.
            pub fn for_send(frames: &[Vec<u8>]) -> Mmsg {
                let len = frames[0].len();
                let bufs: Vec<u8> = frames.iter().flatten().copied().collect();
                Mmsg::build(bufs, frames.len(), len, 0)
            }

            /// For receiving: `n` slots of `slot` bytes and, if `ctrl` is
            /// not 0, that many bytes of control buffer per message.
            pub fn for_recv(n: usize, slot: usize, ctrl: usize) -> Mmsg {
                Mmsg::build(vec![0; n * slot], n, slot, ctrl)
            }

            fn build(mut bufs: Vec<u8>, n: usize, slot: usize, ctrl: usize) -> Mmsg {
                let mut ctrl_buf = vec![0u64; n * ctrl.div_ceil(8)];
                let mut iovs: Vec<libc::iovec> = (0..n)
                    .map(|i| libc::iovec {
                        // In bounds: `bufs` holds `n * slot` bytes.
                        iov_base: bufs[i * slot..].as_mut_ptr() as *mut libc::c_void,
                        iov_len: slot,
                    })
                    .collect();
                let hdrs = (0..n)
                    .map(|i| {
                        // SAFETY: mmsghdr is plain old data; all-zero is valid.
                        let mut h: libc::mmsghdr = unsafe { zeroed() };
                        h.msg_hdr.msg_iov = &mut iovs[i];
                        h.msg_hdr.msg_iovlen = 1;
                        if ctrl > 0 {
                            h.msg_hdr.msg_control =
                                ctrl_buf[i * ctrl.div_ceil(8)..].as_mut_ptr() as *mut libc::c_void;
                            h.msg_hdr.msg_controllen = ctrl as _;
                        }
                        h
                    })
                    .collect();
                Mmsg {
                    hdrs,
                    _iovs: iovs,
                    bufs,
                    _ctrl: ctrl_buf,
                    ctrl_len: ctrl,
                }
            }

            /// Sends the batch again and again until `total` frames went
            /// out; waits with poll when the socket is full.
            pub fn send_loop(&mut self, fd: RawFd, total: usize) -> usize {
                let n = self.hdrs.len();
                let mut sent = 0;
                while sent < total {
                    let want = n.min(total - sent);
                    // SAFETY: `hdrs[..want]` point at `_iovs` and `bufs`,
                    // owned by `self` and live; the kernel only reads them.
                    let r = unsafe {
                        libc::sendmmsg(fd, self.hdrs.as_mut_ptr(), want as u32, libc::MSG_DONTWAIT)
                    };
                    if r > 0 {
                        sent += r as usize;
                    } else {
                        let e = std::io::Error::last_os_error();
                        match e.raw_os_error() {
                            Some(libc::EAGAIN) | Some(libc::ENOBUFS) => poll_out(fd),
                            Some(libc::EINTR) => {}
                            _ => panic!("sendmmsg: {e}"),
                        }
                    }
                }
                sent
            }

            /// Receives until the socket is empty; returns the count.
            pub fn recv_drain(&mut self, fd: RawFd) -> usize {
                let n = self.hdrs.len();
                let mut got = 0;
                loop {
                    // SAFETY: `hdrs` point at live `_iovs`/`bufs`/`_ctrl` owned by
                    // `self`; the kernel writes at most iov_len/msg_controllen.
                    let r = unsafe {
                        libc::recvmmsg(
                            fd,
                            self.hdrs.as_mut_ptr(),
                            n as u32,
                            libc::MSG_DONTWAIT,
                            ptr::null_mut(),
                        )
                    };
                    if r > 0 {
                        got += r as usize;
                        std::hint::black_box(&self.bufs);
                        if self.ctrl_len > 0 {
                            // Reset what the kernel overwrote, as any real
                            // receiver of control data must.
                            for h in &mut self.hdrs[..r as usize] {
                                h.msg_hdr.msg_controllen = self.ctrl_len as _;
                            }
                        }
                        continue;
                    }
                    let e = std::io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) => return got,
                        Some(libc::EINTR) => {}
                        _ => panic!("recvmmsg: {e}"),
                    }
                }
            }
        }

        fn poll_out(fd: RawFd) {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one live pollfd, count 1.
            unsafe { libc::poll(&mut p, 1, 100) };
        }

        /// Writes `frame` `total` times.
        pub fn write_loop(fd: RawFd, frames: &[Vec<u8>], total: usize) -> usize {
            let mut sent = 0;
            while sent < total {
                let f = &frames[sent % frames.len()];
                // SAFETY: `f` is a live buffer of `f.len()` bytes.
                let r = unsafe { libc::write(fd, f.as_ptr() as *const libc::c_void, f.len()) };
                if r >= 0 {
                    sent += 1;
                } else {
                    let e = std::io::Error::last_os_error();
                    match e.raw_os_error() {
                        Some(libc::EAGAIN) => poll_out(fd),
                        Some(libc::EINTR) => {}
                        _ => panic!("write: {e}"),
                    }
                }
            }
            sent
        }

        /// Reads frames until none is left; returns the count.
        pub fn read_drain(fd: RawFd, buf: &mut [u8]) -> usize {
            let mut got = 0;
            loop {
                // SAFETY: `buf` is live and exclusively borrowed; the kernel
                // writes at most `buf.len()` bytes.
                let r = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
                if r > 0 {
                    got += 1;
                    continue;
                }
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) => return got,
                    Some(libc::EINTR) => {}
                    _ => panic!("read: {e}"),
                }
            }
        }
    }

    /// Control bytes for one `PACKET_AUXDATA` message (CMSG_SPACE of 20).
    const AUX_CTRL: usize = 64;

    fn eth_p_all() -> u16 {
        (libc::ETH_P_ALL as u16).to_be()
    }

    /// Ours: sends `total` frames, 64 per call.
    fn ours_send(
        tx: impl Fn(&[&[u8]]) -> usize,
        wait: impl Fn(),
        refs: &[&[u8]],
        total: usize,
    ) -> usize {
        let mut sent = 0;
        while sent < total {
            let want = refs.len().min(total - sent);
            let n = tx(&refs[..want]);
            if n == 0 {
                wait();
            }
            sent += n;
        }
        sent
    }

    /// Ours: receives until the queue is empty.
    fn ours_drain<Q: RxQueueBackend>(q: &mut Q, batch: &mut PacketBatch) -> usize {
        let mut got = 0;
        loop {
            batch.clear();
            let n = q.recv_batch(batch).expect("recv_batch");
            if n == 0 {
                return got;
            }
            std::hint::black_box(batch.get(0));
            got += n;
        }
    }

    /// One line of the table: medians and the ratio.
    struct Row {
        name: &'static str,
        ours: Vec<f64>,
        floor: Vec<f64>,
        floor_name: &'static str,
    }

    impl Row {
        fn new(name: &'static str, floor_name: &'static str) -> Row {
            Row {
                name,
                ours: Vec::new(),
                floor: Vec::new(),
                floor_name,
            }
        }
    }

    pub fn main() {
        let args = args();
        let ns = NetNs::new();
        ns.ip(&["link", "add", "ba", "type", "veth", "peer", "name", "bb"]);
        for dev in ["ba", "bb"] {
            ns.ip(&["link", "set", "dev", dev, "addrgenmode", "none"]);
            ns.ip(&["link", "set", "dev", dev, "up"]);
        }
        let entered = ns.enter();
        let tap = Arc::new(Tap::create("btap").expect("Tap::create"));
        ns.ip(&["link", "set", "dev", "btap", "addrgenmode", "none"]);
        // Long enough to hold a whole receive burst.
        let tap_burst = args.frames.min(100_000);
        ns.ip(&[
            "link",
            "set",
            "dev",
            "btap",
            "txqueuelen",
            &tap_burst.to_string(),
        ]);
        ns.ip(&["link", "set", "dev", "btap", "up"]);
        let (ia, ib, it) = (ifindex("ba"), ifindex("bb"), ifindex("btap"));

        let frames = frames();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let n = args.frames;
        let mut rows = Vec::new();

        // --- veth transmit.
        let mut row = Row::new("veth tx", "raw sendmmsg x64");
        let mut row_bypass = Row::new(
            "veth tx",
            "raw sendmmsg x64 + PACKET_QDISC_BYPASS (skips qdisc, tc, taps)",
        );
        {
            let tx = PacketTx::open(ia).expect("PacketTx::open");
            let raw_fd = raw::packet_socket(ia, 0);
            let bypass_fd = raw::packet_socket(ia, 0);
            use std::os::fd::AsRawFd;
            raw::setsockopt(
                bypass_fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                1,
            );
            let mut raw_mmsg = raw::Mmsg::for_send(&frames);
            for round in 0..args.rounds {
                // Informative only: not the same service (tcpdump on the
                // sender and tc rules no longer see the frames).
                let t = Instant::now();
                let sent = raw_mmsg.send_loop(bypass_fd.as_raw_fd(), n);
                row_bypass.floor.push(mpps(sent, t.elapsed()));
                for pass in 0..2 {
                    if (round + pass) % 2 == 0 {
                        let t = Instant::now();
                        let sent = ours_send(
                            |f| tx.send_batch(f).expect("send_batch"),
                            || {
                                tx.send_wait(Some(Duration::from_millis(100))).unwrap();
                            },
                            &refs,
                            n,
                        );
                        row.ours.push(mpps(sent, t.elapsed()));
                    } else {
                        let t = Instant::now();
                        let sent = raw_mmsg.send_loop(raw_fd.as_raw_fd(), n);
                        row.floor.push(mpps(sent, t.elapsed()));
                    }
                }
            }
        }
        row_bypass.ours = row.ours.clone();
        rows.push(row);
        rows.push(row_bypass);

        // --- veth receive (drain of a burst queued on both sockets).
        let mut row = Row::new("veth rx", "raw recvmmsg x64, no auxdata (VLAN tags lost)");
        let mut row_aux = Row::new(
            "veth rx",
            "raw recvmmsg x64 + PACKET_AUXDATA (same information)",
        );
        let mut row_ring = Row::new(
            "veth rx (TPACKET_V3 ring)",
            "raw recvmmsg x64, no auxdata (VLAN tags lost)",
        );
        let mut row_novlan = Row::new(
            "veth rx (open_without_vlan)",
            "raw recvmmsg x64, no auxdata (same information)",
        );
        let burst = n.min(100_000);
        let mut short = Vec::new();
        {
            use std::os::fd::AsRawFd;
            let mut rxq = PacketRxq::open(ia).expect("PacketRxq::open");
            rxq.set_recv_buffer(RCVBUF).expect("rcvbuf");
            let mut novlan = PacketRxq::open_without_vlan(ia).expect("open_without_vlan");
            novlan.set_recv_buffer(RCVBUF).expect("rcvbuf");
            let raw_rx = raw::packet_socket(ia, eth_p_all());
            raw::setsockopt(
                raw_rx.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                RCVBUF as i32,
            );
            let raw_aux = raw::packet_socket(ia, eth_p_all());
            raw::setsockopt(
                raw_aux.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                RCVBUF as i32,
            );
            raw::setsockopt(
                raw_aux.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_AUXDATA,
                1,
            );
            let mut raw_mmsg = raw::Mmsg::for_recv(BATCH, PacketBatch::DEFAULT_SLOT_SIZE, 0);
            let mut aux_mmsg = raw::Mmsg::for_recv(BATCH, PacketBatch::DEFAULT_SLOT_SIZE, AUX_CTRL);
            let mut ring = PacketRingRxq::open_with(ia, RING).expect("PacketRingRxq::open");
            let mut batch = PacketBatch::new(BATCH, PacketBatch::DEFAULT_SLOT_SIZE);
            let sender = raw::packet_socket(ib, 0);
            let mut send_mmsg = raw::Mmsg::for_send(&frames);
            for round in 0..args.rounds {
                rxq.drain().unwrap();
                novlan.drain().unwrap();
                raw_mmsg.recv_drain(raw_rx.as_raw_fd());
                aux_mmsg.recv_drain(raw_aux.as_raw_fd());
                std::thread::sleep(SETTLE);
                ring.drain().unwrap();
                send_mmsg.send_loop(sender.as_raw_fd(), burst);
                std::thread::sleep(SETTLE);
                let mut measure = |which: usize| {
                    let t = Instant::now();
                    let got = match which {
                        0 => ours_drain(&mut rxq, &mut batch),
                        1 => raw_mmsg.recv_drain(raw_rx.as_raw_fd()),
                        2 => aux_mmsg.recv_drain(raw_aux.as_raw_fd()),
                        3 => ours_drain(&mut ring, &mut batch),
                        _ => ours_drain(&mut novlan, &mut batch),
                    };
                    let rate = mpps(got, t.elapsed());
                    if got < burst {
                        short.push((which, got));
                    }
                    rate
                };
                // Rotate the order so none always drains first.
                let mut rates = [0.0; 5];
                for k in 0..5 {
                    let which = (k + round) % 5;
                    rates[which] = measure(which);
                }
                row.ours.push(rates[0]);
                row.floor.push(rates[1]);
                row_aux.ours.push(rates[0]);
                row_aux.floor.push(rates[2]);
                row_ring.ours.push(rates[3]);
                row_ring.floor.push(rates[1]);
                row_novlan.ours.push(rates[4]);
                row_novlan.floor.push(rates[1]);
            }
        }
        rows.push(row);
        rows.push(row_aux);
        rows.push(row_novlan);
        rows.push(row_ring);

        // --- veth receive, whole cost, one receiver at a time.
        let names = [
            "PacketRxq",
            "raw recvmmsg x64, no auxdata",
            "raw recvmmsg x64 + PACKET_AUXDATA",
            "PacketRingRxq",
        ];
        let mut whole: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        {
            use std::os::fd::AsRawFd;
            let mut batch = PacketBatch::new(BATCH, PacketBatch::DEFAULT_SLOT_SIZE);
            let mut raw_mmsg = raw::Mmsg::for_recv(BATCH, PacketBatch::DEFAULT_SLOT_SIZE, 0);
            let mut aux_mmsg = raw::Mmsg::for_recv(BATCH, PacketBatch::DEFAULT_SLOT_SIZE, AUX_CTRL);
            let sender = raw::packet_socket(ib, 0);
            let mut send_mmsg = raw::Mmsg::for_send(&frames);
            let send_time = |send_mmsg: &mut raw::Mmsg| {
                std::thread::sleep(SETTLE);
                let t = Instant::now();
                send_mmsg.send_loop(sender.as_raw_fd(), burst);
                let e = t.elapsed();
                std::thread::sleep(SETTLE);
                e
            };
            for round in 0..args.rounds {
                // No receiver: the sender's own cost.
                let bare = send_time(&mut send_mmsg);
                for k in 0..names.len() {
                    let which = (k + round) % names.len();
                    let raw_socket = |aux: bool| {
                        let fd = raw::packet_socket(ia, eth_p_all());
                        raw::setsockopt(
                            fd.as_raw_fd(),
                            libc::SOL_SOCKET,
                            libc::SO_RCVBUFFORCE,
                            RCVBUF as i32,
                        );
                        if aux {
                            raw::setsockopt(
                                fd.as_raw_fd(),
                                libc::SOL_PACKET,
                                libc::PACKET_AUXDATA,
                                1,
                            );
                        }
                        fd
                    };
                    let (send, got, drain) = match which {
                        0 => {
                            let mut q = PacketRxq::open(ia).expect("PacketRxq::open");
                            q.set_recv_buffer(RCVBUF).expect("rcvbuf");
                            let send = send_time(&mut send_mmsg);
                            let t = Instant::now();
                            (send, ours_drain(&mut q, &mut batch), t.elapsed())
                        }
                        1 | 2 => {
                            let fd = raw_socket(which == 2);
                            let m = if which == 1 {
                                &mut raw_mmsg
                            } else {
                                &mut aux_mmsg
                            };
                            let send = send_time(&mut send_mmsg);
                            let t = Instant::now();
                            (send, m.recv_drain(fd.as_raw_fd()), t.elapsed())
                        }
                        _ => {
                            let mut q = PacketRingRxq::open_with(ia, RING).expect("ring");
                            let send = send_time(&mut send_mmsg);
                            let t = Instant::now();
                            (send, ours_drain(&mut q, &mut batch), t.elapsed())
                        }
                    };
                    if got < burst {
                        short.push((20 + which, got));
                    }
                    let cost = send.saturating_sub(bare) + drain;
                    whole[which].push(mpps(got, cost));
                }
            }
        }

        // --- lone-frame latency (informative).
        let latency = {
            use std::os::fd::AsRawFd;
            let mut rxq = PacketRxq::open(ia).expect("PacketRxq::open");
            let mut ring = PacketRingRxq::open(ia).expect("PacketRingRxq::open");
            let mut batch = PacketBatch::new(BATCH, PacketBatch::DEFAULT_SLOT_SIZE);
            let sender = raw::packet_socket(ib, 0);
            let mut send_mmsg = raw::Mmsg::for_send(&frames);
            let mut lone = |q: &mut dyn RxQueueBackend, batch: &mut PacketBatch| {
                q.drain().unwrap();
                let t = Instant::now();
                send_mmsg.send_loop(sender.as_raw_fd(), 1);
                loop {
                    batch.clear();
                    if q.recv_batch(batch).expect("recv_batch") > 0 {
                        break t.elapsed();
                    }
                    assert!(q.wait(Some(Duration::from_secs(1))).unwrap(), "frame lost");
                }
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for i in 0..LATENCY_SAMPLES {
                // Varying gaps, so the frames meet the retire timer at
                // varying phases.
                std::thread::sleep(Duration::from_micros(1000 + 137 * i as u64));
                a.push(lone(&mut rxq, &mut batch).as_secs_f64() * 1e6);
                std::thread::sleep(Duration::from_micros(1000 + 137 * i as u64));
                b.push(lone(&mut ring, &mut batch).as_secs_f64() * 1e6);
            }
            let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
            (median(a.clone()), max(&a), median(b.clone()), max(&b))
        };

        // --- tap transmit (write into the fd).
        let mut row = Row::new("tap tx", "raw write(2) loop");
        {
            use std::os::fd::AsRawFd;
            for round in 0..args.rounds {
                for pass in 0..2 {
                    if (round + pass) % 2 == 0 {
                        let t = Instant::now();
                        let sent = ours_send(
                            |f| tap.send_batch(f).expect("tap send_batch"),
                            || {
                                tap.send_wait(Some(Duration::from_millis(100))).unwrap();
                            },
                            &refs,
                            n,
                        );
                        row.ours.push(mpps(sent, t.elapsed()));
                    } else {
                        let t = Instant::now();
                        let sent = raw::write_loop(tap.as_raw_fd(), &frames, n);
                        row.floor.push(mpps(sent, t.elapsed()));
                    }
                }
            }
        }
        rows.push(row);

        // --- tap receive (drain of a burst sent on the device).
        let mut row = Row::new("tap rx", "raw read(2) loop");
        {
            use std::os::fd::AsRawFd;
            let mut rxq = TapRxq::new(Arc::clone(&tap));
            let mut batch = PacketBatch::new(BATCH, PacketBatch::DEFAULT_SLOT_SIZE);
            let mut buf = vec![0u8; PacketBatch::DEFAULT_SLOT_SIZE];
            let sender = raw::packet_socket(it, 0);
            let mut send_mmsg = raw::Mmsg::for_send(&frames);
            for round in 0..args.rounds {
                for pass in 0..2 {
                    rxq.drain().unwrap();
                    send_mmsg.send_loop(sender.as_raw_fd(), tap_burst);
                    let ours = (round + pass) % 2 == 0;
                    let t = Instant::now();
                    let got = if ours {
                        ours_drain(&mut rxq, &mut batch)
                    } else {
                        raw::read_drain(tap.as_raw_fd(), &mut buf)
                    };
                    let rate = mpps(got, t.elapsed());
                    if got < tap_burst {
                        short.push((if ours { 10 } else { 11 }, got));
                    }
                    if ours {
                        row.ours.push(rate);
                    } else {
                        row.floor.push(rate);
                    }
                }
            }
        }
        rows.push(row);
        drop(entered);

        println!(
            "bench_packet: {FRAME_LEN}-byte frames, batches of {BATCH}, median of {} rounds; \
             tx {n} frames per round, rx bursts of {burst} (veth) / {tap_burst} (tap)",
            args.rounds
        );
        println!(
            "{:<26} {:>12} {:>12} {:>7}  floor",
            "path", "ours Mpps", "floor Mpps", "ratio"
        );
        for r in &rows {
            let (o, f) = (median(r.ours.clone()), median(r.floor.clone()));
            println!(
                "{:<26} {:>12.3} {:>12.3} {:>7.2}  {}",
                r.name,
                o,
                f,
                o / f,
                r.floor_name
            );
        }
        let floor = median(whole[1].clone());
        println!(
            "veth rx whole cost (send time with only this receiver - send time with none + drain), \
             Mpps and ratio to the no-auxdata floor:"
        );
        for (name, v) in names.iter().zip(&whole) {
            let m = median(v.clone());
            println!("  {name:<36} {m:>8.3} {:>7.2}", m / floor);
        }
        println!(
            "lone-frame latency, {LATENCY_SAMPLES} samples (send to received by a sleeping \
             receiver): PacketRxq median {:.0} us, max {:.0} us; PacketRingRxq (default ring, \
             {} ms retire timeout) median {:.0} us, max {:.0} us",
            latency.0,
            latency.1,
            RingConfig::default().retire_timeout.as_millis(),
            latency.2,
            latency.3
        );
        if !short.is_empty() {
            println!(
                "note: some drains got fewer frames than sent (receive queue overflow): {short:?}"
            );
        }
    }
}
