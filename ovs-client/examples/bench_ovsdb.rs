//! Benchmark of the OVSDB client's persistent connection against
//! `ovs-vsctl --no-wait`, in the same run, on private `ovsdb-server`s.
//!
//! ```sh
//! cargo build --release -p ovs-client --examples && target/release/examples/bench_ovsdb
//! ```
//!
//! Options: `--rounds N` (interleaved rounds of the round-trip part, default
//! 100), `--failover N` (rounds of the cluster part, default 5; 0 skips it).
//!
//! What it measures, medians:
//! - round trips on a standalone server, each round running every variant
//!   once in an order that rotates from round to round: adding a bridge
//!   (Interface, Port and Bridge rows inserted with named UUIDs and
//!   `Open_vSwitch.bridges` mutated, in one transaction: what `ovs-vsctl
//!   add-br` commits) and deleting it again (the `bridges` mutation), through
//!   `Client::transact`, and the same with `ovs-vsctl --no-wait add-br` /
//!   `del-br` processes; spawning `/bin/true` (the floor of any process).
//! - failover on a three-member cluster, the leader killed (SIGKILL,
//!   election timer 100 ms) or stopped with `ovs-appctl exit` (which hands
//!   leadership over; default 1 s timer): how long until a member reports
//!   itself leader (`cluster/status`, polled every 5 ms), how long our next
//!   transaction takes, and how long `ovs-vsctl --retry add-br` started at
//!   the same moment on a twin cluster takes.
//!
//! It prints numbers; it asserts nothing about them.

use ovs_client::testing::{add_bridge_ops, Cluster, OvsdbServer};
use ovs_client::{ops, Client, ClientOptions, Uuid};
use std::process::Command;
use std::time::{Duration, Instant};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn root(client: &Client) -> Uuid {
    let replica = client.replica();
    let root = replica.table("Open_vSwitch").next().map(|(u, _)| u);
    root.expect("an Open_vSwitch row (ovs-vsctl init)")
}

fn add_bridge(client: &Client, name: &str) -> Uuid {
    let results = client
        .transact(
            add_bridge_ops(root(client), name),
            Some("bench_ovsdb: add-br"),
        )
        .expect("add bridge");
    results[2]["uuid"][1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("bridge uuid")
}

fn del_bridge(client: &Client, bridge: Uuid) {
    client
        .transact(
            vec![ops::mutate(
                "Open_vSwitch",
                ops::where_uuid(root(client)),
                vec![ops::mutation(
                    "bridges",
                    "delete",
                    ops::set(vec![ops::uuid(bridge)]),
                )],
            )],
            Some("bench_ovsdb: del-br"),
        )
        .expect("delete bridge");
}

fn options() -> ClientOptions {
    ClientOptions::default()
        .table("Open_vSwitch", &["bridges"])
        .table("Bridge", &["name", "ports"])
}

fn round_trips(rounds: usize) {
    let server = OvsdbServer::start().expect("ovsdb-server");
    server.vsctl(&["init"]).expect("ovs-vsctl init");
    let client = Client::connect(vec![server.remote()], options()).expect("connect");
    let (mut ours_add, mut ours_del, mut vsctl_add, mut vsctl_del, mut spawn) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        for k in 0..3 {
            match (round + k) % 3 {
                0 => {
                    let t = Instant::now();
                    let b = add_bridge(&client, "bench0");
                    ours_add.push(t.elapsed());
                    let t = Instant::now();
                    del_bridge(&client, b);
                    ours_del.push(t.elapsed());
                }
                1 => {
                    let t = Instant::now();
                    server
                        .vsctl(&["add-br", "bench1"])
                        .expect("ovs-vsctl add-br");
                    vsctl_add.push(t.elapsed());
                    let t = Instant::now();
                    server
                        .vsctl(&["del-br", "bench1"])
                        .expect("ovs-vsctl del-br");
                    vsctl_del.push(t.elapsed());
                }
                _ => {
                    let t = Instant::now();
                    let ok = Command::new("/bin/true")
                        .status()
                        .is_ok_and(|s| s.success());
                    assert!(ok, "/bin/true failed");
                    spawn.push(t.elapsed());
                }
            }
        }
    }
    let (oa, od, va, vd, sp) = (
        median(&mut ours_add),
        median(&mut ours_del),
        median(&mut vsctl_add),
        median(&mut vsctl_del),
        median(&mut spawn),
    );
    println!("round trips on a standalone ovsdb-server, {rounds} interleaved rounds (medians):");
    println!(
        "  add bridge: Client::transact {:>12}   ovs-vsctl --no-wait add-br {:>12}   ratio {:.1}x",
        ms(oa),
        ms(va),
        va.as_secs_f64() / oa.as_secs_f64()
    );
    println!(
        "  del bridge: Client::transact {:>12}   ovs-vsctl --no-wait del-br {:>12}   ratio {:.1}x",
        ms(od),
        ms(vd),
        vd.as_secs_f64() / od.as_secs_f64()
    );
    println!("  spawning /bin/true: {}", ms(sp));
}

