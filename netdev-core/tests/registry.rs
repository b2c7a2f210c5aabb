//! Registry, cache, change-sequence, notifier and flag-guard behaviour,
//! against the scripted kernel in `mock.rs`.

mod mock;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock::{Kernel, MockClass, ScriptedSpec};
use netdev_core::{
    CacheFields, Change, Duplex, ErrorKind, EthAddr, Flags, IfName, LinkInfo, LinkSpeed, Registry,
};

/// Runs `f` on a thread and fails the test if it does not finish within
/// `LONG` (a deadlock would otherwise hang the suite).
fn finishes<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(LONG)
        .unwrap_or_else(|_| panic!("{what}: did not finish (deadlock?)"))
}

const LONG: Duration = Duration::from_secs(10);

/// A registry with class "mock" (notifier "script") and class "plain" (no
/// notifier) over one kernel.
fn setup() -> (Registry, Arc<Kernel>, ScriptedSpec) {
    let kernel = Kernel::new();
    let script = ScriptedSpec::new("script");
    let reg = Registry::new();
    // Stop notifiers as the last device closes, so tests see it at once
    // (lingering has its own test).
    reg.set_notifier_linger(Duration::ZERO);
    reg.register(MockClass::new("mock", &kernel, Some(&script)))
        .unwrap();
    reg.register(MockClass::new("plain", &kernel, None))
        .unwrap();
    (reg, kernel, script)
}

/// Waits until `cond` holds (the notifier thread applies events
/// asynchronously); fails the test after 10 s.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn same_name_shares_one_device() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let a = reg.open("eth0", "mock").unwrap();
    let b = reg.open("eth0", "mock").unwrap();
    assert!(a.same_device(&b));
    assert_eq!(kernel.constructed.load(Ordering::SeqCst), 1);
    assert_eq!(reg.devices().len(), 1);
    assert!(reg.lookup("eth0").unwrap().same_device(&a));
    let ifindex = a.ifindex().unwrap();
    assert!(reg.lookup_ifindex(ifindex).unwrap().same_device(&a));
    assert!(reg.lookup_ifindex(ifindex + 100).is_none());
}

#[test]
fn type_conflict_unknown_type_and_bad_names() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let _a = reg.open("eth0", "mock").unwrap();
    let e = reg.open("eth0", "plain").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    assert_eq!(
        e.to_string(),
        "eth0: open: device is already open as type \"mock\", cannot open it as \"plain\""
    );
    let e = reg.open("eth0", "nosuch").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EAFNOSUPPORT));
    for bad in [
        "",
        "a/b",
        "has space",
        "much-too-long-name0",
        "eth0:1",
        "..",
    ] {
        let e = reg.open(bad, "mock").unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidName(_)),
            "{bad:?}: {e}"
        );
        assert_eq!(e.op(), "open");
    }
    let e = reg.open("missing0", "mock").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NoDevice);
    assert_eq!(e.to_string(), "missing0: open: no such device");
    // A name the OS allows, control characters and all, can be opened,
    // and its errors cannot drive a terminal.
    kernel.add("ctl\u{1b}[2J");
    let d = reg.open("ctl\u{1b}[2J", "mock").unwrap();
    assert_eq!(&*d.name(), "ctl\u{1b}[2J");
    let e = reg.open("ctl\u{1b}[2J", "plain").unwrap_err();
    assert!(!e.to_string().chars().any(char::is_control), "{e}");
}

#[test]
fn last_handle_closes_and_failed_open_leaves_nothing() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let a = reg.open("eth0", "mock").unwrap();
    let b = a.clone();
    drop(a);
    assert_eq!(kernel.live_backends.load(Ordering::SeqCst), 1);
    drop(b);
    assert_eq!(kernel.live_backends.load(Ordering::SeqCst), 0);
    assert!(reg.lookup("eth0").is_none());
    assert!(reg.devices().is_empty());
    // Reopening constructs a new backend, even with another type now.
    let c = reg.open("eth0", "plain").unwrap();
    assert_eq!(c.type_name(), "plain");
    assert_eq!(kernel.constructed.load(Ordering::SeqCst), 2);
    // A failed open does not leave a slot that blocks the name.
    assert!(reg.open("late0", "mock").is_err());
    kernel.add("late0");
    reg.open("late0", "mock").unwrap();
}

#[test]
fn register_and_unregister_rules() {
    let (reg, kernel, _) = setup();
    assert_eq!(reg.types(), vec!["mock".to_string(), "plain".to_string()]);
    let e = reg
        .register(MockClass::new("mock", &kernel, None))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
    kernel.add("eth0");
    let dev = reg.open("eth0", "plain").unwrap();
    let e = reg.unregister("plain").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Busy);
    assert!(e.to_string().contains("eth0"), "{e}");
    drop(dev);
    assert_eq!(reg.unregister("plain").unwrap().type_name(), "plain");
    assert_eq!(reg.types(), vec!["mock".to_string()]);
    assert_eq!(
        reg.unregister("plain").unwrap_err().raw_os_error(),
        Some(libc::EAFNOSUPPORT)
    );
}

