//! One dummy device: its state, the backend the core calls, and the
//! in-process control handle tests use.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use netdev_core::{
    CacheFields, DeviceBackend, DeviceState, Error, ErrorKind, EthAddr, FeatureSet, Features,
    Flags, Ipv4Net, Ipv6Net, Result, RxQueueBackend, Stats,
};
use parking_lot::Mutex;

use crate::capture::PcapWriter;
use crate::rxq::{DummyRxq, RxShared, DEFAULT_RX_LIMIT};

/// First synthetic ifindex. Far above what kernels hand out, so a dummy
/// device never shares an index with a real one in the same registry.
const FIRST_IFINDEX: u32 = 1 << 24;
static NEXT_IFINDEX: AtomicU32 = AtomicU32::new(FIRST_IFINDEX);

/// Frames remembered by [`DummyDevice::take_sent`] before the oldest are
/// discarded (and counted in [`DummyDevice::sent_discarded`]).
pub const DEFAULT_SENT_LIMIT: usize = 65536;

const MIN_MTU: u32 = 68;
const MAX_MTU: u32 = 65535;
/// Ethernet header plus one VLAN tag: the most a frame may exceed the MTU.
const MAX_L2_OVERHEAD: usize = 18;

#[derive(Debug)]
struct Data {
    mac: EthAddr,
    mtu: u32,
    /// Only the settable flags (UP, PROMISC, ALLMULTI); the rest derive.
    admin: Flags,
    carrier: bool,
    carrier_resets: u64,
    stats: Stats,
    in4: Option<Ipv4Net>,
    in6: Vec<Ipv6Net>,
    features: FeatureSet,
    peer: Weak<DummyDev>,
    sent: VecDeque<Vec<u8>>,
    sent_limit: usize,
    sent_discarded: u64,
    rx_limit: usize,
    capture: Option<PcapWriter>,
}

impl Data {
    fn flags(&self) -> Flags {
        let mut f = self.admin | Flags::BROADCAST | Flags::MULTICAST;
        if self.carrier {
            f |= Flags::LOWER_UP;
            if self.admin.contains(Flags::UP) {
                f |= Flags::RUNNING;
            }
        }
        f
    }

    fn capture(&mut self, frame: &[u8]) {
        if let Some(w) = &mut self.capture {
            if let Err(e) = w.write(frame) {
                log::warn!("{e}; capture stopped");
                self.capture = None;
            }
        }
    }
}

/// The shared state of one dummy device.
#[derive(Debug)]
pub(crate) struct DummyDev {
    name: Arc<str>,
    ifindex: u32,
    state: Arc<DeviceState>,
    data: Mutex<Data>,
    rx_queues: Mutex<Vec<Weak<RxShared>>>,
    /// Sends never wait, so the send descriptor is one that always polls
    /// writable: an idle socket pair, made on first request.
    send_ready: OnceLock<(UnixStream, UnixStream)>,
}

impl DummyDev {
    pub(crate) fn new(name: &str, state: &Arc<DeviceState>) -> Arc<DummyDev> {
        let ifindex = NEXT_IFINDEX.fetch_add(1, Ordering::Relaxed);
        let [a, b, c, d] = ifindex.to_be_bytes();
        Arc::new(DummyDev {
            name: name.into(),
            ifindex,
            state: state.clone(),
            data: Mutex::new(Data {
                // Locally administered unicast, unique per device.
                mac: EthAddr([0x02, 0xdd, a, b, c, d]),
                mtu: 1500,
                admin: Flags::empty(),
                carrier: true,
                carrier_resets: 0,
                stats: Stats::default(),
                in4: None,
                in6: Vec::new(),
                features: FeatureSet {
                    current: Features::F_10GB_FD | Features::COPPER,
                    advertised: Features::empty(),
                    supported: Features::F_10GB_FD | Features::COPPER,
                    peer: Features::empty(),
                    speed: None,
                },
                peer: Weak::new(),
                sent: VecDeque::new(),
                sent_limit: DEFAULT_SENT_LIMIT,
                sent_discarded: 0,
                rx_limit: DEFAULT_RX_LIMIT,
                capture: None,
            }),
            rx_queues: Mutex::new(Vec::new()),
            send_ready: OnceLock::new(),
        })
    }

