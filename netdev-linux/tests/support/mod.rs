//! Test support for privileged tests against the real kernel: a network
//! namespace per test, removed when its guard drops (even when the test
//! panics), with helpers to run `ip`/`bridge` inside it and to read the
//! reference list of links from `ip -j link`.
//!
//! Programs run with argument vectors (never a shell); a failing command
//! panics with its stderr. Not being root is a failure, not a skip: a check
//! that silently did not run must never look like a pass.
//!
//! Included by the kernel tests with `mod support;`, and by the benchmark
//! examples and `netdev`'s CLI tests with `#[path]`, so it depends on
//! nothing but dev-dependencies.
//!
//! A run that is interrupted (Ctrl-C, SIGKILL, a crash) never reaches the
//! guards' `Drop` and leaves its namespaces behind, with every device in
//! them. So the first namespace a process creates starts with a sweep
//! ([`sweep_stale_namespaces`]) that removes the test namespaces whose
//! owning process is gone.

// Each includer uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::hash_map::RandomState;
use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::sched::{setns, CloneFlags};

/// Prefix of every namespace these helpers create, so a leftover one (from
/// a process killed with SIGKILL) is recognisable: `ip netns | grep ndtest-`.
pub const PREFIX: &str = "ndtest-";

/// Prefixes of every namespace the project's tests create, each followed by
/// the creating process's PID and a `-`: [`PREFIX`] here, `ndcli-` in
/// `netdev/tests/cli.rs`. The sweep removes those whose process is gone.
pub const SWEPT_PREFIXES: &[&str] = &[PREFIX, "ndcli-"];

/// Where `ip netns` keeps the namespaces it names.
const NETNS_DIR: &str = "/run/netns";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Panics unless the process runs with effective uid 0: these tests create
/// namespaces and devices, and must fail loudly rather than skip.
pub fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("reading /proc/self/status to check for root");
    // "Uid:\treal\teffective\tsaved\tfs"
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .expect("no Uid line in /proc/self/status");
    assert!(
        euid == "0",
        "these tests need root (effective uid is {euid}): they create network \
         namespaces and devices. Run them as root (for example with sudo); \
         they are never skipped."
    );
}