#[test]
fn cache_hits_misses_and_setters() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let dev = reg.open("plain0", "plain").err();
    assert!(dev.is_some());
    let dev = reg.open("eth0", "plain").unwrap();
    let calls = kernel.calls();
    assert_eq!(dev.mtu().unwrap(), 1500);
    assert_eq!(dev.mtu().unwrap(), 1500);
    assert_eq!(dev.mac().unwrap(), dev.mac().unwrap());
    assert_eq!(kernel.calls() - calls, 2, "one backend call per field");
    // A setter updates the cache: the next read is a hit showing the value.
    dev.set_mtu(9000).unwrap();
    let calls = kernel.calls();
    assert_eq!(dev.mtu().unwrap(), 9000);
    assert_eq!(kernel.calls(), calls);
    // A change behind our back is invisible until something invalidates.
    kernel.set_mtu("eth0", 1400);
    assert_eq!(dev.mtu().unwrap(), 9000);
    // Invalid arguments never reach the backend; backend errors carry context.
    let calls = kernel.calls();
    let e = dev.set_mac(EthAddr::BROADCAST).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput(_)));
    assert_eq!(
        dev.set_mtu(0).unwrap_err().raw_os_error(),
        Some(libc::EINVAL)
    );
    assert_eq!(kernel.calls(), calls);
    let e = dev.set_mtu(10).unwrap_err();
    assert_eq!(
        e.to_string(),
        "eth0: set_mtu: Invalid argument (os error 22)"
    );
    // Operations the class lacks say so.
    let e = dev.stats().unwrap_err();
    assert!(e.is_not_supported());
    assert_eq!(e.op(), "get_stats");
    // Speed from features.
    assert_eq!(
        dev.speed().unwrap(),
        LinkSpeed {
            mbps: 10_000,
            duplex: Some(Duplex::Full)
        }
    );
}

#[test]
fn change_sequences_and_global_wait() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let dev = reg.open("eth0", "plain").unwrap();
    let seq = dev.change_seq();
    assert_ne!(seq, 0);
    dev.mtu().unwrap();
    assert_eq!(dev.change_seq(), seq, "reads do not bump");
    dev.set_mtu(1400).unwrap();
    assert!(dev.change_seq() > seq);

    let seen = reg.seq();
    assert_eq!(reg.wait_for_change(seen, Duration::from_millis(10)), seen);
    let dev2 = dev.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        dev2.set_mtu(1300).unwrap();
    });
    let now = reg.wait_for_change(seen, LONG);
    assert_ne!(now, seen);
    t.join().unwrap();
}

#[test]
fn notifier_starts_with_first_device_and_stops_with_last() {
    let (reg, kernel, script) = setup();
    kernel.add("eth0");
    kernel.add("eth1");
    // Devices of a class without a notifier do not start one.
    let plain = reg.open("eth1", "plain").unwrap();
    assert_eq!(script.opened(), 0);
    let a = reg.open("eth0", "mock").unwrap();
    assert_eq!(script.opened(), 1);
    assert!(reg.notifier_running("script"));
    let b = reg.open("eth0", "mock").unwrap();
    drop(plain);
    assert_eq!(script.opened(), 1, "shared by every device of the key");
    drop(a);
    assert!(reg.notifier_running("script"));
    assert_eq!(script.dropped(), 0);
    drop(b);
    // Dropping the last device joins the thread, which drops the source:
    // synchronously, so no waiting here.
    assert_eq!(script.dropped(), 1);
    assert!(!reg.notifier_running("script"));
    // And it starts again.
    let _c = reg.open("eth0", "mock").unwrap();
    assert_eq!(script.opened(), 2);
}

#[test]
fn link_event_refreshes_cache_without_round_trip() {
    let (reg, kernel, script) = setup();
    let ifindex = kernel.add("eth0");
    let dev = reg.open("eth0", "mock").unwrap();
    assert_eq!(dev.mtu().unwrap(), 1500);
    let sub = reg.subscribe().unwrap();
    let seq = dev.change_seq();
    kernel.set_mtu("eth0", 4000);
    let change = Change::LinkChanged {
        ifindex,
        name: Some(IfName::new("eth0").unwrap()),
        info: LinkInfo {
            mtu: Some(4000),
            flags: Some(Flags::UP | Flags::RUNNING),
            carrier: Some(true),
            mac: None,
        },
    };
    script.push(vec![change.clone()]);
    // Subscribers see the event only after the cache took it.
    assert_eq!(sub.recv_timeout(LONG), Some(change));
    assert!(dev.change_seq() > seq);
    let calls = kernel.calls();
    assert_eq!(dev.mtu().unwrap(), 4000);
    assert!(dev.carrier().unwrap());
    assert_eq!(dev.flags().unwrap(), Flags::UP | Flags::RUNNING);
    assert_eq!(kernel.calls(), calls, "carried values need no backend call");
    assert!(!dev.cached_fields().contains(CacheFields::MAC));
    dev.mac().unwrap();
    assert_eq!(kernel.calls(), calls + 1);
}

