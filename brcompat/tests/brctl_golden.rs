//! `brcompat::brctl` against what bridge-utils' `brctl` printed
//! (`tests/fixtures/brctl/`, see its README): same stdout, stderr and exit
//! status, byte for byte, from typed data describing the same topology.

use std::collections::BTreeSet;
use std::fs;

mod brctl_fixtures;

use brctl_fixtures::{args, dir, fixture, timer_in};

use brcompat::brctl::{
    parse_args, render_invocation, show_all, show_selected, showmacs, BridgeId, BridgeInfo, Error,
    FdbEntry, Lookup, Output, Request, EXTENSIONS_HELP,
};

/// What our code prints for a command line that needs no daemon.
fn local(name: &str) -> Output {
    match parse_args(&args(name)) {
        Ok(inv) => render_invocation(&inv).expect("needs no daemon"),
        Err(e) => e.render(),
    }
}

fn mac(last2: u8, last: u8) -> [u8; 6] {
    [2, 0, 0, 0, last2, last]
}

fn bridge(name: &str, mac: [u8; 6], stp: bool, ifaces: &[&str]) -> BridgeInfo {
    BridgeInfo {
        name: name.into(),
        id: BridgeId {
            priority: 0x8000,
            mac,
        },
        stp_enabled: stp,
        // Reversed: the formatter must sort as brctl does.
        interfaces: ifaces.iter().rev().map(|s| s.to_string()).collect(),
    }
}

fn br0(ifaces: &[&str]) -> BridgeInfo {
    bridge("br0", mac(0, 0xb0), false, ifaces)
}

fn br1(ifaces: &[&str]) -> BridgeInfo {
    bridge("br1", mac(0, 0xb1), true, ifaces)
}

fn ok() -> Output {
    Output::default()
}

/// Every case whose output brcompat reproduces exactly.
fn ours(name: &str) -> Option<Output> {
    use libc::{EBUSY, EEXIST, EINVAL, ELOOP, ENODEV, ENXIO, EOPNOTSUPP, EPERM};
    let s = String::from;
    Some(match name {
        "no-args"
        | "help"
        | "help-short"
        | "help-word"
        | "version"
        | "unknown-command"
        | "addbr-missing-arg"
        | "addif-missing-arg"
        | "showmacs-missing-arg" => local(name),
        "addbr-ok" | "addbr-second" | "addbr-extra-args" | "delbr-extra-args" | "addif-ok"
        | "addif-second" | "addif-third" | "stp-on" | "delbr-ok" => ok(),
        "addbr-exists" => Error::addbr("br0", EEXIST).render(),
        "addbr-device-exists" => Error::addbr("v3a", EEXIST).render(),
        "addbr-name-slash" | "addbr-name-space" | "addbr-name-empty" => {
            Error::addbr("x", EINVAL).render()
        }
        "delbr-up" => Error::delbr("br0", EBUSY).render(),
        "delbr-missing" => Error::delbr("nosuchbr", ENXIO).render(),
        "delbr-not-bridge" => Error::delbr("v3a", EPERM).render(),
        "addif-no-device" => Error::NoSuchInterface(s("nosuchdev")).render(),
        "delif-no-device" => Error::NoSuchInterface(s("nosuchdev")).render(),
        "addif-no-bridge" | "delif-no-bridge" => Error::NoSuchBridge(s("nosuchbr")).render(),
        "addif-already-member" => Error::addif("br1", "v1a", EBUSY).render(),
        "addif-bridge-itself" => Error::addif("br0", "br1", ELOOP).render(),
        "addif-to-itself" => Error::addif("br0", "br0", ELOOP).render(),
        "addif-loopback" => Error::addif("br0", "lo", EINVAL).render(),
        "addif-device-name-too-long" => {
            let long = s("abcdefghijklmnopqrstuvwxyz");
            let req = Request::Addif {
                bridge: s("br0"),
                device: long.clone(),
            };
            Error::for_invalid_name(&req, &long).render()
        }
        "delif-not-member" => Error::delif("br0", "v3a", EINVAL).render(),
        "delif-on-non-bridge" => Error::delif("v3a", "v1a", EOPNOTSUPP).render(),
        "show-none" => show_all(&[]),
        "show-bridge-no-interfaces" => show_all(&[br0(&[])]),
        "show-one-interface" => show_all(&[br0(&["v1a"])]),
        "show-two-bridges" => show_all(&[br1(&["v4a"]), br0(&["v1a", "v2a"])]),
        "show-br0" => show_selected(&[Lookup::Found(br0(&["v1a", "v2a"]))]),
        "show-br1" => show_selected(&[Lookup::Found(br1(&[]))]),
        "show-three-interfaces" => show_selected(&[Lookup::Found(br0(&["v1a", "v2a", "v3a"]))]),
        "show-extra-args" => {
            show_selected(&[Lookup::Found(br0(&["v1a", "v2a"])), Lookup::Found(br1(&[]))])
        }
        "show-some-missing" => show_selected(&[
            Lookup::Found(br0(&["v1a", "v2a"])),
            Lookup::Missing(s("nosuchbr")),
            Lookup::Found(br1(&[])),
        ]),
        "show-first-missing" => show_selected(&[
            Lookup::Missing(s("nosuchbr")),
            Lookup::Found(br0(&["v1a", "v2a"])),
        ]),
        "show-missing" => show_selected(&[Lookup::Missing(s("nosuchbr"))]),
        "show-not-bridge" => show_selected(&[Lookup::NotABridge(s("v3a"))]),
        "showmacs-br0" => {
            let remote = timer_in(&fixture(name).stdout, "02:00:00:00:01:0b");
            showmacs(&[
                FdbEntry {
                    port_no: 2,
                    mac: mac(2, 0x0a),
                    is_local: true,
                    ageing_centis: 0,
                },
                FdbEntry {
                    port_no: 1,
                    mac: mac(1, 0x0b),
                    is_local: false,
                    ageing_centis: remote,
                },
                FdbEntry {
                    port_no: 1,
                    mac: mac(1, 0x0a),
                    is_local: true,
                    ageing_centis: 0,
                },
            ])
        }
        "showmacs-br1" => showmacs(&[]),
        "showmacs-missing" => Error::ReadFdb { errno: ENODEV }.render(),
        "showmacs-not-bridge" => Error::ReadFdb { errno: EOPNOTSUPP }.render(),
        _ => return None,
    })
}

