//! Private `ovsdb-server` instances for tests (cargo feature `testing`):
//! a fresh database from the packaged schema in a temporary directory that
//! also holds the sockets, pid and log files, so the system's Open vSwitch
//! (default paths under /run/openvswitch) is never touched. Servers run as
//! child processes and are killed by PID on drop, even on panic.
//!
//! ```no_run
//! use ovs_client::testing::OvsdbServer;
//! let server = OvsdbServer::start().unwrap();
//! server.vsctl(&["add-br", "br0"]).unwrap();
//! assert_eq!(server.vsctl(&["list-br"]).unwrap(), "br0\n");
//! ```
//!
//! Programs are found on `PATH` (`ovsdb-tool`, `ovsdb-server`, `ovs-vsctl`;
//! `ovsdb-server` also in /usr/sbin), the schema at
//! [`SCHEMA`] or `$OVS_SCHEMA`.

use crate::{ops, unixctl, Remote, Uuid};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The packaged Open_vSwitch schema (Debian's `openvswitch-common`).
pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// The database name of [`SCHEMA`].
pub const DATABASE: &str = "Open_vSwitch";

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn schema() -> PathBuf {
    std::env::var_os("OVS_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SCHEMA))
}

fn ovsdb_server_program() -> PathBuf {
    if let Some(p) = std::env::var_os("OVSDB_SERVER") {
        return p.into();
    }
    let sbin = Path::new("/usr/sbin/ovsdb-server");
    if sbin.exists() {
        sbin.into()
    } else {
        "ovsdb-server".into()
    }
}

/// Runs a program with an argument vector; its stdout on success, an error
/// with its stderr otherwise.
pub fn run(program: impl AsRef<Path>, args: &[&str], env_dir: &Path) -> io::Result<String> {
    let program = program.as_ref();
    let out = Command::new(program)
        .args(args)
        .envs(private_env(env_dir))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} {}: {}: {}",
            program.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(|e| io::Error::other(e.to_string()))
}

/// OVS reads these for its default paths: point them all at `dir`.
fn private_env(dir: &Path) -> Vec<(&'static str, &Path)> {
    ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"]
        .into_iter()
        .map(|k| (k, dir))
        .collect()
}

/// A temporary directory removed on drop. Paths are short: Unix socket
/// paths must fit in 108 bytes.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `/tmp/ovsc-PID-N`.
    pub fn new() -> io::Result<TempDir> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ovsc-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir(&path)?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One `ovsdb-server` process serving one database file.
#[derive(Debug)]
struct Process {
    child: Option<Child>,
}

impl Process {
    fn start(
        db: &Path,
        sock: &Path,
        ctl: &Path,
        name: &str,
        dir: &Path,
        extra: &[String],
    ) -> io::Result<Process> {
        // A socket left by a killed server would answer nothing.
        let _ = std::fs::remove_file(sock);
        let _ = std::fs::remove_file(ctl);
        let arg = |prefix: &str, p: &Path| format!("{prefix}{}", p.display());
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(ovsdb_server_program())
            .arg(db)
            .arg(arg("--remote=punix:", sock))
            .arg(arg("--unixctl=", ctl))
            .arg(arg("--pidfile=", &dir.join(format!("{name}.pid"))))
            .arg(arg("--log-file=", &log))
            .arg("-vconsole:off")
            .arg("-vfile:info")
            .args(extra)
            .envs(private_env(dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut p = Process { child: Some(child) };
        let deadline = Instant::now() + START_TIMEOUT;
        // Listening on both sockets means started.
        while !(std::os::unix::net::UnixStream::connect(sock).is_ok()
            && std::os::unix::net::UnixStream::connect(ctl).is_ok())
        {
            if let Some(status) = p.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                p.child = None;
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "ovsdb-server for {} exited ({status}): {}",
                    db.display(),
                    log.trim()
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("ovsdb-server for {} did not start", db.display()),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(p)
    }

    fn pid(&self) -> Option<Pid> {
        self.child.as_ref().map(|c| Pid::from_raw(c.id() as i32))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGKILL ends a stopped (paused) process too, without letting
            // it run first.
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, signal: Signal) -> io::Result<()> {
        let pid = self
            .pid()
            .ok_or_else(|| io::Error::other("ovsdb-server is not running"))?;
        kill(pid, signal).map_err(io::Error::from)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A standalone `ovsdb-server` with a fresh `Open_vSwitch` database.
#[derive(Debug)]
pub struct OvsdbServer {
    process: Process,
    extra: Vec<String>,
    db: PathBuf,
    sock: PathBuf,
    ctl: PathBuf,
    // Dropped last: the process first, then its files.
    dir: TempDir,
}

impl OvsdbServer {
    /// Creates the database (`ovsdb-tool create`) and starts the server.
    pub fn start() -> io::Result<OvsdbServer> {
        OvsdbServer::start_with(&[])
    }

    /// Like [`start`](Self::start), with more `ovsdb-server` arguments
    /// (e.g. `--remote=db:Open_vSwitch,Open_vSwitch,manager_options`).
    pub fn start_with(extra: &[&str]) -> io::Result<OvsdbServer> {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let dir = TempDir::new()?;
        let db = dir.path().join("conf.db");
        run(
            "ovsdb-tool",
            &["create", &db.to_string_lossy(), &schema().to_string_lossy()],
            dir.path(),
        )?;
        let sock = dir.path().join("db.sock");
        let ctl = dir.path().join("ovsdb-server.ctl");
        let process = Process::start(&db, &sock, &ctl, "ovsdb-server", dir.path(), &extra)?;
        Ok(OvsdbServer {
            process,
            extra,
            db,
            sock,
            ctl,
            dir,
        })
    }

    /// The private directory (database, sockets, pid and log files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client socket.
    pub fn socket(&self) -> &Path {
        &self.sock
    }

    /// The server's own control socket (for [`unixctl::call`]).
    pub fn control_socket(&self) -> &Path {
        &self.ctl
    }

    /// `unix:SOCKET`, for `--db`.
    pub fn remote_spec(&self) -> String {
        format!("unix:{}", self.sock.display())
    }

    /// The client socket as a [`Remote`].
    pub fn remote(&self) -> Remote {
        Remote::Unix(self.sock.clone())
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid().map(|p| p.as_raw() as u32)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        self.process.kill();
    }

    /// Starts the server again on the same database and sockets.
    pub fn restart(&mut self) -> io::Result<()> {
        self.process.kill();
        self.process = Process::start(
            &self.db,
            &self.sock,
            &self.ctl,
            "ovsdb-server",
            self.dir.path(),
            &self.extra,
        )?;
        Ok(())
    }

    /// Freezes the server (SIGSTOP): it keeps its sockets but answers
    /// nothing, like a hung daemon.
    pub fn pause(&self) -> io::Result<()> {
        self.process.signal(Signal::SIGSTOP)
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) -> io::Result<()> {
        self.process.signal(Signal::SIGCONT)
    }

    /// Runs `ovs-vsctl --db=unix:SOCKET --no-wait --timeout=10 ARGS...` and
    /// returns its output.
    pub fn vsctl(&self, args: &[&str]) -> io::Result<String> {
        vsctl(&self.remote_spec(), args, self.dir.path())
    }
}

/// Runs `ovs-vsctl --db=DB --no-wait --timeout=10 ARGS...`; `dir` is used
/// for OVS's default paths.
pub fn vsctl(db: &str, args: &[&str], dir: &Path) -> io::Result<String> {
    let db = format!("--db={db}");
    let mut all = vec![db.as_str(), "--no-wait", "--timeout=10"];
    all.extend_from_slice(args);
    run("ovs-vsctl", &all, dir)
}

/// The operations of `ovs-vsctl add-br NAME` in one transaction: the
/// bridge's local Interface, Port and Bridge rows inserted with named UUIDs
/// (`i`, `p`, `b`: the Bridge's result is the third) and added to the
/// `bridges` of the `Open_vSwitch` row `root`.
pub fn add_bridge_ops(root: Uuid, name: &str) -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        ops::insert(
            "Interface",
            json!({"name": name, "type": "internal"}),
            Some("i"),
        ),
        ops::insert(
            "Port",
            json!({"name": name, "interfaces": ops::named_uuid("i")}),
            Some("p"),
        ),
        ops::insert(
            "Bridge",
            json!({"name": name, "ports": ops::named_uuid("p")}),
            Some("b"),
        ),
        ops::mutate(
            "Open_vSwitch",
            ops::where_uuid(root),
            vec![ops::mutation(
                "bridges",
                "insert",
                ops::set(vec![ops::named_uuid("b")]),
            )],
        ),
    ]
}

/// One member of a [`Cluster`].
#[derive(Debug)]
pub struct Member {
    process: Process,
    db: PathBuf,
    sock: PathBuf,
    ctl: PathBuf,
    name: String,
    /// The Raft address, `tcp:127.0.0.1:PORT`.
    pub raft: String,
}

impl Member {
    /// The client socket.
    pub fn socket(&self) -> &Path {
        &self.sock
    }

    /// The control socket.
    pub fn control_socket(&self) -> &Path {
        &self.ctl
    }

    /// `unix:SOCKET`.
    pub fn remote_spec(&self) -> String {
        format!("unix:{}", self.sock.display())
    }

    /// Whether the process runs (not killed).
    pub fn running(&self) -> bool {
        self.process.child.is_some()
    }

    /// This member's `cluster/status` text.
    pub fn status(&self) -> Result<String, crate::Error> {
        unixctl::call(
            &self.ctl,
            "cluster/status",
            &[DATABASE],
            Duration::from_secs(5),
        )
    }

    /// Whether it reports itself the leader.
    pub fn is_leader(&self) -> bool {
        self.running()
            && self
                .status()
                .is_ok_and(|s| s.lines().any(|l| l.trim() == "Role: leader"))
    }
}

/// A Raft cluster of `ovsdb-server`s on loopback: Raft over
/// `tcp:127.0.0.1:PORT`, clients on each member's `punix:` socket.
#[derive(Debug)]
pub struct Cluster {
    members: Vec<Member>,
    dir: TempDir,
}

/// A free TCP port on loopback (released before use: a small race).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Cluster {
    /// Creates an `n`-member cluster (`ovsdb-tool create-cluster` with
    /// the given election timer, then `join-cluster`), starts every member
    /// and waits until all have joined and one leads. The Raft ports are
    /// free ports of loopback picked just before; should another program
    /// take one meanwhile, the cluster is built again on new ports (three
    /// attempts).
    pub fn start(n: usize, election_timer_ms: u64) -> io::Result<Cluster> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Cluster::start_once(n, election_timer_ms) {
                Err(e) if attempt < 3 => log::warn!("cluster start failed, again: {e}"),
                r => return r,
            }
        }
    }

    fn start_once(n: usize, election_timer_ms: u64) -> io::Result<Cluster> {
        let dir = TempDir::new()?;
        let mut members = Vec::with_capacity(n);
        let mut first_raft = String::new();
        for i in 0..n {
            let db = dir.path().join(format!("s{i}.db"));
            let raft = format!("tcp:127.0.0.1:{}", free_port()?);
            let dbs = db.to_string_lossy().into_owned();
            if i == 0 {
                let timer = format!("--election-timer={election_timer_ms}");
                run(
                    "ovsdb-tool",
                    &[
                        &timer,
                        "create-cluster",
                        &dbs,
                        &schema().to_string_lossy(),
                        &raft,
                    ],
                    dir.path(),
                )?;
                first_raft = raft.clone();
            } else {
                run(
                    "ovsdb-tool",
                    &["join-cluster", &dbs, DATABASE, &raft, &first_raft],
                    dir.path(),
                )?;
            }
            let name = format!("s{i}");
            let sock = dir.path().join(format!("{name}.sock"));
            let ctl = dir.path().join(format!("{name}.ctl"));
            let process = Process::start(&db, &sock, &ctl, &name, dir.path(), &[])?;
            members.push(Member {
                process,
                db,
                sock,
                ctl,
                name,
                raft,
            });
        }
        let cluster = Cluster { members, dir };
        cluster.wait_ready(Duration::from_secs(20))?;
        Ok(cluster)
    }

    /// Waits until every running member is a cluster member and one of
    /// them leads.
    pub fn wait_ready(&self, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let joined = self.members.iter().filter(|m| m.running()).all(|m| {
                m.status()
                    .is_ok_and(|s| s.lines().any(|l| l.trim() == "Status: cluster member"))
            });
            if joined && self.leader().is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let status: Vec<String> = self
                    .members
                    .iter()
                    .map(|m| format!("{}: {:?}", m.name, m.status().map_err(|e| e.to_string())))
                    .collect();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("cluster not ready: {}", status.join("; ")),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The members.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Every member's `unix:` socket, comma-separated, for `--db`.
    pub fn remote_spec(&self) -> String {
        self.members
            .iter()
            .map(Member::remote_spec)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every member's socket as a [`Remote`].
    pub fn remotes(&self) -> Vec<Remote> {
        self.members
            .iter()
            .map(|m| Remote::Unix(m.sock.clone()))
            .collect()
    }

    /// The index of the member that reports itself leader.
    pub fn leader(&self) -> Option<usize> {
        self.members.iter().position(Member::is_leader)
    }

    /// Kills member `i` (SIGKILL): a crash, the others elect a new leader
    /// after their election timeout.
    pub fn kill(&mut self, i: usize) {
        self.members[i].process.kill();
    }

    /// Stops member `i` with SIGTERM, as `kill PID` does, and waits for it
    /// to exit.
    pub fn terminate(&mut self, i: usize) -> io::Result<()> {
        let p = &mut self.members[i].process;
        p.signal(Signal::SIGTERM)?;
        if let Some(mut c) = p.child.take() {
            c.wait()?;
        }
        Ok(())
    }

    /// Stops member `i` gracefully, as `ovs-appctl -t CTL exit` does, and
    /// waits for it to exit: a leader hands leadership to a follower first
    /// (raft_close), so a new leader is there within milliseconds whatever
    /// the election timer. (SIGTERM does not do this in OVS 3.1: the
    /// others wait for their election timeout, as after a crash.)
    pub fn exit(&mut self, i: usize) -> io::Result<()> {
        let m = &mut self.members[i];
        unixctl::call(&m.ctl, "exit", &[], Duration::from_secs(5))
            .map_err(|e| io::Error::other(e.to_string()))?;
        if let Some(mut c) = m.process.child.take() {
            c.wait()?;
        }
        Ok(())
    }

    /// Freezes member `i` (SIGSTOP): its connections stay open but it
    /// answers nothing, like a hung process or an unreachable host.
    pub fn pause(&self, i: usize) -> io::Result<()> {
        self.members[i].process.signal(Signal::SIGSTOP)
    }

    /// Lets a paused member run again (SIGCONT).
    pub fn resume(&self, i: usize) -> io::Result<()> {
        self.members[i].process.signal(Signal::SIGCONT)
    }

    /// Starts killed member `i` again.
    pub fn restart(&mut self, i: usize) -> io::Result<()> {
        let m = &mut self.members[i];
        m.process.kill();
        m.process = Process::start(&m.db, &m.sock, &m.ctl, &m.name, self.dir.path(), &[])?;
        Ok(())
    }

    /// `ovs-vsctl` against the whole cluster.
    pub fn vsctl(&self, args: &[&str]) -> io::Result<String> {
        vsctl(&self.remote_spec(), args, self.dir.path())
    }
}
