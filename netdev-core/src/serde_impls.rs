//! serde for the value types that have a conventional text form: an
//! Ethernet address is `"aa:bb:cc:dd:ee:ff"` and an IP network
//! `"192.0.2.1/24"` in every format, as people and other tools write
//! them (the derived form, an array of octets, would be neither). The
//! other types derive theirs where they are defined.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::addr::{Ipv4Net, Ipv6Net};
use crate::error::{Error, ErrorKind};
use crate::eth_addr::EthAddr;
use crate::name::IfName;

/// Reads a string and parses it with `parse`.
struct Text<T> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, Error>,
}

impl<T> Visitor<'_> for Text<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.parse)(v).map_err(E::custom)
    }
}

/// Serialize as the `Display` text, deserialize with `parse`.
macro_rules! as_text {
    ($ty:ty, $expecting:literal, $parse:expr) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                d.deserialize_str(Text {
                    expecting: $expecting,
                    parse: $parse,
                })
            }
        }
    };
}

as_text!(
    EthAddr,
    "an Ethernet address \"aa:bb:cc:dd:ee:ff\"",
    EthAddr::from_str
);
as_text!(
    IfName,
    "an interface name (1 to 45 bytes of text)",
    IfName::from_str
);
as_text!(Ipv4Net, "an IPv4 network \"a.b.c.d/len\"", |s| {
    network(
        s,
        "an IPv4 address with a prefix length",
        Ipv4Net::with_prefix,
    )
});
as_text!(Ipv6Net, "an IPv6 network \"addr/len\"", |s| {
    network(s, "an IPv6 address with a prefix length", Ipv6Net::new)
});

