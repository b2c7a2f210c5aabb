//! Fuzzes the parser of Open vSwitch's `fdb/show` text
//! (`brcompat::ovs::fdb_show`): arbitrary bytes, as text when they are
//! UTF-8 (the daemon's control socket delivers a JSON string). Any panic
//! is a bug; and every row is accounted for: each non-blank line after
//! the header is an entry or a reported malformed row, entries have a VLAN
//! 0 to 4095, and an entry printed back as `fdb/show` prints it parses to
//! itself.

#![no_main]

use brcompat::ovs::fdb_show::{parse_fdb_show, HEADER, OFPP_LOCAL};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let show = parse_fdb_show(text);
    let rows = text
        .lines()
        .enumerate()
        .filter(|(i, l)| {
            let t = l.trim();
            !t.is_empty() && !(*i == 0 && t.split_whitespace().next() == Some("port"))
        })
        .count();
    assert_eq!(show.entries.len() + show.malformed.len(), rows);
    let mut printed = format!("{HEADER}\n");
    for e in &show.entries {
        assert!(e.vlan <= 4095);
        assert!(!e.is_local);
        let port = if e.port == OFPP_LOCAL {
            "LOCAL".to_owned()
        } else {
            e.port.to_string()
        };
        printed.push_str(&format!(
            "{port:>5}  {:4}  {}  {:3}\n",
            e.vlan,
            e.mac,
            e.age.as_secs()
        ));
    }
    let again = parse_fdb_show(&printed);
    assert!(again.malformed.is_empty(), "{:?}", again.malformed);
    assert_eq!(again.entries, show.entries);
});
