//! Shared devices and the public [`Netdev`] handle.
//!
//! A `Device` exists once per open name: the backend, the per-device state
//! (cache, change sequence) and the notifier subscription. Every [`Netdev`]
//! handle of that name points at it; the last handle (or receive queue)
//! dropped releases it.

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::addr::{Ipv4Net, Ipv6Net};
use crate::class::DeviceBackend;
use crate::error::{Error, ErrorKind, Result};
use crate::eth_addr::EthAddr;
use crate::features::{FeatureSet, LinkSpeed};
use crate::flags::Flags;
use crate::offload::Offload;
use crate::packet::{frame_error, RxQueue, RxQueueOptions};
use crate::registry::{NotifierUse, RegistryInner};
use crate::state::{
    CacheFields, CarrierField, DeviceState, FeaturesField, FlagsField, IfindexField, In4Field,
    In6Field, MacField, MtuField,
};
use crate::stats::Stats;

/// A one-shot signal: "this entry has settled" (an open finished, or a
/// closed device finished releasing its resources).
#[derive(Debug, Default)]
pub(crate) struct Gate {
    open: Mutex<bool>,
    cond: Condvar,
}

impl Gate {
    pub(crate) fn open(&self) {
        *self.open.lock() = true;
        self.cond.notify_all();
    }

    pub(crate) fn is_open(&self) -> bool {
        *self.open.lock()
    }

    pub(crate) fn wait(&self) {
        let mut open = self.open.lock();
        while !*open {
            self.cond.wait(&mut open);
        }
    }
}

/// Opens the gate when dropped; the last field of [`Device`], so it fires
/// after the backend has released everything.
#[derive(Debug)]
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// One shared device. Field order is drop order: backend first (releases
/// OS resources), then the notifier reference (may stop the thread), then
/// the gate that lets a waiting open of the same name proceed.
pub(crate) struct Device {
    pub(crate) state: Arc<DeviceState>,
    pub(crate) type_name: Arc<str>,
    pub(crate) registry: Weak<RegistryInner>,
    pub(crate) backend: Box<dyn DeviceBackend>,
    /// Held for its `Drop`: the device's use of the notifier.
    _notifier: Option<NotifierUse>,
    closed: OpenOnDrop,
}

impl Device {
    pub(crate) fn new(
        state: Arc<DeviceState>,
        type_name: Arc<str>,
        registry: Weak<RegistryInner>,
        backend: Box<dyn DeviceBackend>,
        notifier: Option<NotifierUse>,
    ) -> Device {
        Device {
            state,
            type_name,
            registry,
            backend,
            _notifier: notifier,
            closed: OpenOnDrop(Arc::new(Gate::default())),
        }
    }

    pub(crate) fn closed_gate(&self) -> Arc<Gate> {
        self.closed.0.clone()
    }

    pub(crate) fn error_context(&self, e: Error, op: &'static str) -> Error {
        e.with_op(op).with_device(self.state.name())
    }

    pub(crate) fn check_present(&self, op: &'static str) -> Result<()> {
        if self.state.is_gone() {
            Err(self.error_context(Error::new(ErrorKind::Gone), op))
        } else {
            Ok(())
        }
    }

    /// Marks the device removed and forgets it in the registry, so a fresh
    /// open of the name finds the new device.
    pub(crate) fn forget(self: &Arc<Device>) {
        if let Some(reg) = self.registry.upgrade() {
            reg.forget_gone(&self.state);
        } else {
            self.state.mark_gone();
        }
    }
}

/// A handle to an open network device.
///
/// Cheap to clone; all handles of a name share one device, its cache and
/// its change sequence. Getters answer from the cache when they can and ask
/// the backend once otherwise; setters update the cache. Every error names
/// the operation and the device.
#[derive(Clone)]
pub struct Netdev {
    pub(crate) dev: Arc<Device>,
}

impl Netdev {
    fn context<T>(&self, op: &'static str, r: Result<T>) -> Result<T> {
        r.map_err(|e| self.dev.error_context(e, op))
    }

    fn backend(&self) -> &dyn DeviceBackend {
        &*self.dev.backend
    }

    fn get<F: crate::state::CacheField>(
        &self,
        op: &'static str,
        fetch: impl FnOnce(&dyn DeviceBackend) -> Result<F::Value>,
    ) -> Result<F::Value> {
        self.dev.check_present(op)?;
        let r = self.dev.state.cached::<F>(|| fetch(self.backend()));
        self.context(op, r)
    }

