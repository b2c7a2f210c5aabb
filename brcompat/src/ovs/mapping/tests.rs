//! The mapping without Open vSwitch: replicas built from the JSON a
//! monitor sends, and the planned transactions run by a small interpreter
//! of the operations they use (insert, mutate, update, wait, select,
//! comment, with OVSDB's garbage collection of unreferenced rows), so a
//! plan is checked by what it does, not by how it is spelled. The tests
//! against a real `ovsdb-server` are in `tests/ovs_netns.rs`.

use super::*;
use crate::model::Change;
use proptest::prelude::*;
use serde_json::json;

fn v(n: u32) -> VlanId {
    VlanId::new(n).unwrap()
}

fn uuid(n: u32) -> Uuid {
    format!("00000000-0000-0000-0000-{n:012x}").parse().unwrap()
}

fn ujson(n: u32) -> Value {
    json!(["uuid", uuid(n).to_string()])
}

fn set(ns: &[u32]) -> Value {
    json!(["set", ns.iter().map(|n| ujson(*n)).collect::<Vec<_>>()])
}

/// A replica holding `rows`: (table, uuid number, row).
fn replica(rows: &[(&str, u32, Value)]) -> Replica {
    let mut update = serde_json::Map::new();
    for (table, n, row) in rows {
        let t = update.entry(table.to_string()).or_insert_with(|| json!({}));
        t[uuid(*n).to_string()] = json!({ "new": row });
    }
    let mut r = Replica::default();
    r.apply_update(&Value::Object(update)).unwrap();
    r
}

/// br0 (local port, eth0, bond0 of eth1+eth2, eth3 on VLAN 10) and its fake
/// bridge vlan10, as `ovs-vsctl` makes them.
fn sample_rows() -> Vec<(&'static str, u32, Value)> {
    vec![
        (
            "Open_vSwitch",
            1,
            json!({"bridges": set(&[10]), "next_cfg": 7, "cur_cfg": 6}),
        ),
        (
            "Bridge",
            10,
            json!({"name": "br0", "ports": set(&[20, 21, 22, 23, 24])}),
        ),
        ("Port", 20, json!({"name": "br0", "interfaces": set(&[30])})),
        (
            "Port",
            21,
            json!({"name": "eth0", "interfaces": set(&[31])}),
        ),
        (
            "Port",
            22,
            json!({"name": "bond0", "interfaces": set(&[32, 33])}),
        ),
        (
            "Port",
            23,
            json!({"name": "eth3", "interfaces": set(&[34]), "tag": 10}),
        ),
        (
            "Port",
            24,
            json!({"name": "vlan10", "interfaces": set(&[35]), "tag": 10, "fake_bridge": true}),
        ),
        ("Interface", 30, json!({"name": "br0", "type": "internal"})),
        ("Interface", 31, json!({"name": "eth0", "type": ""})),
        ("Interface", 32, json!({"name": "eth1"})),
        ("Interface", 33, json!({"name": "eth2"})),
        ("Interface", 34, json!({"name": "eth3"})),
        (
            "Interface",
            35,
            json!({"name": "vlan10", "type": "internal"}),
        ),
    ]
}

#[test]
fn rows_become_the_models_configuration() {
    let state = DbState::from_replica(&replica(&sample_rows())).unwrap();
    assert!(state.problems.is_empty(), "{:?}", state.problems);
    assert_eq!(state.config, crate::model::tests::sample());
    assert_eq!((state.next_cfg, state.cur_cfg), (7, 6));
    assert_eq!(state.root, Some(uuid(1)));
    assert_eq!(state.bridges["br0"].uuid, uuid(10));
    assert_eq!(state.ports["bond0"].interfaces.len(), 2);
    assert_eq!(state.interfaces["eth2"], uuid(33));
}

