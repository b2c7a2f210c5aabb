//! `brcompatd` with its embedded switch against the real kernel: the
//! daemon runs in a switch namespace, `addbr`/`addif` put two veths in a
//! bridge whose peers are in two host namespaces, the hosts ping each
//! other through it, and `brctl showmacs` lists the hosts' MACs on the
//! right ports (not local) and the veths' own MACs as local. Then a
//! restart: SIGTERM destroys the bridge's tap, a new daemon re-creates it
//! from the configuration, `brctl show` still works and `addbr` of the
//! configured bridge is still `EEXIST`.
//!
//! Needs root (network namespaces, veth and tap devices): fails, saying so, without it.

#![cfg(target_os = "linux")]

#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

mod daemon_support;
mod netns_util;

use std::process::{Child, Command, Stdio};

use brcompat::proto::Reply;
use daemon_support::{addbr, addif, Client, TempDir};
use netns_util::{mac_of, showmacs};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use support::NetNs;

/// A `brcompatd` in a namespace, stopped (SIGTERM, then SIGKILL) on drop
/// even when the test fails.
struct Daemon(Option<Child>);

impl Daemon {
    fn spawn(ns: &NetNs, dir: &TempDir) -> Daemon {
        let child = Command::new("ip")
            .args(["netns", "exec", ns.name(), env!("CARGO_BIN_EXE_brcompatd")])
            .arg("--socket")
            .arg(dir.sock())
            .arg("--config")
            .arg(dir.config())
            .args(["--log-level", "error", "--prune-timeout", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Daemon(Some(child))
    }

    /// SIGTERM and wait: whether it exited cleanly.
    fn stop(&mut self) -> bool {
        let Some(mut child) = self.0.take() else {
            return false;
        };
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
        let _ = kill(pid, Signal::SIGTERM);
        child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `brctl --socket SOCK args...` run in `ns`.
fn brctl(ns: &NetNs, dir: &TempDir, args: &[&str]) -> String {
    let sock = dir.sock();
    let mut v = vec!["--socket", sock.to_str().unwrap()];
    v.extend_from_slice(args);
    ns.exec(env!("CARGO_BIN_EXE_brctl"), &v)
}

#[test]
fn two_hosts_ping_through_brcompatd_and_its_fdb_lists_them() {
    support::require_root();
    let sw = NetNs::new();
    let h1 = NetNs::new();
    let h2 = NetNs::new();
    sw.veth_to("veth1", &h1, "eth0");
    sw.veth_to("veth2", &h2, "eth0");
    let dir = TempDir::new("switch-netns");
    let mut daemon = Daemon::spawn(&sw, &dir);
    let mut c = Client::wait_for(&dir.sock());
    assert_eq!(c.ask(&addbr("br0")), Reply::ok());
    assert_eq!(c.ask(&addif("br0", "veth1")), Reply::ok());
    assert_eq!(c.ask(&addif("br0", "veth2")), Reply::ok());
    // The switch's tap, named after the bridge.
    assert!(sw.links().iter().any(|(_, n)| n == "br0"));
    for dev in ["veth1", "veth2"] {
        sw.ip(&["link", "set", dev, "up"]);
    }
    for (ns, addr) in [(&h1, "10.78.0.1/24"), (&h2, "10.78.0.2/24")] {
        ns.ip(&["addr", "add", addr, "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
    }
    // `run` fails the test unless ping exits 0.
    h1.exec("ping", &["-c", "3", "-W", "2", "10.78.0.2"]);
    h2.exec("ping", &["-c", "3", "-W", "2", "10.78.0.1"]);

    let rows = showmacs(&brctl(&sw, &dir, &["showmacs", "br0"]));
    let has = |port: u16, mac: &str, local: bool| {
        rows.iter()
            .any(|(p, m, l)| *p == port && m == mac && *l == local)
    };
    let (h1_mac, h2_mac) = (mac_of(&h1, "eth0"), mac_of(&h2, "eth0"));
    let (v1_mac, v2_mac) = (mac_of(&sw, "veth1"), mac_of(&sw, "veth2"));
    assert!(has(1, &h1_mac, false), "h1 {h1_mac} on port 1: {rows:?}");
    assert!(has(2, &h2_mac, false), "h2 {h2_mac} on port 2: {rows:?}");
    assert!(has(1, &v1_mac, true), "veth1 {v1_mac} local: {rows:?}");
    assert!(has(2, &v2_mac, true), "veth2 {v2_mac} local: {rows:?}");

    let stats = brctl(&sw, &dir, &["showstats", "br0"]);
    let row = |name: &str| -> Vec<u64> {
        let line = stats
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {stats}"));
        line.split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect()
    };
    // port, rx, tx, forwarded, flooded, dropped, tx dropped
    let v1 = row("veth1");
    assert_eq!(v1[0], 1, "{stats}");
    assert!(v1[1] >= 6 && v1[3] >= 3, "{stats}");

    // Restart: the clean stop destroys the tap; the configuration brings
    // it back, and requests see the bridge as before.
    assert!(daemon.stop(), "clean exit");
    assert!(!sw.links().iter().any(|(_, n)| n == "br0"));
    let _daemon = Daemon::spawn(&sw, &dir);
    let mut c = Client::wait_for(&dir.sock());
    // Answered once the switch runs the configuration.
    assert_eq!(c.ask(&addbr("br0")).errno, libc::EEXIST as u32);
    assert!(sw.links().iter().any(|(_, n)| n == "br0"));
    let show = brctl(&sw, &dir, &["show"]);
    assert!(
        show.contains("br0") && show.contains("veth1") && show.contains("veth2"),
        "{show}"
    );
    h1.exec("ping", &["-c", "1", "-W", "2", "10.78.0.2"]);
}

/// Stdout, stderr and exit status of `program args...` run in `ns`.
fn run_in(ns: &NetNs, program: &str, args: &[&str]) -> (String, String, i32) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), program])
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// `text` with what differs between two hosts by construction replaced:
/// the MACs in `names` by their device names, any other MAC by `MAC`,
/// bridge ids (`8000.` and 12 hex digits) by `8000.ID`, ageing timers by
/// `T`; `showmacs` rows sorted (the kernel lists them in hash order).
fn normalise(text: &str, names: &[(String, &str)]) -> String {
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| {
            let mut out = Vec::new();
            for (i, field) in l.split('\t').enumerate() {
                let f = field.trim();
                let known = names.iter().find(|(m, _)| m == f).map(|(_, n)| *n);
                let is_mac = f.len() == 17 && f.split(':').count() == 6;
                let v = if let Some(n) = known {
                    field.replace(f, n)
                } else if is_mac {
                    field.replace(f, "MAC")
                } else if f.starts_with("8000.") && f.len() == 17 {
                    field.replace(f, "8000.ID")
                } else if i == 4 && f.parse::<f64>().is_ok() {
                    field.replace(f, "T")
                } else {
                    field.to_owned()
                };
                out.push(v);
            }
            out.join("\t")
        })
        .collect();
    if lines.first().is_some_and(|l| l.starts_with("port no")) {
        lines[1..].sort();
    }
    lines.join("\n")
}

/// Our `brctl` on the embedded switch against bridge-utils' `brctl` on a
/// kernel bridge, the same commands on the same topology in two
/// namespaces: `show` (all, one, a missing bridge), the errors of
/// `addbr`, `delbr`, `addif`, `delif`, and `showmacs` after one frame from
/// each port's peer, compared after normalising MACs, bridge ids and
/// ageing timers (which differ between hosts by construction).
#[test]
fn our_brctl_on_the_switch_matches_bridge_utils_on_a_kernel_bridge() {
    support::require_root();
    let real = "/usr/sbin/brctl";
    assert!(
        std::path::Path::new(real).exists(),
        "bridge-utils' brctl is needed at {real} (apt-get install bridge-utils; ci/deps does)"
    );
    let kernel = NetNs::new();
    let ours = NetNs::new();
    let dir = TempDir::new("brctl-live");
    for ns in [&kernel, &ours] {
        for i in 1..=2 {
            let (a, b) = (format!("va{i}"), format!("vb{i}"));
            ns.ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
            for dev in [&a, &b] {
                ns.ip(&["link", "set", dev, "addrgenmode", "none"]);
                ns.ip(&["link", "set", dev, "up"]);
            }
        }
    }
    let _daemon = Daemon::spawn(&ours, &dir);
    drop(Client::wait_for(&dir.sock()));
    let sock = dir.sock();
    let sock = sock.to_str().unwrap();
    let both = |args: &[&str]| -> [(String, String, i32); 2] {
        let k = run_in(&kernel, real, args);
        let mut with_socket = vec!["--socket", sock];
        with_socket.extend_from_slice(args);
        let o = run_in(&ours, env!("CARGO_BIN_EXE_brctl"), &with_socket);
        [k, o]
    };
    let mut names = Vec::new();
    for ns in [&kernel, &ours] {
        for dev in ["va1", "va2", "vb1", "vb2"] {
            names.push((mac_of(ns, dev), dev));
        }
    }
    let steps: &[&[&str]] = &[
        &["addbr", "br0"],
        &["addbr", "br1"],
        &["addif", "br0", "va1"],
        &["addif", "br0", "va2"],
        &["show"],
        &["show", "br0"],
        &["show", "br1"],
        &["show", "nosuch"],
        &["addbr", "br0"],
        &["delbr", "nosuch"],
        &["addif", "br0", "nosuch"],
        &["delif", "br1", "va1"],
        &["addif", "br1", "va1"],
        &["showmacs", "br0"],
    ];
    for args in steps {
        let [k, o] = both(args);
        assert_eq!(
            (normalise(&o.0, &names), normalise(&o.1, &names), o.2),
            (normalise(&k.0, &names), normalise(&k.1, &names), k.2),
            "brctl {args:?}: ours (left) vs bridge-utils (right)\nours: {o:?}\nbridge-utils: {k:?}"
        );
    }
    // One ARP request (a broadcast) from each port's peer: an address on
    // it and a ping of an absent neighbour, which fails (exit status
    // ignored) after the request went out. A kernel bridge forwards and
    // learns only once up (the switch's local port is up from the start;
    // users bring a bridge up either way).
    for ns in [&kernel, &ours] {
        ns.ip(&["link", "set", "br0", "up"]);
        for (peer, net) in [("vb1", "10.55.1"), ("vb2", "10.55.2")] {
            ns.ip(&["addr", "add", &format!("{net}.1/24"), "dev", peer]);
            run_in(ns, "ping", &["-c", "1", "-W", "1", &format!("{net}.9")]);
        }
    }
    let [k, o] = both(&["showmacs", "br0"]);
    assert_eq!(
        (normalise(&o.0, &names), o.2),
        (normalise(&k.0, &names), k.2),
        "showmacs after traffic: ours (left) vs bridge-utils (right)\nours: {}\nbridge-utils: {}",
        o.0,
        k.0
    );
    assert!(
        normalise(&k.0, &names).contains("vb1"),
        "the kernel learned: {}",
        k.0
    );
}
