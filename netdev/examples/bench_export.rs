//! Benchmark of `netdev export` against Prometheus' `node_exporter` (its
//! `netdev` and `netclass` collectors) and against the raw floor, in one
//! run: the goal is a scrape at least 10x faster than node_exporter's and
//! within 1.5x of the floor.
//!
//! One fresh network namespace (removed at exit and on panic) holds N
//! `ifb` devices (this kernel has no `dummy`) besides `lo`. Both exporters
//! run there as users run them (`ip netns exec NS ...`, on loopback ports,
//! node_exporter with `--web.disable-exporter-metrics` so it answers only
//! device metrics), and each round scrapes each once over a new HTTP/1.0
//! connection, reading the answer to its end; the order rotates per
//! round. For each scrape:
//!
//! - latency: from connect to the answer's last byte;
//! - CPU: the exporter process's CPU time over the scrape, the sum of
//!   `/proc/PID/task/*/schedstat` (nanoseconds, every thread: the scrape
//!   runs on a worker thread in both).
//!
//! The floor runs in this process, on a thread inside the namespace: one
//! `RTM_GETSTATS` dump and one `RTM_GETLINK` dump with raw system calls
//! (netdev-linux's `examples/common/raw_rtnl.rs`) and the same text
//! written from them (every family and device the exporter writes, with a
//! hand-rolled integer writer), CPU from `/proc/thread-self/schedstat`.
//! Rows are medians. Times are printed, never asserted. Run as root,
//! after building the tool:
//!
//! ```text
//! cargo build --release -p netdev --bins --examples
//! target/release/examples/bench_export [--devices 4000] [--rounds 15] [--netdev PATH]
//! ```

