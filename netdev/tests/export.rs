//! `netdev export`, run as a user runs it (`ip netns exec NS netdev
//! export`) in fresh network namespaces, scraped over real TCP, its answers
//! read by the Prometheus project's own Python parsers (Debian's
//! `python3-prometheus-client`) and compared with `ip -j -s -s link` and
//! with a real `node_exporter` (Debian's `prometheus-node-exporter`)
//! scraping the same devices.
//!
//! Needs root, `/usr/bin/python3` with `prometheus_client` and
//! `prometheus-node-exporter`: a missing one fails the test with the
//! package to install, never skips it.

#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "../../netdev-linux/tests/support/mod.rs"]
mod support;

use support::NetNs;

const BIN: &str = env!("CARGO_BIN_EXE_netdev");
const PYTHON: &str = "/usr/bin/python3";
const NODE_EXPORTER: &str = "prometheus-node-exporter";

/// A process started by a test, killed (by its own id) when dropped.
struct Process {
    child: Child,
    what: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `netdev export` running inside a namespace.
struct Exporter<'a> {
    ns: &'a NetNs,
    addr: SocketAddr,
    process: Process,
}

impl<'a> Exporter<'a> {
    fn start(ns: &'a NetNs, args: &[&str]) -> Exporter<'a> {
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns.name(),
                BIN,
                "export",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting netdev export");
        let stderr = child.stderr.take().expect("piped stderr");
        let process = Process {
            child,
            what: format!("netdev export {args:?}"),
        };
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = match lines.next() {
                Some(Ok(l)) => l,
                other => panic!("{}: ended before it was ready: {other:?}", process.what),
            };
            if let Some(rest) = line.strip_prefix("netdev: exporting ") {
                let url = rest.split(" on http://").nth(1).expect("an address");
                break url
                    .trim_end_matches("/metrics")
                    .parse()
                    .expect("a socket address");
            }
        };
        // The rest of stderr (warnings) goes to the test's own.
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                eprintln!("[netdev export] {l}");
            }
        });
        Exporter { ns, addr, process }
    }

    /// `GET /metrics` with these extra header lines: the status, head and
    /// body.
    fn scrape_with(&self, headers: &str) -> Response {
        request(
            self.ns,
            self.addr,
            format!("GET /metrics HTTP/1.0\r\nHost: x\r\n{headers}\r\n").as_bytes(),
        )
    }

    /// A successful scrape in the text format, parsed.
    fn scrape(&self) -> Samples {
        let r = self.scrape_with("");
        assert_eq!(r.status, 200, "{}", r.head);
        assert!(
            r.head
                .to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
            "{}",
            r.head
        );
        parse(&r.body, "text")
    }

    fn alive(&mut self) -> bool {
        matches!(self.process.child.try_wait(), Ok(None))
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

/// Sends `raw` on a new connection made inside `ns` and reads the answer
/// to its end (the server closes after an HTTP/1.0 request).
fn request(ns: &NetNs, addr: SocketAddr, raw: &[u8]) -> Response {
    let mut s = {
        let _inside = ns.enter();
        TcpStream::connect(addr).expect("connecting to the exporter")
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw).expect("sending the request");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).expect("reading the answer");
    let text = String::from_utf8(answer).expect("a UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// One sample: name, labels, value.
type Key = (String, BTreeMap<String, String>);

#[derive(Debug, Default)]
struct Samples {
    values: BTreeMap<Key, f64>,
    /// Family name to type, as the parser read them.
    types: BTreeMap<String, String>,
}

impl Samples {
    fn get(&self, name: &str, device: &str) -> Option<f64> {
        self.values
            .get(&(name.to_owned(), labels(&[("device", device)])))
            .copied()
    }

    fn names(&self) -> BTreeSet<&str> {
        self.values.keys().map(|(n, _)| n.as_str()).collect()
    }

    fn devices(&self, name: &str) -> BTreeSet<String> {
        self.values
            .keys()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, l)| l.get("device").cloned())
            .collect()
    }

    fn info(&self, device: &str) -> BTreeMap<String, String> {
        let found: Vec<_> = self
            .values
            .keys()
            .filter(|(n, l)| {
                n == "node_network_info" && l.get("device").map(String::as_str) == Some(device)
            })
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one node_network_info for {device:?}: {found:?}"
        );
        found[0].1.clone()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The Prometheus client library's own parsers, on `text`: `text` for the
/// text format, `openmetrics` for OpenMetrics (which also checks `# EOF`,
/// names and types strictly).
const PARSER: &str = r#"
import json, sys
try:
    if sys.argv[1] == "openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:
    sys.exit("prometheus_client is missing (apt-get install python3-prometheus-client): %s" % e)
out = {"samples": [], "types": {}}
for fam in text_string_to_metric_families(sys.stdin.read()):
    out["types"][fam.name] = fam.type
    for s in fam.samples:
        out["samples"].append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;

fn parse(text: &str, format: &str) -> Samples {
    let mut child = Command::new(PYTHON)
        .args(["-c", PARSER, format])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {PYTHON} (apt-get install python3 python3-prometheus-client): {e}")
        });
    let mut stdin = child.stdin.take().unwrap();
    let input = text.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().expect("feeding the parser");
    assert!(
        out.status.success(),
        "the {format} parser refused the scrape: {}\n--- scrape ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("parser JSON");
    let mut samples = Samples::default();
    for s in v["samples"].as_array().unwrap() {
        let labels = s[1]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let key = (s[0].as_str().unwrap().to_owned(), labels);
        let value = s[2].as_f64().unwrap();
        assert!(
            samples.values.insert(key.clone(), value).is_none(),
            "sample {key:?} twice"
        );
    }
    for (name, t) in v["types"].as_object().unwrap() {
        samples
            .types
            .insert(name.clone(), t.as_str().unwrap().to_owned());
    }
    samples
}

