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

use std::process::{Child, Command, Stdio};

use brcompat::proto::Reply;
use daemon_support::{addbr, addif, Client, TempDir};
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

fn mac_of(ns: &NetNs, dev: &str) -> String {
    let json = ns.ip(&["-j", "link", "show", dev]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v[0]["address"].as_str().unwrap().to_owned()
}

/// `brctl --socket SOCK args...` run in `ns`.
fn brctl(ns: &NetNs, dir: &TempDir, args: &[&str]) -> String {
    let sock = dir.sock();
    let mut v = vec!["--socket", sock.to_str().unwrap()];
    v.extend_from_slice(args);
    ns.exec(env!("CARGO_BIN_EXE_brctl"), &v)
}

/// `showmacs` rows: (port, mac, is local).
fn showmacs(text: &str) -> Vec<(u16, String, bool)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].parse().unwrap(), f[1].to_owned(), f[2] == "yes")
        })
        .collect()
}

#[test]
fn two_hosts_ping_through_brcompatd_and_its_fdb_lists_them() {
    support::require_root();
    let sw = NetNs::new();
    let h1 = NetNs::new();
    let h2 = NetNs::new();
    sw.ip(&[
        "link",
        "add",
        "veth1",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        h1.name(),
    ]);
    sw.ip(&[
        "link",
        "add",
        "veth2",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        h2.name(),
    ]);
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
