//! Reading the bridge-utils `brctl` captures in `tests/fixtures/brctl/`
//! (see its README): a case's arguments, and its stdout, stderr and exit
//! status as an [`Output`]. Shared by `brctl_golden.rs` and
//! `brctl_cli.rs` with `mod brctl_fixtures;`.

// Each includer uses a different subset.
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;

use brcompat::brctl::Output;

/// The fixture directory.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/brctl")
}

/// What `brctl` printed for case `name`.
pub fn fixture(name: &str) -> Output {
    let read = |ext: &str| {
        fs::read_to_string(dir().join(format!("{name}.{ext}")))
            .unwrap_or_else(|e| panic!("fixture {name}.{ext}: {e}"))
    };
    Output {
        stdout: read("out"),
        stderr: read("err"),
        status: read("rc").trim().parse().unwrap(),
    }
}

/// The arguments of case `name`.
pub fn args(name: &str) -> Vec<String> {
    let text = fs::read_to_string(dir().join(format!("{name}.args"))).unwrap();
    // printf '%s\n' with no arguments still writes one empty line.
    if text == "\n" && name == "no-args" {
        return Vec::new();
    }
    text.lines().map(str::to_owned).collect()
}

/// The ageing timer (in 1/100 s) `showmacs` printed for `mac_text`.
pub fn timer_in(out: &str, mac_text: &str) -> u32 {
    let line = out.lines().find(|l| l.contains(mac_text)).unwrap();
    let t = line.rsplit('\t').next().unwrap().trim();
    let (s, cs) = t.split_once('.').unwrap();
    s.parse::<u32>().unwrap() * 100 + cs.parse::<u32>().unwrap()
}
