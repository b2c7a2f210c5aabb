//! Helpers shared by the daemon's test files: temporary directories,
//! request constructors, and a protocol client over the Unix socket.

// Each includer uses a different subset.
#![allow(dead_code)]

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

#[path = "../temp_dir/mod.rs"]
mod temp_dir;
pub use temp_dir::TempDir;

use brcompat::proto::{Reply, Request, UNIX_FAMILY_ID};
use brcompat::transport::{self, Connection};
use netdev_netlink::{MsgBuilder, PeerModel, Requester};

/// How long a client waits for the daemon.
pub const TIMEOUT: Duration = Duration::from_secs(30);

pub fn addbr(name: &str) -> Request {
    Request::AddBridge { name: name.into() }
}

pub fn delbr(name: &str) -> Request {
    Request::DelBridge { name: name.into() }
}

pub fn addif(bridge: &str, port: &str) -> Request {
    Request::AddPort {
        bridge: bridge.into(),
        port: port.into(),
    }
}

pub fn delif(bridge: &str, port: &str) -> Request {
    Request::DelPort {
        bridge: bridge.into(),
        port: port.into(),
    }
}

pub fn ports(bridge: &str) -> Request {
    Request::GetPorts {
        bridge: bridge.into(),
    }
}

pub fn fdb(bridge: &str, count: u64, skip: u64) -> Request {
    Request::FdbQuery {
        bridge: bridge.into(),
        count,
        skip,
    }
}

/// A client speaking the protocol through a `Requester`.
pub struct Client {
    pub conn: Connection,
    requester: Requester,
    builder: MsgBuilder,
}

impl Client {
    pub fn try_connect(path: &Path) -> Result<Client, transport::Error> {
        Ok(Client {
            conn: transport::connect(path, Some(TIMEOUT))?,
            requester: Requester::new(
                PeerModel::Asynchronous {
                    timeout: Some(TIMEOUT),
                },
                None,
            ),
            builder: MsgBuilder::default(),
        })
    }

    pub fn connect(path: &Path) -> Client {
        Client::try_connect(path).unwrap()
    }

    /// Waits (up to `TIMEOUT`) for a daemon to answer at `path`.
    pub fn wait_for(path: &Path) -> Client {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(c) = Client::try_connect(path) {
                return c;
            }
            assert!(Instant::now() < deadline, "no daemon at {}", path.display());
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Sends `r`, returns the one reply it drew.
    pub fn try_ask(&mut self, r: &Request) -> std::io::Result<Reply> {
        r.encode(&mut self.builder, UNIX_FAMILY_ID, 0).unwrap();
        let resp = self.requester.transact(&mut self.conn, &mut self.builder)?;
        assert_eq!(resp.len(), 1, "one reply per request");
        let msg = resp
            .first()
            .ok_or_else(|| std::io::Error::other("no reply"))?;
        Ok(Reply::decode(&msg, UNIX_FAMILY_ID).unwrap().1)
    }

    pub fn ask(&mut self, r: &Request) -> Reply {
        self.try_ask(r).unwrap()
    }
}