#[test]
fn an_empty_database_is_an_empty_configuration() {
    let state = DbState::from_replica(&Replica::default()).unwrap();
    assert_eq!(state.root, None);
    assert!(state.config.is_empty());
    let rows = [("Open_vSwitch", 1, json!({"bridges": set(&[])}))];
    let state = DbState::from_replica(&replica(&rows)).unwrap();
    assert_eq!(state.root, Some(uuid(1)));
    assert!(state.config.is_empty());
    let two = [
        ("Open_vSwitch", 1, json!({})),
        ("Open_vSwitch", 2, json!({})),
    ];
    assert!(DbState::from_replica(&replica(&two)).is_err());
}

#[test]
fn a_bridge_without_its_local_port_still_has_one() {
    let rows = [
        ("Open_vSwitch", 1, json!({"bridges": set(&[10])})),
        ("Bridge", 10, json!({"name": "br0", "ports": set(&[21])})),
        (
            "Port",
            21,
            json!({"name": "eth0", "interfaces": set(&[31])}),
        ),
        ("Interface", 31, json!({"name": "eth0"})),
    ];
    let state = DbState::from_replica(&replica(&rows)).unwrap();
    let ports: Vec<&str> = state
        .config
        .bridge("br0")
        .unwrap()
        .ports()
        .map(Port::name)
        .collect();
    assert_eq!(ports, ["br0", "eth0"]);
    // Nothing to do, so no transaction touches it.
    let same = state.config.clone();
    assert!(plan(&state, &same, &PlanOptions::default()).is_empty());
}

#[test]
fn rows_the_model_refuses_are_left_out_and_reported() {
    let rows = [
        ("Open_vSwitch", 1, json!({"bridges": set(&[10, 11, 12])})),
        (
            "Bridge",
            10,
            json!({"name": "br0", "ports": set(&[21, 22, 23, 24])}),
        ),
        ("Bridge", 11, json!({"name": "br1", "ports": set(&[25])})),
        // A name longer than an interface name may be.
        (
            "Bridge",
            12,
            json!({"name": "a-very-long-bridge-name", "ports": set(&[])}),
        ),
        (
            "Port",
            21,
            json!({"name": "eth0", "interfaces": set(&[31])}),
        ),
        // A fake bridge without a tag.
        (
            "Port",
            22,
            json!({"name": "fake", "interfaces": set(&[32]), "fake_bridge": true}),
        ),
        // eth0 again, in a bond on another bridge.
        (
            "Port",
            25,
            json!({"name": "bond0", "interfaces": set(&[31, 35])}),
        ),
        // A reference to a row that is not there.
        (
            "Port",
            24,
            json!({"name": "eth9", "interfaces": set(&[39])}),
        ),
        (
            "Port",
            23,
            json!({"name": "eth3", "interfaces": set(&[33])}),
        ),
        ("Interface", 31, json!({"name": "eth0"})),
        ("Interface", 32, json!({"name": "fake"})),
        ("Interface", 33, json!({"name": "eth3"})),
        ("Interface", 35, json!({"name": "eth5"})),
    ];
    let state = DbState::from_replica(&replica(&rows)).unwrap();
    let all = state.problems.join("\n");
    assert_eq!(state.problems.len(), 4, "{all}");
    for needle in [
        "a-very-long",
        "fake bridge fake",
        "no tag",
        "port bond0 on br1",
        "eth9",
    ] {
        assert!(all.contains(needle), "{needle} not in {all}");
    }
    let br0: Vec<&str> = state
        .config
        .bridge("br0")
        .unwrap()
        .ports()
        .map(Port::name)
        .collect();
    assert_eq!(br0, ["br0", "eth0", "eth3"]);
    assert_eq!(state.config.bridge("br1").unwrap().ports().count(), 1);
}

// --- An interpreter of the operations the plans use. ---------------------

/// The database as tables of JSON rows (the monitor's encoding), keyed by
/// UUID number.
#[derive(Debug, Clone, Default)]
struct Db {
    tables: BTreeMap<String, BTreeMap<Uuid, serde_json::Map<String, Value>>>,
    next: u32,
}

impl Db {
    fn from_rows(rows: &[(&str, u32, Value)]) -> Db {
        let mut db = Db {
            next: 1000,
            ..Db::default()
        };
        for (t, n, row) in rows {
            let Value::Object(o) = row.clone() else {
                panic!()
            };
            db.tables
                .entry(t.to_string())
                .or_default()
                .insert(uuid(*n), o);
        }
        db
    }