    /// What [`netdev_core::NetdevClass::enumerate`] reports for this device.
    pub(crate) fn info(&self) -> netdev_core::DeviceInfo {
        let d = self.data.lock();
        let mut info = netdev_core::DeviceInfo::new(&*self.name, self.ifindex);
        info.kind = Some("dummy".into());
        info.mtu = Some(d.mtu);
        info.mac = Some(d.mac);
        info.flags = Some(d.flags());
        info
    }

    pub(crate) fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub(crate) fn stats(&self) -> Stats {
        self.data.lock().stats
    }

    /// Receives one frame as if it arrived on the wire. Returns how many rx
    /// queues got a copy.
    fn receive(&self, frame: &[u8]) -> usize {
        {
            let mut d = self.data.lock();
            if !d.admin.contains(Flags::UP) {
                d.stats.rx_dropped += 1;
                return 0;
            }
            d.stats.rx_packets += 1;
            d.stats.rx_bytes += frame.len() as u64;
            if EthAddr::from_slice(frame).is_some_and(|a| a.is_multicast()) {
                d.stats.multicast += 1;
            }
            d.capture(frame);
        }
        let mut delivered = 0;
        let mut dropped = 0;
        {
            let mut queues = self.rx_queues.lock();
            queues.retain(|q| match q.upgrade() {
                Some(q) => {
                    if q.deliver(frame) {
                        delivered += 1;
                    } else {
                        dropped += 1;
                    }
                    true
                }
                None => false,
            });
        }
        if dropped > 0 {
            self.data.lock().stats.rx_dropped += dropped;
        }
        delivered
    }
}

/// The core's view of a dummy device.
pub(crate) struct DummyBackend(pub(crate) Arc<DummyDev>);

impl DeviceBackend for DummyBackend {
    fn ifindex(&self) -> Result<u32> {
        Ok(self.0.ifindex)
    }

    fn mac(&self) -> Result<EthAddr> {
        Ok(self.0.data.lock().mac)
    }

    fn set_mac(&self, mac: EthAddr) -> Result<()> {
        self.0.data.lock().mac = mac;
        Ok(())
    }

    fn mtu(&self) -> Result<u32> {
        Ok(self.0.data.lock().mtu)
    }

    fn set_mtu(&self, mtu: u32) -> Result<()> {
        check_mtu(mtu)?;
        self.0.data.lock().mtu = mtu;
        Ok(())
    }

    fn carrier(&self) -> Result<bool> {
        Ok(self.0.data.lock().carrier)
    }

    fn carrier_resets(&self) -> Result<u64> {
        Ok(self.0.data.lock().carrier_resets)
    }

    fn stats(&self) -> Result<Stats> {
        Ok(self.0.data.lock().stats)
    }

    fn features(&self) -> Result<FeatureSet> {
        Ok(self.0.data.lock().features)
    }

    fn in4(&self) -> Result<Option<Ipv4Net>> {
        Ok(self.0.data.lock().in4)
    }

    fn set_in4(&self, net: Option<Ipv4Net>) -> Result<()> {
        self.0.data.lock().in4 = net;
        Ok(())
    }

    fn in6(&self) -> Result<Vec<Ipv6Net>> {
        Ok(self.0.data.lock().in6.clone())
    }

    fn status(&self) -> Result<BTreeMap<String, String>> {
        let mut status = BTreeMap::from([("kind".to_owned(), "dummy".to_owned())]);
        if let Some(peer) = self.0.data.lock().peer.upgrade() {
            status.insert("peer".into(), peer.name.to_string());
        }
        Ok(status)
    }

    fn flags(&self) -> Result<Flags> {
        Ok(self.0.data.lock().flags())
    }

    fn update_flags(&self, off: Flags, on: Flags) -> Result<Flags> {
        let mut d = self.0.data.lock();
        let old = d.flags();
        d.admin = (d.admin - off) | on;
        Ok(old)
    }

