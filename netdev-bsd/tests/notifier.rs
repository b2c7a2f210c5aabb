//! The routing-socket change source driven by scripted byte streams
//! (messages built field by field by `wire::fixture`) through a real
//! `netdev_core::Registry`: what the core does with each FreeBSD event.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netdev_bsd::notifier::{RouteReader, RouteSource, ROUTE_KEY};
use netdev_bsd::track::{Check, Identity, IfSnapshot, Tracked};
use netdev_bsd::wire::fixture::{self, sample_if_data};
use netdev_bsd::wire::layout::*;
use netdev_core::{
    Change, ChangeSource, ChangeSourceSpec, DeviceBackend, DeviceState, Error, ErrorKind, Flags,
    IfName, NetdevClass, Registry, Result, Subscription, Waker,
};

const LONG: Duration = Duration::from_secs(10);

enum Script {
    Bytes(Vec<u8>),
    Errno(i32),
    Wake,
}

/// What a scripted reader answers to "does this index exist?".
type IndexProbe = Arc<dyn Fn(u32) -> io::Result<Option<bool>> + Send + Sync>;

/// A reader handing out scripted datagrams.
struct ScriptedReader {
    rx: Receiver<Script>,
    tx: Sender<Script>,
    probe: Option<IndexProbe>,
}

impl RouteReader for ScriptedReader {
    fn read(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Option<usize>> {
        let next = match timeout {
            Some(t) => match self.rx.recv_timeout(t) {
                Ok(s) => s,
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => Script::Wake,
            },
            None => self.rx.recv().unwrap_or(Script::Wake),
        };
        match next {
            Script::Bytes(b) => {
                // As a datagram socket does: what does not fit is cut.
                let n = b.len().min(buf.len());
                buf[..n].copy_from_slice(&b[..n]);
                Ok(Some(n))
            }
            Script::Errno(e) => Err(io::Error::from_raw_os_error(e)),
            Script::Wake => Ok(None),
        }
    }

    fn waker(&self) -> Waker {
        let tx = Mutex::new(self.tx.clone());
        Arc::new(move || {
            let _ = tx.lock().unwrap().send(Script::Wake);
        })
    }

    fn index_exists(&mut self, ifindex: u32) -> io::Result<Option<bool>> {
        match &self.probe {
            Some(p) => p(ifindex),
            None => Ok(None),
        }
    }
}

/// The test's end of the script; opens one reader (the registry opens the
/// source once).
#[derive(Clone)]
struct Scripted {
    tx: Sender<Script>,
    rx: Arc<Mutex<Option<Receiver<Script>>>>,
    probe: Option<IndexProbe>,
}

impl Scripted {
    fn new() -> Scripted {
        let (tx, rx) = mpsc::channel();
        Scripted {
            tx,
            rx: Arc::new(Mutex::new(Some(rx))),
            probe: None,
        }
    }

    /// A script whose reader asks `probe` about departed indexes.
    fn with_probe(probe: IndexProbe) -> Scripted {
        Scripted {
            probe: Some(probe),
            ..Scripted::new()
        }
    }

    fn bytes(&self, b: Vec<u8>) {
        self.tx.send(Script::Bytes(b)).unwrap();
    }

    fn errno(&self, e: i32) {
        self.tx.send(Script::Errno(e)).unwrap();
    }

    fn reader(&self) -> io::Result<ScriptedReader> {
        let rx = self
            .rx
            .lock()
            .unwrap()
            .take()
            .ok_or_else(|| io::Error::other("scripted reader opened twice"))?;
        Ok(ScriptedReader {
            rx,
            tx: self.tx.clone(),
            probe: self.probe.clone(),
        })
    }

    fn spec(&self) -> ChangeSourceSpec {
        let me = self.clone();
        RouteSource::spec(move || me.reader())
    }
}

/// A fake kernel: name → (ifindex, mtu), and a count of backend reads.
#[derive(Default)]
struct Kernel {
    devs: Mutex<HashMap<String, (u32, u32)>>,
    reads: AtomicUsize,
}

struct TestClass {
    kernel: Arc<Kernel>,
    script: Scripted,
}

impl NetdevClass for TestClass {
    fn type_name(&self) -> &str {
        "bsdtest"
    }

