//! A tap is deleted by its last handle's drop, not later. On its own in
//! this binary: a test spawning a process at the same moment would hold
//! the tap's descriptor from its fork to its exec (a child inherits every
//! descriptor until exec closes those marked close-on-exec), and the
//! kernel would delete the tap then (see the tap class test in
//! system_kernel.rs, which waits for that).
#![cfg(target_os = "linux")]

mod support;

use netdev_core::{Flags, Registry};
use support::NetNs;

/// The notifier thread, applying the tap's own change at the moment the
/// last handle drops (it is woken by the very change the handle made),
/// must not hold the device and close it after the drop returned. Checked
/// at once after each drop, in the namespace, by name
/// (`if_nametoindex`), then against `ip -j link`.
#[test]
fn tap_is_deleted_when_its_last_handle_drops_while_changes_flow() {
    support::require_root();
    let ns = NetNs::new();
    ns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
    let reg = Registry::new();
    netdev_linux::register(&reg).unwrap();
    let inside = ns.enter();
    // Keeps the notifier thread running between the opens of tap0.
    let _v0 = reg.open("v0", "system").unwrap();
    for i in 0..400u32 {
        let tap = reg.open("tap0", "tap").unwrap();
        // Each makes the kernel notify our notifier thread, which applies
        // the change to tap0 while the handle is dropped.
        tap.set_mtu(1400 + i % 2).unwrap();
        tap.update_flags(Flags::empty(), Flags::UP).unwrap();
        drop(tap);
        let left = nix::net::if_::if_nametoindex("tap0");
        assert!(
            left.is_err(),
            "iteration {i}: tap0 (ifindex {left:?}) outlived its last handle's drop"
        );
    }
    drop(inside);
    let out = ns.ip(&["-j", "link"]);
    assert!(!out.contains("\"tap0\""), "tap0 still exists: {out}");
}
