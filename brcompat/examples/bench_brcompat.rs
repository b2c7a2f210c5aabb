//! Benchmark of the brctl-compatible client, with bridge-utils' `brctl`
//! on a kernel bridge measured in the same run as the baseline.
//!
//! `cargo build --release -p brcompat --bins --examples &&
//! target/release/examples/bench_brcompat` (as root: it makes a network
//! namespace; Linux only).
//!
//! What it measures, medians:
//! - `addbr`, `addif`, `delif` round trips through the client library,
//!   and as `brctl` process invocations, against a **fake daemon** (a
//!   thread answering from memory; `tests/fake_daemon`): this is the
//!   client and transport cost only. TODO: the real `brcompatd` (embedded
//!   backend, durable config write) is not in this tree yet; once it is,
//!   run the same rows against it.
//! - bridge-utils `brctl addbr`/`addif`/`delif` on a kernel bridge in a
//!   namespace (the baseline).
//! - `showmacs` at 1,000 and 10,000 FDB entries: the client library's
//!   `fdb` (pages of 256) and the `brctl showmacs` process against the
//!   fake daemon, and bridge-utils `brctl showmacs` on a kernel bridge
//!   holding as many static entries; cost per entry.
//!
//! It prints numbers; it asserts nothing about them.

#[cfg(target_os = "linux")]
#[path = "../tests/fake_daemon/mod.rs"]
mod fake_daemon;
#[cfg(target_os = "linux")]
#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

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
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use brcompat::client::Client;
    use brcompat::proto::{FdbEntry, Reply};

    use super::fake_daemon::FakeDaemon;
    use super::support::{self, NetNs};

    const LIB_ROUNDS: usize = 2000;
    const PROC_ROUNDS: usize = 200;
    const FDB_ROUNDS: usize = 21;

    fn median(mut v: Vec<Duration>) -> Duration {
        v.sort();
        v[v.len() / 2]
    }

    fn ms(d: Duration) -> String {
        format!("{:.3} ms", d.as_secs_f64() * 1e3)
    }

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

    /// Our `brctl`, next to this example's directory.
    fn our_brctl() -> Option<PathBuf> {
        let exe = std::env::current_exe().ok()?;
        let p = exe.parent()?.parent()?.join("brctl");
        p.exists().then_some(p)
    }

    fn table(n: usize) -> Vec<FdbEntry> {
        (0..n)
            .map(|i| {
                let [_, a, b, c] = (i as u32).to_be_bytes();
                FdbEntry {
                    mac: [2, 0x10, 0, a, b, c],
                    port: 1,
                    is_local: false,
                    ageing_ticks: 0,
                }
            })
            .collect()
    }

    struct Row {
        what: String,
        ours: Option<Duration>,
        baseline: Option<Duration>,
    }

    fn print(rows: &[Row]) {
        println!(
            "{:<44} {:>12} {:>14} {:>8}",
            "", "brcompat", "bridge-utils", "ratio"
        );
        for r in rows {
            let f = |d: Option<Duration>| d.map_or("-".to_owned(), ms);
            let ratio = match (r.ours, r.baseline) {
                (Some(a), Some(b)) => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
                _ => "-".into(),
            };
            println!(
                "{:<44} {:>12} {:>14} {:>8}",
                r.what,
                f(r.ours),
                f(r.baseline),
                ratio
            );
        }
    }

    pub fn main() {
        support::require_root();
        let kernel_brctl = PathBuf::from("/usr/sbin/brctl");
        assert!(
            kernel_brctl.exists(),
            "bridge-utils' brctl is the baseline: install bridge-utils (ci/deps does)"
        );
        let ours = our_brctl();
        if ours.is_none() {
            eprintln!(
                "note: no brctl binary beside this example; build it (cargo build -p brcompat \
                 --bins, same profile) to measure the process rows"
            );
        }
        let ns = NetNs::new();
        ns.ip(&["link", "add", "bv0", "type", "veth", "peer", "name", "bv1"]);
        // Children spawned from this thread run in the namespace.
        let _inside = ns.enter();
        let mut rows = Vec::new();

        // Library round trips against the fake daemon.
        let d = FakeDaemon::start(|_| Some(Reply::ok()));
        let mut c = Client::connect(d.path(), Some(Duration::from_secs(5))).unwrap();
        let mut lib = |f: &mut dyn FnMut(&mut Client)| {
            median(
                (0..LIB_ROUNDS)
                    .map(|_| time(|| f(&mut c)))
                    .collect::<Vec<_>>(),
            )
        };
        let lib_addbr = lib(&mut |c| c.add_bridge("br0").unwrap());
        let lib_addif = lib(&mut |c| c.add_interface("br0", "bv0").unwrap());
        let lib_delif = lib(&mut |c| c.del_interface("br0", "bv0").unwrap());

        // bridge-utils on the kernel, and our brctl process, alternating.
        let socket = d.path().to_str().unwrap().to_owned();
        let env = [("BRCOMPAT_SOCKET", socket.as_str())];
        let (mut k_add, mut k_addif, mut k_delif) = (vec![], vec![], vec![]);
        let (mut o_add, mut o_addif, mut o_delif) = (vec![], vec![], vec![]);
        for _ in 0..PROC_ROUNDS {
            k_add.push(time(|| spawn(&kernel_brctl, &["addbr", "kb0"], &[])));
            k_addif.push(time(|| spawn(&kernel_brctl, &["addif", "kb0", "bv0"], &[])));
            k_delif.push(time(|| spawn(&kernel_brctl, &["delif", "kb0", "bv0"], &[])));
            spawn(&kernel_brctl, &["delbr", "kb0"], &[]);
            if let Some(b) = &ours {
                o_add.push(time(|| spawn(b, &["addbr", "br0"], &env)));
                o_addif.push(time(|| spawn(b, &["addif", "br0", "bv0"], &env)));
                o_delif.push(time(|| spawn(b, &["delif", "br0", "bv0"], &env)));
            }
        }
        let m = |v: Vec<Duration>| (!v.is_empty()).then(|| median(v));
        let (k_add, k_addif, k_delif) = (m(k_add), m(k_addif), m(k_delif));
        for (what, o, k) in [
            ("addbr: library call (fake daemon)", Some(lib_addbr), k_add),
            (
                "addif: library call (fake daemon)",
                Some(lib_addif),
                k_addif,
            ),
            (
                "delif: library call (fake daemon)",
                Some(lib_delif),
                k_delif,
            ),
            ("addbr: brctl process (fake daemon)", m(o_add), k_add),
            ("addif: brctl process (fake daemon)", m(o_addif), k_addif),
            ("delif: brctl process (fake daemon)", m(o_delif), k_delif),
        ] {
            rows.push(Row {
                what: what.into(),
                ours: o,
                baseline: k,
            });
        }
        drop(d);

        // spawn cost for reference.
        let true_ = median(
            (0..PROC_ROUNDS)
                .map(|_| time(|| spawn(Path::new("/bin/true"), &[], &[])))
                .collect(),
        );

        let version = ours.as_ref().map(|b| {
            median(
                (0..PROC_ROUNDS)
                    .map(|_| time(|| spawn(b, &["-V"], &[])))
                    .collect(),
            )
        });

        // showmacs.
        spawn(&kernel_brctl, &["addbr", "kf0"], &[]);
        spawn(&kernel_brctl, &["addif", "kf0", "bv0"], &[]);
        let mut per_entry = Vec::new();
        let mut kernel_entries = 0;
        for n in [1_000usize, 10_000] {
            // The kernel bridge gets static entries up to n (plus its own
            // local ones).
            let batch: String = table(n)[kernel_entries..]
                .iter()
                .map(|e| {
                    let m = e.mac;
                    format!(
                        "fdb add {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x} dev bv0 master static\n",
                        m[0], m[1], m[2], m[3], m[4], m[5]
                    )
                })
                .collect();
            let file =
                std::env::temp_dir().join(format!("bench-brcompat-{}.batch", std::process::id()));
            std::fs::write(&file, batch).unwrap();
            let r = Command::new("bridge")
                .arg("-batch")
                .arg(&file)
                .output()
                .expect("running bridge -batch");
            let _ = std::fs::remove_file(&file);
            assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
            kernel_entries = n;

            let d = FakeDaemon::serving_fdb(table(n));
            let mut c = Client::connect(d.path(), Some(Duration::from_secs(5))).unwrap();
            let lib = median(
                (0..FDB_ROUNDS)
                    .map(|_| time(|| assert_eq!(c.fdb("br0").unwrap().len(), n)))
                    .collect(),
            );
            let socket = d.path().to_str().unwrap().to_owned();
            let env = [("BRCOMPAT_SOCKET", socket.as_str())];
            let proc_ = ours.as_ref().map(|b| {
                median(
                    (0..FDB_ROUNDS)
                        .map(|_| time(|| spawn(b, &["showmacs", "br0"], &env)))
                        .collect(),
                )
            });
            let kernel = median(
                (0..FDB_ROUNDS)
                    .map(|_| time(|| spawn(&kernel_brctl, &["showmacs", "kf0"], &[])))
                    .collect(),
            );
            per_entry.push((n, lib, proc_, kernel));
            rows.push(Row {
                what: format!("showmacs {n}: library fdb() (fake daemon)"),
                ours: Some(lib),
                baseline: Some(kernel),
            });
            rows.push(Row {
                what: format!("showmacs {n}: brctl process (fake daemon)"),
                ours: proc_,
                baseline: Some(kernel),
            });
        }
        spawn(&kernel_brctl, &["delbr", "kf0"], &[]);

        println!("medians; ratio = brcompat / bridge-utils (kernel bridge), measured in this run");
        println!("fake daemon: answers from memory, no config write (the real brcompatd is not in this tree)");
        print(&rows);
        println!("spawning /bin/true: {}", ms(true_));
        if let Some(v) = version {
            println!("spawning our brctl -V (no daemon, no devices): {}", ms(v));
        }
        println!("showmacs cost per entry:");
        for (n, lib, proc_, kernel) in per_entry {
            let ns = |d: Duration| format!("{:.0} ns", d.as_secs_f64() * 1e9 / n as f64);
            println!(
                "  {n:>6} entries: library {}, brctl process {}, bridge-utils {}",
                ns(lib),
                proc_.map_or("-".into(), ns),
                ns(kernel)
            );
        }
    }
}
