//! The registry: classes by type name, open devices by name and ifindex,
//! notifiers by key, subscribers, and the global change sequence.
//!
//! Locking rule: the registry lock is never held while a device could be
//! dropped or a class called (both may block or re-enter). Code below takes
//! what it needs out of the lock, releases it, then works.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use log::debug;
use parking_lot::{Mutex, RwLockWriteGuard};

use crate::class::{DeviceInfo, NetdevClass};
use crate::error::{Error, ErrorKind, Result};
use crate::line::CacheLine;
use crate::name::{validate_os_name, Escaped, IfName};
use crate::netdev::{Device, Gate, Netdev};
use crate::notifier::{
    Change, ChangeSourceSpec, HoldMark, Hooks, Notifier, Subscribers, Subscription,
    SUBSCRIPTION_CAPACITY,
};
use crate::seq::GlobalSeq;
use crate::state::{CacheFields, DeviceState, IfindexField};
use crate::stats::Stats;

/// A device as the index map holds it: see [`Entry::state`]. The state
/// is held (not the device): a change is applied under the registry lock
/// without taking a reference, which would write the state's reference
/// count, one more cache line on a waiting caller's way. A state outliving
/// its device until the map is swept is memory only.
#[derive(Clone)]
struct Tracked {
    dev: Weak<Device>,
    state: Arc<DeviceState>,
}

/// The device the last change of a notifier went to, kept with that
/// notifier's source (under its lock): the next change of the same
/// device, the usual case, is applied without the registry's lock and its
/// index map. It holds the device's state and a weak reference only, like
/// the map, so it never keeps a device open.
#[derive(Default)]
pub(crate) struct IndexHint(Option<HintEntry>);

struct HintEntry {
    ifindex: u32,
    tracked: Tracked,
    /// `GlobalSeq::index_epoch` when the entry was taken.
    epoch: u64,
}

/// Whether a link event naming `name` leaves `dev` as it is called: no
/// name in the message is no rename.
#[inline]
fn not_renamed(dev: &DeviceState, name: &Option<IfName>) -> bool {
    name.as_ref().map_or(true, |n| dev.name_is(n.as_bytes()))
}

impl IndexHint {
    /// The state of the open device `by_ifindex` maps `ifindex` to, if
    /// this hint still says so.
    fn get(&self, reg: &RegistryInner, ifindex: u32) -> Option<&Arc<DeviceState>> {
        let h = self.0.as_ref()?;
        if h.ifindex != ifindex || h.epoch != reg.global.index_epoch.load(Ordering::Acquire) {
            return None;
        }
        h.tracked.live()
    }
}

impl Tracked {
    fn new(dev: &Arc<Device>) -> Tracked {
        Tracked {
            dev: Arc::downgrade(dev),
            state: dev.state.clone(),
        }
    }

    /// The state, while the device is open.
    fn live(&self) -> Option<&Arc<DeviceState>> {
        (self.dev.strong_count() > 0).then_some(&self.state)
    }
}

/// A name's slot: a live device, a device still releasing its resources
/// (weak dead, gate closed), or an open in progress (weak empty, gate
/// closed until it finishes).
struct Entry {
    dev: Weak<Device>,
    /// The device's state, for the change path: it never holds the device
    /// itself, so the last user handle dropped is what closes a device,
    /// in the thread that drops it (a notifier thread applying a change at
    /// that moment must not end up closing it later).
    state: Weak<DeviceState>,
    type_name: Arc<str>,
    gate: Arc<Gate>,
}

impl Entry {
    /// True if the slot is busy: a live device, or one not yet settled.
    fn in_use(&self) -> bool {
        self.dev.strong_count() > 0 || !self.gate.is_open()
    }

    /// The state of the live device in this slot.
    fn live_state(&self) -> Option<Arc<DeviceState>> {
        if self.dev.strong_count() == 0 {
            return None;
        }
        self.state.upgrade()
    }

    fn holds(&self, state: &DeviceState) -> bool {
        std::ptr::eq(self.state.as_ptr(), state)
    }
}

/// Hashes interface indexes with one multiplication (Fibonacci hashing)
/// instead of SipHash's rounds: every notification looks its device up by
/// index, and a waiting caller applies it on its way (see
/// `Registry::wait_for_change`). Indexes come from the OS or a class, not
/// from a remote peer, so resistance to chosen keys buys nothing here.
#[derive(Default, Clone, Copy)]
struct IfindexHasher(u64);