/// How the leader goes away.
#[derive(Clone, Copy)]
enum Stop {
    Kill,
    Exit,
}

/// Stops the leader; returns its index and when it was gone.
fn stop_leader(cluster: &mut Cluster, how: Stop) -> (usize, Instant) {
    let leader = cluster.leader().expect("a leader");
    match how {
        Stop::Kill => cluster.kill(leader),
        Stop::Exit => cluster.exit(leader).expect("ovs-appctl exit"),
    }
    (leader, Instant::now())
}

fn wait_new_leader(cluster: &Cluster, old: usize) -> Instant {
    loop {
        let found = cluster
            .members()
            .iter()
            .enumerate()
            .any(|(i, m)| i != old && m.is_leader());
        if found {
            return Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn failover(rounds: usize, how: Stop, timer_ms: u64, what: &str) {
    let (mut election, mut ours, mut vsctl) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        let mut cluster = Cluster::start(3, timer_ms).expect("cluster");
        cluster.vsctl(&["init"]).expect("ovs-vsctl init");
        let client = Client::connect(cluster.remotes(), options()).expect("connect");
        add_bridge(&client, "before");
        let (old, gone) = stop_leader(&mut cluster, how);
        std::thread::scope(|s| {
            let poll = s.spawn(|| wait_new_leader(&cluster, old));
            add_bridge(&client, &format!("after{round}"));
            ours.push(gone.elapsed());
            election.push(poll.join().expect("poller") - gone);
        });
        drop(client);
        drop(cluster);

        let mut twin = Cluster::start(3, timer_ms).expect("cluster");
        twin.vsctl(&["init", "--", "add-br", "before"])
            .expect("ovs-vsctl");
        let (_, gone) = stop_leader(&mut twin, how);
        twin.vsctl(&["--retry", "add-br", "after"])
            .expect("ovs-vsctl --retry add-br");
        vsctl.push(gone.elapsed());
    }
    let list = |v: &[Duration]| v.iter().map(|d| ms(*d)).collect::<Vec<_>>().join(", ");
    println!("failover, 3-member cluster, election timer {timer_ms} ms, leader {what}, {rounds} rounds, from the leader's end:");
    println!("  new leader reported:    {}", list(&election));
    println!("  our next transact done: {}", list(&ours));
    println!("  ovs-vsctl --retry done: {}", list(&vsctl));
    let (e, o, v) = (median(&mut election), median(&mut ours), median(&mut vsctl));
    println!(
        "  medians: new leader {}, ours {}, ovs-vsctl {} (ratio {:.1}x)",
        ms(e),
        ms(o),
        ms(v),
        v.as_secs_f64() / o.as_secs_f64()
    );
}

fn main() {
    let mut rounds = 100;
    let mut failover_rounds = 5;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match a.as_str() {
            "--rounds" => rounds = value("--rounds").max(1),
            "--failover" => failover_rounds = value("--failover"),
            other => panic!("unknown option {other} (--rounds N, --failover N)"),
        }
    }
    round_trips(rounds);
    if failover_rounds > 0 {
        failover(failover_rounds, Stop::Kill, 100, "killed (SIGKILL)");
        failover(
            failover_rounds,
            Stop::Exit,
            1000,
            "stopped by ovs-appctl exit",
        );
    }
}
