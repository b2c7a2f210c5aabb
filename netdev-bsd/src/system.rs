//! The FreeBSD `system` and `tap` classes.
//!
//! `system` opens existing interfaces; `tap` creates one through
//! `/dev/tap` ([`crate::tap_create`], every step undone on failure) and
//! destroys it with `SIOCIFDESTROY` when the last handle closes. State
//! comes from ioctls on one `AF_INET` socket per class, the interface MIB
//! by ifindex (counters, O(1)) and a `NET_RT_IFLIST` sysctl for one
//! interface (MAC, IPv6); changes from the `PF_ROUTE` notifier
//! ([`crate::notifier`]).

use std::collections::{BTreeMap, HashMap};
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
use crate::sys;
use crate::tap_create::{self, TapSys};
use crate::wire::{flags, ifmib::IfMibData, layout as w, media};

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

    fn construct(&self, name: &str, _state: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>> {
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
        // A system device must exist; a tap exists now (and its Drop
        // destroys it if this fails).
        let mut dev = BsdDevice {
            name: name.to_owned(),
            ifindex: 0,
            sock,
            tap,
            carrier: self.carrier.clone(),
            tx: Mutex::new(None),
        };
        dev.ifindex = sys::ifreq::name_to_index(name)
            .map_err(|e| Error::from(e).with_op("open").with_detail("if_nametoindex"))?;
        Ok(Box::new(dev))
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

/// A tap's descriptor, shared by the device (sends) and the first handle's
/// receive queue.
#[derive(Debug)]
struct TapFd {
    fd: Arc<OwnedFd>,
    taken: Arc<AtomicBool>,
}

/// One open interface.
struct BsdDevice {
    name: String,
    ifindex: u32,
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
            if let Err(e) = sys::ifreq::destroy(self.sock.as_fd(), &self.name) {
                log::warn!("tap {}: SIOCIFDESTROY failed: {e}", self.name);
            }
        }
    }
}

impl BsdDevice {
    fn ctx(&self, what: &'static str) -> impl Fn(std::io::Error) -> Error + '_ {
        move |e| Error::from(e).with_detail(what)
    }

    fn entry(&self) -> Result<IfEntry> {
        list(self.ifindex)?
            .into_iter()
            .find(|e| e.ifindex == self.ifindex)
            .ok_or_else(|| Error::new(ErrorKind::NoDevice))
    }

    fn media(&self) -> Result<sys::ifreq::Media> {
        sys::ifreq::get_media(self.sock.as_fd(), &self.name).map_err(self.ctx("SIOCGIFMEDIA"))
    }
}

impl DeviceBackend for BsdDevice {
    fn ifindex(&self) -> Result<u32> {
        sys::ifreq::name_to_index(&self.name).map_err(self.ctx("if_nametoindex"))
    }

    fn mac(&self) -> Result<EthAddr> {
        self.entry()?.mac.ok_or_else(|| {
            Error::new(ErrorKind::AddressNotAvailable).with_detail("no Ethernet address")
        })
    }

    fn set_mac(&self, mac: EthAddr) -> Result<()> {
        sys::ifreq::set_lladdr(self.sock.as_fd(), &self.name, mac.0)
            .map_err(self.ctx("SIOCSIFLLADDR"))
    }

    fn mtu(&self) -> Result<u32> {
        sys::ifreq::get_mtu(self.sock.as_fd(), &self.name).map_err(self.ctx("SIOCGIFMTU"))
    }

    fn set_mtu(&self, mtu: u32) -> Result<()> {
        sys::ifreq::set_mtu(self.sock.as_fd(), &self.name, mtu).map_err(self.ctx("SIOCSIFMTU"))
    }

    fn carrier(&self) -> Result<bool> {
        match self.media() {
            Ok(m) => Ok(media::carrier(m.status as u32)),
            // No media (loopback, tap): carrier follows RUNNING.
            Err(e)
                if [libc::EINVAL, libc::ENOTTY, libc::EOPNOTSUPP]
                    .contains(&e.raw_os_error().unwrap_or(0)) =>
            {
                let f = sys::ifreq::get_flags(self.sock.as_fd(), &self.name)
                    .map_err(self.ctx("SIOCGIFFLAGS"))?;
                Ok(f & w::IFF_RUNNING != 0)
            }
            Err(e) => Err(e),
        }
    }