impl Hasher for IfindexHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0 ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
struct RegState {
    classes: BTreeMap<String, Arc<dyn NetdevClass>>,
    devices: HashMap<Arc<str>, Entry>,
    /// Devices by interface index, as their states: what the change path
    /// needs, without keeping a device open (see [`Entry::state`]).
    by_ifindex: HashMap<u32, Tracked, BuildHasherDefault<IfindexHasher>>,
    /// Running notifiers by key, in use or lingering.
    notifiers: HashMap<&'static str, Arc<Notifier>>,
    /// Size at which dead entries are swept next (amortised cleanup).
    sweep_at: usize,
}

impl RegState {
    fn sweep(&mut self) {
        if self.devices.len() + self.by_ifindex.len() < self.sweep_at {
            return;
        }
        self.devices.retain(|_, e| e.in_use());
        self.by_ifindex.retain(|_, t| t.dev.strong_count() > 0);
        self.sweep_at = 64.max(2 * (self.devices.len() + self.by_ifindex.len()));
    }
}

/// In declaration order (`repr(C)`), starting a cache line of its own.
/// The notifier thread applies changes too, most likely on another CPU,
/// and a line it wrote there is a miss for the next caller here: of the
/// registry itself it only reads (`global`, `subscribers`' count), what it
/// writes is in [`GlobalSeq`]'s one line, and the `pumps` lock that waiting
/// callers take is on a line of its own (see `Registry::wait_for_change`).
#[repr(C, align(64))]
pub(crate) struct RegistryInner {
    /// Also holds the lock that [`Registry::hold_changes`] takes and the
    /// index epoch (see [`GlobalSeq`]): the one line of the registry that
    /// applying a change writes.
    global: Arc<GlobalSeq>,
    subscribers: Subscribers,
    linger: Mutex<Duration>,
    /// The running notifiers whose sources a waiting caller may read (see
    /// [`Registry::wait_for_change`]), kept apart from `state` so that the
    /// caller's way to them is one small lock and one list. Changed under
    /// the `state` lock, with `notifiers`. On a line of its own: only
    /// waiting callers write it (its lock), and the notifier thread reads
    /// the first line (`global`, `subscribers`) for every change it applies.
    pumps: CacheLine<Mutex<Vec<Arc<Notifier>>>>,
    state: Mutex<RegState>,
}

/// How long a notifier stays after its last device closed, unless
/// [`Registry::set_notifier_linger`] says otherwise.
pub const DEFAULT_NOTIFIER_LINGER: Duration = Duration::from_secs(5);

