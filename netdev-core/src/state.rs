//! The per-device state the core keeps for every shared device: its current
//! name, the cache of values and errors with validity bits, the change
//! sequence, and whether it has been removed.
//!
//! Backends get an `Arc<DeviceState>` at construction so they can report
//! changes they learn of themselves (the dummy class does, for every
//! in-process change).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use bitflags::bitflags;
use parking_lot::{Mutex, RwLock};

use crate::addr::{Ipv4Net, Ipv6Net};
use crate::error::{Error, Result};
use crate::eth_addr::EthAddr;
use crate::features::FeatureSet;
use crate::flags::Flags;
use crate::notifier::LinkInfo;
use crate::seq::{ChangeSeq, GlobalSeq};

bitflags! {
    /// Which cached values are valid.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CacheFields: u32 {
        /// Interface index.
        const IFINDEX = 1 << 0;
        /// Ethernet address.
        const MAC = 1 << 1;
        /// MTU.
        const MTU = 1 << 2;
        /// Flags.
        const FLAGS = 1 << 3;
        /// Carrier.
        const CARRIER = 1 << 4;
        /// IPv4 address.
        const IN4 = 1 << 5;
        /// IPv6 addresses.
        const IN6 = 1 << 6;
        /// Link features.
        const FEATURES = 1 << 7;
        /// The fields a link-level change can affect (everything but the
        /// addresses, which have their own notifications).
        const LINK = Self::IFINDEX.bits() | Self::MAC.bits() | Self::MTU.bits()
            | Self::FLAGS.bits() | Self::CARRIER.bits() | Self::FEATURES.bits();
        /// The address fields.
        const ADDRS = Self::IN4.bits() | Self::IN6.bits();
    }
}

/// One cached answer: nothing yet, a value, or an error. Errors are boxed
/// (an [`Error`] is about 100 bytes): the values a change updates then
/// share two cache lines instead of spreading over a dozen, which a caller
/// applying a change after a pause finds cold, line by line.
type Slot<T> = Option<std::result::Result<T, Box<Error>>>;

/// Cached values; a field's content means something only while its bit is
/// in `valid`. Errors are cached too, so a device that cannot answer is not
/// asked again until something changes. In declaration order (`repr(C)`):
/// what a link change writes first.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct Cache {
    valid: CacheFields,
    /// Bumped on every invalidation, so a value fetched while an
    /// invalidation raced with it is returned but not stored.
    generation: u64,
    ifindex: Slot<u32>,
    mtu: Slot<u32>,
    flags: Slot<Flags>,
    carrier: Slot<bool>,
    mac: Slot<EthAddr>,
    in4: Slot<Option<Ipv4Net>>,
    in6: Slot<Arc<[Ipv6Net]>>,
    features: Slot<FeatureSet>,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            valid: CacheFields::empty(),
            generation: 0,
            ifindex: None,
            mtu: None,
            flags: None,
            carrier: None,
            mac: None,
            in4: None,
            in6: None,
            features: None,
        }
    }
}

impl Cache {
    /// Stores the values `info` carries and marks them valid.
    #[inline]
    fn take(&mut self, info: &LinkInfo) {
        if let Some(v) = info.mtu {
            put(&mut self.mtu, v);
            self.valid |= CacheFields::MTU;
        }
        if let Some(v) = info.mac {
            put(&mut self.mac, v);
            self.valid |= CacheFields::MAC;
        }
        if let Some(v) = info.flags {
            put(&mut self.flags, v);
            self.valid |= CacheFields::FLAGS;
        }
        if let Some(v) = info.carrier {
            put(&mut self.carrier, v);
            self.valid |= CacheFields::CARRIER;
        }
    }
}

/// Stores `v` in `slot` unless it holds it already: the lines of a
/// device's state that a change does not alter then stay clean in every
/// CPU's cache, and the next thread to apply a change reads them from a
/// shared copy instead of fetching them from the CPU that wrote them last
/// (see `DeviceState`'s layout).
#[inline]
fn put<T: PartialEq>(slot: &mut Slot<T>, v: T) {
    if !matches!(slot, Some(Ok(old)) if *old == v) {
        *slot = Some(Ok(v));
    }
}

/// Access to one field of [`Cache`], so one generic getter serves all.
pub(crate) trait CacheField {
    type Value: Clone;
    const BIT: CacheFields;
    fn slot(cache: &mut Cache) -> &mut Slot<Self::Value>;
}

