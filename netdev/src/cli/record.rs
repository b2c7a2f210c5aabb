//! What each command reports, as plain data: gathered once from the
//! library, then printed either as text for people or as JSON. The field
//! names here are the JSON names documented in `--help`; renaming one
//! breaks scripts.

use std::collections::HashMap;
use std::fmt;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde::Serialize as DeriveSerialize;

use netdev::{EthAddr, Flags, LinkInfo, Stats};

use super::format;
use super::host::{self, HostLink};

/// One device in `list`, borrowing the listing's text: written once,
/// nothing is copied for it.
#[derive(Debug, DeriveSerialize)]
pub(crate) struct LinkRecord<'a> {
    pub(crate) ifindex: u32,
    pub(crate) name: &'a str,
    pub(crate) kind: Option<&'a str>,
    pub(crate) master: Option<String>,
    pub(crate) mtu: Option<u32>,
    #[serde(serialize_with = "as_text")]
    pub(crate) mac: Option<EthAddr>,
    pub(crate) flags: FlagList,
}

impl<'a> LinkRecord<'a> {
    /// `link` described with the names of its neighbours (see
    /// [`host::names`]).
    pub(crate) fn new(link: &'a HostLink, names: &HashMap<u32, &str>) -> LinkRecord<'a> {
        LinkRecord {
            ifindex: link.ifindex,
            name: &link.name,
            kind: link.kind.as_deref(),
            master: link.master.map(|m| host::name_of(names, m)),
            mtu: link.mtu,
            mac: link.mac,
            flags: FlagList(link.flags),
        }
    }
}

/// A value as the JSON string of its `Display` text (`"aa:bb:..."`),
/// written without a string of its own; `None` is `null`.
fn as_text<T: fmt::Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// Flags as a JSON list of lower-case names (as [`format::flag_list`]),
/// without a string per flag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlagList(pub(crate) Flags);

impl Serialize for FlagList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for (name, _) in self.0.iter_names() {
            let mut buf = [0u8; 32];
            match buf.get_mut(..name.len()) {
                Some(lower) => {
                    lower.copy_from_slice(name.as_bytes());
                    lower.make_ascii_lowercase();
                    // Lower-casing ASCII letters keeps UTF-8 valid.
                    let lower = std::str::from_utf8(lower).map_err(serde::ser::Error::custom)?;
                    seq.serialize_element(lower)?;
                }
                None => seq.serialize_element(&name.to_ascii_lowercase())?,
            }
        }
        seq.end()
    }
}

/// Every counter, by its conventional name, in the library's order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counters(pub(crate) Stats);

impl Serialize for Counters {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let fields = self.0.fields();
        let mut map = s.serialize_map(Some(fields.len()))?;
        for (name, value) in fields {
            map.serialize_entry(name, &value)?;
        }
        map.end()
    }
}

/// One device in `show`. `None` is a value the device does not have (or
/// that could not be read; the error went to stderr).
#[derive(Debug, Default, DeriveSerialize)]
pub(crate) struct DeviceRecord {
    pub(crate) name: String,
    pub(crate) ifindex: Option<u32>,
    pub(crate) kind: Option<String>,
    pub(crate) master: Option<String>,
    pub(crate) mac: Option<String>,
    pub(crate) mtu: Option<u32>,
    pub(crate) flags: Option<Vec<String>>,
    pub(crate) carrier: Option<bool>,
    pub(crate) carrier_resets: Option<u64>,
    pub(crate) speed_mbps: Option<u64>,
    pub(crate) duplex: Option<&'static str>,
    pub(crate) ipv4: Option<Vec<String>>,
    pub(crate) ipv6: Option<Vec<String>>,
    pub(crate) stats: Option<Counters>,
}

/// One device in `stats`.
#[derive(Debug, DeriveSerialize)]
pub(crate) struct StatsRecord {
    pub(crate) name: String,
    pub(crate) ifindex: Option<u32>,
    pub(crate) stats: Counters,
}