/// Netdev classes and the devices open through them.
///
/// Cheap to clone (clones share everything). Every API works on an explicit
/// `Registry`, so independent registries (one per test, say) never
/// interfere; [`Registry::global`] is a process-wide one for convenience.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RegistryInner>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry {
            inner: Arc::new(RegistryInner {
                state: Mutex::new(RegState {
                    sweep_at: 64,
                    ..RegState::default()
                }),
                pumps: CacheLine::default(),
                global: Arc::new(GlobalSeq::new()),
                subscribers: Subscribers::default(),
                linger: Mutex::new(DEFAULT_NOTIFIER_LINGER),
            }),
        }
    }

    /// The process-wide registry (empty until classes are registered).
    pub fn global() -> &'static Registry {
        static GLOBAL: OnceLock<Registry> = OnceLock::new();
        GLOBAL.get_or_init(Registry::new)
    }

    /// Registers `class` under its type name.
    pub fn register(&self, class: Arc<dyn NetdevClass>) -> Result<()> {
        let type_name = class.type_name().to_owned();
        let err = |kind| Err(Error::new(kind).with_op("register_class"));
        if type_name.is_empty() {
            return err(ErrorKind::InvalidInput("empty type name".into()));
        }
        let mut st = self.inner.state.lock();
        if st.classes.contains_key(&type_name) {
            return err(ErrorKind::AlreadyRegistered(type_name));
        }
        st.classes.insert(type_name, class);
        Ok(())
    }

    /// Removes the class registered as `type_name` and returns it. Refused
    /// with `EBUSY` while a device of that type is open (or still closing).
    pub fn unregister(&self, type_name: &str) -> Result<Arc<dyn NetdevClass>> {
        let err = |kind| Err(Error::new(kind).with_op("unregister_class"));
        let mut st = self.inner.state.lock();
        if !st.classes.contains_key(type_name) {
            return err(ErrorKind::UnknownType(type_name.into()));
        }
        let open: Vec<&str> = st
            .devices
            .iter()
            .filter(|(_, e)| &*e.type_name == type_name && e.in_use())
            .map(|(n, _)| &**n)
            .collect();
        if !open.is_empty() {
            let names = open.join(", ");
            return Err(Error::new(ErrorKind::Busy)
                .with_op("unregister_class")
                .with_detail(format!("{type_name} devices still open: {names}")));
        }
        match st.classes.remove(type_name) {
            Some(c) => Ok(c),
            None => err(ErrorKind::UnknownType(type_name.into())),
        }
    }

    /// The registered type names, sorted.
    pub fn types(&self) -> Vec<String> {
        self.inner.state.lock().classes.keys().cloned().collect()
    }

    /// The class registered as `type_name`.
    pub fn class(&self, type_name: &str) -> Option<Arc<dyn NetdevClass>> {
        self.inner.state.lock().classes.get(type_name).cloned()
    }

    /// Opens the device `name` of type `type_name`.
    ///
    /// If the name is already open, returns a handle to the same shared
    /// device (an error if it is open with another type). If a previous
    /// device of that name is still releasing its resources, waits for it.
    pub fn open(&self, name: &str, type_name: &str) -> Result<Netdev> {
        let ctx = |e: Error| e.with_op("open").with_device(name);
        // Any name the OS allows: a device may carry bytes no person would
        // type, and must still be reachable.
        validate_os_name(name).map_err(ctx)?;
        let (class, pending) = loop {
            let mut st = self.inner.state.lock();
            let Some(class) = st.classes.get(type_name).cloned() else {
                return Err(ctx(ErrorKind::UnknownType(type_name.into()).into()));
            };
            let Some(entry) = st.devices.get(name) else {
                let gate = Arc::new(Gate::default());
                st.devices.insert(
                    name.into(),
                    Entry {
                        dev: Weak::new(),
                        state: Weak::new(),
                        type_name: type_name.into(),
                        gate: gate.clone(),
                    },
                );
                break (class, PendingOpen::new(self.inner.clone(), name, gate));
            };
            if let Some(dev) = entry.dev.upgrade() {
                drop(st);
                return self.existing(dev, type_name).map_err(ctx);
            }
            if entry.gate.is_open() {
                st.devices.remove(name);
                continue;
            }
            let gate = entry.gate.clone();
            drop(st);
            gate.wait();
        };
        let dev = self.construct(&*class, name, type_name).map_err(ctx)?;
        Ok(pending.complete(dev))
    }

    fn existing(&self, dev: Arc<Device>, type_name: &str) -> Result<Netdev> {
        if &*dev.type_name == type_name {
            Ok(Netdev { dev })
        } else {
            Err(ErrorKind::TypeConflict {
                open_as: dev.type_name.to_string(),
                requested: type_name.into(),
            }
            .into())
        }
    }

    fn construct(
        &self,
        class: &dyn NetdevClass,
        name: &str,
        type_name: &str,
    ) -> Result<Arc<Device>> {
        // Start listening before reading any state, so no change between
        // the first read and the subscription goes unseen.
        let notifier = match class.change_source() {
            Some(spec) => Some(self.notifier_for(&spec)?),
            None => None,
        };
        let key = notifier.as_ref().map(NotifierUse::key);
        let state = Arc::new(DeviceState::new(name, self.inner.global.clone(), key));
        let backend = class.construct(name, &state)?;
        if let Ok(ifindex) = state.cached::<IfindexField>(|| backend.ifindex()) {
            state.set_identity(ifindex);
        }
        Ok(Arc::new(Device::new(
            state,
            type_name.into(),
            Arc::downgrade(&self.inner),
            backend,
            notifier,
        )))
    }

    /// A use of the notifier `spec` names, started if none runs.
    ///
    /// The source is opened and the thread started outside the registry
    /// lock (both are class code and may block). Two opens racing to start
    /// the same key both start one; the second to finish finds the first
    /// registered and stops its own.
    fn notifier_for(&self, spec: &ChangeSourceSpec) -> Result<NotifierUse> {
        let key = spec.key;
        loop {
            if let Some(n) = self.inner.state.lock().notifiers.get(key) {
                n.acquire();
                return Ok(NotifierUse::new(n.clone(), &self.inner));
            }
            let notifier = Arc::new(self.start_notifier(spec)?);
            let mut st = self.inner.state.lock();
            if st.notifiers.contains_key(key) {
                drop(st);
                drop(notifier); // stops and joins our extra thread
                continue;
            }
            notifier.acquire();
            st.notifiers.insert(key, notifier.clone());
            if notifier.shared_reads() {
                self.inner.pumps.lock().push(notifier.clone());
            }
            return Ok(NotifierUse::new(notifier, &self.inner));
        }
    }

    fn start_notifier(&self, spec: &ChangeSourceSpec) -> Result<Notifier> {
        let key = spec.key;
        let dispatch_to = Arc::downgrade(&self.inner);
        let retire_from = Arc::downgrade(&self.inner);
        let hooks = Hooks {
            dispatch: Box::new(move |batch, hint| {
                if let Some(reg) = dispatch_to.upgrade() {
                    // Recursive: a waiting caller pumping the notifier
                    // holds it too, and must not be queued behind a
                    // writer waiting for that caller.
                    let _applying = reg.global.applying.read_recursive();
                    reg.apply_batch(key, batch, hint);
                }
            }),
            retire: Box::new(move |id| retire_from.upgrade()?.retire_unused(key, id)),
        };
        Notifier::start(spec, *self.inner.linger.lock(), hooks)
            .map_err(|e| Error::from(e).with_op("start_notifier").with_detail(key))
    }

    /// Holds back the notifier threads until the guard drops: no event is
    /// applied to a cache or delivered meanwhile, so several devices can be
    /// read as one consistent snapshot. Events wait in the OS's socket; if
    /// they overflow it, the loss is reported ([`Change::Overflow`]) and
    /// caches are resynchronised once the guard drops, as after any
    /// overflow. Hold it briefly.
    pub fn hold_changes(&self) -> ChangesHeld<'_> {
        ChangesHeld {
            _guard: self.inner.global.applying.write(),
            _mark: HoldMark::new(),
        }
    }

    /// How long a notifier thread (and its socket) stays after the last
    /// device that needed it closed, so that a program opening, querying
    /// and closing devices one at a time does not start a thread per open.
    /// Zero stops it when the last device closes. Applies to notifiers
    /// started from now on; the default is [`DEFAULT_NOTIFIER_LINGER`].
    pub fn set_notifier_linger(&self, linger: Duration) {
        *self.inner.linger.lock() = linger;
    }

    /// The devices the class `type_name` could open now (see
    /// [`NetdevClass::enumerate`]), sorted by ifindex then name. Nothing is
    /// opened.
    pub fn enumerate(&self, type_name: &str) -> Result<Vec<DeviceInfo>> {
        let class = self.class_or_err(type_name, "enumerate")?;
        let mut list = class.enumerate().map_err(|e| e.with_op("enumerate"))?;
        list.sort_by(|a, b| (a.ifindex, &a.name).cmp(&(b.ifindex, &b.name)));
        Ok(list)
    }

    /// Visits the counters of every device of class `type_name` by
    /// ifindex, in one pass where the OS allows it (see
    /// [`NetdevClass::all_stats`]). The `Stats` is reused between calls:
    /// copy what you keep.
    pub fn all_stats(&self, type_name: &str, visit: &mut dyn FnMut(u32, &Stats)) -> Result<()> {
        let class = self.class_or_err(type_name, "all_stats")?;
        class.all_stats(visit).map_err(|e| e.with_op("all_stats"))
    }

    fn class_or_err(&self, type_name: &str, op: &'static str) -> Result<Arc<dyn NetdevClass>> {
        self.class(type_name)
            .ok_or_else(|| Error::new(ErrorKind::UnknownType(type_name.into())).with_op(op))
    }

    /// A handle to the open device called `name`, if any.
    pub fn lookup(&self, name: &str) -> Option<Netdev> {
        let dev = self.inner.state.lock().devices.get(name)?.dev.upgrade();
        dev.map(|dev| Netdev { dev })
    }

    /// A handle to the open device with interface index `ifindex`, if any.
    pub fn lookup_ifindex(&self, ifindex: u32) -> Option<Netdev> {
        let dev = self
            .inner
            .state
            .lock()
            .by_ifindex
            .get(&ifindex)?
            .dev
            .upgrade();
        dev.map(|dev| Netdev { dev })
    }

    /// Handles to every open device, sorted by name.
    pub fn devices(&self) -> Vec<Netdev> {
        let mut devs: Vec<Netdev> = self
            .inner
            .live_devices()
            .into_iter()
            .map(|dev| Netdev { dev })
            .collect();
        devs.sort_by_key(|d| d.name());
        devs
    }

    /// The global change sequence: bumped whenever any device's is.
    pub fn seq(&self) -> u64 {
        self.inner.global.get()
    }

    /// Blocks until the global change sequence differs from `seen` or
    /// `timeout` passes; returns its value then (equal to `seen` on
    /// timeout).
    ///
    /// Before it sleeps, the caller applies changes already queued by the
    /// OS itself (when the platform's source allows it and the notifier
    /// thread is not at it): a program that changes a device and then
    /// waits to see the change sees it without a hand-off between threads
    /// (see `examples/bench_system.rs` in netdev-linux, row 4).
    pub fn wait_for_change(&self, seen: u64, timeout: Duration) -> u64 {
        let now = self.inner.global.get();
        if now != seen {
            return now;
        }
        self.inner.pump_notifiers(timeout);
        let now = self.inner.global.get();
        if now != seen {
            return now;
        }
        self.inner.global.wait_for_change(seen, timeout)
    }

    /// Subscribes to the change events of this registry's notifiers. Fails
    /// only if the subscription's descriptor cannot be created (out of
    /// descriptors).
    pub fn subscribe(&self) -> Result<Subscription> {
        self.subscribe_with_capacity(SUBSCRIPTION_CAPACITY)
    }

    /// Like [`Registry::subscribe`] with a queue of `capacity` events.
    pub fn subscribe_with_capacity(&self, capacity: usize) -> Result<Subscription> {
        self.inner
            .subscribers
            .subscribe(capacity)
            .map_err(|e| Error::from(e).with_op("subscribe"))
    }

    /// Runs every class's periodic work.
    pub fn run(&self) {
        for class in self.classes() {
            class.run();
        }
    }

    /// How soon [`Registry::run`] should be called again (the soonest of the
    /// classes' wishes).
    pub fn wait_hint(&self) -> Option<Duration> {
        self.classes().iter().filter_map(|c| c.wait()).min()
    }

    fn classes(&self) -> Vec<Arc<dyn NetdevClass>> {
        self.inner.state.lock().classes.values().cloned().collect()
    }

    /// True if a notifier thread for `key` is running (in use, or
    /// lingering after its last device closed).
    pub fn notifier_running(&self, key: &str) -> bool {
        self.inner.state.lock().notifiers.contains_key(key)
    }

    /// Applies `change` as if the notifier `key` had reported it (for
    /// classes whose changes come from elsewhere, and for tests), and
    /// delivers it to subscribers.
    pub fn inject_change(&self, key: &str, change: Change) {
        self.inner
            .apply_change(key, &change, &mut IndexHint::default());
        self.inner.subscribers.publish(&change);
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.state.lock();
        f.debug_struct("Registry")
            .field("types", &st.classes.keys().collect::<Vec<_>>())
            .field("devices", &st.devices.len())
            .finish()
    }
}

