//! The `netdev` tool, run as a user runs it, inside fresh network
//! namespaces, and compared with what `ip`, `ethtool` and sysfs say.
//!
//! Every test that touches the kernel needs root and fails (never skips)
//! without it: a check that silently did not run must never look like a
//! pass. The tool runs with `ip netns exec NS netdev ...`, programs run with
//! argument vectors, never through a shell.

#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_netdev");

/// netdev-linux's namespace helpers, for their sweep of the namespaces
/// interrupted runs left behind (this file's and the kernel tests').
#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

/// Prefix of the namespaces these tests make, so leftovers are easy to
/// recognise (`ip netns | grep ndcli-`).
const PREFIX: &str = "ndcli-";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .expect("no Uid line in /proc/self/status");
    assert!(
        euid == "0",
        "these tests need root (effective uid is {euid}): they create network \
         namespaces and devices. They are never skipped."
    );
}

/// Runs `program args...`; panics with its stderr unless it exits 0.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// A network namespace removed when dropped, even when the test panics.
struct NetNs {
    name: String,
}

impl NetNs {
    fn new() -> NetNs {
        require_root();
        support::sweep_stale_namespaces_once();
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        run("ip", &["netns", "add", &name]);
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["-n", &self.name];
        v.extend_from_slice(args);
        run("ip", &v)
    }

    fn ip_json(&self, args: &[&str]) -> Value {
        let mut v = vec!["-j"];
        v.extend_from_slice(args);
        serde_json::from_str(&self.ip(&v)).expect("ip -j printed JSON")
    }

    /// Runs `program args...` inside the namespace.
    fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut v = vec!["netns", "exec", &self.name, program];
        v.extend_from_slice(args);
        run("ip", &v)
    }

    fn netdev_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, BIN]).args(args);
        c
    }

    /// Runs the tool inside the namespace.
    fn netdev(&self, args: &[&str]) -> Output {
        self.netdev_command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run netdev {args:?}: {e}"))
    }

    /// Runs the tool, which must succeed, and parses its JSON output.
    fn netdev_json(&self, args: &[&str]) -> Value {
        let out = self.netdev(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "netdev {args:?}: {}",
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "netdev {args:?} printed bad JSON ({e}): {}",
                text(&out.stdout)
            )
        })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Not `run`: a panic while the test already panics would abort.
        match Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "warning: ip netns delete {}: {}",
                self.name,
                text(&out.stderr)
            ),
            Err(e) => eprintln!("warning: cannot run ip netns delete {}: {e}", self.name),
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One namespace with a veth end `v0` (10.77.0.1/24, up), a bridge `br0`
/// (up) and a tap `t0` enslaved to it; a second namespace holding the veth
/// peer `v1` (10.77.0.2/24, up), so traffic crosses a real link.
struct Lab {
    ns: NetNs,
    peer: NetNs,
}

impl Lab {
    fn new() -> Lab {
        let ns = NetNs::new();
        let peer = NetNs::new();
        ns.ip(&[
            "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", &peer.name,
        ]);
        ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "v0"]);
        ns.ip(&["link", "set", "v0", "up"]);
        peer.ip(&["addr", "add", "10.77.0.2/24", "dev", "v1"]);
        peer.ip(&["link", "set", "v1", "up"]);
        ns.ip(&["link", "add", "br0", "type", "bridge"]);
        ns.ip(&["tuntap", "add", "t0", "mode", "tap"]);
        ns.ip(&["link", "set", "t0", "master", "br0"]);
        ns.ip(&["link", "set", "br0", "up"]);
        Lab { ns, peer }
    }

    /// Sends pings from the peer namespace to `v0` and waits for replies.
    fn ping(&self, count: u32) {
        let count = count.to_string();
        self.peer
            .exec("ping", &["-c", &count, "-i", "0.2", "-W", "2", "10.77.0.1"]);
    }
}

/// `ip -j link` objects by name.
fn ip_links(ns: &NetNs, details: bool) -> BTreeMap<String, Value> {
    let args: &[&str] = if details { &["-d", "link"] } else { &["link"] };
    ns.ip_json(args)
        .as_array()
        .expect("ip -j link prints an array")
        .iter()
        .map(|l| (l["ifname"].as_str().expect("ifname").to_owned(), l.clone()))
        .collect()
}

