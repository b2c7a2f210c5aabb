//! The daemon against the real kernel, each test in its own network
//! namespace with veth devices: the `brcompatd` binary end to end over its
//! socket (raw protocol requests through `netdev_netlink::Requester`, a
//! client that sends nothing, a peer that is not root, a second daemon);
//! pruning (a port's device deleted, deleted and re-created at once,
//! renamed, released from a kernel bridge; the periodic check); and
//! `kill -9` of the daemon in a burst of `addif`/`delif`, repeated.
//!
//! Needs root; never skipped.

#![cfg(target_os = "linux")]

#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

mod daemon_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use brcompat::daemon::{Daemon, DaemonOptions, Server, ServerOptions, StopHandle};
use brcompat::model::Config;
use brcompat::proto::{Reply, Request};
use brcompat::store::{parse_config, ConfigBackend, EmptyFdb, FileStore};
use brcompat::transport::{self, Listener};
use daemon_support::{addbr, addif, delif, Client, TempDir, TIMEOUT};
use netdev::Registry;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::NetNs;

const NOBODY: u32 = 65534;
const CHILD_ENV: &str = "BRCOMPATD_TEST_CHILD_SOCKET";

fn add_veth(ns: &NetNs, name: &str) {
    let peer = format!("{name}p");
    ns.ip(&["link", "add", name, "type", "veth", "peer", "name", &peer]);
}

fn ifindex(ns: &NetNs, name: &str) -> i32 {
    let (i, _) = ns
        .links()
        .into_iter()
        .find(|(_, n)| n == name)
        .unwrap_or_else(|| panic!("no link {name}"));
    i32::try_from(i).unwrap()
}

/// `brcompatd` run in `ns`, without a datapath: these tests are about the
/// configuration and pruning, and count on no device being created for a
/// bridge (`tests/switch_netns.rs` runs the switch).
fn spawn_daemon(ns: &NetNs, dir: &TempDir, extra: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_brcompatd")])
        .arg("--socket")
        .arg(dir.sock())
        .arg("--config")
        .arg(dir.config())
        .args(["--log-level", "warn", "--datapath", "none"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn config_of(path: &Path) -> Config {
    parse_config(&fs::read_to_string(path).unwrap_or_default()).unwrap()
}

/// In a child process running as `nobody`: connect, ask, and exit 0 if
/// refused (no reply), 3 if served.
#[test]
fn child_entry_point() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let code = match Client::try_connect(Path::new(&path)) {
        Err(_) => 0,
        Ok(mut c) => match c.try_ask(&Request::GetBridges) {
            Ok(_) => 3,
            Err(_) => 0,
        },
    };
    std::process::exit(code);
}

#[test]
fn brcompatd_end_to_end() {
    let ns = NetNs::new();
    add_veth(&ns, "v0");
    add_veth(&ns, "v1");
    let dir = TempDir::new("netns");
    let mut daemon = spawn_daemon(&ns, &dir, &["--prune-timeout", "0"]);
    let mut c = Client::wait_for(&dir.sock());
    // A client that connects and sends nothing holds up nobody.
    let _idle = transport::connect(dir.sock(), Some(TIMEOUT)).unwrap();

    assert_eq!(c.ask(&addbr("br0")), Reply::ok());
    assert_eq!(c.ask(&addbr("br0")).errno, libc::EEXIST as u32);
    assert_eq!(c.ask(&addbr("v1")).errno, libc::EEXIST as u32, "a device");
    assert_eq!(c.ask(&addif("br0", "v0")), Reply::ok());
    assert_eq!(c.ask(&addif("br0", "v1")), Reply::ok());
    assert_eq!(c.ask(&addif("br0", "nosuch")).errno, libc::EINVAL as u32);
    assert_eq!(c.ask(&addif("nobr", "v0")).errno, libc::EINVAL as u32);
    let want = vec![ifindex(&ns, "v0"), ifindex(&ns, "v1")];
    assert_eq!(
        c.ask(&Request::GetPorts {
            bridge: "br0".into()
        }),
        Reply::ifindexes(want)
    );
    assert_eq!(c.ask(&Request::GetBridges), Reply::ifindexes(vec![]));
    // Once a device named after the bridge exists, it is listed.
    ns.ip(&["link", "add", "br0", "type", "bridge"]);
    assert_eq!(
        c.ask(&Request::GetBridges),
        Reply::ifindexes(vec![ifindex(&ns, "br0")])
    );
    assert_eq!(
        c.ask(&Request::FdbQuery {
            bridge: "br0".into(),
            count: 100,
            skip: 0
        }),
        Reply::fdb(vec![])
    );
    assert_eq!(c.ask(&delif("br0", "v1")), Reply::ok());
    assert_eq!(c.ask(&Request::QueryMc).errno, libc::EOPNOTSUPP as u32);

    // A peer that is not root is refused, even with the socket open to all.
    fs::set_permissions(dir.sock(), fs::Permissions::from_mode(0o666)).unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.sock())
        .uid(NOBODY)
        .gid(NOBODY)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "nobody was served");
    // Still serving root.
    assert_eq!(c.ask(&addif("br0", "v1")), Reply::ok());

    // A second daemon on the same socket: one line, exit 1.
    let dir2 = TempDir::new("netns");
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_brcompatd")])
        .arg("--socket")
        .arg(dir.sock())
        .arg("--config")
        .arg(dir2.config())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("another brcompatd is running"), "{err}");
    // And on the same configuration: locked.
    let out = Command::new(env!("CARGO_BIN_EXE_brcompatd"))
        .arg("--socket")
        .arg(dir2.sock())
        .arg("--config")
        .arg(dir.config())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("in use by another process"), "{err}");

    // SIGTERM: clean exit, socket removed, configuration as acknowledged.
    kill(Pid::from_raw(daemon.id() as i32), Signal::SIGTERM).unwrap();
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!dir.sock().exists());
    let config = config_of(&dir.config());
    let ports: Vec<&str> = config
        .bridge("br0")
        .unwrap()
        .ports()
        .map(|p| p.name())
        .collect();
    assert_eq!(ports, ["br0", "v0", "v1"]);
}

