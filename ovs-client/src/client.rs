//! The OVSDB client: one persistent connection run by a background thread.

use crate::datum::{short, Replica};
use crate::jsonrpc::{error_text, Connection, Message, Sender, Stream};
use crate::{ops, Error, Remote};
use parking_lot::{Condvar, Mutex, MutexGuard};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a [`Client`] connects and what it monitors.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The database, `"Open_vSwitch"`.
    pub database: String,
    /// Tables to monitor, each with the columns wanted (empty: all of them).
    /// No tables at all: every table of the schema.
    pub tables: Vec<(String, Vec<String>)>,
    /// With a clustered database, use only the Raft leader (found through
    /// the `_Server` database) and follow it when it changes. A standalone
    /// server always qualifies.
    pub leader_only: bool,
    /// How long a request (connect, transact) may take.
    pub timeout: Duration,
    /// First delay before reconnecting after a failed attempt.
    pub backoff_min: Duration,
    /// Longest delay between reconnection attempts.
    pub backoff_max: Duration,
    /// After this long without a message from the server, send an echo; a
    /// server silent for another interval is dropped and the client
    /// reconnects. Zero disables the probe.
    pub probe_interval: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            database: "Open_vSwitch".into(),
            tables: Vec::new(),
            leader_only: true,
            timeout: Duration::from_secs(5),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(4),
            probe_interval: Duration::from_secs(5),
        }
    }
}

impl ClientOptions {
    /// Adds a table to monitor with the given columns (empty: all).
    pub fn table(mut self, name: &str, columns: &[&str]) -> Self {
        self.tables
            .push((name.into(), columns.iter().map(|c| c.to_string()).collect()));
        self
    }
}

/// The monitor ids of the two monitors a connection may carry.
const DB_MONITOR: &str = "db";
const SERVER_MONITOR: &str = "_Server";

/// A reply routed to a waiting caller: the result, or the error value.
type Reply = Result<Value, Value>;

#[derive(Debug)]
struct Live {
    /// Counts connections: a new one has a larger epoch.
    epoch: u64,
    sender: Sender,
    control: Stream,
    remote: usize,
}

#[derive(Debug, Default)]
struct State {
    replica: Arc<Replica>,
    /// Bumped at every change of `replica`.
    generation: u64,
    /// Epoch of the last connection published.
    epoch: u64,
    /// Callers waiting for a connection.
    waiting: usize,
    live: Option<Live>,
    pending: HashMap<u64, crossbeam_channel::Sender<Reply>>,
    next_id: u64,
    closed: bool,
    /// Why the last attempt failed, for timeout messages.
    last_error: Option<String>,
    /// An error that retrying cannot fix, seen before the first connection
    /// (the database or a table does not exist): `connect` returns it.
    fatal: Option<Error>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    options: ClientOptions,
    remotes: Vec<Remote>,
}

