//! The client library against a scripted daemon over the real transport:
//! every call and the request it sends, the daemon's errno kept, replies
//! that do not fit refused, FDB paging (linear: each record read once),
//! a daemon that is not running or does not answer.

#![cfg(target_os = "linux")]

mod fake_daemon;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use brcompat::client::{self, Client, Error, FDB_PAGE};
use brcompat::proto::{Command, FdbEntry, Reply, Request};
use fake_daemon::{FakeDaemon, TempDir};

const TIMEOUT: Option<Duration> = Some(Duration::from_secs(5));

/// Runs `f` on a thread and fails if it has not finished in 30 s: a hang
/// is a failure with a message, not a stuck test run.
fn without_hanging<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the client hung instead of failing")
}

fn connect(d: &FakeDaemon) -> Client {
    Client::connect(d.path(), TIMEOUT).unwrap()
}

#[test]
fn every_call_sends_its_request_and_reads_its_answer() {
    let d = FakeDaemon::start(|r| {
        Some(match r {
            Request::GetBridges => Reply::ifindexes(vec![7, 9]),
            Request::GetPorts { .. } => Reply::ifindexes(vec![3, 2, 5]),
            _ => Reply::ok(),
        })
    });
    let mut c = connect(&d);
    c.add_bridge("br0").unwrap();
    c.del_bridge("br1").unwrap();
    c.add_interface("br0", "eth0").unwrap();
    c.del_interface("br0", "eth1").unwrap();
    assert_eq!(c.bridges().unwrap(), [7, 9]);
    assert_eq!(c.ports("br0").unwrap(), [3, 2, 5]);
    assert_eq!(c.requests_sent(), 6);
    assert_eq!(
        d.requests(),
        [
            Request::AddBridge { name: "br0".into() },
            Request::DelBridge { name: "br1".into() },
            Request::AddPort {
                bridge: "br0".into(),
                port: "eth0".into()
            },
            Request::DelPort {
                bridge: "br0".into(),
                port: "eth1".into()
            },
            Request::GetBridges,
            Request::GetPorts {
                bridge: "br0".into()
            },
        ]
    );
}

#[test]
fn the_daemon_errno_is_kept() {
    let d = FakeDaemon::start(|r| {
        Some(Reply::error(match r {
            Request::AddBridge { .. } => libc::EEXIST as u32,
            Request::DelBridge { .. } => libc::ENXIO as u32,
            Request::AddPort { .. } => libc::EBUSY as u32,
            Request::DelPort { .. } => libc::EINVAL as u32,
            Request::GetPorts { .. } | Request::FdbQuery { .. } => libc::ENODEV as u32,
            _ => libc::EPERM as u32,
        }))
    });
    let mut c = connect(&d);
    let cases: Vec<(Result<(), Error>, Command, i32)> = vec![
        (c.add_bridge("br0"), Command::DpAdd, libc::EEXIST),
        (c.del_bridge("br0"), Command::DpDel, libc::ENXIO),
        (c.add_interface("br0", "v1"), Command::PortAdd, libc::EBUSY),
        (c.del_interface("br0", "v1"), Command::PortDel, libc::EINVAL),
        (c.ports("nosuch").map(drop), Command::GetPorts, libc::ENODEV),
        (c.fdb("nosuch").map(drop), Command::FdbQuery, libc::ENODEV),
        (c.bridges().map(drop), Command::GetBridges, libc::EPERM),
    ];
    for (result, command, errno) in cases {
        let e = result.unwrap_err();
        assert_eq!(e.daemon_errno(), Some(errno), "{command}: {e}");
        assert_eq!(e.errno(), errno);
        assert!(
            matches!(e, Error::Refused { command: c, .. } if c == command),
            "{e:?}"
        );
    }
}

#[test]
fn invalid_names_are_refused_before_sending() {
    let d = FakeDaemon::start(|_| Some(Reply::ok()));
    let mut c = connect(&d);
    for bad in ["", "-rf", "a/b", "a b", "x\u{1b}[2J", "0123456789abcdef"] {
        let e = c.add_bridge(bad).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidName { name, .. } if name == bad),
            "{e:?}"
        );
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(c.add_interface("br0", bad).is_err());
        assert!(c.del_interface(bad, "eth0").is_err());
        assert!(c.ports(bad).is_err());
        assert!(c.fdb(bad).is_err());
    }
    assert_eq!(c.requests_sent(), 0);
    assert!(d.requests().is_empty());
}

#[test]
fn answers_that_do_not_fit_the_request_are_errors() {
    let d = FakeDaemon::start(|r| {
        Some(match r {
            // Data where none belongs.
            Request::AddBridge { .. } => Reply::ifindexes(vec![1]),
            // Not a device.
            Request::GetBridges => Reply::ifindexes(vec![4, -1]),
            Request::GetPorts { .. } => Reply::ifindexes(vec![0]),
            // More than asked for.
            Request::FdbQuery { count, .. } => {
                Reply::fdb(vec![FdbEntry::default(); *count as usize + 1])
            }
            // FDB records for a list of ports.
            _ => Reply::fdb(vec![]),
        })
    });
    let mut c = connect(&d);
    for e in [
        c.add_bridge("br0").unwrap_err(),
        c.bridges().unwrap_err(),
        c.ports("br0").unwrap_err(),
        c.fdb("br0").unwrap_err(),
        c.del_interface("br0", "eth0").unwrap_err(),
    ] {
        assert!(matches!(e, Error::BadReply { .. }), "{e:?}");
        assert_eq!(e.errno(), libc::EPROTO);
    }
}

