//! The daemon transport over real Unix sockets in a private temporary
//! directory: socket file mode and life cycle, peer credentials and access
//! policy (with a child process running as `nobody`), oversized
//! datagrams, and request/reply through `netdev_netlink::Requester`.
//!
//! Needs root (the child drops to uid 65534); run on Linux.

#![cfg(target_os = "linux")]

use std::fs;
use std::io::IoSlice;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

mod temp_dir;
use temp_dir::TempDir;

use brcompat::transport::{self, Access, Error, Listener, ListenerOptions};
use netdev_netlink::{
    Header, Msg, MsgBuilder, PeerModel, Requester, NLMSG_ERROR, NLM_F_ACK, NLM_F_REQUEST,
};
use nix::sys::socket::{self, AddressFamily, SockFlag, SockType, UnixAddr};

const NOBODY: u32 = 65534;
/// Set in a child process: connect to this socket path and report.
const CHILD_ENV: &str = "BRCOMPAT_TEST_CHILD_SOCKET";

/// Accepts one connection, waiting up to 5 s.
fn accept(l: &Listener) -> transport::Connection {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(c) = l.accept().unwrap() {
            return c;
        }
        assert!(Instant::now() < deadline, "no connection came");
        thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn socket_file_is_0600_and_removed_on_drop() {
    let dir = TempDir::new("transport");
    let l = Listener::bind(dir.sock()).unwrap();
    let meta = fs::symlink_metadata(dir.sock()).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(l.path(), dir.sock());
    // Nothing left over from the private bind directory.
    let names: Vec<_> = fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".brcompat-")),
        "{names:?}"
    );
    drop(l);
    assert!(!dir.sock().exists());
}

#[test]
fn group_option_makes_0660_with_that_group() {
    let dir = TempDir::new("transport");
    let _l = ListenerOptions::new(dir.sock())
        .group(Some(NOBODY))
        .bind()
        .unwrap();
    let meta = fs::symlink_metadata(dir.sock()).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o660, NOBODY));
}

#[test]
fn a_live_daemon_is_not_robbed() {
    let dir = TempDir::new("transport");
    let first = Listener::bind(dir.sock()).unwrap();
    let e = Listener::bind(dir.sock()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("another brcompatd is running on {}", dir.sock().display())
    );
    // Without the lock file (an older daemon, say) the probe still finds
    // the live one.
    let mut lock = dir.sock().into_os_string();
    lock.push(".lock");
    fs::remove_file(&lock).unwrap();
    let e = Listener::bind(dir.sock()).unwrap_err();
    assert!(matches!(e, Error::AlreadyRunning { .. }), "{e}");
    // And the first still serves.
    let _c = transport::connect(dir.sock(), Some(Duration::from_secs(1))).unwrap();
    assert!(accept(&first).peer().is_some());
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = TempDir::new("transport");
    {
        // A dead daemon: its socket file outlives its socket.
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        socket::bind(fd.as_raw_fd(), &UnixAddr::new(&dir.sock()).unwrap()).unwrap();
    }
    let e = transport::connect(dir.sock(), Some(Duration::from_secs(1))).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot connect to brcompatd at {}: Connection refused",
            dir.sock().display()
        )
    );
    let l = Listener::bind(dir.sock()).unwrap();
    let _c = transport::connect(dir.sock(), Some(Duration::from_secs(1))).unwrap();
    accept(&l);
}

#[test]
fn something_else_at_the_path_is_left_alone() {
    let dir = TempDir::new("transport");
    fs::write(dir.sock(), b"precious").unwrap();
    let e = Listener::bind(dir.sock()).unwrap_err();
    assert_eq!(e.errno(), libc::EEXIST, "{e}");
    assert_eq!(fs::read(dir.sock()).unwrap(), b"precious");
}

#[test]
fn no_daemon_is_one_clear_error() {
    let dir = TempDir::new("transport");
    let start = Instant::now();
    let e = transport::connect(dir.sock(), Some(Duration::from_secs(5))).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot connect to brcompatd at {}: No such file or directory",
            dir.sock().display()
        )
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn peer_credentials_of_our_own_client_are_ours() {
    let dir = TempDir::new("transport");
    let l = Listener::bind(dir.sock()).unwrap();
    let c = transport::connect(dir.sock(), Some(Duration::from_secs(1))).unwrap();
    let server = accept(&l);
    let peer = server.peer().unwrap();
    assert_eq!(peer.uid, nix::unistd::geteuid().as_raw());
    assert_eq!(peer.gid, nix::unistd::getegid().as_raw());
    assert_eq!(peer.pid, Some(std::process::id() as i32));
    // And the client sees the daemon the same way.
    assert_eq!(c.peer().unwrap().uid, peer.uid);
    if peer.uid == 0 {
        Access::RootOnly.check(server.as_fd_ref(), &peer).unwrap();
    }
}