/// See [`Registry::hold_changes`]; notifiers resume when this drops.
#[must_use = "changes resume as soon as the guard drops"]
pub struct ChangesHeld<'a> {
    _guard: RwLockWriteGuard<'a, ()>,
    _mark: HoldMark,
}

impl fmt::Debug for ChangesHeld<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChangesHeld")
    }
}

/// An open in progress: its placeholder entry is removed (and waiters
/// released) if the open fails or panics.
struct PendingOpen {
    reg: Arc<RegistryInner>,
    name: Arc<str>,
    gate: Arc<Gate>,
    done: bool,
}

impl PendingOpen {
    fn new(reg: Arc<RegistryInner>, name: &str, gate: Arc<Gate>) -> PendingOpen {
        PendingOpen {
            reg,
            name: name.into(),
            gate,
            done: false,
        }
    }

    fn complete(mut self, dev: Arc<Device>) -> Netdev {
        {
            let mut st = self.reg.state.lock();
            let identity = dev.state.identity();
            if identity != 0 {
                if let Some(old) = st.by_ifindex.get(&identity) {
                    if old.dev.strong_count() > 0 {
                        log::warn!(
                            "{}: ifindex {identity} already belongs to another open device",
                            Escaped(&self.name)
                        );
                    }
                }
                st.by_ifindex.insert(identity, Tracked::new(&dev));
                self.reg.global.index_epoch.fetch_add(1, Ordering::Release);
            }
            st.devices.insert(
                self.name.clone(),
                Entry {
                    dev: Arc::downgrade(&dev),
                    state: Arc::downgrade(&dev.state),
                    type_name: dev.type_name.clone(),
                    gate: dev.closed_gate(),
                },
            );
            st.sweep();
        }
        self.done = true;
        self.gate.open();
        Netdev { dev }
    }
}