fn table(n: usize) -> Vec<FdbEntry> {
    (0..n)
        .map(|i| {
            let [a, b, c, d] = (i as u32).to_be_bytes();
            FdbEntry {
                mac: [2, 0, a, b, c, d],
                port: (i % 300) as u16,
                is_local: i % 7 == 0,
                ageing_ticks: i as u32,
            }
        })
        .collect()
}

#[test]
fn fdb_pages_read_each_record_once() {
    for n in [0, 1, 255, 256, 257, 512, 10_000] {
        let d = FakeDaemon::serving_fdb(table(n));
        let mut c = connect(&d);
        let got = c.fdb("br0").unwrap();
        assert_eq!(got, table(n), "n = {n}");
        let pages = n.div_ceil(FDB_PAGE as usize) + 1;
        let requests = d.requests();
        assert_eq!(requests.len(), pages, "n = {n}");
        assert_eq!(c.requests_sent(), pages as u64);
        // Each page starts where the last ended: nothing is read twice.
        for (i, r) in requests.iter().enumerate() {
            assert_eq!(
                *r,
                Request::FdbQuery {
                    bridge: "br0".into(),
                    count: FDB_PAGE,
                    skip: (i * FDB_PAGE as usize).min(n) as u64,
                },
                "n = {n}, page {i}"
            );
        }
    }
}

#[test]
fn a_daemon_that_is_not_running_is_one_clear_error() {
    let dir = TempDir::new("client-no-daemon");
    let missing = dir.0.join("nothing-here.sock");
    let e = without_hanging(move || Client::connect(missing, TIMEOUT).unwrap_err());
    assert!(matches!(e, Error::Connect(_)), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("cannot connect to brcompatd at ")
            && text.ends_with(": No such file or directory"),
        "{text}"
    );
    assert!(!text.contains('\n'));

    // A socket file nobody listens on any more.
    let stale = dir.0.join("stale.sock");
    drop(std::os::unix::net::UnixDatagram::bind(&stale).unwrap());
    let e = without_hanging(move || Client::connect(stale, TIMEOUT).unwrap_err());
    assert!(e.to_string().ends_with(": Connection refused"), "{e}");
    assert_eq!(e.errno(), libc::ECONNREFUSED);
}

#[test]
fn a_silent_daemon_times_out() {
    let d = FakeDaemon::start(|_| None);
    let path = d.path().to_owned();
    let e = without_hanging(move || {
        let mut c = Client::connect(path, Some(Duration::from_millis(300))).unwrap();
        c.add_bridge("br0").unwrap_err()
    });
    assert!(e.is_timeout(), "{e:?}");
    assert_eq!(e.errno(), libc::ETIMEDOUT);
    assert_eq!(e.to_string(), "brcompatd did not answer DP_ADD in time");
    assert_eq!(d.requests().len(), 1);
}

#[test]
fn after_a_timeout_the_next_request_gets_its_own_answer() {
    // The first request is never answered; the connection stays usable.
    let mut n = 0;
    let d = FakeDaemon::start(move |_| {
        n += 1;
        (n > 1).then(|| Reply::ifindexes(vec![n]))
    });
    let mut c = Client::connect(d.path(), Some(Duration::from_millis(300))).unwrap();
    assert!(c.bridges().unwrap_err().is_timeout());
    assert_eq!(c.bridges().unwrap(), [2]);
}

#[test]
fn a_daemon_that_goes_away_is_an_error_not_a_hang() {
    let d = FakeDaemon::start(|_| Some(Reply::ok()));
    let mut c = connect(&d);
    c.add_bridge("br0").unwrap();
    drop(d);
    let e = without_hanging(move || c.add_bridge("br1").unwrap_err());
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
}

#[test]
fn the_socket_path_defaults() {
    assert_eq!(
        client::socket_path(Some("/x.sock".as_ref())),
        std::path::PathBuf::from("/x.sock")
    );
}

#[test]
fn names_the_os_reported_may_hold_control_characters() {
    let d = FakeDaemon::start(|_| Some(Reply::ifindexes(vec![4])));
    let mut c = connect(&d);
    let odd = "c\u{1b}[7mx";
    assert!(matches!(c.ports(odd), Err(Error::InvalidName { .. })));
    assert_eq!(c.ports_of_listed(odd).unwrap(), [4]);
    // Still nothing the OS itself refuses.
    assert!(matches!(
        c.ports_of_listed("a/b"),
        Err(Error::InvalidName { .. })
    ));
    assert_eq!(d.requests().len(), 1);
}