/// Borrowing helper so tests read naturally.
trait AsFdRef {
    fn as_fd_ref(&self) -> std::os::fd::BorrowedFd<'_>;
}

impl AsFdRef for transport::Connection {
    fn as_fd_ref(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

/// The child's side of the access tests: connect as `nobody`, send one
/// datagram, report what came back on stdout.
fn child_client(path: &Path) {
    let c = match transport::connect(path, Some(Duration::from_secs(5))) {
        Ok(c) => c,
        Err(e) => {
            println!("CHILD connect failed: {e}");
            return;
        }
    };
    c.send(&[IoSlice::new(b"hello")]).unwrap();
    let mut buf = [0u8; 64];
    match c.recv(&mut buf, Some(Duration::from_secs(5))) {
        Ok(0) => println!("CHILD closed"),
        Ok(n) => println!("CHILD reply {}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => println!("CHILD error {e}"),
    }
}

/// Runs this test binary as `nobody`, as a client of `path`.
fn spawn_nobody_client(path: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "access_child_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .uid(NOBODY)
        .gid(NOBODY)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Entry point of the child process (a no-op in the normal run).
#[test]
fn access_child_entry() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        child_client(Path::new(&path));
    }
}

#[test]
fn a_peer_without_permission_is_refused() {
    let dir = TempDir::new("transport");
    // 0660 with group nobody, so the child can connect at all.
    let l = ListenerOptions::new(dir.sock())
        .group(Some(NOBODY))
        .bind()
        .unwrap();
    let child = spawn_nobody_client(&dir.sock());
    let conn = accept(&l);
    let peer = conn.peer().unwrap();
    assert_eq!((peer.uid, peer.gid), (NOBODY, NOBODY));
    let refused = Access::RootOnly.check(conn.as_fd_ref(), &peer).unwrap_err();
    assert!(refused
        .to_string()
        .starts_with("refused peer uid 65534 gid 65534 pid "));
    // Its request is answered with a refusal, then the connection closes.
    let mut buf = [0u8; 64];
    assert_eq!(
        conn.recv(&mut buf, Some(Duration::from_secs(5))).unwrap(),
        5
    );
    conn.refuse(&refused, Some(b"EPERM"));
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("CHILD reply EPERM"), "{out}");
}

#[test]
fn a_member_of_the_group_is_admitted() {
    let dir = TempDir::new("transport");
    let l = ListenerOptions::new(dir.sock())
        .group(Some(NOBODY))
        .bind()
        .unwrap();
    let child = spawn_nobody_client(&dir.sock());
    let conn = accept(&l);
    let peer = conn.peer().unwrap();
    let access = Access::group(&NOBODY.to_string()).unwrap();
    access.check(conn.as_fd_ref(), &peer).unwrap();
    // Someone else's group is not enough.
    let other = Access::Group {
        gid: 4242,
        name: "other".into(),
    };
    assert!(other.check(conn.as_fd_ref(), &peer).is_err());
    // Served: echo.
    let mut buf = [0u8; 64];
    let n = conn.recv(&mut buf, Some(Duration::from_secs(5))).unwrap();
    conn.send(&[IoSlice::new(&buf[..n])]).unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.contains("CHILD reply hello"), "{out}");
}

#[test]
fn a_socket_mode_0600_keeps_others_out_entirely() {
    let dir = TempDir::new("transport");
    let _l = Listener::bind(dir.sock()).unwrap();
    let out = spawn_nobody_client(&dir.sock()).wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains(&format!(
            "CHILD connect failed: cannot connect to brcompatd at {}: Permission denied",
            dir.sock().display()
        )),
        "{out}"
    );
}

#[test]
fn oversized_datagrams_are_errors_not_crashes() {
    let dir = TempDir::new("transport");
    let l = ListenerOptions::new(dir.sock())
        .max_datagram(100)
        .bind()
        .unwrap();
    let c = transport::connect(dir.sock(), Some(Duration::from_secs(1))).unwrap();
    let server = accept(&l);
    assert_eq!(server.max_datagram(), 100);
    c.send(&[IoSlice::new(&[7u8; 200])]).unwrap();
    c.send(&[IoSlice::new(&[8u8; 100])]).unwrap();
    let mut buf = vec![0u8; 4096];
    let e = server
        .recv(&mut buf, Some(Duration::from_secs(1)))
        .unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert_eq!(
        e.to_string(),
        "datagram of 200 bytes exceeds the maximum of 100"
    );
    // The next one is intact: the oversized one was consumed whole.
    assert_eq!(
        server.recv(&mut buf, Some(Duration::from_secs(1))).unwrap(),
        100
    );
    assert!(buf[..100].iter().all(|&b| b == 8));
    // Sending too much is refused before anything goes out.
    let e = server.send(&[IoSlice::new(&[0u8; 101])]).unwrap_err();
    assert!(matches!(
        e,
        Error::Oversized {
            len: Some(101),
            max: 100
        }
    ));
    // Nothing waiting: a timeout, immediately.
    let e = server.recv(&mut buf, Some(Duration::ZERO)).unwrap_err();
    assert!(e.is_timeout(), "{e}");
    // The peer closing reads as 0.
    drop(c);
    assert_eq!(
        server.recv(&mut buf, Some(Duration::from_secs(1))).unwrap(),
        0
    );
}