impl Drop for PendingOpen {
    fn drop(&mut self) {
        if !self.done {
            let mut st = self.reg.state.lock();
            if st
                .devices
                .get(&self.name)
                .is_some_and(|e| Arc::ptr_eq(&e.gate, &self.gate))
            {
                st.devices.remove(&self.name);
            }
            drop(st);
            self.gate.open();
        }
    }
}

/// A device's use of a notifier: counted while it lives, so the notifier
/// knows when it is idle.
pub(crate) struct NotifierUse {
    notifier: Arc<Notifier>,
    registry: Weak<RegistryInner>,
}

impl NotifierUse {
    fn new(notifier: Arc<Notifier>, registry: &Arc<RegistryInner>) -> NotifierUse {
        NotifierUse {
            notifier,
            registry: Arc::downgrade(registry),
        }
    }

    pub(crate) fn key(&self) -> &'static str {
        self.notifier.key()
    }
}

impl Drop for NotifierUse {
    fn drop(&mut self) {
        if self.notifier.release() && self.notifier.linger().is_zero() {
            // No linger: stop now, synchronously, as the last device goes.
            if let Some(reg) = self.registry.upgrade() {
                drop(reg.retire_unused(self.notifier.key(), self.notifier.id()));
            }
        }
    }
}

impl fmt::Debug for NotifierUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.notifier.fmt(f)
    }
}