macro_rules! cache_field {
    ($name:ident, $field:ident, $ty:ty, $bit:ident) => {
        pub(crate) struct $name;
        impl CacheField for $name {
            type Value = $ty;
            const BIT: CacheFields = CacheFields::$bit;
            fn slot(cache: &mut Cache) -> &mut Slot<$ty> {
                &mut cache.$field
            }
        }
    };
}

cache_field!(IfindexField, ifindex, u32, IFINDEX);
cache_field!(MacField, mac, EthAddr, MAC);
cache_field!(MtuField, mtu, u32, MTU);
cache_field!(FlagsField, flags, Flags, FLAGS);
cache_field!(CarrierField, carrier, bool, CARRIER);
cache_field!(In4Field, in4, Option<Ipv4Net>, IN4);
cache_field!(In6Field, in6, Arc<[Ipv6Net]>, IN6);
cache_field!(FeaturesField, features, FeatureSet, FEATURES);

/// Proof of when a backend's read started; see [`DeviceState::begin_read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadToken(u64);

/// Per-device state shared by the core, the notifier thread and the
/// backend.
///
/// In declaration order (`repr(C)`), starting a cache line: what applying
/// a link change writes (the sequence, the cache's lock and its link
/// fields) first, in as few lines as it fits, then what it only reads.
/// The notifier thread applies changes too, most likely on another CPU,
/// and every line it wrote there is a miss for a caller applying the next
/// change here (see `Registry::wait_for_change`).
#[derive(Debug)]
#[repr(C, align(64))]
pub struct DeviceState {
    seq: ChangeSeq,
    cache: Mutex<Cache>,
    /// The key of the notifier whose changes apply to this device (`None`:
    /// its class has none), so that applying a change reads no further
    /// than this state.
    notifier_key: Option<&'static str>,
    /// The ifindex the device had when opened (0: unknown). Unlike the
    /// cached ifindex it survives invalidation: it is the device's identity,
    /// used to notice a device removed and re-created under the same name.
    identity: AtomicU32,
    gone: AtomicBool,
    name: RwLock<Arc<str>>,
    /// `name` packed for the change path, which compares the name of every
    /// link event with it: reading the lock would write its line, which
    /// the notifier thread then has to fetch back from another CPU. See
    /// [`pack_name`].
    name_words: [AtomicU64; 2],
    global: Arc<GlobalSeq>,
}

/// A name of 1 to 15 bytes as two words: its bytes, zeros, and its length
/// in the last byte (so never two zero words, and names of different
/// lengths never pack alike); two zero words for any other.
#[inline]
fn pack_name(b: &[u8]) -> [u64; 2] {
    if b.is_empty() || b.len() > 15 {
        return [0, 0];
    }
    // A loop, not a copy of `b.len()` bytes: no call to `memcpy`.
    let mut bytes = [0u8; 16];
    for (d, s) in bytes.iter_mut().zip(b) {
        *d = *s;
    }
    bytes[15] = b.len() as u8;
    let (lo, hi) = bytes.split_at(8);
    [
        u64::from_ne_bytes(lo.try_into().unwrap_or_default()),
        u64::from_ne_bytes(hi.try_into().unwrap_or_default()),
    ]
}

impl DeviceState {
    pub(crate) fn new(
        name: &str,
        global: Arc<GlobalSeq>,
        notifier_key: Option<&'static str>,
    ) -> DeviceState {
        DeviceState {
            name: RwLock::new(name.into()),
            name_words: pack_name(name.as_bytes()).map(AtomicU64::new),
            identity: AtomicU32::new(0),
            gone: AtomicBool::new(false),
            seq: ChangeSeq::new(),
            cache: Mutex::new(Cache::new()),
            global,
            notifier_key,
        }
    }

    /// A stand-alone state for backend unit tests that do not go through a
    /// registry.
    pub fn detached(name: &str) -> Arc<DeviceState> {
        Arc::new(DeviceState::new(name, Arc::new(GlobalSeq::new()), None))
    }