/// `addr/len` parsed with `make` (which checks the length's range).
fn network<A, N>(s: &str, what: &str, make: fn(A, u8) -> Result<N, Error>) -> Result<N, Error>
where
    A: FromStr,
    A::Err: fmt::Display,
{
    let bad = |why: &dyn fmt::Display| {
        Error::new(ErrorKind::InvalidInput(format!(
            "{s:?} is not {what}: {why}"
        )))
    };
    let (addr, len) = s.split_once('/').ok_or_else(|| bad(&"no \"/\""))?;
    if len.is_empty() || len.len() > 3 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&"the prefix length is not a number"));
    }
    let len = len
        .parse()
        .map_err(|_| bad(&"the prefix length is too large"))?;
    make(A::from_str(addr).map_err(|e| bad(&e))?, len)
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use serde::de::DeserializeOwned;

    use crate::{
        Change, Duplex, EthAddr, FeatureSet, Features, Flags, IfName, Ipv4Net, Ipv6Net, LinkInfo,
        LinkSpeed, Stats,
    };

    /// `v` through JSON and back, and its JSON text.
    fn round_trip<T: serde::Serialize + DeserializeOwned + PartialEq + Debug>(v: &T) -> String {
        let text = serde_json::to_string(v).unwrap();
        let back: T = serde_json::from_str(&text).unwrap();
        assert_eq!(&back, v, "{text}");
        text
    }

    #[test]
    fn eth_addr_is_its_text() {
        let a: EthAddr = "aa:bb:cc:dd:ee:0f".parse().unwrap();
        assert_eq!(round_trip(&a), "\"aa:bb:cc:dd:ee:0f\"");
        for bad in ["\"aa:bb\"", "[1,2,3,4,5,6]", "7", "\"aa:bb:cc:dd:ee:fg\""] {
            let e = serde_json::from_str::<EthAddr>(bad).unwrap_err();
            assert!(e.is_data(), "{bad}: {e}");
        }
    }

    #[test]
    fn ip_networks_are_their_text() {
        let n = Ipv4Net::with_prefix("192.0.2.1".parse().unwrap(), 24).unwrap();
        assert_eq!(round_trip(&n), "\"192.0.2.1/24\"");
        let z = Ipv4Net::with_prefix("0.0.0.0".parse().unwrap(), 0).unwrap();
        assert_eq!(round_trip(&z), "\"0.0.0.0/0\"");
        let six = Ipv6Net::new("fe80::1".parse().unwrap(), 64).unwrap();
        assert_eq!(round_trip(&six), "\"fe80::1/64\"");
        for bad in [
            "\"192.0.2.1\"",
            "\"192.0.2.1/33\"",
            "\"192.0.2.1/\"",
            "\"192.0.2.1/+4\"",
            "\"192.0.2.1/1000\"",
            "\"192.0.2/24\"",
            "\"fe80::1/64\"",
        ] {
            let e = serde_json::from_str::<Ipv4Net>(bad).unwrap_err();
            assert!(e.is_data(), "{bad}: {e}");
        }
        let e = serde_json::from_str::<Ipv6Net>("\"fe80::1/129\"").unwrap_err();
        assert!(e.to_string().contains("larger than 128"), "{e}");
    }

    #[test]
    fn stats_round_trip_with_every_counter_by_name() {
        // Each counter distinct and beyond 2^53, so a lossy float path
        // would show; named as `Stats::fields` names them.
        let json: serde_json::Map<String, serde_json::Value> = Stats::default()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, (name, _))| ((*name).to_owned(), (u64::MAX - i as u64).into()))
            .collect();
        let s: Stats = serde_json::from_value(json.into()).unwrap();
        let values: Vec<u64> = s.fields().iter().map(|f| f.1).collect();
        assert_eq!(values, (0..21).map(|i| u64::MAX - i).collect::<Vec<_>>());
        round_trip(&s);
        assert!(serde_json::from_str::<Stats>("{\"rx_packets\":-1}").is_err());
    }

    #[test]
    fn flags_and_features_round_trip_as_names() {
        let f = Flags::UP | Flags::PROMISC | Flags::LOWER_UP;
        assert_eq!(round_trip(&f), "\"UP | PROMISC | LOWER_UP\"");
        round_trip(&Flags::empty());
        let set = FeatureSet {
            current: Features::F_10GB_FD | Features::FIBER,
            advertised: Features::AUTONEG,
            supported: Features::all(),
            peer: Features::empty(),
            speed: Some(LinkSpeed {
                mbps: 25_000,
                duplex: Some(Duplex::Full),
            }),
        };
        round_trip(&set);
        round_trip(&FeatureSet::default());
        assert!(serde_json::from_str::<Flags>("\"UP | NOSUCH\"").is_err());
    }

    #[test]
    fn changes_round_trip() {
        let changes = [
            Change::LinkChanged {
                ifindex: 7,
                name: Some(IfName::new("v0\n\"x\"").unwrap()),
                info: LinkInfo {
                    mtu: Some(1400),
                    mac: Some(EthAddr([2, 0, 0, 0, 0, 1])),
                    flags: Some(Flags::UP | Flags::RUNNING),
                    carrier: Some(true),
                },
            },
            Change::LinkChanged {
                ifindex: 8,
                name: None,
                info: LinkInfo::default(),
            },
            Change::LinkRemoved {
                ifindex: 7,
                name: IfName::new("v0").unwrap(),
            },
            Change::AddrChanged { ifindex: 3 },
            Change::Overflow,
        ];
        for c in &changes {
            round_trip(c);
        }
        let text = serde_json::to_string(&changes[0]).unwrap();
        assert!(text.contains("\"mac\":\"02:00:00:00:00:01\""), "{text}");
        assert!(text.contains(r#""name":"v0\n\"x\"""#), "exact text: {text}");
        // Names that no event carries are refused, not cut.
        assert!(serde_json::from_str::<IfName>("\"\"").is_err());
        let long = format!("\"{}\"", "x".repeat(46));
        assert!(serde_json::from_str::<IfName>(&long).is_err());
    }
}