    fn call<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&dyn DeviceBackend) -> Result<T>,
    ) -> Result<T> {
        self.dev.check_present(op)?;
        let r = f(self.backend());
        self.context(op, r)
    }

    fn invalid<T>(&self, op: &'static str, why: String) -> Result<T> {
        self.context(op, Err(Error::new(ErrorKind::InvalidInput(why))))
    }

    /// The device's name (current: it follows renames).
    pub fn name(&self) -> Arc<str> {
        self.dev.state.name()
    }

    /// The type the device was opened as.
    pub fn type_name(&self) -> &str {
        &self.dev.type_name
    }

    /// The device's change sequence: never 0, bumped on every change the
    /// library observes (a setter, a notifier event, a backend report).
    ///
    /// To wait for a change, block in [`crate::Registry::wait_for_change`]
    /// rather than spinning on this: the kernel tends to wake the notifier
    /// thread on the CPU of the thread that caused the change, so a spinning
    /// caller delays the very update it waits for (measured: 0.7 ms median
    /// spinning on 2 CPUs, against 17 µs blocking).
    pub fn change_seq(&self) -> u64 {
        self.dev.state.seq()
    }

    /// True if the device was removed (or removed and re-created under the
    /// same name) while open. Operations then fail with
    /// [`ErrorKind::Gone`]; open the name again for the new device.
    pub fn is_gone(&self) -> bool {
        self.dev.state.is_gone()
    }

    /// True if `self` and `other` are handles of the same shared device.
    pub fn same_device(&self, other: &Netdev) -> bool {
        Arc::ptr_eq(&self.dev, &other.dev)
    }

    /// Which values are cached now (diagnostics and tests).
    pub fn cached_fields(&self) -> CacheFields {
        self.dev.state.cached_fields()
    }

    /// The interface index.
    pub fn ifindex(&self) -> Result<u32> {
        let r = self.get::<IfindexField>("get_ifindex", |b| b.ifindex());
        let identity = self.dev.state.identity();
        match r {
            Ok(i) if identity != 0 && i != identity => {
                // Same name, new index: the device we opened is gone.
                self.dev.forget();
                self.context("get_ifindex", Err(Error::new(ErrorKind::Gone)))
            }
            r => r,
        }
    }

    /// The Ethernet address.
    pub fn mac(&self) -> Result<EthAddr> {
        self.get::<MacField>("get_etheraddr", |b| b.mac())
    }

    /// Sets the Ethernet address; it must be unicast and not zero.
    pub fn set_mac(&self, mac: EthAddr) -> Result<()> {
        const OP: &str = "set_etheraddr";
        if !mac.is_valid_unicast() {
            return self.invalid(OP, format!("{mac} is not a unicast address"));
        }
        self.call(OP, |b| b.set_mac(mac))?;
        self.dev.state.store::<MacField>(mac);
        Ok(())
    }

    /// The MTU.
    pub fn mtu(&self) -> Result<u32> {
        self.get::<MtuField>("get_mtu", |b| b.mtu())
    }

    /// Sets the MTU (at least 1; the backend enforces the device's range).
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        const OP: &str = "set_mtu";
        if mtu == 0 {
            return self.invalid(OP, "MTU 0".into());
        }
        self.call(OP, |b| b.set_mtu(mtu))?;
        self.dev.state.store::<MtuField>(mtu);
        Ok(())
    }

    /// True if the link has carrier.
    pub fn carrier(&self) -> Result<bool> {
        self.get::<CarrierField>("get_carrier", |b| b.carrier())
    }

    /// How many times carrier went down since the device was created.
    pub fn carrier_resets(&self) -> Result<u64> {
        self.call("get_carrier_resets", |b| b.carrier_resets())
    }

    /// Current counters (never cached).
    pub fn stats(&self) -> Result<Stats> {
        self.call("get_stats", |b| b.stats())
    }

    /// Link features: current, advertised, supported and peer.
    pub fn features(&self) -> Result<FeatureSet> {
        self.get::<FeaturesField>("get_features", |b| b.features())
    }

    /// Current speed and duplex: the exact value when the backend knows it,
    /// otherwise the fastest current speed feature.
    pub fn speed(&self) -> Result<LinkSpeed> {
        let f = self.features()?;
        match f.speed.or_else(|| f.current.max_speed()) {
            Some(s) => Ok(s),
            None => self.context("get_speed", Err(Error::not_supported())),
        }
    }

    /// The IPv4 address and netmask, `None` if the device has none.
    pub fn in4(&self) -> Result<Option<Ipv4Net>> {
        self.get::<In4Field>("get_in4", |b| b.in4())
    }

    /// Sets (or with `None` removes) the IPv4 address and netmask.
    pub fn set_in4(&self, net: Option<Ipv4Net>) -> Result<()> {
        self.call("set_in4", |b| b.set_in4(net))?;
        self.dev.state.store::<In4Field>(net);
        Ok(())
    }

    /// The IPv6 addresses with their prefix lengths.
    pub fn in6(&self) -> Result<Vec<Ipv6Net>> {
        self.get::<In6Field>("get_in6", |b| b.in6().map(Arc::from))
            .map(|a| a.to_vec())
    }

    /// Free-form status (`kind`, `driver_name`, `master`...), in the
    /// spirit of Open vSwitch's `get_status`: for people and diagnostics.
    /// Never cached.
    pub fn status(&self) -> Result<BTreeMap<String, String>> {
        self.call("get_status", |b| b.status())
    }

    /// The current flags.
    pub fn flags(&self) -> Result<Flags> {
        self.get::<FlagsField>("get_flags", |b| b.flags())
    }

    /// Turns the flags in `off` off and those in `on` on, returning the flags
    /// as they were. Only [`Flags::SETTABLE`] flags can change, and a flag
    /// cannot be in both sets.
    pub fn update_flags(&self, off: Flags, on: Flags) -> Result<Flags> {
        const OP: &str = "update_flags";
        let extra = (off | on) - Flags::SETTABLE;
        if !extra.is_empty() {
            return self.invalid(OP, format!("flags {} cannot be set", extra.names()));
        }
        if off.intersects(on) {
            return self.invalid(
                OP,
                format!("flags {} both turned on and off", (off & on).names()),
            );
        }
        let old = self.call(OP, |b| b.update_flags(off, on))?;
        if (old - off) | on != old {
            // Administrative state changes can change RUNNING and carrier
            // too, so re-read rather than compute.
            self.dev
                .state
                .invalidate(CacheFields::FLAGS | CacheFields::CARRIER);
        }
        Ok(old)
    }

    /// Turns `flags` on; the returned guard turns back off, when dropped,
    /// those of them that were off before.
    pub fn turn_flags_on(&self, flags: Flags) -> Result<SavedFlags> {
        let old = self.update_flags(Flags::empty(), flags)?;
        Ok(SavedFlags::new(self.clone(), flags - old, Flags::empty()))
    }

    /// Turns `flags` off; the returned guard turns back on, when dropped,
    /// those of them that were on before.
    pub fn turn_flags_off(&self, flags: Flags) -> Result<SavedFlags> {
        let old = self.update_flags(flags, Flags::empty())?;
        Ok(SavedFlags::new(self.clone(), Flags::empty(), flags & old))
    }

    /// Opens a receive queue of this handle. Each queue receives every frame
    /// that arrives on the device while it is open.
    pub fn open_rx(&self) -> Result<RxQueue> {
        let backend = self.call("rxq_construct", |b| b.open_rx())?;
        Ok(RxQueue::new(backend, self.dev.clone()))
    }

    /// Opens a receive queue as `options` say (see [`RxQueueOptions`]).
    pub fn open_rx_with(&self, options: &RxQueueOptions) -> Result<RxQueue> {
        let backend = self.call("rxq_construct", |b| b.open_rx_with(options))?;
        Ok(RxQueue::new(backend, self.dev.clone()))
    }

    /// Sends `frames` with their offload metadata (`offloads[i]` for
    /// `frames[i]`, as an offload receive queue delivered them), with the
    /// contract of [`Netdev::send_batch`]. A device that can take the
    /// metadata gets it (the kernel then segments, or the next device
    /// does); for the others each frame is completed in software first
    /// (checksum, TCP segmentation: [`crate::offload::segment`]).
    pub fn send_batch_offload(&self, frames: &[&[u8]], offloads: &[Offload]) -> Result<usize> {
        const OP: &str = "send";
        if frames.len() != offloads.len() {
            let e = Error::new(ErrorKind::InvalidInput(format!(
                "{} frames but {} offload records",
                frames.len(),
                offloads.len()
            )));
            return self.context(OP, Err(e));
        }
        if frames.is_empty() {
            return Ok(0);
        }
        if let Some((i, f)) = frames.iter().enumerate().find(|(_, f)| f.len() < 14) {
            let e = Error::new(ErrorKind::InvalidInput(
                "frame shorter than an Ethernet header".into(),
            ));
            return self.context(OP, Err(frame_error(e, i, f.len())));
        }
        match self.call(OP, |b| b.send_batch_offload(frames, offloads)) {
            Err(e) if e.kind() == &ErrorKind::WouldBlock => Ok(0),
            r => r,
        }
    }

    /// Sends `frames` in order; returns how many were queued. Fewer than all
    /// (possibly 0) means the device had no room: wait with
    /// [`Netdev::send_wait`] and send the rest. A frame the device can never
    /// send is an error naming its position in the batch.
    pub fn send_batch(&self, frames: &[&[u8]]) -> Result<usize> {
        const OP: &str = "send";
        if frames.is_empty() {
            return Ok(0);
        }
        if let Some((i, f)) = frames.iter().enumerate().find(|(_, f)| f.len() < 14) {
            let e = Error::new(ErrorKind::InvalidInput(
                "frame shorter than an Ethernet header".into(),
            ));
            return self.context(OP, Err(frame_error(e, i, f.len())));
        }
        match self.call(OP, |b| b.send_batch(frames)) {
            Err(e) if e.kind() == &ErrorKind::WouldBlock => Ok(0),
            r => r,
        }
    }

    /// Blocks until a send could make progress or `timeout` passes; true if
    /// there is room. A timeout too long to express as a deadline waits
    /// without limit, like `None`.
    pub fn send_wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let timeout = crate::packet::bounded_timeout(timeout);
        self.call("send_wait", |b| b.send_wait(timeout))
    }

    /// A descriptor that polls writable when [`Netdev::send_batch`] could
    /// make progress, for one poll/epoll loop over sends, receive queues
    /// and a [`crate::Subscription`].
    pub fn send_fd(&self) -> Result<BorrowedFd<'_>> {
        self.dev.check_present("send_fd")?;
        self.dev
            .backend
            .send_fd()
            .map_err(|e| self.dev.error_context(e, "send_fd"))
    }
}

