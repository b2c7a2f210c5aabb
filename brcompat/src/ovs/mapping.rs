//! The pure half of the Open vSwitch backend: the OVSDB rows of the
//! `Open_vSwitch`, `Bridge`, `Port` and `Interface` tables as a brcompat
//! [`Config`] ([`DbState::from_replica`]), and the OVSDB operations that
//! turn one configuration into another ([`plan`]).
//!
//! # Rows and the model
//!
//! | OVSDB | brcompat |
//! | --- | --- |
//! | a `Bridge` row in `Open_vSwitch.bridges` | a real bridge |
//! | its `Port` named after it, with an `internal` `Interface` of that name | the bridge's local port (implied by the model; kept if absent) |
//! | a `Port` with `fake_bridge=true` and a `tag` 1 to 4095, its one `internal` `Interface` of its name | a fake bridge of that VLAN |
//! | any other `Port` | a port, its `tag` the VLAN of an access port, its `Interface`s the bond members (one named after it: not a bond) |
//! | a `Port` with an `Interface` that is no network device of the host (`patch`, `vxlan`, `dpdk`...) | nothing: left alone ([`DbState::foreign`]), its names not given to anything else |
//!
//! Rows are fed to the model's own operations ([`Config::add_bridge`],
//! [`Config::add_fake_bridge`], [`Config::add_port`]), so a configuration
//! read from OVSDB obeys the rules a request obeys. A row the model refuses
//! (a name longer than an interface name can be, an interface on two ports,
//! a fake bridge without a tag...) is left out and reported in
//! [`DbState::problems`]; it stays untouched in the database, since the
//! operations only ever touch rows of the configuration they change.
//!
//! # Operations
//!
//! A change is computed by the model on the configuration read
//! ([`Config::apply`], exactly as the embedded backend does), and the
//! difference between the two configurations becomes the transaction:
//! new `Bridge`, `Port` and `Interface` rows inserted with named UUIDs and
//! linked by inserting them into the set columns that hold them
//! (`Open_vSwitch.bridges`, `Bridge.ports`, `Port.interfaces`); rows
//! removed by deleting their reference from those columns (the three
//! tables are not root tables: OVSDB deletes a row nobody refers to, which
//! is how `ovs-vsctl` deletes too); a changed tag by `update`.
//!
//! Every set column the transaction changes, and `Open_vSwitch.bridges`
//! always, is guarded by a `wait` with timeout 0 that it still holds what
//! was read: if anyone else changed it since, the whole transaction fails
//! with "timed out" and the backend computes the change again on the newer
//! rows, instead of overwriting theirs. Names that must be unique are
//! guarded by the schema's own indexes on `name`. The transaction then
//! increments `Open_vSwitch.next_cfg` and reads it back (`select`), so the
//! backend can wait for `ovs-vswitchd` to report, in `cur_cfg`, that it
//! applied it.

use std::collections::{BTreeMap, BTreeSet};

use netdev_core::Escaped;
use ovs_client::{ops, Replica, Row, Uuid};
use serde_json::{json, Value};

use crate::model::{Bridge, Config, ConfigError, Port, VlanId};

/// The tables and columns the backend monitors.
pub const MONITORED: &[(&str, &[&str])] = &[
    ("Open_vSwitch", &["bridges", "next_cfg", "cur_cfg"]),
    ("Bridge", &["name", "ports"]),
    ("Port", &["name", "interfaces", "tag", "fake_bridge"]),
    // Not `statistics`: ovs-vswitchd rewrites it every few seconds.
    ("Interface", &["name", "type"]),
];

/// A `Bridge` row of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeRow {
    /// Its UUID.
    pub uuid: Uuid,
    /// Its `ports` column, as read.
    pub ports: BTreeSet<Uuid>,
}

/// A `Port` row of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortRow {
    /// Its UUID.
    pub uuid: Uuid,
    /// Its `interfaces` column, as read.
    pub interfaces: BTreeSet<Uuid>,
}