    pub(crate) fn notifier_key(&self) -> Option<&'static str> {
        self.notifier_key
    }

    /// The device's current name (it follows renames).
    pub fn name(&self) -> Arc<str> {
        self.name.read().clone()
    }

    /// Whether the device is called `name` now (no copy of the name, and
    /// no lock for a name of up to 15 bytes: every name a device can get).
    ///
    /// Names change only on the change path, one change at a time (see
    /// `Registry`'s locking rule), so the two words are never read half
    /// written there; anywhere else a read racing a rename still gives the
    /// old name or the new one, since each word is.
    #[inline]
    pub(crate) fn name_is(&self, name: &[u8]) -> bool {
        let now = [
            self.name_words[0].load(Ordering::Acquire),
            self.name_words[1].load(Ordering::Acquire),
        ];
        if now != [0, 0] {
            return pack_name(name) == now;
        }
        self.name.read().as_bytes() == name
    }

    pub(crate) fn set_name(&self, name: &str) {
        let mut current = self.name.write();
        *current = name.into();
        for (word, v) in self.name_words.iter().zip(pack_name(name.as_bytes())) {
            word.store(v, Ordering::Release);
        }
    }

    /// The device's change sequence: never 0, bumped on every observed
    /// change.
    pub fn seq(&self) -> u64 {
        self.seq.get()
    }

    /// Bumps the change sequence (and the registry's) without touching the
    /// cache, for status changes the cache does not hold. Traffic and
    /// counters are not status: do not bump for them, or every waiter on the
    /// global sequence wakes per packet.
    pub fn bump(&self) {
        self.seq.bump();
        self.global.bump();
    }

    /// Reports that the device changed in an unknown way: drops every cached
    /// value and bumps the change sequence.
    pub fn changed(&self) {
        self.invalidate(CacheFields::all());
    }

    /// Reports a change of `fields`: drops those cached values and bumps the
    /// change sequence.
    pub fn invalidate(&self, fields: CacheFields) {
        {
            let mut c = self.cache.lock();
            c.valid.remove(fields);
            c.generation += 1;
        }
        self.bump();
    }

    /// Takes the values a notification carried into the cache (no round
    /// trip to the kernel for them), drops the other link-level values, and
    /// bumps the change sequence.
    #[inline]
    pub fn apply(&self, info: &LinkInfo) {
        {
            let mut c = self.cache.lock();
            c.valid.remove(CacheFields::LINK);
            c.generation += 1;
            c.take(info);
            // A link event that reached this device by ifindex confirms it.
            let id = self.identity();
            if id != 0 {
                put(&mut c.ifindex, id);
                c.valid |= CacheFields::IFINDEX;
            }
        }
        self.bump();
    }

    /// Call before reading device state from the OS; pass the token to
    /// [`DeviceState::fill`] with what was read.
    pub fn begin_read(&self) -> ReadToken {
        ReadToken(self.cache.lock().generation)
    }

    /// Stores values a backend read as a side effect of answering another
    /// getter (one kernel reply often carries MTU, MAC, flags and carrier
    /// together), so later getters hit the cache. A read is not a change:
    /// the change sequence is not bumped and nothing is invalidated. If the
    /// cache was invalidated since `token` was taken, what was read may be
    /// stale and nothing is stored.
    pub fn fill(&self, token: ReadToken, info: &LinkInfo) {
        let mut c = self.cache.lock();
        if c.generation == token.0 {
            c.take(info);
        }
    }

    /// Like [`DeviceState::fill`], for the interface index (which
    /// notifications never carry, but a backend's first read often does).
    pub fn fill_ifindex(&self, token: ReadToken, ifindex: u32) {
        let mut c = self.cache.lock();
        if c.generation == token.0 {
            c.ifindex = Some(Ok(ifindex));
            c.valid |= CacheFields::IFINDEX;
        }
    }

    /// Which cached values are valid now (for tests and diagnostics).
    pub fn cached_fields(&self) -> CacheFields {
        self.cache.lock().valid
    }

    /// True once the device was found removed; every operation on it then
    /// fails with [`crate::ErrorKind::Gone`].
    pub fn is_gone(&self) -> bool {
        self.gone.load(Ordering::Acquire)
    }

    /// Marks the device removed. Returns false if it already was.
    pub(crate) fn mark_gone(&self) -> bool {
        let first = !self.gone.swap(true, Ordering::AcqRel);
        if first {
            self.changed();
        }
        first
    }

    pub(crate) fn identity(&self) -> u32 {
        self.identity.load(Ordering::Acquire)
    }

    pub(crate) fn set_identity(&self, ifindex: u32) {
        self.identity.store(ifindex, Ordering::Release);
    }

    /// The cached value of `F`, or `fetch()`'s answer (value or error),
    /// stored unless an invalidation raced with the fetch or the answer is a
    /// transient error (which describes the moment, not the device).
    pub(crate) fn cached<F: CacheField>(
        &self,
        fetch: impl FnOnce() -> Result<F::Value>,
    ) -> Result<F::Value> {
        let generation = {
            let mut c = self.cache.lock();
            if c.valid.contains(F::BIT) {
                match F::slot(&mut c) {
                    Some(Ok(v)) => return Ok(v.clone()),
                    Some(Err(e)) => return Err((**e).clone()),
                    None => {} // never stored: ask
                }
            }
            c.generation
        };
        let fresh = fetch();
        if fresh.as_ref().is_err_and(Error::is_transient) {
            return fresh;
        }
        let mut c = self.cache.lock();
        if c.generation == generation {
            *F::slot(&mut c) = Some(fresh.clone().map_err(Box::new));
            c.valid |= F::BIT;
        }
        fresh
    }

    /// Stores a value the caller knows to be current (after a successful
    /// set) and bumps the change sequence.
    pub(crate) fn store<F: CacheField>(&self, value: F::Value) {
        {
            let mut c = self.cache.lock();
            c.generation += 1;
            *F::slot(&mut c) = Some(Ok(value));
            c.valid |= F::BIT;
        }
        self.bump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn state() -> Arc<DeviceState> {
        DeviceState::detached("t0")
    }

    /// What applying a link change writes (see `DeviceState`'s layout)
    /// spans two cache lines, the first two of the state.
    #[test]
    fn a_link_change_writes_two_cache_lines() {
        use std::mem::{offset_of, size_of};
        assert_eq!(std::mem::align_of::<DeviceState>(), 64);
        assert_eq!(offset_of!(DeviceState, seq), 0);
        let cache = offset_of!(DeviceState, cache);
        // The lock word and the cache behind it; the link slots last.
        let end = [
            offset_of!(Cache, valid) + size_of::<CacheFields>(),
            offset_of!(Cache, generation) + 8,
            offset_of!(Cache, ifindex) + size_of::<Slot<u32>>(),
            offset_of!(Cache, mtu) + size_of::<Slot<u32>>(),
            offset_of!(Cache, flags) + size_of::<Slot<Flags>>(),
            offset_of!(Cache, carrier) + size_of::<Slot<bool>>(),
            offset_of!(Cache, mac) + size_of::<Slot<EthAddr>>(),
        ];
        let last = cache + size_of::<Mutex<Cache>>() - size_of::<Cache>();
        let written = last + end.into_iter().max().unwrap();
        assert!(written <= 128, "a link change writes {written} bytes in");
        assert!(size_of::<crate::seq::GlobalSeq>() <= 64);
    }

    #[test]
    fn name_is_follows_renames_of_every_length() {
        let s = state();
        assert!(s.name_is(b"t0"));
        for other in [
            "t",
            "t00",
            "t0\0",
            "",
            "u0",
            &"t".repeat(15),
            &"t".repeat(16),
        ] {
            assert!(!s.name_is(other.as_bytes()), "{other:?}");
        }
        // 15 bytes (the longest a device has), then longer names (an
        // event's name after a lossy conversion): the lock's way.
        for name in [
            "fifteen-bytes-x",
            "\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}\u{fffd}",
            "é",
        ] {
            s.set_name(name);
            assert!(s.name_is(name.as_bytes()), "{name:?}");
            assert!(!s.name_is(b"t0"));
            assert!(!s.name_is(format!("{name}x").as_bytes()));
            assert_eq!(&*s.name(), name);
        }
        assert_ne!(pack_name(b"ab"), pack_name(b"ab\0"));
        assert_eq!(pack_name(b""), [0, 0]);
        assert_eq!(pack_name("x".repeat(16).as_bytes()), [0, 0]);
    }

    #[test]
    fn hit_miss_and_invalidate() {
        let s = state();
        let calls = Cell::new(0);
        let fetch = || {
            calls.set(calls.get() + 1);
            Ok(1500)
        };
        assert_eq!(s.cached::<MtuField>(fetch).unwrap(), 1500);
        assert_eq!(s.cached::<MtuField>(fetch).unwrap(), 1500);
        assert_eq!(calls.get(), 1, "second read is a hit");
        assert!(s.cached_fields().contains(CacheFields::MTU));
        let before = s.seq();
        s.invalidate(CacheFields::MTU);
        assert!(s.seq() > before);
        assert_eq!(s.cached::<MtuField>(fetch).unwrap(), 1500);
        assert_eq!(calls.get(), 2, "invalidated read is a miss");
    }

    #[test]
    fn errors_are_cached() {
        let s = state();
        let calls = Cell::new(0);
        let fetch = || {
            calls.set(calls.get() + 1);
            Err(Error::from_errno(libc::EPERM))
        };
        for _ in 0..3 {
            let e = s.cached::<MacField>(fetch).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        }
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn transient_errors_are_not_cached() {
        let s = state();
        for errno in [libc::EINTR, libc::EAGAIN, libc::ENOBUFS] {
            let calls = Cell::new(0);
            let fetch = || {
                calls.set(calls.get() + 1);
                Err(Error::from_errno(errno))
            };
            assert!(s.cached::<MtuField>(fetch).is_err());
            assert!(s.cached::<MtuField>(fetch).is_err());
            assert_eq!(calls.get(), 2, "errno {errno} must be asked again");
            assert!(!s.cached_fields().contains(CacheFields::MTU));
        }
        // The next real answer is cached as usual.
        assert_eq!(s.cached::<MtuField>(|| Ok(1500)).unwrap(), 1500);
        assert_eq!(s.cached::<MtuField>(|| panic!("hit")).unwrap(), 1500);
    }

    #[test]
    fn racing_invalidation_is_not_overwritten() {
        let s = state();
        // The fetch sees an invalidation happen while it runs: its (possibly
        // stale) answer is returned but must not be cached.
        let v = s.cached::<MtuField>(|| {
            s.invalidate(CacheFields::MTU);
            Ok(1234)
        });
        assert_eq!(v.unwrap(), 1234);
        assert!(!s.cached_fields().contains(CacheFields::MTU));
    }

    #[test]
    fn apply_takes_carried_values_and_drops_the_rest() {
        let s = state();
        s.set_identity(7);
        s.store::<FeaturesField>(FeatureSet::default());
        s.store::<In4Field>(None);
        let seq = s.seq();
        s.apply(&LinkInfo {
            mtu: Some(9000),
            flags: Some(Flags::UP),
            ..LinkInfo::default()
        });
        assert!(s.seq() > seq);
        let valid = s.cached_fields();
        assert!(valid.contains(CacheFields::MTU | CacheFields::FLAGS | CacheFields::IFINDEX));
        assert!(
            !valid.contains(CacheFields::FEATURES),
            "not carried: dropped"
        );
        assert!(!valid.contains(CacheFields::MAC));
        assert!(valid.contains(CacheFields::IN4), "addresses untouched");
        assert_eq!(
            s.cached::<MtuField>(|| panic!("must be a hit")).unwrap(),
            9000
        );
        assert_eq!(s.cached::<IfindexField>(|| panic!("hit")).unwrap(), 7);
    }

    #[test]
    fn fill_caches_without_bumping() {
        let s = state();
        let seq = s.seq();
        let stale = s.begin_read();
        s.invalidate(CacheFields::MTU);
        s.fill(
            stale,
            &LinkInfo {
                mtu: Some(1),
                ..LinkInfo::default()
            },
        );
        assert!(
            !s.cached_fields().contains(CacheFields::MTU),
            "stale read dropped"
        );
        let seq_after = s.seq();
        assert!(seq_after > seq);
        let token = s.begin_read();
        s.fill(
            token,
            &LinkInfo {
                mtu: Some(1400),
                carrier: Some(false),
                ..LinkInfo::default()
            },
        );
        let seq = seq_after;
        assert_eq!(s.seq(), seq);
        assert_eq!(s.cached::<MtuField>(|| panic!("hit")).unwrap(), 1400);
        assert!(!s.cached::<CarrierField>(|| panic!("hit")).unwrap());
        assert!(!s.cached_fields().contains(CacheFields::MAC));
    }

    #[test]
    fn store_and_gone() {
        let s = state();
        s.store::<MacField>(EthAddr([2, 0, 0, 0, 0, 1]));
        assert_eq!(
            s.cached::<MacField>(|| panic!("hit")).unwrap(),
            EthAddr([2, 0, 0, 0, 0, 1])
        );
        assert!(!s.is_gone());
        assert!(s.mark_gone());
        assert!(!s.mark_gone());
        assert!(s.is_gone());
        assert!(s.cached_fields().is_empty());
    }
}
