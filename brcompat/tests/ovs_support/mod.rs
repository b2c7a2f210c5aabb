//! A private Open vSwitch for the tests and the benchmark: `ovs-vswitchd`
//! with the userspace datapath inside a test namespace, on a private
//! `ovsdb-server` (`ovs_client::testing`), with its own run directory, and
//! `brcompatd --backend ovs` beside it. Every process is a child killed by
//! PID on drop, even when the test fails.

// Each includer uses a different subset.
#![allow(dead_code)]

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ovs_client::testing::TempDir;

/// How long a daemon may take to start.
const START: Duration = Duration::from_secs(20);

/// A child process killed (SIGKILL) and reaped on drop.
#[derive(Debug)]
pub struct Killed(pub Option<Child>);

impl Killed {
    /// Its PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.0.as_ref().map(Child::id)
    }

    /// Kills it now.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether it has exited (and then its status).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.0.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for `path` to exist (a socket or pid file), failing with `log`'s
/// text if `child` exits or `START` passes.
fn wait_for(path: &Path, child: &mut Killed, what: &str, log: &Path) -> io::Result<()> {
    let deadline = Instant::now() + START;
    while !path.exists() {
        let fail = |why: String| {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            Err(io::Error::other(format!("{what}: {why}: {}", log.trim())))
        };
        if let Some(status) = child.exited() {
            return fail(format!("exited ({status})"));
        }
        if Instant::now() > deadline {
            return fail(format!("{} did not appear", path.display()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// `ovs-vswitchd` in a namespace: the userspace datapath only
/// (`--disable-system`), its pid file and control socket in a run
/// directory of its own (`OVS_RUNDIR`), as brcompatd's `--ovs-rundir`
/// expects them.
#[derive(Debug)]
pub struct Vswitchd {
    process: Killed,
    db: String,
    netns: String,
    rundir: TempDir,
}

impl Vswitchd {
    /// Starts it in namespace `netns` on database `db` (`unix:PATH`, or
    /// several comma-separated).
    pub fn start(netns: &str, db: &str) -> io::Result<Vswitchd> {
        let rundir = TempDir::new()?;
        let mut v = Vswitchd {
            process: Killed(None),
            db: db.to_owned(),
            netns: netns.to_owned(),
            rundir,
        };
        v.restart()?;
        Ok(v)
    }

    /// Its run directory (`--ovs-rundir`).
    pub fn rundir(&self) -> &Path {
        self.rundir.path()
    }

    /// Its control socket, `RUNDIR/ovs-vswitchd.PID.ctl`.
    pub fn control_socket(&self) -> PathBuf {
        let pid = self.process.pid().unwrap_or_default();
        self.rundir().join(format!("ovs-vswitchd.{pid}.ctl"))
    }

    /// Kills it.
    pub fn stop(&mut self) {
        self.process.kill();
        let _ = std::fs::remove_file(self.rundir().join("ovs-vswitchd.pid"));
    }

    /// Starts it (again).
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let dir = self.rundir.path().to_owned();
        let log = dir.join("ovs-vswitchd.log");
        // `ip netns exec` execs the daemon: the child's PID is its PID.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.netns, "ovs-vswitchd", &self.db])
            .args(["--disable-system", "--pidfile", "--no-chdir"])
            .arg(format!("--log-file={}", log.display()))
            .args(["-vconsole:off", "-vfile:info"])
            .env("OVS_RUNDIR", &dir)
            .env("OVS_LOGDIR", &dir)
            .env("OVS_DBDIR", &dir)
            .env("OVS_SYSCONFDIR", &dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.process = Killed(Some(child));
        let ctl = self.control_socket();
        wait_for(&ctl, &mut self.process, "ovs-vswitchd", &log)
    }
}

/// `brcompatd --backend ovs` in a namespace, its socket in a directory of
/// its own.
#[derive(Debug)]
pub struct OvsDaemon {
    process: Killed,
    dir: TempDir,
}

impl OvsDaemon {
    /// Starts `program` (brcompatd) in `netns` on database `db`, reading
    /// the FDB of the `ovs-vswitchd` whose run directory is `rundir`;
    /// bridges of the userspace datapath; `extra` arguments added.
    pub fn start(
        program: &Path,
        netns: &str,
        db: &str,
        rundir: &Path,
        extra: &[&str],
    ) -> io::Result<OvsDaemon> {
        let dir = TempDir::new()?;
        let log = dir.path().join("brcompatd.log");
        let child = Command::new("ip")
            .args(["netns", "exec", netns])
            .arg(program)
            .args(["--backend", "ovs", "--db", db])
            .arg("--ovs-rundir")
            .arg(rundir)
            .args(["--ovs-datapath-type", "netdev"])
            // Pruning on the kernel's events only, unless asked.
            .args(if extra.contains(&"--prune-timeout") {
                &[][..]
            } else {
                &["--prune-timeout", "0"][..]
            })
            // Info by default: the tests read what it says.
            .args(if extra.contains(&"--log-level") {
                &[][..]
            } else {
                &["--log-level", "info"][..]
            })
            .arg("--socket")
            .arg(dir.path().join("brcompat.sock"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let mut d = OvsDaemon {
            process: Killed(Some(child)),
            dir,
        };
        let sock = d.socket();
        wait_for(&sock, &mut d.process, "brcompatd", &log)?;
        Ok(d)
    }

    /// Its socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("brcompat.sock")
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("brcompatd.log")).unwrap_or_default()
    }
}

/// `ovs-vsctl --db=DB --timeout=10 ARGS...` (no `--no-wait` unless asked)
/// with OVS's default paths in `dir`; its stdout, or its stderr as the
/// error.
pub fn vsctl(db: &str, dir: &Path, args: &[&str]) -> io::Result<String> {
    ovs_client::testing::run(
        "ovs-vsctl",
        &[&[&*format!("--db={db}"), "--timeout=10"][..], args].concat(),
        dir,
    )
}

/// The names `ovs-vsctl` lists, one a line, sorted.
pub fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_owned).collect();
    v.sort();
    v
}