/// What the backend read from OVSDB: the configuration and the rows behind
/// it.
#[derive(Debug, Clone, PartialEq)]
pub struct DbState {
    /// The `Open_vSwitch` row (`None` in a database nobody initialised:
    /// the first change inserts it, as `ovs-vsctl` does).
    pub root: Option<Uuid>,
    /// Its `bridges` column.
    pub root_bridges: BTreeSet<Uuid>,
    /// Its `next_cfg`: the configuration generation last asked for.
    pub next_cfg: i64,
    /// Its `cur_cfg`: the generation `ovs-vswitchd` last applied.
    pub cur_cfg: i64,
    /// The bridges of `root_bridges`, by name.
    pub bridges: BTreeMap<String, BridgeRow>,
    /// The ports of those bridges, by name (names are unique: the schema
    /// indexes them).
    pub ports: BTreeMap<String, PortRow>,
    /// The interfaces of those ports, by name: UUID.
    pub interfaces: BTreeMap<String, Uuid>,
    /// The configuration the rows make.
    pub config: Config,
    /// The rows the model refused, and why (left out of `config`).
    pub problems: Vec<String>,
    /// The names (ports and their interfaces) of the ports left out
    /// because an interface is no network device of the host (a `patch`,
    /// `vxlan`, `dpdk`... port), with their bridge: brcompat leaves them
    /// alone (the daemon would prune them as devices that are gone) but
    /// does not give their names to anything else.
    pub foreign: BTreeMap<String, String>,
}

/// The `Interface` types that are network devices of the host (`""` is
/// `system`): a port whose interfaces all are is brcompat's to manage.
pub const DEVICE_TYPES: &[&str] = &["", "system", "internal", "tap"];

/// A port as read, before it is given to the model.
struct PortRead<'a> {
    name: &'a str,
    interfaces: Vec<&'a str>,
    tag: Option<i64>,
    fake_bridge: bool,
}

impl DbState {
    /// Reads the configuration from `replica`. More than one
    /// `Open_vSwitch` row is an error (the schema allows one: `maxRows`);
    /// a replica without one is an empty configuration.
    pub fn from_replica(replica: &Replica) -> Result<DbState, String> {
        let mut roots = replica.table("Open_vSwitch");
        let root = roots.next();
        if roots.next().is_some() {
            return Err("the Open_vSwitch table has more than one row".into());
        }
        let mut state = DbState {
            root: root.map(|(u, _)| u),
            root_bridges: BTreeSet::new(),
            next_cfg: 0,
            cur_cfg: 0,
            bridges: BTreeMap::new(),
            ports: BTreeMap::new(),
            interfaces: BTreeMap::new(),
            config: Config::new(),
            problems: Vec::new(),
            foreign: BTreeMap::new(),
        };
        let Some((_, root)) = root else {
            return Ok(state);
        };
        state.root_bridges = root.uuids("bridges").into_iter().collect();
        state.next_cfg = root.integer("next_cfg").unwrap_or(0);
        state.cur_cfg = root.integer("cur_cfg").unwrap_or(0);
        // Bridge name -> its ports as read.
        let mut read: BTreeMap<&str, Vec<PortRead<'_>>> = BTreeMap::new();
        for b in state.root_bridges.clone() {
            let Some(row) = replica.row("Bridge", b) else {
                state.problems.push(format!("bridge row {b} is missing"));
                continue;
            };
            let Some(name) = row.string("name") else {
                state.problems.push(format!("bridge row {b} has no name"));
                continue;
            };
            let ports = row.uuids("ports");
            let mut bridge_ports = Vec::new();
            for p in &ports {
                match read_port(replica, *p, name, &mut state) {
                    Ok(Some(port)) => bridge_ports.push(port),
                    Ok(None) => {}
                    Err(e) => state
                        .problems
                        .push(format!("bridge {}: {e}", Escaped(name))),
                }
            }
            state.bridges.insert(
                name.to_owned(),
                BridgeRow {
                    uuid: b,
                    ports: ports.into_iter().collect(),
                },
            );
            read.insert(name, bridge_ports);
        }
        state.config = build(&read, &mut state.problems);
        Ok(state)
    }
}

