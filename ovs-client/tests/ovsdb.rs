//! The client against real Open vSwitch 3.x programs: private
//! `ovsdb-server`s (ovs_client::testing), checked with `ovs-vsctl` and
//! `ovs-appctl`.

use ovs_client::testing::{add_bridge_ops, Cluster, OvsdbServer};
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
        add_bridge_ops(root, name),
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
    // Our own change is in our replica when transact returns:
    // ovsdb-server sends a transaction's updates before its reply.
    assert!(client.replica().row("Bridge", bridge).is_some());

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
        timeout: Duration::from_secs(1),
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
    // Long enough for a first connection on a loaded machine: 500 ms was
    // once too short under two busy loops.
    let opts = ClientOptions {
        timeout: Duration::from_secs(3),
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

/// Runs the leader-failure scenario on a cluster with `election_timer_ms`:
/// add a bridge, stop the leader with `stop`, add another, and check each
/// exists exactly once.
fn cluster_failover(election_timer_ms: u64, stop: impl Fn(&mut Cluster, usize), how: &str) {
    let mut cluster = Cluster::start(3, election_timer_ms).unwrap();
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
    println!(
        "cluster leader {how} (election timer {election_timer_ms} ms): next transact took {took:?}"
    );
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
    assert_eq!(names(&client.replica(), "Bridge").len(), 2);
    // The old leader comes back as a follower; we stay with the leader.
    cluster.restart(leader).unwrap();
    cluster.wait_ready(Duration::from_secs(10)).unwrap();
    add_bridge(&client, "br-c").unwrap();
    assert_eq!(list_br(|a| cluster.vsctl(a)).len(), 3);
}

#[test]
fn cluster_leader_killed() {
    cluster_failover(100, |c, i| c.kill(i), "killed (SIGKILL)");
}

#[test]
fn cluster_leader_terminated() {
    cluster_failover(100, |c, i| c.terminate(i).unwrap(), "terminated (SIGTERM)");
}

#[test]
fn cluster_leader_exits() {
    // A graceful exit hands leadership over: no election timeout to wait.
    cluster_failover(1000, |c, i| c.exit(i).unwrap(), "exited (ovs-appctl exit)");
}

#[test]
fn cluster_hung_leader_is_left_for_the_new_one() {
    let cluster = Cluster::start(3, 100).unwrap();
    cluster.vsctl(&["init"]).unwrap();
    // No inactivity probe: only watching the other members can tell that
    // the silent leader is no longer the leader.
    let opts = ClientOptions {
        probe_interval: Duration::ZERO,
        ..options()
    };
    let client = Client::connect(cluster.remotes(), opts).unwrap();
    let leader = cluster.leader().unwrap();
    let old = cluster.remotes()[leader].clone();
    assert_eq!(client.current_remote(), Some(old.clone()));
    add_bridge(&client, "br-a").unwrap();
    cluster.pause(leader).unwrap();
    let start = Instant::now();
    let on_old = |r: Option<Remote>| r.as_ref().map_or(true, |r| *r == old);
    while on_old(client.current_remote()) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let moved = client.current_remote();
    let result = add_bridge(&client, "br-b");
    println!(
        "hung leader: moved to {moved:?} after {:?}",
        start.elapsed()
    );
    cluster.resume(leader).unwrap();
    assert!(moved.is_some_and(|r| r != old), "still on the hung leader");
    result.unwrap();
    cluster.wait_ready(Duration::from_secs(10)).unwrap();
    let mut seen = list_br(|a| cluster.vsctl(a));
    seen.sort();
    assert_eq!(seen, vec!["br-a", "br-b"]);
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

#[test]
fn server_echo_probes_are_answered() {
    // The server probes a Manager connection every second and drops it
    // after two unanswered probes.
    let server =
        OvsdbServer::start_with(&["--remote=db:Open_vSwitch,Open_vSwitch,manager_options"])
            .unwrap();
    let managed = server.dir().join("managed.sock");
    let target = format!("punix:{}", managed.display());
    server.vsctl(&["init"]).unwrap();
    server.vsctl(&["set-manager", &target]).unwrap();
    server
        .vsctl(&["set", "Manager", ".", "inactivity_probe=1000"])
        .unwrap();
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(&managed).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no manager socket"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Our own probe off: only the server's echoes cross the idle connection.
    let opts = ClientOptions {
        probe_interval: Duration::ZERO,
        ..options()
    };
    let client = Client::connect(vec![Remote::Unix(managed)], opts).unwrap();
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(client.connection_count(), 1, "the server dropped us");
    add_bridge(&client, "br1").unwrap();
    assert_eq!(list_br(|a| server.vsctl(a)), vec!["br1"]);
}

#[test]
fn hung_server_is_dropped_by_our_probe() {
    let server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let opts = ClientOptions {
        probe_interval: Duration::from_millis(200),
        timeout: Duration::from_secs(3),
        ..options()
    };
    let client = Client::connect(vec![server.remote()], opts).unwrap();
    server.pause().unwrap();
    let start = Instant::now();
    while client.is_connected() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let dropped = !client.is_connected();
    server.resume().unwrap();
    assert!(dropped, "a silent server was not dropped");
    add_bridge(&client, "br1").unwrap();
    assert!(client.connection_count() >= 2);
}

#[test]
fn cluster_without_leader_only_uses_any_member() {
    let cluster = Cluster::start(3, 1000).unwrap();
    cluster.vsctl(&["init"]).unwrap();
    let leader = cluster.leader().unwrap();
    let follower = (leader + 1) % 3;
    let opts = ClientOptions {
        leader_only: false,
        ..options()
    };
    let client = Client::connect(vec![cluster.remotes()[follower].clone()], opts).unwrap();
    // A follower relays the transaction to the leader.
    add_bridge(&client, "br1").unwrap();
    assert_eq!(list_br(|a| cluster.vsctl(a)), vec!["br1"]);
    // With leader_only, the same single follower never qualifies.
    let opts = ClientOptions {
        timeout: Duration::from_millis(500),
        ..options()
    };
    let err = Client::connect(vec![cluster.remotes()[follower].clone()], opts).unwrap_err();
    match &err {
        Error::Timeout { detail, .. } => {
            assert!(detail.contains("not the cluster leader"), "{err}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_waiting_caller_cuts_the_reconnect_backoff_short() {
    let mut server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let opts = ClientOptions {
        timeout: Duration::from_secs(2),
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        ..options()
    };
    let client = Client::connect(vec![server.remote()], opts).unwrap();
    server.stop();
    // Failed attempts about 1 s, 3 s and 7 s after the loss: the backoff is
    // 4 s long when the server comes back.
    std::thread::sleep(Duration::from_secs(4));
    assert!(!client.is_connected());
    server.restart().unwrap();
    // Within our 2 s timeout only if the waiting call wakes the reconnection.
    add_bridge(&client, "br1").unwrap();
    assert_eq!(list_br(|a| server.vsctl(a)), vec!["br1"]);
}

#[test]
fn transact_and_wait_returns_when_cur_cfg_catches_up() {
    let server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let client = Client::connect(vec![server.remote()], options()).unwrap();
    // Nobody applies configurations here (no ovs-vswitchd): a timeout that
    // says so, though the transaction itself was committed.
    let err = client
        .transact_and_wait(
            vec![ops::comment("first")],
            None,
            Duration::from_millis(300),
        )
        .unwrap_err();
    match &err {
        Error::Timeout { method, detail, .. } => {
            assert_eq!(method, "wait for ovs-vswitchd to apply next_cfg 1");
            assert!(detail.contains("cur_cfg is 0"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // A stand-in for ovs-vswitchd sets cur_cfg to next_cfg after a while;
    // the call returns then, not before.
    let dir = server.dir().to_path_buf();
    let db = server.remote_spec();
    let applier = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let next = ovs_client::testing::vsctl(&db, &["get", "Open_vSwitch", ".", "next_cfg"], &dir)
            .unwrap();
        let set = format!("cur_cfg={}", next.trim());
        ovs_client::testing::vsctl(&db, &["set", "Open_vSwitch", ".", &set], &dir).unwrap();
        next.trim().parse::<i64>().unwrap()
    });
    let root = client.replica().single("Open_vSwitch").unwrap().0;
    let results = client
        .transact_and_wait(
            vec![ops::mutate(
                "Open_vSwitch",
                ops::where_uuid(root),
                vec![ops::mutation(
                    "external_ids",
                    "insert",
                    ops::string_map([("k", "v")]),
                )],
            )],
            Some("transact_and_wait"),
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(results, vec![json!({"count": 1})]);
    let row = client.replica().row("Open_vSwitch", root).unwrap().clone();
    assert_eq!(row.integer("cur_cfg"), Some(2));
    assert_eq!(row.integer("next_cfg"), Some(2));
    assert_eq!(applier.join().unwrap(), 2);
}

#[test]
fn tcp_remotes() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ptcp = format!("--remote=ptcp:{port}:127.0.0.1");
    let server = OvsdbServer::start_with(&[&ptcp]).unwrap();
    server.vsctl(&["init"]).unwrap();
    let spec = format!("tcp:127.0.0.1:{port}");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "no TCP listener");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A dead remote first in the list: the next one is used.
    let remotes = ovs_client::parse_remotes(&format!("unix:/nonexistent/db.sock,{spec}")).unwrap();
    let client = Client::connect(remotes, options()).unwrap();
    assert_eq!(client.current_remote(), Some(spec.parse().unwrap()));
    add_bridge(&client, "br-tcp").unwrap();
    let out = ovs_client::testing::vsctl(&spec, &["list-br"], server.dir()).unwrap();
    assert_eq!(out, "br-tcp\n");
}

#[test]
fn concurrent_transactions_from_many_threads() {
    let server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let client = Client::connect(vec![server.remote()], options()).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let client = &client;
            s.spawn(move || {
                for i in 0..20 {
                    add_bridge(client, &format!("b{t}-{i}")).unwrap();
                }
            });
        }
    });
    let listed: BTreeSet<String> = list_br(|a| server.vsctl(a)).into_iter().collect();
    let expected: BTreeSet<String> = (0..8)
        .flat_map(|t| (0..20).map(move |i| format!("b{t}-{i}")))
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(names(&client.replica(), "Bridge"), expected);
}

#[test]
fn connection_lost_before_the_reply_is_disconnected() {
    let mut server = OvsdbServer::start().unwrap();
    server.vsctl(&["init"]).unwrap();
    let client = Client::connect(vec![server.remote()], options()).unwrap();
    // Frozen, the server takes the request into its socket but never
    // answers; then it dies.
    server.pause().unwrap();
    let err = std::thread::scope(|s| {
        let waiting = s.spawn(|| add_bridge(&client, "br1"));
        std::thread::sleep(Duration::from_millis(200));
        server.stop();
        waiting.join().unwrap()
    })
    .unwrap_err();
    match &err {
        Error::Disconnected { remote, method } => {
            assert_eq!(remote, &server.remote_spec());
            assert_eq!(method, "transact");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("outcome unknown"), "{err}");
}