    fn replica(&self) -> Replica {
        let mut update = serde_json::Map::new();
        for (t, rows) in &self.tables {
            let mut out = serde_json::Map::new();
            for (u, row) in rows {
                out.insert(u.to_string(), json!({ "new": row }));
            }
            update.insert(t.clone(), Value::Object(out));
        }
        let mut r = Replica::default();
        r.apply_update(&Value::Object(update)).unwrap();
        r
    }

    fn state(&self) -> DbState {
        DbState::from_replica(&self.replica()).unwrap()
    }

    /// Runs a transaction; on the first failing operation, nothing
    /// changes and its index and error are returned.
    fn transact(&mut self, txn: &[Value]) -> Result<Vec<Value>, (usize, String)> {
        let mut work = self.clone();
        let mut named: BTreeMap<String, Uuid> = BTreeMap::new();
        let mut results = Vec::new();
        for (i, op) in txn.iter().enumerate() {
            let r = work.op(op, &mut named).map_err(|e| (i, e))?;
            results.push(r);
        }
        work.collect_garbage();
        work.check_indexes().map_err(|e| (txn.len(), e))?;
        *self = work;
        Ok(results)
    }

    fn resolve(v: &Value, named: &BTreeMap<String, Uuid>) -> Value {
        match v {
            Value::Array(a) if a.len() == 2 && a[0] == "named-uuid" => {
                let u = named[a[1].as_str().unwrap()];
                json!(["uuid", u.to_string()])
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| Db::resolve(x, named)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), Db::resolve(x, named)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn matching(&self, table: &str, where_: &Value, named: &BTreeMap<String, Uuid>) -> Vec<Uuid> {
        let conds = Db::resolve(where_, named);
        self.tables
            .get(table)
            .map(|rows| {
                rows.keys()
                    .filter(|u| {
                        conds.as_array().unwrap().iter().all(|c| {
                            assert_eq!(c[0], "_uuid", "only _uuid conditions: {c}");
                            assert_eq!(c[1], "==");
                            c[2][1].as_str().unwrap() == u.to_string()
                        })
                    })
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn atoms(v: &Value) -> Vec<Value> {
        match v {
            Value::Array(a) if a.len() == 2 && a[0] == "set" => a[1].as_array().unwrap().clone(),
            Value::Null => vec![],
            other => vec![other.clone()],
        }
    }

    fn op(&mut self, op: &Value, named: &mut BTreeMap<String, Uuid>) -> Result<Value, String> {
        let table = op["table"].as_str().unwrap_or("");
        match op["op"].as_str().unwrap() {
            "insert" => {
                self.next += 1;
                let u = uuid(self.next);
                if let Some(n) = op["uuid-name"].as_str() {
                    named.insert(n.to_owned(), u);
                }
                let Value::Object(row) = Db::resolve(&op["row"], named) else {
                    return Err("row".into());
                };
                self.tables.entry(table.into()).or_default().insert(u, row);
                Ok(json!({"uuid": ["uuid", u.to_string()]}))
            }
            "mutate" => {
                let rows = self.matching(table, &op["where"], named);
                for m in op["mutations"].as_array().unwrap() {
                    let m = Db::resolve(m, named);
                    let col = m[0].as_str().unwrap();
                    for u in &rows {
                        let row = self.tables.get_mut(table).unwrap().get_mut(u).unwrap();
                        match m[1].as_str().unwrap() {
                            "+=" => {
                                let n = row.get(col).and_then(Value::as_i64).unwrap_or(0);
                                row.insert(col.into(), json!(n + m[2].as_i64().unwrap()));
                            }
                            mutator @ ("insert" | "delete") => {
                                let mut atoms = Db::atoms(row.get(col).unwrap_or(&Value::Null));
                                for a in Db::atoms(&m[2]) {
                                    atoms.retain(|x| *x != a);
                                    if mutator == "insert" {
                                        atoms.push(a);
                                    }
                                }
                                row.insert(col.into(), json!(["set", atoms]));
                            }
                            other => return Err(format!("mutator {other}")),
                        }
                    }
                }
                Ok(json!({"count": rows.len()}))
            }
            "update" => {
                let rows = self.matching(table, &op["where"], named);
                for u in &rows {
                    let row = self.tables.get_mut(table).unwrap().get_mut(u).unwrap();
                    for (k, x) in op["row"].as_object().unwrap() {
                        row.insert(k.clone(), Db::resolve(x, named));
                    }
                }
                Ok(json!({"count": rows.len()}))
            }
            "wait" => {
                assert_eq!(op["timeout"], 0);
                assert_eq!(op["until"], "==");
                let rows = self.matching(table, &op["where"], named);
                let want = op["rows"].as_array().unwrap();
                let got: Vec<Value> = rows
                    .iter()
                    .map(|u| {
                        let row = &self.tables[table][u];
                        let mut out = serde_json::Map::new();
                        for c in op["columns"].as_array().unwrap() {
                            let c = c.as_str().unwrap();
                            if c == "_uuid" {
                                out.insert(c.into(), json!(["uuid", u.to_string()]));
                                continue;
                            }
                            let mut atoms: Vec<String> =
                                Db::atoms(&row[c]).iter().map(Value::to_string).collect();
                            atoms.sort();
                            out.insert(c.into(), json!(atoms));
                        }
                        Value::Object(out)
                    })
                    .collect();
                let want: Vec<Value> = want
                    .iter()
                    .map(|r| {
                        let mut out = serde_json::Map::new();
                        for (c, x) in r.as_object().unwrap() {
                            let mut atoms: Vec<String> =
                                Db::atoms(x).iter().map(Value::to_string).collect();
                            atoms.sort();
                            out.insert(c.clone(), json!(atoms));
                        }
                        Value::Object(out)
                    })
                    .collect();
                if got == want {
                    Ok(json!({}))
                } else {
                    Err("timed out".into())
                }
            }
            "select" => {
                let rows = self.matching(table, &op["where"], named);
                let out: Vec<Value> = rows
                    .iter()
                    .map(|u| {
                        let row = &self.tables[table][u];
                        let mut o = serde_json::Map::new();
                        for c in op["columns"].as_array().unwrap() {
                            let c = c.as_str().unwrap();
                            o.insert(c.into(), row.get(c).cloned().unwrap_or(json!(0)));
                        }
                        Value::Object(o)
                    })
                    .collect();
                Ok(json!({ "rows": out }))
            }
            "comment" => Ok(json!({})),
            other => Err(format!("op {other} not used by plans")),
        }
    }

    fn referenced(&self, table: &str, column: &str) -> BTreeSet<String> {
        self.tables
            .get(table)
            .into_iter()
            .flat_map(|rows| rows.values())
            .flat_map(|r| Db::atoms(r.get(column).unwrap_or(&Value::Null)))
            .filter_map(|a| a[1].as_str().map(str::to_owned))
            .collect()
    }

    /// Bridge, Port and Interface rows nobody refers to are deleted, as
    /// OVSDB does for tables that are not root tables.
    fn collect_garbage(&mut self) {
        for (table, parent, column) in [
            ("Bridge", "Open_vSwitch", "bridges"),
            ("Port", "Bridge", "ports"),
            ("Interface", "Port", "interfaces"),
        ] {
            let live = self.referenced(parent, column);
            if let Some(rows) = self.tables.get_mut(table) {
                rows.retain(|u, _| live.contains(&u.to_string()));
            }
        }
    }

    /// The schema's indexes: names unique in each table.
    fn check_indexes(&self) -> Result<(), String> {
        for table in ["Bridge", "Port", "Interface"] {
            let mut seen = BTreeSet::new();
            for row in self.tables.get(table).into_iter().flat_map(|r| r.values()) {
                if !seen.insert(row["name"].to_string()) {
                    return Err("constraint violation".into());
                }
            }
        }
        Ok(())
    }

    fn count(&self, table: &str) -> usize {
        self.tables.get(table).map_or(0, BTreeMap::len)
    }

    fn row_named(&self, table: &str, name: &str) -> &serde_json::Map<String, Value> {
        self.tables[table]
            .values()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no {table} {name}"))
    }
}

/// Applies `change` to `db` as the backend does: the model's new
/// configuration, the plan, the transaction.
fn run(db: &mut Db, change: &Change, options: &PlanOptions) -> Result<Vec<Value>, (usize, String)> {
    let state = db.state();
    let mut new = state.config.clone();
    new.apply(change).expect("a change the model accepts");
    let ops = plan(&state, &new, options);
    if ops.is_empty() {
        return Ok(vec![]);
    }
    let results = db.transact(&finish(&state, ops, "test"))?;
    assert_eq!(db.state().config, new, "after {change:?}");
    Ok(results)
}

fn add_bridge(name: &str) -> Change {
    Change::AddBridge { name: name.into() }
}

fn addif(bridge: &str, interface: &str) -> Change {
    Change::AddInterface {
        bridge: bridge.into(),
        interface: interface.into(),
    }
}

fn delif(bridge: &str, interface: &str) -> Change {
    Change::DeleteInterface {
        bridge: bridge.into(),
        interface: interface.into(),
    }
}

#[test]
fn add_bridge_inserts_rows_and_bumps_next_cfg() {
    let mut db = Db::from_rows(&sample_rows());
    let options = PlanOptions {
        datapath_type: Some("netdev".into()),
    };
    let results = run(&mut db, &add_bridge("br1"), &options).unwrap();
    assert_eq!(next_cfg_of(&results), Some(8));
    let br = db.row_named("Bridge", "br1");
    assert_eq!(br["datapath_type"], "netdev");
    assert_eq!(db.row_named("Interface", "br1")["type"], "internal");
    assert_eq!(db.count("Bridge"), 2);
    // The existing bridge's rows were not rewritten.
    assert!(db.tables["Bridge"].contains_key(&uuid(10)));
}

#[test]
fn a_database_nobody_initialised_gets_its_row() {
    let mut db = Db::from_rows(&[]);
    let results = run(&mut db, &add_bridge("br0"), &PlanOptions::default()).unwrap();
    assert_eq!(next_cfg_of(&results), Some(1));
    assert_eq!(db.count("Open_vSwitch"), 1);
    assert!(!db.row_named("Bridge", "br0").contains_key("datapath_type"));
    // The guard: someone else initialised it meanwhile.
    let mut raced = Db::from_rows(&[]);
    let state = raced.state();
    let mut new = state.config.clone();
    new.add_bridge("br0").unwrap();
    let txn = finish(&state, plan(&state, &new, &PlanOptions::default()), "t");
    raced
        .transact(&[ops::insert("Open_vSwitch", json!({}), None)])
        .unwrap();
    assert_eq!(raced.transact(&txn).unwrap_err().1, "timed out");
}

#[test]
fn ports_bonds_fake_bridges_and_deletes() {
    let mut db = Db::from_rows(&sample_rows());
    let o = PlanOptions::default();
    let changes = [
        addif("vlan10", "eth4"),
        Change::AddPort {
            bridge: "br0".into(),
            port: "bond1".into(),
            interfaces: vec!["eth5".into(), "eth6".into()],
            tag: Some(v(20)),
        },
        Change::AddFakeBridge {
            name: "vlan20".into(),
            parent: "br0".into(),
            tag: v(20),
        },
        delif("br0", "eth1"),
        Change::Prune {
            interfaces: vec!["eth0".into(), "eth6".into()],
        },
        Change::DeleteBridge {
            name: "vlan10".into(),
        },
    ];
    run(&mut db, &changes[0], &o).unwrap();
    assert_eq!(db.row_named("Port", "eth4")["tag"], 10);
    for c in &changes[1..] {
        run(&mut db, c, &o).unwrap();
    }
    assert_eq!(db.row_named("Port", "vlan20")["fake_bridge"], true);
    assert_eq!(db.row_named("Interface", "vlan20")["type"], "internal");
    assert!(!db.row_named("Interface", "eth5").contains_key("type"));
    // Deleted ports and interfaces are gone (unreferenced), not left over.
    assert_eq!(db.count("Port"), 4, "br0, bond0, bond1, vlan20");
    assert_eq!(db.count("Interface"), 4, "br0, eth2, eth5, vlan20");
    run(&mut db, &Change::DeleteBridge { name: "br0".into() }, &o).unwrap();
    assert_eq!(
        (db.count("Bridge"), db.count("Port"), db.count("Interface")),
        (0, 0, 0)
    );
}

#[test]
fn a_concurrent_change_fails_the_transaction() {
    let o = PlanOptions::default();
    // Each: what someone else does between our read and our transaction.
    let others: Vec<(Change, Change)> = vec![
        // They add a port to the bridge we add a port to.
        (addif("br0", "eth7"), addif("br0", "eth8")),
        // They add a bridge; we add another.
        (add_bridge("br7"), add_bridge("br8")),
        // They remove an interface of the bond we change.
        (delif("br0", "eth2"), delif("br0", "eth1")),
        // They add a port to the bridge we delete.
        (
            addif("br0", "eth7"),
            Change::DeleteBridge { name: "br0".into() },
        ),
    ];
    for (theirs, ours) in others {
        let mut db = Db::from_rows(&sample_rows());
        let state = db.state();
        let mut new = state.config.clone();
        new.apply(&ours).unwrap();
        let txn = finish(&state, plan(&state, &new, &o), "ours");
        run(&mut db, &theirs, &o).unwrap();
        let before = db.state().config;
        let (index, error) = db.transact(&txn).unwrap_err();
        assert_eq!(error, "timed out", "{ours:?} after {theirs:?}");
        assert_eq!(txn[index]["op"], "wait");
        assert_eq!(db.state().config, before, "nothing of ours applied");
        // Computed again on the newer rows, it goes through.
        run(&mut db, &ours, &o).unwrap();
    }
}

#[test]
fn the_same_name_added_elsewhere_is_refused_by_the_index() {
    let o = PlanOptions::default();
    let mut db = Db::from_rows(&sample_rows());
    run(&mut db, &add_bridge("br1"), &o).unwrap();
    let state = db.state();
    let mut new = state.config.clone();
    new.add_interface("br0", "eth9").unwrap();
    let txn = finish(&state, plan(&state, &new, &o), "ours");
    run(&mut db, &addif("br1", "eth9"), &o).unwrap();
    assert!(db.transact(&txn).is_err());
}

#[test]
fn a_lost_outcome_is_decided_by_the_rows() {
    let base = crate::model::tests::sample();
    let mut new = base.clone();
    new.add_interface("br0", "eth9").unwrap();
    // Applied: the effect is there, even with someone else's change beside.
    assert!(shows_change(&base, &new, &new));
    let mut theirs = new.clone();
    theirs.add_bridge("br5").unwrap();
    theirs.delete_interface("br0", "eth0").unwrap();
    assert!(shows_change(&base, &new, &theirs));
    // Not applied.
    assert!(!shows_change(&base, &new, &base));
    // Deleting a bridge: applied when it is gone.
    let mut gone = base.clone();
    gone.delete_bridge("br0").unwrap();
    assert!(shows_change(&base, &gone, &gone));
    assert!(!shows_change(&base, &gone, &base));
    // Nothing to do shows as done.
    assert!(shows_change(&base, &base, &Config::new()));
}

/// A random change on a small set of names.
fn change_strategy() -> impl Strategy<Value = Change> {
    let name = prop::sample::select(vec!["br0", "br1", "vl5", "eth0", "eth1", "eth2", "bond0"]);
    let s = |n: &str| n.to_owned();
    prop_oneof![
        name.clone()
            .prop_map(move |n| Change::AddBridge { name: s(n) }),
        name.clone()
            .prop_map(move |n| Change::DeleteBridge { name: s(n) }),
        (name.clone(), name.clone(), 1u32..4).prop_map(move |(n, p, t)| Change::AddFakeBridge {
            name: s(n),
            parent: s(p),
            tag: VlanId::new(t).unwrap(),
        }),
        (name.clone(), name.clone()).prop_map(move |(b, i)| Change::AddInterface {
            bridge: s(b),
            interface: s(i),
        }),
        (
            name.clone(),
            name.clone(),
            name.clone(),
            name.clone(),
            prop::option::of(1u32..4)
        )
            .prop_map(move |(b, p, i, j, t)| Change::AddPort {
                bridge: s(b),
                port: s(p),
                interfaces: vec![s(i), s(j)],
                tag: t.map(|t| VlanId::new(t).unwrap()),
            }),
        (name.clone(), name.clone()).prop_map(move |(b, i)| Change::DeleteInterface {
            bridge: s(b),
            interface: s(i),
        }),
        prop::collection::vec(name, 0..3).prop_map(move |ns| Change::Prune {
            interfaces: ns.into_iter().map(s).collect(),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the model accepts, the plan makes the database say: the
    /// rows read back are the model's new configuration, and no row is
    /// left over.
    #[test]
    fn plans_do_what_the_model_says(changes in prop::collection::vec(change_strategy(), 1..12)) {
        let mut db = Db::from_rows(&[]);
        let o = PlanOptions { datapath_type: Some("netdev".into()) };
        for c in &changes {
            let mut new = db.state().config;
            if new.apply(c).is_err() {
                continue;
            }
            run(&mut db, c, &o).unwrap();
        }
        let config = db.state().config;
        let ports: usize = config.bridges().map(|b| b.ports().count()).sum();
        let ifaces: usize = config
            .bridges()
            .flat_map(|b| b.ports())
            .map(|p| p.interfaces().count())
            .sum();
        prop_assert_eq!(db.count("Bridge"), config.bridges().count());
        prop_assert_eq!(db.count("Port"), ports);
        prop_assert_eq!(db.count("Interface"), ifaces);
    }
}

#[test]
fn ports_that_are_no_host_device_are_left_alone() {
    let mut rows = sample_rows();
    rows[0].2 = json!({"bridges": set(&[10, 11]), "next_cfg": 7, "cur_cfg": 6});
    rows.extend([
        (
            "Bridge",
            11,
            json!({"name": "br1", "ports": set(&[25, 26])}),
        ),
        ("Port", 25, json!({"name": "br1", "interfaces": set(&[36])})),
        ("Interface", 36, json!({"name": "br1", "type": "internal"})),
        // A tunnel and a patch port: no kernel device to prune by.
        ("Port", 26, json!({"name": "vx0", "interfaces": set(&[37])})),
        ("Interface", 37, json!({"name": "vx0", "type": "vxlan"})),
    ]);
    let mut db = Db::from_rows(&rows);
    let state = db.state();
    assert!(state.problems.is_empty(), "{:?}", state.problems);
    assert!(state.config.locate("vx0").is_none());
    assert_eq!(state.foreign["vx0"], "br1");
    // Changing the bridge keeps the tunnel.
    let o = PlanOptions::default();
    run(&mut db, &addif("br1", "eth9"), &o).unwrap();
    run(&mut db, &delif("br1", "eth9"), &o).unwrap();
    assert_eq!(db.row_named("Interface", "vx0")["type"], "vxlan");
    // Its name is taken.
    let state = db.state();
    for (change, errno) in [
        (addif("br0", "vx0"), libc::EBUSY),
        (add_bridge("vx0"), libc::EEXIST),
    ] {
        let mut new = state.config.clone();
        new.apply(&change).unwrap();
        let e = foreign_clash(&state, &new).expect("a clash");
        assert_eq!(e.errno(), errno, "{change:?}: {e}");
        assert!(e.to_string().contains("br1"), "{e}");
    }
    let mut new = state.config.clone();
    new.add_interface("br0", "eth9").unwrap();
    assert_eq!(foreign_clash(&state, &new), None);
    // Deleting the bridge takes it too, as ovs-vsctl del-br does.
    run(&mut db, &Change::DeleteBridge { name: "br1".into() }, &o).unwrap();
    assert!(db.tables["Interface"].values().all(|r| r["name"] != "vx0"));
}