#[cfg(target_os = "linux")]
#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
#[path = "../../netdev-linux/examples/common/raw_rtnl.rs"]
mod raw_rtnl;

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("bench_export: Linux only (network namespaces, rtnetlink)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::common::default_netdev;
    use super::raw_rtnl::{self, Raw};
    use super::support::NetNs;

    /// At least this many times faster than node_exporter.
    const GOAL_NODE_EXPORTER: f64 = 10.0;
    /// At most this many times the floor.
    const GOAL_FLOOR: f64 = 1.5;

    #[derive(Debug)]
    struct Args {
        devices: usize,
        rounds: usize,
        netdev: PathBuf,
    }

    fn usage() -> ! {
        eprintln!("usage: bench_export [--devices N] [--rounds N] [--netdev PATH]");
        std::process::exit(2);
    }

    fn args() -> Args {
        let mut a = Args {
            devices: 4000,
            rounds: 15,
            netdev: default_netdev(),
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let Some(value) = it.next() else { usage() };
            let number = || value.parse::<usize>().ok().filter(|&n| n > 0);
            match flag.as_str() {
                "--devices" => a.devices = number().unwrap_or_else(|| usage()),
                "--rounds" => a.rounds = number().unwrap_or_else(|| usage()),
                "--netdev" => a.netdev = PathBuf::from(value),
                _ => usage(),
            }
        }
        a
    }

    /// A process this benchmark started, killed (by its id) when dropped.
    struct Server {
        name: &'static str,
        child: Child,
        addr: SocketAddr,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    impl Server {
        /// CPU time of every thread of the process so far, in ns.
        fn cpu_ns(&self) -> u64 {
            let dir = format!("/proc/{}/task", self.child.id());
            let mut total = 0;
            for task in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
                let path = task.unwrap().path().join("schedstat");
                // A thread may end between listing and reading.
                if let Ok(text) = std::fs::read_to_string(&path) {
                    total += first_number(&text);
                }
            }
            total
        }
    }

    fn first_number(schedstat: &str) -> u64 {
        schedstat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("a schedstat line")
    }

    fn free_port(ns: &NetNs) -> u16 {
        let _inside = ns.enter();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    fn start_ours(ns: &NetNs, netdev: &PathBuf) -> Server {
        let started = Instant::now();
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(netdev)
            .args(["export", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting netdev export");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("netdev export ended before it was ready")
                .unwrap();
            if let Some(url) = line.split(" on http://").nth(1) {
                break url.trim_end_matches("/metrics").parse().unwrap();
            }
        };
        println!(
            "netdev export ready in {:.0} ms (lists and opens every device)",
            started.elapsed().as_secs_f64() * 1e3
        );
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(|l| eprintln!("{l}")));
        Server {
            name: "netdev export",
            child,
            addr,
        }
    }

    fn start_node_exporter(ns: &NetNs) -> Server {
        let port = free_port(ns);
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), "prometheus-node-exporter"])
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args([
                "--web.disable-exporter-metrics",
                "--collector.disable-defaults",
                "--collector.netdev",
                "--collector.netclass",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting prometheus-node-exporter (apt-get install prometheus-node-exporter)");
        let server = Server {
            name: "node_exporter",
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
        };
        let started = Instant::now();
        loop {
            let _inside = ns.enter();
            if TcpStream::connect(server.addr).is_ok() {
                break server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "node_exporter never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One scrape: latency (ms), the server's CPU (ms), the answer's size.
    fn scrape(ns: &NetNs, server: &Server) -> (f64, f64, usize) {
        let cpu0 = server.cpu_ns();
        let t0 = Instant::now();
        let mut s = {
            let _inside = ns.enter();
            TcpStream::connect(server.addr).unwrap()
        };
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
            .unwrap();
        let mut answer = Vec::with_capacity(8 << 20);
        s.read_to_end(&mut answer).unwrap();
        let wall = t0.elapsed().as_secs_f64() * 1e3;
        let cpu = (server.cpu_ns() - cpu0) as f64 / 1e6;
        assert!(
            answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"),
            "{}: {}",
            server.name,
            String::from_utf8_lossy(&answer[..answer.len().min(200)])
        );
        (wall, cpu, answer.len())
    }

    fn thread_cpu_ns() -> u64 {
        first_number(&std::fs::read_to_string("/proc/thread-self/schedstat").unwrap())
    }

    /// What the floor keeps of one link.
    #[derive(Default, Clone)]
    struct Link {
        ifindex: u32,
        name: String,
        mtu: u32,
        mac: [u8; 6],
        flags: u32,
        operstate: u8,
        carrier: u8,
        carrier_down: u32,
        /// The escaped label value, made once per scrape.
        label: String,
    }

    /// The floor's reusable state.
    struct Floor {
        raw: Raw,
        links: Vec<Link>,
        stats: Vec<(u32, [u64; 21])>,
        out: Vec<u8>,
    }

    const IFLA_ADDRESS: u16 = 1;
    const IFLA_IFNAME: u16 = 3;
    const IFLA_MTU: u16 = 4;
    const IFLA_OPERSTATE: u16 = 16;
    const IFLA_CARRIER: u16 = 33;
    const IFLA_CARRIER_DOWN_COUNT: u16 = 48;

    fn put_u64(out: &mut Vec<u8>, mut v: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        out.extend_from_slice(&buf[i..]);
    }

    impl Floor {
        /// Two dumps and the text (with `relist`; without, one stats dump
        /// and the text from the links of the last listing): its size.
        fn run(&mut self, relist: bool) -> usize {
            use raw_rtnl::{find_attr, u32_at, u64_at};
            let Floor {
                raw,
                links,
                stats,
                out,
            } = self;
            stats.clear();
            raw.dump(
                raw_rtnl::RTM_GETSTATS,
                &raw_rtnl::if_stats_msg(0),
                |b, off, len| {
                    let msg = &b[off..off + len];
                    let ifindex = u32_at(msg, raw_rtnl::NLMSG_HDRLEN + 4);
                    let attrs = raw_rtnl::NLMSG_HDRLEN + raw_rtnl::IF_STATS_MSG_LEN;
                    let Some((p, _)) = find_attr(msg, attrs, raw_rtnl::IFLA_STATS_LINK_64) else {
                        return;
                    };
                    let mut s = [0u64; 21];
                    for (i, v) in s.iter_mut().enumerate() {
                        *v = u64_at(msg, p + i * 8);
                    }
                    stats.push((ifindex, s));
                },
            );
            let mut n = 0;
            if relist {
                raw.dump(
                    raw_rtnl::RTM_GETLINK,
                    &raw_rtnl::ifinfomsg(0),
                    |b, off, len| {
                        let msg = &b[off..off + len];
                        if n == links.len() {
                            links.push(Link::default());
                        }
                        let l = &mut links[n];
                        n += 1;
                        let hdr = raw_rtnl::NLMSG_HDRLEN;
                        l.ifindex = u32_at(msg, hdr + 4);
                        l.flags = u32_at(msg, hdr + 8);
                        let attrs = hdr + raw_rtnl::IFINFOMSG_LEN;
                        let attr = |ty| find_attr(msg, attrs, ty);
                        l.name.clear();
                        if let Some((p, len)) = attr(IFLA_IFNAME) {
                            let bytes = &msg[p..p + len];
                            let bytes = bytes.split(|&c| c == 0).next().unwrap_or(bytes);
                            l.name.push_str(&String::from_utf8_lossy(bytes));
                        }
                        l.label.clear();
                        for c in l.name.chars() {
                            match c {
                                '\\' => l.label.push_str("\\\\"),
                                '"' => l.label.push_str("\\\""),
                                '\n' => l.label.push_str("\\n"),
                                c => l.label.push(c),
                            }
                        }
                        l.mtu = attr(IFLA_MTU).map_or(0, |(p, _)| u32_at(msg, p));
                        if let Some((p, 6)) = attr(IFLA_ADDRESS) {
                            l.mac.copy_from_slice(&msg[p..p + 6]);
                        }
                        l.operstate = attr(IFLA_OPERSTATE).map_or(0, |(p, _)| msg[p]);
                        l.carrier = attr(IFLA_CARRIER).map_or(0, |(p, _)| msg[p]);
                        l.carrier_down =
                            attr(IFLA_CARRIER_DOWN_COUNT).map_or(0, |(p, _)| u32_at(msg, p));
                    },
                );
                links.truncate(n);
            }
            // Both dumps list by ifindex; a device in only one is left out.
            out.clear();
            // Families: 25 counters, 5 state gauges, then the info lines.
            for fam in 0..31 {
                out.extend_from_slice(b"# HELP node_network_family help text for this family\n");
                out.extend_from_slice(b"# TYPE node_network_family counter\n");
                let (mut i, mut j) = (0, 0);
                while i < stats.len() && j < links.len() {
                    let (si, s) = &stats[i];
                    let l = &links[j];
                    if *si < l.ifindex {
                        i += 1;
                        continue;
                    }
                    if l.ifindex < *si {
                        j += 1;
                        continue;
                    }
                    let value = match fam {
                        0..=20 => s[fam],
                        21..=24 => s[fam - 21].wrapping_add(s[fam - 20]),
                        25 => u64::from(l.carrier_down),
                        26 => u64::from(l.carrier),
                        27 => u64::from(l.ifindex),
                        28 => u64::from(l.mtu),
                        29 => u64::from(l.operstate == 6),
                        _ => {
                            out.extend_from_slice(b"node_network_info{address=\"");
                            let hex = b"0123456789abcdef";
                            for (k, o) in l.mac.iter().enumerate() {
                                out.push(hex[usize::from(o >> 4)]);
                                out.push(hex[usize::from(o & 0xf)]);
                                if k < 5 {
                                    out.push(b':');
                                }
                            }
                            out.extend_from_slice(b"\",device=\"");
                            out.extend_from_slice(l.label.as_bytes());
                            out.extend_from_slice(b"\",duplex=\"\",ifindex=\"");
                            put_u64(out, u64::from(l.ifindex));
                            out.extend_from_slice(b"\",operstate=\"down\"} 1\n");
                            i += 1;
                            j += 1;
                            continue;
                        }
                    };
                    out.extend_from_slice(b"node_network_receive_family_total{device=\"");
                    out.extend_from_slice(l.label.as_bytes());
                    out.extend_from_slice(b"\"} ");
                    put_u64(out, value);
                    out.push(b'\n');
                    i += 1;
                    j += 1;
                }
            }
            out.len()
        }
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }

    pub fn main() {
        let a = args();
        assert!(
            a.netdev.exists(),
            "{} not found: cargo build --release -p netdev --bins --examples",
            a.netdev.display()
        );
        let ns = NetNs::new();
        let t = Instant::now();
        ns.add_ifbs("b", a.devices);
        println!(
            "{} ifb devices made in {:.1} s",
            a.devices,
            t.elapsed().as_secs_f64()
        );
        let ours = start_ours(&ns, &a.netdev);
        let node = start_node_exporter(&ns);

        // The floor's thread lives in the namespace; its socket too.
        let (to_floor, floor_rx) = std::sync::mpsc::channel::<bool>();
        let (floor_tx, from_floor) = std::sync::mpsc::channel::<(f64, f64, usize)>();
        let ns_path = ns.path();
        let floor = std::thread::spawn(move || {
            let target = std::fs::File::open(&ns_path).unwrap();
            nix::sched::setns(&target, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let mut f = Floor {
                raw: Raw::new(),
                links: Vec::new(),
                stats: Vec::new(),
                out: Vec::new(),
            };
            while let Ok(relist) = floor_rx.recv() {
                let cpu0 = thread_cpu_ns();
                let t0 = Instant::now();
                let size = f.run(relist);
                let wall = t0.elapsed().as_secs_f64() * 1e3;
                let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e6;
                floor_tx.send((wall, cpu, size)).unwrap();
            }
        });
        let run_floor = |relist: bool| {
            to_floor.send(relist).unwrap();
            from_floor.recv().unwrap()
        };

        // Warm-up: first scrapes fill caches on every side.
        let (_, _, ours_size) = scrape(&ns, &ours);
        let (_, _, node_size) = scrape(&ns, &node);
        let (_, _, floor_size) = run_floor(true);
        println!(
            "answer sizes: netdev export {} KiB, node_exporter {} KiB, floor text {} KiB",
            ours_size / 1024,
            node_size / 1024,
            floor_size / 1024
        );

        let mut samples: [(Vec<f64>, Vec<f64>); 4] = Default::default();
        for round in 0..a.rounds {
            for k in 0..4 {
                let which = (round + k) % 4;
                let (wall, cpu, _) = match which {
                    0 => scrape(&ns, &ours),
                    1 => scrape(&ns, &node),
                    2 => run_floor(true),
                    // After a relist: the links stay the same.
                    _ => run_floor(false),
                };
                samples[which].0.push(wall);
                samples[which].1.push(cpu);
            }
        }
        drop(to_floor);
        floor.join().unwrap();
        let [o, n, f, g] = samples.map(|(mut w, mut c)| (median(&mut w), median(&mut c)));
        println!(
            "\n{} devices, medians of {} interleaved rounds (ms):\n",
            a.devices + 1,
            a.rounds
        );
        println!("| per scrape | netdev export | node_exporter | floor (2 dumps + text) | vs node_exporter | vs floor |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        println!(
            "| latency | {:.2} | {:.2} | {:.2} | {:.1}x faster | {:.2}x |",
            o.0,
            n.0,
            f.0,
            n.0 / o.0,
            o.0 / f.0
        );
        println!(
            "| CPU | {:.2} | {:.2} | {:.2} | {:.1}x less | {:.2}x |",
            o.1,
            n.1,
            f.1,
            n.1 / o.1,
            o.1 / f.1
        );
        println!(
            "\ninformation: one stats dump + text (names from an earlier listing): \
             latency {:.2} ms, CPU {:.2} ms; netdev export is {:.2}x / {:.2}x that",
            g.0,
            g.1,
            o.0 / g.0,
            o.1 / g.1
        );
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        println!(
            "\ngoal >= {GOAL_NODE_EXPORTER}x faster than node_exporter (latency): {}; \
             <= {GOAL_FLOOR}x the floor (latency): {}",
            verdict(n.0 / o.0 >= GOAL_NODE_EXPORTER),
            verdict(o.0 / f.0 <= GOAL_FLOOR)
        );
    }
}
