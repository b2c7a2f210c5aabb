//! Benchmark of brcompat on a real Open vSwitch against `ovs-vsctl`,
//! measured side by side in the same run.
//!
//! ```sh
//! cargo build --release -p brcompat --bins --examples && target/release/examples/bench_brcompat_ovs
//! ```
//!
//! As root (it makes a network namespace), with Open vSwitch installed
//! (Debian's `openvswitch-switch`); Linux only. Option: `--rounds N`
//! (interleaved rounds, default 30).
//!
//! Set-up: a private `ovsdb-server` (fresh database), `ovs-vswitchd` with
//! the userspace datapath in a namespace, and the `brcompatd` binary built
//! beside this example run as users run it (`ip netns exec NS brcompatd
//! --backend ovs --db unix:SOCK --ovs-datapath-type netdev`).
//!
//! Each round runs three variants once, in an order that rotates from
//! round to round; each does `addbr` + `addif` + `delbr` of its own bridge
//! and veth, and every step returns once `ovs-vswitchd` has applied it:
//! - the client library (`brcompat::client::Client`, one connection) to
//!   brcompatd;
//! - our `brctl` binary, one process per step;
//! - `ovs-vsctl --db=unix:SOCK add-br B -- set bridge B
//!   datapath_type=netdev`, `add-port B V`, `del-br B`, one process per
//!   step, waiting for `ovs-vswitchd` (no `--no-wait`), as a user would
//!   run it.
//!
//! It prints the median of each step and of the whole cycle, and the
//! ratios to `ovs-vsctl`; it asserts nothing about them.

#[cfg(target_os = "linux")]
#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

#[cfg(target_os = "linux")]
#[path = "../tests/ovs_support/mod.rs"]
mod ovs_support;