/// Cases where brcompat deliberately differs from brctl.
const DEVIATIONS: [&str; 5] = [
    "addbr-name-too-long",
    "addbr-name-much-too-long",
    "delbr-name-too-long",
    "show-control-chars",
    "addif-control-chars",
];

#[test]
fn every_fixture_is_reproduced_byte_for_byte() {
    let cases: BTreeSet<String> = fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rc").map(str::to_owned)
        })
        .collect();
    assert!(cases.len() >= 50, "only {} fixtures", cases.len());
    let mut checked = 0;
    for case in &cases {
        if DEVIATIONS.contains(&case.as_str()) {
            continue;
        }
        let ours = ours(case).unwrap_or_else(|| panic!("fixture {case} is not covered"));
        let mut theirs = fixture(case);
        // Our help lists brcompat's extensions after brctl's commands.
        if theirs.stdout.starts_with("Usage: brctl [commands]") {
            theirs.stdout.push_str(EXTENSIONS_HELP);
        }
        assert_eq!(ours.stdout, theirs.stdout, "{case}: stdout");
        assert_eq!(ours.stderr, theirs.stderr, "{case}: stderr");
        assert_eq!(ours.status, theirs.status, "{case}: exit status");
        checked += 1;
    }
    assert_eq!(checked + DEVIATIONS.len(), cases.len());
}

#[test]
fn too_long_names_are_refused_instead_of_truncated() {
    // brctl: exit 0, having created (or deleted) `abcdefghijklmno`.
    assert_eq!(fixture("addbr-name-too-long").status, 0);
    let long = "abcdefghijklmnop".to_string();
    let out = Error::for_invalid_name(&Request::Addbr(long.clone()), &long).render();
    assert_eq!(
        (out.stderr.as_str(), out.status),
        ("add bridge failed: Invalid argument\n", 1)
    );
    // The same text brctl gives names the kernel refuses.
    assert_eq!(out.stderr, fixture("addbr-name-slash").stderr);
    let out = Error::for_invalid_name(&Request::Delbr(long.clone()), &long).render();
    assert_eq!(
        out.stderr,
        "bridge abcdefghijklmnop doesn't exist; can't delete it\n"
    );
}

#[test]
fn control_characters_are_escaped_where_brctl_prints_them_raw() {
    let theirs = fixture("show-control-chars");
    assert!(theirs.stdout.contains("c\u{1b}[7mx\t\t"));
    let ours = show_all(&[
        br0(&["v1a", "v2a"]),
        bridge("c\u{1b}[7mx", mac(0, 0xc0), false, &[]),
    ]);
    assert_eq!(
        ours.stdout,
        theirs.stdout.replace("c\u{1b}[7mx", "c\\u{1b}[7mx")
    );
    let theirs = fixture("addif-control-chars");
    let ours = Error::NoSuchInterface("n\u{1}x".into()).render();
    assert_eq!(ours.stderr, theirs.stderr.replace('\u{1}', "\\u{1}"));
    assert_eq!(ours.status, theirs.status);
}