/// Reads port `uuid` of `bridge` and records its rows in `state`; `None`
/// for a port that is no network device of the host (recorded in
/// `state.foreign`).
fn read_port<'a>(
    replica: &'a Replica,
    uuid: Uuid,
    bridge: &str,
    state: &mut DbState,
) -> Result<Option<PortRead<'a>>, String> {
    let row: &Row = replica
        .row("Port", uuid)
        .ok_or_else(|| format!("port row {uuid} is missing"))?;
    let name = row
        .string("name")
        .ok_or_else(|| format!("port row {uuid} has no name"))?;
    let iface_uuids = row.uuids("interfaces");
    let mut interfaces = Vec::new();
    let mut device = true;
    for i in &iface_uuids {
        let irow = replica.row("Interface", *i);
        let iname = irow
            .and_then(|r| r.string("name"))
            .ok_or_else(|| format!("port {}: interface row {i} is missing", Escaped(name)))?;
        let kind = irow.and_then(|r| r.string("type")).unwrap_or("");
        device &= DEVICE_TYPES.contains(&kind);
        interfaces.push(iname);
    }
    if !device {
        for n in std::iter::once(name).chain(interfaces.iter().copied()) {
            state.foreign.insert(n.to_owned(), bridge.to_owned());
        }
        return Ok(None);
    }
    for (iname, i) in interfaces.iter().zip(&iface_uuids) {
        state.interfaces.insert((*iname).to_owned(), *i);
    }
    state.ports.insert(
        name.to_owned(),
        PortRow {
            uuid,
            interfaces: iface_uuids.into_iter().collect(),
        },
    );
    Ok(Some(PortRead {
        name,
        interfaces,
        tag: row.integer("tag"),
        fake_bridge: row.boolean("fake_bridge").unwrap_or(false),
    }))
}

/// A name `new` gives that `old` did not, which a port left out of the
/// configuration ([`DbState::foreign`]) holds: the change would clash with
/// it in the database, so it is refused as a name already in use.
pub fn foreign_clash(state: &DbState, new: &Config) -> Option<ConfigError> {
    let old = &state.config;
    for b in new.bridges() {
        for p in b.ports() {
            let known = old.bridge(b.name()).and_then(|ob| ob.port(p.name()));
            for n in std::iter::once(p.name()).chain(p.interfaces()) {
                let was = known.is_some_and(|k| k.name() == n || k.interfaces().any(|i| i == n));
                if was {
                    continue;
                }
                if let Some(bridge) = state.foreign.get(n) {
                    return Some(if b.name() == n {
                        ConfigError::NameInUse {
                            name: n.to_owned(),
                            bridge: bridge.clone(),
                        }
                    } else {
                        ConfigError::AlreadyAttached {
                            name: n.to_owned(),
                            bridge: bridge.clone(),
                        }
                    });
                }
            }
        }
    }
    None
}

