//! The daemon's event loop over a real Unix socket (in a temporary
//! directory), answering from `dummy` devices: clients that send nothing or
//! never read do not hold up others; malformed and oversized datagrams get
//! `EINVAL` with their sequence number; 50 concurrent clients doing 100
//! `addif`/`delif` pairs each lose nothing; a clean stop removes the
//! socket and leaves the configuration loadable.

#![cfg(target_os = "linux")]

mod daemon_support;

use std::io::IoSlice;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use brcompat::daemon::{Daemon, DaemonOptions, Server, ServerOptions, StopHandle};
use brcompat::proto::{Reply, Request, UNIX_FAMILY_ID};
use brcompat::store::{ConfigBackend, EmptyFdb, FileStore};
use brcompat::transport::{self, Connection, Listener};
use daemon_support::{addbr, addif, delif, Client, TempDir, TIMEOUT};
use netdev::{Netdev, Registry};
use netdev_netlink::MsgBuilder;

/// A daemon serving `dummy` devices on a socket in its own directory.
struct Running {
    dir: TempDir,
    stop: StopHandle,
    thread: Option<JoinHandle<Daemon>>,
    _devices: Vec<Netdev>,
}

impl Running {
    fn start(devices: &[String]) -> Running {
        let dir = TempDir::new("socket");
        let backend = Arc::new(FileStore::open(dir.0.join("brcompat.conf")).unwrap());
        let registry = Registry::new();
        netdev_dummy::register(&registry).unwrap();
        let devices = devices
            .iter()
            .map(|n| registry.open(n, "dummy").unwrap())
            .collect();
        let events = registry.subscribe().ok();
        let daemon = Daemon::new(
            backend,
            registry,
            Arc::new(EmptyFdb),
            DaemonOptions {
                device_type: "dummy".into(),
            },
        );
        let listener = Listener::bind(dir.0.join("brcompat.sock")).unwrap();
        let server = Server::new(daemon, listener, events, ServerOptions::default()).unwrap();
        let stop = server.stop_handle();
        let thread = thread::spawn(move || server.run().unwrap());
        Running {
            dir,
            stop,
            thread: Some(thread),
            _devices: devices,
        }
    }

    fn sock(&self) -> PathBuf {
        self.dir.sock()
    }

    fn config_path(&self) -> PathBuf {
        self.dir.config()
    }

    /// Stops the server and returns its daemon.
    fn stop(&mut self) -> Daemon {
        self.stop.stop();
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.stop();
            let _ = t.join();
        }
    }
}

/// Sends raw bytes and reads the raw reply.
fn raw_exchange(conn: &Connection, bytes: &[u8]) -> (u32, Reply) {
    conn.send(&[IoSlice::new(bytes)]).unwrap();
    let mut buf = vec![0u8; 70_000];
    let n = conn.recv(&mut buf, Some(TIMEOUT)).unwrap();
    Reply::parse(&buf[..n], UNIX_FAMILY_ID).unwrap()
}

#[test]
fn idle_and_stuck_clients_do_not_block_others() {
    let mut d = Running::start(&["eth0".into()]);
    // Connects and sends nothing, ever.
    let _idle = transport::connect(d.sock(), Some(TIMEOUT)).unwrap();
    // Sends requests but never reads the replies: its queue fills, the
    // daemon keeps one reply for it and stops reading it.
    let stuck = transport::connect(d.sock(), Some(TIMEOUT)).unwrap();
    let req = Request::GetBridges
        .encode(&mut MsgBuilder::default(), UNIX_FAMILY_ID, 1)
        .unwrap()
        .to_vec();
    let mut sent = 0;
    let mut nb = stuck;
    nb.set_send_timeout(Some(Duration::ZERO));
    while sent < 100_000 {
        match nb.send(&[IoSlice::new(&req)]) {
            Ok(()) => sent += 1,
            Err(e) if e.is_timeout() => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent > 10, "the stuck client's queue filled after {sent}");

    let mut c = Client::connect(&d.sock());
    assert_eq!(c.ask(&addbr("br0")), Reply::ok());
    assert_eq!(c.ask(&addif("br0", "eth0")), Reply::ok());
    assert_eq!(c.ask(&Request::QueryMc).errno, libc::EOPNOTSUPP as u32);

    // Malformed and oversized datagrams on the same connection.
    let good = addif("br0", "eth0")
        .encode(&mut MsgBuilder::default(), UNIX_FAMILY_ID, 4242)
        .unwrap()
        .to_vec();
    let conn = &c.conn;
    assert_eq!(
        raw_exchange(conn, &good[..good.len() - 4]),
        (4242, Reply::error(libc::EINVAL as u32))
    );
    let mut huge = good.clone();
    huge.resize(100_000, 0);
    let mut big_sender = transport::connect(d.sock(), Some(TIMEOUT)).unwrap();
    big_sender.set_max_datagram(200_000);
    assert_eq!(
        raw_exchange(&big_sender, &huge),
        (4242, Reply::error(libc::EINVAL as u32))
    );
    assert_eq!(
        raw_exchange(conn, b"garbage!"),
        (0, Reply::error(libc::EINVAL as u32))
    );
    assert_eq!(
        raw_exchange(conn, &good),
        (4242, Reply::error(libc::EBUSY as u32)),
        "still served: eth0 is already a port"
    );
    drop(nb);

    let daemon = d.stop();
    assert!(!d.sock().exists(), "the socket file is removed on stop");
    assert!(daemon.config().locate("eth0").is_some());
    drop(daemon);
    let reloaded = FileStore::open(d.config_path()).unwrap().snapshot();
    assert_eq!(reloaded.locate("eth0").unwrap().bridge, "br0");
}

#[test]
fn fifty_clients_times_one_hundred_pairs_lose_nothing() {
    const CLIENTS: usize = 50;
    const PAIRS: usize = 100;
    let names: Vec<String> = (0..CLIENTS).map(|i| format!("p{i}")).collect();
    let mut d = Running::start(&names);
    let mut c = Client::connect(&d.sock());
    assert_eq!(c.ask(&addbr("br0")), Reply::ok());
    let threads: Vec<_> = names
        .iter()
        .cloned()
        .map(|name| {
            let sock = d.sock();
            thread::spawn(move || {
                let mut c = Client::connect(&sock);
                for i in 0..PAIRS {
                    assert_eq!(c.ask(&addif("br0", &name)), Reply::ok(), "{name} {i}");
                    assert_eq!(c.ask(&delif("br0", &name)), Reply::ok(), "{name} {i}");
                }
                // The odd ones end attached.
                let n: usize = name[1..].parse().unwrap();
                if n % 2 == 1 {
                    assert_eq!(c.ask(&addif("br0", &name)), Reply::ok());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let daemon = d.stop();
    drop(daemon);
    let config = FileStore::open(d.config_path()).unwrap().snapshot();
    let br = config.bridge("br0").unwrap();
    let mut got: Vec<&str> = br.ports().map(|p| p.name()).collect();
    got.sort_unstable();
    let mut want: Vec<&str> = names
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, n)| n.as_str())
        .chain(["br0"])
        .collect();
    want.sort_unstable();
    assert_eq!(got, want);
}