    fn construct(&self, name: &str, state: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>> {
        if !self.kernel.devs.lock().unwrap().contains_key(name) {
            return Err(Error::new(ErrorKind::NoDevice));
        }
        Ok(Box::new(TestDev {
            kernel: self.kernel.clone(),
            state: state.clone(),
        }))
    }

    fn change_source(&self) -> Option<ChangeSourceSpec> {
        Some(self.script.spec())
    }
}

struct TestDev {
    kernel: Arc<Kernel>,
    state: Arc<DeviceState>,
}

impl TestDev {
    fn get(&self) -> Result<(u32, u32)> {
        self.kernel.reads.fetch_add(1, Ordering::SeqCst);
        let devs = self.kernel.devs.lock().unwrap();
        devs.get(&*self.state.name())
            .copied()
            .ok_or_else(|| Error::new(ErrorKind::NoDevice))
    }
}

impl DeviceBackend for TestDev {
    fn ifindex(&self) -> Result<u32> {
        self.get().map(|d| d.0)
    }
    fn mtu(&self) -> Result<u32> {
        self.get().map(|d| d.1)
    }
    fn carrier(&self) -> Result<bool> {
        self.get().map(|_| false)
    }
    fn flags(&self) -> Result<Flags> {
        self.get().map(|_| Flags::empty())
    }
}

fn setup() -> (Registry, Arc<Kernel>, Scripted, Subscription) {
    let reg = Registry::new();
    let kernel = Arc::new(Kernel::default());
    kernel.devs.lock().unwrap().insert("em0".into(), (3, 1500));
    let script = Scripted::new();
    reg.register(Arc::new(TestClass {
        kernel: kernel.clone(),
        script: script.clone(),
    }))
    .unwrap();
    let sub = reg.subscribe().unwrap();
    (reg, kernel, script, sub)
}

#[test]
fn spec_key() {
    assert_eq!(Scripted::new().spec().key, ROUTE_KEY);
}

#[test]
fn link_change_by_index_keeps_the_name_and_carries_values() {
    let (reg, kernel, script, sub) = setup();
    let dev = reg.open("em0", "bsdtest").unwrap();
    assert_eq!(dev.mtu().unwrap(), 1500);
    let seq = dev.change_seq();
    let reads = kernel.reads.load(Ordering::SeqCst);

    let iff = IFF_UP | IFF_RUNNING | IFF_BROADCAST | IFF_PPROMISC;
    script.bytes(fixture::if_msghdr(
        3,
        iff,
        &sample_if_data(LINK_STATE_UP, 9000),
    ));
    let got = sub.recv_timeout(LONG).expect("an event");
    assert!(
        matches!(
            &got,
            Change::LinkChanged {
                ifindex: 3,
                name: None,
                ..
            }
        ),
        "{got:?}"
    );
    assert_eq!(&*dev.name(), "em0", "no name in RTM_IFINFO is no rename");
    assert!(dev.change_seq() > seq);
    // The message's values are in the cache: no read of the device.
    assert_eq!(dev.mtu().unwrap(), 9000);
    assert!(dev.carrier().unwrap());
    assert_eq!(
        dev.flags().unwrap(),
        Flags::UP | Flags::RUNNING | Flags::BROADCAST | Flags::PROMISC
    );
    assert_eq!(kernel.reads.load(Ordering::SeqCst), reads);
    // The same name still opens the same device.
    let again = reg.open("em0", "bsdtest").unwrap();
    assert_eq!(again.change_seq(), dev.change_seq());
}

#[test]
fn unknown_link_state_leaves_carrier_to_the_device() {
    let (reg, kernel, script, sub) = setup();
    let dev = reg.open("em0", "bsdtest").unwrap();
    dev.mtu().unwrap();
    script.bytes(fixture::if_msghdr(
        3,
        IFF_UP,
        &sample_if_data(LINK_STATE_UNKNOWN, 1500),
    ));
    sub.recv_timeout(LONG).unwrap();
    let reads = kernel.reads.load(Ordering::SeqCst);
    // Not in the message: asked again (the fake says no carrier).
    assert!(!dev.carrier().unwrap());
    assert!(kernel.reads.load(Ordering::SeqCst) > reads);
}

#[test]
fn arrival_then_departure() {
    let (reg, _kernel, script, sub) = setup();
    let dev = reg.open("em0", "bsdtest").unwrap();
    dev.mtu().unwrap();
    script.bytes(fixture::if_announce(9, "tap0", IFAN_ARRIVAL));
    assert_eq!(
        sub.recv_timeout(LONG),
        Some(Change::LinkChanged {
            ifindex: 9,
            name: Some(IfName::new("tap0").unwrap()),
            info: Default::default()
        })
    );
    assert!(!dev.is_gone());
    script.bytes(fixture::if_announce(3, "em0", IFAN_DEPARTURE));
    assert_eq!(
        sub.recv_timeout(LONG),
        Some(Change::LinkRemoved {
            ifindex: 3,
            name: IfName::new("em0").unwrap()
        })
    );
    assert!(dev.is_gone());
}

#[test]
fn address_change() {
    let (reg, _kernel, script, sub) = setup();
    let dev = reg.open("em0", "bsdtest").unwrap();
    dev.mtu().unwrap();
    let seq = dev.change_seq();
    script.bytes(fixture::ifa_msghdr(
        RTM_NEWADDR,
        3,
        &[
            (
                RTA_NETMASK,
                fixture::netmask_in(Ipv4Addr::new(255, 255, 255, 0), 8),
            ),
            (RTA_IFA, fixture::sockaddr_in(Ipv4Addr::new(192, 0, 2, 1))),
        ],
    ));
    assert_eq!(
        sub.recv_timeout(LONG),
        Some(Change::AddrChanged { ifindex: 3 })
    );
    assert!(dev.change_seq() > seq);
}

#[test]
fn enobufs_is_an_overflow_and_drops_caches() {
    let (reg, kernel, script, sub) = setup();
    let dev = reg.open("em0", "bsdtest").unwrap();
    assert_eq!(dev.mtu().unwrap(), 1500);
    kernel.devs.lock().unwrap().insert("em0".into(), (3, 1280));
    script.errno(libc::ENOBUFS);
    assert_eq!(sub.recv_timeout(LONG), Some(Change::Overflow));
    assert_eq!(dev.mtu().unwrap(), 1280, "cache dropped by the overflow");
    // Events after the overflow still come through.
    script.bytes(fixture::if_announce(3, "em0", IFAN_DEPARTURE));
    assert!(matches!(
        sub.recv_timeout(LONG),
        Some(Change::LinkRemoved { ifindex: 3, .. })
    ));
}

#[test]
fn malformed_message_is_an_overflow() {
    let (reg, _kernel, script, sub) = setup();
    let _dev = reg.open("em0", "bsdtest").unwrap();
    let mut bad = fixture::if_msghdr(3, 0, &sample_if_data(LINK_STATE_UP, 1500));
    bad[MSG_VERSION] = 4;
    script.bytes(bad);
    assert_eq!(sub.recv_timeout(LONG), Some(Change::Overflow));
    // Truncated: the datagram is shorter than its rtm_msglen.
    let mut cut = fixture::if_msghdr(3, 0, &sample_if_data(LINK_STATE_UP, 1500));
    cut.truncate(100);
    script.bytes(cut);
    assert_eq!(sub.recv_timeout(LONG), Some(Change::Overflow));
}

#[test]
fn untracked_messages_yield_nothing() {
    let (reg, _kernel, script, sub) = setup();
    let _dev = reg.open("em0", "bsdtest").unwrap();
    script.bytes(fixture::other(1, 152)); // RTM_ADD
    script.bytes(fixture::other(RTM_NEWMADDR, 16));
    script.bytes(fixture::ifa_msghdr(RTM_DELADDR, 3, &[]));
    assert_eq!(
        sub.recv_timeout(LONG),
        Some(Change::AddrChanged { ifindex: 3 })
    );
    assert_eq!(sub.try_recv(), None);
}

/// The source alone: timeouts, wake-ups, other errors, skipping.
#[test]
fn source_reads() {
    let script = Scripted::new();
    let mut src = RouteSource::new(script.reader().unwrap());
    let mut out = Vec::new();
    src.read_changes(&mut out, Some(Duration::from_millis(10)))
        .unwrap();
    assert!(out.is_empty(), "timed out");
    (src.waker())();
    src.read_changes(&mut out, None).unwrap();
    assert!(out.is_empty(), "woken");
    script.errno(libc::EBADF);
    let e = src.read_changes(&mut out, None).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
    // Skips datagrams without events, returns on the first with one.
    script.bytes(fixture::other(1, 152));
    script.bytes(fixture::if_announce(4, "lo1", IFAN_ARRIVAL));
    src.read_changes(&mut out, None).unwrap();
    assert_eq!(out.len(), 1);
    // Without a ready descriptor there is nothing to read without blocking.
    assert!(src.ready_fd().is_none());
    out.clear();
    src.try_read_changes(&mut out).unwrap();
    assert!(out.is_empty());
}

/// A fake kernel addressed as FreeBSD's is: ioctls by name, sysctls by
/// index; index → (what the sysctls say, MTU).
#[derive(Default)]
struct IndexKernel {
    ifs: Mutex<HashMap<u32, (IfSnapshot, u32)>>,
}

impl IndexKernel {
    fn add(&self, index: u32, name: &str, driver: &str, epoch: i64, mtu: u32) {
        let snap = IfSnapshot {
            name: name.into(),
            driver: driver.into(),
            epoch,
        };
        self.ifs.lock().unwrap().insert(index, (snap, mtu));
    }