impl RegistryInner {
    /// Reads and applies what the running notifiers' sources have queued,
    /// from the calling thread (see [`Registry::wait_for_change`]).
    fn pump_notifiers(&self, patience: Duration) {
        // Held by this very thread (hold_changes, then a wait): applying
        // would deadlock, and the caller asked for nothing to be applied.
        // Held from here to the end, so what is read is applied here.
        let Some(applying) = self.global.applying.try_read() else {
            return;
        };
        // Taken out of the lock (applying may drop one, which takes it),
        // without allocating for the usual single notifier (one per
        // platform source, rarely more than one).
        let (first, more) = {
            let pumps = self.pumps.lock();
            match pumps.split_first() {
                None => return,
                Some((first, more)) => (first.clone(), more.to_vec()),
            }
        };
        for n in std::iter::once(&first).chain(&more) {
            let key = n.key();
            n.try_pump(patience, &mut |batch, hint| {
                self.apply_batch(key, batch, hint)
            });
        }
        // Released before the clones go: dropping the last one of a
        // notifier retired meanwhile joins its thread, which may be
        // waiting for `applying`.
        drop(applying);
    }

    /// Applies `batch` (emptying it), in order: caches first, then
    /// subscribers. Called with `applying` held.
    #[inline]
    fn apply_batch(&self, key: &str, batch: &mut Vec<Change>, hint: &mut IndexHint) {
        for change in batch.drain(..) {
            self.apply_change(key, &change, hint);
            self.subscribers.publish(&change);
        }
    }

    /// Removes the notifier `key` from the registry if it is the one with
    /// `id` and no device uses it, and returns it for the caller to drop
    /// outside the lock (dropping it stops its thread).
    fn retire_unused(&self, key: &str, id: usize) -> Option<Arc<Notifier>> {
        let mut st = self.state.lock();
        let n = st.notifiers.get(key)?;
        if n.id() != id || !n.unused() {
            return None;
        }
        self.pumps.lock().retain(|p| p.id() != id);
        st.notifiers.remove(key)
    }

    fn live_devices(&self) -> Vec<Arc<Device>> {
        let st = self.state.lock();
        st.devices
            .values()
            .filter_map(|e| e.dev.upgrade())
            .collect()
    }

    /// The state of the device tracked under `ifindex`, taken out of the
    /// lock.
    fn find_ifindex(&self, ifindex: u32) -> Option<Arc<DeviceState>> {
        self.state
            .lock()
            .by_ifindex
            .get(&ifindex)
            .and_then(Tracked::live)
            .cloned()
    }

