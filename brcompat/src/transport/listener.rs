//! The daemon's listening socket and its file.
//!
//! Creating it safely takes four steps:
//! 1. an exclusive `flock` on `PATH.lock`, held for the listener's life:
//!    two daemons starting at once cannot both decide the path is free;
//! 2. a connection attempt to `PATH`: a daemon answering there (say one
//!    that predates the lock) is not robbed of its socket
//!    (`another brcompatd is running on PATH`); `ECONNREFUSED` means a
//!    stale file of a dead daemon, which is replaced; anything at `PATH`
//!    that is not a socket is left alone and is an error;
//! 3. bind in a fresh mode-0700 directory beside `PATH`, set the socket
//!    file's mode (0600, or 0660 and the admitted group when the access
//!    policy has one) and listen: nobody else can reach the file while its
//!    mode is still the umask's, so there is no window, and the process
//!    umask (shared by all threads) is never touched;
//! 4. `rename` onto `PATH`, which replaces a stale file atomically.
//!
//! On drop the socket file is removed, but only if it is still ours (same
//! device and inode): a listener never deletes a successor's socket.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::socket::{self, Backlog, UnixAddr};

use super::{seqpacket_socket, Connection, Error, PeerCred, DEFAULT_MAX_DATAGRAM, DEFAULT_PATH};
use crate::sys;

/// How to create a [`Listener`].
#[derive(Clone, Debug)]
pub struct ListenerOptions {
    path: PathBuf,
    group: Option<u32>,
    max_datagram: usize,
    backlog: i32,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions::new(DEFAULT_PATH)
    }
}

impl ListenerOptions {
    /// A socket at `path`, mode 0600, owned by the daemon's user.
    pub fn new(path: impl Into<PathBuf>) -> ListenerOptions {
        ListenerOptions {
            path: path.into(),
            group: None,
            max_datagram: DEFAULT_MAX_DATAGRAM,
            backlog: 128,
        }
    }

    /// Makes the socket file mode 0660 and owned by group `gid`, so that
    /// members of the group an [`super::Access`] policy admits can connect
    /// at all (with 0600 only root could).
    #[must_use]
    pub fn group(mut self, gid: Option<u32>) -> ListenerOptions {
        self.group = gid;
        self
    }

    /// The largest datagram accepted connections take.
    #[must_use]
    pub fn max_datagram(mut self, max: usize) -> ListenerOptions {
        self.max_datagram = max;
        self
    }

    /// Creates the listener (see the module documentation for the steps).
    pub fn bind(&self) -> Result<Listener, Error> {
        Listener::bind_with(self)
    }
}

/// A listening brcompat socket: non-blocking (pollable with `AsFd`), its
/// socket file removed on drop.
#[derive(Debug)]
pub struct Listener {
    fd: OwnedFd,
    path: PathBuf,
    /// Device and inode of our socket file.
    id: (u64, u64),
    max_datagram: usize,
    _lock: Flock<File>,
}

/// Removes a temporary directory (and the socket in it) unless disarmed.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

impl Listener {
    /// A listener at `path` with the default options (mode 0600).
    pub fn bind(path: impl Into<PathBuf>) -> Result<Listener, Error> {
        ListenerOptions::new(path).bind()
    }