#[test]
fn events_for_other_devices_and_addresses() {
    let (reg, kernel, script) = setup();
    let i0 = kernel.add("eth0");
    let i1 = kernel.add("eth1");
    let d0 = reg.open("eth0", "mock").unwrap();
    let d1 = reg.open("eth1", "mock").unwrap();
    // A "plain" device shares the kernel but not the notifier: events never
    // touch it, except an overflow.
    kernel.add("eth2");
    let d2 = reg.open("eth2", "plain").unwrap();
    for d in [&d0, &d1, &d2] {
        d.mtu().unwrap();
    }
    let sub = reg.subscribe().unwrap();
    script.push(vec![Change::AddrChanged { ifindex: i0 }]);
    sub.recv_timeout(LONG).unwrap();
    assert!(d0.cached_fields().contains(CacheFields::MTU));
    script.push(vec![Change::LinkChanged {
        ifindex: i1,
        name: Some(IfName::new("eth1").unwrap()),
        info: LinkInfo::default(),
    }]);
    sub.recv_timeout(LONG).unwrap();
    assert!(d0.cached_fields().contains(CacheFields::MTU));
    assert!(!d1.cached_fields().contains(CacheFields::MTU));
    assert!(d2.cached_fields().contains(CacheFields::MTU));
}

#[test]
fn overflow_invalidates_everything_and_finds_recreated_devices() {
    let (reg, kernel, script) = setup();
    kernel.add("eth0");
    kernel.add("eth1");
    kernel.add("eth2");
    let d0 = reg.open("eth0", "mock").unwrap();
    let d1 = reg.open("eth1", "mock").unwrap();
    let plain = reg.open("eth2", "plain").unwrap();
    for d in [&d0, &d1, &plain] {
        d.mtu().unwrap();
    }
    let seqs: Vec<u64> = [&d0, &d1, &plain].iter().map(|d| d.change_seq()).collect();
    // While events were lost, eth1 was deleted and re-created.
    kernel.remove("eth1");
    let new_index = kernel.add("eth1");
    let sub = reg.subscribe().unwrap();
    script.fail(libc::ENOBUFS);
    assert_eq!(sub.recv_timeout(LONG), Some(Change::Overflow));
    for (d, seq) in [&d0, &d1, &plain].iter().zip(seqs) {
        assert!(d.change_seq() > seq, "{} not bumped", d.name());
        assert!(d.cached_fields().is_empty(), "{} still cached", d.name());
    }
    assert!(!d0.is_gone());
    assert!(d1.is_gone());
    assert_eq!(d1.mtu().unwrap_err().kind(), &ErrorKind::Gone);
    let fresh = reg.open("eth1", "mock").unwrap();
    assert!(!fresh.same_device(&d1));
    assert_eq!(fresh.ifindex().unwrap(), new_index);
}

#[test]
fn other_source_errors_also_resynchronise() {
    let (reg, kernel, script) = setup();
    kernel.add("eth0");
    let d0 = reg.open("eth0", "mock").unwrap();
    d0.mtu().unwrap();
    let sub = reg.subscribe().unwrap();
    script.fail(libc::EIO);
    assert_eq!(sub.recv_timeout(LONG), Some(Change::Overflow));
    assert!(!d0.cached_fields().contains(CacheFields::MTU));
}

#[test]
fn delete_and_recreate_same_name_is_a_new_device() {
    let (reg, kernel, script) = setup();
    let old_index = kernel.add("eth0");
    let dev = reg.open("eth0", "mock").unwrap();
    let sub = reg.subscribe().unwrap();
    kernel.remove("eth0");
    let new_index = kernel.add("eth0");
    script.push(vec![
        Change::LinkRemoved {
            ifindex: old_index,
            name: IfName::new("eth0").unwrap(),
        },
        Change::LinkChanged {
            ifindex: new_index,
            name: Some(IfName::new("eth0").unwrap()),
            info: LinkInfo::default(),
        },
    ]);
    sub.recv_timeout(LONG).unwrap();
    sub.recv_timeout(LONG).unwrap();
    assert!(dev.is_gone());
    let e = dev.mtu().unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
    assert_eq!(
        e.to_string(),
        "eth0: get_mtu: device was removed while open"
    );
    let fresh = reg.open("eth0", "mock").unwrap();
    assert_eq!(fresh.ifindex().unwrap(), new_index);
    assert!(reg.lookup_ifindex(old_index).is_none());
    assert!(reg.lookup_ifindex(new_index).unwrap().same_device(&fresh));
}

#[test]
fn recreation_seen_only_as_a_new_index_under_the_name() {
    // The removal event was lost but the creation arrives.
    let (reg, kernel, script) = setup();
    kernel.add("eth0");
    let dev = reg.open("eth0", "mock").unwrap();
    let sub = reg.subscribe().unwrap();
    kernel.remove("eth0");
    let new_index = kernel.add("eth0");
    script.push(vec![Change::LinkChanged {
        ifindex: new_index,
        name: Some(IfName::new("eth0").unwrap()),
        info: LinkInfo::default(),
    }]);
    sub.recv_timeout(LONG).unwrap();
    assert!(dev.is_gone());
}