    /// Tracks the device whose state is `dev` under `ifindex` too.
    fn track_ifindex(&self, dev: &DeviceState, ifindex: u32) {
        let mut st = self.state.lock();
        let Some(entry) = st.devices.get(&*dev.name()).filter(|e| e.holds(dev)) else {
            return; // closed or renamed meanwhile: nothing to track
        };
        let Some(state) = entry.state.upgrade() else {
            return;
        };
        let tracked = Tracked {
            dev: entry.dev.clone(),
            state,
        };
        st.by_ifindex.insert(ifindex, tracked);
        self.global.index_epoch.fetch_add(1, Ordering::Release);
    }

    /// The state of the live device tracked under `name`, taken out of the
    /// lock.
    fn find_name(&self, name: &str) -> Option<Arc<DeviceState>> {
        self.state
            .lock()
            .devices
            .get(name)
            .and_then(Entry::live_state)
    }

    /// Updates caches and device tracking for one change from the notifier
    /// `key`. Only devices of classes using that notifier are matched by
    /// name or index (a dummy device's synthetic ifindex means nothing to
    /// the kernel); an overflow invalidates every device.
    #[inline]
    pub(crate) fn apply_change(&self, key: &str, change: &Change, hint: &mut IndexHint) {
        // The usual change: of the device the notifier's last change went
        // to, not renamed (no name in the message is no rename). The hint
        // is only ever taken for a device of this notifier.
        if let Change::LinkChanged {
            ifindex,
            name,
            info,
        } = change
        {
            if let Some(dev) = hint.get(self, *ifindex) {
                if not_renamed(dev, name) {
                    dev.apply(info);
                    return;
                }
            }
        }
        self.apply_change_by_lookup(key, change, hint);
    }

    /// [`RegistryInner::apply_change`] for any change, looking the device
    /// up; takes the hint for the next change of the same device.
    #[inline(never)]
    fn apply_change_by_lookup(&self, key: &str, change: &Change, hint: &mut IndexHint) {
        let ours = |d: Option<Arc<DeviceState>>| d.filter(|d| d.notifier_key() == Some(key));
        // The name is looked up only when the index finds no device of
        // ours: the usual change, of a device tracked by index, then
        // touches one map entry (a waiting caller applies it on its way).
        match change {
            Change::LinkChanged {
                ifindex,
                name,
                info,
            } => {
                // A device of ours tracked by index and not renamed is
                // applied under the lock: no reference taken, no lock taken
                // twice. Applying calls no class code and drops no device
                // (see the module's locking rule).
                let renamed = {
                    let st = self.state.lock();
                    match st.by_ifindex.get(ifindex) {
                        Some(t) if t.live().is_some_and(|d| d.notifier_key() == Some(key)) => {
                            let dev = &t.state;
                            hint.0 = Some(HintEntry {
                                ifindex: *ifindex,
                                tracked: t.clone(),
                                epoch: self.global.index_epoch.load(Ordering::Acquire),
                            });
                            if not_renamed(dev, name) {
                                dev.apply(info);
                                return;
                            }
                            Some(dev.clone())
                        }
                        _ => None,
                    }
                };
                if let Some(dev) = renamed {
                    if let Some(name) = name.as_deref() {
                        self.rename(&dev, name);
                    }
                    dev.apply(info);
                } else if let Some(dev) = ours(name.as_deref().and_then(|n| self.find_name(n))) {
                    match dev.identity() {
                        0 => {
                            // Opened before its index was known: adopt it.
                            dev.set_identity(*ifindex);
                            self.track_ifindex(&dev, *ifindex);
                            dev.apply(info);
                        }
                        // Its index was learned between the two lookups
                        // (each takes the lock on its own): the same device,
                        // found by its name.
                        i if i == *ifindex => dev.apply(info),
                        // Same name, another index: removed and re-created.
                        _ => self.forget_gone(&dev),
                    }
                }
            }
            Change::LinkRemoved { ifindex, name } => {
                if let Some(dev) = ours(self.find_ifindex(*ifindex)) {
                    self.forget_gone(&dev);
                } else if let Some(dev) = ours(self.find_name(name)) {
                    match dev.identity() {
                        0 => dev.changed(),
                        // Its index was learned after the lookup by index.
                        i if i == *ifindex => self.forget_gone(&dev),
                        _ => {}
                    }
                }
            }
            Change::AddrChanged { ifindex } => {
                if let Some(dev) = ours(self.find_ifindex(*ifindex)) {
                    dev.invalidate(CacheFields::ADDRS);
                }
            }
            Change::Overflow => self.resync(key),
        }
    }