    fn rename(&self, index: u32, to: &str) {
        self.ifs.lock().unwrap().get_mut(&index).unwrap().0.name = to.into();
    }

    fn remove(&self, index: u32) {
        self.ifs.lock().unwrap().remove(&index);
    }

    fn lookup(&self, index: u32) -> io::Result<Option<IfSnapshot>> {
        Ok(self.ifs.lock().unwrap().get(&index).map(|e| e.0.clone()))
    }

    /// `SIOCGIFMTU`: by name, `ENXIO` for a name no interface has.
    fn mtu_by_name(&self, name: &str) -> io::Result<u32> {
        self.ifs
            .lock()
            .unwrap()
            .values()
            .find(|e| e.0.name == name)
            .map(|e| e.1)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENXIO))
    }

    fn index_of(&self, name: &str) -> Option<u32> {
        let ifs = self.ifs.lock().unwrap();
        ifs.iter().find(|(_, e)| e.0.name == name).map(|(&i, _)| i)
    }
}

/// A class whose devices are tracked as the FreeBSD `system` class's are
/// ([`netdev_bsd::track`]), over [`IndexKernel`].
struct TrackClass {
    kernel: Arc<IndexKernel>,
    script: Scripted,
}

impl NetdevClass for TrackClass {
    fn type_name(&self) -> &str {
        "bsdtrack"
    }