/// `ip -s -s -j link` in `ns`, by device name.
fn ip_links(ns: &NetNs) -> BTreeMap<String, Value> {
    let v: Value = serde_json::from_str(&ns.ip(&["-s", "-s", "-j", "link"])).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|l| (l["ifname"].as_str().unwrap().to_owned(), l.clone()))
        .collect()
}

/// Two namespaces joined by a veth pair (`ex0` here, `peer0` there, both
/// up and addressed), an `ifb` device that stays down, and some ping
/// traffic already through the pair. IPv6 is off in both namespaces: its
/// neighbour discovery and MLD reports would send packets at moments of
/// their own, between two reads that must agree.
fn host_with_traffic() -> (NetNs, NetNs) {
    let ns = NetNs::new();
    let peer = NetNs::new();
    for n in [&ns, &peer] {
        for conf in ["all", "default"] {
            n.exec(
                "sysctl",
                &["-qw", &format!("net.ipv6.conf.{conf}.disable_ipv6=1")],
            );
        }
    }
    ns.veth_to("ex0", &peer, "peer0");
    ns.ip(&["addr", "add", "10.214.0.1/24", "dev", "ex0"]);
    peer.ip(&["addr", "add", "10.214.0.2/24", "dev", "peer0"]);
    ns.ip(&["link", "set", "ex0", "up"]);
    peer.ip(&["link", "set", "peer0", "up"]);
    ns.ip(&["link", "add", "ifbx", "type", "ifb"]);
    ns.exec("ping", &["-c", "5", "-i", "0.01", "-W", "5", "10.214.0.2"]);
    (ns, peer)
}