#[cfg(target_os = "linux")]
mod bench_util;

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("bench_brcompat_ovs runs on Linux only (it needs network namespaces)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use brcompat::client::Client;
    use ovs_client::testing::OvsdbServer;

    use super::bench_util::{median, ms, sibling};
    use super::ovs_support::{OvsDaemon, Vswitchd};
    use super::support::{self, NetNs};

    const TIMEOUT: Duration = Duration::from_secs(10);
    const STEPS: [&str; 3] = ["addbr", "addif", "delbr"];

    /// Runs `program args`; panics unless it succeeds (a benchmark of
    /// failures is no benchmark).
    fn run(program: &Path, args: &[&str], env: &[(&str, &Path)]) {
        let out = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("spawning");
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// One variant's timings: per step, and per cycle.
    #[derive(Default)]
    struct Times {
        steps: [Vec<Duration>; 3],
        cycle: Vec<Duration>,
    }

    impl Times {
        /// Times `op(step)` for each step of a cycle.
        fn cycle(&mut self, mut op: impl FnMut(usize)) {
            let start = Instant::now();
            for (i, times) in self.steps.iter_mut().enumerate() {
                let t = Instant::now();
                op(i);
                times.push(t.elapsed());
            }
            self.cycle.push(start.elapsed());
        }
    }

    fn parse_rounds() -> usize {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.as_slice() {
            [] => 30,
            [flag, n] if flag == "--rounds" => n.parse().expect("--rounds N"),
            other => panic!("usage: bench_brcompat_ovs [--rounds N], not {other:?}"),
        }
    }

    pub fn main() {
        let rounds = parse_rounds();
        support::require_root();
        let ns = NetNs::new();
        let db = OvsdbServer::start().expect("ovsdb-server");
        db.vsctl(&["init"]).expect("ovs-vsctl init");
        let vswitchd = Vswitchd::start(ns.name(), &db.remote_spec()).expect("ovs-vswitchd");
        let daemon = OvsDaemon::start(
            &sibling("brcompatd"),
            ns.name(),
            &db.remote_spec(),
            vswitchd.rundir(),
            &["--log-level", "warn"],
        )
        .expect("brcompatd");
        for dev in ["vlib", "vbrctl", "vvsctl"] {
            let peer = format!("{dev}p");
            ns.ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer]);
        }
        let brctl = sibling("brctl");
        let socket = daemon.socket();
        let mut lib = Client::connect(&socket, Some(TIMEOUT)).expect("connecting to brcompatd");
        let db_arg = format!("--db={}", db.remote_spec());
        let vsctl = |args: &[&str]| {
            let mut all = vec![db_arg.as_str(), "--timeout=10"];
            all.extend_from_slice(args);
            run(Path::new("ovs-vsctl"), &all, &[("OVS_RUNDIR", db.dir())]);
        };

        let mut times: [Times; 3] = Default::default();
        let names = ["library", "our brctl", "ovs-vsctl"];
        for round in 0..rounds + 1 {
            for k in 0..3 {
                let v = (round + k) % 3;
                let mut t = Times::default();
                match v {
                    0 => t.cycle(|step| {
                        match step {
                            0 => lib.add_bridge("blib"),
                            1 => lib.add_interface("blib", "vlib"),
                            _ => lib.del_bridge("blib"),
                        }
                        .unwrap_or_else(|e| panic!("library {}: {e}", STEPS[step]))
                    }),
                    1 => t.cycle(|step| {
                        let sock: &Path = &socket;
                        let args: &[&str] = match step {
                            0 => &["addbr", "bbrctl"],
                            1 => &["addif", "bbrctl", "vbrctl"],
                            _ => &["delbr", "bbrctl"],
                        };
                        run(&brctl, args, &[("BRCOMPAT_SOCKET", sock)]);
                    }),
                    _ => t.cycle(|step| match step {
                        0 => vsctl(&[
                            "add-br",
                            "bvsctl",
                            "--",
                            "set",
                            "bridge",
                            "bvsctl",
                            "datapath_type=netdev",
                        ]),
                        1 => vsctl(&["add-port", "bvsctl", "vvsctl"]),
                        _ => vsctl(&["del-br", "bvsctl"]),
                    }),
                }
                // Round 0 warms up (first device creations, page cache).
                if round > 0 {
                    let all = &mut times[v];
                    for (s, d) in t.steps.iter().enumerate() {
                        all.steps[s].extend(d);
                    }
                    all.cycle.extend(t.cycle);
                }
            }
        }

        println!(
            "brcompat on Open vSwitch {} vs ovs-vsctl: medians of {rounds} interleaved rounds",
            ovs_version()
        );
        println!(
            "{:<12} {:>10} {:>10} {:>10} {:>12}",
            "", "addbr", "addif", "delbr", "cycle"
        );
        let medians: Vec<([Duration; 3], Duration)> = times
            .into_iter()
            .map(|t| {
                let [a, b, c] = t.steps;
                ([median(a), median(b), median(c)], median(t.cycle))
            })
            .collect();
        for (name, (steps, cycle)) in names.iter().zip(&medians) {
            println!(
                "{name:<12} {:>10} {:>10} {:>10} {:>12}",
                ms(steps[0]),
                ms(steps[1]),
                ms(steps[2]),
                ms(*cycle)
            );
        }
        let base = &medians[2];
        for (name, (steps, cycle)) in names.iter().zip(&medians).take(2) {
            let r = |a: Duration, b: Duration| format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64());
            println!(
                "{name:<12} {:>10} {:>10} {:>10} {:>12}   (ratio to ovs-vsctl; goal < 1.00x)",
                r(steps[0], base.0[0]),
                r(steps[1], base.0[1]),
                r(steps[2], base.0[2]),
                r(*cycle, base.1)
            );
        }
    }

    fn ovs_version() -> String {
        Command::new("ovs-vswitchd")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.split_whitespace().last().map(str::to_owned))
            .unwrap_or_else(|| "(unknown version)".into())
    }
}