/// One line of `watch`. Fields an event does not carry are left out of
/// the JSON.
#[derive(Debug, Default, DeriveSerialize)]
pub(crate) struct EventRecord {
    /// Local time, RFC 3339 with milliseconds.
    pub(crate) time: String,
    /// The same instant as people read it: `12:00:01.234` (text only).
    #[serde(skip)]
    pub(crate) clock: String,
    pub(crate) event: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ifindex: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) old_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) flags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) carrier: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ipv4: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ipv6: Option<Vec<String>>,
}

/// What happened, as `watch` names it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, DeriveSerialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EventKind {
    /// A known device changed.
    #[default]
    Link,
    /// A device appeared.
    Added,
    /// A known device has a new name.
    Renamed,
    /// A device went away.
    Removed,
    /// An address of a device was added or removed.
    Address,
    /// Events were lost; state was read again.
    Overflow,
}

impl EventRecord {
    /// Takes the link state an event carried.
    pub(crate) fn with_info(mut self, info: &LinkInfo) -> EventRecord {
        self.mtu = info.mtu;
        self.mac = info.mac.map(|m| m.to_string());
        self.flags = info.flags.map(format::flag_list);
        self.carrier = info.carrier;
        self
    }

    /// The event as one line of text (without the newline).
    pub(crate) fn text(&self) -> String {
        let who = match (self.name.as_deref().map(format::escape), self.ifindex) {
            (Some(n), Some(i)) => format!("{n} (ifindex {i})"),
            (None, Some(i)) => format!("ifindex {i}"),
            (Some(n), None) => n.into_owned(),
            (None, None) => String::new(),
        };
        let state = || {
            let mut parts = Vec::new();
            if let Some(mtu) = self.mtu {
                parts.push(format!("mtu {mtu}"));
            }
            if let Some(mac) = &self.mac {
                parts.push(format!("mac {mac}"));
            }
            if let Some(flags) = &self.flags {
                let f = if flags.is_empty() {
                    format::NONE.to_owned()
                } else {
                    flags.join(",")
                };
                parts.push(format!("flags {f}"));
            }
            if let Some(c) = self.carrier {
                parts.push(format!("carrier {}", if c { "up" } else { "down" }));
            }
            parts.join(" ")
        };
        let body = match self.event {
            EventKind::Link => format!("link {who} {}", state()),
            EventKind::Added => format!("link {who} added: {}", state()),
            EventKind::Renamed => format!(
                "link {who} renamed from {}: {}",
                format::escaped_or_none(self.old_name.as_deref()),
                state()
            ),
            EventKind::Removed => format!("link {who} removed"),
            EventKind::Address => {
                let addrs: Vec<&str> = self
                    .ipv4
                    .iter()
                    .chain(&self.ipv6)
                    .flatten()
                    .map(String::as_str)
                    .collect();
                let addrs = if addrs.is_empty() {
                    "none".to_owned()
                } else {
                    addrs.join(" ")
                };
                format!("addr {who} address change: {addrs}")
            }
            EventKind::Overflow => "overflow: events lost, resynchronised".to_owned(),
        };
        format!("{} {}", self.clock, body.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> EventRecord {
        EventRecord {
            time: "2026-11-01T12:00:01.234+00:00".into(),
            clock: "12:00:01.234".into(),
            event: kind,
            ifindex: Some(5),
            name: Some("v0".into()),
            ..EventRecord::default()
        }
    }

    fn info() -> LinkInfo {
        LinkInfo {
            mtu: Some(1400),
            mac: Some(EthAddr([2, 0, 0, 0, 0, 1])),
            flags: Some(Flags::UP | Flags::RUNNING),
            carrier: Some(true),
        }
    }

    #[test]
    fn event_lines_for_people() {
        assert_eq!(
            event(EventKind::Link).with_info(&info()).text(),
            "12:00:01.234 link v0 (ifindex 5) mtu 1400 mac 02:00:00:00:00:01 flags up,running carrier up"
        );
        let mut renamed = event(EventKind::Renamed).with_info(&LinkInfo {
            carrier: Some(false),
            ..LinkInfo::default()
        });
        renamed.old_name = Some("old0".into());
        assert_eq!(
            renamed.text(),
            "12:00:01.234 link v0 (ifindex 5) renamed from old0: carrier down"
        );
        assert_eq!(
            event(EventKind::Removed).text(),
            "12:00:01.234 link v0 (ifindex 5) removed"
        );
        let mut addr = event(EventKind::Address);
        addr.ipv4 = Some(vec!["10.0.0.1/24".into()]);
        addr.ipv6 = Some(vec!["fe80::1".into()]);
        assert_eq!(
            addr.text(),
            "12:00:01.234 addr v0 (ifindex 5) address change: 10.0.0.1/24 fe80::1"
        );
        addr.ipv4 = Some(vec![]);
        addr.ipv6 = None;
        assert!(addr.text().ends_with("address change: none"));
        let overflow = EventRecord {
            clock: "12:00:01.234".into(),
            event: EventKind::Overflow,
            ..EventRecord::default()
        };
        assert_eq!(
            overflow.text(),
            "12:00:01.234 overflow: events lost, resynchronised"
        );
    }

    #[test]
    fn event_json_leaves_out_what_it_does_not_carry() {
        let v = serde_json::to_value(event(EventKind::Link).with_info(&info())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "time": "2026-11-01T12:00:01.234+00:00",
                "event": "link",
                "ifindex": 5,
                "name": "v0",
                "mtu": 1400,
                "mac": "02:00:00:00:00:01",
                "flags": ["up", "running"],
                "carrier": true,
            })
        );
        let v = serde_json::to_value(event(EventKind::Removed)).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 4, "{v}");
        assert_eq!(v["event"], "removed");
    }

    #[test]
    fn counters_serialize_every_field_by_name_in_order() {
        let stats = Stats {
            rx_packets: 3,
            tx_bytes: 7,
            ..Stats::default()
        };
        let text = serde_json::to_string(&Counters(stats)).unwrap();
        assert!(
            text.starts_with(r#"{"rx_packets":3,"tx_packets":0,"rx_bytes":0,"tx_bytes":7,"#),
            "{text}"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_object().unwrap().len(), stats.fields().len());
    }

    #[test]
    fn device_json_has_every_field_even_when_absent() {
        let v = serde_json::to_value(DeviceRecord {
            name: "lo".into(),
            ..DeviceRecord::default()
        })
        .unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        // serde_json sorts keys without its preserve_order feature.
        let mut expected = vec![
            "name",
            "ifindex",
            "kind",
            "master",
            "mac",
            "mtu",
            "flags",
            "carrier",
            "carrier_resets",
            "speed_mbps",
            "duplex",
            "ipv4",
            "ipv6",
            "stats",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert!(v["speed_mbps"].is_null());
    }

    #[test]
    fn list_record_names_the_master() {
        let links = [
            HostLink {
                ifindex: 3,
                name: "br0".into(),
                kind: Some("bridge".into()),
                master: None,
                flags: Flags::UP,
                mtu: Some(1500),
                mac: None,
            },
            HostLink {
                ifindex: 4,
                name: "t0".into(),
                kind: Some("tun".into()),
                master: Some(3),
                flags: Flags::empty(),
                mtu: None,
                mac: Some(EthAddr([2, 0, 0, 0, 0, 9])),
            },
        ];
        let r = LinkRecord::new(&links[1], &host::names(&links));
        assert_eq!(r.master.as_deref(), Some("br0"));
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["mac"], "02:00:00:00:00:09");
        assert_eq!(v["flags"], serde_json::json!([]));
        assert_eq!(v["kind"], "tun");
        let v = serde_json::to_value(LinkRecord::new(&links[0], &host::names(&links))).unwrap();
        assert_eq!(v["mac"], serde_json::Value::Null);
        assert_eq!(v["flags"], serde_json::json!(["up"]));
        let all = serde_json::to_value(FlagList(Flags::all())).unwrap();
        assert_eq!(all, serde_json::json!(format::flag_list(Flags::all())));
        let orphan = HostLink {
            master: Some(42),
            ..links[1].clone()
        };
        assert_eq!(
            LinkRecord::new(&orphan, &host::names(&links))
                .master
                .as_deref(),
            Some("ifindex 42")
        );
    }
}