impl fmt::Debug for Netdev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Netdev")
            .field("name", &self.name())
            .field("type", &self.type_name())
            .field("seq", &self.change_seq())
            .field("gone", &self.is_gone())
            .finish()
    }
}

/// Flags changed through [`Netdev::turn_flags_on`] or
/// [`Netdev::turn_flags_off`]; restores them when dropped (or by
/// [`SavedFlags::restore`], which reports errors instead of logging them).
#[must_use = "dropping the guard restores the flags at once"]
pub struct SavedFlags {
    netdev: Netdev,
    turned_on: Flags,
    turned_off: Flags,
    armed: bool,
}

impl SavedFlags {
    fn new(netdev: Netdev, turned_on: Flags, turned_off: Flags) -> SavedFlags {
        SavedFlags {
            netdev,
            turned_on,
            turned_off,
            armed: true,
        }
    }

    /// The flags this guard turned on (and will turn off again).
    pub fn turned_on(&self) -> Flags {
        self.turned_on
    }

    /// The flags this guard turned off (and will turn on again).
    pub fn turned_off(&self) -> Flags {
        self.turned_off
    }

    /// Restores the flags now, reporting failure.
    pub fn restore(mut self) -> Result<()> {
        self.armed = false;
        self.do_restore()
    }

    /// Keeps the changed flags: nothing is restored.
    pub fn keep(mut self) {
        self.armed = false;
    }

    fn do_restore(&self) -> Result<()> {
        if self.turned_on.is_empty() && self.turned_off.is_empty() {
            return Ok(());
        }
        self.netdev
            .update_flags(self.turned_on, self.turned_off)
            .map(|_| ())
    }
}

impl Drop for SavedFlags {
    fn drop(&mut self) {
        if self.armed {
            if let Err(e) = self.do_restore() {
                log::warn!("restoring flags failed: {e}");
            }
        }
    }
}

impl fmt::Debug for SavedFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SavedFlags")
            .field("device", &self.netdev.name())
            .field("turned_on", &self.turned_on)
            .field("turned_off", &self.turned_off)
            .finish()
    }
}