#[test]
fn ifindex_read_notices_recreation_without_events() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let dev = reg.open("eth0", "plain").unwrap();
    kernel.remove("eth0");
    kernel.add("eth0");
    // Nothing invalidated the cache: still the old answer.
    assert!(dev.ifindex().is_ok());
    // Once invalidated, the new index reveals a new device.
    reg.inject_change("none", Change::Overflow);
    assert_eq!(dev.ifindex().unwrap_err().kind(), &ErrorKind::Gone);
    assert!(dev.is_gone());
    assert!(!reg.open("eth0", "plain").unwrap().same_device(&dev));
}

/// The notifier remembers which device its last change went to; once the
/// index belongs to another open device (FreeBSD gives a freed index out
/// again at once, and its link messages carry no name), the next change
/// goes to that device, not the remembered one.
#[test]
fn a_reused_index_sends_changes_to_its_new_device() {
    let (reg, kernel, script) = setup();
    let i0 = kernel.add("eth0");
    let d0 = reg.open("eth0", "mock").unwrap();
    let sub = reg.subscribe().unwrap();
    let nameless = |mtu| Change::LinkChanged {
        ifindex: i0,
        name: None,
        info: LinkInfo {
            mtu: Some(mtu),
            ..LinkInfo::default()
        },
    };
    script.push(vec![nameless(4000)]);
    sub.recv_timeout(LONG).unwrap();
    assert_eq!(d0.mtu().unwrap(), 4000);
    // eth0 goes (its removal not seen yet) and eth9 takes its index.
    let mut gone = kernel.remove("eth0").unwrap();
    gone.mtu = 1500;
    kernel.devs.lock().insert("eth9".into(), gone);
    let d9 = reg.open("eth9", "mock").unwrap();
    assert_eq!(d9.ifindex().unwrap(), i0);
    script.push(vec![nameless(7000)]);
    sub.recv_timeout(LONG).unwrap();
    let calls = kernel.calls();
    assert_eq!(
        d9.mtu().unwrap(),
        7000,
        "the change reached the index's device"
    );
    assert_eq!(kernel.calls(), calls, "from the event, not the backend");
    assert_eq!(
        d0.mtu().unwrap(),
        4000,
        "not the device the index had before"
    );
    // And a change for the first device's index again after it closes and
    // the second takes over fully.
    drop(d0);
    script.push(vec![nameless(8000)]);
    sub.recv_timeout(LONG).unwrap();
    assert_eq!(d9.mtu().unwrap(), 8000);
}

#[test]
fn rename_is_followed() {
    let (reg, kernel, script) = setup();
    let ifindex = kernel.add("eth0");
    let dev = reg.open("eth0", "mock").unwrap();
    let sub = reg.subscribe().unwrap();
    kernel.rename("eth0", "wan0");
    script.push(vec![Change::LinkChanged {
        ifindex,
        name: Some(IfName::new("wan0").unwrap()),
        info: LinkInfo::default(),
    }]);
    sub.recv_timeout(LONG).unwrap();
    assert_eq!(&*dev.name(), "wan0");
    assert!(!dev.is_gone());
    assert_eq!(dev.mtu().unwrap(), 1500, "backend follows the new name");
    assert!(reg.lookup("eth0").is_none());
    assert!(reg.lookup("wan0").unwrap().same_device(&dev));
    assert!(reg.open("wan0", "mock").unwrap().same_device(&dev));
    // The old name is free for a new device.
    kernel.add("eth0");
    assert!(!reg.open("eth0", "mock").unwrap().same_device(&dev));
}

#[test]
fn saved_flags_restore_on_drop_and_on_demand() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let dev = reg.open("eth0", "plain").unwrap();
    dev.update_flags(Flags::empty(), Flags::UP).unwrap();
    {
        let guard = dev.turn_flags_on(Flags::UP | Flags::PROMISC).unwrap();
        assert_eq!(guard.turned_on(), Flags::PROMISC, "UP was already on");
        assert!(dev.flags().unwrap().contains(Flags::UP | Flags::PROMISC));
    }
    assert_eq!(
        kernel.get("eth0").unwrap().flags,
        Flags::BROADCAST | Flags::UP
    );
    assert_eq!(dev.flags().unwrap(), Flags::BROADCAST | Flags::UP);

    let guard = dev.turn_flags_off(Flags::UP | Flags::PROMISC).unwrap();
    assert_eq!(guard.turned_off(), Flags::UP);
    assert!(!dev.flags().unwrap().contains(Flags::UP));
    guard.restore().unwrap();
    assert!(dev.flags().unwrap().contains(Flags::UP));

    dev.turn_flags_on(Flags::PROMISC).unwrap().keep();
    assert!(dev.flags().unwrap().contains(Flags::PROMISC));

    let e = dev
        .update_flags(Flags::empty(), Flags::RUNNING)
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput(_)), "{e}");
    let e = dev.update_flags(Flags::UP, Flags::UP).unwrap_err();
    assert!(e.to_string().contains("both turned on and off"), "{e}");
}