    fn bind_with(opts: &ListenerOptions) -> Result<Listener, Error> {
        let path = opts.path.as_path();
        let lock = take_lock(path)?;
        probe(path)?;

        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let dir = dir.unwrap_or(Path::new("."));
        let tmp = TempDir(unique_temp_dir(dir)?);
        let tmp_sock = tmp.0.join("s");

        let fd = seqpacket_socket().map_err(|e| Error::io("socket", e))?;
        let addr = UnixAddr::new(&tmp_sock).map_err(|e| Error::io_at("bind", path, e))?;
        socket::bind(fd.as_raw_fd(), &addr).map_err(|e| Error::io_at("bind", &tmp_sock, e))?;
        let mode = match opts.group {
            None => 0o600,
            Some(gid) => {
                std::os::unix::fs::chown(&tmp_sock, None, Some(gid))
                    .map_err(|e| Error::io_at("chown", &tmp_sock, e))?;
                0o660
            }
        };
        fs::set_permissions(&tmp_sock, fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io_at("chmod", &tmp_sock, e))?;
        let backlog = Backlog::new(opts.backlog).unwrap_or(Backlog::MAXCONN);
        socket::listen(&fd, backlog).map_err(|e| Error::io_at("listen", path, e))?;
        fs::rename(&tmp_sock, path).map_err(|e| Error::io_at("rename", path, e))?;
        drop(tmp);

        let meta = fs::symlink_metadata(path).map_err(|e| Error::io_at("stat", path, e))?;
        log::info!("listening on {}", path.display());
        Ok(Listener {
            fd,
            path: path.to_owned(),
            id: (meta.dev(), meta.ino()),
            max_datagram: opts.max_datagram,
            _lock: lock,
        })
    }

    /// The socket file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts one waiting connection, with its peer's credentials;
    /// `Ok(None)` when none is waiting (poll the listener's fd). The
    /// connection never waits to send: a stuck client cannot stall the
    /// daemon.
    ///
    /// Check the peer with [`super::Access::check`] before serving it.
    pub fn accept(&self) -> Result<Option<Connection>, Error> {
        let fd = loop {
            match sys::accept(self.fd.as_fd()) {
                Ok(fd) => break fd,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                // The peer gave up before we got to it.
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => return Ok(None),
                Err(e) => return Err(Error::io_at("accept", &self.path, e)),
            }
        };
        let peer = PeerCred::of(fd.as_fd()).map_err(|e| Error::io("peer credentials", e))?;
        let mut conn = Connection::new(fd, Some(peer), Some(Duration::ZERO));
        conn.set_max_datagram(self.max_datagram);
        Ok(Some(conn))
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        match fs::symlink_metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == self.id => {
                if let Err(e) = fs::remove_file(&self.path) {
                    log::warn!("cannot remove {}: {e}", self.path.display());
                }
            }
            _ => log::warn!(
                "{} is no longer our socket; left in place",
                self.path.display()
            ),
        }
    }
}

/// `PATH.lock`, locked exclusively without waiting.
fn take_lock(path: &Path) -> Result<Flock<File>, Error> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| Error::io_at("open", &lock_path, e))?;
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((_, Errno::EWOULDBLOCK)) => Err(Error::AlreadyRunning {
            path: path.to_owned(),
        }),
        Err((_, e)) => Err(Error::io_at("lock", &lock_path, e)),
    }
}

/// Fails if a daemon answers at `path` or something other than a socket
/// is there; succeeds if the path is free or holds a dead daemon's socket.
fn probe(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io_at("stat", path, e)),
        Ok(m) if !m.file_type().is_socket() => {
            return Err(Error::io_at("replace", path, Errno::EEXIST));
        }
        Ok(_) => {}
    }
    match super::connect(path, Some(Duration::from_secs(1))) {
        Ok(_) => Err(Error::AlreadyRunning {
            path: path.to_owned(),
        }),
        Err(Error::Connect { source, .. })
            if source.raw_os_error() == Some(libc::ECONNREFUSED)
                || source.raw_os_error() == Some(libc::ENOENT) =>
        {
            log::info!("replacing the stale socket {}", path.display());
            Ok(())
        }
        // A full queue that never drained: someone is there.
        Err(Error::Connect { source, .. }) if source.raw_os_error() == Some(libc::ETIMEDOUT) => {
            Err(Error::AlreadyRunning {
                path: path.to_owned(),
            })
        }
        Err(e) => Err(e),
    }
}

/// A new mode-0700 directory in `dir`, named after our pid and a counter.
fn unique_temp_dir(dir: &Path) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".brcompat-{}-{n}", std::process::id()));
        match DirBuilder::new().mode(0o700).create(&tmp) {
            Ok(()) => return Ok(tmp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io_at("mkdir", &tmp, e)),
        }
    }
}
