//! The FreeBSD `system` and `tap` classes.
//!
//! `system` opens existing interfaces; `tap` creates one through
//! `/dev/tap` ([`crate::tap_create`], every step undone on failure) and
//! destroys it with `SIOCIFDESTROY` when the last handle closes. State
//! comes from ioctls on one `AF_INET` socket per class, the interface MIB
//! by ifindex (counters, O(1)) and a `NET_RT_IFLIST` sysctl for one
//! interface (MAC, IPv6); changes from the `PF_ROUTE` notifier
//! ([`crate::notifier`]).
//!
//! A device is tracked by the interface it opened, not by its name
//! ([`crate::track`]): ioctls go to its current name, learned from the
//! core (which follows the notifier's announcements) or by index when an
//! ioctl by the old name finds nothing; reads by index (counters, MAC,
//! IPv6) check the attach time, so an index handed to a new interface is
//! not read as this one.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use netdev_core::{
    ChangeSourceSpec, DeviceBackend, DeviceInfo, DeviceState, Error, ErrorKind, EthAddr,
    FeatureSet, Flags, Ipv4Net, Ipv6Net, NetdevClass, Registry, Result, RxQueueBackend, Stats,
};
use parking_lot::Mutex;

use crate::iflist::{self, IfEntry};
use crate::notifier::{RouteReader, RouteSource};
use crate::packet::{PcapRxQueue, TapRxQueue};
use crate::tap_create::{self, TapSys};
use crate::track::{Check, Identity, IfSnapshot, Tracked};
use crate::wire::{flags, ifmib::IfMibData, layout as w, media};
use crate::{status, sys};

/// Carrier transitions per ifindex, counted by the notifier's reader from
/// `RTM_IFINFO` link states (FreeBSD keeps no such counter).
#[derive(Debug, Default)]
pub(crate) struct CarrierLog {
    by_index: Mutex<HashMap<u32, (Option<bool>, u64)>>,
}

impl CarrierLog {
    fn observe(&self, buf: &[u8]) {
        for msg in crate::wire::route::messages(buf).flatten() {
            if let crate::wire::route::RouteMsg::IfInfo(i) = msg {
                if let Some(up) = i.data.link_state().carrier() {
                    let mut map = self.by_index.lock();
                    let e = map.entry(i.ifindex).or_insert((None, 0));
                    if e.0 == Some(true) && !up {
                        e.1 += 1;
                    }
                    e.0 = Some(up);
                }
            }
        }
    }

    fn resets(&self, ifindex: u32) -> u64 {
        self.by_index.lock().get(&ifindex).map_or(0, |e| e.1)
    }
}

/// The routing socket reader, counting carrier resets as messages pass.
struct CountingReader {
    inner: sys::route::SocketReader,
    log: Arc<CarrierLog>,
}

impl RouteReader for CountingReader {
    fn read(
        &mut self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> std::io::Result<Option<usize>> {
        let r = self.inner.read(buf, timeout)?;
        if let Some(n) = r {
            self.log.observe(&buf[..n.min(buf.len())]);
        }
        Ok(r)
    }
    fn waker(&self) -> netdev_core::Waker {
        self.inner.waker()
    }
    fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        self.inner.ready_fd()
    }
    fn try_read(&mut self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        let r = self.inner.try_read(buf)?;
        if let Some(n) = r {
            self.log.observe(&buf[..n.min(buf.len())]);
        }
        Ok(r)
    }
    fn index_exists(&mut self, ifindex: u32) -> std::io::Result<Option<bool>> {
        index_exists(ifindex).map(Some)
    }
}

/// The `system` or `tap` class.
#[derive(Debug)]
pub struct SystemClass {
    tap: bool,
    sock: OnceLock<Arc<OwnedFd>>,
    carrier: Arc<CarrierLog>,
}

impl SystemClass {
    /// The `system` class: existing interfaces.
    pub fn new() -> Arc<SystemClass> {
        Arc::new(SystemClass {
            tap: false,
            sock: OnceLock::new(),
            carrier: Arc::default(),
        })
    }

    /// The `tap` class: interfaces created through `/dev/tap`.
    pub fn tap() -> Arc<SystemClass> {
        Arc::new(SystemClass {
            tap: true,
            sock: OnceLock::new(),
            carrier: Arc::default(),
        })
    }

