//! Benchmark of `brcompatd` and its clients against bridge-utils' `brctl`
//! on a kernel bridge, measured side by side in the same run.
//!
//! ```sh
//! cargo build --release -p brcompat --bins --examples && target/release/examples/bench_brcompat
//! ```
//!
//! As root (it makes a network namespace); Linux only. Options:
//! `--rounds N` (interleaved rounds of the round-trip part, default 300),
//! `--fdb-rounds N` (default 31), `--datapath none|embedded` (the daemon's
//! datapath, default `none`: the configuration round trip the goals are
//! about; `embedded` adds the switch opening and closing each port's
//! receive ring).
//!
//! What it measures, medians of interleaved rounds (each round runs every
//! variant once, in an order that rotates from round to round):
//! - `addbr`, `addif`, `delif` round trips against the **real daemon**: the
//!   `brcompatd` binary built beside this example, run as a child process
//!   inside the namespace (`ip netns exec NS brcompatd --socket S --config
//!   C`, a fresh temporary directory), embedded backend, every change
//!   written durably before it is acknowledged. Each round adds and removes
//!   (`addbr`, `addif`, `delif`, `delbr`), so every request is a real
//!   change. Two ways: a call of the client library
//!   (`brcompat::client::Client`, one connection) and a process invocation
//!   of our `brctl` (`BRCOMPAT_SOCKET`).
//! - the baselines in the same rounds: bridge-utils `brctl addbr`/`addif`/
//!   `delif`/`delbr` on a kernel bridge in the namespace; spawning
//!   `/bin/true`; write + fsync + rename + directory fsync of a small file
//!   in the configuration's directory (the floor of one durable change).
//! - `showmacs` of 1,000 and 10,000 entries, read in pages of 256: the real
//!   daemon code (`Daemon` + `Server`, in a thread of this process, its
//!   registry in the namespace) serving a bridge whose forwarding database
//!   is an in-memory table given through the `FdbSource` trait (the
//!   embedded switch, which will fill it, does not exist yet), through the
//!   library's `fdb` and our `brctl showmacs`; bridge-utils `brctl
//!   showmacs` on a kernel bridge holding as many static entries. Cost per
//!   entry at both sizes.
//!
//! It prints numbers; it asserts nothing about them.

#[cfg(target_os = "linux")]
#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

