//! The client against real Open vSwitch 3.x programs: private
//! `ovsdb-server`s (ovs_client::testing), checked with `ovs-vsctl` and
//! `ovs-appctl`.

use ovs_client::testing::{Cluster, OvsdbServer};
use ovs_client::{ops, unixctl, Client, ClientOptions, Error, Remote, Replica, Uuid};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

fn options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
    .table("Open_vSwitch", &[])
    .table("Bridge", &["name", "ports", "external_ids"])
    .table("Port", &["name", "interfaces", "tag"])
    .table("Interface", &["name", "type"])
}

fn names(replica: &Replica, table: &str) -> BTreeSet<String> {
    replica
        .table(table)
        .filter_map(|(_, r)| r.string("name").map(str::to_string))
        .collect()
}

/// `ovs-vsctl list TABLE` as (uuid, name) pairs, from its JSON output.
fn vsctl_rows(server: &OvsdbServer, table: &str) -> BTreeSet<(Uuid, String)> {
    let out = server
        .vsctl(&["--format=json", "--columns=_uuid,name", "list", table])
        .unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let uuid = row[0][1].as_str().unwrap().parse().unwrap();
            (uuid, row[1].as_str().unwrap().to_string())
        })
        .collect()
}

fn our_rows(replica: &Replica, table: &str) -> BTreeSet<(Uuid, String)> {
    replica
        .table(table)
        .map(|(u, r)| (u, r.string("name").unwrap().to_string()))
        .collect()
}

fn list_br(vsctl: impl Fn(&[&str]) -> std::io::Result<String>) -> Vec<String> {
    vsctl(&["list-br"])
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Inserts bridge `name` with its local port and interface, as
/// `ovs-vsctl add-br` does, in one transaction.
fn add_bridge(client: &Client, name: &str) -> Result<Vec<Value>, Error> {
    let root = client
        .replica()
        .table("Open_vSwitch")
        .next()
        .map(|(u, _)| u)
        .expect("Open_vSwitch row");
    client.transact(
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
        ],
        Some(&format!("ovs-client test: add bridge {name}")),
    )
}

#[test]
fn replica_matches_vsctl_and_follows_updates() {
    let server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    server.vsctl(&["add-br", "br0"]).unwrap();
    server.vsctl(&["add-port", "br0", "p1"]).unwrap();
    let client = Client::connect(vec![server.remote()], options()).unwrap();
    assert!(client.is_connected());
    let replica = client.replica();
    for table in ["Bridge", "Port", "Interface"] {
        assert_eq!(
            our_rows(&replica, table),
            vsctl_rows(&server, table),
            "{table}"
        );
    }
    let root = server
        .vsctl(&["--format=json", "--columns=_uuid", "list", "Open_vSwitch"])
        .unwrap();
    let root: Value = serde_json::from_str(&root).unwrap();
    let root: Uuid = root["data"][0][0][1].as_str().unwrap().parse().unwrap();
    let row = replica.row("Open_vSwitch", root).expect("root row");
    let br0 = replica
        .table("Bridge")
        .find(|(_, r)| r.string("name") == Some("br0"))
        .unwrap();
    assert_eq!(row.uuids("bridges"), vec![br0.0]);
    assert_eq!(br0.1.uuids("ports").len(), 2);

    // Another client's transaction reaches the replica by notification.
    server.vsctl(&["add-br", "br9"]).unwrap();
    server.vsctl(&["set", "Port", "p1", "tag=42"]).unwrap();
    let replica = client
        .wait_until(Duration::from_secs(5), |r| {
            names(r, "Bridge").contains("br9")
                && r.table("Port").any(|(_, p)| p.integer("tag") == Some(42))
        })
        .unwrap();
    for table in ["Bridge", "Port", "Interface"] {
        assert_eq!(
            our_rows(&replica, table),
            vsctl_rows(&server, table),
            "{table}"
        );
    }
    server.vsctl(&["del-br", "br9"]).unwrap();
    let replica = client
        .wait_until(Duration::from_secs(5), |r| {
            !names(r, "Bridge").contains("br9")
        })
        .unwrap();
    assert_eq!(
        our_rows(&replica, "Interface"),
        vsctl_rows(&server, "Interface")
    );
}