    fn open_rx(&self) -> Result<Box<dyn RxQueueBackend>> {
        let limit = self.0.data.lock().rx_limit;
        let shared = RxShared::new(limit)?;
        self.0.rx_queues.lock().push(Arc::downgrade(&shared));
        Ok(Box::new(DummyRxq { shared }))
    }

    fn send_batch(&self, frames: &[&[u8]]) -> Result<usize> {
        let peer = {
            let mut d = self.0.data.lock();
            if !d.admin.contains(Flags::UP) {
                return Err(Error::new(ErrorKind::NetworkDown));
            }
            let max = d.mtu as usize + MAX_L2_OVERHEAD;
            if let Some((i, f)) = frames.iter().enumerate().find(|(_, f)| f.len() > max) {
                return Err(Error::from_errno(libc::EMSGSIZE).with_detail(format!(
                    "frame {i} of the batch is {} bytes, more than MTU {} allows",
                    f.len(),
                    d.mtu
                )));
            }
            if !d.carrier {
                // No carrier: the frames are accepted and lost, as a real
                // driver's queue would lose them.
                d.stats.tx_dropped += frames.len() as u64;
                return Ok(frames.len());
            }
            for f in frames {
                d.stats.tx_packets += 1;
                d.stats.tx_bytes += f.len() as u64;
                d.capture(f);
                if d.sent_limit == 0 {
                    d.sent_discarded += 1;
                    continue;
                }
                if d.sent.len() >= d.sent_limit {
                    d.sent.pop_front();
                    d.sent_discarded += 1;
                }
                d.sent.push_back(f.to_vec());
            }
            d.peer.upgrade()
        };
        // Deliver outside our lock: the peer may be sending to us at the
        // same time.
        if let Some(peer) = peer {
            for f in frames {
                peer.receive(f);
            }
        }
        Ok(frames.len())
    }

    fn send_wait(&self, _timeout: Option<Duration>) -> Result<bool> {
        Ok(true)
    }

    fn send_fd(&self) -> Result<BorrowedFd<'_>> {
        if let Some((tx, _)) = self.0.send_ready.get() {
            return Ok(tx.as_fd());
        }
        let pair = UnixStream::pair()?;
        Ok(self.0.send_ready.get_or_init(|| pair).0.as_fd())
    }
}

fn check_mtu(mtu: u32) -> Result<()> {
    if (MIN_MTU..=MAX_MTU).contains(&mtu) {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::InvalidInput(format!(
            "MTU {mtu} outside {MIN_MTU}..={MAX_MTU}"
        ))))
    }
}

/// In-process control of a dummy device: what a test does to a device from
/// "outside" (the wire, the administrator). Every change bumps the device's
/// change sequence and refreshes what the core caches, exactly as a kernel
/// notification would.
///
/// Obtained from [`crate::DummyClass::device`]; keeps the device's state
/// alive, not the device open.
#[derive(Debug, Clone)]
pub struct DummyDevice(pub(crate) Arc<DummyDev>);

impl DummyDevice {
    /// The device name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The synthetic interface index.
    pub fn ifindex(&self) -> u32 {
        self.0.ifindex
    }

    fn update(&self, fields: CacheFields, f: impl FnOnce(&mut Data)) {
        f(&mut self.0.data.lock());
        self.0.state.invalidate(fields);
    }

    /// Delivers `frame` as if it arrived on the wire: to every open rx
    /// queue, counted in the receive statistics. Returns how many queues got
    /// a copy (0 if the device is down: the frame is counted as dropped).
    pub fn inject_rx(&self, frame: &[u8]) -> usize {
        self.0.receive(frame)
    }

    /// The frames sent on the device since the last call, oldest first.
    pub fn take_sent(&self) -> Vec<Vec<u8>> {
        self.0.data.lock().sent.drain(..).collect()
    }

    /// How many sent frames were discarded from the record because more
    /// than the limit were waiting in it.
    pub fn sent_discarded(&self) -> u64 {
        self.0.data.lock().sent_discarded
    }

    /// Sets how many sent frames are remembered (0: none).
    pub fn set_sent_limit(&self, limit: usize) {
        let mut d = self.0.data.lock();
        d.sent_limit = limit;
        while d.sent.len() > limit {
            d.sent.pop_front();
            d.sent_discarded += 1;
        }
    }

