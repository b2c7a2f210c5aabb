//! A scripted brcompat daemon for client tests: a real
//! [`brcompat::transport::Listener`] in a private temporary directory,
//! one thread per connection, each request decoded and answered by a
//! handler the test supplies (or left unanswered when it returns `None`),
//! and a log of every request received.
//!
//! Included by the client tests, the `brctl` end-to-end tests and the
//! benchmark with `mod fake_daemon;` / `#[path]`.

// Each includer uses a different subset.
#![allow(dead_code)]

use std::io::IoSlice;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

#[path = "../temp_dir/mod.rs"]
mod temp_dir;
pub use temp_dir::TempDir;

use brcompat::proto::{fdb_page, FdbEntry, Reply, Request, UNIX_FAMILY_ID};
use brcompat::transport::{Connection, Listener};
use netdev_netlink::{Header, MsgBuilder};
use nix::poll::{PollFd, PollFlags, PollTimeout};

/// Answers one request: `Some(reply)`, or `None` to say nothing.
pub type Handler = dyn FnMut(&Request) -> Option<Reply> + Send;

/// The daemon; stops (and removes its socket) on drop.
pub struct FakeDaemon {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Request>>>,
    acceptor: Option<JoinHandle<()>>,
    _dir: TempDir,
}

impl FakeDaemon {
    /// Starts a daemon answering with `handler`.
    pub fn start(handler: impl FnMut(&Request) -> Option<Reply> + Send + 'static) -> FakeDaemon {
        let dir = TempDir::new("fake-daemon");
        let path = dir.0.join("brcompat.sock");
        let listener = Listener::bind(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Mutex<Box<Handler>>> = Arc::new(Mutex::new(Box::new(handler)));
        let acceptor = {
            let (stop, log) = (stop.clone(), log.clone());
            thread::spawn(move || accept_loop(&listener, &stop, &log, &handler))
        };
        FakeDaemon {
            path,
            stop,
            log,
            acceptor: Some(acceptor),
            _dir: dir,
        }
    }

    /// A daemon serving `records` as one bridge's forwarding database
    /// with the protocol's paging, and `EINVAL` to every other request.
    pub fn serving_fdb(records: Vec<FdbEntry>) -> FakeDaemon {
        FakeDaemon::start(move |r| match r {
            Request::FdbQuery { count, skip, .. } => Some(Reply::fdb(
                records[fdb_page(*count, *skip, records.len())].to_vec(),
            )),
            _ => Some(Reply::error(libc::EINVAL as u32)),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_log(&self) {
        self.log.lock().unwrap().clear();
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: &Listener,
    stop: &Arc<AtomicBool>,
    log: &Arc<Mutex<Vec<Request>>>,
    handler: &Arc<Mutex<Box<Handler>>>,
) {
    let mut workers = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok(Some(mut conn)) => {
                conn.set_send_timeout(Some(Duration::from_secs(5)));
                let (stop, log, handler) = (stop.clone(), log.clone(), handler.clone());
                workers.push(thread::spawn(move || serve(&conn, &stop, &log, &handler)));
            }
            // Wait for the next one (or for the time to look at `stop`).
            Ok(None) => {
                let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
                let _ = nix::poll::poll(&mut fds, PollTimeout::from(50u8));
            }
            Err(e) => panic!("fake daemon: accept: {e}"),
        }
    }
    for w in workers {
        let _ = w.join();
    }
}

fn serve(
    conn: &Connection,
    stop: &AtomicBool,
    log: &Mutex<Vec<Request>>,
    handler: &Mutex<Box<Handler>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut b = MsgBuilder::default();
    while !stop.load(Ordering::Relaxed) {
        let n = match conn.recv(&mut buf, Some(Duration::from_millis(50))) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.is_timeout() => continue,
            Err(_) => return,
        };
        let datagram = &buf[..n];
        let Ok(header) = Header::parse(datagram) else {
            continue;
        };
        let reply = match Request::parse(datagram, UNIX_FAMILY_ID) {
            Ok((_, request)) => {
                log.lock().unwrap().push(request.clone());
                let answer = (handler.lock().unwrap())(&request);
                match answer {
                    Some(r) => r,
                    None => continue,
                }
            }
            Err(e) => Reply::error(e.errno()),
        };
        let bytes = reply
            .encode(&mut b, UNIX_FAMILY_ID, header.seq, header.pid)
            .unwrap();
        if conn.send(&[IoSlice::new(bytes)]).is_err() {
            return;
        }
    }
}