/// The counters `ip -s -s -j link` reports, each with the metric that
/// must carry it (computed as the kernel's /proc/net/dev does for the
/// node_exporter names).
fn expected_counters(link: &Value) -> Vec<(&'static str, u64)> {
    let rx = &link["stats64"]["rx"];
    let tx = &link["stats64"]["tx"];
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    vec![
        ("node_network_receive_bytes_total", n(rx, "bytes")),
        ("node_network_receive_packets_total", n(rx, "packets")),
        ("node_network_receive_errs_total", n(rx, "errors")),
        (
            "node_network_receive_drop_total",
            n(rx, "dropped") + n(rx, "missed_errors"),
        ),
        ("node_network_receive_fifo_total", n(rx, "fifo_errors")),
        (
            "node_network_receive_frame_total",
            n(rx, "length_errors")
                + n(rx, "over_errors")
                + n(rx, "crc_errors")
                + n(rx, "frame_errors"),
        ),
        ("node_network_receive_multicast_total", n(rx, "multicast")),
        ("node_network_transmit_bytes_total", n(tx, "bytes")),
        ("node_network_transmit_packets_total", n(tx, "packets")),
        ("node_network_transmit_errs_total", n(tx, "errors")),
        ("node_network_transmit_drop_total", n(tx, "dropped")),
        ("node_network_transmit_fifo_total", n(tx, "fifo_errors")),
        ("node_network_transmit_colls_total", n(tx, "collisions")),
        (
            "node_network_transmit_carrier_total",
            n(tx, "carrier_errors")
                + n(tx, "aborted_errors")
                + n(tx, "window_errors")
                + n(tx, "heartbeat_errors"),
        ),
        ("netdev_receive_length_errors_total", n(rx, "length_errors")),
        ("netdev_receive_over_errors_total", n(rx, "over_errors")),
        ("netdev_receive_crc_errors_total", n(rx, "crc_errors")),
        ("netdev_receive_frame_errors_total", n(rx, "frame_errors")),
        ("netdev_receive_fifo_errors_total", n(rx, "fifo_errors")),
        ("netdev_receive_missed_errors_total", n(rx, "missed_errors")),
        (
            "netdev_transmit_aborted_errors_total",
            n(tx, "aborted_errors"),
        ),
        (
            "netdev_transmit_carrier_errors_total",
            n(tx, "carrier_errors"),
        ),
        ("netdev_transmit_fifo_errors_total", n(tx, "fifo_errors")),
        (
            "netdev_transmit_heartbeat_errors_total",
            n(tx, "heartbeat_errors"),
        ),
        (
            "netdev_transmit_window_errors_total",
            n(tx, "window_errors"),
        ),
    ]
}

