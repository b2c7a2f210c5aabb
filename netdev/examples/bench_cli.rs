//! Benchmark of the `netdev` tool's listings against their iproute2
//! equivalents, run side by side in the same run: the goal is every
//! listing within 1.2x of `ip` from 1,000 to 32,000 devices.
//!
//! One fresh network namespace (removed at exit and on panic) holds a
//! bridge with some veth pairs enslaved to it (so MASTER columns have
//! something to name) and N `ifb` devices (this kernel has no `dummy`),
//! grown from the smallest N to the largest. At each N, both tools run as
//! users run them, with argument vectors, through the same
//! `ip netns exec NS ...` on both sides:
//!
//! | listing | ours | iproute2 |
//! | --- | --- | --- |
//! | list | `netdev list` | `ip link` |
//! | list json | `netdev --json list` | `ip -j link` |
//! | stats | `netdev stats` | `ip -s link` |
//! | stats json | `netdev --json stats` | `ip -s -j link` |
//! | show one | `netdev show DEV` | `ip -d -s link show dev DEV` (information) |
//!
//! Each is timed from spawn to exit with stdout on `/dev/null`, and again
//! with stdout on a pipe that is read to the end (`--no-pipe` skips that).
//! Rounds interleave ours and iproute2 with the order alternating; a row
//! is the median of the rounds. Before timing, the answers are checked
//! (the same devices in both JSON listings, masters named): times are
//! printed, never asserted. Run as root, after building the tool:
//!
//! ```text
//! cargo build --release -p netdev --bins --examples
//! target/release/examples/bench_cli [--devices 1000,8000,32000] [--rounds 11]
//!     [--ports 8] [--netdev PATH] [--no-pipe]
//! ```

#[cfg(target_os = "linux")]
#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