fn flag_set(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("flags are an array: {v}"))
        .iter()
        .map(|f| {
            f.as_str()
                .expect("flag names are strings")
                .to_ascii_lowercase()
        })
        .collect()
}

#[test]
fn list_json_equals_ip_link() {
    let lab = Lab::new();
    let ours = lab.ns.netdev_json(&["list", "--json"]);
    let ours = ours.as_array().expect("list --json prints an array");
    let reference = ip_links(&lab.ns, true);

    let pairs: BTreeSet<(u64, String)> = ours
        .iter()
        .map(|d| {
            (
                d["ifindex"].as_u64().unwrap(),
                d["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(u64, String)> = reference
        .iter()
        .map(|(n, l)| (l["ifindex"].as_u64().unwrap(), n.clone()))
        .collect();
    assert_eq!(pairs, expected);
    assert_eq!(pairs.len(), 4, "lo, v0, br0, t0: {pairs:?}");

    for d in ours {
        let name = d["name"].as_str().unwrap();
        let r = &reference[name];
        assert_eq!(d["mtu"], r["mtu"], "{name} mtu");
        assert_eq!(d["mac"], r["address"], "{name} mac");
        assert_eq!(d["kind"], r["linkinfo"]["info_kind"], "{name} kind");
        assert_eq!(d["master"], r["master"], "{name} master");
        // ip prints the flags it knows by their kernel names; ours are the
        // library's portable subset, so compare the common ones.
        let ip_flags = flag_set(&r["flags"]);
        let our_flags = flag_set(&d["flags"]);
        for f in [
            "up",
            "broadcast",
            "multicast",
            "loopback",
            "lower_up",
            "noarp",
        ] {
            assert_eq!(
                ip_flags.contains(f),
                our_flags.contains(f),
                "{name} flag {f}"
            );
        }
    }
    let t0 = ours.iter().find(|d| d["name"] == "t0").unwrap();
    assert_eq!(
        (t0["kind"].as_str(), t0["master"].as_str()),
        (Some("tun"), Some("br0"))
    );
}

#[test]
fn list_text_is_an_aligned_table() {
    let lab = Lab::new();
    let out = lab.ns.netdev(&["list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(lines[0].starts_with("INDEX  NAME"), "{stdout}");
    // Every row's FLAGS column starts where the header's does.
    let col = lines[0].find("FLAGS").unwrap();
    let t0 = lines.iter().find(|l| l.contains(" t0 ")).unwrap();
    assert!(t0.contains(" tun ") && t0.contains(" br0 "), "{t0}");
    assert_eq!(&t0[col..], "broadcast,multicast", "{stdout}");
    let lo = lines.iter().find(|l| l.contains(" lo ")).unwrap();
    assert!(lo.contains(" - "), "lo has no kind: {lo}");
}

#[test]
fn show_json_equals_ip_after_traffic() {
    let lab = Lab::new();
    lab.ping(3);
    let stats_of = |ns: &NetNs| {
        let v = ns.ip_json(&["-s", "link", "show", "v0"]);
        let s = &v[0]["stats64"];
        (
            s["rx"]["packets"].as_u64().unwrap(),
            s["tx"]["packets"].as_u64().unwrap(),
        )
    };
    // Counters can move between two readings (ARP, for one), so ours must
    // lie between a reading of ip before and one after.
    let before = stats_of(&lab.ns);
    let shown = lab.ns.netdev_json(&["show", "v0", "--json"]);
    let after = stats_of(&lab.ns);

    let ip = &lab.ns.ip_json(&["-s", "link", "show", "v0"])[0];
    let d = &shown[0];
    assert_eq!(d["name"], "v0");
    assert_eq!(d["ifindex"], ip["ifindex"]);
    assert_eq!(d["mtu"], ip["mtu"]);
    assert_eq!(d["mac"], ip["address"]);
    assert_eq!(d["kind"], "veth");
    assert!(d["master"].is_null());
    let flags = flag_set(&d["flags"]);
    for f in ["up", "broadcast", "multicast", "running", "lower_up"] {
        assert!(flags.contains(f), "{f} missing from {flags:?}");
        if f != "running" {
            assert!(flag_set(&ip["flags"]).contains(f), "ip lacks {f}");
        }
    }
    assert_eq!(d["carrier"], true);
    let sys_carrier = lab.ns.exec("cat", &["/sys/class/net/v0/carrier"]);
    assert_eq!(sys_carrier.trim(), "1");
    let sys_speed = lab.ns.exec("cat", &["/sys/class/net/v0/speed"]);
    assert_eq!(
        d["speed_mbps"].as_u64().unwrap().to_string(),
        sys_speed.trim()
    );
    let ethtool = lab.ns.exec("ethtool", &["v0"]);
    assert!(ethtool.contains("Duplex: Full"), "{ethtool}");
    assert_eq!(d["duplex"], "full");
    assert_eq!(d["ipv4"], serde_json::json!(["10.77.0.1/24"]));
    let ip_addr = lab.ns.ip_json(&["-6", "addr", "show", "v0"]);
    // Addresses with their prefix lengths, as `ip` has them.
    let v6: BTreeSet<String> = ip_addr[0]["addr_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap(), a["prefixlen"]))
        .collect();
    let ours6: BTreeSet<String> = d["ipv6"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ours6, v6);

    let rx = d["stats"]["rx_packets"].as_u64().unwrap();
    let tx = d["stats"]["tx_packets"].as_u64().unwrap();
    assert!(
        before.0 <= rx && rx <= after.0,
        "rx {rx} not in {before:?}..{after:?}"
    );
    assert!(
        before.1 <= tx && tx <= after.1,
        "tx {tx} not in {before:?}..{after:?}"
    );
    assert!(
        rx >= 3 && tx >= 3,
        "3 pings and their replies: rx {rx} tx {tx}"
    );
    assert_eq!(d["stats"].as_object().unwrap().len(), 21, "every counter");
}

/// The value of `key` in a `show` block, and the column it starts at.
fn field<'a>(block: &'a str, key: &str) -> (&'a str, usize) {
    let line = block
        .lines()
        .find(|l| l.split_whitespace().next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in\n{block}"));
    let value = line[2 + key.len()..].trim_start();
    (value, line.len() - value.len())
}

#[test]
fn show_text_for_people() {
    let lab = Lab::new();
    lab.ping(1);
    let out = lab.ns.netdev(&["show", "v0", "lo"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (v0, lo) = stdout
        .split_once("\n\n")
        .expect("a blank line between devices");
    assert!(v0.starts_with("v0\n"), "{v0}");
    assert_eq!(field(v0, "kind").0, "veth");
    assert_eq!(field(v0, "speed").0, "10 Gb/s full duplex");
    assert_eq!(field(v0, "ipv4").0, "10.77.0.1/24");
    assert!(field(v0, "carrier").0.starts_with("up, "), "{v0}");
    assert!(field(v0, "rx_packets").0.parse::<u64>().unwrap() >= 1);
    // Values line up in one column.
    let column = field(v0, "ifindex").1;
    for key in ["mac", "flags", "speed", "rx_packets"] {
        assert_eq!(field(v0, key).1, column, "{key} misaligned:\n{v0}");
    }
    assert!(
        !v0.contains("rx_crc_errors"),
        "zero counters are left out:\n{v0}"
    );
    // A loopback has no speed and no kind: "-", and not a failure.
    assert!(lo.starts_with("lo\n"), "{lo}");
    assert_eq!(field(lo, "speed").0, "-");
    assert_eq!(field(lo, "kind").0, "-");

    let all = text(&lab.ns.netdev(&["show", "--all", "v0"]).stdout);
    assert_eq!(field(&all, "rx_crc_errors").0, "0");
}

#[test]
fn show_missing_device_is_a_runtime_error_naming_it() {
    let ns = NetNs::new();
    let out = ns.netdev(&["show", "nosuch0"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "netdev: nosuch0: open: no such device\n");
    assert!(out.stdout.is_empty());

    // The devices that exist are still shown; the status says one failed.
    let out = ns.netdev(&["show", "--json", "nosuch0", "lo"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "lo");
    assert!(v[0]["speed_mbps"].is_null());
}

#[test]
fn bad_names_are_usage_errors() {
    // No namespace needed: the name is refused before anything is opened.
    for (name, why) in [
        ("a/b", "contains a '/'"),
        ("a b", "contains whitespace"),
        ("0123456789abcdef", "16 bytes long"),
        ("eth0:1", "':'"),
    ] {
        for command in ["show", "stats"] {
            let out = Command::new(BIN).args([command, name]).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{command} {name:?}");
            let err = text(&out.stderr);
            assert!(
                err.contains("invalid interface name") && err.contains(why),
                "{err}"
            );
        }
    }
    let out = Command::new(BIN).args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn huge_watch_timeouts_do_not_panic() {
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    // 1e19 s is a valid Duration but no Instant can be that far ahead:
    // it means "no deadline". --count 0 ends at once either way.
    for timeout in ["1e19", "9e18"] {
        let out = ns.netdev(&["watch", "--timeout", timeout, "--count", "0"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "--timeout {timeout}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("panicked"));
    }
}

/// A rejected argument as long as the kernel allows (128 KiB) is named,
/// not repeated: every usage error that quotes it shows a short escaped
/// prefix and its length, and exits 2.
#[test]
fn long_rejected_arguments_are_cut_and_escaped() {
    const LEN: usize = 131_000;
    let long = "a".repeat(LEN);
    let escape = format!("\x1b[31m{}", "b".repeat(LEN));
    let dashed = format!("--{long}");
    let json = format!("--json={long}");
    let cases: Vec<(Vec<&str>, &str, usize)> = vec![
        (vec!["show", &long], "is 131000 bytes long", LEN),
        (vec!["stats", "lo", &long], "is 131000 bytes long", LEN),
        (vec![&long], "unrecognized subcommand", LEN),
        (vec!["list", &long], "unexpected argument", LEN),
        (
            vec!["watch", "--timeout", &long],
            "not a number of seconds",
            LEN,
        ),
        (vec!["watch", "--count", &long], "invalid value", LEN),
        (vec!["show", "lo", &dashed], "unexpected argument", LEN + 2),
        (vec![&json, "list"], "unexpected value", LEN),
        (vec!["show", &escape], "is 131005 bytes long", LEN + 5),
        (vec![&escape], "unrecognized subcommand", LEN + 5),
    ];
    for (args, why, len) in cases {
        let what = format!(
            "netdev {:?}",
            args.iter()
                .map(|a| &a[..a.len().min(12)])
                .collect::<Vec<_>>()
        );
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(out.stdout.is_empty(), "{what}");
        let err = text(&out.stderr);
        assert!(
            out.stderr.len() < 1024,
            "{what}: {} bytes of stderr: {}...",
            out.stderr.len(),
            &err[..300]
        );
        assert!(err.starts_with("error: "), "{what}: {err}");
        assert!(err.contains(why), "{what} does not say {why:?}: {err}");
        assert!(err.contains(&format!("... ({len} bytes)")), "{what}: {err}");
        let run = if args.iter().any(|a| a.contains('b')) {
            "bbbbbbbb"
        } else {
            "aaaaaaaa"
        };
        assert!(err.contains(run), "{what} shows no prefix: {err}");
        assert!(!err.contains(&run.repeat(5)), "{what}: {err}");
        assert!(!out.stderr.contains(&0x1b), "{what} wrote an escape: {err}");
        if args.iter().any(|a| a.contains('\x1b')) {
            assert!(err.contains("\\u{1b}[31m"), "{what}: {err}");
        }
    }
}

#[test]
fn help_documents_json_fields_and_version_prints() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("netdev {}\n", env!("CARGO_PKG_VERSION"))
    );
    for (command, fields) in [
        ("list", &["ifindex", "kind", "master", "flags"][..]),
        (
            "show",
            &["speed_mbps", "carrier_resets", "ipv6", "tx_window_errors"][..],
        ),
        ("stats", &["stats"][..]),
        ("watch", &["old_name", "overflow", "renamed"][..]),
    ] {
        let out = Command::new(BIN)
            .args([command, "--help"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        for f in fields {
            assert!(help.contains(f), "{command} --help lacks {f}:\n{help}");
        }
    }
    let help = text(&Command::new(BIN).arg("--help").output().unwrap().stdout);
    assert!(help.contains("Exit status"), "{help}");
}

#[test]
fn stats_cover_every_device() {
    let lab = Lab::new();
    lab.ping(2);
    let v = lab.ns.netdev_json(&["stats", "--json"]);
    let names: BTreeSet<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    let reference = ip_links(&lab.ns, false);
    assert_eq!(names, reference.keys().map(String::as_str).collect());
    let v0 = v
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "v0")
        .unwrap();
    assert_eq!(v0["ifindex"], reference["v0"]["ifindex"]);
    assert!(v0["stats"]["rx_packets"].as_u64().unwrap() >= 2);

    let out = lab.ns.netdev(&["stats", "v0", "lo"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("NAME  RX PACKETS  RX BYTES"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[1].starts_with("v0 ") && lines[1].contains(" B "),
        "{stdout}"
    );
}

#[test]
fn kernel_text_is_escaped_in_text_and_exact_in_json() {
    let ns = NetNs::new();
    // The kernel refuses only '/', ':' and whitespace in a name: this one
    // would turn a terminal red, and ends in a backslash.
    let odd = "br\u{1b}[31m\\";
    let shown = r"br\u{1b}[31m\\";
    ns.ip(&["link", "add", odd, "type", "bridge"]);
    ns.ip(&["link", "add", "p0", "type", "veth", "peer", "name", "p1"]);
    ns.ip(&["link", "set", "p0", "master", odd]);

    for args in [&["list"][..], &["stats"], &["show", "p0"]] {
        let out = ns.netdev(args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(
            !stdout.contains('\u{1b}'),
            "{args:?} printed an escape:\n{stdout}"
        );
        assert!(stdout.contains(shown), "{args:?} lacks {shown}:\n{stdout}");
    }
    let out = text(&ns.netdev(&["show", "p0"]).stdout);
    assert_eq!(field(&out, "master").0, shown);
    let list = text(&ns.netdev(&["list"]).stdout);
    let header = list.lines().next().unwrap();
    let p0 = list.lines().find(|l| l.contains(" p0 ")).unwrap();
    assert_eq!(
        &p0[header.find("MASTER").unwrap()..][..shown.len()],
        shown,
        "escaped text is as wide as it prints:\n{list}"
    );

    let list = ns.netdev_json(&["--json", "list"]);
    let list = list.as_array().unwrap();
    assert!(list.iter().any(|d| d["name"] == odd), "{list:?}");
    let p0 = list.iter().find(|d| d["name"] == "p0").unwrap();
    assert_eq!(p0["master"], odd);
    let stats = ns.netdev_json(&["--json", "stats"]);
    assert!(stats.as_array().unwrap().iter().any(|d| d["name"] == odd));
    assert_eq!(ns.netdev_json(&["--json", "show", "p0"])[0]["master"], odd);

    // The device itself can be addressed by its exact name, and every
    // line about it (including errors) stays inert on a terminal.
    let out = ns.netdev(&["show", odd]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    assert_eq!(stdout.lines().next(), Some(shown));
    assert_eq!(ns.netdev_json(&["--json", "show", odd])[0]["name"], odd);
    let gone = "gone\u{1b}[2J";
    let out = ns.netdev(&["show", gone]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(
        stderr.contains(r"gone\u{1b}[2J: open: no such device"),
        "{stderr}"
    );
}

/// A running `watch`, its stdout lines arriving on a channel.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    /// Starts `netdev watch ARGS` in `ns` and waits until it says it is
    /// ready, so every change made afterwards must be reported.
    fn start(ns: &NetNs, args: &[&str]) -> Watch {
        let mut child = ns
            .netdev_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting netdev watch");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut before = Vec::new();
        loop {
            let mut line = String::new();
            if stderr.read_line(&mut line).unwrap() == 0 {
                panic!("watch ended before it was ready: {before:?}");
            }
            if line.starts_with("netdev: watching ") {
                break;
            }
            before.push(line);
        }
        // Keep reading, so a later warning is seen (and never hits a
        // closed pipe).
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                eprintln!("watch stderr: {line}");
            }
        });
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    /// Lines until `done` says enough, or `limit` passes.
    fn collect(&self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let end = Instant::now() + limit;
        let mut got = Vec::new();
        while !done(&got) {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => got.push(
                    serde_json::from_str(&line)
                        .unwrap_or_else(|e| panic!("bad JSON line ({e}): {line}")),
                ),
                Err(_) => break,
            }
        }
        got
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_reports_an_mtu_change_as_one_json_line() {
    let ns = NetNs::new();
    // Both ends stay down: no IPv6 autoconfiguration events to race with.
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    let ifindex = ip_links(&ns, false)["v0"]["ifindex"].clone();
    let mut watch = Watch::start(&ns, &["watch", "--json", "--count", "1", "--timeout", "20"]);
    ns.ip(&["link", "set", "v0", "mtu", "1400"]);
    let status = watch.child.wait().unwrap();
    assert!(status.success(), "watch exited with {status}");
    let events = watch.collect(Duration::from_secs(5), |_| false);
    assert_eq!(events.len(), 1, "--count 1: {events:?}");
    let e = &events[0];
    assert_eq!(e["event"], "link");
    assert_eq!(e["name"], "v0");
    assert_eq!(e["ifindex"], ifindex);
    assert_eq!(e["mtu"], 1400);
    assert!(e["time"].as_str().unwrap().contains('T'), "RFC 3339: {e}");
}

#[test]
fn watch_follows_devices_that_come_are_renamed_and_go() {
    let ns = NetNs::new();
    let watch = Watch::start(&ns, &["watch", "--json", "--timeout", "30"]);
    ns.ip(&["tuntap", "add", "t5", "mode", "tap"]);
    ns.ip(&["link", "set", "t5", "name", "t6"]);
    // The renamed device was opened when it appeared: its new state is
    // reported under its new name.
    ns.ip(&["link", "set", "t6", "mtu", "1280"]);
    ns.ip(&["link", "del", "t6"]);
    let events = watch.collect(Duration::from_secs(20), |got| {
        got.iter().any(|e| e["event"] == "removed")
    });
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap(),
                e["name"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let pos = |k: (&str, &str)| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("no {k:?} in {kinds:?}"))
    };
    let added = pos(("added", "t5"));
    let renamed = pos(("renamed", "t6"));
    let mtu = events
        .iter()
        .position(|e| e["event"] == "link" && e["name"] == "t6" && e["mtu"] == 1280)
        .unwrap_or_else(|| panic!("no mtu change of t6 in {kinds:?}"));
    let removed = pos(("removed", "t6"));
    assert!(
        added < renamed && renamed < mtu && mtu < removed,
        "{kinds:?}"
    );
    assert_eq!(events[renamed]["old_name"], "t5");
    let ifindex = &events[added]["ifindex"];
    assert_eq!(&events[removed]["ifindex"], ifindex);
}

#[test]
fn watch_text_lines_have_a_time_and_the_state() {
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    let mut watch = Watch::start(&ns, &["watch", "--count", "1", "--timeout", "20"]);
    ns.ip(&["link", "set", "v0", "mtu", "1400"]);
    assert!(watch.child.wait().unwrap().success());
    let line = watch.lines.recv_timeout(Duration::from_secs(5)).unwrap();
    // "12:00:01.234 link v0 (ifindex 3) mtu 1400 mac ... flags ... carrier down"
    let (clock, rest) = line.split_once(' ').unwrap();
    assert_eq!(clock.len(), "12:00:01.234".len(), "{line}");
    assert!(
        clock
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.'),
        "{line}"
    );
    assert!(rest.starts_with("link v0 (ifindex "), "{line}");
    assert!(
        rest.contains(" mtu 1400 ") && rest.ends_with(" carrier down"),
        "{line}"
    );
    assert!(rest.contains(" flags broadcast,multicast "), "{line}");
}

#[test]
fn a_name_that_is_not_utf8_fails_no_listing() {
    use std::os::unix::ffi::OsStrExt;
    let ns = NetNs::new();
    // The kernel takes any byte but '/', ':' and whitespace in a name.
    let raw = std::ffi::OsStr::from_bytes(b"x\xff\xfe");
    let ok = Command::new("ip")
        .args(["-n", &ns.name, "link", "add"])
        .arg(raw)
        .args(["type", "bridge"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "ip link add with a non-UTF-8 name");
    ns.ip(&["link", "add", "ok0", "type", "bridge"]);
    for args in [
        &["list"][..],
        &["stats"],
        &["--json", "list"],
        &["--json", "stats"],
    ] {
        let out = ns.netdev(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        assert!(stdout.contains("ok0"), "{args:?}:\n{stdout}");
        // Shown with U+FFFD for the bytes that are not UTF-8.
        assert!(stdout.contains("x\u{fffd}\u{fffd}"), "{args:?}:\n{stdout}");
    }
}

/// The namespaces these tests leave when interrupted are among those the
/// sweep removes.
#[test]
fn namespace_prefix_is_swept() {
    assert!(support::SWEPT_PREFIXES.contains(&PREFIX));
    assert_eq!(support::owner_pid(&format!("{PREFIX}42-0")), Some(42));
}
