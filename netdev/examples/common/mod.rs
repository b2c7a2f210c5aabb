//! What the `netdev` benchmark examples share.

use std::path::PathBuf;

/// `target/<profile>/netdev`, beside the `examples/` directory this
/// program lives in.
pub fn default_netdev() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of this program");
    exe.parent()
        .and_then(|examples| examples.parent())
        .map(|dir| dir.join("netdev"))
        .expect("this program lives in target/<profile>/examples")
}