/// A name no other test, thread or process uses at the same time:
/// prefix, pid, a per-process counter and some randomness.
fn unique_name() -> String {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write_u128(nanos);
    let random = h.finish() as u32;
    format!(
        "{PREFIX}{}-{}-{random:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until `cond` holds (the notifier applies events asynchronously);
/// fails the test after 10 s.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Runs `program args...`, panicking with its stderr unless it exits 0;
/// returns stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out: Output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8(out.stdout)
        .unwrap_or_else(|e| panic!("{program} {args:?} printed non-UTF-8: {e}"))
}

/// A network namespace that lives as long as this guard.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates a fresh namespace with a unique name (`ndtest-PID-N-RANDOM`)
    /// and brings its loopback device up. Panics when not root.
    pub fn new() -> NetNs {
        require_root();
        sweep_stale_namespaces_once();
        let name = unique_name();
        run("ip", &["netns", "add", &name]);
        // From here on Drop removes it, even if the next step panics.
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// The namespace's name (as `ip netns` lists it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file that names the namespace, for `setns`.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `ip -n NAME args...` and returns its stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut v = vec!["-n", &self.name];
        v.extend_from_slice(args);
        run("ip", &v)
    }

    /// Sets `dev` up and waits until its veth peer `peer` (in this
    /// namespace) reports its link up: the kernel's link watcher brings
    /// the peer's carrier and transmit queue up after `ip` returns, and a
    /// frame the peer sends before that is dropped.
    pub fn set_up_and_wait(&self, dev: &str, peer: &str) {
        self.ip(&["link", "set", "dev", dev, "up"]);
        eventually(&format!("{peer} up after {dev}"), || {
            self.ip(&["-j", "link", "show", "dev", peer])
                .contains("\"operstate\":\"UP\"")
        });
    }

    /// Creates a veth pair: `name` in this namespace, `peer_name` in
    /// `peer`'s.
    pub fn veth_to(&self, name: &str, peer: &NetNs, peer_name: &str) {
        self.ip(&[
            "link", "add", name, "type", "veth", "peer", "name", peer_name, "netns", &peer.name,
        ]);
    }

    /// Runs `program args...` inside the namespace (`ip netns exec`) and
    /// returns its stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut v = vec!["netns", "exec", &self.name, program];
        v.extend_from_slice(args);
        run("ip", &v)
    }

    /// Runs `bridge -n NAME args...` and returns its stdout.
    pub fn bridge(&self, args: &[&str]) -> String {
        let mut v = vec!["-n", &self.name];
        v.extend_from_slice(args);
        run("bridge", &v)
    }

    /// Runs many `ip` commands (one per line, without the leading `ip`, for
    /// example `link add ifb7 type ifb`) in one `ip -n NAME -batch FILE`:
    /// thousands of devices in about a second. The file is a temporary one,
    /// removed afterwards.
    pub fn ip_batch<I, S>(&self, commands: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut text = String::new();
        for c in commands {
            let c = c.as_ref();
            assert!(!c.contains('\n'), "a batch command must be one line: {c:?}");
            text.push_str(c);
            text.push('\n');
        }
        let path = std::env::temp_dir().join(format!(
            "{}-batch-{}.txt",
            self.name,
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text)
            .unwrap_or_else(|e| panic!("writing batch file {}: {e}", path.display()));
        let out = Command::new("ip")
            .args(["-n", &self.name, "-batch"])
            .arg(&path)
            .output();
        // Removed before anything can panic.
        let _ = std::fs::remove_file(&path);
        let out = out.unwrap_or_else(|e| panic!("cannot run ip -batch: {e}"));
        assert!(
            out.status.success(),
            "ip -n {} -batch failed ({}): {}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }

    /// Creates `count` `ifb` devices named `{prefix}0`, `{prefix}1`, ...
    /// (`dummy` is not available on every kernel; `ifb` is a similar
    /// device with no peer and no traffic of its own).
    pub fn add_ifbs(&self, prefix: &str, count: usize) {
        self.ip_batch((0..count).map(|i| format!("link add {prefix}{i} type ifb")));
    }

    /// Deletes the devices `{prefix}0` .. `{prefix}{count-1}`.
    pub fn del_links(&self, prefix: &str, count: usize) {
        self.ip_batch((0..count).map(|i| format!("link del {prefix}{i}")));
    }

    /// The reference list of links: `(ifindex, name)` for every device as
    /// `ip -n NAME -j link` reports it.
    pub fn links(&self) -> Vec<(u32, String)> {
        parse_ip_links(&self.ip(&["-j", "link"]))
    }

    /// Moves the calling thread into the namespace until the returned
    /// guard drops (which moves it back). Sockets created meanwhile belong
    /// to the namespace, and keep it after the thread leaves.
    pub fn enter(&self) -> Entered<'_> {
        let original = File::open("/proc/thread-self/ns/net")
            .expect("opening this thread's network namespace");
        let target = File::open(self.path())
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.path().display()));
        setns(&target, CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns into {}: {e}", self.name));
        Entered {
            _ns: self,
            original,
        }
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Not `run`: panicking while a test already panics would abort.
        match Command::new("ip")
            .args(["netns", "delete", &self.name])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "warning: ip netns delete {} failed: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("warning: cannot run ip netns delete {}: {e}", self.name),
        }
    }
}

/// The calling thread is inside a [`NetNs`]; dropping this moves it back to
/// the namespace it came from.
#[derive(Debug)]
pub struct Entered<'a> {
    _ns: &'a NetNs,
    original: File,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if let Err(e) = setns(&self.original, CloneFlags::CLONE_NEWNET) {
            eprintln!("warning: returning to the original network namespace: {e}");
        }
    }
}

/// Runs [`sweep_stale_namespaces`] once per process (the first
/// [`NetNs::new`] calls it), reporting what it removed on stderr.
pub fn sweep_stale_namespaces_once() {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| {
        let removed = sweep_stale_namespaces();
        if !removed.is_empty() {
            eprintln!(
                "removed {} namespace(s) left by interrupted test runs: {}",
                removed.len(),
                removed.join(" ")
            );
        }
    });
}