    /// After lost events: drop every cache, and check that each device of
    /// this notifier is still the one that was opened.
    ///
    /// The check asks the class about each device by name
    /// ([`NetdevClass::lookup`], one request on Linux), holding states
    /// only, so a last handle dropped meanwhile still closes its device in
    /// its own drop. A class that cannot look up by name is asked through
    /// the device itself, which is held for its answer: if its last handle
    /// goes meanwhile, it closes here (a window of one query).
    fn resync(&self, key: &str) {
        let states: Vec<(Arc<DeviceState>, Arc<str>)> = {
            let st = self.state.lock();
            st.devices
                .values()
                .filter_map(|e| Some((e.live_state()?, e.type_name.clone())))
                .collect()
        };
        for (state, type_name) in &states {
            state.changed();
            let identity = state.identity();
            if state.notifier_key() != Some(key) || identity == 0 {
                continue;
            }
            let Some(class) = self.state.lock().classes.get(&**type_name).cloned() else {
                continue;
            };
            let name = state.name();
            let now = match class.lookup(&name) {
                Ok(found) => Ok(found.map(|d| d.ifindex)),
                Err(e) if e.kind() == &ErrorKind::NotSupported => self.ask_backend(state),
                Err(e) => Err(e),
            };
            match now {
                // Gone, or another device under that name now.
                Ok(None) => self.forget_gone(state),
                Ok(Some(i)) if i != 0 && i != identity => self.forget_gone(state),
                Ok(Some(_)) => {}
                Err(e) => debug!("resync: {name:?} not checked: {e}"),
            }
        }
    }

    /// The index of the device whose state is `state`, from its backend:
    /// `Ok(None)` if it says there is no such device.
    fn ask_backend(&self, state: &DeviceState) -> Result<Option<u32>> {
        let dev = {
            let st = self.state.lock();
            let entry = st.devices.get(&*state.name()).filter(|e| e.holds(state));
            entry.and_then(|e| e.dev.upgrade())
        };
        let Some(dev) = dev else {
            // Closed or renamed meanwhile: nothing to check.
            return Ok(Some(0));
        };
        match dev.backend.ifindex() {
            Ok(i) => Ok(Some(i)),
            Err(e) if e.kind() == &ErrorKind::NoDevice => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn rename(&self, dev: &Arc<DeviceState>, new_name: &str) {
        let old_name = dev.name();
        let displaced = {
            let mut st = self.state.lock();
            let mine = st.devices.get(&old_name).is_some_and(|e| e.holds(dev));
            let displaced = match st.devices.get(new_name) {
                Some(e) if e.dev.strong_count() == 0 && !e.gate.is_open() => {
                    // An open of the new name is in progress; leave its slot
                    // alone. This device stays reachable by ifindex.
                    if mine {
                        st.devices.remove(&old_name);
                    }
                    dev.set_name(new_name);
                    return;
                }
                Some(e) => e.live_state(),
                None => None,
            };
            if mine {
                if let Some(entry) = st.devices.remove(&old_name) {
                    st.devices.insert(new_name.into(), entry);
                }
            }
            dev.set_name(new_name);
            displaced
        };
        log::debug!("{}: renamed to {}", Escaped(&old_name), Escaped(new_name));
        // A device still known under the new name is a stale one whose
        // removal we did not see.
        if let Some(other) = displaced.filter(|o| !Arc::ptr_eq(o, dev)) {
            self.forget_gone(&other);
        }
    }

    /// Marks `dev` removed and drops it from the name and index maps (only
    /// where the maps still point at it).
    pub(crate) fn forget_gone(&self, dev: &DeviceState) {
        if !dev.mark_gone() {
            return;
        }
        log::debug!("{}: device removed", Escaped(&dev.name()));
        let mut st = self.state.lock();
        let name = dev.name();
        if st.devices.get(&name).is_some_and(|e| e.holds(dev)) {
            st.devices.remove(&name);
        }
        let identity = dev.identity();
        if st
            .by_ifindex
            .get(&identity)
            .is_some_and(|t| std::ptr::eq(Arc::as_ptr(&t.state), dev))
        {
            st.by_ifindex.remove(&identity);
            self.global.index_epoch.fetch_add(1, Ordering::Release);
        }
    }
}
