//! What the namespace tests of brcompat read back: a device's MAC (from
//! `ip -j`) and the rows `brctl showmacs` prints. The including test crate
//! declares `mod support;` (netdev-linux's test support).

use crate::support::NetNs;

/// The MAC of `dev` in `ns`, as `ip -j link` reports it.
pub fn mac_of(ns: &NetNs, dev: &str) -> String {
    let json = ns.ip(&["-j", "link", "show", dev]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    v[0]["address"].as_str().unwrap().to_owned()
}

/// `brctl showmacs` rows: (port, MAC, is local), in the printed order.
pub fn showmacs(text: &str) -> Vec<(u16, String, bool)> {
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].parse().unwrap(), f[1].to_owned(), f[2] == "yes")
        })
        .collect()
}
