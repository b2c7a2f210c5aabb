//! A scripted "kernel" for the core's tests: devices in a table, a class
//! whose backends read it (counting calls), and a change source fed from
//! the test through a channel.

#![allow(dead_code, missing_debug_implementations)]

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use netdev_core::{
    Change, ChangeSource, ChangeSourceSpec, DeviceBackend, DeviceInfo, DeviceState, Error,
    ErrorKind, EthAddr, FeatureSet, Features, Flags, NetdevClass, PacketBatch, Result,
    RxQueueBackend, Stats, Waker,
};
use parking_lot::Mutex;

#[derive(Debug, Clone)]
pub struct KDev {
    pub ifindex: u32,
    pub mtu: u32,
    pub mac: EthAddr,
    pub flags: Flags,
}

/// The fake kernel: devices by name.
#[derive(Default)]
pub struct Kernel {
    pub devs: Mutex<HashMap<String, KDev>>,
    next_ifindex: AtomicUsize,
    pub calls: AtomicUsize,
    pub live_backends: AtomicUsize,
    pub constructed: AtomicUsize,
    /// Largest number of backends alive at once for one name.
    pub max_alive_same_name: AtomicUsize,
    alive_by_name: Mutex<HashMap<String, usize>>,
    pub drop_delay: Mutex<Duration>,
}

impl Kernel {
    pub fn new() -> Arc<Kernel> {
        let k = Kernel::default();
        k.next_ifindex.store(10, Ordering::Relaxed);
        Arc::new(k)
    }

    /// Creates a device; returns its ifindex.
    pub fn add(&self, name: &str) -> u32 {
        let ifindex = self.next_ifindex.fetch_add(1, Ordering::Relaxed) as u32;
        self.devs.lock().insert(
            name.into(),
            KDev {
                ifindex,
                mtu: 1500,
                mac: EthAddr([2, 0, 0, 0, 0, ifindex as u8]),
                flags: Flags::BROADCAST,
            },
        );
        ifindex
    }

    pub fn remove(&self, name: &str) -> Option<KDev> {
        self.devs.lock().remove(name)
    }

    pub fn rename(&self, old: &str, new: &str) {
        let mut d = self.devs.lock();
        let dev = d.remove(old).expect("renamed device exists");
        d.insert(new.into(), dev);
    }

    pub fn set_mtu(&self, name: &str, mtu: u32) {
        self.devs.lock().get_mut(name).unwrap().mtu = mtu;
    }