impl Shared {
    fn remotes_text(&self) -> String {
        self.remotes
            .iter()
            .map(Remote::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    fn closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Waits until a connection is up: [`Error::Timeout`] naming `what` and
    /// the last failure at `deadline`; a fatal error or closing at once.
    fn wait_live(
        &self,
        st: &mut MutexGuard<'_, State>,
        deadline: Instant,
        timeout: Duration,
        min_epoch: u64,
        what: &str,
    ) -> Result<(), Error> {
        let ready = |st: &State| st.live.as_ref().is_some_and(|l| l.epoch >= min_epoch);
        if ready(st) {
            return Ok(());
        }
        // Tell the reconnecting thread someone waits (see run()).
        st.waiting += 1;
        self.changed.notify_all();
        let result = self.wait_live_counted(st, deadline, timeout, &ready, what);
        st.waiting -= 1;
        result
    }

    fn wait_live_counted(
        &self,
        st: &mut MutexGuard<'_, State>,
        deadline: Instant,
        timeout: Duration,
        ready: &dyn Fn(&State) -> bool,
        what: &str,
    ) -> Result<(), Error> {
        while !ready(st) {
            if st.closed {
                return Err(Error::Closed);
            }
            if let Some(e) = st.fatal.take() {
                return Err(e);
            }
            if self.changed.wait_until(st, deadline).timed_out() && !ready(st) {
                return Err(Error::Timeout {
                    remote: self.remotes_text(),
                    method: what.into(),
                    after: timeout,
                    detail: st.last_error.clone().unwrap_or_default(),
                });
            }
        }
        Ok(())
    }
}

/// An OVSDB client: one persistent connection owned by a background thread
/// that answers echoes, applies `update` notifications to the [`Replica`],
/// reconnects with exponential backoff (to the next remote, or to the new
/// leader of a cluster) and monitors again after reconnecting.
///
/// Dropping the client closes the connection and ends the thread.
#[derive(Debug)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Connects and returns once the replica holds the first monitor reply:
    /// an [`Error::Timeout`] naming the remotes and the last failure after
    /// `options.timeout`, or [`Error::Schema`] when the database or a
    /// monitored table or column does not exist.
    pub fn connect(remotes: Vec<Remote>, options: ClientOptions) -> Result<Client, Error> {
        if remotes.is_empty() {
            return Err(Error::InvalidRemote("no remote given".into()));
        }
        let timeout = options.timeout;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            options,
            remotes,
        });
        let runner = shared.clone();
        std::thread::Builder::new()
            .name("ovsdb-client".into())
            .spawn(move || run(&runner))
            .map_err(|e| Error::io("ovsdb-client", "spawn thread", e))?;
        let client = Client { shared };
        let deadline = Instant::now() + timeout;
        let mut st = client.shared.state.lock();
        client
            .shared
            .wait_live(&mut st, deadline, timeout, 0, "connect")?;
        drop(st);
        Ok(client)
    }

    /// The current replica: a consistent snapshot, cheap to take. While
    /// the client reconnects it is the last state seen; the next
    /// connection's monitor reply replaces it whole.
    pub fn replica(&self) -> Arc<Replica> {
        self.shared.state.lock().replica.clone()
    }

    /// Waits until `done` holds for the replica (checked now and after each
    /// change) and returns that snapshot; [`Error::Timeout`] otherwise.
    pub fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&Replica) -> bool,
    ) -> Result<Arc<Replica>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let (snapshot, generation) = {
                let st = self.shared.state.lock();
                (st.replica.clone(), st.generation)
            };
            if done(&snapshot) {
                return Ok(snapshot);
            }
            let mut st = self.shared.state.lock();
            while st.generation == generation {
                if st.closed {
                    return Err(Error::Closed);
                }
                if self
                    .shared
                    .changed
                    .wait_until(&mut st, deadline)
                    .timed_out()
                    && st.generation == generation
                {
                    return Err(Error::Timeout {
                        remote: self.shared.remotes_text(),
                        method: "wait for the replica".into(),
                        after: timeout,
                        detail: String::new(),
                    });
                }
            }
        }
    }

    /// Whether a connection is up and monitored now.
    pub fn is_connected(&self) -> bool {
        self.shared.state.lock().live.is_some()
    }

    /// How many connections have been established so far (1 after
    /// `connect`; each reconnection adds one).
    pub fn connection_count(&self) -> u64 {
        self.shared.state.lock().epoch
    }

    /// The remote connected to now.
    pub fn current_remote(&self) -> Option<Remote> {
        let st = self.shared.state.lock();
        st.live
            .as_ref()
            .map(|l| self.shared.remotes[l.remote].clone())
    }

    /// Runs a transaction: `[database, ops..., comment]`. Returns the result
    /// of each of `ops`.
    ///
    /// Errors: an operation's error object (or the commit's) is
    /// [`Error::Transaction`]; a connection lost before the reply is
    /// [`Error::Disconnected`] (outcome unknown: re-read the replica); a
    /// server that is no longer the leader or is cut off from its cluster
    /// is [`Error::TryAgain`] (nothing committed; the client reconnects).
    /// While reconnecting, the call waits up to `options.timeout` for a
    /// connection before sending; a request whose write fails (the server
    /// died since the last one) is sent again on the next connection, since
    /// the server cannot have run it.
    ///
    /// When this returns, the replica already shows the transaction's
    /// effect on the monitored columns: ovsdb-server sends the update
    /// notifications of a transaction before its reply, on the same
    /// connection, and they are applied in order.
    pub fn transact(&self, ops: Vec<Value>, comment: Option<&str>) -> Result<Vec<Value>, Error> {
        let n = ops.len();
        let mut params = Vec::with_capacity(n + 2);
        params.push(json!(self.shared.options.database));
        params.extend(ops);
        if let Some(c) = comment {
            params.push(ops::comment(c));
        }
        let (remote, result) = self.call("transact", Value::Array(params))?;
        let result = match result {
            Ok(Value::Array(results)) => results,
            Ok(other) => {
                return Err(Error::protocol(
                    remote,
                    format!("transact result is not an array: {}", short(&other)),
                ))
            }
            Err(error) => {
                let text = error_text(&error);
                if is_cluster_error(&text) {
                    self.drop_connection();
                    return Err(Error::TryAgain {
                        remote,
                        detail: text,
                    });
                }
                return Err(Error::Remote {
                    remote,
                    method: "transact".into(),
                    text,
                });
            }
        };
        for (i, r) in result.iter().enumerate() {
            let Some(error) = r.get("error") else {
                continue;
            };
            let tag = error.as_str().unwrap_or("error").to_string();
            let details = r
                .get("details")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if is_cluster_error(&tag) || is_cluster_error(&details) {
                self.drop_connection();
                return Err(Error::TryAgain {
                    remote,
                    detail: format!("{tag}: {details}"),
                });
            }
            return Err(Error::Transaction {
                index: i.min(n),
                error: tag,
                details,
            });
        }
        let mut result = result;
        result.truncate(n);
        Ok(result)
    }

    /// [`transact`](Self::transact) on the `Open_vSwitch` database that
    /// then waits, as `ovs-vsctl` does without `--no-wait`, until
    /// `ovs-vswitchd` has applied the change: the transaction also
    /// increments `Open_vSwitch.next_cfg`, and the call returns once
    /// `cur_cfg` (which ovs-vswitchd sets after reconfiguring) reaches the
    /// new value, or [`Error::Timeout`] after `wait`. The `Open_vSwitch`
    /// table must be monitored with `cur_cfg` (all columns, or a list
    /// holding it).
    pub fn transact_and_wait(
        &self,
        ops: Vec<Value>,
        comment: Option<&str>,
        wait: Duration,
    ) -> Result<Vec<Value>, Error> {
        let root = self.replica().single("Open_vSwitch").map(|(u, _)| u);
        let root = root.ok_or_else(|| Error::Schema {
            remote: self.shared.remotes_text(),
            detail: "no Open_vSwitch row to count configurations in (ovs-vsctl init)".into(),
        })?;
        let n = ops.len();
        let mut all = ops;
        all.push(crate::ops::mutate(
            "Open_vSwitch",
            crate::ops::where_uuid(root),
            vec![crate::ops::mutation("next_cfg", "+=", json!(1))],
        ));
        all.push(crate::ops::select(
            "Open_vSwitch",
            crate::ops::where_uuid(root),
            Some(&["next_cfg"]),
        ));
        let mut results = self.transact(all, comment)?;
        let next_cfg = results
            .get(n + 1)
            .and_then(|r| r["rows"][0]["next_cfg"].as_i64())
            .ok_or_else(|| {
                Error::protocol(
                    self.shared.remotes_text(),
                    "select of next_cfg returned no value",
                )
            })?;
        results.truncate(n);
        let applied = |r: &Replica| {
            r.row("Open_vSwitch", root)
                .and_then(|row| row.integer("cur_cfg"))
                .is_some_and(|cur| cur >= next_cfg)
        };
        match self.wait_until(wait, applied) {
            Ok(_) => Ok(results),
            Err(Error::Timeout { remote, after, .. }) => {
                let cur = self
                    .replica()
                    .row("Open_vSwitch", root)
                    .and_then(|row| row.integer("cur_cfg"));
                Err(Error::Timeout {
                    remote,
                    method: format!("wait for ovs-vswitchd to apply next_cfg {next_cfg}"),
                    after,
                    detail: match cur {
                        Some(c) => format!("cur_cfg is {c}: is ovs-vswitchd running?"),
                        None => "cur_cfg is not monitored".into(),
                    },
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Sends any request on the database connection (`get_schema`,
    /// `list_dbs`, ...) and returns its result; an error reply is
    /// [`Error::Remote`].
    pub fn request(&self, method: &str, params: Value) -> Result<Value, Error> {
        let (remote, result) = self.call(method, params)?;
        result.map_err(|e| Error::Remote {
            remote,
            method: method.into(),
            text: error_text(&e),
        })
    }

    fn call(&self, method: &str, params: Value) -> Result<(String, Reply), Error> {
        let timeout = self.shared.options.timeout;
        let deadline = Instant::now() + timeout;
        let what = format!("{method} (waiting for a connection)");
        let mut msg = Message::Request {
            method: method.into(),
            params,
            id: Value::Null,
        };
        // Connections older than this one failed to take the request.
        let mut min_epoch = 0;
        let (id, remote, rx) = loop {
            let (id, sender, rx, epoch) = {
                let mut st = self.shared.state.lock();
                self.shared
                    .wait_live(&mut st, deadline, timeout, min_epoch, &what)?;
                st.next_id += 1;
                let id = st.next_id;
                let (tx, rx) = crossbeam_channel::bounded(1);
                st.pending.insert(id, tx);
                let live = st.live.as_ref().ok_or(Error::Closed)?;
                (id, live.sender.clone(), rx, live.epoch)
            };
            if let Message::Request { id: msg_id, .. } = &mut msg {
                *msg_id = json!(id);
            }
            match sender.send(&msg) {
                Ok(()) => break (id, sender.remote().to_string(), rx),
                Err(e) => {
                    // A write that failed did not deliver the whole
                    // message, so the server cannot have run it: send it
                    // again on the next connection (typically a leader
                    // that died since our last request).
                    log::debug!("{e}; sending {method} again after reconnecting");
                    self.shared.state.lock().pending.remove(&id);
                    sender.shutdown();
                    min_epoch = epoch + 1;
                }
            }
        };
        match rx.recv_deadline(deadline) {
            Ok(reply) => Ok((remote, reply)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                self.shared.state.lock().pending.remove(&id);
                Err(Error::Timeout {
                    remote,
                    method: method.into(),
                    after: timeout,
                    detail: String::new(),
                })
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(Error::Disconnected {
                remote,
                method: method.into(),
            }),
        }
    }

    /// Makes the background thread reconnect.
    fn drop_connection(&self) {
        if let Some(live) = &self.shared.state.lock().live {
            live.control.shutdown();
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        st.closed = true;
        if let Some(live) = st.live.take() {
            live.control.shutdown();
        }
        st.pending.clear();
        self.shared.changed.notify_all();
    }
}

/// Errors of a clustered server that cannot commit now (raft.c's command
/// statuses, reported by ovsdb-server as "cluster error" or "not leader").
fn is_cluster_error(text: &str) -> bool {
    text.contains("not leader")
        || text.contains("cluster error")
        || text.contains("lost leadership")
}

/// The background thread: connect, serve until the connection fails,
/// reconnect.
fn run(shared: &Arc<Shared>) {
    let opts = &shared.options;
    let mut backoff = opts.backoff_min;
    let mut preferred = 0usize;
    let mut ever_connected = false;
    while !shared.closed() {
        let attempt = establish(shared, preferred);
        match attempt {
            Ok(session) => {
                preferred = session.remote;
                backoff = opts.backoff_min;
                ever_connected = true;
                let why = serve(shared, session);
                log::info!("ovsdb: connection lost: {why}");
                let mut st = shared.state.lock();
                st.live = None;
                // Waiting callers get Disconnected.
                st.pending.clear();
                st.last_error = Some(why.to_string());
                shared.changed.notify_all();
                // Reconnect at once after losing an established connection.
            }
            Err(e) => {
                log::debug!("ovsdb: connect failed: {e}");
                let mut st = shared.state.lock();
                if !ever_connected && matches!(e, Error::Schema { .. }) {
                    st.last_error = Some(e.to_string());
                    st.fatal = Some(e);
                    shared.changed.notify_all();
                    return;
                }
                st.last_error = Some(e.to_string());
                shared.changed.notify_all();
                // Sleep the backoff, but a caller waiting for a connection
                // cuts it short (after backoff_min at least), so a server
                // that comes back is used at once, not up to backoff_max
                // later.
                let start = Instant::now();
                let earliest = start + opts.backoff_min.min(backoff);
                let until = start + backoff;
                while !st.closed && Instant::now() < until {
                    if st.waiting > 0 && Instant::now() >= earliest {
                        break;
                    }
                    let wake = if st.waiting > 0 { earliest } else { until };
                    let _ = shared.changed.wait_until(&mut st, wake);
                }
                backoff = (backoff * 2).min(opts.backoff_max);
            }
        }
    }
}

/// A connection ready to serve: monitored, its replica taken.
struct Session {
    conn: Connection,
    remote: usize,
    replica: Replica,
    /// The `_Server` database's rows, when leadership is watched.
    server: Option<Replica>,
}

/// Connects to a usable server: with `leader_only`, every remote is tried
/// at once and the first that is (or becomes) the leader wins, so a new
/// leader is used as soon as it is elected (and, once connected, the other
/// members are watched: see `watch_member`); otherwise the remotes are
/// tried in order from `preferred`.
fn establish(shared: &Arc<Shared>, preferred: usize) -> Result<Session, Error> {
    let opts = &shared.options;
    let n = shared.remotes.len();
    if opts.leader_only {
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = crossbeam_channel::unbounded();
        for i in 0..n {
            let thread_tx = tx.clone();
            let shared = shared.clone();
            let cancel = cancel.clone();
            let spawned = std::thread::Builder::new()
                .name("ovsdb-probe".into())
                .spawn(move || {
                    let r = probe_leader(&shared, i, &cancel);
                    let _ = thread_tx.send((i, r));
                });
            if let Err(e) = spawned {
                let _ = tx.send((i, Err(Error::io("ovsdb-client", "spawn thread", e))));
            }
        }
        drop(tx);
        let mut errors = Vec::new();
        for (i, r) in rx.iter() {
            match r {
                Ok((conn, server)) => {
                    cancel.store(true, Ordering::Relaxed);
                    return monitor(shared, conn, i, Some(server));
                }
                Err(e) => errors.push(e),
            }
        }
        // Report a schema error (fatal) before connection errors.
        let pos = errors
            .iter()
            .position(|e| matches!(e, Error::Schema { .. }))
            .unwrap_or(0);
        Err(if errors.is_empty() {
            Error::Closed
        } else {
            errors.swap_remove(pos)
        })
    } else {
        let mut last = Error::Closed;
        for k in 0..n {
            let i = (preferred + k) % n;
            match Connection::open(&shared.remotes[i], opts.timeout) {
                Ok(conn) => match monitor(shared, conn, i, None) {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e,
                },
                Err(e) => last = e,
            }
            if shared.closed() {
                break;
            }
        }
        Err(last)
    }
}

/// Connects to remote `i` and monitors its `_Server` database's `Database`
/// rows. `None` for the rows of an ovsdb-server older than 2.9, which has
/// no `_Server` database and no clustering.
fn open_server_monitor(shared: &Shared, i: usize) -> Result<(Connection, Option<Replica>), Error> {
    let opts = &shared.options;
    let remote = &shared.remotes[i];
    let mut conn = Connection::open(remote, opts.timeout)?;
    let params = json!([
        "_Server",
        SERVER_MONITOR,
        {"Database": {"columns": ["name", "model", "connected", "leader", "index"]}}
    ]);
    let initial = match conn.request("monitor", params, opts.timeout) {
        Ok(v) => v,
        Err(Error::Remote { text, .. }) if text.contains("unknown database") => {
            return Ok((conn, None))
        }
        Err(e) => return Err(e),
    };
    let mut server = Replica::default();
    server
        .apply_update(&initial)
        .map_err(|e| Error::protocol(remote, format!("_Server monitor reply: {e}")))?;
    Ok((conn, Some(server)))
}

/// Waits for the next `_Server` update on `conn` and applies it to
/// `server`: `Ok(true)` then, `Ok(false)` when `stop` says so (checked every
/// 100 ms), [`Error::TryAgain`] at `deadline`.
fn next_server_update(
    conn: &mut Connection,
    server: &mut Replica,
    stop: &dyn Fn() -> bool,
    deadline: Option<Instant>,
) -> Result<bool, Error> {
    loop {
        if stop() {
            return Ok(false);
        }
        let now = Instant::now();
        let mut slice = now + Duration::from_millis(100);
        if let Some(d) = deadline {
            if now >= d {
                return Err(Error::TryAgain {
                    remote: conn.remote().into(),
                    detail: "not the cluster leader".into(),
                });
            }
            slice = slice.min(d);
        }
        match conn.recv(Some(slice)) {
            Ok(Message::Notification { method, params }) if method == "update" => {
                if params.get(0).and_then(Value::as_str) == Some(SERVER_MONITOR) {
                    let updates = params.get(1).unwrap_or(&Value::Null);
                    server.apply_update(updates).map_err(|e| {
                        Error::protocol(conn.remote(), format!("_Server update: {e}"))
                    })?;
                    return Ok(true);
                }
            }
            Ok(Message::Request { method, params, id }) if method == "echo" => {
                conn.send(&Message::Reply { result: params, id })?;
            }
            Ok(_) => {}
            Err(Error::Timeout { .. }) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Connects to remote `i` and waits (until `options.timeout`) for it to be
/// the leader of the database's cluster, watching its `_Server` database.
fn probe_leader(
    shared: &Shared,
    i: usize,
    cancel: &AtomicBool,
) -> Result<(Connection, Replica), Error> {
    let opts = &shared.options;
    let remote = &shared.remotes[i];
    let deadline = Instant::now() + opts.timeout;
    let (mut conn, server) = open_server_monitor(shared, i)?;
    // Without clustering, any server is fine.
    let Some(mut server) = server else {
        return Ok((conn, Replica::default()));
    };
    let stop = || cancel.load(Ordering::Relaxed) || shared.closed();
    loop {
        match leadership(&server, &opts.database) {
            Leadership::Usable => return Ok((conn, server)),
            Leadership::Missing => {
                return Err(Error::Schema {
                    remote: remote.to_string(),
                    detail: format!("database {} is not served here", opts.database),
                })
            }
            Leadership::NotLeader(why) => {
                log::debug!("{remote}: {why}");
                // For the timeout error of callers waiting meanwhile.
                let mut st = shared.state.lock();
                if st.live.is_none() {
                    st.last_error = Some(format!("{remote}: {why}"));
                }
            }
        }
        if !next_server_update(&mut conn, &mut server, &stop, Some(deadline))? {
            return Err(Error::Closed);
        }
    }
}

/// While connection `epoch` (to the leader) lasts, watches remote `i`'s
/// `_Server` rows; when `i` becomes the leader, the current connection is
/// dropped so that the client moves to it at once. This catches a leader
/// that stops answering without closing its connections (a hung process,
/// a host gone, a partition), which would otherwise be noticed only by
/// the inactivity probe. Reconnects (every 500 ms) to a member that is down.
fn watch_member(shared: &Shared, i: usize, epoch: u64) {
    let remote = &shared.remotes[i];
    let stop = || {
        let st = shared.state.lock();
        st.closed || st.epoch != epoch
    };
    while !stop() {
        match open_server_monitor(shared, i) {
            Ok((_, None)) => return,
            Ok((mut conn, Some(mut server))) => {
                // Only a change to leader counts: two servers claiming
                // leadership at once is a stale leader, which the other
                // checks settle.
                let mut was_leader = matches!(
                    leadership(&server, &shared.options.database),
                    Leadership::Usable
                );
                loop {
                    match next_server_update(&mut conn, &mut server, &stop, None) {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e) => {
                            log::debug!("watching {remote}: {e}");
                            break;
                        }
                    }
                    let leader = matches!(
                        leadership(&server, &shared.options.database),
                        Leadership::Usable
                    );
                    if leader && !was_leader {
                        let st = shared.state.lock();
                        if let Some(live) = st.live.as_ref().filter(|l| l.epoch == epoch) {
                            log::info!(
                                "ovsdb: {remote} is the cluster leader now: leaving {}",
                                shared.remotes[live.remote]
                            );
                            live.control.shutdown();
                        }
                        return;
                    }
                    was_leader = leader;
                }
            }
            Err(e) => log::debug!("watching {remote}: {e}"),
        }
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until && !stop() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

enum Leadership {
    Usable,
    NotLeader(String),
    Missing,
}

/// Whether the server whose `_Server` rows these are may be used for
/// `database`: standalone, or clustered and both connected and leader.
fn leadership(server: &Replica, database: &str) -> Leadership {
    let Some((_, row)) = server
        .table("Database")
        .find(|(_, r)| r.string("name") == Some(database))
    else {
        return Leadership::Missing;
    };
    if row.string("model") != Some("clustered") {
        return Leadership::Usable;
    }
    match (row.boolean("connected"), row.boolean("leader")) {
        (Some(true), Some(true)) => Leadership::Usable,
        (Some(false), _) => Leadership::NotLeader("not connected to the cluster".into()),
        _ => Leadership::NotLeader("not the cluster leader".into()),
    }
}

/// `get_schema` (checking the database, tables and columns) then `monitor`.
fn monitor(
    shared: &Shared,
    mut conn: Connection,
    i: usize,
    server: Option<Replica>,
) -> Result<Session, Error> {
    let opts = &shared.options;
    let remote = shared.remotes[i].to_string();
    let schema = match conn.request("get_schema", json!([opts.database]), opts.timeout) {
        Ok(s) => s,
        Err(Error::Remote { text, .. }) => {
            return Err(Error::Schema {
                remote,
                detail: format!("database {}: {text}", opts.database),
            })
        }
        Err(e) => return Err(e),
    };
    let tables = schema
        .get("tables")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::protocol(&remote, "schema without tables"))?;
    let mut requests = serde_json::Map::new();
    let mut names = Vec::new();
    let wanted: Vec<(String, Vec<String>)> = if opts.tables.is_empty() {
        tables.keys().map(|t| (t.clone(), Vec::new())).collect()
    } else {
        opts.tables.clone()
    };
    for (table, columns) in &wanted {
        let Some(def) = tables.get(table) else {
            return Err(Error::Schema {
                remote,
                detail: format!("database {} has no table {table}", opts.database),
            });
        };
        let known = def.get("columns").and_then(Value::as_object);
        for c in columns {
            // _uuid and _version are implicit in every table.
            if c != "_uuid" && c != "_version" && !known.is_some_and(|k| k.contains_key(c)) {
                return Err(Error::Schema {
                    remote,
                    detail: format!("table {table} has no column {c}"),
                });
            }
        }
        let request = if columns.is_empty() {
            json!({})
        } else {
            json!({ "columns": columns })
        };
        requests.insert(table.clone(), request);
        names.push(table.as_str());
    }
    let initial = conn.request(
        "monitor",
        json!([opts.database, DB_MONITOR, requests]),
        opts.timeout,
    )?;
    let mut replica = Replica::with_tables(names);
    replica
        .apply_update(&initial)
        .map_err(|e| Error::protocol(&remote, format!("monitor reply: {e}")))?;
    Ok(Session {
        conn,
        remote: i,
        replica,
        server,
    })
}

/// Publishes the session, then reads until the connection fails: replies
/// go to their callers, updates into the replica, echoes are answered and
/// sent after `probe_interval` of silence. Returns why it stopped.
fn serve(shared: &Arc<Shared>, session: Session) -> Error {
    let Session {
        mut conn,
        remote,
        replica,
        mut server,
    } = session;
    let control = match conn.control() {
        Ok(c) => c,
        Err(e) => return e,
    };
    let epoch = {
        let mut st = shared.state.lock();
        if st.closed {
            return Error::Closed;
        }
        st.replica = Arc::new(replica);
        st.generation += 1;
        st.epoch += 1;
        st.live = Some(Live {
            epoch: st.epoch,
            sender: conn.sender(),
            control,
            remote,
        });
        st.last_error = None;
        shared.changed.notify_all();
        st.epoch
    };
    if shared.options.leader_only
        && server
            .as_ref()
            .is_some_and(|s| s.table("Database").next().is_some())
    {
        for i in (0..shared.remotes.len()).filter(|i| *i != remote) {
            let watcher = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("ovsdb-watch".into())
                .spawn(move || watch_member(&watcher, i, epoch));
            if let Err(e) = spawned {
                log::warn!("ovsdb: cannot watch {}: {e}", shared.remotes[i]);
            }
        }
    }
    let name = shared.remotes[remote].to_string();
    let probe = shared.options.probe_interval;
    let mut probing = false;
    loop {
        let deadline = (!probe.is_zero()).then(|| Instant::now() + probe);
        let msg = match conn.recv(deadline) {
            Ok(m) => m,
            Err(Error::Timeout { .. }) if !probing => {
                probing = true;
                let echo = Message::Request {
                    method: "echo".into(),
                    params: json!([]),
                    id: json!("echo"),
                };
                if let Err(e) = conn.send(&echo) {
                    return e;
                }
                continue;
            }
            Err(Error::Timeout { .. }) => {
                return Error::Timeout {
                    remote: name,
                    method: "echo (inactivity probe)".into(),
                    after: probe * 2,
                    detail: String::new(),
                }
            }
            Err(e) => return e,
        };
        probing = false;
        match msg {
            Message::Request { method, params, id } if method == "echo" => {
                if let Err(e) = conn.send(&Message::Reply { result: params, id }) {
                    return e;
                }
            }
            Message::Request { method, id, .. } => {
                let error = Message::Error {
                    error: json!({"error": "unknown method", "details": method}),
                    id,
                };
                if let Err(e) = conn.send(&error) {
                    return e;
                }
            }
            Message::Reply { result, id } => route(shared, &id, Ok(result)),
            Message::Error { error, id } => route(shared, &id, Err(error)),
            Message::Notification { method, params } if method == "update" => {
                let monitor = params.get(0).and_then(Value::as_str);
                let updates = params.get(1).unwrap_or(&Value::Null);
                if monitor == Some(DB_MONITOR) {
                    let mut st = shared.state.lock();
                    let st = &mut *st;
                    if let Err(e) = Arc::make_mut(&mut st.replica).apply_update(updates) {
                        // The replica can no longer follow the server:
                        // reconnecting monitors afresh.
                        return Error::protocol(name, format!("update: {e}"));
                    }
                    st.generation += 1;
                    shared.changed.notify_all();
                } else if monitor == Some(SERVER_MONITOR) {
                    let Some(server) = server.as_mut() else {
                        continue;
                    };
                    if let Err(e) = server.apply_update(updates) {
                        return Error::protocol(name, format!("_Server update: {e}"));
                    }
                    if let Leadership::NotLeader(why) =
                        leadership_or_missing(server, &shared.options.database)
                    {
                        return Error::TryAgain {
                            remote: name,
                            detail: why,
                        };
                    }
                } else {
                    log::debug!("{name}: update for unknown monitor {monitor:?}");
                }
            }
            Message::Notification { method, .. } if method == "monitor_canceled" => {
                return Error::protocol(name, "the server canceled the monitor");
            }
            Message::Notification { method, .. } => {
                log::debug!("{name}: ignoring notification {method}");
            }
        }
    }
}

fn leadership_or_missing(server: &Replica, database: &str) -> Leadership {
    match leadership(server, database) {
        Leadership::Missing => Leadership::NotLeader(format!("database {database} went away")),
        other => other,
    }
}

fn route(shared: &Shared, id: &Value, reply: Reply) {
    let Some(id) = id.as_u64() else {
        // Our echo's reply ("echo"), or a stray id.
        return;
    };
    if let Some(tx) = shared.state.lock().pending.remove(&id) {
        let _ = tx.send(reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(rows: Value) -> Replica {
        let mut r = Replica::default();
        r.apply_update(&json!({ "Database": rows })).unwrap();
        r
    }

    #[test]
    fn leadership_from_server_rows() {
        let u = "00000000-0000-0000-0000-00000000000";
        let row = |i: u8, name: &str, model: &str, connected: bool, leader: bool| {
            (
                format!("{u}{i}"),
                json!({"new": {"name": name, "model": model, "connected": connected, "leader": leader}}),
            )
        };
        let rows = |list: Vec<(String, Value)>| server(Value::Object(list.into_iter().collect()));
        let db = "Open_vSwitch";
        let check = |r: &Replica| match leadership(r, db) {
            Leadership::Usable => "usable".to_string(),
            Leadership::Missing => "missing".to_string(),
            Leadership::NotLeader(why) => why,
        };
        let standalone = rows(vec![
            row(1, "_Server", "standalone", true, true),
            row(2, db, "standalone", true, false),
        ]);
        assert_eq!(check(&standalone), "usable");
        assert_eq!(
            check(&rows(vec![row(2, db, "clustered", true, true)])),
            "usable"
        );
        assert_eq!(
            check(&rows(vec![row(2, db, "clustered", true, false)])),
            "not the cluster leader"
        );
        assert_eq!(
            check(&rows(vec![row(2, db, "clustered", false, true)])),
            "not connected to the cluster"
        );
        assert_eq!(
            check(&rows(vec![row(1, "other", "standalone", true, true)])),
            "missing"
        );
        assert!(matches!(
            leadership_or_missing(&Replica::default(), db),
            Leadership::NotLeader(_)
        ));
    }

    #[test]
    fn cluster_errors() {
        assert!(is_cluster_error("not leader"));
        assert!(is_cluster_error("cluster error"));
        assert!(!is_cluster_error("constraint violation"));
        assert!(!is_cluster_error("referential integrity violation"));
    }
}