#[cfg(target_os = "linux")]
mod common;

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("bench_cli: Linux only (network namespaces, iproute2)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs::File;
    use std::io::Read;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    use serde_json::Value;

    use super::common::default_netdev;
    use super::support::{self, NetNs};

    /// The goal: ours takes at most this many times what `ip` takes.
    const GOAL: f64 = 1.2;

    #[derive(Debug)]
    struct Args {
        devices: Vec<usize>,
        rounds: usize,
        ports: usize,
        netdev: PathBuf,
        pipe: bool,
    }

    fn usage() -> ! {
        eprintln!(
            "usage: bench_cli [--devices N,N,...] [--rounds N] [--ports N] \
             [--netdev PATH] [--no-pipe]"
        );
        std::process::exit(2);
    }

    fn args() -> Args {
        let mut a = Args {
            devices: vec![1000, 8000, 32000],
            rounds: 11,
            ports: 8,
            netdev: default_netdev(),
            pipe: true,
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut it = argv.iter();
        while let Some(flag) = it.next() {
            if flag == "--no-pipe" {
                a.pipe = false;
                continue;
            }
            let Some(value) = it.next() else { usage() };
            let number = || value.parse::<usize>().ok().filter(|&n| n > 0);
            match flag.as_str() {
                "--devices" => {
                    let list: Option<Vec<usize>> = value
                        .split(',')
                        .map(|v| v.parse().ok().filter(|&n| n > 0))
                        .collect();
                    a.devices = list.unwrap_or_else(|| usage());
                    a.devices.sort_unstable();
                    a.devices.dedup();
                }
                "--rounds" => a.rounds = number().unwrap_or_else(|| usage()),
                "--ports" => a.ports = number().unwrap_or_else(|| usage()),
                "--netdev" => a.netdev = PathBuf::from(value),
                _ => usage(),
            }
        }
        a
    }

    /// One listing: the same question asked of both tools.
    #[derive(Debug)]
    struct Listing {
        name: &'static str,
        ours: Vec<String>,
        theirs: Vec<String>,
        /// Whether the 1.2x goal applies (not to `show`, for information).
        goal: bool,
    }

    fn listings(netdev: &str, one: &str) -> Vec<Listing> {
        let v = |args: &[&str]| args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let ours = |args: &[&str]| {
            let mut argv = vec![netdev.to_owned()];
            argv.extend(v(args));
            argv
        };
        vec![
            Listing {
                name: "list",
                ours: ours(&["list"]),
                theirs: v(&["ip", "link"]),
                goal: true,
            },
            Listing {
                name: "list json",
                ours: ours(&["--json", "list"]),
                theirs: v(&["ip", "-j", "link"]),
                goal: true,
            },
            Listing {
                name: "stats",
                ours: ours(&["stats"]),
                theirs: v(&["ip", "-s", "link"]),
                goal: true,
            },
            Listing {
                name: "stats json",
                ours: ours(&["--json", "stats"]),
                theirs: v(&["ip", "-s", "-j", "link"]),
                goal: true,
            },
            Listing {
                name: "show one",
                ours: ours(&["show", one]),
                theirs: v(&["ip", "-d", "-s", "link", "show", "dev", one]),
                goal: false,
            },
        ]
    }

    /// Where a run's stdout goes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Sink {
        DevNull,
        /// A pipe this program reads to the end.
        Pipe,
    }

    impl Sink {
        fn label(self) -> &'static str {
            match self {
                Sink::DevNull => "/dev/null",
                Sink::Pipe => "pipe",
            }
        }
    }

    /// `ip netns exec NS argv...`, as both sides run.
    fn in_ns(ns: &NetNs, argv: &[String]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns.name()]).args(argv);
        c
    }

    /// Runs `argv` in the namespace once; returns the milliseconds from
    /// spawn to exit (the pipe read to the end). `buf` is reused.
    fn time_once(ns: &NetNs, argv: &[String], sink: Sink, buf: &mut Vec<u8>) -> f64 {
        let mut c = in_ns(ns, argv);
        c.stdin(Stdio::null()).stderr(Stdio::null());
        match sink {
            Sink::DevNull => {
                let null = File::create("/dev/null").expect("opening /dev/null");
                c.stdout(null);
            }
            Sink::Pipe => {
                c.stdout(Stdio::piped());
            }
        }
        let start = Instant::now();
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        if let Some(mut out) = child.stdout.take() {
            buf.clear();
            out.read_to_end(buf).expect("reading the pipe");
        }
        let status = child.wait().expect("waiting for the child");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        assert!(status.success(), "{argv:?} failed: {status}");
        ms
    }

    /// Runs `argv` in the namespace and returns its stdout (it must
    /// succeed).
    fn output(ns: &NetNs, argv: &[String]) -> String {
        let mut args = vec!["netns", "exec", ns.name()];
        args.extend(argv.iter().map(String::as_str));
        support::run("ip", &args)
    }

    fn json(ns: &NetNs, argv: &[String]) -> Vec<Value> {
        let text = output(ns, argv);
        match serde_json::from_str(&text) {
            Ok(Value::Array(a)) => a,
            other => panic!("{argv:?} did not print a JSON array: {other:?}"),
        }
    }

    /// Checks that both sides answer the same question: the same devices
    /// in the JSON listings, masters named, one text line per device.
    fn check(ns: &NetNs, listings: &[Listing], expected: usize) {
        let names = |v: &[Value], key: &str| {
            let mut n: Vec<String> = v
                .iter()
                .map(|d| d[key].as_str().expect("a name").to_owned())
                .collect();
            n.sort_unstable();
            n
        };
        let by_name = |n: &str| listings.iter().find(|l| l.name == n).expect("a listing");
        let list = by_name("list json");
        let ours = json(ns, &list.ours);
        let theirs = json(ns, &list.theirs);
        assert_eq!(ours.len(), expected, "netdev --json list: every device");
        assert_eq!(names(&ours, "name"), names(&theirs, "ifname"));
        let port = ours
            .iter()
            .find(|d| d["name"] == "bp0")
            .expect("bp0 listed");
        assert_eq!(port["master"], "br0", "{port}");
        let stats = by_name("stats json");
        let ours = json(ns, &stats.ours);
        let theirs = json(ns, &stats.theirs);
        assert_eq!(names(&ours, "name"), names(&theirs, "ifname"));
        let text = output(ns, &by_name("list").ours);
        assert_eq!(
            text.lines().count(),
            expected + 1,
            "a header and a line each"
        );
        let text = output(ns, &by_name("stats").ours);
        assert_eq!(
            text.lines().count(),
            expected + 1,
            "a header and a line each"
        );
        let show = by_name("show one");
        output(ns, &show.ours);
        output(ns, &show.theirs);
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }

    /// One line of the table.
    #[derive(Debug)]
    struct Row {
        listing: &'static str,
        devices: usize,
        sink: Sink,
        ours: f64,
        theirs: f64,
        goal: bool,
    }

    /// Times every listing with every sink, `rounds` times, ours and
    /// iproute2 back to back with the order alternating, after one warm-up
    /// run each.
    fn measure(ns: &NetNs, listings: &[Listing], sinks: &[Sink], a: &Args, n: usize) -> Vec<Row> {
        let mut buf = Vec::new();
        let mut samples = vec![(Vec::new(), Vec::new()); listings.len() * sinks.len()];
        for l in listings {
            time_once(ns, &l.ours, Sink::DevNull, &mut buf);
            time_once(ns, &l.theirs, Sink::DevNull, &mut buf);
        }
        for round in 0..a.rounds {
            for (i, l) in listings.iter().enumerate() {
                for (j, &sink) in sinks.iter().enumerate() {
                    let (ours, theirs) = &mut samples[i * sinks.len() + j];
                    if (round + i + j) % 2 == 0 {
                        ours.push(time_once(ns, &l.ours, sink, &mut buf));
                        theirs.push(time_once(ns, &l.theirs, sink, &mut buf));
                    } else {
                        theirs.push(time_once(ns, &l.theirs, sink, &mut buf));
                        ours.push(time_once(ns, &l.ours, sink, &mut buf));
                    }
                }
            }
        }
        let mut samples = samples.into_iter();
        let mut rows = Vec::new();
        for l in listings {
            for &sink in sinks {
                let (ours, theirs) = samples.next().expect("one per listing and sink");
                rows.push(Row {
                    listing: l.name,
                    devices: n,
                    sink,
                    ours: median(ours),
                    theirs: median(theirs),
                    goal: l.goal,
                });
            }
        }
        rows
    }

    fn print_rows(rows: &[Row]) {
        println!("| listing | N | stdout | ours (ms) | iproute2 (ms) | ratio | goal | result |");
        println!("| --- | ---: | --- | ---: | ---: | ---: | --- | --- |");
        for r in rows {
            let ratio = r.ours / r.theirs;
            let (goal, result) = if r.goal {
                let met = if ratio <= GOAL { "met" } else { "MISSED" };
                (format!("<= {GOAL}x"), met)
            } else {
                ("-".to_owned(), "info")
            };
            println!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.2}x | {goal} | {result} |",
                r.listing,
                r.devices,
                r.sink.label(),
                r.ours,
                r.theirs,
                ratio
            );
        }
    }

    pub(super) fn main() {
        let a = args();
        support::require_root();
        assert!(
            a.netdev.is_file(),
            "no netdev tool at {} (build it: cargo build --release -p netdev --bins \
             --examples, or pass --netdev PATH)",
            a.netdev.display()
        );
        let netdev = a.netdev.to_str().expect("a UTF-8 path").to_owned();
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "?".into());
        let iproute = support::run("ip", &["-V"]);
        println!("bench_cli: {netdev} against {}", iproute.trim());
        println!(
            "kernel: Linux {release}; {} cpus",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
        println!(
            "median of {} rounds, ours and iproute2 interleaved, both through \
             `ip netns exec`",
            a.rounds
        );

        let ns = NetNs::new();
        // A bridge with `ports` veth pairs, one end of each enslaved.
        let mut setup = vec!["link add br0 type bridge".to_owned()];
        for p in 0..a.ports {
            setup.push(format!("link add bp{p} type veth peer name bq{p}"));
            setup.push(format!("link set bp{p} master br0"));
        }
        setup.push("link set br0 up".to_owned());
        ns.ip_batch(&setup);
        // lo, br0 and the veth pairs.
        let others = 2 + 2 * a.ports;
        let sinks: &[Sink] = if a.pipe {
            &[Sink::DevNull, Sink::Pipe]
        } else {
            &[Sink::DevNull]
        };
        let mut made = 0;
        let mut all = Vec::new();
        for &n in &a.devices {
            let t = Instant::now();
            ns.ip_batch((made..n).map(|i| format!("link add ifb{i} type ifb")));
            made = n;
            let expected = n + others;
            println!(
                "\n{n} ifb devices ({expected} in all, {} bridge ports) in {} (made in {:.1} s)",
                a.ports,
                ns.name(),
                t.elapsed().as_secs_f64()
            );
            let list = listings(&netdev, &format!("ifb{}", n / 2));
            check(&ns, &list, expected);
            let rows = measure(&ns, &list, sinks, &a, n);
            print_rows(&rows);
            all.extend(rows);
        }
        if a.devices.len() > 1 {
            println!("\nall:");
            print_rows(&all);
        }
        let missed = all
            .iter()
            .filter(|r| r.goal && r.ours / r.theirs > GOAL)
            .count();
        println!(
            "\n{missed} of {} rows with a goal missed it",
            all.iter().filter(|r| r.goal).count()
        );
    }
}
