//! Benchmark of the switch against the Linux kernel bridge and Open
//! vSwitch's userspace datapath, all in the same run and topology.
//!
//! Three fresh network namespaces (removed at exit and on panic): two hosts
//! and the switch's.
//!
//! ```text
//! h1 eth0 10.0.0.1/24 ── veth ── p1 [ sw ] p2 ── veth ── eth0 10.0.0.2/24 h2
//! ```
//!
//! Three configurations of `sw` run in turn on that topology:
//!
//! - `kernel`: a Linux bridge in `sw` with `p1` and `p2` enslaved;
//! - `switch`: this crate's [`Switch`](netdev_switch::Switch), through its
//!   public API, in this process: a thread that enters `sw`, registers the
//!   platform's classes there and applies a bridge `br0` (local port `br0`,
//!   a tap) with member ports `p1` and `p2` (`system`: AF_PACKET);
//! - `ovs`: Open vSwitch's userspace datapath: a private `ovsdb-server`
//!   (a fresh database in a private directory, `punix:` remote) and
//!   `ovs-vswitchd --disable-system` inside `sw` (`ip netns exec`), a
//!   bridge with `datapath_type=netdev` and ports `p1`, `p2`, with
//!   `other_config:userspace-tso-enable=true`. Both daemons are stopped by
//!   PID at the end, also on a panic. Skipped, saying so, when Open vSwitch
//!   is not installed.
//!
//! Measured for each, with nothing asserted (a program, not a test):
//!
//! 1. 64-byte forwarding: a sender thread in `h1`, pinned to one core,
//!    sends UDP frames to `h2`'s address with raw `AF_PACKET` `sendmmsg`
//!    (32 frames a call) for `--seconds`, as fast as it can; the frames
//!    `p1` received (offered) and `h2`'s `eth0` received (forwarded) are
//!    counter deltas (`ip -s -j link`). Then paced runs at `--rate` Mpps
//!    and at 90% of the rate the configuration forwarded, to see whether it
//!    loses frames below the rate it sustains.
//! 2. Ping round trip: `ping -i 0.01 -c 300` (100 a second) from `h1`; the
//!    median, 99th percentile and mean of the per-packet times it prints.
//! 3. TCP throughput: `iperf3 -c 10.0.0.2 -t N -J` from `h1` against a
//!    one-off server in `h2`, with the veths' offloads as they are by
//!    default (on), then with transmit offloads off on both hosts
//!    (`ethtool -K eth0 tx off`, which also turns TSO off).
//!
//! Then a table: one row per metric, a column per configuration, and the
//! ratios switch/kernel and switch/OVS, with the goals of the issue. Run as
//! root on an otherwise idle machine with two cores or more:
//!
//! ```text
//! cargo run --release -p netdev-switch --example bench_switch -- \
//!     [--seconds 3] [--tcp-seconds 5] [--rate 0.5,0.84] [--only kernel,switch,ovs,ovs-tso]
//! ```

// The sender is raw libc (`sendmmsg` on an AF_PACKET socket), as the
// other benchmarks' floors are: each unsafe block documented.
#![allow(unsafe_code)]

#[cfg(target_os = "linux")]
#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

