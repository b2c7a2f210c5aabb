//! Packet-rate benchmark of the Linux packet paths against raw `libc`
//! floors measured in the same run (interleaved rounds, medians, ratios).
//!
//! In a fresh network namespace with a veth pair (`ba`/`bb`) and a TAP
//! device (`btap`), for 64-byte frames:
//!
//! - veth transmit, public path: `Netdev::send_batch` on `ba` opened
//!   through a [`Registry`] (trait objects and presence checks included),
//!   64 and 32 (Open vSwitch's burst) frames per call, against a raw
//!   `sendmmsg(2)` of the same frames with headers built once; the direct
//!   [`PacketTx`] as an extra line;
//! - veth receive, streaming: a sender thread on one core sends from `bb`
//!   as fast as it can for a fixed time (raw `sendmmsg`, the same for
//!   every receiver) while a receiver thread pinned to the other core
//!   takes the frames off `ba`, one receiver at a time. Two
//!   configurations: the kernel's receive work (the veth's backlog, where
//!   the packet socket's hook copies or queues each frame) on the sender's
//!   core, and on the receiver's core (RPS steers `ba`'s queue there).
//!   Rows: the public path (`Netdev::open_rx` → `RxQueue::recv_batch`,
//!   `RxQueue::wait` when empty) for each [`RxMethod`], against the best
//!   raw method of the run (`TPACKET_V2` ring, `TPACKET_V3` ring,
//!   `recvmmsg` with `MSG_WAITFORONE` on a blocking socket, batches of 64
//!   and 32); the direct queues as extra lines. Each line gives the rate
//!   (frames received per second until the last one), the frames lost
//!   (sent minus received), the receiver thread's CPU use and frames per
//!   receive call;
//! - lone-frame latency: a receiver sleeping in `wait` (raw: `poll` or a
//!   blocking `recvmmsg`) on one core, one frame sent from the other; the
//!   time from before the send to the receive returning it;
//! - tap transmit and receive (internal [`Tap`]/[`TapRxq`] against raw
//!   `write(2)`/`read(2)` loops).
//!
//! Prints medians of several rounds and ours/floor ratios (goal: at least
//! 0.90). Nothing is asserted: this is a program, not a test. Run as root
//! on an otherwise idle machine with two cores or more: `cargo run
//! --release -p netdev-linux --example bench_packet [-- --rounds 5 --ms
//! 400 --frames 200000]`.

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
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};

    use netdev_core::{Netdev, Offload, PacketBatch, Registry, RxQueue, RxQueueBackend};
    use netdev_linux::packet::{PacketRxq, PacketTx, Tap, TapRxq};
    use netdev_linux::packet_adaptive::PacketAdaptiveRxq;
    use netdev_linux::packet_ring_v2::PacketRingV2Rxq;
    use netdev_linux::packet_rx::RxMethod;
    use netdev_linux::{SystemClass, SystemOptions};

    use super::support::NetNs;

    /// Frame length handed to the APIs (Ethernet header included).
    const FRAME_LEN: usize = 64;
    /// Frames per call, for ours and for the floor.
    const BATCH: usize = 64;
    /// Open vSwitch's receive and send burst.
    const OVS_BATCH: usize = 32;
    /// The receiver's core, and the sender's.
    const RX_CPU: usize = 0;
    const TX_CPU: usize = 1;
    /// How long a receiver sleeps in one wait.
    const WAIT: Duration = Duration::from_millis(10);
    /// A receiver stops once the sender is done and nothing came for this.
    const QUIET: Duration = Duration::from_millis(50);
    /// Frames of the flood before a lone-frame latency measured after one.
    const FLOOD: usize = 200_000;
    /// Samples of the lone-frame latency.
    const LATENCY_SAMPLES: usize = 41;

    struct Args {
        rounds: usize,
        ms: u64,
        frames: usize,
    }

    fn args() -> Args {
        let mut a = Args {
            rounds: 5,
            ms: 400,
            frames: 200_000,
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let value = it.next().and_then(|v| v.parse::<u64>().ok());
            match (flag.as_str(), value) {
                ("--rounds", Some(v)) if v > 0 => a.rounds = v as usize,
                ("--ms", Some(v)) if v >= 50 => a.ms = v,
                ("--frames", Some(v)) if v as usize >= BATCH => a.frames = v as usize,
                _ => {
                    eprintln!(
                        "usage: bench_packet [--rounds N] [--ms N (>= 50)] [--frames N (>= {BATCH})]"
                    );
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
        frames as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6
    }

    fn median(mut v: Vec<f64>) -> f64 {
        if v.is_empty() {
            return f64::NAN;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    fn ifindex(name: &str) -> u32 {
        nix::net::if_::if_nametoindex(name).unwrap_or_else(|e| panic!("ifindex of {name}: {e}"))
    }

    /// Pins the calling thread to `cpu`.
    fn pin(cpu: usize) {
        let mut set = nix::sched::CpuSet::new();
        set.set(cpu).expect("cpu index");
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
            .unwrap_or_else(|e| panic!("sched_setaffinity({cpu}): {e}"));
    }

    /// Steers the receive work of `dev`'s queue to the cores of `mask`
    /// (hexadecimal; "0" turns RPS off). Through `ip netns exec`, which
    /// mounts the namespace's own /sys.
    fn set_rps(ns: &NetNs, dev: &str, mask: &str) {
        let path = format!("/sys/class/net/{dev}/queues/rx-0/rps_cpus");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "tee", &path])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("ip netns exec tee");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(mask.as_bytes())
            .expect("write mask");
        assert!(child.wait().expect("tee").success(), "setting {path}");
    }

    /// The raw floor: plain libc calls with every header built once.
    mod raw {
        use std::mem::{size_of, zeroed};
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
        use std::ptr;

        /// An `AF_PACKET` raw socket bound to `ifindex` with `protocol`
        /// (network byte order; 0 for send-only), nonblocking.
        pub fn packet_socket(ifindex: u32, protocol: u16) -> OwnedFd {
            let fd = unbound_socket(libc::SOCK_NONBLOCK);
            bind(&fd, ifindex, protocol);
            fd
        }

        /// A blocking `AF_PACKET` receive socket on `ifindex` whose
        /// receives give up after `timeout` (`SO_RCVTIMEO`).
        pub fn blocking_packet_socket(ifindex: u32, timeout: std::time::Duration) -> OwnedFd {
            let fd = unbound_socket(0);
            let tv = libc::timeval {
                tv_sec: timeout.as_secs() as libc::time_t,
                tv_usec: timeout.subsec_micros() as libc::suseconds_t,
            };
            // SAFETY: `tv` is live and its size is passed.
            let r = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    &tv as *const libc::timeval as *const libc::c_void,
                    size_of::<libc::timeval>() as u32,
                )
            };
            assert!(r == 0, "SO_RCVTIMEO: {}", std::io::Error::last_os_error());
            bind(&fd, ifindex, super::eth_p_all());
            fd
        }

        /// An unbound `AF_PACKET` raw socket (protocol 0: receives nothing
        /// until bound) with extra `flags`.
        pub fn unbound_socket(flags: i32) -> OwnedFd {
            // SAFETY: socket(2) takes no pointers.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC | flags,
                    0,
                )
            };
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            unsafe { OwnedFd::from_raw_fd(fd) }
        }

        /// Binds `fd` to `ifindex` and `protocol` (network byte order).
        pub fn bind(fd: &OwnedFd, ifindex: u32, protocol: u16) {
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

            /// One `recvmmsg(2)` of up to `n` messages with
            /// `MSG_WAITFORONE` on a blocking socket: sleeps until the
            /// first frame (or the socket's timeout), takes what else is
            /// waiting. Returns the count, 0 on timeout.
            pub fn recv_wait(&mut self, fd: RawFd, n: usize) -> usize {
                let n = n.min(self.hdrs.len());
                // SAFETY: `hdrs[..n]` point at live `_iovs`/`bufs` owned by
                // `self`; the kernel writes at most iov_len bytes to each.
                let r = unsafe {
                    libc::recvmmsg(
                        fd,
                        self.hdrs.as_mut_ptr(),
                        n as u32,
                        libc::MSG_WAITFORONE,
                        ptr::null_mut(),
                    )
                };
                if r > 0 {
                    std::hint::black_box(&self.bufs[..FRAME_BYTES]);
                    return r as usize;
                }
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EINTR) => 0,
                    _ => panic!("recvmmsg: {e}"),
                }
            }
        }

        /// Bytes of a received frame the floors touch.
        const FRAME_BYTES: usize = 64;

        /// Waits up to `ms` milliseconds for `fd` to poll readable.
        pub fn poll_in(fd: RawFd, ms: i32) {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one live pollfd, count 1.
            unsafe { libc::poll(&mut p, 1, ms) };
        }

        /// CPU time the calling thread used so far.
        pub fn thread_cpu() -> std::time::Duration {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a live timespec the kernel fills.
            let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            assert!(r == 0, "clock_gettime: {}", std::io::Error::last_os_error());
            std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
        }

        /// A raw receive ring, `TPACKET_V2` (one frame per slot) or
        /// `TPACKET_V3` (blocks of frames), read in place: the floor of
        /// what a ring reader costs (it reads each header, touches the
        /// frame and hands the slot back).
        pub struct Ring {
            fd: OwnedFd,
            base: *mut u8,
            len: usize,
            /// Bytes per slot: a frame (V2) or a block (V3).
            slot: usize,
            nr: usize,
            next: usize,
            v3: bool,
        }

        // SAFETY: the mapping belongs to this value alone and is only
        // touched through `&mut self`.
        unsafe impl Send for Ring {}

        impl Ring {
            /// A `TPACKET_V2` ring of `frames` slots of 2048 bytes.
            pub fn v2(ifindex: u32, frames: usize) -> Ring {
                let req = libc::tpacket_req {
                    tp_block_size: 4096,
                    tp_block_nr: (frames / 2) as u32,
                    tp_frame_size: 2048,
                    tp_frame_nr: frames as u32,
                };
                Ring::open(
                    ifindex,
                    libc::tpacket_versions::TPACKET_V2,
                    &req,
                    2048,
                    frames,
                )
            }

            /// A `TPACKET_V3` ring of `blocks` blocks of 64 KiB with a 1 ms
            /// retire timeout (the library's default ring).
            pub fn v3(ifindex: u32, blocks: usize) -> Ring {
                let req = libc::tpacket_req3 {
                    tp_block_size: 64 << 10,
                    tp_block_nr: blocks as u32,
                    tp_frame_size: 2048,
                    tp_frame_nr: (blocks * 32) as u32,
                    tp_retire_blk_tov: 1,
                    tp_sizeof_priv: 0,
                    tp_feature_req_word: 0,
                };
                Ring::open(
                    ifindex,
                    libc::tpacket_versions::TPACKET_V3,
                    &req,
                    64 << 10,
                    blocks,
                )
            }

            fn open<T>(
                ifindex: u32,
                version: libc::tpacket_versions,
                req: &T,
                slot: usize,
                nr: usize,
            ) -> Ring {
                let fd = unbound_socket(libc::SOCK_NONBLOCK);
                setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_VERSION,
                    version as i32,
                );
                // SAFETY: `req` is live and its size is passed.
                let r = unsafe {
                    libc::setsockopt(
                        fd.as_raw_fd(),
                        libc::SOL_PACKET,
                        libc::PACKET_RX_RING,
                        req as *const T as *const libc::c_void,
                        size_of::<T>() as u32,
                    )
                };
                assert!(
                    r == 0,
                    "PACKET_RX_RING: {}",
                    std::io::Error::last_os_error()
                );
                let len = slot * nr;
                // SAFETY: a fresh shared mapping of the socket's ring, at an
                // address the kernel picks; checked below.
                let base = unsafe {
                    libc::mmap(
                        ptr::null_mut(),
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_SHARED,
                        fd.as_raw_fd(),
                        0,
                    )
                };
                assert!(
                    base != libc::MAP_FAILED,
                    "mmap: {}",
                    std::io::Error::last_os_error()
                );
                bind(&fd, ifindex, super::eth_p_all());
                Ring {
                    fd,
                    base: base.cast(),
                    len,
                    slot,
                    nr,
                    next: 0,
                    v3: version == libc::tpacket_versions::TPACKET_V3,
                }
            }

            pub fn fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }

            /// The status word of slot `i`: `tp_status` of a V2 frame,
            /// `block_status` (offset 8) of a V3 block.
            fn status(&self, i: usize) -> &std::sync::atomic::AtomicU32 {
                let off = if self.v3 { 8 } else { 0 };
                // `i < nr`, so the word lies in the page-aligned mapping at
                // a multiple of 4; kernel and reader access it atomically.
                // SAFETY: in bounds, aligned, only accessed atomically.
                unsafe { &*self.base.add(i * self.slot + off).cast() }
            }

            /// Reads the frames ready now, up to `max` (V2; a V3 ring reads
            /// whole blocks), and returns how many.
            pub fn recv(&mut self, max: usize) -> usize {
                use std::sync::atomic::Ordering;
                let mut n = 0;
                while n < max {
                    let st = self.status(self.next);
                    if st.load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                        break;
                    }
                    // SAFETY: the slot is user space's until released
                    // below; it lies inside the mapping.
                    let s = unsafe {
                        std::slice::from_raw_parts(self.base.add(self.next * self.slot), self.slot)
                    };
                    let u32_at = |o: usize| u32::from_ne_bytes(s[o..o + 4].try_into().unwrap());
                    if self.v3 {
                        // tpacket_block_desc: num_pkts at 12, first at 16;
                        // tpacket3_hdr: next_offset 0, snaplen 12, mac 24.
                        let mut off = u32_at(16) as usize;
                        for _ in 0..u32_at(12) {
                            let mac = u16::from_ne_bytes(s[off + 24..off + 26].try_into().unwrap());
                            let snap = u32_at(off + 12) as usize;
                            let start = off + mac as usize;
                            std::hint::black_box(&s[start..start + snap.min(FRAME_BYTES)]);
                            off += u32_at(off) as usize;
                            n += 1;
                        }
                    } else {
                        // tpacket2_hdr: snaplen at 8, mac at 12.
                        let mac = u16::from_ne_bytes(s[12..14].try_into().unwrap()) as usize;
                        let snap = u32_at(8) as usize;
                        std::hint::black_box(&s[mac..mac + snap.min(FRAME_BYTES)]);
                        n += 1;
                    }
                    st.store(libc::TP_STATUS_KERNEL, Ordering::Release);
                    self.next = (self.next + 1) % self.nr;
                }
                n
            }

            /// True if a slot is ready.
            pub fn ready(&self) -> bool {
                self.status(self.next)
                    .load(std::sync::atomic::Ordering::Acquire)
                    & libc::TP_STATUS_USER
                    != 0
            }
        }

        impl Drop for Ring {
            fn drop(&mut self) {
                // SAFETY: exactly the mapping made in `open`; no borrow of
                // it outlives `self`.
                unsafe { libc::munmap(self.base.cast(), self.len) };
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

    fn eth_p_all() -> u16 {
        (libc::ETH_P_ALL as u16).to_be()
    }

    /// Ours: sends `total` frames, `refs.len()` per call.
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

    /// A receiver of the streaming and latency measurements.
    trait StreamRx {
        /// Takes the frames waiting now (a blocking floor may sleep up to
        /// [`WAIT`] first); returns how many.
        fn recv(&mut self) -> usize;
        /// Sleeps until a frame waits or [`WAIT`] passes.
        fn wait(&mut self);
        /// Frames the kernel counted as dropped for this receiver.
        fn dropped(&mut self) -> Option<u64> {
            None
        }
    }

    /// The public path: a `RxQueue` from `Netdev::open_rx`.
    struct Public(RxQueue, PacketBatch);

    impl StreamRx for Public {
        fn recv(&mut self) -> usize {
            let n = self.0.recv_batch(&mut self.1).expect("recv_batch");
            std::hint::black_box(self.1.get(0));
            n
        }
        fn wait(&mut self) {
            self.0.wait(Some(WAIT)).expect("wait");
        }
        fn dropped(&mut self) -> Option<u64> {
            self.0.dropped().ok()
        }
    }

    /// A queue used directly, without the core's handle.
    struct Direct<Q>(Q, PacketBatch);

    impl<Q: RxQueueBackend> StreamRx for Direct<Q> {
        fn recv(&mut self) -> usize {
            self.1.clear();
            let n = self.0.recv_batch(&mut self.1).expect("recv_batch");
            std::hint::black_box(self.1.get(0));
            n
        }
        fn wait(&mut self) {
            self.0.wait(Some(WAIT)).expect("wait");
        }
        fn dropped(&mut self) -> Option<u64> {
            self.0.dropped().ok()
        }
    }

    /// Raw `recvmmsg` with `MSG_WAITFORONE` on a blocking socket: one
    /// system call per batch, sleeping in it when nothing waits.
    struct RawMmsg(std::os::fd::OwnedFd, raw::Mmsg, usize);

    impl StreamRx for RawMmsg {
        fn recv(&mut self) -> usize {
            use std::os::fd::AsRawFd;
            self.1.recv_wait(self.0.as_raw_fd(), self.2)
        }
        fn wait(&mut self) {}
    }

    /// A raw ring, `poll` when empty.
    struct RawRing(raw::Ring, usize);

    impl StreamRx for RawRing {
        fn recv(&mut self) -> usize {
            self.0.recv(self.1)
        }
        fn wait(&mut self) {
            if !self.0.ready() {
                raw::poll_in(self.0.fd(), WAIT.as_millis() as i32);
            }
        }
    }

    /// The receivers measured, by what opens them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Rx {
        Public(RxMethod, usize),
        /// The public path, measured (latency) after a flood of
        /// [`FLOOD`] frames on the same queue.
        AfterFlood(RxMethod),
        DirectV2,
        DirectAdaptive,
        DirectRecvmmsg,
        RawV2(usize),
        RawV3,
        RawMmsg(usize),
    }

    impl Rx {
        fn name(self) -> String {
            match self {
                Rx::Public(m, b) => format!("public {m:?} x{b}"),
                Rx::AfterFlood(m) => format!("public {m:?} after a flood"),
                Rx::DirectV2 => "direct PacketRingV2Rxq x64".into(),
                Rx::DirectAdaptive => "direct PacketAdaptiveRxq x64".into(),
                Rx::DirectRecvmmsg => "direct PacketRxq x64".into(),
                Rx::RawV2(b) => format!("raw TPACKET_V2 x{b}"),
                Rx::RawV3 => "raw TPACKET_V3 (blocks)".into(),
                Rx::RawMmsg(b) => format!("raw recvmmsg x{b}"),
            }
        }

        fn is_raw(self) -> bool {
            matches!(self, Rx::RawV2(_) | Rx::RawV3 | Rx::RawMmsg(_))
        }
    }

    /// The devices a receiver is opened on.
    struct Devices {
        /// `ba` opened through a registry whose `system` class uses each
        /// method.
        public: Vec<(RxMethod, Netdev)>,
        ia: u32,
    }

    impl Devices {
        fn open(&self, rx: Rx) -> Box<dyn StreamRx> {
            let slots = PacketBatch::DEFAULT_SLOT_SIZE;
            match rx {
                Rx::Public(_, _) | Rx::AfterFlood(_) => {
                    let (m, b) = match rx {
                        Rx::Public(m, b) => (m, b),
                        Rx::AfterFlood(m) => (m, BATCH),
                        _ => unreachable!("matched above"),
                    };
                    let dev = &self.public.iter().find(|(k, _)| *k == m).expect("method").1;
                    Box::new(Public(
                        dev.open_rx().expect("open_rx"),
                        PacketBatch::new(b, slots),
                    ))
                }
                Rx::DirectV2 => Box::new(Direct(
                    PacketRingV2Rxq::open(self.ia).expect("PacketRingV2Rxq"),
                    PacketBatch::new(BATCH, slots),
                )),
                Rx::DirectAdaptive => Box::new(Direct(
                    PacketAdaptiveRxq::open(self.ia).expect("PacketAdaptiveRxq"),
                    PacketBatch::new(BATCH, slots),
                )),
                Rx::DirectRecvmmsg => Box::new(Direct(
                    PacketRxq::open(self.ia).expect("PacketRxq"),
                    PacketBatch::new(BATCH, slots),
                )),
                Rx::RawV2(b) => Box::new(RawRing(raw::Ring::v2(self.ia, 4096), b)),
                Rx::RawV3 => Box::new(RawRing(raw::Ring::v3(self.ia, 32), usize::MAX)),
                Rx::RawMmsg(b) => Box::new(RawMmsg(
                    raw::blocking_packet_socket(self.ia, WAIT),
                    raw::Mmsg::for_recv(b, slots, 0),
                    b,
                )),
            }
        }
    }

    /// One streaming measurement.
    #[derive(Debug, Clone, Copy, Default)]
    struct Sample {
        mpps: f64,
        /// Fraction of the frames sent that were not received.
        lost: f64,
        /// Receiver thread CPU time over its wall time.
        cpu: f64,
        frames_per_call: f64,
        /// What the queue's drop counter said (public and direct rows).
        kernel_drops: Option<u64>,
    }

    /// Sends from `sender` for `dur` on [`TX_CPU`] while `rx` receives on
    /// [`RX_CPU`].
    fn stream(
        devs: &Devices,
        rx: Rx,
        sender: &std::os::fd::OwnedFd,
        send_mmsg: &mut raw::Mmsg,
        dur: Duration,
    ) -> Sample {
        use std::os::fd::AsRawFd;
        let ready = Barrier::new(2);
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let receiver = s.spawn(|| {
                pin(RX_CPU);
                let mut q = devs.open(rx);
                ready.wait();
                let t0 = Instant::now();
                let cpu0 = raw::thread_cpu();
                let (mut got, mut calls, mut last) = (0usize, 0usize, t0);
                let mut done_at = None;
                loop {
                    let n = q.recv();
                    calls += 1;
                    if n > 0 {
                        got += n;
                        last = Instant::now();
                        continue;
                    }
                    if done.load(Ordering::Acquire) {
                        let d = *done_at.get_or_insert_with(Instant::now);
                        if d.elapsed() > QUIET && last.elapsed() > QUIET {
                            break;
                        }
                    }
                    q.wait();
                }
                let cpu = raw::thread_cpu() - cpu0;
                let wall = last - t0;
                (got, calls, wall, cpu, q.dropped())
            });
            pin(TX_CPU);
            ready.wait();
            let t = Instant::now();
            let mut sent = 0;
            while t.elapsed() < dur {
                sent += send_mmsg.send_loop(sender.as_raw_fd(), BATCH);
            }
            done.store(true, Ordering::Release);
            let (got, calls, wall, cpu, kernel_drops) = receiver.join().expect("receiver");
            Sample {
                mpps: mpps(got, wall),
                lost: 1.0 - got as f64 / sent as f64,
                cpu: cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9),
                frames_per_call: got as f64 / calls.max(1) as f64,
                kernel_drops,
            }
        })
    }

    /// Lone-frame latency of `rx` in microseconds: one frame at a time
    /// from [`TX_CPU`] to a receiver sleeping on [`RX_CPU`].
    fn latency(devs: &Devices, rx: Rx, sender: &std::os::fd::OwnedFd) -> (f64, f64) {
        use std::os::fd::AsRawFd;
        let mut send_mmsg = raw::Mmsg::for_send(&frames()[..1]);
        let ready = Barrier::new(2);
        let flooded = Barrier::new(2);
        std::thread::scope(|s| {
            let receiver = s.spawn(|| {
                pin(RX_CPU);
                let mut q = devs.open(rx);
                ready.wait();
                if matches!(rx, Rx::AfterFlood(_)) {
                    // Takes the flood until it ends (or the rest is lost).
                    let (mut got, mut last) = (0, Instant::now());
                    while got < FLOOD && last.elapsed() < Duration::from_millis(100) {
                        let n = q.recv();
                        if n > 0 {
                            got += n;
                            last = Instant::now();
                        } else {
                            q.wait();
                        }
                    }
                    flooded.wait();
                }
                let mut at = Vec::with_capacity(LATENCY_SAMPLES);
                let mut last = Instant::now();
                // A lost frame ends the run rather than hanging it.
                while at.len() < LATENCY_SAMPLES && last.elapsed() < Duration::from_secs(2) {
                    let n = q.recv();
                    if n > 0 {
                        // Frames that waited together (an adaptive queue
                        // switching rings) arrive in one receive: each
                        // gets this time.
                        last = Instant::now();
                        at.extend(std::iter::repeat(last).take(n));
                    } else {
                        q.wait();
                    }
                }
                at
            });
            pin(TX_CPU);
            ready.wait();
            if matches!(rx, Rx::AfterFlood(_)) {
                let mut flood = raw::Mmsg::for_send(&frames());
                flood.send_loop(sender.as_raw_fd(), FLOOD);
                flooded.wait();
            }
            let mut sent_at = Vec::with_capacity(LATENCY_SAMPLES);
            for i in 0..LATENCY_SAMPLES {
                // Varying gaps, so the frames meet a V3 ring's retire
                // timer at varying phases; long enough for the receiver
                // to be asleep.
                std::thread::sleep(Duration::from_micros(2000 + 137 * i as u64));
                sent_at.push(Instant::now());
                send_mmsg.send_loop(sender.as_raw_fd(), 1);
            }
            let got = receiver.join().expect("receiver");
            let us: Vec<f64> = got
                .iter()
                .zip(&sent_at)
                .map(|(r, t)| r.saturating_duration_since(*t).as_secs_f64() * 1e6)
                .collect();
            let max = us.iter().copied().fold(0.0, f64::max);
            (median(us), max)
        })
    }

    /// One line of a rate table: medians and the ratio.
    struct Row {
        name: String,
        ours: Vec<f64>,
        floor: Vec<f64>,
        floor_name: String,
    }

    impl Row {
        fn new(name: &str, floor_name: &str) -> Row {
            Row {
                name: name.into(),
                ours: Vec::new(),
                floor: Vec::new(),
                floor_name: floor_name.into(),
            }
        }

        fn print(&self) {
            let (o, f) = (median(self.ours.clone()), median(self.floor.clone()));
            println!(
                "  {:<34} {:>9.3} {:>10.3} {:>6.2}  {}",
                self.name,
                o,
                f,
                o / f,
                self.floor_name
            );
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

        // The public path: one registry per receive method, `ba` opened
        // through it as a user would.
        let methods = [
            RxMethod::Adaptive,
            RxMethod::RingV2,
            RxMethod::RingV3,
            RxMethod::Recvmmsg,
        ];
        let mut registries = Vec::new();
        let mut public = Vec::new();
        for m in methods {
            let reg = Registry::new();
            reg.register(SystemClass::with_options(SystemOptions {
                rx_method: m,
                ..SystemOptions::default()
            }))
            .expect("register");
            public.push((m, reg.open("ba", "system").expect("open ba")));
            registries.push(reg);
        }
        let devs = Devices { public, ia };
        let default_dev = &devs.public[0].1;

        // --- veth transmit: public path, raw floors, direct queue.
        let mut tx_rows = vec![
            Row::new("public Netdev::send_batch x64", "raw sendmmsg x64"),
            Row::new("public Netdev::send_batch x32", "raw sendmmsg x32"),
            Row::new("direct PacketTx::send_batch x64", "raw sendmmsg x64"),
        ];
        {
            use std::os::fd::AsRawFd;
            let tx = PacketTx::open(ia).expect("PacketTx::open");
            let raw_fd = raw::packet_socket(ia, 0);
            let mut raw64 = raw::Mmsg::for_send(&frames);
            let mut raw32 = raw::Mmsg::for_send(&frames[..OVS_BATCH]);
            let public_send = |refs: &[&[u8]]| {
                ours_send(
                    |f| default_dev.send_batch(f).expect("send_batch"),
                    || {
                        default_dev
                            .send_wait(Some(Duration::from_millis(100)))
                            .unwrap();
                    },
                    refs,
                    n,
                )
            };
            for round in 0..args.rounds {
                for k in 0..5 {
                    let t = Instant::now();
                    match (k + round) % 5 {
                        0 => {
                            let sent = public_send(&refs);
                            tx_rows[0].ours.push(mpps(sent, t.elapsed()));
                        }
                        1 => {
                            let sent = raw64.send_loop(raw_fd.as_raw_fd(), n);
                            let r = mpps(sent, t.elapsed());
                            tx_rows[0].floor.push(r);
                            tx_rows[2].floor.push(r);
                        }
                        2 => {
                            let sent = public_send(&refs[..OVS_BATCH]);
                            tx_rows[1].ours.push(mpps(sent, t.elapsed()));
                        }
                        3 => {
                            let sent = raw32.send_loop(raw_fd.as_raw_fd(), n);
                            tx_rows[1].floor.push(mpps(sent, t.elapsed()));
                        }
                        _ => {
                            let sent = ours_send(
                                |f| tx.send_batch(f).expect("send_batch"),
                                || {
                                    tx.send_wait(Some(Duration::from_millis(100))).unwrap();
                                },
                                &refs,
                                n,
                            );
                            tx_rows[2].ours.push(mpps(sent, t.elapsed()));
                        }
                    }
                }
            }
        }

        // --- veth receive, streaming, in both core configurations.
        let receivers = [
            Rx::Public(RxMethod::Adaptive, BATCH),
            Rx::Public(RxMethod::Adaptive, OVS_BATCH),
            Rx::Public(RxMethod::RingV2, BATCH),
            Rx::Public(RxMethod::RingV2, OVS_BATCH),
            Rx::Public(RxMethod::RingV3, BATCH),
            Rx::Public(RxMethod::Recvmmsg, BATCH),
            Rx::RawV2(BATCH),
            Rx::RawV2(OVS_BATCH),
            Rx::RawV3,
            Rx::RawMmsg(BATCH),
            Rx::RawMmsg(OVS_BATCH),
            Rx::DirectV2,
            Rx::DirectAdaptive,
            Rx::DirectRecvmmsg,
        ];
        let configs = [
            ("kernel receive work on the sender's core (RPS off)", "0"),
            (
                "kernel receive work on the receiver's core (RPS to it)",
                "1",
            ),
        ];
        let dur = Duration::from_millis(args.ms);
        let sender = raw::packet_socket(ib, 0);
        let mut send_mmsg = raw::Mmsg::for_send(&frames);
        let mut stream_tables = Vec::new();
        for (cfg_name, mask) in configs {
            set_rps(&ns, "ba", mask);
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); receivers.len()];
            for round in 0..args.rounds {
                for k in 0..receivers.len() {
                    let which = (k + round) % receivers.len();
                    eprint!(
                        "\r{cfg_name}: round {round}, {:<40}",
                        receivers[which].name()
                    );
                    let s = stream(&devs, receivers[which], &sender, &mut send_mmsg, dur);
                    samples[which].push(s);
                }
            }
            stream_tables.push((cfg_name, samples));
        }
        set_rps(&ns, "ba", "0");

        // --- lone-frame latency.
        let lat_rx = [
            Rx::Public(RxMethod::Adaptive, BATCH),
            Rx::AfterFlood(RxMethod::Adaptive),
            Rx::Public(RxMethod::RingV2, BATCH),
            Rx::Public(RxMethod::RingV3, BATCH),
            Rx::Public(RxMethod::Recvmmsg, BATCH),
            Rx::RawV2(BATCH),
            Rx::RawV3,
            Rx::RawMmsg(BATCH),
        ];
        let lat: Vec<(f64, f64)> = lat_rx
            .iter()
            .map(|&rx| latency(&devs, rx, &sender))
            .collect();

        let mut short = Vec::new();
        // --- tap transmit (write into the fd).
        let mut row = Row::new("tap tx", "raw write(2) loop");
        {
            // The tap is made with IFF_VNET_HDR: every frame written starts
            // with a virtio_net_hdr. The floor's are prebuilt, "no offload"
            // zeros and the frame in one buffer, one write(2) each.
            let tap_frames: Vec<Vec<u8>> = frames
                .iter()
                .map(|f| [&[0u8; Offload::LEN][..], f].concat())
                .collect();
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
                        let sent = raw::write_loop(tap.as_raw_fd(), &tap_frames, n);
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
        drop(devs);
        drop(registries);

        println!(
            "bench_packet: {FRAME_LEN}-byte frames; medians of {} rounds, interleaved; \
             tx {n} frames per run; rx streams of {} ms (sender on cpu {TX_CPU}, \
             receiver on cpu {RX_CPU})",
            args.rounds, args.ms
        );
        println!("veth tx:");
        println!(
            "  {:<34} {:>9} {:>10} {:>6}  floor",
            "path", "ours Mpps", "floor Mpps", "ratio"
        );
        for r in &tx_rows {
            r.print();
        }
        for (cfg_name, samples) in &stream_tables {
            let med = |i: usize, f: fn(&Sample) -> f64| median(samples[i].iter().map(f).collect());
            let (best, _) = receivers
                .iter()
                .enumerate()
                .filter(|(_, r)| r.is_raw())
                .map(|(i, _)| (i, med(i, |s| s.mpps)))
                .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
            let best_rate = med(best, |s| s.mpps);
            println!(
                "veth rx, {cfg_name}; ratio to the best raw method ({}):",
                receivers[best].name()
            );
            println!(
                "  {:<34} {:>9} {:>6} {:>8} {:>6} {:>11} {:>12}",
                "receiver", "Mpps", "ratio", "lost", "cpu", "frames/call", "queue drops"
            );
            for (i, rx) in receivers.iter().enumerate() {
                let rate = med(i, |s| s.mpps);
                let drops = samples[i]
                    .iter()
                    .filter_map(|s| s.kernel_drops)
                    .map(|d| d as f64)
                    .collect::<Vec<_>>();
                let drops = if drops.is_empty() {
                    "-".to_string()
                } else {
                    format!("{:.0}", median(drops))
                };
                println!(
                    "  {:<34} {:>9.3} {:>6.2} {:>7.2}% {:>5.0}% {:>11.1} {:>12}",
                    rx.name(),
                    rate,
                    rate / best_rate,
                    med(i, |s| s.lost) * 100.0,
                    med(i, |s| s.cpu) * 100.0,
                    med(i, |s| s.frames_per_call),
                    drops
                );
            }
        }
        println!(
            "lone-frame latency, {LATENCY_SAMPLES} samples (send on cpu {TX_CPU} to received by a \
             receiver asleep on cpu {RX_CPU}), RPS off:"
        );
        for (rx, (med_us, max_us)) in lat_rx.iter().zip(&lat) {
            println!(
                "  {:<34} median {med_us:>7.1} us   max {max_us:>7.1} us",
                rx.name()
            );
        }
        println!("tap (internal queues):");
        for r in &rows {
            r.print();
        }
        if !short.is_empty() {
            println!(
                "note: some tap drains got fewer frames than sent (receive queue overflow): {short:?}"
            );
        }
    }
}