    fn sock(&self) -> Result<Arc<OwnedFd>> {
        if let Some(s) = self.sock.get() {
            return Ok(s.clone());
        }
        let s = Arc::new(sys::ifreq::inet_socket()?);
        Ok(self.sock.get_or_init(|| s).clone())
    }
}

/// [`TapSys`] on FreeBSD.
struct FreeBsdTap<'a> {
    sock: BorrowedFd<'a>,
}

impl TapSys for FreeBsdTap<'_> {
    type Fd = OwnedFd;
    fn open_clone(&self) -> std::io::Result<OwnedFd> {
        sys::tap::open_clone()
    }
    fn tap_name(&self, fd: &OwnedFd) -> std::io::Result<String> {
        sys::tap::tap_name(fd.as_fd())
    }
    fn dev_name(&self, fd: &OwnedFd) -> std::io::Result<String> {
        sys::tap::dev_name(fd.as_fd())
    }
    fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        sys::ifreq::rename(self.sock, from, to)
    }
    fn set_up(&self, name: &str) -> std::io::Result<()> {
        let cur = sys::ifreq::get_flags(self.sock, name)?;
        sys::ifreq::set_flags(self.sock, name, cur | w::IFF_UP)
    }
    fn destroy(&self, name: &str) -> std::io::Result<()> {
        sys::ifreq::destroy(self.sock, name)
    }
}

impl NetdevClass for SystemClass {
    fn type_name(&self) -> &str {
        if self.tap {
            "tap"
        } else {
            "system"
        }
    }