/// Removes the test namespaces (names starting with one of
/// [`SWEPT_PREFIXES`], then a PID) whose creating process no longer runs
/// ([`owner_alive`]), with `ip netns delete`, which also destroys the
/// devices inside. Returns the names it removed. Namespaces of live
/// processes (this one, another test run going on at the same time) and
/// names of any other form are left alone. Failures are warnings: a sweep
/// running concurrently in another process may remove one first.
pub fn sweep_stale_namespaces() -> Vec<String> {
    let entries = match std::fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        // No namespace was ever named on this machine.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            eprintln!("warning: cannot list {NETNS_DIR}: {e}");
            return Vec::new();
        }
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let Some(pid) = owner_pid(&name) else {
            continue;
        };
        // The namespace's own inode (the bind mount's target, nsfs) was
        // made when the namespace was named, so its mtime is when the
        // owner created it.
        let Ok(created) = entry.path().metadata().and_then(|m| m.modified()) else {
            continue; // removed meanwhile
        };
        if owner_alive(pid, created) {
            continue;
        }
        match Command::new("ip").args(["netns", "delete", &name]).output() {
            Ok(out) if out.status.success() => removed.push(name),
            Ok(_) if !entry.path().exists() => {} // another sweep was first
            Ok(out) => eprintln!(
                "warning: ip netns delete {name} (stale, pid {pid} is gone) failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("warning: cannot run ip netns delete {name}: {e}"),
        }
    }
    removed
}

/// The PID in a test namespace's name (`ndtest-PID-...`, `ndcli-PID-...`),
/// or `None` for a name of another form.
pub fn owner_pid(name: &str) -> Option<u32> {
    let rest = SWEPT_PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
    let (pid, _) = rest.split_once('-')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&pid| pid > 0)
}

/// How much later than the namespace its owner's start may appear and
/// still be the owner: the boot time in `/proc/stat` is whole seconds.
const START_SLACK: Duration = Duration::from_secs(2);

/// `USER_HZ`, the unit of `/proc/PID/stat`'s start time: 100 on every
/// architecture this project builds for (it is part of the kernel ABI,
/// independent of the kernel's `HZ`).
const USER_HZ: u64 = 100;

/// Whether the process that created a namespace at `created` may still
/// run: a process with that PID exists and started before the namespace
/// was made (within [`START_SLACK`]). A PID reused by a later process
/// therefore does not keep a dead run's namespace alive, and a process
/// whose start cannot be read counts as alive (never delete what might be
/// in use).
///
/// PIDs are those of the PID namespace this runs in, which is the test
/// processes' one unless `/run/netns` is shared with a container that has
/// its own: do not share it that way with test runs.
pub fn owner_alive(pid: u32, created: SystemTime) -> bool {
    let stat = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return false,
        Err(_) => return true,
    };
    match process_start(&stat) {
        Some(started) => started <= created + START_SLACK,
        None => true,
    }
}

/// When the process whose `/proc/PID/stat` is `stat` started (wall clock):
/// boot time plus field 22, `starttime`, in `USER_HZ` ticks since boot.
fn process_start(stat: &str) -> Option<SystemTime> {
    // Field 2, the command, is in parentheses and may hold spaces and
    // parentheses itself: count fields after the last ')'. That is field
    // 3, so `starttime` (22) is the 20th from there.
    let after = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = after.split_whitespace().nth(19)?.parse().ok()?;
    let btime: u64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let since_boot = Duration::from_secs(ticks / USER_HZ)
        + Duration::from_millis((ticks % USER_HZ) * 1000 / USER_HZ);
    Some(UNIX_EPOCH + Duration::from_secs(btime) + since_boot)
}

/// Whether `ip netns` has a namespace named `name`.
pub fn netns_exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

/// Parses the JSON of `ip -j link` into `(ifindex, name)` pairs, in the
/// order `ip` printed them.
pub fn parse_ip_links(json: &str) -> Vec<(u32, String)> {
    let v: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("ip -j link printed bad JSON: {e}"));
    let arr = v.as_array().expect("ip -j link prints a JSON array");
    arr.iter()
        .map(|link| {
            let ifindex = link["ifindex"]
                .as_u64()
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or_else(|| panic!("link without a valid ifindex: {link}"));
            let name = link["ifname"]
                .as_str()
                .unwrap_or_else(|| panic!("link without ifname: {link}"))
                .to_owned();
            (ifindex, name)
        })
        .collect()
}