/// An ack (`NLMSG_ERROR` with errno 0) or an error for request `req`.
fn answer(req: &Msg<'_>, errno: i32) -> Vec<u8> {
    let mut payload = (-errno).to_ne_bytes().to_vec();
    payload.extend(Header::parse(req.bytes()).unwrap().to_bytes());
    let mut b = MsgBuilder::new(NLMSG_ERROR, 0);
    b.set_seq(req.seq()).put_fixed(&payload);
    b.finish().unwrap().to_vec()
}

#[test]
fn request_reply_through_a_requester() {
    const FAMILY: u16 = 0x20;
    const CMD_ECHO: u8 = 1;
    const CMD_FAIL: u8 = 2;
    let dir = TempDir::new("transport");
    let l = Listener::bind(dir.sock()).unwrap();
    let server = thread::spawn(move || {
        let conn = accept(&l);
        let mut buf = vec![0u8; 4096];
        let mut served = 0;
        loop {
            let n = match conn.recv(&mut buf, Some(Duration::from_secs(5))) {
                Ok(0) => return served,
                Ok(n) => n,
                Err(e) => panic!("server: {e}"),
            };
            let req = Msg::parse(&buf[..n]).unwrap();
            let cmd = req.genl_header().unwrap().cmd;
            let mut out = Vec::new();
            if cmd == CMD_ECHO {
                // A stray answer to someone else first, then ours.
                let mut stray = MsgBuilder::new_genl(FAMILY, 0, CMD_ECHO, 1);
                stray.set_seq(req.seq().wrapping_add(1000));
                out.extend(stray.finish().unwrap());
                let mut reply = MsgBuilder::new_genl(FAMILY, 0, CMD_ECHO, 1);
                reply.set_seq(req.seq());
                for a in req.genl_attrs().unwrap() {
                    let a = a.unwrap();
                    reply.put_bytes(a.kind(), a.payload());
                }
                out.extend(reply.finish().unwrap());
                out.extend(answer(&req, 0));
            } else {
                out.extend(answer(&req, libc::EINVAL));
            }
            conn.send(&[IoSlice::new(&out)]).unwrap();
            served += 1;
        }
    });

    let mut c = transport::connect(dir.sock(), Some(Duration::from_secs(5))).unwrap();
    let mut r = Requester::new(
        PeerModel::Asynchronous {
            timeout: Some(Duration::from_secs(5)),
        },
        None,
    );
    for i in 0..10u32 {
        let mut req = MsgBuilder::new_genl(FAMILY, NLM_F_REQUEST | NLM_F_ACK, CMD_ECHO, 1);
        req.put_u32(1, i);
        let resp = r.transact(&mut c, &mut req).unwrap();
        assert_eq!(resp.len(), 1);
        let m = resp.first().unwrap();
        let a = m.genl_attrs().unwrap().next().unwrap().unwrap();
        assert_eq!(a.get_u32().unwrap(), i);
    }
    let mut req = MsgBuilder::new_genl(FAMILY, NLM_F_REQUEST | NLM_F_ACK, CMD_FAIL, 1);
    let e = r.transact(&mut c, &mut req).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    drop(c);
    assert_eq!(server.join().unwrap(), 11);
}

#[test]
fn a_silent_daemon_times_out_instead_of_hanging() {
    let dir = TempDir::new("transport");
    let l = Listener::bind(dir.sock()).unwrap();
    let mut c = transport::connect(dir.sock(), Some(Duration::from_secs(1))).unwrap();
    let _server = accept(&l);
    let mut r = Requester::new(
        PeerModel::Asynchronous {
            timeout: Some(Duration::from_millis(200)),
        },
        None,
    );
    let mut req = MsgBuilder::new_genl(0x20, NLM_F_REQUEST | NLM_F_ACK, 1, 1);
    let e = r.transact(&mut c, &mut req).unwrap_err();
    assert!(netdev_netlink::is_timeout(&e), "{e}");
}