#[cfg(target_os = "linux")]
mod bench_util;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("bench_brcompat runs on Linux only (it needs network namespaces)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::{self, File};
    use std::io::{self, Write};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};

    use brcompat::client::Client;
    use brcompat::daemon::{Daemon, DaemonOptions, Server, ServerOptions, StopHandle};
    use brcompat::store::{FdbEntry, FdbSource, FileStore};
    use brcompat::transport::Listener;
    use netdev::{EthAddr, Registry};
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;

    use super::bench_util::{median, ms, sibling};
    use super::support::{self, NetNs};

    const TIMEOUT: Duration = Duration::from_secs(10);
    const PAGE: usize = 256;

    fn time(f: impl FnOnce()) -> Duration {
        let t = Instant::now();
        f();
        t.elapsed()
    }

    /// Runs `program args` with output discarded; panics unless it
    /// succeeds (a benchmark of failures is no benchmark).
    fn spawn(program: &Path, args: &[&str], env: &[(&str, &str)]) {
        let mut c = Command::new(program);
        c.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env_clear()
            .env("LC_ALL", "C");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("spawning");
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A fresh directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(what: &str) -> TempDir {
            let p =
                std::env::temp_dir().join(format!("bench-brcompat-{what}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn connect(path: &Path) -> Client {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match Client::connect(path, Some(TIMEOUT)) {
                Ok(c) => return c,
                Err(e) => assert!(Instant::now() < deadline, "no daemon at {path:?}: {e}"),
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// `brcompatd` run as users run it, inside `ns`; SIGTERM on drop.
    struct DaemonProcess(Child);

    impl DaemonProcess {
        fn start(ns: &NetNs, socket: &Path, config: &Path, datapath: &str) -> DaemonProcess {
            let child = Command::new("ip")
                .args(["netns", "exec", ns.name()])
                .arg(sibling("brcompatd"))
                .arg("--socket")
                .arg(socket)
                .arg("--config")
                .arg(config)
                .args(["--log-level", "error", "--prune-timeout", "0"])
                .args(["--datapath", datapath])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawning ip netns exec brcompatd");
            DaemonProcess(child)
        }
    }

    impl Drop for DaemonProcess {
        fn drop(&mut self) {
            // `ip netns exec` execs the daemon: same pid.
            if let Ok(pid) = i32::try_from(self.0.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
            let _ = self.0.wait();
        }
    }

    /// A forwarding database held in memory, read a page at a time.
    #[derive(Debug)]
    struct Table(Vec<FdbEntry>);

    impl FdbSource for Table {
        fn entries(
            &self,
            _bridge: &str,
            vlan: u16,
            skip: usize,
            max: usize,
        ) -> io::Result<Vec<FdbEntry>> {
            if vlan != 0 {
                return Ok(Vec::new());
            }
            let rest = self.0.get(skip..).unwrap_or(&[]);
            Ok(rest[..rest.len().min(max)].to_vec())
        }
    }

    fn mac(i: usize) -> [u8; 6] {
        let [_, a, b, c] = u32::try_from(i).unwrap().to_be_bytes();
        [2, 0x10, 0, a, b, c]
    }

    fn table(n: usize) -> Vec<FdbEntry> {
        (0..n)
            .map(|i| FdbEntry {
                mac: EthAddr(mac(i)),
                port: 1,
                vlan: 0,
                age: Duration::from_millis(1500),
                is_local: false,
            })
            .collect()
    }

    /// The real daemon code in a thread of this process, its registry's
    /// sockets in `ns`, forwarding database from `fdb`.
    struct InThread {
        stop: StopHandle,
        thread: Option<JoinHandle<()>>,
    }

    impl InThread {
        fn start(ns: &NetNs, socket: &Path, config: &Path, fdb: Table) -> InThread {
            let entered = ns.enter();
            let registry = Registry::new();
            netdev::register_platform(&registry).unwrap();
            let events = registry.subscribe().ok();
            let backend = Arc::new(FileStore::open(config).unwrap());
            let daemon = Daemon::new(backend, registry, Arc::new(fdb), DaemonOptions::default());
            drop(entered);
            let listener = Listener::bind(socket).unwrap();
            let options = ServerOptions {
                prune_interval: None,
                ..ServerOptions::default()
            };
            let server = Server::new(daemon, listener, events, options).unwrap();
            let stop = server.stop_handle();
            let thread = thread::spawn(move || {
                server.run().unwrap();
            });
            InThread {
                stop,
                thread: Some(thread),
            }
        }
    }

    impl Drop for InThread {
        fn drop(&mut self) {
            self.stop.stop();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// The floor of one durable change: write a small file beside the
    /// configuration, fsync it, rename it over the old one, fsync the
    /// directory.
    fn durable_write(dir: &Path, round: usize) {
        let tmp = dir.join("floor.tmp");
        let mut f = File::create(&tmp).unwrap();
        writeln!(f, "bridge.br0.port=bv0\n# round {round}").unwrap();
        f.sync_all().unwrap();
        drop(f);
        fs::rename(&tmp, dir.join("floor")).unwrap();
        File::open(dir).unwrap().sync_all().unwrap();
    }

    #[derive(Default)]
    struct Cycle {
        addbr: Vec<Duration>,
        addif: Vec<Duration>,
        delif: Vec<Duration>,
        delbr: Vec<Duration>,
    }

    impl Cycle {
        /// Times `op(verb, args)` for addbr, addif, delif, delbr of `br`
        /// and `dev`.
        fn run(&mut self, br: &str, dev: &str, mut op: impl FnMut(&[&str])) {
            self.addbr.push(time(|| op(&["addbr", br])));
            self.addif.push(time(|| op(&["addif", br, dev])));
            self.delif.push(time(|| op(&["delif", br, dev])));
            self.delbr.push(time(|| op(&["delbr", br])));
        }
    }

    fn lib_op(c: &mut Client, args: &[&str]) {
        match args {
            ["addbr", b] => c.add_bridge(b),
            ["addif", b, d] => c.add_interface(b, d),
            ["delif", b, d] => c.del_interface(b, d),
            ["delbr", b] => c.del_bridge(b),
            _ => unreachable!("{args:?}"),
        }
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }

    /// One line of the results table.
    struct Row {
        what: String,
        ours: String,
        baseline: String,
        ratio: String,
        goal: &'static str,
        verdict: &'static str,
    }

    fn row(what: impl Into<String>, ours: Duration, baseline: Duration, goal: &'static str) -> Row {
        let ratio = ours.as_secs_f64() / baseline.as_secs_f64();
        let verdict = match goal {
            "< 1 ms" => ours < Duration::from_millis(1),
            "<= 1.0x" => ratio <= 1.0,
            _ => return info(what, ms(ours), ms(baseline), ratio),
        };
        Row {
            what: what.into(),
            ours: ms(ours),
            baseline: ms(baseline),
            ratio: format!("{ratio:.2}x"),
            goal,
            verdict: if verdict { "met" } else { "MISSED" },
        }
    }

    fn info(what: impl Into<String>, ours: String, baseline: String, ratio: f64) -> Row {
        Row {
            what: what.into(),
            ours,
            baseline,
            ratio: format!("{ratio:.2}x"),
            goal: "-",
            verdict: "info",
        }
    }

    fn print(rows: &[Row]) {
        println!(
            "{:<60} {:>12} {:>12} {:>7} {:>9} {:>7}",
            "operation", "ours", "baseline", "ratio", "goal", ""
        );
        for r in rows {
            println!(
                "{:<60} {:>12} {:>12} {:>7} {:>9} {:>7}",
                r.what, r.ours, r.baseline, r.ratio, r.goal, r.verdict
            );
        }
    }

    fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} does not take {v:?}"))
            })
    }

    pub fn main() {
        support::require_root();
        let rounds = arg("--rounds", 300);
        let fdb_rounds = arg("--fdb-rounds", 31);
        let datapath: String = arg("--datapath", "none".to_owned());
        assert!(
            datapath == "none" || datapath == "embedded",
            "--datapath takes none or embedded, not {datapath:?}"
        );
        let kernel_brctl = PathBuf::from("/usr/sbin/brctl");
        assert!(
            kernel_brctl.exists(),
            "bridge-utils' brctl is the baseline: apt-get install bridge-utils (ci/deps does)"
        );
        let our_brctl = sibling("brctl");
        let true_ = Path::new("/bin/true");

        let ns = NetNs::new();
        // kv*: the kernel bridge's ports; dv*: the daemon's.
        for (a, b) in [("kv0", "kv1"), ("dv0", "dv1"), ("fv0", "fv1")] {
            ns.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        }
        // Children spawned from this thread run in the namespace.
        let _inside = ns.enter();

        // Round trips against brcompatd, the binary.
        let dir = TempDir::new("rt");
        let socket = dir.0.join("brcompat.sock");
        let config = dir.0.join("brcompat.conf");
        let daemon = DaemonProcess::start(&ns, &socket, &config, &datapath);
        let mut client = connect(&socket);
        let socket_s = socket.to_str().unwrap().to_owned();
        let env = [("BRCOMPAT_SOCKET", socket_s.as_str())];

        let (mut lib, mut proc_, mut kernel) =
            (Cycle::default(), Cycle::default(), Cycle::default());
        let (mut spawn_true, mut spawn_version, mut floor) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..rounds {
            for k in 0..6 {
                match (r + k) % 6 {
                    0 => lib.run("br0", "dv0", |a| lib_op(&mut client, a)),
                    1 => proc_.run("br1", "dv1", |a| spawn(&our_brctl, a, &env)),
                    2 => kernel.run("kb0", "kv0", |a| spawn(&kernel_brctl, a, &[])),
                    3 => spawn_true.push(time(|| spawn(true_, &[], &[]))),
                    4 => spawn_version.push(time(|| spawn(&our_brctl, &["-V"], &[]))),
                    _ => floor.push(time(|| durable_write(&dir.0, r))),
                }
            }
        }
        drop(client);
        drop(daemon);
        let floor = median(floor);
        let spawn_true = median(spawn_true);
        let spawn_version = median(spawn_version);

        let mut rows = Vec::new();
        for (verb, l, p, k) in [
            ("addbr", lib.addbr, proc_.addbr, kernel.addbr),
            ("addif", lib.addif, proc_.addif, kernel.addif),
            ("delif", lib.delif, proc_.delif, kernel.delif),
            ("delbr", lib.delbr, proc_.delbr, kernel.delbr),
        ] {
            let (l, p, k) = (median(l), median(p), median(k));
            let (lib_goal, proc_goal) = if verb == "delbr" {
                ("-", "-")
            } else {
                ("< 1 ms", "<= 1.0x")
            };
            rows.push(row(
                format!("{verb}: library call / durable-write floor"),
                l,
                floor,
                lib_goal,
            ));
            rows.push(row(
                format!("{verb}: our brctl process / bridge-utils brctl"),
                p,
                k,
                proc_goal,
            ));
        }
        rows.push(info(
            "spawn /bin/true / durable-write floor",
            ms(spawn_true),
            ms(floor),
            spawn_true.as_secs_f64() / floor.as_secs_f64(),
        ));

        rows.push(info(
            "spawn our brctl -V (no daemon) / /bin/true",
            ms(spawn_version),
            ms(spawn_true),
            spawn_version.as_secs_f64() / spawn_true.as_secs_f64(),
        ));

        // showmacs: the real daemon code, in a thread, with an in-memory
        // forwarding database; bridge-utils on a kernel bridge.
        spawn(&kernel_brctl, &["addbr", "kf0"], &[]);
        spawn(&kernel_brctl, &["addif", "kf0", "kv1"], &[]);
        let mut kernel_entries = 0;
        let mut per_entry = Vec::new();
        for n in [1_000usize, 10_000] {
            let batch: String = (kernel_entries..n)
                .map(|i| {
                    let m = mac(i);
                    format!(
                        "fdb add {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} dev kv1 master static\n",
                        m[0], m[1], m[2], m[3], m[4], m[5]
                    )
                })
                .collect();
            let file = dir.0.join("fdb.batch");
            fs::write(&file, batch).unwrap();
            let r = Command::new("bridge")
                .arg("-batch")
                .arg(&file)
                .output()
                .expect("running bridge -batch");
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            kernel_entries = n;

            let fdir = TempDir::new(&format!("fdb{n}"));
            let fsock = fdir.0.join("brcompat.sock");
            let server =
                InThread::start(&ns, &fsock, &fdir.0.join("brcompat.conf"), Table(table(n)));
            let mut c = connect(&fsock);
            c.add_bridge("fb0").unwrap();
            c.add_interface("fb0", "fv0").unwrap();
            assert_eq!(c.fdb("fb0").unwrap().len(), n);
            let fsock_s = fsock.to_str().unwrap().to_owned();
            let fenv = [("BRCOMPAT_SOCKET", fsock_s.as_str())];
            let (mut l, mut p, mut k) = (Vec::new(), Vec::new(), Vec::new());
            for r in 0..fdb_rounds {
                for j in 0..3 {
                    match (r + j) % 3 {
                        0 => l.push(time(|| assert_eq!(c.fdb("fb0").unwrap().len(), n))),
                        1 => p.push(time(|| spawn(&our_brctl, &["showmacs", "fb0"], &fenv))),
                        _ => k.push(time(|| spawn(&kernel_brctl, &["showmacs", "kf0"], &[]))),
                    }
                }
            }
            drop(c);
            drop(server);
            let (l, p, k) = (median(l), median(p), median(k));
            let pages = n.div_ceil(PAGE) + 1;
            rows.push(info(
                format!("showmacs {n}: library fdb() ({pages} requests) / bridge-utils"),
                ms(l),
                ms(k),
                l.as_secs_f64() / k.as_secs_f64(),
            ));
            rows.push(row(
                format!("showmacs {n}: our brctl process / bridge-utils brctl"),
                p,
                k,
                "-",
            ));
            per_entry.push((n, l, p, k));
        }
        spawn(&kernel_brctl, &["delbr", "kf0"], &[]);
        let per = |d: Duration, n: usize| d.as_secs_f64() / n as f64;
        let ns_ = |s: f64| format!("{:.0} ns", s * 1e9);
        let (n1, l1, p1, k1) = per_entry[0];
        let (n2, l2, p2, k2) = per_entry[1];
        for (what, a, b) in [
            ("library fdb()", l1, l2),
            ("our brctl showmacs", p1, p2),
            ("bridge-utils brctl showmacs", k1, k2),
        ] {
            let (x, y) = (per(b, n2), per(a, n1));
            let goal = if what == "library fdb()" {
                "<= 1.5x"
            } else {
                "-"
            };
            rows.push(Row {
                what: format!("showmacs per entry, {what}: {n2} / {n1} entries"),
                ours: ns_(x),
                baseline: ns_(y),
                ratio: format!("{:.2}x", x / y),
                goal,
                verdict: match goal {
                    "-" => "info",
                    _ if x / y <= 1.5 => "met",
                    _ => "MISSED",
                },
            });
        }

        println!(
            "medians of {rounds} interleaved rounds (showmacs: {fdb_rounds}); ratio = ours / baseline"
        );
        println!(
            "round trips: brcompatd binary (embedded backend, durable write per change, \
             --datapath {datapath}) in a network namespace; bridge-utils brctl on a kernel \
             bridge in the same namespace"
        );
        println!(
            "showmacs: brcompat::daemon in a thread of this process with an in-memory FDB \
             (FdbSource) of exactly N entries, pages of {PAGE}"
        );
        print(&rows);
    }
}
