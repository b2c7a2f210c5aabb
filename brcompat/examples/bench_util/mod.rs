//! What the brcompat benchmarks share: medians, their printing, and the
//! binaries built beside them.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The median of `v` (not empty).
pub fn median(mut v: Vec<Duration>) -> Duration {
    assert!(!v.is_empty());
    v.sort();
    v[v.len() / 2]
}

/// `d` in milliseconds, three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// A binary of this workspace built beside the running example (same
/// profile).
pub fn sibling(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let p = exe
        .parent()
        .and_then(Path::parent)
        .expect("examples directory")
        .join(name);
    assert!(
        p.exists(),
        "no {} (build it: cargo build --release -p brcompat --bins)",
        p.display()
    );
    p
}
