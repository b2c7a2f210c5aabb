//! The facade's `serde` feature forwards netdev-core's: the re-exported
//! types serialize, and come back equal.

use netdev::{Change, EthAddr, Flags, IfName, Ipv4Net, LinkInfo, Stats};

#[test]
fn re_exported_types_round_trip() {
    let stats = Stats {
        rx_packets: 1,
        tx_bytes: u64::MAX,
        ..Stats::default()
    };
    let text = serde_json::to_string(&stats).unwrap();
    assert!(text.contains("\"tx_bytes\":18446744073709551615"), "{text}");
    assert_eq!(serde_json::from_str::<Stats>(&text).unwrap(), stats);

    let change = Change::LinkChanged {
        ifindex: 3,
        name: Some(IfName::new("eth0").unwrap()),
        info: LinkInfo {
            mtu: Some(9000),
            mac: Some("02:00:00:00:00:0a".parse::<EthAddr>().unwrap()),
            flags: Some(Flags::UP | Flags::RUNNING),
            carrier: Some(true),
        },
    };
    let text = serde_json::to_string(&change).unwrap();
    assert!(text.contains("\"02:00:00:00:00:0a\""), "{text}");
    assert!(
        text.contains("\"name\":\"eth0\""),
        "a name is plain text: {text}"
    );
    assert_eq!(serde_json::from_str::<Change>(&text).unwrap(), change);

    let net = Ipv4Net::with_prefix("10.0.0.1".parse().unwrap(), 8).unwrap();
    assert_eq!(serde_json::to_string(&net).unwrap(), "\"10.0.0.1/8\"");
}