    fn construct(&self, name: &str, state: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>> {
        let sock = self.sock()?;
        let tap = if self.tap {
            let fd = tap_create::create(&FreeBsdTap { sock: sock.as_fd() }, name).map_err(
                |(step, e)| {
                    Error::from(e)
                        .with_op("create_tap")
                        .with_detail(step.to_string())
                },
            )?;
            Some(TapFd {
                fd: Arc::new(fd),
                taken: Arc::new(AtomicBool::new(false)),
            })
        } else {
            None
        };
        let tracked = match identify(name) {
            Ok(t) => t,
            Err(e) => {
                if let Some(tap) = tap {
                    // Created above: do not leave it behind.
                    drop(tap);
                    if let Err(de) = sys::ifreq::destroy(sock.as_fd(), name) {
                        log::warn!(
                            "tap {}: SIOCIFDESTROY after a failed open: {de}",
                            netdev_core::Escaped(name)
                        );
                    }
                }
                return Err(e);
            }
        };
        Ok(Box::new(BsdDevice {
            tracked,
            state: state.clone(),
            sock,
            tap,
            carrier: self.carrier.clone(),
            tx: Mutex::new(None),
        }))
    }

    fn change_source(&self) -> Option<ChangeSourceSpec> {
        let log = self.carrier.clone();
        Some(RouteSource::spec(move || {
            Ok(CountingReader {
                inner: sys::route::SocketReader::open()?,
                log: log.clone(),
            })
        }))
    }

    fn enumerate(&self) -> Result<Vec<DeviceInfo>> {
        if self.tap {
            return Err(Error::not_supported().with_detail("taps are created, not listed"));
        }
        Ok(list(0)?
            .into_iter()
            .map(|e| {
                let mut info = DeviceInfo::new(e.name, e.ifindex);
                info.mtu = Some(e.mtu);
                info.mac = e.mac;
                info.flags = Some(flags::from_iff(e.flags));
                info
            })
            .collect())
    }

    fn all_stats(&self, visit: &mut dyn FnMut(u32, &Stats)) -> Result<()> {
        let count = sys::sysctl::ifcount()?;
        for ifindex in 1..=count {
            match mib(ifindex) {
                Ok(m) => visit(ifindex, &m.stats()),
                // Holes in the index space.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn list(ifindex: u32) -> Result<Vec<IfEntry>> {
    let mut buf = Vec::new();
    sys::sysctl::iflist(ifindex, &mut buf)?;
    iflist::parse(&buf)
        .map_err(|e| Error::new(ErrorKind::Malformed(e.to_string())).with_detail("NET_RT_IFLIST"))
}

fn mib(ifindex: u32) -> Result<IfMibData> {
    let mut buf = [0u8; w::IFMIBDATA_LEN];
    let n = sys::sysctl::ifmib_general(ifindex, &mut buf)
        .map_err(|e| Error::from(e).with_detail("sysctl net.link.generic.ifdata"))?;
    IfMibData::parse(&buf[..n]).map_err(|e| Error::new(ErrorKind::Malformed(e.to_string())))
}

/// What the kernel says about interface index `ifindex` now (two sysctls
/// by index), `None` if no interface has it.
fn snapshot(ifindex: u32) -> io::Result<Option<IfSnapshot>> {
    let gone = |e: &io::Error| e.raw_os_error() == Some(libc::ENOENT);
    let mut mib = [0u8; w::IFMIBDATA_LEN];
    let n = match sys::sysctl::ifmib_general(ifindex, &mut mib) {
        Ok(n) => n,
        Err(e) if gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    // `if_dname` (a driver's short name) and a decimal unit.
    let mut driver = [0u8; 64];
    let k = match sys::sysctl::drivername(ifindex, &mut driver) {
        Ok(k) => k,
        Err(e) if gone(&e) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(Some(IfSnapshot::from_sysctls(
        &mib[..n.min(mib.len())],
        &driver[..k.min(driver.len())],
    )?))
}

/// Whether an interface has index `ifindex` now. A dying or departed
/// interface has none: the kernel marks it `IFF_DYING` (or moves it to
/// another vnet) before announcing its departure, and the MIB answers
/// `ENOENT` for it.
fn index_exists(ifindex: u32) -> io::Result<bool> {
    let mut mib = [0u8; w::IFMIBDATA_LEN];
    match sys::sysctl::ifmib_general(ifindex, &mut mib) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The interface called `name` now, as a tracked identity.
fn identify(name: &str) -> Result<Tracked> {
    let ifindex = sys::ifreq::name_to_index(name)
        .map_err(|e| Error::from(e).with_op("open").with_detail("if_nametoindex"))?;
    let snap = snapshot(ifindex)
        .map_err(|e| {
            Error::from(e)
                .with_op("open")
                .with_detail("sysctl net.link.generic")
        })?
        .ok_or_else(|| Error::new(ErrorKind::NoDevice).with_op("open"))?;
    if snap.name != name {
        // Renamed (or replaced) between the two questions.
        return Err(Error::new(ErrorKind::NoDevice)
            .with_op("open")
            .with_detail(format!(
                "index {ifindex} is now {}",
                netdev_core::Escaped(&snap.name)
            )));
    }
    Ok(Tracked::new(Identity::of(ifindex, &snap), name))
}

/// A tap's descriptor, shared by the device (sends) and the first handle's
/// receive queue.
#[derive(Debug)]
struct TapFd {
    fd: Arc<OwnedFd>,
    taken: Arc<AtomicBool>,
}

/// One open interface.
struct BsdDevice {
    /// Its identity and current name.
    tracked: Tracked,
    /// The core's side: its name follows renames the notifier announces.
    state: Arc<DeviceState>,
    sock: Arc<OwnedFd>,
    tap: Option<TapFd>,
    carrier: Arc<CarrierLog>,
    /// A pcap handle for sending (system devices), opened on first send.
    tx: Mutex<Option<pcap::Capture<pcap::Active>>>,
}

impl Drop for BsdDevice {
    fn drop(&mut self) {
        if let Some(tap) = self.tap.take() {
            drop(tap);
            // Under its current name: it may have been renamed.
            let sock = self.sock.as_fd();
            let r = self.tracked.by_name(&self.state.name(), snapshot, |n| {
                sys::ifreq::destroy(sock, n)
            });
            if let Err(e) = r {
                log::warn!(
                    "tap {}: SIOCIFDESTROY failed: {e}",
                    netdev_core::Escaped(&self.name())
                );
            }
        }
    }
}

impl BsdDevice {
    fn ifindex_opened(&self) -> u32 {
        self.tracked.identity().ifindex
    }

    /// The name to address the interface by now.
    fn name(&self) -> String {
        self.tracked.name(&self.state.name())
    }

    /// `op` (an ioctl on the class's socket) under the interface's current
    /// name, following a rename the core has not announced yet.
    fn by_name<T>(
        &self,
        what: &'static str,
        op: impl Fn(BorrowedFd<'_>, &str) -> io::Result<T>,
    ) -> Result<T> {
        let sock = self.sock.as_fd();
        self.tracked
            .by_name(&self.state.name(), snapshot, |n| op(sock, n))
            .map_err(|e| Error::from(e).with_detail(what))
    }

    /// An answer read by index describes this interface only if its
    /// attach time is the one opened.
    fn same_epoch(&self, epoch: i64) -> Result<()> {
        if epoch == self.tracked.identity().epoch {
            return Ok(());
        }
        Err(Error::new(ErrorKind::NoDevice).with_detail(format!(
            "index {} belongs to another interface now",
            self.ifindex_opened()
        )))
    }

    fn entry(&self) -> Result<IfEntry> {
        let idx = self.ifindex_opened();
        let e = list(idx)?
            .into_iter()
            .find(|e| e.ifindex == idx)
            .ok_or_else(|| Error::new(ErrorKind::NoDevice))?;
        self.same_epoch(e.epoch)?;
        Ok(e)
    }

    fn media(&self) -> Result<sys::ifreq::Media> {
        self.by_name("SIOCGIFMEDIA", sys::ifreq::get_media)
    }
}

impl DeviceBackend for BsdDevice {
    /// The index opened, after checking by index that the interface there
    /// is still the one opened (renamed or not): the core calls this to
    /// tell a renamed device from one removed and replaced.
    fn ifindex(&self) -> Result<u32> {
        let check = self
            .tracked
            .check(snapshot)
            .map_err(|e| Error::from(e).with_detail("sysctl net.link.generic"))?;
        match check {
            Check::Same(_) => Ok(self.ifindex_opened()),
            Check::Gone => Err(Error::new(ErrorKind::NoDevice).with_detail(format!(
                "no interface, or another one, has index {} now",
                self.ifindex_opened()
            ))),
        }
    }

    fn mac(&self) -> Result<EthAddr> {
        self.entry()?.mac.ok_or_else(|| {
            Error::new(ErrorKind::AddressNotAvailable).with_detail("no Ethernet address")
        })
    }

    fn set_mac(&self, mac: EthAddr) -> Result<()> {
        self.by_name("SIOCSIFLLADDR", |s, n| sys::ifreq::set_lladdr(s, n, mac.0))
    }

    fn mtu(&self) -> Result<u32> {
        self.by_name("SIOCGIFMTU", sys::ifreq::get_mtu)
    }

    fn set_mtu(&self, mtu: u32) -> Result<()> {
        self.by_name("SIOCSIFMTU", |s, n| sys::ifreq::set_mtu(s, n, mtu))
    }

    fn carrier(&self) -> Result<bool> {
        match self.media() {
            Ok(m) => Ok(media::carrier(m.status as u32)),
            // No media (loopback, tap): carrier follows RUNNING.
            Err(e)
                if [libc::EINVAL, libc::ENOTTY, libc::EOPNOTSUPP]
                    .contains(&e.raw_os_error().unwrap_or(0)) =>
            {
                let f = self.by_name("SIOCGIFFLAGS", sys::ifreq::get_flags)?;
                Ok(f & w::IFF_RUNNING != 0)
            }
            Err(e) => Err(e),
        }
    }

    fn carrier_resets(&self) -> Result<u64> {
        Ok(self.carrier.resets(self.ifindex_opened()))
    }

    fn stats(&self) -> Result<Stats> {
        let m = mib(self.ifindex_opened())?;
        self.same_epoch(m.data.epoch)?;
        Ok(m.stats())
    }

    fn features(&self) -> Result<FeatureSet> {
        let m = self.media()?;
        let list: Vec<u32> = m.list.iter().map(|&w| w as u32).collect();
        Ok(media::feature_set(m.active as u32, m.current as u32, &list))
    }

    fn in4(&self) -> Result<Option<Ipv4Net>> {
        match self.by_name("SIOCGIFADDR", sys::ifreq::get_in4)? {
            None => Ok(None),
            Some((addr, mask)) => Ok(Some(Ipv4Net::new(addr, mask)?)),
        }
    }

    fn set_in4(&self, net: Option<Ipv4Net>) -> Result<()> {
        let old = self.by_name("SIOCGIFADDR", sys::ifreq::get_in4)?;
        if let (Some((addr, mask)), Some(net)) = (old, net) {
            if addr == net.addr && mask == net.netmask {
                return Ok(());
            }
        }
        if let Some((addr, _)) = old {
            self.by_name("SIOCDIFADDR", |s, n| sys::ifreq::del_in4(s, n, addr))?;
        }
        if let Some(net) = net {
            let added = self.by_name("SIOCAIFADDR", |s, n| {
                sys::ifreq::add_in4(s, n, net.addr, net.netmask)
            });
            if let Err(e) = added {
                // Put the old address back rather than leave the device
                // with none: the caller asked for a replacement, not a
                // removal.
                if let Some((addr, mask)) = old {
                    let restored =
                        self.by_name("SIOCAIFADDR", |s, n| sys::ifreq::add_in4(s, n, addr, mask));
                    if let Err(re) = restored {
                        log::warn!(
                            "{}: restoring {addr}/{mask} after a failed SIOCAIFADDR: {re}",
                            netdev_core::Escaped(&self.name())
                        );
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn in6(&self) -> Result<Vec<Ipv6Net>> {
        Ok(self.entry()?.in6)
    }

    /// Kind, driver and unit, interface type, link state and the media
    /// lines `ifconfig` prints ([`crate::status`]): one MIB read by index,
    /// one `SIOCGIFMEDIA`; the driver instance is the identity's.
    fn status(&self) -> Result<BTreeMap<String, String>> {
        let m = mib(self.ifindex_opened())?;
        self.same_epoch(m.data.epoch)?;
        // No media (loopback, tunnels) is no error, only no media lines.
        let media = self.media().ok().map(|w| status::MediaNow {
            status: w.status as u32,
            current: w.current as u32,
            active: w.active as u32,
        });
        Ok(status::status_map(&status::Facts {
            kind: if self.tap.is_some() { "tap" } else { "system" },
            mib: Some(&m),
            driver: Some(&self.tracked.identity().driver),
            media,
        }))
    }

    fn update_flags(&self, off: Flags, on: Flags) -> Result<Flags> {
        let cur = self.by_name("SIOCGIFFLAGS", sys::ifreq::get_flags)?;
        let new = flags::update_iff(cur, off, on);
        if new != cur {
            self.by_name("SIOCSIFFLAGS", |s, n| sys::ifreq::set_flags(s, n, new))?;
        }
        Ok(flags::from_iff(cur))
    }

    fn open_rx(&self) -> Result<Box<dyn RxQueueBackend>> {
        if let Some(tap) = &self.tap {
            if let Some(q) = TapRxQueue::take(&tap.fd, &tap.taken) {
                return Ok(Box::new(q));
            }
        }
        Ok(Box::new(PcapRxQueue::open(&self.name())?))
    }

    fn send_batch(&self, frames: &[&[u8]]) -> Result<usize> {
        match &self.tap {
            Some(tap) => send_each(frames, |frame| {
                sys::tap::write(tap.fd.as_fd(), frame)
                    .map(drop)
                    .map_err(Error::from)
            }),
            None => {
                // One lock for the batch; the capture opens on first send.
                let mut tx = self.tx.lock();
                if tx.is_none() && !frames.is_empty() {
                    *tx = Some(crate::packet::open_capture(&self.name())?);
                }
                send_each(frames, |frame| {
                    let cap = tx.as_mut().expect("opened above");
                    cap.sendpacket(frame).map_err(|e| {
                        Error::from_errno(libc::EIO).with_detail(format!("pcap_inject: {e}"))
                    })
                })
            }
        }
    }

    fn send_wait(&self, timeout: Option<Duration>) -> Result<bool> {
        match &self.tap {
            Some(tap) => Ok(sys::poll::wait(tap.fd.as_fd(), true, timeout)?),
            None => Ok(true),
        }
    }

    fn send_fd(&self) -> Result<BorrowedFd<'_>> {
        match &self.tap {
            Some(tap) => Ok(tap.fd.as_fd()),
            None => Err(Error::not_supported().with_detail("pcap sends do not block")),
        }
    }
}

/// Sends `frames` in order with `send` and counts those sent: stops at the
/// first the device cannot take now (`WouldBlock`, `ENOBUFS`) or that
/// fails after others were sent; a failure of the first is the error.
fn send_each(frames: &[&[u8]], mut send: impl FnMut(&[u8]) -> Result<()>) -> Result<usize> {
    let mut sent = 0;
    for frame in frames {
        match send(frame) {
            Ok(()) => sent += 1,
            Err(e)
                if e.kind() == &ErrorKind::WouldBlock
                    || e.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                break
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(sent)
}

/// Registers the `system` and `tap` classes in `registry`.
pub fn register(registry: &Registry) -> Result<()> {
    registry.register(SystemClass::new())?;
    registry.register(SystemClass::tap())?;
    Ok(())
}
