//! The Open vSwitch backend: brcompat's configuration in a real Open
//! vSwitch's database, its forwarding databases from `ovs-vswitchd`
//! (`brcompatd --backend ovs --db unix:PATH`).
//!
//! Layer 5 (front end), on top of the `ovs_client` crate:
//! - [`mapping`] is the pure part: OVSDB rows as a brcompat [`Config`], and
//!   the transaction that turns one configuration into another;
//! - [`OvsBackend`] is a [`ConfigBackend`] on one persistent OVSDB
//!   connection ([`ovs_client::Client`]): the configuration is read from
//!   the client's replica of the `Open_vSwitch`, `Bridge`, `Port` and
//!   `Interface` tables, so changes others make with `ovs-vsctl` are seen
//!   at once; a change is computed by the model on it, written in one
//!   transaction guarded against concurrent changes, and acknowledged once
//!   `ovs-vswitchd` has applied it (`cur_cfg` reached the transaction's
//!   `next_cfg`), as `ovs-vsctl` without `--no-wait` does;
//! - [`OvsFdb`] is an [`FdbSource`] asking `ovs-vswitchd` for `fdb/show`
//!   over its control socket ([`fdb_show`] parses the answer).
//!
//! # When things go wrong
//!
//! | what | what the backend does |
//! | --- | --- |
//! | someone else changed a row the change depends on | the transaction fails on its `wait` guard (or on a name index); the change is computed again on the newer rows (up to [`MAX_ATTEMPTS`] times) |
//! | the connection is lost before the reply | the outcome is unknown: once the client has reconnected and read the tables again, the rows decide ([`mapping::shows_change`]): the change is there (done, not applied twice) or not (computed again and sent) |
//! | the server is not the cluster's leader (or lost it) | the client reconnects to the leader; the change is sent again |
//! | `ovs-vswitchd` does not apply the change within the timeout (the whole request's: [`OvsOptions::timeout`]) | an `ETIMEDOUT` error naming `ovs-vswitchd`; the change stays in the database (`ovs-vswitchd` applies it when it runs) |
//! | no server answers within the timeout | an `ETIMEDOUT` error naming the remotes |

pub mod fdb_show;
pub mod mapping;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netdev_core::ratelimit::RateLimit;
use netdev_core::Escaped;
use ovs_client::{unixctl, Client, ClientOptions, Remote, Replica};
use parking_lot::Mutex;

use crate::model::{validate_name, Applied, Change, Config};
use crate::paging::FdbPages;
use crate::store::{ConfigBackend, FdbEntry, FdbSource, StoreError};
use mapping::{DbState, PlanOptions};

/// How many times a change is computed again after concurrent changes
/// made its transaction fail.
pub const MAX_ATTEMPTS: usize = 8;

/// The default run directory of Open vSwitch's daemons (their pid files and
/// control sockets).
pub const DEFAULT_RUNDIR: &str = "/var/run/openvswitch";

/// The default `ovs-appctl`, the fallback when the control socket cannot
/// be used.
pub const DEFAULT_APPCTL: &str = "ovs-appctl";

/// How long the database, and `ovs-vswitchd` applying a change, may take
/// by default: less than a brcompat client's own timeout
/// ([`crate::client::DEFAULT_TIMEOUT`]), so a client gets the daemon's
/// answer rather than its own timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(4);

/// The least time a committed change gives `ovs-vswitchd` to apply it,
/// however long the commit took.
pub const MIN_APPLY_WAIT: Duration = Duration::from_millis(500);

/// How the backend reaches Open vSwitch.
#[derive(Debug, Clone)]
pub struct OvsOptions {
    /// The database server(s): one, or the members of a clustered database
    /// (the client writes to the leader only).
    pub remotes: Vec<Remote>,
    /// The `datapath_type` of the bridges it creates (`netdev`: the
    /// userspace datapath); `None`: Open vSwitch's default (`system`).
    pub datapath_type: Option<String>,
    /// How long a request, a connection, or `ovs-vswitchd` applying a
    /// change may take.
    pub timeout: Duration,
}