    fn construct(&self, name: &str, state: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>> {
        let index = self
            .kernel
            .index_of(name)
            .ok_or_else(|| Error::new(ErrorKind::NoDevice))?;
        let snap = self.kernel.lookup(index)?.expect("just found");
        Ok(Box::new(TrackDev {
            tracked: Tracked::new(Identity::of(index, &snap), name),
            state: state.clone(),
            kernel: self.kernel.clone(),
        }))
    }

    fn change_source(&self) -> Option<ChangeSourceSpec> {
        Some(self.script.spec())
    }
}

struct TrackDev {
    tracked: Tracked,
    state: Arc<DeviceState>,
    kernel: Arc<IndexKernel>,
}

impl DeviceBackend for TrackDev {
    fn ifindex(&self) -> Result<u32> {
        match self.tracked.check(|i| self.kernel.lookup(i))? {
            Check::Same(_) => Ok(self.tracked.identity().ifindex),
            Check::Gone => Err(Error::new(ErrorKind::NoDevice)),
        }
    }
    fn mtu(&self) -> Result<u32> {
        let k = &self.kernel;
        Ok(self
            .tracked
            .by_name(&self.state.name(), |i| k.lookup(i), |n| k.mtu_by_name(n))?)
    }
}

fn setup_tracked() -> (Registry, Arc<IndexKernel>, Scripted, Subscription) {
    let reg = Registry::new();
    let kernel = Arc::new(IndexKernel::default());
    kernel.add(3, "em0", "em0", 10, 1500);
    let k = kernel.clone();
    let script = Scripted::with_probe(Arc::new(move |i| Ok(Some(k.lookup(i)?.is_some()))));
    reg.register(Arc::new(TrackClass {
        kernel: kernel.clone(),
        script: script.clone(),
    }))
    .unwrap();
    let sub = reg.subscribe().unwrap();
    (reg, kernel, script, sub)
}

/// `ifconfig em0 name lan0`: FreeBSD announces the departure of `em0`
/// then the arrival of `lan0`, both with index 3. The handle keeps
/// working, under its new name, before and after the arrival is read.
#[test]
fn rename_is_departure_then_arrival_by_index() {
    let (reg, kernel, script, sub) = setup_tracked();
    let dev = reg.open("em0", "bsdtrack").unwrap();
    assert_eq!(dev.mtu().unwrap(), 1500);

    kernel.rename(3, "lan0");
    script.bytes(fixture::if_announce(3, "em0", IFAN_DEPARTURE));
    // The index is still in use: not a removal, a check of every device.
    assert_eq!(sub.recv_timeout(LONG), Some(Change::Overflow));
    assert!(!dev.is_gone(), "same driver instance and attach time");
    // The core does not know the new name yet; the handle finds it.
    kernel.ifs.lock().unwrap().get_mut(&3).unwrap().1 = 9000;
    assert_eq!(dev.mtu().unwrap(), 9000);

    script.bytes(fixture::if_announce(3, "lan0", IFAN_ARRIVAL));
    assert_eq!(
        sub.recv_timeout(LONG),
        Some(Change::LinkChanged {
            ifindex: 3,
            name: Some(IfName::new("lan0").unwrap()),
            info: Default::default()
        })
    );
    assert_eq!(&*dev.name(), "lan0");
    assert!(!dev.is_gone());
    // The new name opens the same device; the old one names nothing.
    let again = reg.open("lan0", "bsdtrack").unwrap();
    assert_eq!(again.change_seq(), dev.change_seq());
    assert!(reg.open("em0", "bsdtrack").is_err());

    // A real departure: the index is free.
    kernel.remove(3);
    script.bytes(fixture::if_announce(3, "lan0", IFAN_DEPARTURE));
    assert_eq!(
        sub.recv_timeout(LONG),
        Some(Change::LinkRemoved {
            ifindex: 3,
            name: IfName::new("lan0").unwrap()
        })
    );
    assert!(dev.is_gone());
}

/// `em0` destroyed and its index given to a new `tap0` before the reader
/// saw the departure: the check by index finds another interface there,
/// and the handle is gone, not turned into `tap0`.
#[test]
fn departure_with_the_index_already_reused_is_a_removal() {
    let (reg, kernel, script, sub) = setup_tracked();
    let dev = reg.open("em0", "bsdtrack").unwrap();
    dev.mtu().unwrap();
    kernel.remove(3);
    kernel.add(3, "tap0", "tap0", 10, 1500);
    script.bytes(fixture::if_announce(3, "em0", IFAN_DEPARTURE));
    assert_eq!(sub.recv_timeout(LONG), Some(Change::Overflow));
    assert!(dev.is_gone());
    script.bytes(fixture::if_announce(3, "tap0", IFAN_ARRIVAL));
    assert!(matches!(
        sub.recv_timeout(LONG),
        Some(Change::LinkChanged { ifindex: 3, .. })
    ));
    assert_eq!(&*dev.name(), "em0", "a gone device is not renamed");
    assert!(dev.is_gone());
}

/// The source alone: a departure whose index cannot be checked is a
/// resynchronisation; one the reader cannot judge stays a removal.
#[test]
fn departure_probe_errors_resynchronise() {
    let failing =
        Scripted::with_probe(Arc::new(|_| Err(io::Error::from_raw_os_error(libc::EPERM))));
    let mut src = RouteSource::new(failing.reader().unwrap());
    let mut out = Vec::new();
    failing.bytes(fixture::if_announce(5, "tap0", IFAN_DEPARTURE));
    src.read_changes(&mut out, None).unwrap();
    assert_eq!(out, vec![Change::Overflow]);

    let unknown = Scripted::with_probe(Arc::new(|_| Ok(None)));
    let mut src = RouteSource::new(unknown.reader().unwrap());
    out.clear();
    unknown.bytes(fixture::if_announce(5, "tap0", IFAN_DEPARTURE));
    src.read_changes(&mut out, None).unwrap();
    assert_eq!(
        out,
        vec![Change::LinkRemoved {
            ifindex: 5,
            name: IfName::new("tap0").unwrap()
        }]
    );
}