#[test]
fn scrapes_match_ip_link_in_both_formats() {
    let (ns, _peer) = host_with_traffic();
    let exporter = Exporter::start(&ns, &[]);
    let text = exporter.scrape();
    // No traffic reaches ex0 or ifbx meanwhile (scrapes run over lo).
    let links = ip_links(&ns);
    let ex0 = &links["ex0"];
    assert!(
        ex0["stats64"]["rx"]["packets"].as_u64().unwrap() >= 5,
        "{ex0}"
    );
    for dev in ["ex0", "ifbx"] {
        let link = &links[dev];
        for (metric, want) in expected_counters(link) {
            assert_eq!(
                text.get(metric, dev),
                Some(want as f64),
                "{metric} of {dev}"
            );
        }
        let ifindex = link["ifindex"].as_u64().unwrap() as f64;
        assert_eq!(text.get("node_network_iface_id", dev), Some(ifindex));
        assert_eq!(
            text.get("node_network_mtu_bytes", dev),
            Some(link["mtu"].as_u64().unwrap() as f64)
        );
        let operstate = link["operstate"].as_str().unwrap().to_ascii_lowercase();
        assert_eq!(
            text.get("node_network_up", dev),
            Some(if operstate == "up" { 1.0 } else { 0.0 })
        );
        let info = text.info(dev);
        assert_eq!(info["address"], link["address"].as_str().unwrap());
        assert_eq!(info["operstate"], operstate);
        assert_eq!(info["ifindex"], link["ifindex"].to_string());
    }
    // ex0 is up with carrier; ifbx is down, so (as in sysfs) it has no
    // carrier, speed or duplex to report.
    assert_eq!(text.get("node_network_carrier", "ex0"), Some(1.0));
    assert_eq!(text.get("node_network_speed_bytes", "ex0"), Some(1.25e9));
    assert_eq!(text.info("ex0")["duplex"], "full");
    assert_eq!(text.get("node_network_carrier", "ifbx"), None);
    assert_eq!(text.get("node_network_speed_bytes", "ifbx"), None);
    assert_eq!(text.info("ifbx")["duplex"], "");
    // Every device ip lists, and no other.
    let want: BTreeSet<String> = links.keys().cloned().collect();
    assert_eq!(text.devices("node_network_iface_id"), want);
    assert_eq!(text.devices("node_network_receive_bytes_total"), want);
    assert_eq!(text.types["node_network_receive_bytes"], "counter");
    assert_eq!(text.types["node_network_up"], "gauge");

    // OpenMetrics when asked, as Prometheus asks: the same samples.
    let r = exporter.scrape_with(
        "Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
         version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n",
    );
    assert_eq!(r.status, 200);
    assert!(
        r.head
            .contains("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{}",
        r.head
    );
    assert!(r.body.ends_with("# EOF\n"));
    let om = parse(&r.body, "openmetrics");
    assert_eq!(om.types["node_network"], "info");
    assert_eq!(om.types["node_network_receive_bytes"], "counter");
    for dev in ["ex0", "ifbx"] {
        for (metric, want) in expected_counters(&links[dev]) {
            assert_eq!(om.get(metric, dev), Some(want as f64), "{metric} of {dev}");
        }
        assert_eq!(om.info(dev), text.info(dev));
    }
    let om_names: BTreeSet<&str> = om.names();
    assert_eq!(om_names, text.names());
}

#[test]
fn shared_metrics_equal_node_exporters() {
    let (ns, peer) = host_with_traffic();
    // A device with a speed and carrier that is down, too.
    ns.veth_to("quiet0", &peer, "quiet1");
    // Loopback carries both scrapes, so its counters move between them:
    // left out on both sides (node_exporter's Debian default for netdev).
    let ours = Exporter::start(&ns, &["--exclude", "^lo$"]);
    let port = {
        let _inside = ns.enter();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let child = Command::new("ip")
        .args(["netns", "exec", ns.name(), NODE_EXPORTER, &listen])
        .args([
            "--collector.disable-defaults",
            "--collector.netdev",
            "--collector.netclass",
            "--collector.netdev.device-exclude=^lo$",
            "--collector.netclass.ignored-devices=^lo$",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {NODE_EXPORTER} (apt-get install prometheus-node-exporter): {e}")
        });
    let mut node = Process {
        child,
        what: NODE_EXPORTER.into(),
    };
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let theirs = {
        let started = Instant::now();
        loop {
            let _inside = ns.enter();
            if TcpStream::connect(addr).is_ok() {
                break;
            }
            assert!(
                matches!(node.child.try_wait(), Ok(None)),
                "{} exited",
                node.what
            );
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "node_exporter never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let r = request(&ns, addr, b"GET /metrics HTTP/1.0\r\n\r\n");
        assert_eq!(r.status, 200);
        parse(&r.body, "text")
    };
    let mine = ours.scrape();

    let shared: BTreeSet<&str> = mine
        .names()
        .intersection(&theirs.names())
        .copied()
        .collect();
    // What both must report here (the rest is checked as it comes).
    for name in [
        "node_network_receive_bytes_total",
        "node_network_receive_packets_total",
        "node_network_receive_errs_total",
        "node_network_receive_drop_total",
        "node_network_receive_fifo_total",
        "node_network_receive_frame_total",
        "node_network_receive_multicast_total",
        "node_network_transmit_bytes_total",
        "node_network_transmit_packets_total",
        "node_network_transmit_errs_total",
        "node_network_transmit_drop_total",
        "node_network_transmit_fifo_total",
        "node_network_transmit_colls_total",
        "node_network_transmit_carrier_total",
        "node_network_mtu_bytes",
        "node_network_up",
        "node_network_carrier",
        "node_network_carrier_down_changes_total",
        "node_network_speed_bytes",
        "node_network_iface_id",
        "node_network_info",
    ] {
        assert!(shared.contains(name), "{name} is not in both: {shared:?}");
    }
    let mut compared = 0;
    for name in &shared {
        if *name == "node_network_info" {
            continue;
        }
        let pick = |s: &Samples| -> BTreeMap<BTreeMap<String, String>, f64> {
            s.values
                .iter()
                .filter(|((n, _), _)| n == name)
                .map(|((_, l), v)| (l.clone(), *v))
                .collect()
        };
        assert_eq!(pick(&mine), pick(&theirs), "{name}");
        compared += pick(&mine).len();
    }
    assert!(compared > 40, "only {compared} samples compared");
    // node_network_info: the same values for the labels both have
    // (node_exporter adds broadcast and ifalias, we add ifindex).
    let devices = theirs.devices("node_network_info");
    assert_eq!(mine.devices("node_network_info"), devices);
    for dev in &devices {
        let (m, t) = (mine.info(dev), theirs.info(dev));
        for label in ["address", "device", "duplex", "operstate"] {
            assert_eq!(m[label], t[label], "{label} of {dev}");
        }
    }
    assert!(devices.contains("quiet0") && devices.contains("ex0"));
}

#[test]
fn devices_added_renamed_and_removed_between_scrapes() {
    let ns = NetNs::new();
    let exporter = Exporter::start(&ns, &[]);
    let first = exporter.scrape();
    assert_eq!(
        first.devices("node_network_iface_id"),
        BTreeSet::from(["lo".into()])
    );

    let ifindex_of = |name: &str| ip_links(&ns)[name]["ifindex"].as_u64().unwrap() as f64;
    let wait_for = |what: &str, cond: &dyn Fn(&Samples) -> bool| {
        let started = Instant::now();
        loop {
            let s = exporter.scrape();
            if cond(&s) {
                return s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out: {what}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    ns.ip(&["link", "add", "new0", "type", "ifb"]);
    let first_index = ifindex_of("new0");
    let s = wait_for("new0 appears", &|s| {
        s.get("node_network_iface_id", "new0").is_some()
    });
    assert_eq!(s.get("node_network_iface_id", "new0"), Some(first_index));
    assert_eq!(s.get("node_network_mtu_bytes", "new0"), Some(1500.0));

    ns.ip(&["link", "set", "new0", "mtu", "1400"]);
    wait_for("new0's new MTU", &|s| {
        s.get("node_network_mtu_bytes", "new0") == Some(1400.0)
    });

    ns.ip(&["link", "set", "new0", "name", "renamed0"]);
    let s = wait_for("the rename", &|s| {
        s.get("node_network_iface_id", "renamed0").is_some()
    });
    assert_eq!(s.get("node_network_iface_id", "new0"), None);
    assert_eq!(
        s.get("node_network_iface_id", "renamed0"),
        Some(first_index)
    );

    ns.ip(&["link", "del", "renamed0"]);
    let s = wait_for("the removal", &|s| {
        s.devices("node_network_iface_id").len() == 1
    });
    assert_eq!(
        s.devices("node_network_info"),
        BTreeSet::from(["lo".into()])
    );

    // Created again under an old name: a new device, a new ifindex.
    ns.ip(&["link", "add", "new0", "type", "ifb"]);
    let second_index = ifindex_of("new0");
    assert_ne!(second_index, first_index);
    let s = wait_for("new0 again", &|s| {
        s.get("node_network_iface_id", "new0") == Some(second_index)
    });
    assert_eq!(s.get("node_network_mtu_bytes", "new0"), Some(1500.0));
    assert_eq!(
        s.info("new0")["address"],
        ip_links(&ns)["new0"]["address"].as_str().unwrap()
    );
}

#[test]
fn names_with_quotes_backslashes_and_bad_utf8_are_labels() {
    let ns = NetNs::new();
    ns.ip(&["link", "add", "q\"\\x", "type", "ifb"]);
    // "\xff\xfeab": not UTF-8. Made with an argument vector of raw bytes.
    let raw = OsStr::from_bytes(b"\xff\xfeab");
    let out = Command::new("ip")
        .args(["-n", ns.name(), "link", "add"])
        .arg(raw)
        .args(["type", "ifb"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exporter = Exporter::start(&ns, &[]);
    let s = exporter.scrape();
    let devices = s.devices("node_network_iface_id");
    assert!(devices.contains("q\"\\x"), "{devices:?}");
    // Each byte that is not UTF-8 reads as U+FFFD; the counters and the
    // index still come from the kernel's dump.
    assert!(devices.contains("\u{fffd}\u{fffd}ab"), "{devices:?}");
    assert_eq!(
        s.get("node_network_receive_bytes_total", "\u{fffd}\u{fffd}ab"),
        Some(0.0)
    );
    assert_eq!(s.get("node_network_mtu_bytes", "q\"\\x"), Some(1500.0));
    let om = parse(
        &exporter
            .scrape_with("Accept: application/openmetrics-text\r\n")
            .body,
        "openmetrics",
    );
    assert_eq!(om.devices("node_network_iface_id"), devices);
}

#[test]
fn include_and_exclude_choose_devices_as_node_exporter_does() {
    let ns = NetNs::new();
    for name in ["eth7", "xeth7", "ifb3"] {
        ns.ip(&["link", "add", name, "type", "ifb"]);
    }
    let all: BTreeSet<String> = ["lo", "eth7", "xeth7", "ifb3"].map(String::from).into();
    // Not anchored: matches anywhere in the name.
    let e = Exporter::start(&ns, &["--include", "eth"]);
    let s = e.scrape();
    assert_eq!(
        s.devices("node_network_iface_id"),
        ["eth7", "xeth7"].map(String::from).into()
    );
    assert_eq!(
        s.devices("node_network_info"),
        ["eth7", "xeth7"].map(String::from).into()
    );
    drop(e);
    let e = Exporter::start(&ns, &["--exclude", "^eth[0-9]+$"]);
    let want: BTreeSet<String> = all.iter().filter(|d| *d != "eth7").cloned().collect();
    assert_eq!(e.scrape().devices("node_network_receive_bytes_total"), want);
    drop(e);
    // Mutually exclusive, as node_exporter's; a bad pattern is a usage error.
    for args in [
        &["--include", "a", "--exclude", "b"][..],
        &["--include", "("][..],
        &["--listen", "nowhere"][..],
        &["--max-connections", "0"][..],
    ] {
        let out = Command::new(BIN).arg("export").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_hundred_concurrent_scrapers_are_all_served() {
    let ns = NetNs::new();
    ns.add_ifbs("c", 50);
    let exporter = Exporter::start(&ns, &[]);
    let reference = exporter.scrape();
    let bodies: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|_| {
                scope.spawn(|| {
                    let r = exporter.scrape_with("");
                    assert_eq!(r.status, 200, "{}", r.head);
                    r.body
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(bodies.len(), 100);
    for body in &bodies {
        // Each one whole: every device's last line is there.
        for i in 0..50 {
            assert!(
                body.contains(&format!("device=\"c{i}\",duplex=")),
                "c{i} missing"
            );
        }
    }
    let parsed = parse(&bodies[99], "text");
    assert_eq!(
        parsed.devices("node_network_iface_id"),
        reference.devices("node_network_iface_id")
    );
}

#[test]
fn bad_requests_get_4xx_and_slow_clients_stall_nobody() {
    let ns = NetNs::new();
    let mut exporter = Exporter::start(&ns, &[]);
    let addr = exporter.addr;
    let send = |raw: &[u8]| -> Option<u16> {
        // The server may answer and close, or just close: both are fine,
        // a hang or a 2xx is not.
        let mut s = {
            let _inside = ns.enter();
            TcpStream::connect(addr).unwrap()
        };
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.write_all(raw);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        text.split(' ').nth(1).and_then(|c| c.parse().ok())
    };
    assert_eq!(
        send(b"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        Some(405)
    );
    assert_eq!(send(b"BREW /metrics HTTP/1.0\r\n\r\n"), Some(405));
    assert_eq!(
        send(b"POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc"),
        Some(405)
    );
    assert_eq!(send(b"GET /nosuch HTTP/1.0\r\n\r\n"), Some(404));
    assert_eq!(send(b"GET / HTTP/1.0\r\n\r\n"), Some(200));
    let head = request(&ns, addr, b"HEAD /metrics HTTP/1.0\r\n\r\n");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    // hyper's parser answers what it cannot read, and closes.
    for garbage in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    ] {
        assert_eq!(
            send(garbage),
            Some(400),
            "{:?}",
            String::from_utf8_lossy(garbage)
        );
    }
    let mut many = b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..150 {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(send(&many), Some(431), "150 header lines");
    let mut huge = b"GET /metrics HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..2000 {
        huge.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(50)).as_bytes());
    }
    huge.extend_from_slice(b"\r\n");
    let status = send(&huge);
    assert!(
        status.map_or(true, |s| (400..500).contains(&s)),
        "huge head: {status:?}"
    );

    // Slowloris: connections that send half a request and wait; and a
    // client that asks and never reads. Others are served meanwhile.
    let mut stalled = Vec::new();
    for i in 0..20 {
        let mut s = {
            let _inside = ns.enter();
            TcpStream::connect(addr).unwrap()
        };
        if i % 2 == 0 {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .unwrap();
        } else {
            for _ in 0..50 {
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
            }
        }
        stalled.push(s);
    }
    for _ in 0..3 {
        let s = exporter.scrape();
        assert!(s.get("node_network_iface_id", "lo").is_some());
    }
    drop(stalled);
    assert!(exporter.alive(), "the exporter died");
    assert_eq!(exporter.scrape().devices("node_network_iface_id").len(), 1);
}

#[test]
fn stats_interval_prints_rates_per_device() {
    let (ns, _peer) = host_with_traffic();
    let json = |args: &[&str]| -> Vec<Value> {
        let out = Command::new("ip")
            .args(["netns", "exec", ns.name(), BIN, "--json", "stats"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect()
    };
    let lines = json(&["--interval", "0.2", "--count", "3", "ex0"]);
    assert_eq!(lines.len(), 3);
    let ifindex = ip_links(&ns)["ex0"]["ifindex"].clone();
    for l in &lines {
        assert_eq!(l["name"], "ex0");
        assert_eq!(l["ifindex"], ifindex);
        assert!(l["interval"].as_f64().unwrap() > 0.0, "{l}");
        assert!(l["time"].as_str().unwrap().contains('T'), "{l}");
        for k in [
            "rx_packets_per_sec",
            "rx_bytes_per_sec",
            "rx_errors_per_sec",
            "rx_dropped_per_sec",
            "tx_packets_per_sec",
            "tx_bytes_per_sec",
            "tx_errors_per_sec",
            "tx_dropped_per_sec",
        ] {
            let v = l[k].as_f64().unwrap_or_else(|| panic!("{k} in {l}"));
            // Nothing crosses ex0 now (IPv6 is off).
            assert_eq!(v, 0.0, "{k} in {l}");
        }
    }
    // With traffic: each rate times its interval is the counter's whole
    // increase, and all of them together no more than ip saw around the
    // run.
    let packets = |ns: &NetNs| {
        ip_links(ns)["ex0"]["stats64"]["tx"]["packets"]
            .as_u64()
            .unwrap()
    };
    let before = packets(&ns);
    let mut ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            "ping",
            "-q",
            "-c",
            "40",
            "-i",
            "0.02",
        ])
        .arg("10.214.0.2")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let lines = json(&["--interval", "0.2", "--count", "3", "ex0"]);
    assert!(ping.wait().unwrap().success());
    let after = packets(&ns);
    let mut sent = 0.0;
    for l in &lines {
        let n = l["tx_packets_per_sec"].as_f64().unwrap() * l["interval"].as_f64().unwrap();
        assert!((n - n.round()).abs() < 1e-6, "{n} packets in {l}");
        sent += n.round();
    }
    assert!(
        sent <= (after - before) as f64,
        "{sent} > {after} - {before}"
    );
    // Every device, per interval.
    let devices = ip_links(&ns).len();
    let lines = json(&["--interval", "0.1", "--count", "2"]);
    assert_eq!(lines.len(), 2 * devices, "{lines:?}");
    // Text: a table per interval.
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            BIN,
            "stats",
            "--interval",
            "0.1",
            "--count",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("TIME"), "{text}");
    assert!(text.contains("ex0") && text.contains("RX PKT/S"), "{text}");
    for bad in [
        &["--count", "2"][..],
        &["--interval", "0"][..],
        &["--interval", "x"][..],
    ] {
        let out = Command::new(BIN).arg("stats").args(bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn connections_over_the_limit_are_closed_and_the_rest_served() {
    let ns = NetNs::new();
    let exporter = Exporter::start(&ns, &["--max-connections", "2"]);
    let connect = || {
        let _inside = ns.enter();
        TcpStream::connect(exporter.addr).unwrap()
    };
    // Two connections that send nothing hold both slots.
    let idle = [connect(), connect()];
    // Accepted in order (one listen queue): the third after both, and
    // closed.
    let mut third = connect();
    third
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let _ = third.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
    let mut answer = Vec::new();
    let _ = third.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "over the limit, yet answered: {}",
        String::from_utf8_lossy(&answer)
    );
    // Their slots come back when they go.
    drop(idle);
    let started = Instant::now();
    loop {
        let mut s = connect();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        if answer.starts_with(b"HTTP/1.0 200") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never served again"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn keep_alive_connections_serve_request_after_request() {
    let ns = NetNs::new();
    let exporter = Exporter::start(&ns, &[]);
    // Prometheus keeps its connection: three scrapes on one, pipelined,
    // the last one closing it.
    let r = request(
        &ns,
        exporter.addr,
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text\r\n\r\n\
          GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let whole = format!("{}\r\n\r\n{}", r.head, r.body);
    assert_eq!(whole.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{whole}");
    assert_eq!(whole.matches("# EOF\n").count(), 1, "{whole}");
    assert!(whole.ends_with("</html>\n"), "{whole}");
}