    fn carrier_resets(&self) -> Result<u64> {
        Ok(self.carrier.resets(self.ifindex))
    }

    fn stats(&self) -> Result<Stats> {
        Ok(mib(self.ifindex)?.stats())
    }

    fn features(&self) -> Result<FeatureSet> {
        let m = self.media()?;
        let list: Vec<u32> = m.list.iter().map(|&w| w as u32).collect();
        Ok(media::feature_set(m.active as u32, m.current as u32, &list))
    }

    fn in4(&self) -> Result<Option<Ipv4Net>> {
        match sys::ifreq::get_in4(self.sock.as_fd(), &self.name).map_err(self.ctx("SIOCGIFADDR"))? {
            None => Ok(None),
            Some((addr, mask)) => Ok(Some(Ipv4Net::new(addr, mask)?)),
        }
    }

    fn set_in4(&self, net: Option<Ipv4Net>) -> Result<()> {
        let sock = self.sock.as_fd();
        let old = sys::ifreq::get_in4(sock, &self.name).map_err(self.ctx("SIOCGIFADDR"))?;
        if let (Some((addr, mask)), Some(net)) = (old, net) {
            if addr == net.addr && mask == net.netmask {
                return Ok(());
            }
        }
        if let Some((addr, _)) = old {
            sys::ifreq::del_in4(sock, &self.name, addr).map_err(self.ctx("SIOCDIFADDR"))?;
        }
        if let Some(net) = net {
            if let Err(e) = sys::ifreq::add_in4(sock, &self.name, net.addr, net.netmask) {
                // Put the old address back rather than leave the device
                // with none: the caller asked for a replacement, not a
                // removal.
                if let Some((addr, mask)) = old {
                    if let Err(re) = sys::ifreq::add_in4(sock, &self.name, addr, mask) {
                        log::warn!(
                            "{}: restoring {addr}/{mask} after a failed SIOCAIFADDR: {re}",
                            netdev_core::Escaped(&self.name)
                        );
                    }
                }
                return Err(self.ctx("SIOCAIFADDR")(e));
            }
        }
        Ok(())
    }

    fn in6(&self) -> Result<Vec<Ipv6Net>> {
        Ok(self.entry()?.in6)
    }

    fn status(&self) -> Result<BTreeMap<String, String>> {
        let mut s = BTreeMap::new();
        s.insert(
            "kind".to_owned(),
            if self.tap.is_some() { "tap" } else { "system" }.to_owned(),
        );
        Ok(s)
    }

    fn update_flags(&self, off: Flags, on: Flags) -> Result<Flags> {
        let sock = self.sock.as_fd();
        let cur = sys::ifreq::get_flags(sock, &self.name).map_err(self.ctx("SIOCGIFFLAGS"))?;
        let new = flags::update_iff(cur, off, on);
        if new != cur {
            sys::ifreq::set_flags(sock, &self.name, new).map_err(self.ctx("SIOCSIFFLAGS"))?;
        }
        Ok(flags::from_iff(cur))
    }

    fn open_rx(&self) -> Result<Box<dyn RxQueueBackend>> {
        if let Some(tap) = &self.tap {
            if let Some(q) = TapRxQueue::take(&tap.fd, &tap.taken) {
                return Ok(Box::new(q));
            }
        }
        Ok(Box::new(PcapRxQueue::open(&self.name)?))
    }

    fn send_batch(&self, frames: &[&[u8]]) -> Result<usize> {
        let mut sent = 0;
        for frame in frames {
            let r = match &self.tap {
                Some(tap) => sys::tap::write(tap.fd.as_fd(), frame)
                    .map(drop)
                    .map_err(Error::from),
                None => {
                    let mut tx = self.tx.lock();
                    if tx.is_none() {
                        *tx = Some(crate::packet::open_capture(&self.name)?);
                    }
                    let cap = tx.as_mut().expect("just opened");
                    cap.sendpacket(*frame).map_err(|e| {
                        Error::from_errno(libc::EIO).with_detail(format!("pcap_inject: {e}"))
                    })
                }
            };
            match r {
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

/// Registers the `system` and `tap` classes in `registry`.
pub fn register(registry: &Registry) -> Result<()> {
    registry.register(SystemClass::new())?;
    registry.register(SystemClass::tap())?;
    Ok(())
}