/// The configuration of the ports read, through the model's operations:
/// bridges first, then fake bridges (ports may name their VLANs), then
/// ports.
fn build(read: &BTreeMap<&str, Vec<PortRead<'_>>>, problems: &mut Vec<String>) -> Config {
    let mut config = Config::new();
    let mut refused = |what: String, e: &dyn std::fmt::Display| {
        problems.push(format!("{what}: {e} (left out)"));
    };
    for bridge in read.keys() {
        if let Err(e) = config.add_bridge(bridge) {
            refused(format!("bridge {}", Escaped(bridge)), &e);
        }
    }
    for (bridge, ports) in read {
        for p in ports.iter().filter(|p| p.fake_bridge) {
            let what = format!("fake bridge {} on {}", Escaped(p.name), Escaped(bridge));
            let tag = p
                .tag
                .ok_or_else(|| "it has no tag".to_owned())
                .and_then(|t| {
                    u32::try_from(t)
                        .ok()
                        .and_then(|t| VlanId::new(t).ok())
                        .ok_or(format!("tag {t} is not 1 to 4095"))
                });
            match tag {
                Ok(tag) => {
                    if let Err(e) = config.add_fake_bridge(p.name, bridge, tag) {
                        refused(what, &e);
                    }
                }
                Err(e) => refused(what, &e),
            }
        }
    }
    for (bridge, ports) in read {
        if config.bridge(bridge).is_none() {
            continue;
        }
        for p in ports.iter().filter(|p| !p.fake_bridge && p.name != *bridge) {
            let what = format!("port {} on {}", Escaped(p.name), Escaped(bridge));
            let tag = match p.tag {
                None => None,
                Some(t) => match u32::try_from(t).ok().and_then(|t| VlanId::new(t).ok()) {
                    Some(v) => Some(v),
                    None => {
                        refused(what, &format!("tag {t} is not 1 to 4095"));
                        continue;
                    }
                },
            };
            if let Err(e) = config.add_port(bridge, p.name, &p.interfaces, tag) {
                refused(what, &e);
            }
        }
    }
    config
}

/// How the backend builds rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// The `datapath_type` of new bridges (`netdev` for the userspace
    /// datapath); `None` leaves OVS's default (`system`).
    pub datapath_type: Option<String>,
}

/// The transaction that turns `state`'s configuration into `new`, without
/// the `next_cfg` increment and the comment ([`finish`] adds them). Empty
/// when nothing changes.
pub fn plan(state: &DbState, new: &Config, options: &PlanOptions) -> Vec<Value> {
    let mut p = Planner {
        state,
        options,
        guards: Vec::new(),
        ops: Vec::new(),
        names: 0,
    };
    let old = &state.config;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for nb in new.bridges() {
        match old.bridge(nb.name()) {
            None => added.push(p.insert_bridge(nb)),
            Some(ob) if ob == nb => {}
            Some(ob) => p.change_bridge(ob, nb),
        }
    }
    for ob in old.bridges().filter(|b| new.bridge(b.name()).is_none()) {
        if let Some(row) = state.bridges.get(ob.name()) {
            p.guard("Bridge", row.uuid, "ports", &row.ports);
            removed.push(ops::uuid(row.uuid));
        }
    }
    if p.ops.is_empty() && added.is_empty() && removed.is_empty() {
        return Vec::new();
    }
    match state.root {
        Some(root) => {
            p.guard("Open_vSwitch", root, "bridges", &state.root_bridges);
            let mut mutations = Vec::new();
            if !added.is_empty() {
                mutations.push(ops::mutation("bridges", "insert", ops::set(added)));
            }
            if !removed.is_empty() {
                mutations.push(ops::mutation("bridges", "delete", ops::set(removed)));
            }
            if !mutations.is_empty() {
                p.ops.push(ops::mutate(
                    "Open_vSwitch",
                    ops::where_uuid(root),
                    mutations,
                ));
            }
        }
        None => {
            // Nobody initialised the database: insert its one row, as
            // `ovs-vsctl` does, on condition that it is still missing.
            p.guards.push(ops::wait(
                "Open_vSwitch",
                vec![],
                &["_uuid"],
                "==",
                vec![],
                Some(0),
            ));
            p.ops.push(ops::insert(
                "Open_vSwitch",
                json!({ "bridges": ops::set(added) }),
                Some(ROOT_NAME),
            ));
        }
    }
    let mut all = p.guards;
    all.extend(p.ops);
    all
}

/// The `uuid-name` of an `Open_vSwitch` row the transaction inserts.
const ROOT_NAME: &str = "root";