#[cfg(not(target_os = "linux"))]
fn main() {
    println!(
        "bench_switch: Linux only (network namespaces, veth, AF_PACKET, iperf3, Open vSwitch)"
    );
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::BTreeMap;
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use netdev_switch::{
        BridgeConfig, PortConfig, PortStatus, Switch, SwitchConfig, SwitchOptions,
    };
    use serde_json::Value;

    use super::support::{self, NetNs};

    /// Frame length sent (Ethernet header included, no FCS).
    const FRAME_LEN: usize = 64;
    /// Frames per `sendmmsg`.
    const BATCH: usize = 32;
    /// The sender's core (the other one is left to the switch).
    const TX_CPU: usize = 1;
    /// The hosts' fixed addresses.
    const H1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
    const H2_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
    const H1_IP: [u8; 4] = [10, 0, 0, 1];
    const H2_IP: [u8; 4] = [10, 0, 0, 2];
    /// Pings per run, at 100 a second.
    const PINGS: usize = 300;

    #[derive(Debug)]
    struct Args {
        seconds: f64,
        tcp_seconds: u32,
        rates_mpps: Vec<f64>,
        only: Vec<Config>,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Config {
        Kernel,
        Switch,
        Ovs,
        OvsTso,
    }

    impl Config {
        fn name(self) -> &'static str {
            match self {
                Config::Kernel => "kernel bridge",
                Config::Switch => "netdev-switch",
                Config::Ovs => "OVS userspace",
                Config::OvsTso => "OVS userspace + TSO",
            }
        }
    }

    fn usage() -> ! {
        eprintln!(
            "usage: bench_switch [--seconds N] [--tcp-seconds N] [--rate MPPS,MPPS...] \
             [--only kernel,switch,ovs,ovs-tso]"
        );
        std::process::exit(2);
    }

    fn args() -> Args {
        let mut a = Args {
            seconds: 3.0,
            tcp_seconds: 5,
            rates_mpps: vec![0.5, 0.84],
            only: vec![Config::Kernel, Config::Switch, Config::Ovs, Config::OvsTso],
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            let Some(value) = it.next() else { usage() };
            match flag.as_str() {
                "--seconds" => {
                    a.seconds = value
                        .parse()
                        .ok()
                        .filter(|&s: &f64| s >= 0.2)
                        .unwrap_or_else(|| usage())
                }
                "--tcp-seconds" => {
                    a.tcp_seconds = value
                        .parse()
                        .ok()
                        .filter(|&s| s > 0)
                        .unwrap_or_else(|| usage())
                }
                "--rate" => {
                    let list: Option<Vec<f64>> = value
                        .split(',')
                        .map(|v| v.parse().ok().filter(|&r: &f64| r > 0.0))
                        .collect();
                    a.rates_mpps = list.unwrap_or_else(|| usage());
                }
                "--only" => {
                    let list: Option<Vec<Config>> = value
                        .split(',')
                        .map(|v| match v {
                            "kernel" => Some(Config::Kernel),
                            "switch" => Some(Config::Switch),
                            "ovs" => Some(Config::Ovs),
                            "ovs-tso" => Some(Config::OvsTso),
                            _ => None,
                        })
                        .collect();
                    a.only = list.unwrap_or_else(|| usage());
                    a.only.sort_unstable();
                    a.only.dedup();
                }
                _ => usage(),
            }
        }
        a
    }

    // ---------------------------------------------------------------
    // Processes: argument vectors only, every child killed by PID when its
    // guard drops (and sent SIGTERM should this process die first).

    /// Makes `cmd`'s process receive SIGTERM when the thread that spawned
    /// it exits (a killed benchmark leaves no daemon behind).
    fn die_with_parent(cmd: &mut Command) -> &mut Command {
        // SAFETY: the closure runs in the forked child before exec and
        // only makes one async-signal-safe system call, prctl(2).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        }
    }

    /// A child process, stopped (SIGTERM, then SIGKILL after 3 s) and
    /// reaped when this drops.
    #[derive(Debug)]
    struct ChildGuard {
        what: String,
        child: Option<Child>,
    }

    impl ChildGuard {
        fn spawn(what: &str, cmd: &mut Command) -> ChildGuard {
            let child = die_with_parent(cmd)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
            ChildGuard {
                what: what.to_owned(),
                child: Some(child),
            }
        }

        fn pid(&self) -> u32 {
            self.child.as_ref().map_or(0, Child::id)
        }

        /// Whether it still runs.
        fn running(&mut self) -> bool {
            match &mut self.child {
                Some(c) => matches!(c.try_wait(), Ok(None)),
                None => false,
            }
        }

        /// Waits at most `limit` for it to exit by itself, then stops it;
        /// returns its stdout (if piped) and whether it exited in time
        /// with status 0.
        fn finish(mut self, limit: Duration) -> (String, bool) {
            let mut child = self.child.take().expect("a child");
            let mut out = String::new();
            let reader = child.stdout.take().map(|mut s| {
                std::thread::spawn(move || {
                    let mut text = String::new();
                    let _ = s.read_to_string(&mut text);
                    text
                })
            });
            let deadline = Instant::now() + limit;
            let mut ok = false;
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        ok = status.success();
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        eprintln!("{} did not finish in {limit:?}: stopped", self.what);
                        stop(&self.what, &mut child);
                        break;
                    }
                }
            }
            if let Some(r) = reader {
                out = r.join().unwrap_or_default();
            }
            (out, ok)
        }
    }

    /// SIGTERM by PID, SIGKILL if it is still there after 3 s; reaps it.
    fn stop(what: &str, child: &mut Child) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "warning: {what} (pid {}) ignored SIGTERM: killed",
            child.id()
        );
        let _ = child.kill();
        let _ = child.wait();
    }

    impl Drop for ChildGuard {
        fn drop(&mut self) {
            if let Some(mut c) = self.child.take() {
                stop(&self.what, &mut c);
            }
        }
    }

    /// `ip netns exec NS program args...`.
    fn in_ns(ns: &NetNs, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns.name(), program]).args(args);
        c
    }

    /// Runs a command, returning its stdout, or its stderr as the error.
    fn try_run(cmd: &mut Command) -> Result<String, String> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{cmd:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    // ---------------------------------------------------------------
    // Topology.

    #[derive(Debug)]
    struct Topology {
        h1: NetNs,
        h2: NetNs,
        sw: NetNs,
    }

    fn mac_text(m: [u8; 6]) -> String {
        m.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    impl Topology {
        fn new() -> Topology {
            let t = Topology {
                h1: NetNs::new(),
                h2: NetNs::new(),
                sw: NetNs::new(),
            };
            for (host, port, mac, ip) in [
                (&t.h1, "p1", H1_MAC, "10.0.0.1/24"),
                (&t.h2, "p2", H2_MAC, "10.0.0.2/24"),
            ] {
                t.sw.ip(&[
                    "link",
                    "add",
                    port,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    host.name(),
                ]);
                host.ip(&["link", "set", "eth0", "address", &mac_text(mac)]);
                host.ip(&["addr", "add", ip, "dev", "eth0"]);
                host.ip(&["link", "set", "eth0", "up"]);
                t.sw.ip(&["link", "set", port, "up"]);
            }
            t
        }

        /// `ip -s -j link show DEV` in `ns`: (rx packets, rx dropped).
        fn rx(ns: &NetNs, dev: &str) -> (u64, u64) {
            let text = ns.ip(&["-s", "-j", "link", "show", "dev", dev]);
            let v: Value = serde_json::from_str(&text).expect("ip -j prints JSON");
            let rx = &v[0]["stats64"]["rx"];
            (
                rx["packets"].as_u64().expect("rx packets"),
                rx["dropped"].as_u64().unwrap_or(0),
            )
        }

        /// Sets transmit checksum offload (and so TSO) on both hosts.
        fn set_tx_offload(&self, on: bool) {
            let state = if on { "on" } else { "off" };
            for h in [&self.h1, &self.h2] {
                h.exec("ethtool", &["-K", "eth0", "tx", state]);
            }
        }
    }

    // ---------------------------------------------------------------
    // The three configurations, each a guard that undoes itself.

    trait Running {
        /// Extra lines about the run (counters), for the report.
        fn notes(&self) -> Vec<String> {
            Vec::new()
        }
    }

    #[derive(Debug)]
    struct KernelBridge<'a> {
        sw: &'a NetNs,
    }

    impl<'a> KernelBridge<'a> {
        fn start(sw: &'a NetNs) -> KernelBridge<'a> {
            sw.ip(&["link", "add", "name", "kbr", "type", "bridge"]);
            let b = KernelBridge { sw };
            for p in ["p1", "p2"] {
                sw.ip(&["link", "set", p, "master", "kbr"]);
            }
            sw.ip(&["link", "set", "kbr", "up"]);
            b
        }
    }

    impl Running for KernelBridge<'_> {}

    impl Drop for KernelBridge<'_> {
        fn drop(&mut self) {
            if let Err(e) =
                try_run(Command::new("ip").args(["-n", self.sw.name(), "link", "del", "kbr"]))
            {
                eprintln!("warning: removing the kernel bridge: {e}");
            }
        }
    }

    enum SwitchRequest {
        Ports(mpsc::Sender<Option<Vec<PortStatus>>>),
    }

    /// The switch, run by a thread inside `sw` that owns it until this
    /// drops.
    struct OurSwitch {
        requests: Option<mpsc::Sender<SwitchRequest>>,
        thread: Option<JoinHandle<()>>,
    }

    impl OurSwitch {
        fn start(sw: &NetNs) -> Result<OurSwitch, String> {
            let path = sw.path();
            let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
            let (req_tx, req_rx) = mpsc::channel::<SwitchRequest>();
            let thread = std::thread::Builder::new()
                .name("bench-switch".into())
                .spawn(move || {
                    let target = match std::fs::File::open(&path) {
                        Ok(f) => f,
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("{}: {e}", path.display())));
                            return;
                        }
                    };
                    // This thread stays in `sw` until it exits: the
                    // classes' sockets and the datapath thread are made
                    // here.
                    if let Err(e) = nix::sched::setns(&target, nix::sched::CloneFlags::CLONE_NEWNET)
                    {
                        let _ = ready_tx.send(Err(format!("setns: {e}")));
                        return;
                    }
                    let registry = netdev::Registry::new();
                    if let Err(e) = netdev::register_platform(&registry) {
                        let _ = ready_tx.send(Err(format!("register_platform: {e}")));
                        return;
                    }
                    let switch = match Switch::new(registry, SwitchOptions::default()) {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("Switch::new: {e}")));
                            return;
                        }
                    };
                    let config = SwitchConfig::new().bridge(
                        "br0",
                        BridgeConfig::with_local_port("br0")
                            .port("p1", PortConfig::member("p1"))
                            .port("p2", PortConfig::member("p2")),
                    );
                    let problems = switch.apply(&config);
                    if !problems.is_empty() {
                        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
                        let _ = ready_tx.send(Err(text.join("; ")));
                        return;
                    }
                    let _ = ready_tx.send(Ok(()));
                    // Until the guard drops its sender.
                    for req in req_rx {
                        match req {
                            SwitchRequest::Ports(reply) => {
                                let _ = reply.send(switch.ports("br0"));
                            }
                        }
                    }
                    drop(switch);
                })
                .map_err(|e| format!("spawning the switch thread: {e}"))?;
            let guard = OurSwitch {
                requests: Some(req_tx),
                thread: Some(thread),
            };
            match ready_rx.recv() {
                Ok(Ok(())) => Ok(guard),
                Ok(Err(e)) => Err(e),
                Err(_) => Err("the switch thread panicked while starting".into()),
            }
        }

        fn ports(&self) -> Option<Vec<PortStatus>> {
            let (tx, rx) = mpsc::channel();
            self.requests
                .as_ref()?
                .send(SwitchRequest::Ports(tx))
                .ok()?;
            rx.recv().ok().flatten()
        }
    }

    impl Running for OurSwitch {
        fn notes(&self) -> Vec<String> {
            let Some(ports) = self.ports() else {
                return vec!["switch: no port status (bridge gone?)".into()];
            };
            ports
                .iter()
                .map(|p| {
                    let c = &p.counters;
                    format!(
                        "switch port {} ({}): rx {} fwd {} flood {} drop {} tx {} \
                         tx_drop {} rx_overruns {}",
                        p.name,
                        p.active.as_deref().unwrap_or("-"),
                        c.rx_packets,
                        c.forwarded,
                        c.flooded,
                        c.dropped,
                        c.tx_packets,
                        c.tx_dropped,
                        c.rx_overruns
                    )
                })
                .collect()
        }
    }

    impl Drop for OurSwitch {
        fn drop(&mut self) {
            self.requests.take();
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    /// Where Debian's package puts the schema.
    const OVS_SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

    fn ovs_installed() -> Result<(), String> {
        for prog in ["ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl"] {
            if try_run(Command::new(prog).arg("--version")).is_err() {
                return Err(format!("{prog} not found"));
            }
        }
        if !Path::new(OVS_SCHEMA).is_file() {
            return Err(format!("no {OVS_SCHEMA}"));
        }
        Ok(())
    }

    /// A private Open vSwitch: its directory, database server and
    /// switch daemon, stopped by PID and removed when this drops.
    struct Ovs {
        dir: PathBuf,
        // Drop order: the switch daemon first, then the database.
        vswitchd: Option<ChildGuard>,
        ovsdb: Option<ChildGuard>,
    }

    impl Ovs {
        fn env(&self, cmd: &mut Command) {
            for var in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"] {
                cmd.env(var, &self.dir);
            }
        }

        fn file(&self, name: &str) -> String {
            self.dir.join(name).to_str().expect("UTF-8 path").to_owned()
        }

        fn db(&self) -> String {
            format!("--db=unix:{}", self.file("db.sock"))
        }

        fn vsctl(&self, args: &[&str]) -> Result<String, String> {
            let mut c = Command::new("ovs-vsctl");
            self.env(&mut c);
            c.arg(self.db()).arg("--timeout=20").args(args);
            try_run(&mut c)
        }

        fn log_tail(&self, name: &str) -> String {
            let text = std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        }

        /// `tso`: with `other_config:userspace-tso-enable=true` (read only
        /// at start-up).
        fn start(sw: &NetNs, tso: bool) -> Result<Ovs, String> {
            ovs_installed()?;
            let dir = std::env::temp_dir().join(format!(
                "bench-switch-ovs-{}-{}",
                std::process::id(),
                Instant::now().elapsed().as_nanos()
            ));
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let mut ovs = Ovs {
                dir,
                vswitchd: None,
                ovsdb: None,
            };
            let mut c = Command::new("ovsdb-tool");
            ovs.env(&mut c);
            c.args(["create", &ovs.file("conf.db"), OVS_SCHEMA]);
            try_run(&mut c)?;

            let mut c = Command::new("ovsdb-server");
            ovs.env(&mut c);
            c.arg(ovs.file("conf.db"))
                .arg(format!("--remote=punix:{}", ovs.file("db.sock")))
                .arg(format!("--pidfile={}", ovs.file("ovsdb-server.pid")))
                .arg(format!("--log-file={}", ovs.file("ovsdb-server.log")))
                .arg(format!("--unixctl={}", ovs.file("ovsdb-server.ctl")))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            ovs.ovsdb = Some(ChildGuard::spawn("ovsdb-server", &mut c));
            let deadline = Instant::now() + Duration::from_secs(10);
            while !ovs.dir.join("db.sock").exists() {
                let alive = ovs.ovsdb.as_mut().is_some_and(ChildGuard::running);
                if !alive || Instant::now() > deadline {
                    return Err(format!(
                        "ovsdb-server did not start:\n{}",
                        ovs.log_tail("ovsdb-server.log")
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            ovs.vsctl(&["--no-wait", "init"])?;
            if tso {
                // Read at start-up: set before the daemon runs.
                ovs.vsctl(&[
                    "--no-wait",
                    "set",
                    "Open_vSwitch",
                    ".",
                    "other_config:userspace-tso-enable=true",
                ])?;
            }

            let mut c = in_ns(
                sw,
                "ovs-vswitchd",
                &[
                    &format!("unix:{}", ovs.file("db.sock")),
                    "--disable-system",
                    &format!("--pidfile={}", ovs.file("ovs-vswitchd.pid")),
                    &format!("--log-file={}", ovs.file("ovs-vswitchd.log")),
                    &format!("--unixctl={}", ovs.file("ovs-vswitchd.ctl")),
                ],
            );
            ovs.env(&mut c);
            c.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            ovs.vswitchd = Some(ChildGuard::spawn("ovs-vswitchd", &mut c));
            let added = ovs.vsctl(&[
                "add-br",
                "brovs",
                "--",
                "set",
                "bridge",
                "brovs",
                "datapath_type=netdev",
                "--",
                "add-port",
                "brovs",
                "p1",
                "--",
                "add-port",
                "brovs",
                "p2",
            ]);
            if let Err(e) = added {
                return Err(format!(
                    "{e}\novs-vswitchd log:\n{}",
                    ovs.log_tail("ovs-vswitchd.log")
                ));
            }
            for p in ["p1", "p2"] {
                let ofport = ovs.vsctl(&["get", "Interface", p, "ofport"])?;
                let error = ovs.vsctl(&["get", "Interface", p, "error"])?;
                if ofport.trim().parse::<i64>().unwrap_or(-1) <= 0 {
                    return Err(format!(
                        "OVS port {p}: ofport {} error {}\n{}",
                        ofport.trim(),
                        error.trim(),
                        ovs.log_tail("ovs-vswitchd.log")
                    ));
                }
            }
            Ok(ovs)
        }
    }

    impl Running for Ovs {
        fn notes(&self) -> Vec<String> {
            let mut notes = vec![format!(
                "ovs-vswitchd pid {}, ovsdb-server pid {}, in {}",
                self.vswitchd.as_ref().map_or(0, ChildGuard::pid),
                self.ovsdb.as_ref().map_or(0, ChildGuard::pid),
                self.dir.display()
            )];
            for p in ["p1", "p2"] {
                if let Ok(s) = self.vsctl(&["get", "Interface", p, "statistics"]) {
                    notes.push(format!("OVS {p}: {}", s.trim()));
                }
            }
            if let Ok(s) = self.vsctl(&["get", "Open_vSwitch", ".", "other_config"]) {
                notes.push(format!("OVS other_config: {}", s.trim()));
            }
            notes
        }
    }

    impl Drop for Ovs {
        fn drop(&mut self) {
            // Each stopped by PID; the switch daemon first.
            drop(self.vswitchd.take());
            drop(self.ovsdb.take());
            if let Err(e) = std::fs::remove_dir_all(&self.dir) {
                eprintln!("warning: removing {}: {e}", self.dir.display());
            }
        }
    }

    // ---------------------------------------------------------------
    // The raw sender.

    /// A 64-byte UDP/IPv4 frame from h1 to h2 (port 9), its source port
    /// varying with `i`.
    fn frame(i: usize) -> [u8; FRAME_LEN] {
        let mut f = [0u8; FRAME_LEN];
        f[..6].copy_from_slice(&H2_MAC);
        f[6..12].copy_from_slice(&H1_MAC);
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip_len = (FRAME_LEN - 14) as u16;
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&H1_IP);
        ip[16..20].copy_from_slice(&H2_IP);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        let udp = &mut f[34..42];
        udp[0..2].copy_from_slice(&(10_000 + (i as u16 % 1000)).to_be_bytes());
        udp[2..4].copy_from_slice(&9u16.to_be_bytes());
        udp[4..6].copy_from_slice(&((FRAME_LEN - 34) as u16).to_be_bytes());
        // Checksum 0: none (allowed for UDP over IPv4).
        f
    }

    /// Sends from `h1`'s `eth0` for `duration`, as fast as possible
    /// (`rate` `None`) or paced to `rate` frames a second; returns the
    /// frames `sendmmsg` accepted and the time spent.
    fn send(h1: &NetNs, duration: Duration, rate: Option<f64>) -> (u64, Duration) {
        let path = h1.path();
        let handle = std::thread::spawn(move || {
            let target = std::fs::File::open(&path).expect("opening h1");
            nix::sched::setns(&target, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns h1");
            let mut set = nix::sched::CpuSet::new();
            set.set(TX_CPU).expect("cpu index");
            let _ = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set);
            let ifindex = nix::net::if_::if_nametoindex("eth0").expect("h1 eth0");
            sender_loop(ifindex, duration, rate)
        });
        handle.join().expect("the sender thread panicked")
    }

    fn sender_loop(ifindex: u32, duration: Duration, rate: Option<f64>) -> (u64, Duration) {
        use std::mem::{size_of, zeroed};
        // SAFETY: socket(2) with constant arguments; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        // SAFETY: sockaddr_ll is plain old data; all zeroes is valid.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = 0;
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid sockaddr_ll and its size is passed.
        let r = unsafe {
            libc::bind(
                raw,
                (&sll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        assert!(r == 0, "bind: {}", std::io::Error::last_os_error());
        let frames: Vec<[u8; FRAME_LEN]> = (0..BATCH).map(frame).collect();
        let mut iov: Vec<libc::iovec> = frames
            .iter()
            .map(|f| libc::iovec {
                iov_base: f.as_ptr() as *mut libc::c_void,
                iov_len: FRAME_LEN,
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                // SAFETY: mmsghdr is plain old data; all zeroes is valid.
                let mut m: libc::mmsghdr = unsafe { zeroed() };
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        let start = Instant::now();
        let mut sent: u64 = 0;
        let mut errors: u64 = 0;
        loop {
            let elapsed = start.elapsed();
            if elapsed >= duration {
                break;
            }
            if let Some(rate) = rate {
                let due = elapsed.as_secs_f64() * rate;
                if (sent as f64) >= due {
                    std::hint::spin_loop();
                    continue;
                }
            }
            // SAFETY: `msgs` holds BATCH valid headers whose iovecs point
            // at `frames`, both alive and unmoved for the whole call.
            let n = unsafe { libc::sendmmsg(raw, msgs.as_mut_ptr(), BATCH as u32, 0) };
            if n > 0 {
                sent += n as u64;
            } else {
                errors += 1;
            }
        }
        let elapsed = start.elapsed();
        if errors > 0 {
            eprintln!("sender: {errors} sendmmsg calls failed (ENOBUFS and the like)");
        }
        (sent, elapsed)
    }

    #[derive(Debug, Clone, Copy)]
    struct Forwarding {
        /// Frames `sendmmsg` accepted a second.
        sent_pps: f64,
        /// Frames `p1` received a second (offered to the switch).
        offered_pps: f64,
        /// Frames h2 received a second.
        forwarded_pps: f64,
        /// 1 - forwarded/offered, in percent.
        loss_pct: f64,
    }

    fn forwarding(t: &Topology, duration: Duration, rate: Option<f64>) -> Forwarding {
        let (p1_before, _) = Topology::rx(&t.sw, "p1");
        let (h2_before, _) = Topology::rx(&t.h2, "eth0");
        let (sent, elapsed) = send(&t.h1, duration, rate);
        // Let queues drain.
        std::thread::sleep(Duration::from_millis(300));
        let (p1_after, _) = Topology::rx(&t.sw, "p1");
        let (h2_after, _) = Topology::rx(&t.h2, "eth0");
        let secs = elapsed.as_secs_f64();
        let offered = p1_after.saturating_sub(p1_before) as f64;
        let forwarded = h2_after.saturating_sub(h2_before) as f64;
        Forwarding {
            sent_pps: sent as f64 / secs,
            offered_pps: offered / secs,
            forwarded_pps: forwarded / secs,
            loss_pct: if offered > 0.0 {
                (100.0 * (1.0 - forwarded / offered)).max(0.0)
            } else {
                f64::NAN
            },
        }
    }

    // ---------------------------------------------------------------
    // Ping and iperf3.

    #[derive(Debug, Clone, Copy)]
    struct Rtt {
        median_us: f64,
        p99_us: f64,
        mean_us: f64,
        lost: usize,
    }

    fn ping(t: &Topology) -> Option<Rtt> {
        let count = PINGS.to_string();
        let out = in_ns(
            &t.h1,
            "ping",
            &["-n", "-i", "0.01", "-c", &count, "-W", "1", "10.0.0.2"],
        )
        .stdin(Stdio::null())
        .output();
        // ping exits 1 when some replies are missing: parse what came.
        let out = match out {
            Ok(o) => String::from_utf8_lossy(&o.stdout).into_owned(),
            Err(e) => {
                eprintln!("cannot run ping: {e}");
                return None;
            }
        };
        let mut times: Vec<f64> = out
            .lines()
            .filter_map(|l| l.split("time=").nth(1))
            .filter_map(|r| r.split_whitespace().next())
            .filter_map(|v| v.parse::<f64>().ok())
            .map(|ms| ms * 1000.0)
            .collect();
        if times.is_empty() {
            return None;
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
        Some(Rtt {
            median_us: pct(0.5),
            p99_us: pct(0.99),
            mean_us: times.iter().sum::<f64>() / times.len() as f64,
            lost: PINGS - times.len(),
        })
    }

    fn iperf_installed() -> bool {
        try_run(Command::new("iperf3").arg("--version")).is_ok()
    }

    /// `Tcp: InCsumErrors` of `ns` (segments dropped for a bad checksum).
    fn tcp_csum_errors(ns: &NetNs) -> u64 {
        let snmp = ns.exec("cat", &["/proc/net/snmp"]);
        let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
        let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
            return 0;
        };
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(n, _)| *n == "InCsumErrors")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }

    /// One iperf3 run; bits per second received, or `None` (printed why).
    fn iperf(t: &Topology, seconds: u32) -> Option<f64> {
        let mut server = in_ns(&t.h2, "iperf3", &["-s", "-1", "-B", "10.0.0.2"]);
        server
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let server = ChildGuard::spawn("iperf3 server", &mut server);
        // Until it listens.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let listening =
                t.h2.exec("ss", &["-Htln", "sport", "= :5201"])
                    .contains("5201");
            if listening || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let secs = seconds.to_string();
        let mut client = in_ns(
            &t.h1,
            "iperf3",
            &[
                "-c",
                "10.0.0.2",
                "-t",
                &secs,
                "-J",
                "--connect-timeout",
                "3000",
            ],
        );
        client
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let client = ChildGuard::spawn("iperf3 client", &mut client);
        let (out, ok) = client.finish(Duration::from_secs(u64::from(seconds) + 15));
        drop(server);
        let v: Value = match serde_json::from_str(&out) {
            Ok(v) => v,
            Err(_) => {
                eprintln!("iperf3: no JSON (exited ok: {ok})");
                return None;
            }
        };
        if let Some(e) = v["error"].as_str() {
            eprintln!("iperf3: {e}");
        }
        v["end"]["sum_received"]["bits_per_second"].as_f64()
    }

    // ---------------------------------------------------------------
    // Running a configuration and the table.

    #[derive(Debug, Default, Clone)]
    struct Results {
        full: Option<Forwarding>,
        /// Paced runs: (rate in Mpps, result).
        paced: Vec<(f64, Forwarding)>,
        paced90: Option<Forwarding>,
        rtt: Option<Rtt>,
        tcp_on: Option<f64>,
        tcp_off: Option<f64>,
        notes: Vec<String>,
        skipped: Option<String>,
    }

    fn measure(t: &Topology, a: &Args, running: &dyn Running) -> Results {
        let mut r = Results::default();
        // Learning and ARP: both hosts' addresses known before timing.
        let _ = try_run(&mut in_ns(
            &t.h1,
            "ping",
            &["-n", "-c", "3", "-i", "0.2", "-W", "1", "10.0.0.2"],
        ));
        r.rtt = ping(t);
        let d = Duration::from_secs_f64(a.seconds);
        let full = forwarding(t, d, None);
        r.full = Some(full);
        for &rate in &a.rates_mpps {
            r.paced.push((rate, forwarding(t, d, Some(rate * 1e6))));
        }
        if full.forwarded_pps > 1000.0 {
            r.paced90 = Some(forwarding(t, d, Some(full.forwarded_pps * 0.9)));
        }
        r.notes = running.notes();
        if !iperf_installed() {
            return r;
        }
        let csum_before = tcp_csum_errors(&t.h2);
        // A run that could not connect or measure counts as 0 (why is
        // printed above the results).
        r.tcp_on = iperf(t, a.tcp_seconds).or(Some(0.0));
        let csum_errors = tcp_csum_errors(&t.h2).saturating_sub(csum_before);
        t.set_tx_offload(false);
        r.tcp_off = iperf(t, a.tcp_seconds).or(Some(0.0));
        t.set_tx_offload(true);
        r.notes = running.notes();
        r.notes.push(format!(
            "h2 TCP InCsumErrors during the offloads-on TCP run: {csum_errors}"
        ));
        r
    }

    fn run_config(t: &Topology, a: &Args, c: Config) -> Results {
        // Other work on the machine skews every figure: say how busy it is.
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!("\n== {} == (load average {})", c.name(), load.trim());
        let r = match c {
            Config::Kernel => {
                let b = KernelBridge::start(&t.sw);
                measure(t, a, &b)
            }
            Config::Switch => match OurSwitch::start(&t.sw) {
                Ok(s) => measure(t, a, &s),
                Err(e) => Results {
                    skipped: Some(format!("switch did not start: {e}")),
                    ..Results::default()
                },
            },
            Config::Ovs | Config::OvsTso => match Ovs::start(&t.sw, c == Config::OvsTso) {
                Ok(o) => measure(t, a, &o),
                Err(e) => Results {
                    skipped: Some(format!("OVS skipped: {e}")),
                    ..Results::default()
                },
            },
        };
        if let Some(s) = &r.skipped {
            println!("{s}");
        }
        if let Some(f) = r.full {
            println!(
                "full speed: sent {:.3} Mpps, p1 received {:.3} Mpps, h2 received {:.3} Mpps, \
                 loss {:.1}%",
                f.sent_pps / 1e6,
                f.offered_pps / 1e6,
                f.forwarded_pps / 1e6,
                f.loss_pct
            );
        }
        let paced = r
            .paced
            .iter()
            .map(|(rate, f)| (format!("paced at {rate} Mpps"), Some(*f)));
        let ninety = [("paced at 90% of forwarded".to_owned(), r.paced90)];
        for (what, f) in paced.chain(ninety) {
            if let Some(f) = f {
                println!(
                    "{what}: sent {:.3} Mpps, p1 received {:.3} Mpps, h2 received {:.3} Mpps, \
                     loss {:.2}%",
                    f.sent_pps / 1e6,
                    f.offered_pps / 1e6,
                    f.forwarded_pps / 1e6,
                    f.loss_pct
                );
            }
        }
        if let Some(p) = r.rtt {
            println!(
                "ping: median {:.0} us, p99 {:.0} us, mean {:.0} us, lost {} of {PINGS}",
                p.median_us, p.p99_us, p.mean_us, p.lost
            );
        }
        for n in &r.notes {
            println!("{n}");
        }
        r
    }

    /// One table row: a value per configuration.
    struct Row {
        name: String,
        unit: &'static str,
        values: BTreeMap<Config, f64>,
        goal: &'static str,
        /// The OVS column the goal compares with.
        ovs_tso_goal: bool,
    }

    fn fmt(v: Option<f64>, digits: usize) -> String {
        match v {
            Some(v) if v.is_finite() => format!("{v:.digits$}"),
            _ => "-".into(),
        }
    }

    fn print_table(results: &BTreeMap<Config, Results>, a: &Args) {
        let get = |f: &dyn Fn(&Results) -> Option<f64>| -> BTreeMap<Config, f64> {
            results
                .iter()
                .filter_map(|(c, r)| f(r).map(|v| (*c, v)))
                .collect()
        };
        let mut rows = vec![
            Row {
                name: "64 B offered to p1 (full speed)".into(),
                unit: "Mpps",
                values: get(&|r| r.full.map(|f| f.offered_pps / 1e6)),
                goal: "",
                ovs_tso_goal: false,
            },
            Row {
                name: "64 B forwarded (full speed)".into(),
                unit: "Mpps",
                values: get(&|r| r.full.map(|f| f.forwarded_pps / 1e6)),
                goal: ">= 2x OVS",
                ovs_tso_goal: false,
            },
            Row {
                name: "64 B loss (full speed)".into(),
                unit: "%",
                values: get(&|r| r.full.map(|f| f.loss_pct)),
                goal: "",
                ovs_tso_goal: false,
            },
            Row {
                name: "64 B loss at 90% of own forwarded".into(),
                unit: "%",
                values: get(&|r| r.paced90.map(|f| f.loss_pct)),
                goal: "0",
                ovs_tso_goal: false,
            },
            Row {
                name: "ping RTT median".into(),
                unit: "us",
                values: get(&|r| r.rtt.map(|p| p.median_us)),
                goal: "<= 0.5x OVS, <= 3x kernel",
                ovs_tso_goal: false,
            },
            Row {
                name: "ping RTT p99".into(),
                unit: "us",
                values: get(&|r| r.rtt.map(|p| p.p99_us)),
                goal: "",
                ovs_tso_goal: false,
            },
            Row {
                name: "ping RTT mean".into(),
                unit: "us",
                values: get(&|r| r.rtt.map(|p| p.mean_us)),
                goal: "",
                ovs_tso_goal: false,
            },
            Row {
                name: "TCP, offloads on (OVS: userspace TSO)".into(),
                unit: "Gbit/s",
                values: get(&|r| r.tcp_on.map(|b| b / 1e9)),
                goal: ">= 2x OVS+TSO",
                ovs_tso_goal: true,
            },
            Row {
                name: "TCP, tx offload off".into(),
                unit: "Gbit/s",
                values: get(&|r| r.tcp_off.map(|b| b / 1e9)),
                goal: "",
                ovs_tso_goal: false,
            },
        ];
        for (i, &rate) in a.rates_mpps.iter().enumerate() {
            rows.insert(
                3 + i,
                Row {
                    name: format!("64 B loss at {rate} Mpps offered"),
                    unit: "%",
                    values: get(&|r| r.paced.get(i).map(|(_, f)| f.loss_pct)),
                    goal: "0 below its rate",
                    ovs_tso_goal: false,
                },
            );
        }
        println!();
        println!(
            "| metric | unit | kernel bridge | netdev-switch | OVS userspace | OVS + TSO | \
             switch/kernel | switch/OVS | switch/OVS+TSO | goal | result |"
        );
        println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |");
        for r in &rows {
            let digits = match r.unit {
                "Mpps" => 3,
                "%" => 2,
                "Gbit/s" => 2,
                _ => 0,
            };
            let v = |c| r.values.get(&c).copied();
            let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) if y != 0.0 && !r.unit.starts_with('%') => {
                    format!("{:.2}x", x / y)
                }
                _ => "-".into(),
            };
            let ovs = if r.ovs_tso_goal {
                v(Config::OvsTso)
            } else {
                v(Config::Ovs)
            };
            let (sw, kernel) = (v(Config::Switch), v(Config::Kernel));
            let result = match (r.goal, sw) {
                ("", _) | (_, None) => "-",
                (">= 2x OVS" | ">= 2x OVS+TSO", Some(sw)) => match ovs {
                    Some(o) if sw >= 2.0 * o => "met",
                    Some(_) => "MISSED",
                    None => "-",
                },
                ("<= 0.5x OVS, <= 3x kernel", Some(sw)) => match (ovs, kernel) {
                    (Some(o), Some(k)) if sw <= 0.5 * o && sw <= 3.0 * k => "met",
                    (Some(_), Some(_)) => "MISSED",
                    _ => "-",
                },
                (_, Some(0.0)) => "met",
                (_, Some(_)) => "MISSED",
            };
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {result} |",
                r.name,
                r.unit,
                fmt(kernel, digits),
                fmt(sw, digits),
                fmt(v(Config::Ovs), digits),
                fmt(v(Config::OvsTso), digits),
                ratio(sw, kernel),
                ratio(sw, v(Config::Ovs)),
                ratio(sw, v(Config::OvsTso)),
                if r.goal.is_empty() { "-" } else { r.goal }
            );
        }
    }

    pub(super) fn main() {
        let a = args();
        support::require_root();
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "?".into());
        println!(
            "bench_switch: Linux {release}, {} cpus; forwarding runs {} s (sender raw \
             sendmmsg, {BATCH} frames of {FRAME_LEN} B a call, pinned to cpu {TX_CPU}); \
             {PINGS} pings at 100/s; iperf3 {} s",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            a.seconds,
            a.tcp_seconds
        );
        let want_ovs = a.only.contains(&Config::Ovs) || a.only.contains(&Config::OvsTso);
        let only: Vec<Config> = match (want_ovs, ovs_installed()) {
            (true, Err(e)) => {
                println!("Open vSwitch not installed ({e}): the OVS column is skipped");
                a.only
                    .iter()
                    .copied()
                    .filter(|&c| c != Config::Ovs && c != Config::OvsTso)
                    .collect()
            }
            _ => a.only.clone(),
        };
        if !iperf_installed() {
            println!("iperf3 not installed: no TCP rows");
        }
        let t = Topology::new();
        println!(
            "namespaces: h1 {}, h2 {}, sw {}",
            t.h1.name(),
            t.h2.name(),
            t.sw.name()
        );
        let mut results = BTreeMap::new();
        for c in only {
            let r = run_config(&t, &a, c);
            results.insert(c, r);
        }
        print_table(&results, &a);
        println!(
            "\nTCP rows: veth offloads as by default (tx checksum, TSO, GSO on) in the first; \
             `ethtool -K eth0 tx off` on both hosts in the second. OVS userspace runs \
             without, OVS + TSO with other_config:userspace-tso-enable=true. Ratios \
             are of the unrounded values; nothing is asserted."
        );
    }
}