impl OvsOptions {
    /// The options for `remotes`, with the defaults: OVS's default
    /// datapath type, a [`DEFAULT_TIMEOUT`].
    pub fn new(remotes: Vec<Remote>) -> OvsOptions {
        OvsOptions {
            remotes,
            datapath_type: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// The configuration in Open vSwitch's database (see the module
/// documentation).
pub struct OvsBackend {
    client: Arc<Client>,
    plan: PlanOptions,
    timeout: Duration,
    remotes: String,
    /// Held while a change is computed, sent and waited for: the daemon's
    /// changes reach the database one at a time, in order.
    order: Mutex<()>,
    /// The state of the last replica read, and that replica (to know when
    /// it changed).
    cache: Mutex<Option<(Arc<Replica>, Arc<DbState>)>>,
    /// The rows the model refused, as last logged.
    logged_problems: Mutex<Vec<String>>,
}

impl fmt::Debug for OvsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OvsBackend")
            .field("remotes", &self.remotes)
            .field("plan", &self.plan)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The error of a request to the database.
fn db_error(what: &str, e: &ovs_client::Error) -> StoreError {
    let errno = match e {
        ovs_client::Error::Timeout { .. } => libc::ETIMEDOUT,
        ovs_client::Error::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        ovs_client::Error::Disconnected { .. }
        | ovs_client::Error::TryAgain { .. }
        | ovs_client::Error::Closed => libc::ECONNRESET,
        _ => libc::EIO,
    };
    StoreError::Backend {
        message: format!("{what}: {e}"),
        errno,
    }
}

/// What a transaction says it does, in the database's log (`ovs-vsctl`
/// style: the command line).
fn describe(change: &Change) -> String {
    let text = match change {
        Change::AddBridge { name } => format!("addbr {name}"),
        Change::DeleteBridge { name } => format!("delbr {name}"),
        Change::AddFakeBridge { name, parent, tag } => {
            format!("add fake bridge {name} {parent} {tag}")
        }
        Change::AddInterface { bridge, interface } => format!("addif {bridge} {interface}"),
        Change::AddPort {
            bridge,
            port,
            interfaces,
            tag,
        } => {
            let mut s = format!("add port {bridge} {port} {}", interfaces.join(","));
            if let Some(t) = tag {
                s.push_str(&format!(" tag={t}"));
            }
            s
        }
        Change::DeleteInterface { bridge, interface } => format!("delif {bridge} {interface}"),
        Change::Prune { interfaces } => format!("prune {}", interfaces.join(" ")),
    };
    format!("brcompatd: {text}")
}

/// Whether a failed transaction is worth computing again on newer rows:
/// a guard saw a concurrent change, or an index a concurrent insert.
fn is_conflict(error: &str) -> bool {
    matches!(
        error,
        "timed out" | "constraint violation" | "referential integrity violation"
    )
}

impl OvsBackend {
    /// Connects to the database (returns once the tables are read, or an
    /// error after `options.timeout`).
    pub fn connect(options: &OvsOptions) -> Result<OvsBackend, StoreError> {
        let remotes = options
            .remotes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let client_options = ClientOptions {
            database: "Open_vSwitch".into(),
            tables: mapping::MONITORED
                .iter()
                .map(|(t, cols)| {
                    (
                        (*t).to_owned(),
                        cols.iter().map(|c| (*c).to_owned()).collect(),
                    )
                })
                .collect(),
            leader_only: options.remotes.len() > 1,
            timeout: options.timeout,
            // A request waits at most `timeout` for a connection: try
            // again often enough that a server back within it is found.
            backoff_max: Duration::from_secs(1).min(options.timeout),
            ..ClientOptions::default()
        };
        let client = Client::connect(options.remotes.clone(), client_options)
            .map_err(|e| db_error(&format!("connecting to {remotes}"), &e))?;
        let backend = OvsBackend {
            client: Arc::new(client),
            plan: PlanOptions {
                datapath_type: options.datapath_type.clone(),
            },
            timeout: options.timeout,
            remotes,
            order: Mutex::new(()),
            cache: Mutex::new(None),
            logged_problems: Mutex::new(Vec::new()),
        };
        backend.state()?;
        Ok(backend)
    }

    /// The OVSDB client, for callers that want more of the database.
    pub fn client(&self) -> &Arc<Client> {
        &self.client
    }

    /// The state of the client's current replica.
    fn state(&self) -> Result<Arc<DbState>, StoreError> {
        self.state_of(self.client.replica())
    }

    /// The state of `replica`, computed once per replica.
    fn state_of(&self, replica: Arc<Replica>) -> Result<Arc<DbState>, StoreError> {
        let mut cache = self.cache.lock();
        if let Some((r, state)) = cache.as_ref() {
            if Arc::ptr_eq(r, &replica) {
                return Ok(state.clone());
            }
        }
        let state = DbState::from_replica(&replica).map_err(|e| StoreError::Backend {
            message: format!("{}: {e}", self.remotes),
            errno: libc::EIO,
        })?;
        self.log_problems(&state.problems);
        let state = Arc::new(state);
        *cache = Some((replica, state.clone()));
        Ok(state)
    }

    /// Logs the rows the model refused, when they change (not on every
    /// read).
    fn log_problems(&self, problems: &[String]) {
        let mut logged = self.logged_problems.lock();
        if logged.as_slice() != problems {
            for p in problems {
                log::warn!("Open vSwitch database: {p}");
            }
            *logged = problems.to_vec();
        }
    }

    /// Waits until `ovs-vswitchd` reports configuration `next_cfg`
    /// applied: until `deadline`, the request's, but at least
    /// [`MIN_APPLY_WAIT`] (a request that took its time to be committed
    /// still gives `ovs-vswitchd` a chance).
    fn wait_applied(&self, next_cfg: i64, deadline: Instant, what: &str) -> Result<(), StoreError> {
        let cur_cfg = |r: &Replica| {
            r.table("Open_vSwitch")
                .next()
                .and_then(|(_, row)| row.integer("cur_cfg"))
                .unwrap_or(0)
        };
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(MIN_APPLY_WAIT);
        match self.client.wait_until(wait, |r| cur_cfg(r) >= next_cfg) {
            Ok(_) => Ok(()),
            Err(ovs_client::Error::Timeout { .. }) => Err(StoreError::Backend {
                message: format!(
                    "{what}: stored in the database, but ovs-vswitchd did not apply it \
                     within {wait:.1?} (it reports configuration {}, this is {next_cfg}): \
                     is ovs-vswitchd running?",
                    cur_cfg(&self.client.replica()),
                ),
                errno: libc::ETIMEDOUT,
            }),
            Err(e) => Err(db_error(what, &e)),
        }
    }

    /// After a lost connection: waits (until `deadline`) for the client to
    /// be connected again with tables read after `before`.
    fn reconnected(
        &self,
        before: &Arc<Replica>,
        deadline: Instant,
        what: &str,
    ) -> Result<Arc<Replica>, StoreError> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.client
            .wait_until(left, |r| {
                self.client.is_connected() && !std::ptr::eq(r, Arc::as_ptr(before))
            })
            .map_err(|e| db_error(&format!("{what}: reconnecting to {}", self.remotes), &e))
    }

    fn apply_change(&self, change: &Change) -> Result<Applied, StoreError> {
        let comment = describe(change);
        let what = comment.trim_start_matches("brcompatd: ");
        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut conflicts = 0;
        // Whether anything went wrong on the way (then the timings are
        // worth an info line).
        let mut eventful = false;
        loop {
            let replica = self.client.replica();
            let state = self.state_of(replica.clone())?;
            let mut new = state.config.clone();
            let applied = new.apply(change)?;
            if let Some(e) = mapping::foreign_clash(&state, &new) {
                return Err(e.into());
            }
            let ops = mapping::plan(&state, &new, &self.plan);
            if !applied.changed || ops.is_empty() {
                return Ok(applied);
            }
            let txn = mapping::finish(&state, ops, &comment);
            let next_cfg = match self.client.transact(txn, None) {
                Ok(results) => {
                    mapping::next_cfg_of(&results).ok_or_else(|| StoreError::Backend {
                        message: format!("{what}: the database's reply has no next_cfg"),
                        errno: libc::EIO,
                    })?
                }
                Err(ovs_client::Error::Transaction { error, details, .. })
                    if is_conflict(&error) && conflicts < MAX_ATTEMPTS =>
                {
                    conflicts += 1;
                    eventful = true;
                    log::debug!("{what}: {error} ({details}): computing it again on newer rows");
                    // The update that made it fail is on its way (or here):
                    // wait for it rather than failing the same way again.
                    let _ = self.client.wait_until(Duration::from_millis(200), |r| {
                        !std::ptr::eq(r, Arc::as_ptr(&replica))
                    });
                    continue;
                }
                Err(e @ ovs_client::Error::TryAgain { .. }) if Instant::now() < deadline => {
                    eventful = true;
                    log::info!("{what}: {e}: sending it again");
                    self.reconnected(&replica, deadline, what)?;
                    continue;
                }
                Err(e @ ovs_client::Error::Disconnected { .. }) => {
                    eventful = true;
                    log::info!("{what}: {e}: deciding from the tables once reconnected");
                    let fresh = self.reconnected(&replica, deadline, what)?;
                    let now = self.state_of(fresh)?;
                    if !mapping::shows_change(&state.config, &new, &now.config) {
                        log::info!("{what}: it was not applied: sending it again");
                        continue;
                    }
                    log::info!("{what}: it was applied");
                    now.next_cfg
                }
                Err(e) => return Err(db_error(what, &e)),
            };
            let committed = start.elapsed();
            self.wait_applied(next_cfg, deadline, what)?;
            let timings = format!(
                "{what}: committed after {committed:?}, applied by ovs-vswitchd after {:?}",
                start.elapsed()
            );
            if eventful || start.elapsed() > Duration::from_secs(1) {
                log::info!("{timings}");
            } else {
                log::debug!("{timings}");
            }
            return Ok(applied);
        }
    }
}

impl ConfigBackend for OvsBackend {
    fn load(&self) -> Result<Config, StoreError> {
        Ok(self.state()?.config.clone())
    }

    fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        let _order = self.order.lock();
        self.apply_change(change)
    }

    /// The configuration of the client's replica; if the database holds
    /// something that is no configuration (two `Open_vSwitch` rows), the
    /// last good one (the error is logged).
    fn snapshot(&self) -> Config {
        match self.state() {
            Ok(state) => state.config.clone(),
            Err(e) => {
                log::warn!("{e}");
                self.cache
                    .lock()
                    .as_ref()
                    .map(|(_, s)| s.config.clone())
                    .unwrap_or_default()
            }
        }
    }
}

/// Where [`OvsFdb`] finds `ovs-vswitchd`.
#[derive(Debug, Clone)]
pub struct FdbOptions {
    /// The run directory holding `ovs-vswitchd.pid` and its control socket
    /// `ovs-vswitchd.PID.ctl`.
    pub rundir: PathBuf,
    /// `ovs-appctl`, run (with an argument vector, `OVS_RUNDIR` set to
    /// `rundir`) only when the control socket cannot be used.
    pub appctl: PathBuf,
    /// How long `ovs-vswitchd` may take to answer.
    pub timeout: Duration,
}

impl Default for FdbOptions {
    fn default() -> FdbOptions {
        FdbOptions {
            rundir: PathBuf::from(DEFAULT_RUNDIR),
            appctl: PathBuf::from(DEFAULT_APPCTL),
            timeout: Duration::from_secs(5),
        }
    }
}

/// The forwarding databases of `ovs-vswitchd`'s bridges (`fdb/show`).
#[derive(Debug)]
pub struct OvsFdb {
    options: FdbOptions,
    pages: FdbPages,
    malformed: Mutex<RateLimit>,
}

impl OvsFdb {
    /// Reads from the `ovs-vswitchd` of `options`.
    pub fn new(options: FdbOptions) -> OvsFdb {
        OvsFdb {
            options,
            pages: FdbPages::default(),
            malformed: Mutex::new(RateLimit::new(5, Duration::from_secs(60))),
        }
    }

