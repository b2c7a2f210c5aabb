//! The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0.0,
//! written straight into a byte buffer (no string per line or value), with
//! node_exporter's metric names and help texts for what both report.
//!
//! Device names become label values as the library reports them (a name
//! that is not UTF-8 arrives with U+FFFD in place of each bad byte), with
//! `\`, `"` and newline escaped as `\\`, `\"` and `\n`: the only escapes
//! both formats define. Every other character, control characters
//! included, is valid in a label value and written as it is.

use netdev::{EthAddr, Flags, LinkSpeed, Stats};

/// Which format a scraper asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `text/plain; version=0.0.4`, what every Prometheus reads.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`, ending in `# EOF`.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it names
    /// `application/openmetrics-text` (without `q=0`), as Prometheus sends
    /// it, otherwise the text format, which every scraper reads.
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let wants_openmetrics = accept.split(',').any(|range| {
            let mut params = range.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            media.eq_ignore_ascii_case("application/openmetrics-text")
                && !params.any(|p| {
                    p.split_once('=').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("q")
                            && v.trim().parse::<f64>().is_ok_and(|q| q <= 0.0)
                    })
                })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The `Content-Type` of a response in this format.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// What a scrape knows of a device besides its counters: read through the
/// registry's cache, refreshed only when the device's change sequence
/// moves. `None`: the device does not have the value (or it could not be
/// read; that was logged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) mtu: Option<u32>,
    pub(crate) mac: Option<EthAddr>,
    pub(crate) flags: Option<Flags>,
    pub(crate) carrier: Option<bool>,
    pub(crate) speed: Option<LinkSpeed>,
    pub(crate) carrier_down_changes: Option<u64>,
    /// RFC 2863 operational state as sysfs spells it (`up`, `down`,
    /// `unknown`, `lowerlayerdown`...).
    pub(crate) operstate: Option<&'static str>,
}

impl Snapshot {
    /// Administratively up: the kernel reports carrier, speed and duplex
    /// only then (sysfs answers `EINVAL` for a device that is down), and
    /// so does node_exporter, so a stale value is never exported.
    fn running(&self) -> bool {
        self.flags.is_some_and(|f| f.contains(Flags::UP))
    }

    fn speed_bytes(&self) -> Option<u64> {
        let s = self.speed.filter(|_| self.running())?;
        s.mbps.checked_mul(125_000)
    }

    fn duplex(&self) -> &'static str {
        match self.speed.filter(|_| self.running()).and_then(|s| s.duplex) {
            Some(netdev::Duplex::Full) => "full",
            Some(netdev::Duplex::Half) => "half",
            None => "",
        }
    }
}

/// One device in a scrape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    /// The device label's value, already escaped ([`escape_label`]).
    pub(crate) label: &'a str,
    pub(crate) ifindex: u32,
    pub(crate) stats: &'a Stats,
    pub(crate) state: &'a Snapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