/// Completes a non-empty transaction from [`plan`]: increments `next_cfg`
/// and reads it back, and records `comment`. The `select`'s result is the
/// last but one (see [`next_cfg_of`]).
pub fn finish(state: &DbState, mut ops_: Vec<Value>, comment: &str) -> Vec<Value> {
    let root = match state.root {
        Some(u) => ops::where_uuid(u),
        None => vec![ops::condition("_uuid", "==", ops::named_uuid(ROOT_NAME))],
    };
    ops_.push(ops::mutate(
        "Open_vSwitch",
        root.clone(),
        vec![ops::mutation("next_cfg", "+=", json!(1))],
    ));
    ops_.push(ops::select("Open_vSwitch", root, Some(&["next_cfg"])));
    ops_.push(ops::comment(comment));
    ops_
}

/// The `next_cfg` the transaction of [`finish`] set, from its results.
pub fn next_cfg_of(results: &[Value]) -> Option<i64> {
    let select = results.len().checked_sub(2).and_then(|i| results.get(i))?;
    select["rows"][0]["next_cfg"].as_i64()
}

struct Planner<'a> {
    state: &'a DbState,
    options: &'a PlanOptions,
    guards: Vec<Value>,
    ops: Vec<Value>,
    names: usize,
}

impl Planner<'_> {
    fn name(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    /// Fails the transaction unless `column` of row `uuid` still holds
    /// `value`.
    fn guard(&mut self, table: &str, uuid: Uuid, column: &str, value: &BTreeSet<Uuid>) {
        let set = ops::set(value.iter().map(|u| ops::uuid(*u)).collect());
        self.guards.push(ops::wait(
            table,
            ops::where_uuid(uuid),
            &[column],
            "==",
            vec![json!({ column: set })],
            Some(0),
        ));
    }

    /// Inserts bridge `b` with its ports; returns its named UUID.
    fn insert_bridge(&mut self, b: &Bridge) -> Value {
        let ports: Vec<Value> = b.ports().map(|p| self.insert_port(b, p)).collect();
        let mut row = json!({ "name": b.name(), "ports": ops::set(ports) });
        if let Some(t) = &self.options.datapath_type {
            row["datapath_type"] = json!(t);
        }
        let name = self.name("bridge");
        self.ops.push(ops::insert("Bridge", row, Some(&name)));
        ops::named_uuid(&name)
    }

    /// Inserts port `p` of bridge `b` with its interfaces; returns its
    /// named UUID.
    fn insert_port(&mut self, b: &Bridge, p: &Port) -> Value {
        // The bridge's own port and a fake bridge are devices OVS makes.
        let internal = p.name() == b.name() || p.is_fake_bridge();
        let ifaces: Vec<Value> = p
            .interfaces()
            .map(|i| self.insert_interface(i, internal))
            .collect();
        let mut row = json!({ "name": p.name(), "interfaces": ops::set(ifaces) });
        if let Some(tag) = p.tag() {
            row["tag"] = json!(tag.get());
        }
        if p.is_fake_bridge() {
            row["fake_bridge"] = json!(true);
        }
        let name = self.name("port");
        self.ops.push(ops::insert("Port", row, Some(&name)));
        ops::named_uuid(&name)
    }

    fn insert_interface(&mut self, iface: &str, internal: bool) -> Value {
        let mut row = json!({ "name": iface });
        if internal {
            row["type"] = json!("internal");
        }
        let name = self.name("iface");
        self.ops.push(ops::insert("Interface", row, Some(&name)));
        ops::named_uuid(&name)
    }

    /// The ports of a bridge that exists in both configurations.
    fn change_bridge(&mut self, ob: &Bridge, nb: &Bridge) {
        let Some(row) = self.state.bridges.get(nb.name()) else {
            return;
        };
        let mut insert = Vec::new();
        let mut delete = Vec::new();
        for np in nb.ports() {
            match ob.port(np.name()) {
                None => insert.push(self.insert_port(nb, np)),
                Some(op) if op == np => {}
                Some(op) => self.change_port(op, np),
            }
        }
        for op in ob.ports().filter(|p| nb.port(p.name()).is_none()) {
            if let Some(prow) = self.state.ports.get(op.name()) {
                delete.push(ops::uuid(prow.uuid));
            }
        }
        if insert.is_empty() && delete.is_empty() {
            return;
        }
        self.guard("Bridge", row.uuid, "ports", &row.ports);
        let mut mutations = Vec::new();
        if !insert.is_empty() {
            mutations.push(ops::mutation("ports", "insert", ops::set(insert)));
        }
        if !delete.is_empty() {
            mutations.push(ops::mutation("ports", "delete", ops::set(delete)));
        }
        self.ops
            .push(ops::mutate("Bridge", ops::where_uuid(row.uuid), mutations));
    }

    /// A port in both configurations: its interfaces, tag, fake-bridge
    /// flag.
    fn change_port(&mut self, op: &Port, np: &Port) {
        let Some(row) = self.state.ports.get(np.name()) else {
            return;
        };
        let old: BTreeSet<&str> = op.interfaces().collect();
        let new: BTreeSet<&str> = np.interfaces().collect();
        let insert: Vec<Value> = new
            .difference(&old)
            .map(|i| self.insert_interface(i, false))
            .collect();
        let delete: Vec<Value> = old
            .difference(&new)
            .filter_map(|i| self.state.interfaces.get(*i))
            .map(|u| ops::uuid(*u))
            .collect();
        let mut mutations = Vec::new();
        if !insert.is_empty() {
            mutations.push(ops::mutation("interfaces", "insert", ops::set(insert)));
        }
        if !delete.is_empty() {
            mutations.push(ops::mutation("interfaces", "delete", ops::set(delete)));
        }
        if !mutations.is_empty() {
            self.guard("Port", row.uuid, "interfaces", &row.interfaces);
            self.ops
                .push(ops::mutate("Port", ops::where_uuid(row.uuid), mutations));
        }
        let mut update = serde_json::Map::new();
        if op.tag() != np.tag() {
            let tag: Vec<Value> = np.tag().map(|t| json!(t.get())).into_iter().collect();
            update.insert("tag".into(), ops::set(tag));
        }
        if op.is_fake_bridge() != np.is_fake_bridge() {
            update.insert("fake_bridge".into(), json!(np.is_fake_bridge()));
        }
        if !update.is_empty() {
            self.ops.push(ops::update(
                "Port",
                ops::where_uuid(row.uuid),
                Value::Object(update),
            ));
        }
    }
}

/// Whether `current` shows the effect of changing `old` into `new`: every
/// bridge and port that differs between them is in `current` as in `new`.
/// Decides a transaction whose outcome was lost with the connection: the
/// rows others may have changed meanwhile do not matter, only those the
/// transaction wrote.
pub fn shows_change(old: &Config, new: &Config, current: &Config) -> bool {
    let names: BTreeSet<&str> = old
        .bridges()
        .chain(new.bridges())
        .map(Bridge::name)
        .collect();
    names.into_iter().all(|name| {
        let (ob, nb) = (old.bridge(name), new.bridge(name));
        if ob == nb {
            return true;
        }
        let cb = current.bridge(name);
        let Some(nb) = nb else {
            return cb.is_none();
        };
        let Some(cb) = cb else {
            return false;
        };
        let ports: BTreeSet<&str> = ob
            .into_iter()
            .flat_map(Bridge::ports)
            .chain(nb.ports())
            .map(Port::name)
            .collect();
        ports.into_iter().all(|p| {
            let want = nb.port(p);
            ob.and_then(|b| b.port(p)) == want || cb.port(p) == want
        })
    })
}

#[cfg(test)]
mod tests;
