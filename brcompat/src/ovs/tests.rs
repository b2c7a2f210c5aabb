//! The parts of the backend that need no Open vSwitch: what transactions
//! say they do, which failures are retried, and `ovs-appctl` run as a
//! fallback with an argument vector (with stand-in programs). The rest is
//! tested against the real thing in `tests/ovs_netns.rs`.

use super::*;
use crate::model::VlanId;

#[test]
fn transactions_say_what_they_do() {
    let c = |change| describe(&change);
    assert_eq!(
        c(Change::AddBridge { name: "br0".into() }),
        "brcompatd: addbr br0"
    );
    assert_eq!(
        c(Change::AddInterface {
            bridge: "br0".into(),
            interface: "eth0".into()
        }),
        "brcompatd: addif br0 eth0"
    );
    assert_eq!(
        c(Change::AddPort {
            bridge: "br0".into(),
            port: "bond0".into(),
            interfaces: vec!["eth1".into(), "eth2".into()],
            tag: Some(VlanId::new(7).unwrap()),
        }),
        "brcompatd: add port br0 bond0 eth1,eth2 tag=7"
    );
    assert_eq!(
        c(Change::Prune {
            interfaces: vec!["a".into(), "b".into()]
        }),
        "brcompatd: prune a b"
    );
}

#[test]
fn conflicts_are_retried_other_errors_are_not() {
    for e in [
        "timed out",
        "constraint violation",
        "referential integrity violation",
    ] {
        assert!(is_conflict(e), "{e}");
    }
    for e in ["syntax error", "resources exhausted", "not owner", ""] {
        assert!(!is_conflict(e), "{e}");
    }
}

fn fdb_with(appctl: &str) -> (OvsFdb, ovs_client::testing::TempDir) {
    // An empty run directory: no pid file, so no control socket.
    let rundir = ovs_client::testing::TempDir::new().unwrap();
    let fdb = OvsFdb::new(FdbOptions {
        rundir: rundir.path().to_owned(),
        appctl: appctl.into(),
        timeout: Duration::from_secs(3),
    });
    (fdb, rundir)
}

#[test]
fn without_a_control_socket_ovs_appctl_runs_with_an_argument_vector() {
    // echo prints the arguments it was given, exactly.
    let (fdb, _dir) = fdb_with("echo");
    let text = fdb.fdb_show("br0").unwrap().unwrap();
    assert_eq!(text, "--timeout=3 -t ovs-vswitchd fdb/show br0\n");
    // What the stand-in printed is no table: one malformed row, no entry.
    assert!(fdb.entries("br0", 0, 0, 10).unwrap().is_empty());
    // No shell: a name a shell would act on (valid for Linux) is one
    // argument, as is.
    let text = fdb.fdb_show("br0;$(id)").unwrap().unwrap();
    assert_eq!(text, "--timeout=3 -t ovs-vswitchd fdb/show br0;$(id)\n");
    // A name that is not one, or would read as an option, is refused
    // before anything runs.
    for bad in ["-x", "a b", "", "0123456789abcdef"] {
        let e = fdb.fdb_show(bad).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
    }
}

#[test]
fn a_failing_or_missing_ovs_appctl_is_an_error_naming_it() {
    let (fdb, _dir) = fdb_with("false");
    let e = fdb.fdb_show("br0").unwrap_err();
    assert!(e.to_string().starts_with("false fdb/show br0"), "{e}");
    let (fdb, _dir) = fdb_with("/nonexistent/ovs-appctl");
    let e = fdb.fdb_show("br0").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    assert!(e.to_string().contains("/nonexistent/ovs-appctl"), "{e}");
}