#[test]
fn slow_subscriber_learns_of_lost_events() {
    let (reg, kernel, script) = setup();
    let ifindex = kernel.add("eth0");
    let _dev = reg.open("eth0", "mock").unwrap();
    let slow = reg.subscribe_with_capacity(4).unwrap();
    let fast = reg.subscribe().unwrap();
    let ev = |i: u32| Change::AddrChanged {
        ifindex: ifindex + 1000 + i,
    };
    script.push((0..10).map(ev).collect());
    for i in 0..10 {
        assert_eq!(fast.recv_timeout(LONG), Some(ev(i)));
    }
    script.push(vec![ev(10)]);
    assert_eq!(fast.recv_timeout(LONG), Some(ev(10)));
    // The slow queue holds the first four and, at once, the news that the
    // rest were lost: no later event is needed to learn it.
    let got: Vec<Change> = std::iter::from_fn(|| slow.try_recv()).collect();
    assert_eq!(got, vec![ev(0), ev(1), ev(2), ev(3), Change::Overflow]);
    // Caught up: events flow again.
    script.push(vec![ev(11)]);
    assert_eq!(fast.recv_timeout(LONG), Some(ev(11)));
    let got: Vec<Change> = std::iter::from_fn(|| slow.try_recv()).collect();
    assert_eq!(got, vec![ev(11)]);
}

#[test]
fn open_waits_for_previous_device_of_same_name_to_release() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    *kernel.drop_delay.lock() = Duration::from_millis(50);
    let dev = reg.open("eth0", "plain").unwrap();
    let t = std::thread::spawn(move || drop(dev));
    // Whatever the interleaving, two backends of one name never coexist.
    for _ in 0..5 {
        let d = reg.open("eth0", "plain").unwrap();
        drop(d);
    }
    t.join().unwrap();
    assert_eq!(kernel.max_alive_same_name.load(Ordering::SeqCst), 1);
    assert_eq!(kernel.live_backends.load(Ordering::SeqCst), 0);
}