#[test]
fn transact_is_seen_by_vsctl_and_errors_carry_details() {
    let server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let client = Client::connect(vec![server.remote()], options()).unwrap();
    let results = add_bridge(&client, "brx").unwrap();
    assert_eq!(results.len(), 4);
    let bridge: Uuid = results[2]["uuid"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(list_br(|a| server.vsctl(a)), vec!["brx"]);
    assert_eq!(server.vsctl(&["list-ports", "brx"]).unwrap(), "");
    assert_eq!(
        server
            .vsctl(&["get", "Bridge", "brx", "_uuid"])
            .unwrap()
            .trim(),
        bridge.to_string()
    );
    // Our own change reaches our replica too.
    client
        .wait_until(Duration::from_secs(5), |r| {
            r.row("Bridge", bridge).is_some()
        })
        .unwrap();

    // An operation's error: index and details.
    let err = client
        .transact(
            vec![
                ops::select("Bridge", vec![], None),
                ops::mutate(
                    "Bridge",
                    ops::where_uuid(bridge),
                    vec![ops::mutation("no_such_column", "insert", json!(1))],
                ),
            ],
            None,
        )
        .unwrap_err();
    match &err {
        Error::Transaction {
            index,
            error,
            details,
        } => {
            assert_eq!(*index, 1);
            assert_eq!(error, "unknown column");
            assert!(details.contains("no_such_column"), "{details}");
        }
        other => panic!("{other:?}"),
    }
    // A commit error (duplicate name: the Bridge index): index = ops.len().
    let err = add_bridge(&client, "brx").unwrap_err();
    match &err {
        Error::Transaction { index, error, .. } => {
            assert_eq!(*index, 4, "{err}");
            assert_eq!(error, "constraint violation");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(list_br(|a| server.vsctl(a)), vec!["brx"]);
    // Delete: the bridge reference goes, garbage collection removes rows.
    let root = client.replica().table("Open_vSwitch").next().unwrap().0;
    client
        .transact(
            vec![ops::mutate(
                "Open_vSwitch",
                ops::where_uuid(root),
                vec![ops::mutation(
                    "bridges",
                    "delete",
                    ops::set(vec![ops::uuid(bridge)]),
                )],
            )],
            Some("delete"),
        )
        .unwrap();
    assert!(list_br(|a| server.vsctl(a)).is_empty());
    client
        .wait_until(Duration::from_secs(5), |r| {
            r.table("Bridge").count() == 0 && r.table("Interface").count() == 0
        })
        .unwrap();
}

#[test]
fn unknown_table_or_database_is_a_schema_error() {
    let server = OvsdbServer::start().unwrap();
    let err = Client::connect(vec![server.remote()], options().table("Nope", &[])).unwrap_err();
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
    assert!(err.to_string().contains("no table Nope"), "{err}");
    let err =
        Client::connect(vec![server.remote()], options().table("Bridge", &["nope"])).unwrap_err();
    assert!(err.to_string().contains("no column nope"), "{err}");
    let opts = ClientOptions {
        database: "Nope".into(),
        ..options()
    };
    let err = Client::connect(vec![server.remote()], opts).unwrap_err();
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
}

#[test]
fn reconnects_after_server_restart() {
    let mut server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let client = Client::connect(vec![server.remote()], options()).unwrap();
    add_bridge(&client, "br1").unwrap();
    server.stop();
    // The background thread notices the closed connection.
    let start = Instant::now();
    while client.is_connected() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!client.is_connected());
    server.restart().unwrap();
    // Waits for the reconnection, then succeeds.
    add_bridge(&client, "br2").unwrap();
    assert_eq!(list_br(|a| server.vsctl(a)), vec!["br1", "br2"]);
    let replica = client.replica();
    assert_eq!(
        names(&replica, "Bridge"),
        ["br1", "br2"].map(String::from).into()
    );
    // A change made while we were away arrives with the new monitor.
    server.stop();
    while client.is_connected() {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.restart().unwrap();
    server.vsctl(&["del-br", "br1"]).unwrap();
    client
        .wait_until(Duration::from_secs(10), |r| {
            names(r, "Bridge") == ["br2"].map(String::from).into()
        })
        .unwrap();
}

#[test]
fn stopped_server_gives_a_timeout_error() {
    let mut server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let opts = ClientOptions {
        timeout: Duration::from_millis(500),
        ..options()
    };
    let client = Client::connect(vec![server.remote()], opts.clone()).unwrap();
    // Hung (SIGSTOP): the request times out.
    server.pause().unwrap();
    let err = add_bridge(&client, "br1").unwrap_err();
    match &err {
        Error::Timeout { remote, method, .. } => {
            assert_eq!(remote, &server.remote_spec());
            assert_eq!(method, "transact");
        }
        other => panic!("{other:?}"),
    }
    server.resume().unwrap();
    // Whether br1 was committed is unknown to us: ask.
    client
        .wait_until(Duration::from_secs(5), |r| {
            names(r, "Bridge").contains("br1")
        })
        .unwrap();
    add_bridge(&client, "br2").unwrap();
    // Gone: connect names the socket and the failure.
    server.stop();
    drop(client);
    let err = Client::connect(vec![server.remote()], opts).unwrap_err();
    match &err {
        Error::Timeout { remote, detail, .. } => {
            assert_eq!(remote, &server.remote_spec());
            assert!(detail.contains("connect"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains(&server.remote_spec()), "{text}");
}

#[test]
fn garbage_from_a_server_is_an_error() {
    let dir = ovs_client::testing::TempDir::new().unwrap();
    let path = dir.path().join("fake.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    listener.set_nonblocking(true).unwrap();
    let fake = std::thread::spawn(move || {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut s, _)) => {
                    let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n{\"not\": json");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    let opts = ClientOptions {
        timeout: Duration::from_millis(500),
        ..options()
    };
    let err = Client::connect(vec![Remote::Unix(path.clone())], opts).unwrap_err();
    match &err {
        Error::Timeout { detail, .. } => {
            assert!(
                detail.contains("protocol error: expected a JSON object"),
                "{detail}"
            )
        }
        other => panic!("{other:?}"),
    }
    // The connection type alone: the first receive reports it.
    let mut conn =
        ovs_client::jsonrpc::Connection::open(&Remote::Unix(path), Duration::from_secs(1)).unwrap();
    let err = conn
        .recv(Some(Instant::now() + Duration::from_secs(5)))
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    fake.join().unwrap();
}

#[test]
fn unixctl_against_ovsdb_server() {
    let server = OvsdbServer::start().unwrap();
    let ctl = server.control_socket();
    let t = Duration::from_secs(5);
    let ours = unixctl::call(ctl, "ovsdb-server/list-dbs", &[], t).unwrap();
    let appctl = std::process::Command::new("ovs-appctl")
        .arg("-t")
        .arg(ctl)
        .arg("ovsdb-server/list-dbs")
        .output()
        .unwrap();
    assert!(appctl.status.success());
    assert_eq!(ours, String::from_utf8(appctl.stdout).unwrap());
    assert!(ours.lines().any(|l| l == "Open_vSwitch"), "{ours}");
    let commands = unixctl::call(ctl, "list-commands", &[], t).unwrap();
    assert!(commands.contains("ovsdb-server/list-dbs"), "{commands}");
    // With parameters.
    let status = unixctl::call(
        ctl,
        "ovsdb-server/get-db-storage-status",
        &["Open_vSwitch"],
        t,
    )
    .unwrap();
    assert!(status.contains("status: ok"), "{status}");
    // The daemon's own error text, as ovs-appctl prints it.
    let err = unixctl::call(ctl, "no-such/command", &[], t).unwrap_err();
    let appctl = std::process::Command::new("ovs-appctl")
        .arg("-t")
        .arg(ctl)
        .arg("no-such/command")
        .output()
        .unwrap();
    assert!(!appctl.status.success());
    let appctl_err = String::from_utf8(appctl.stderr).unwrap();
    match &err {
        Error::Remote { text, method, .. } => {
            assert_eq!(method, "no-such/command");
            assert!(text.contains("is not a valid command"), "{text}");
            assert!(appctl_err.contains(text.trim()), "{appctl_err} vs {text}");
        }
        other => panic!("{other:?}"),
    }
    // A hung daemon: timeout naming the socket.
    server.pause().unwrap();
    let err = unixctl::call(ctl, "list-commands", &[], Duration::from_millis(300)).unwrap_err();
    server.resume().unwrap();
    match &err {
        Error::Timeout { remote, .. } => assert!(remote.contains(&ctl.display().to_string())),
        other => panic!("{other:?}"),
    }
}

/// Runs the leader-failure scenario: add a bridge, stop the leader with
/// `stop`, add another, and check each exists exactly once.
fn cluster_failover(stop: impl Fn(&mut Cluster, usize), how: &str) {
    let mut cluster = Cluster::start(3, 100).unwrap();
    cluster.vsctl(&["init"]).unwrap();
    let client = Client::connect(cluster.remotes(), options()).unwrap();
    let leader = cluster.leader().unwrap();
    assert_eq!(
        client.current_remote(),
        Some(cluster.remotes()[leader].clone()),
        "connected to the leader"
    );
    add_bridge(&client, "br-a").unwrap();
    stop(&mut cluster, leader);
    let start = Instant::now();
    let result = add_bridge(&client, "br-b");
    let took = start.elapsed();
    println!("cluster leader {how}: next transact took {took:?} ({result:?})");
    result.unwrap();
    let new_leader = cluster.leader().unwrap();
    assert_ne!(new_leader, leader);
    assert_eq!(
        client.current_remote(),
        Some(cluster.remotes()[new_leader].clone())
    );
    let mut seen = list_br(|a| cluster.vsctl(a));
    seen.sort();
    assert_eq!(seen, vec!["br-a", "br-b"]);
    client
        .wait_until(Duration::from_secs(5), |r| names(r, "Bridge").len() == 2)
        .unwrap();
    // The old leader comes back as a follower; we stay with the leader.
    cluster.restart(leader).unwrap();
    cluster.wait_ready(Duration::from_secs(10)).unwrap();
    add_bridge(&client, "br-c").unwrap();
    assert_eq!(list_br(|a| cluster.vsctl(a)).len(), 3);
}

#[test]
fn cluster_leader_killed() {
    cluster_failover(|c, i| c.kill(i), "killed (SIGKILL)");
}

#[test]
fn cluster_leader_terminated() {
    cluster_failover(|c, i| c.terminate(i).unwrap(), "terminated (SIGTERM)");
}

#[test]
fn cluster_unixctl_status() {
    let cluster = Cluster::start(3, 1000).unwrap();
    let leader = cluster.leader().unwrap();
    let status = unixctl::call(
        cluster.members()[leader].control_socket(),
        "cluster/status",
        &["Open_vSwitch"],
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(status.contains("Role: leader"), "{status}");
    assert!(status.contains(&cluster.members()[leader].raft), "{status}");
    let err = unixctl::call(
        cluster.members()[leader].control_socket(),
        "cluster/status",
        &["Nope"],
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Remote { .. }), "{err:?}");
}