/// One metric family with a value per device.
struct Family {
    /// The name without `_total` (OpenMetrics names a counter family so;
    /// its samples and the text format add the suffix).
    name: &'static str,
    help: &'static str,
    kind: Kind,
    value: fn(&Row<'_>) -> Option<u64>,
}

macro_rules! stat {
    ($name:literal, $help:literal, |$s:ident| $e:expr) => {
        Family {
            name: $name,
            help: $help,
            kind: Kind::Counter,
            value: |r| {
                let $s = r.stats;
                Some($e)
            },
        }
    };
}

/// node_exporter's `netdev` collector, as the kernel's `/proc/net/dev`
/// sums the detailed counters (frame: length, overrun, CRC and frame
/// errors; receive drops include missed frames; carrier: carrier,
/// aborted, window and heartbeat errors). Its `compressed` and
/// `nohandler` counters are not in [`Stats`], so they are not exported
/// rather than exported as 0.
const NETDEV: &[Family] = &[
    stat!(
        "node_network_receive_bytes",
        "Network device statistic receive_bytes.",
        |s| s.rx_bytes
    ),
    stat!(
        "node_network_receive_packets",
        "Network device statistic receive_packets.",
        |s| s.rx_packets
    ),
    stat!(
        "node_network_receive_errs",
        "Network device statistic receive_errs.",
        |s| s.rx_errors
    ),
    stat!(
        "node_network_receive_drop",
        "Network device statistic receive_drop.",
        |s| s.rx_dropped.wrapping_add(s.rx_missed_errors)
    ),
    stat!(
        "node_network_receive_fifo",
        "Network device statistic receive_fifo.",
        |s| s.rx_fifo_errors
    ),
    stat!(
        "node_network_receive_frame",
        "Network device statistic receive_frame.",
        |s| s
            .rx_length_errors
            .wrapping_add(s.rx_over_errors)
            .wrapping_add(s.rx_crc_errors)
            .wrapping_add(s.rx_frame_errors)
    ),
    stat!(
        "node_network_receive_multicast",
        "Network device statistic receive_multicast.",
        |s| s.multicast
    ),
    stat!(
        "node_network_transmit_bytes",
        "Network device statistic transmit_bytes.",
        |s| s.tx_bytes
    ),
    stat!(
        "node_network_transmit_packets",
        "Network device statistic transmit_packets.",
        |s| s.tx_packets
    ),
    stat!(
        "node_network_transmit_errs",
        "Network device statistic transmit_errs.",
        |s| s.tx_errors
    ),
    stat!(
        "node_network_transmit_drop",
        "Network device statistic transmit_drop.",
        |s| s.tx_dropped
    ),
    stat!(
        "node_network_transmit_fifo",
        "Network device statistic transmit_fifo.",
        |s| s.tx_fifo_errors
    ),
    stat!(
        "node_network_transmit_colls",
        "Network device statistic transmit_colls.",
        |s| s.collisions
    ),
    stat!(
        "node_network_transmit_carrier",
        "Network device statistic transmit_carrier.",
        |s| s
            .tx_carrier_errors
            .wrapping_add(s.tx_aborted_errors)
            .wrapping_add(s.tx_window_errors)
            .wrapping_add(s.tx_heartbeat_errors)
    ),
];

/// node_exporter's `netclass` collector, for what the library reports.
const NETCLASS: &[Family] = &[
    Family {
        // The library counts carrier losses (Open vSwitch's
        // `carrier_resets`): node_exporter's down count, not its
        // up-and-down `carrier_changes_total`, which is not exported.
        name: "node_network_carrier_down_changes",
        help: "Network device property: carrier_down_changes_total",
        kind: Kind::Counter,
        value: |r| r.state.carrier_down_changes,
    },
    Family {
        name: "node_network_carrier",
        help: "Network device property: carrier",
        kind: Kind::Gauge,
        value: |r| r.state.carrier.filter(|_| r.state.running()).map(u64::from),
    },
    Family {
        name: "node_network_iface_id",
        help: "Network device property: iface_id",
        kind: Kind::Gauge,
        value: |r| Some(u64::from(r.ifindex)),
    },
    Family {
        name: "node_network_mtu_bytes",
        help: "Network device property: mtu_bytes",
        kind: Kind::Gauge,
        value: |r| r.state.mtu.map(u64::from),
    },
    Family {
        name: "node_network_speed_bytes",
        help: "Network device property: speed_bytes",
        kind: Kind::Gauge,
        value: |r| r.state.speed_bytes(),
    },
    Family {
        name: "node_network_up",
        help: "Value is 1 if operstate is 'up', 0 otherwise.",
        kind: Kind::Gauge,
        value: |r| r.state.operstate.map(|s| u64::from(s == "up")),
    },
];

/// Open vSwitch's detailed error counters (`struct netdev_stats`), which
/// node_exporter folds into its sums above, each under its own name.
const DETAILED: &[Family] = &[
    stat!(
        "netdev_receive_length_errors",
        "Received frames with a length error.",
        |s| s.rx_length_errors
    ),
    stat!(
        "netdev_receive_over_errors",
        "Receiver ring buffer overruns.",
        |s| s.rx_over_errors
    ),
    stat!(
        "netdev_receive_crc_errors",
        "Received frames with a CRC error.",
        |s| s.rx_crc_errors
    ),
    stat!(
        "netdev_receive_frame_errors",
        "Received frames with a frame alignment error.",
        |s| s.rx_frame_errors
    ),
    stat!(
        "netdev_receive_fifo_errors",
        "Receiver FIFO overruns.",
        |s| s.rx_fifo_errors
    ),
    stat!(
        "netdev_receive_missed_errors",
        "Frames the receiver missed.",
        |s| s.rx_missed_errors
    ),
    stat!(
        "netdev_transmit_aborted_errors",
        "Transmissions aborted.",
        |s| s.tx_aborted_errors
    ),
    stat!(
        "netdev_transmit_carrier_errors",
        "Carrier errors on transmit.",
        |s| s.tx_carrier_errors
    ),
    stat!(
        "netdev_transmit_fifo_errors",
        "Transmit FIFO errors.",
        |s| s.tx_fifo_errors
    ),
    stat!(
        "netdev_transmit_heartbeat_errors",
        "Heartbeat errors on transmit.",
        |s| s.tx_heartbeat_errors
    ),
    stat!(
        "netdev_transmit_window_errors",
        "Late collisions and other window errors on transmit.",
        |s| s.tx_window_errors
    ),
];

const INFO_NAME: &str = "node_network";
const INFO_HELP: &str = "Non-numeric data about the network device, value is always 1.";

/// Every metric family's name as a scraper sees it in the text format
/// (counters with `_total`).
#[cfg(test)]
pub(crate) fn metric_names() -> Vec<String> {
    let mut names: Vec<String> = [NETDEV, NETCLASS, DETAILED]
        .iter()
        .flat_map(|fams| fams.iter())
        .map(|f| match f.kind {
            Kind::Counter => format!("{}_total", f.name),
            Kind::Gauge => f.name.to_owned(),
        })
        .collect();
    names.push(format!("{INFO_NAME}_info"));
    names
}

/// `name` as a label value: `\`, `"` and newline escaped (see the module
/// documentation), appended to `out`.
pub(crate) fn escape_label(name: &str, out: &mut String) {
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes `v` in decimal.
fn put_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn header(out: &mut Vec<u8>, format: Format, name: &str, suffix: &str, help: &str, kind: &str) {
    // The text format names the counter by its samples' name; OpenMetrics
    // by the family's.
    let suffix = if format == Format::OpenMetrics {
        ""
    } else {
        suffix
    };
    for (what, text) in [("# HELP ", help), ("# TYPE ", kind)] {
        out.extend_from_slice(what.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
        out.push(b' ');
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
    }
}

/// Writes every family for `rows` in `format` (OpenMetrics with its
/// closing `# EOF`) to `out`. A family no device has a value for is left
/// out entirely.
pub(crate) fn write(out: &mut Vec<u8>, format: Format, rows: &[Row<'_>]) {
    // `name{device="`, made once per family: a line is then three copies
    // and a number.
    let mut prefix = Vec::with_capacity(128);
    for fam in NETDEV.iter().chain(NETCLASS).chain(DETAILED) {
        let suffix = match fam.kind {
            Kind::Counter => "_total",
            Kind::Gauge => "",
        };
        prefix.clear();
        prefix.extend_from_slice(fam.name.as_bytes());
        prefix.extend_from_slice(suffix.as_bytes());
        prefix.extend_from_slice(b"{device=\"");
        let mut any = false;
        for row in rows {
            let Some(v) = (fam.value)(row) else {
                continue;
            };
            if !any {
                let kind = match fam.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                };
                header(out, format, fam.name, suffix, fam.help, kind);
                any = true;
            }
            out.extend_from_slice(&prefix);
            out.extend_from_slice(row.label.as_bytes());
            out.extend_from_slice(b"\"} ");
            put_u64(out, v);
            out.push(b'\n');
        }
    }
    write_info(out, format, rows);
    if format == Format::OpenMetrics {
        out.extend_from_slice(b"# EOF\n");
    }
}

/// `node_network_info`: a gauge in the text format (as node_exporter
/// exports it), an `info` family named `node_network` in OpenMetrics.
fn write_info(out: &mut Vec<u8>, format: Format, rows: &[Row<'_>]) {
    if rows.is_empty() {
        return;
    }
    match format {
        Format::Prometheus => header(out, format, INFO_NAME, "_info", INFO_HELP, "gauge"),
        Format::OpenMetrics => header(out, format, INFO_NAME, "", INFO_HELP, "info"),
    }
    for row in rows {
        out.extend_from_slice(INFO_NAME.as_bytes());
        out.extend_from_slice(b"_info{address=\"");
        if let Some(mac) = row.state.mac {
            let mut text = [0u8; 17];
            let hex = b"0123456789abcdef";
            for (i, o) in mac.octets().iter().enumerate() {
                text[i * 3] = hex[usize::from(o >> 4)];
                text[i * 3 + 1] = hex[usize::from(o & 0xf)];
                if i < 5 {
                    text[i * 3 + 2] = b':';
                }
            }
            out.extend_from_slice(&text);
        }
        out.extend_from_slice(b"\",device=\"");
        out.extend_from_slice(row.label.as_bytes());
        out.extend_from_slice(b"\",duplex=\"");
        out.extend_from_slice(row.state.duplex().as_bytes());
        out.extend_from_slice(b"\",ifindex=\"");
        put_u64(out, u64::from(row.ifindex));
        out.extend_from_slice(b"\",operstate=\"");
        out.extend_from_slice(row.state.operstate.unwrap_or("").as_bytes());
        out.extend_from_slice(b"\"} 1\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        Snapshot {
            mtu: Some(1500),
            mac: Some(EthAddr([0x0a, 0xbc, 0, 1, 0xfe, 0xff])),
            flags: Some(Flags::UP | Flags::RUNNING),
            carrier: Some(true),
            speed: Some(LinkSpeed {
                mbps: 10_000,
                duplex: Some(netdev::Duplex::Full),
            }),
            carrier_down_changes: Some(3),
            operstate: Some("up"),
        }
    }

    #[test]
    fn labels_escape_backslash_quote_and_newline_only() {
        let mut s = String::new();
        escape_label("a\\b\"c\nd\te\u{fffd}", &mut s);
        assert_eq!(s, "a\\\\b\\\"c\\nd\te\u{fffd}");
    }

    #[test]
    fn numbers_are_decimal() {
        for v in [0, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            put_u64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

    #[test]
    fn negotiation_follows_accept() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                    version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), Format::OpenMetrics);
        assert_eq!(
            Format::negotiate(Some("Application/OpenMetrics-Text; q=0")),
            Format::Prometheus
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::Prometheus
        );
    }

    #[test]
    fn both_formats_carry_the_same_samples() {
        let stats = Stats {
            rx_bytes: 100,
            rx_dropped: 1,
            rx_missed_errors: 2,
            tx_carrier_errors: 1,
            tx_window_errors: 4,
            ..Stats::default()
        };
        let state = snapshot();
        let rows = [Row {
            label: "v\\\"0",
            ifindex: 7,
            stats: &stats,
            state: &state,
        }];
        let mut text = Vec::new();
        write(&mut text, Format::Prometheus, &rows);
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains(
            "# HELP node_network_receive_bytes_total Network device statistic receive_bytes.\n\
             # TYPE node_network_receive_bytes_total counter\n\
             node_network_receive_bytes_total{device=\"v\\\"0\"} 100\n"
        ));
        assert!(text.contains("node_network_receive_drop_total{device=\"v\\\"0\"} 3\n"));
        assert!(text.contains("node_network_transmit_carrier_total{device=\"v\\\"0\"} 5\n"));
        assert!(text.contains("node_network_speed_bytes{device=\"v\\\"0\"} 1250000000\n"));
        assert!(text.contains(
            "node_network_info{address=\"0a:bc:00:01:fe:ff\",device=\"v\\\"0\",\
             duplex=\"full\",ifindex=\"7\",operstate=\"up\"} 1\n"
        ));
        assert!(!text.contains("# EOF"));

        let mut om = Vec::new();
        write(&mut om, Format::OpenMetrics, &rows);
        let om = String::from_utf8(om).unwrap();
        assert!(om.contains("# TYPE node_network_receive_bytes counter\n"));
        assert!(om.contains("node_network_receive_bytes_total{device=\"v\\\"0\"} 100\n"));
        assert!(om.contains("# TYPE node_network info\n"));
        assert!(om.ends_with("\n# EOF\n"));
        // Same sample lines, only headers differ.
        let samples = |t: &str| -> Vec<String> {
            t.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(samples(&text), samples(&om));
        assert_eq!(
            text.lines().filter(|l| l.starts_with("# TYPE")).count(),
            metric_names().len()
        );
    }

    #[test]
    fn a_device_that_is_down_has_no_carrier_speed_or_duplex() {
        let stats = Stats::default();
        let state = Snapshot {
            flags: Some(Flags::BROADCAST),
            operstate: Some("down"),
            ..snapshot()
        };
        let rows = [Row {
            label: "ifb0",
            ifindex: 2,
            stats: &stats,
            state: &state,
        }];
        let mut out = Vec::new();
        write(&mut out, Format::Prometheus, &rows);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("node_network_carrier{"), "{text}");
        assert!(!text.contains("node_network_speed_bytes"), "{text}");
        assert!(text.contains("duplex=\"\""), "{text}");
        assert!(
            text.contains("node_network_up{device=\"ifb0\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("node_network_carrier_down_changes_total{device=\"ifb0\"} 3\n"));
    }

    #[test]
    fn no_devices_no_families() {
        let mut out = Vec::new();
        write(&mut out, Format::Prometheus, &[]);
        assert!(out.is_empty());
        write(&mut out, Format::OpenMetrics, &[]);
        assert_eq!(out, b"# EOF\n");
    }
}