#[test]
fn concurrent_open_close_and_queries() {
    let (reg, kernel, script) = setup();
    let names: Vec<String> = (0..8).map(|i| format!("eth{i}")).collect();
    let indexes: Vec<u32> = names.iter().map(|n| kernel.add(n)).collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Events keep flowing while threads open, query and close.
    let pusher = {
        let script = script.clone();
        let stop = stop.clone();
        let indexes = indexes.clone();
        let names = names.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let k = i % indexes.len();
                script.push(vec![
                    Change::LinkChanged {
                        ifindex: indexes[k],
                        name: Some(IfName::new(&names[k]).unwrap()),
                        info: LinkInfo {
                            mtu: Some(1500),
                            ..LinkInfo::default()
                        },
                    },
                    Change::AddrChanged {
                        ifindex: indexes[k],
                    },
                ]);
                if i % 50 == 0 {
                    script.push(vec![Change::Overflow]);
                }
                i += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
        })
    };
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let reg = reg.clone();
            let names = names.clone();
            std::thread::spawn(move || {
                for round in 0..300 {
                    let name = &names[(t + round) % names.len()];
                    let ty = "mock";
                    let dev = reg.open(name, ty).unwrap();
                    assert_eq!(dev.mtu().unwrap(), 1500);
                    dev.mac().unwrap();
                    dev.ifindex().unwrap();
                    if round % 3 == 0 {
                        let g = dev.turn_flags_on(Flags::PROMISC).unwrap();
                        drop(g);
                    }
                    assert!(reg.lookup(name).is_some());
                    drop(dev);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    pusher.join().unwrap();
    assert_eq!(kernel.max_alive_same_name.load(Ordering::SeqCst), 1);
    eventually("all devices released", || {
        kernel.live_backends.load(Ordering::SeqCst) == 0
    });
    eventually("notifier stopped", || !reg.notifier_running("script"));
}

#[test]
fn global_registry_is_one_instance() {
    let a = Registry::global();
    let b = Registry::global();
    assert!(std::ptr::eq(a, b));
}

#[test]
fn notifier_lingers_after_last_close_then_stops() {
    let (reg, kernel, script) = setup();
    reg.set_notifier_linger(Duration::from_millis(300));
    kernel.add("eth0");
    // One-shot use: open, query, close, many times within the linger.
    for _ in 0..50 {
        let d = reg.open("eth0", "mock").unwrap();
        d.mtu().unwrap();
    }
    assert_eq!(script.opened(), 1, "one notifier for all one-shot opens");
    assert!(reg.notifier_running("script"));
    assert_eq!(script.dropped(), 0);
    // Unused for longer than the linger: it stops and closes its source.
    eventually("the idle notifier to stop", || {
        !reg.notifier_running("script") && script.dropped() == 1
    });
    let _d = reg.open("eth0", "mock").unwrap();
    assert_eq!(script.opened(), 2, "started again on demand");
    // In use, it does not stop however long it idles.
    std::thread::sleep(Duration::from_millis(600));
    assert!(reg.notifier_running("script"));
}

#[test]
fn dropping_the_registry_stops_a_lingering_notifier() {
    let (reg, kernel, script) = setup();
    reg.set_notifier_linger(Duration::from_secs(3600));
    kernel.add("eth0");
    drop(reg.open("eth0", "mock").unwrap());
    assert!(reg.notifier_running("script"));
    drop(reg);
    assert_eq!(script.dropped(), 1, "joined and source dropped at once");
}

#[test]
fn change_source_is_opened_without_the_registry_lock() {
    let (reg, kernel, script) = setup();
    kernel.add("eth0");
    // A source whose opening calls back into the registry (a class that
    // looks at open devices, say) deadlocked while the registry held its
    // lock around class code.
    let reg2 = reg.clone();
    *script.on_open.lock() = Some(Box::new(move || {
        let _ = reg2.devices();
        let _ = reg2.types();
    }));
    let reg3 = reg.clone();
    let dev = finishes("open with a re-entrant change source", move || {
        reg3.open("eth0", "mock")
    })
    .unwrap();
    assert!(reg.notifier_running("script"));
    drop(dev);
}

#[test]
fn racing_first_opens_leave_one_notifier() {
    let (reg, kernel, script) = setup();
    reg.set_notifier_linger(Duration::from_secs(3600));
    let names: Vec<String> = (0..8).map(|i| format!("eth{i}")).collect();
    for n in &names {
        kernel.add(n);
    }
    // Slow sources widen the window in which several opens start one.
    *script.on_open.lock() = Some(Box::new(|| std::thread::sleep(Duration::from_millis(20))));
    let devs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = names
            .iter()
            .map(|n| s.spawn(|| reg.open(n, "mock").unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Extra sources were stopped; exactly one keeps running, and events
    // reach every device through it.
    assert_eq!(script.opened() - script.dropped(), 1);
    let ifindex = devs[3].ifindex().unwrap();
    let sub = reg.subscribe().unwrap();
    script.push(vec![Change::AddrChanged { ifindex }]);
    assert_eq!(
        sub.recv_timeout(LONG),
        Some(Change::AddrChanged { ifindex })
    );
}

#[test]
fn persistent_source_errors_back_off() {
    let (reg, kernel, script) = setup();
    kernel.add("eth0");
    let dev = reg.open("eth0", "mock").unwrap();
    let sub = reg.subscribe().unwrap();
    script.fail_always.store(libc::EIO, Ordering::SeqCst);
    script.push(vec![]); // wake the reader so it sees the failure
                         // Each failed read resynchronises every device. Without backoff that
                         // was one resync per 10 ms (about 60 in this window); with it, the
                         // waits double from 10 ms, so at most ~7 fit however fast the machine.
    let start = Instant::now();
    let mut overflows = 0;
    while start.elapsed() < Duration::from_millis(600) {
        if sub.recv_timeout(Duration::from_millis(50)) == Some(Change::Overflow) {
            overflows += 1;
        }
    }
    assert!(overflows >= 1, "the failure must still be reported");
    assert!(overflows <= 10, "{overflows} resyncs in 600 ms: no backoff");
    // Once the source recovers, events flow again.
    script.fail_always.store(0, Ordering::SeqCst);
    let ifindex = dev.ifindex().unwrap();
    script.push(vec![Change::AddrChanged { ifindex }]);
    let got = std::iter::from_fn(|| sub.recv_timeout(LONG)).find(|c| *c != Change::Overflow);
    assert_eq!(got, Some(Change::AddrChanged { ifindex }));
}

#[test]
fn link_change_without_a_name_is_no_rename() {
    let (reg, kernel, script) = setup();
    let ifindex = kernel.add("eth0");
    let dev = reg.open("eth0", "mock").unwrap();
    let sub = reg.subscribe().unwrap();
    let change = Change::LinkChanged {
        ifindex,
        name: None,
        info: LinkInfo {
            mtu: Some(1400),
            ..LinkInfo::default()
        },
    };
    script.push(vec![change.clone()]);
    assert_eq!(sub.recv_timeout(LONG), Some(change));
    assert_eq!(&*dev.name(), "eth0");
    assert_eq!(dev.mtu().unwrap(), 1400, "carried value taken");
    assert!(reg.lookup("eth0").is_some_and(|d| d.same_device(&dev)));
    assert!(!dev.is_gone());
}

#[test]
fn huge_timeouts_wait_without_limit_instead_of_panicking() {
    let (reg, kernel, _) = setup();
    kernel.add("eth0");
    let dev = reg.open("eth0", "plain").unwrap();
    let mut rx = dev.open_rx().unwrap();
    // The naive backend computes `now + timeout`: Duration::MAX must reach
    // it as "no limit" (None), never as an overflowing deadline.
    assert!(rx.wait(Some(Duration::MAX)).unwrap());
    assert!(!rx.wait(Some(Duration::ZERO)).unwrap());
    assert!(dev.send_wait(Some(Duration::MAX)).unwrap());
    assert_eq!(
        reg.wait_for_change(reg.seq() + 1, Duration::MAX),
        reg.seq(),
        "a value other than the current one returns at once"
    );
}

#[test]
fn enumerate_and_all_stats_go_through_the_class() {
    let (reg, kernel, _) = setup();
    let i1 = kernel.add("b1");
    let i0 = kernel.add("a0");
    let list = reg.enumerate("plain").unwrap();
    let got: Vec<(&str, u32, Option<u32>)> = list
        .iter()
        .map(|d| (d.name.as_str(), d.ifindex, d.mtu))
        .collect();
    assert_eq!(got, vec![("b1", i1, Some(1500)), ("a0", i0, Some(1500))]);
    assert!(reg.lookup("a0").is_none(), "enumerating opens nothing");
    let mut seen = Vec::new();
    reg.all_stats("plain", &mut |i, s| seen.push((i, s.rx_packets)))
        .unwrap();
    seen.sort();
    assert_eq!(
        seen,
        vec![(i1, u64::from(i1) * 10), (i0, u64::from(i0) * 10)]
    );
    let e = reg.enumerate("nosuch").unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::UnknownType("nosuch".into()));
    assert_eq!(e.op(), "enumerate");
}

#[test]
fn held_changes_wait_and_are_applied_after() {
    let (reg, kernel, script) = setup();
    let ifindex = kernel.add("eth0");
    let dev = reg.open("eth0", "mock").unwrap();
    assert_eq!(dev.mtu().unwrap(), 1500);
    let sub = reg.subscribe().unwrap();
    let held = reg.hold_changes();
    script.push(vec![Change::LinkChanged {
        ifindex,
        name: None,
        info: LinkInfo {
            mtu: Some(1400),
            ..LinkInfo::default()
        },
    }]);
    // Held: neither applied nor delivered.
    assert_eq!(sub.recv_timeout(Duration::from_millis(200)), None);
    assert_eq!(dev.mtu().unwrap(), 1500);
    drop(held);
    assert!(sub.recv_timeout(LONG).is_some());
    assert_eq!(dev.mtu().unwrap(), 1400);
}

/// A source with a ready descriptor, as the Linux one has: records of
/// (ifindex, mtu) written to a socket pair by the test, read without
/// blocking by whichever thread gets there first.
mod ready_source {
    use std::io::{self, Read, Write};
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::net::UnixStream;
    use std::sync::Arc;
    use std::time::Duration;

    use netdev_core::{Change, ChangeSource, ChangeSourceSpec, LinkInfo, Waker};
    use parking_lot::Mutex;

    pub struct Ready {
        rx: UnixStream,
        pending: Vec<u8>,
        pub thread_names: Arc<Mutex<Vec<String>>>,
    }

    pub fn spec(thread_names: Arc<Mutex<Vec<String>>>) -> (ChangeSourceSpec, UnixStream) {
        let (tx, rx) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        let rx = Arc::new(Mutex::new(Some(rx)));
        let spec = ChangeSourceSpec {
            key: "ready",
            open: Arc::new(move || {
                let rx = rx.lock().take().expect("opened once");
                Ok(Box::new(Ready {
                    rx,
                    pending: Vec::new(),
                    thread_names: thread_names.clone(),
                }) as Box<dyn ChangeSource>)
            }),
        };
        (spec, tx)
    }

    pub fn send(tx: &mut UnixStream, ifindex: u32, mtu: u32) {
        let mut rec = [0u8; 8];
        rec[..4].copy_from_slice(&ifindex.to_ne_bytes());
        rec[4..].copy_from_slice(&mtu.to_ne_bytes());
        tx.write_all(&rec).unwrap();
    }

    impl ChangeSource for Ready {
        fn read_changes(&mut self, _: &mut Vec<Change>, _: Option<Duration>) -> io::Result<()> {
            unreachable!("a source with a ready descriptor is read without blocking")
        }
        fn waker(&self) -> Waker {
            Arc::new(|| {})
        }
        fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
            Some(self.rx.as_fd())
        }
        fn on_reader_thread(&mut self) {
            let name = std::thread::current().name().unwrap_or("").to_owned();
            self.thread_names.lock().push(name);
        }
        fn try_read_changes(&mut self, out: &mut Vec<Change>) -> io::Result<()> {
            let mut buf = [0u8; 64];
            match self.rx.read(&mut buf) {
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            while self.pending.len() >= 8 {
                let rec: Vec<u8> = self.pending.drain(..8).collect();
                out.push(Change::LinkChanged {
                    ifindex: u32::from_ne_bytes(rec[..4].try_into().unwrap()),
                    name: None,
                    info: LinkInfo {
                        mtu: Some(u32::from_ne_bytes(rec[4..].try_into().unwrap())),
                        ..LinkInfo::default()
                    },
                });
            }
            Ok(())
        }
    }
}

/// A class whose notifier is the ready source above.
struct ReadyClass {
    kernel: Arc<Kernel>,
    spec: netdev_core::ChangeSourceSpec,
}

impl netdev_core::NetdevClass for ReadyClass {
    fn type_name(&self) -> &str {
        "ready"
    }
    fn construct(
        &self,
        name: &str,
        state: &Arc<netdev_core::DeviceState>,
    ) -> netdev_core::Result<Box<dyn netdev_core::DeviceBackend>> {
        // Borrow the mock class's backend for the device itself.
        MockClass::new("tmp", &self.kernel, None).construct(name, state)
    }
    fn change_source(&self) -> Option<netdev_core::ChangeSourceSpec> {
        Some(self.spec.clone())
    }
}

#[test]
fn waiting_callers_apply_queued_changes_in_order() {
    let kernel = Kernel::new();
    let ifindex = kernel.add("eth0");
    let names = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let (spec, mut tx) = ready_source::spec(names.clone());
    let reg = Registry::new();
    reg.register(Arc::new(ReadyClass {
        kernel: kernel.clone(),
        spec,
    }))
    .unwrap();
    let dev = reg.open("eth0", "ready").unwrap();
    // Changes arrive while this thread waits for them: the notifier thread
    // and this one both read the source; every change must be applied
    // once, in order.
    let producer = std::thread::spawn(move || {
        for mtu in 1000..3000 {
            ready_source::send(&mut tx, ifindex, mtu);
            if mtu % 64 == 0 {
                std::thread::yield_now();
            }
        }
        tx
    });
    let mut last = 0;
    let mut seen = reg.seq();
    while last < 2999 {
        seen = reg.wait_for_change(seen, LONG);
        let mtu = dev.mtu().unwrap();
        assert!(mtu >= last, "MTU went back from {last} to {mtu}");
        last = mtu;
    }
    let _tx = producer.join().unwrap();
    assert_eq!(dev.mtu().unwrap(), 2999);
    let names = names.lock();
    assert_eq!(names.len(), 1);
    assert!(names[0].starts_with("netdev-notify-"), "{names:?}");
}

/// The last user handle closes the device in its own drop, even while
/// another thread is applying a change to that device or resynchronising
/// after an overflow: when `drop` returns, the backend (a tap's
/// descriptor, say, whose closing deletes the tap) is gone. The change
/// path and the resync hold the device's state, never the device, so they
/// can never be the ones that close it later.
#[test]
fn last_handle_closes_in_its_own_drop_while_changes_flow() {
    let (reg, kernel, script) = setup();
    let ifindex = kernel.add("eth0");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let change = move |mtu| Change::LinkChanged {
        ifindex,
        name: Some(IfName::new("eth0").unwrap()),
        info: LinkInfo {
            mtu: Some(mtu),
            ..LinkInfo::default()
        },
    };
    // Changes applied by another thread (as the notifier thread does),
    // and through the notifier thread itself.
    let injector = {
        let (reg, stop) = (reg.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                // An overflow makes the applying thread check every
                // device again (and hold each while it does, if it held
                // devices rather than states).
                let c = if n % 3 == 0 {
                    Change::Overflow
                } else {
                    change(1000 + n % 500)
                };
                reg.inject_change("script", c);
                n += 1;
            }
            n
        })
    };
    // Keeps the notifier thread running between the opens of eth0.
    kernel.add("eth1");
    let _other = reg.open("eth1", "mock").unwrap();
    let mut applied = 0;
    // 20,000 rounds, and more (up to 200,000) until a change was seen to
    // land on an open handle: whether one lands between an open and its
    // read is down to timing.
    for i in 0..200_000 {
        if i >= 20_000 && applied > 0 {
            break;
        }
        let dev = reg.open("eth0", "mock").unwrap();
        if i % 64 == 0 {
            script.push(vec![change(1400)]);
        }
        let seq = dev.change_seq();
        drop(dev);
        assert_eq!(
            kernel.live_backends.load(Ordering::SeqCst),
            1,
            "iteration {i}: eth0's backend outlived its last handle's drop"
        );
        applied += usize::from(seq > 1);
    }
    stop.store(true, Ordering::Relaxed);
    let injected = injector.join().unwrap();
    assert!(
        injected > 0 && applied > 0,
        "changes flowed: {injected} injected, {applied} seen"
    );
}

#[test]
fn dropping_the_last_handle_while_holding_changes_does_not_deadlock() {
    // With no linger, the last close stops the notifier thread; that
    // thread may be waiting to apply a change behind the held guard.
    let (reg, kernel, script) = setup();
    let ifindex = kernel.add("eth0");
    let done = std::sync::mpsc::channel();
    let reg2 = reg.clone();
    std::thread::spawn(move || {
        for i in 0..200u32 {
            let dev = reg2.open("eth0", "mock").unwrap();
            // The notifier thread picks this up and waits for the guard.
            script.push(vec![Change::LinkChanged {
                ifindex,
                name: Some(IfName::new("eth0").unwrap()),
                info: LinkInfo {
                    mtu: Some(1000 + i),
                    ..LinkInfo::default()
                },
            }]);
            let held = reg2.hold_changes();
            std::thread::sleep(Duration::from_micros(200));
            drop(dev);
            drop(held);
        }
        done.0.send(()).unwrap();
    });
    assert!(
        done.1.recv_timeout(Duration::from_secs(30)).is_ok(),
        "dropping the last handle under hold_changes hung"
    );
}