    pub fn get(&self, name: &str) -> Option<KDev> {
        self.devs.lock().get(name).cloned()
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

pub struct MockClass {
    pub type_name: String,
    pub kernel: Arc<Kernel>,
    pub source: Option<ScriptedSpec>,
}

impl MockClass {
    pub fn new(
        type_name: &str,
        kernel: &Arc<Kernel>,
        source: Option<&ScriptedSpec>,
    ) -> Arc<MockClass> {
        Arc::new(MockClass {
            type_name: type_name.into(),
            kernel: kernel.clone(),
            source: source.cloned(),
        })
    }
}

impl NetdevClass for MockClass {
    fn type_name(&self) -> &str {
        &self.type_name
    }

    fn construct(&self, name: &str, state: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>> {
        if self.kernel.get(name).is_none() {
            return Err(Error::new(ErrorKind::NoDevice));
        }
        self.kernel.constructed.fetch_add(1, Ordering::SeqCst);
        self.kernel.live_backends.fetch_add(1, Ordering::SeqCst);
        {
            let mut alive = self.kernel.alive_by_name.lock();
            let n = alive.entry(name.into()).or_default();
            *n += 1;
            self.kernel
                .max_alive_same_name
                .fetch_max(*n, Ordering::SeqCst);
        }
        Ok(Box::new(MockDev {
            kernel: self.kernel.clone(),
            state: state.clone(),
            opened_as: name.into(),
        }))
    }

    fn change_source(&self) -> Option<ChangeSourceSpec> {
        self.source.as_ref().map(|s| s.spec())
    }

    fn lookup(&self, name: &str) -> Result<Option<DeviceInfo>> {
        Ok(self
            .kernel
            .get(name)
            .map(|d| DeviceInfo::new(name.to_owned(), d.ifindex)))
    }

    fn enumerate(&self) -> Result<Vec<DeviceInfo>> {
        let devs = self.kernel.devs.lock();
        Ok(devs
            .iter()
            .map(|(name, d)| {
                let mut info = DeviceInfo::new(name.clone(), d.ifindex);
                info.mtu = Some(d.mtu);
                info
            })
            .collect())
    }

    fn all_stats(&self, visit: &mut dyn FnMut(u32, &Stats)) -> Result<()> {
        let mut stats = Stats::default();
        for d in self.kernel.devs.lock().values() {
            stats.rx_packets = u64::from(d.ifindex) * 10;
            visit(d.ifindex, &stats);
        }
        Ok(())
    }
}

pub struct MockDev {
    kernel: Arc<Kernel>,
    state: Arc<DeviceState>,
    opened_as: String,
}

impl MockDev {
    fn with<T>(&self, f: impl FnOnce(&mut KDev) -> T) -> Result<T> {
        self.kernel.calls.fetch_add(1, Ordering::SeqCst);
        let mut devs = self.kernel.devs.lock();
        match devs.get_mut(&*self.state.name()) {
            Some(d) => Ok(f(d)),
            None => Err(Error::new(ErrorKind::NoDevice)),
        }
    }
}

impl Drop for MockDev {
    fn drop(&mut self) {
        let delay = *self.kernel.drop_delay.lock();
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        *self
            .kernel
            .alive_by_name
            .lock()
            .get_mut(&self.opened_as)
            .unwrap() -= 1;
        self.kernel.live_backends.fetch_sub(1, Ordering::SeqCst);
    }
}

impl DeviceBackend for MockDev {
    fn ifindex(&self) -> Result<u32> {
        self.with(|d| d.ifindex)
    }
    fn mtu(&self) -> Result<u32> {
        self.with(|d| d.mtu)
    }
    fn set_mtu(&self, mtu: u32) -> Result<()> {
        if mtu < 68 {
            return Err(Error::from_errno(libc::EINVAL));
        }
        self.with(|d| d.mtu = mtu)
    }
    fn mac(&self) -> Result<EthAddr> {
        self.with(|d| d.mac)
    }
    fn set_mac(&self, mac: EthAddr) -> Result<()> {
        self.with(|d| d.mac = mac)
    }
    fn carrier(&self) -> Result<bool> {
        self.with(|d| d.flags.contains(Flags::RUNNING))
    }
    fn update_flags(&self, off: Flags, on: Flags) -> Result<Flags> {
        self.with(|d| {
            let old = d.flags;
            d.flags = (old - off) | on;
            old
        })
    }
    fn features(&self) -> Result<FeatureSet> {
        self.with(|_| FeatureSet {
            current: Features::F_10GB_FD | Features::FIBER,
            ..FeatureSet::default()
        })
    }
    fn open_rx(&self) -> Result<Box<dyn RxQueueBackend>> {
        Ok(Box::new(NaiveRxq(UnixStream::pair()?.0)))
    }
    fn send_wait(&self, timeout: Option<Duration>) -> Result<bool> {
        // As naive as NaiveRxq::wait.
        let _deadline = timeout.map(|t| std::time::Instant::now() + t);
        Ok(true)
    }
}

/// A receive queue that is always empty and computes its deadline the
/// naive way (`Instant::now() + timeout`, which panics on overflow), as a
/// backend may: the core must never hand it a timeout that overflows.
pub struct NaiveRxq(UnixStream);

impl RxQueueBackend for NaiveRxq {
    fn recv_batch(&mut self, _batch: &mut PacketBatch) -> Result<usize> {
        Ok(0)
    }
    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let _deadline = timeout.map(|t| std::time::Instant::now() + t);
        Ok(timeout.is_none())
    }
    fn drain(&mut self) -> Result<()> {
        Ok(())
    }
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

enum Script {
    Changes(Vec<Change>),
    Fail(i32),
}

/// Runs inside a scripted source's `open`.
pub type OpenHook = Box<dyn Fn() + Send>;

/// Opens scripted sources; the test pushes changes through `push`.
#[derive(Clone)]
pub struct ScriptedSpec {
    key: &'static str,
    tx: Sender<Script>,
    rx: Receiver<Script>,
    pub opened: Arc<AtomicUsize>,
    pub dropped: Arc<AtomicUsize>,
    /// Nonzero: every read fails at once with this errno.
    pub fail_always: Arc<AtomicI32>,
    /// Runs inside `open` (to check what the registry holds meanwhile).
    pub on_open: Arc<Mutex<Option<OpenHook>>>,
}

impl ScriptedSpec {
    pub fn new(key: &'static str) -> ScriptedSpec {
        let (tx, rx) = crossbeam_channel::unbounded();
        ScriptedSpec {
            key,
            tx,
            rx,
            opened: Arc::default(),
            dropped: Arc::default(),
            fail_always: Arc::default(),
            on_open: Arc::default(),
        }
    }

    pub fn spec(&self) -> ChangeSourceSpec {
        let me = self.clone();
        ChangeSourceSpec {
            key: self.key,
            open: Arc::new(move || {
                if let Some(hook) = &*me.on_open.lock() {
                    hook();
                }
                me.opened.fetch_add(1, Ordering::SeqCst);
                let (wake_tx, wake_rx) = crossbeam_channel::unbounded();
                Ok(Box::new(ScriptedSource {
                    rx: me.rx.clone(),
                    wake_tx,
                    wake_rx,
                    dropped: me.dropped.clone(),
                    fail_always: me.fail_always.clone(),
                }) as Box<dyn ChangeSource>)
            }),
        }
    }

    pub fn push(&self, changes: Vec<Change>) {
        self.tx.send(Script::Changes(changes)).unwrap();
    }

    pub fn fail(&self, errno: i32) {
        self.tx.send(Script::Fail(errno)).unwrap();
    }

    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// Every source of a spec reads the one script, but each has its own wake
/// channel: a wake meant to stop one source (while racing opens leave
/// several running) must not be taken by another.
struct ScriptedSource {
    rx: Receiver<Script>,
    wake_tx: Sender<()>,
    wake_rx: Receiver<()>,
    dropped: Arc<AtomicUsize>,
    fail_always: Arc<AtomicI32>,
}

impl Drop for ScriptedSource {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

impl ChangeSource for ScriptedSource {
    fn read_changes(&mut self, out: &mut Vec<Change>, timeout: Option<Duration>) -> io::Result<()> {
        let errno = self.fail_always.load(Ordering::SeqCst);
        if errno != 0 {
            return Err(io::Error::from_raw_os_error(errno));
        }
        let mut sel = crossbeam_channel::Select::new();
        let script = sel.recv(&self.rx);
        let wake = sel.recv(&self.wake_rx);
        let op = match timeout {
            Some(t) => match sel.select_timeout(t) {
                Ok(op) => op,
                Err(_) => return Ok(()),
            },
            None => sel.select(),
        };
        let next = match op.index() {
            i if i == script => op.recv(&self.rx),
            i if i == wake => {
                let _ = op.recv(&self.wake_rx);
                return Ok(());
            }
            _ => unreachable!("two operations were selected on"),
        };
        match next {
            Ok(Script::Changes(c)) => {
                out.extend(c);
                Ok(())
            }
            Ok(Script::Fail(errno)) => Err(io::Error::from_raw_os_error(errno)),
            Err(_) => Ok(()),
        }
    }

    fn waker(&self) -> Waker {
        let tx = self.wake_tx.clone();
        Arc::new(move || {
            let _ = tx.send(());
        })
    }
}