    /// Sets how many frames each rx queue opened from now on holds before
    /// it drops (counted in `rx_dropped`).
    pub fn set_rx_limit(&self, limit: usize) {
        self.0.data.lock().rx_limit = limit.max(1);
    }

    /// Connects this device to `peer` like the two ends of a cable: each
    /// one's transmitted frames arrive on the other. Any previous peer of
    /// either is disconnected. A device connected to itself loops back.
    pub fn connect(&self, peer: &DummyDevice) {
        self.disconnect();
        peer.disconnect();
        self.0.data.lock().peer = Arc::downgrade(&peer.0);
        peer.0.data.lock().peer = Arc::downgrade(&self.0);
    }

    /// Disconnects this device from its peer (both ends).
    pub fn disconnect(&self) {
        let old = std::mem::take(&mut self.0.data.lock().peer);
        if let Some(peer) = old.upgrade() {
            let mut p = peer.data.lock();
            if p.peer.as_ptr() == Arc::as_ptr(&self.0) {
                p.peer = Weak::new();
            }
        }
    }

    /// The connected peer's name, if any.
    pub fn peer(&self) -> Option<String> {
        let peer = self.0.data.lock().peer.upgrade();
        peer.map(|p| p.name.to_string())
    }

    /// Sets the carrier (link) state; a fall from up to down counts as a
    /// carrier reset.
    pub fn set_carrier(&self, carrier: bool) {
        self.update(CacheFields::CARRIER | CacheFields::FLAGS, |d| {
            if d.carrier && !carrier {
                d.carrier_resets += 1;
            }
            d.carrier = carrier;
        });
    }

    /// Replaces the counters (they keep counting from these values).
    /// Counters are not status: this does not bump the change sequence.
    pub fn set_stats(&self, stats: Stats) {
        self.0.data.lock().stats = stats;
    }

    /// Changes the Ethernet address from outside.
    pub fn set_mac(&self, mac: EthAddr) {
        self.update(CacheFields::MAC, |d| d.mac = mac);
    }

    /// Changes the MTU from outside; refused outside 68..=65535.
    pub fn set_mtu(&self, mtu: u32) -> Result<()> {
        check_mtu(mtu).map_err(|e| e.with_op("set_mtu").with_device(self.name()))?;
        self.update(CacheFields::MTU, |d| d.mtu = mtu);
        Ok(())
    }

    /// Changes the administrative flags from outside (only UP, PROMISC and
    /// ALLMULTI are settable; others are ignored).
    pub fn set_flags(&self, flags: Flags) {
        self.update(CacheFields::FLAGS | CacheFields::CARRIER, |d| {
            d.admin = flags & Flags::SETTABLE
        });
    }

    /// Sets or removes the IPv4 address from outside.
    pub fn set_in4(&self, net: Option<Ipv4Net>) {
        self.update(CacheFields::IN4, |d| d.in4 = net);
    }

    /// Replaces the IPv6 addresses from outside.
    pub fn set_in6(&self, addrs: Vec<Ipv6Net>) {
        self.update(CacheFields::IN6, |d| d.in6 = addrs);
    }

    /// Sets the link features reported.
    pub fn set_features(&self, features: FeatureSet) {
        self.update(CacheFields::FEATURES, |d| d.features = features);
    }

    /// Starts writing every frame received and sent on the device to a new
    /// pcap file at `path` (replacing any capture in progress).
    pub fn start_capture(&self, path: impl AsRef<Path>) -> Result<()> {
        let w = PcapWriter::create(path.as_ref()).map_err(|e| e.with_device(self.name()))?;
        self.0.data.lock().capture = Some(w);
        Ok(())
    }

    /// Stops the capture (the file is complete after every frame anyway).
    pub fn stop_capture(&self) {
        self.0.data.lock().capture = None;
    }

    /// The device's change sequence (the same number
    /// [`netdev_core::Netdev::change_seq`] reports).
    pub fn change_seq(&self) -> u64 {
        self.0.state.seq()
    }
}