    /// The text of `fdb/show BRIDGE`: from the control socket, or from
    /// `ovs-appctl` when the socket cannot be reached. `Ok(None)` when
    /// `ovs-vswitchd` has no such bridge (configured, not running yet).
    pub fn fdb_show(&self, bridge: &str) -> io::Result<Option<String>> {
        validate_name(bridge).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let rundir = &self.options.rundir;
        let socket = unixctl::control_socket(rundir, "ovs-vswitchd");
        let answer = match &socket {
            Ok(path) => unixctl::call(path, "fdb/show", &[bridge], self.options.timeout),
            Err(e) => Err(ovs_client::Error::InvalidRemote(e.to_string())),
        };
        match answer {
            Ok(text) => Ok(Some(text)),
            Err(ovs_client::Error::Remote { text, .. }) => no_such_bridge(bridge, &text),
            Err(e @ ovs_client::Error::Timeout { .. }) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("ovs-vswitchd did not answer fdb/show: {e}"),
            )),
            Err(e) => {
                log::debug!(
                    "control socket of ovs-vswitchd in {}: {e}; running {}",
                    rundir.display(),
                    self.options.appctl.display()
                );
                self.appctl(bridge)
            }
        }
    }

    /// `ovs-appctl --timeout=SECS -t ovs-vswitchd fdb/show BRIDGE`.
    fn appctl(&self, bridge: &str) -> io::Result<Option<String>> {
        let secs = self.options.timeout.as_secs().max(1).to_string();
        let output = Command::new(&self.options.appctl)
            .arg(format!("--timeout={secs}"))
            .args(["-t", "ovs-vswitchd", "fdb/show", bridge])
            .env("OVS_RUNDIR", &self.options.rundir)
            .output()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("running {}: {e}", self.options.appctl.display()),
                )
            })?;
        if output.status.success() {
            return String::from_utf8(output.stdout).map(Some).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "fdb/show printed bytes that are not UTF-8",
                )
            });
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("").trim().to_owned();
        if first == "no such bridge" {
            return Ok(None);
        }
        Err(io::Error::other(format!(
            "{} fdb/show {}: {} ({})",
            self.options.appctl.display(),
            Escaped(bridge),
            Escaped(&first),
            output.status
        )))
    }

    /// The entries of `bridge` on `vlan`, one `fdb/show`, malformed rows
    /// logged (rate-limited).
    fn read(&self, bridge: &str, vlan: u16) -> io::Result<Vec<FdbEntry>> {
        let Some(text) = self.fdb_show(bridge)? else {
            return Ok(Vec::new());
        };
        let show = fdb_show::parse_fdb_show(&text);
        if !show.malformed.is_empty() {
            let mut limit = self.malformed.lock();
            for m in &show.malformed {
                if let Some(n) = limit.allow() {
                    log::warn!("{}: {m}, skipped{}", Escaped(bridge), RateLimit::suffix(n));
                }
            }
        }
        Ok(show
            .entries
            .into_iter()
            .filter(|e| e.vlan == vlan)
            .collect())
    }

    /// The run directory it reads.
    pub fn rundir(&self) -> &Path {
        &self.options.rundir
    }
}

/// A daemon's error text: "no such bridge" is a bridge it does not run.
fn no_such_bridge(bridge: &str, text: &str) -> io::Result<Option<String>> {
    if text.trim() == "no such bridge" {
        Ok(None)
    } else {
        Err(io::Error::other(format!(
            "ovs-vswitchd fdb/show {}: {}",
            Escaped(bridge),
            Escaped(text.trim())
        )))
    }
}

impl FdbSource for OvsFdb {
    /// The entries in `fdb/show`'s order (least recently used first), a
    /// bridge `ovs-vswitchd` does not run having none.
    fn entries(
        &self,
        bridge: &str,
        vlan: u16,
        skip: usize,
        max: usize,
    ) -> io::Result<Vec<FdbEntry>> {
        self.pages
            .entries(bridge, vlan, skip, max, || self.read(bridge, vlan))
    }
}

#[cfg(test)]
mod tests;