/// A daemon in a thread, its registry's sockets in `ns`.
struct InThread {
    stop: StopHandle,
    thread: Option<JoinHandle<Daemon>>,
    registry: Registry,
}

impl InThread {
    fn start(ns: &NetNs, dir: &TempDir, prune: Option<Duration>) -> InThread {
        let entered = ns.enter();
        let registry = Registry::new();
        netdev::register_platform(&registry).unwrap();
        let events = registry.subscribe().ok();
        let backend = Arc::new(FileStore::open(dir.config()).unwrap());
        let daemon = Daemon::new(
            backend,
            registry.clone(),
            Arc::new(EmptyFdb),
            DaemonOptions::default(),
        );
        drop(entered);
        let listener = Listener::bind(dir.sock()).unwrap();
        let options = ServerOptions {
            prune_interval: prune,
            ..ServerOptions::default()
        };
        let server = Server::new(daemon, listener, events, options).unwrap();
        let stop = server.stop_handle();
        InThread {
            stop,
            thread: Some(thread::spawn(move || server.run().unwrap())),
            registry,
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

/// Waits (up to `TIMEOUT`) until `what` holds of the configuration file.
fn wait_config(path: &Path, what: &str, cond: impl Fn(&Config) -> bool) -> Config {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let c = config_of(path);
        if cond(&c) {
            return c;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn pruning_follows_devices_by_ifindex() {
    let ns = NetNs::new();
    for v in ["va", "vb", "vc", "vd", "ve", "vg", "vh", "vi"] {
        add_veth(&ns, v);
    }
    ns.ip(&["link", "add", "kbr", "type", "bridge"]);
    let dir = TempDir::new("netns");
    let d = InThread::start(&ns, &dir, None);
    let mut c = Client::wait_for(&dir.sock());
    assert_eq!(c.ask(&addbr("br0")), Reply::ok());
    for v in ["va", "vb", "vc", "vd", "ve", "vg", "vh", "vi"] {
        assert_eq!(c.ask(&addif("br0", v)), Reply::ok(), "{v}");
    }
    let has = |c: &Config, n: &str| c.locate(n).is_some();
    let conf = dir.config();

    // Deleted: removed.
    ns.ip(&["link", "del", "va"]);
    wait_config(&conf, "va pruned", |c| !has(c, "va"));

    // Deleted and re-created at once (the notification handled only after
    // the new device exists): kept. The removal of vc, queued after vb's,
    // marks the point where vb's has been handled.
    {
        let _held = d.registry.hold_changes();
        ns.ip(&["link", "del", "vb"]);
        add_veth(&ns, "vb");
        ns.ip(&["link", "del", "vc"]);
    }
    let after = wait_config(&conf, "vc pruned", |c| !has(c, "vc"));
    assert!(has(&after, "vb"), "re-created vb kept");

    // Renamed: kept under its configured name.
    ns.ip(&["link", "set", "vd", "name", "vd-new"]);
    ns.ip(&["link", "del", "ve"]);
    let after = wait_config(&conf, "ve pruned", |c| !has(c, "ve"));
    assert!(has(&after, "vd"), "renamed vd kept");

    // Enslaved to and released from a kernel bridge: kept.
    ns.ip(&["link", "set", "vg", "master", "kbr"]);
    ns.ip(&["link", "set", "vg", "nomaster"]);
    ns.ip(&["link", "del", "vh"]);
    let after = wait_config(&conf, "vh pruned", |c| !has(c, "vh"));
    assert!(has(&after, "vg"), "released vg kept");
    assert!(has(&after, "vi"));
    drop(c);
    drop(d);

    // The periodic check, after a restart: a port whose device vanished
    // while no daemon ran (vi) goes; the renamed and re-created ones stay
    // (tracked by ifindex again at start: vd is gone by name, so it goes
    // too, since a new daemon never saw its ifindex).
    ns.ip(&["link", "del", "vi"]);
    let _d = InThread::start(&ns, &dir, Some(Duration::from_millis(200)));
    let after = wait_config(&conf, "vi pruned", |c| !has(c, "vi"));
    assert!(has(&after, "vb") && has(&after, "vg"));
    assert!(
        !has(&after, "vd"),
        "a renamed device unknown to this daemon is gone"
    );
}

/// Per worker: whether its interface is attached after its last
/// acknowledged request, and after the request in flight (if any).
type Expected = (bool, Option<bool>);

#[test]
fn kill_9_during_a_burst_never_loses_an_acknowledged_change() {
    const WORKERS: usize = 4;
    let rounds: usize = std::env::var("BRCOMPAT_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let ns = NetNs::new();
    let names: Vec<String> = (0..WORKERS).map(|i| format!("k{i}")).collect();
    for n in &names {
        add_veth(&ns, n);
    }
    let dir = TempDir::new("netns");
    let started = Instant::now();
    let mut acked_total = 0usize;
    for round in 0..rounds {
        let mut daemon = spawn_daemon(&ns, &dir, &["--prune-timeout", "0"]);
        let mut c = Client::wait_for(&dir.sock());
        let r = c.ask(&addbr("br0"));
        assert!(r.errno == 0 || r.errno == libc::EEXIST as u32, "{r:?}");
        drop(c);
        let states: Arc<Mutex<Vec<Expected>>> = Arc::new(Mutex::new(
            names
                .iter()
                .map(|n| (config_of(&dir.config()).locate(n).is_some(), None))
                .collect(),
        ));
        let acks = Arc::new(AtomicUsize::new(0));
        let dead = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = names
            .iter()
            .cloned()
            .enumerate()
            .map(|(w, name)| {
                let (sock, states, acks, dead) =
                    (dir.sock(), states.clone(), acks.clone(), dead.clone());
                thread::spawn(move || {
                    let Ok(mut c) = Client::try_connect(&sock) else {
                        return;
                    };
                    while !dead.load(Ordering::Relaxed) {
                        let attached = states.lock().unwrap()[w].0;
                        let req = if attached {
                            delif("br0", &name)
                        } else {
                            addif("br0", &name)
                        };
                        states.lock().unwrap()[w].1 = Some(!attached);
                        match c.try_ask(&req) {
                            Ok(r) => {
                                assert_eq!(r, Reply::ok(), "{name}");
                                states.lock().unwrap()[w] = (!attached, None);
                                acks.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        // Kill after a varying number of acknowledged changes.
        let target = 1 + (round * 7) % 40;
        let deadline = Instant::now() + TIMEOUT;
        while acks.load(Ordering::Relaxed) < target {
            assert!(Instant::now() < deadline, "round {round}: no progress");
            thread::sleep(Duration::from_micros(200));
        }
        kill(Pid::from_raw(daemon.id() as i32), Signal::SIGKILL).unwrap();
        let _ = daemon.wait();
        dead.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        acked_total += acks.load(Ordering::Relaxed);
        // The file loads (through the store, as the next daemon does), and
        // each interface is as its last acknowledged change left it, or as
        // the change in flight left it.
        let config = FileStore::open(dir.config())
            .unwrap_or_else(|e| panic!("round {round}: {e}"))
            .snapshot();
        for (w, name) in names.iter().enumerate() {
            let (acked, in_flight) = states.lock().unwrap()[w];
            let now = config.locate(name).is_some();
            assert!(
                now == acked || Some(now) == in_flight,
                "round {round}: {name} attached={now}, acknowledged {acked}, in flight {in_flight:?}"
            );
        }
    }
    eprintln!(
        "kill -9: {rounds} rounds, {acked_total} acknowledged changes, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
