//! The provider traits a backend implements: [`NetdevClass`] for a device
//! type and [`DeviceBackend`] for one shared device of that type.
//!
//! Open vSwitch's C `struct netdev_class` is one table of function pointers
//! taking a `struct netdev_dev *` that each class downcasts to its own
//! struct. Here the class is the factory ([`NetdevClass::construct`]) and the
//! operations live on the object it returns, so a backend keeps its private
//! state in its own type with no downcasting. Every optional operation has a
//! default that answers [`ErrorKind::NotSupported`](crate::ErrorKind), so a
//! backend implements only what its OS can do.
//!
//! Caching, change sequences, name/ifindex tracking and error context are
//! the core's job (see [`crate::Netdev`]); backends answer plainly and call
//! [`DeviceState`] when they learn of a change themselves.

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::BorrowedFd;
use std::sync::Arc;
use std::time::Duration;

use crate::addr::{Ipv4Net, Ipv6Net};
use crate::error::{Error, ErrorKind, Result};
use crate::eth_addr::EthAddr;
use crate::features::FeatureSet;
use crate::flags::Flags;
use crate::notifier::ChangeSourceSpec;
use crate::offload::Offload;
use crate::packet::{RxQueueBackend, RxQueueOptions};
use crate::state::DeviceState;
use crate::stats::Stats;

/// A provider for one device type name (`system`, `tap`, `dummy`...).
///
/// Registered as `Arc<dyn NetdevClass>` in a [`crate::Registry`].
pub trait NetdevClass: Send + Sync + 'static {
    /// The type name devices of this class are opened with.
    fn type_name(&self) -> &str;

    /// Creates the backend half of a shared device called `name` (already
    /// validated). Called once per device, not per handle: later opens of the
    /// same name share the result.
    ///
    /// `state` is the device's cache and change sequence; keep it if the
    /// backend learns of changes on its own (see [`DeviceState::changed`]).
    /// A class for existing OS devices answers
    /// [`ErrorKind::NoDevice`](crate::ErrorKind) when there is none.
    fn construct(&self, name: &str, state: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>>;

    /// The change notifier this class's devices need, if any. The registry
    /// starts it with the first such device and stops it with the last; its
    /// events update devices of every class that returns the same
    /// [`ChangeSourceSpec::key`].
    fn change_source(&self) -> Option<ChangeSourceSpec> {
        None
    }

    /// The devices of this class that exist now and could be opened, with
    /// whatever the listing told for free (a Linux link dump carries MTU,
    /// MAC, flags and master; a class that must ask per device leaves
    /// those `None`). No device is opened.
    fn enumerate(&self) -> Result<Vec<DeviceInfo>> {
        Err(Error::not_supported())
    }

    /// The device of this class named `name`, if it exists now (`Ok(None)`
    /// if not), without opening it. "Not supported" (the default) where a
    /// name does not identify a device well enough: the registry then
    /// asks the device itself whether it is still the one opened (a
    /// FreeBSD interface keeps its index through a rename, and a freed
    /// index is given out again at once). A class whose devices are
    /// identified by name and index (Linux) answers with one request.
    fn lookup(&self, _name: &str) -> Result<Option<DeviceInfo>> {
        Err(Error::not_supported())
    }

    /// Visits the counters of every device of this class that exists now,
    /// by ifindex, in one pass where the OS allows it (one Linux
    /// `RTM_GETSTATS` dump): the cheap way to read statistics of many
    /// devices. The `Stats` passed to `visit` is reused between calls.
    fn all_stats(&self, _visit: &mut dyn FnMut(u32, &Stats)) -> Result<()> {
        Err(Error::not_supported())
    }

    /// Periodic work that cannot be driven by the notifier thread. Called by
    /// [`crate::Registry::run`].
    fn run(&self) {}

    /// How soon [`NetdevClass::run`] wants to be called again; `None` means
    /// "not until something else happens".
    fn wait(&self) -> Option<Duration> {
        None
    }
}

impl fmt::Debug for dyn NetdevClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NetdevClass({:?})", self.type_name())
    }
}

/// The backend half of one shared device. All handles of the device call it
/// concurrently, hence `&self` and `Sync`.
///
/// Dropping it releases the device (a tap backend destroys its interface
/// here). Getters are called only on a cache miss; setters are followed by a
/// cache update in the core.
pub trait DeviceBackend: Send + Sync + 'static {
    /// The interface index.
    fn ifindex(&self) -> Result<u32> {
        Err(Error::not_supported())
    }

    /// The Ethernet address.
    fn mac(&self) -> Result<EthAddr> {
        Err(Error::not_supported())
    }

    /// Sets the Ethernet address (the core has checked it is unicast).
    fn set_mac(&self, _mac: EthAddr) -> Result<()> {
        Err(Error::not_supported())
    }

    /// The MTU in bytes (layer 3, without the Ethernet header).
    fn mtu(&self) -> Result<u32> {
        Err(Error::not_supported())
    }

    /// Sets the MTU.
    fn set_mtu(&self, _mtu: u32) -> Result<()> {
        Err(Error::not_supported())
    }

    /// True if the link has carrier.
    fn carrier(&self) -> Result<bool> {
        Err(Error::not_supported())
    }

    /// How many times carrier went from up to down since the device was
    /// created.
    fn carrier_resets(&self) -> Result<u64> {
        Err(Error::not_supported())
    }

    /// Current counters. Never cached.
    fn stats(&self) -> Result<Stats> {
        Err(Error::not_supported())
    }

    /// Link features (current, advertised, supported, peer) and the exact
    /// speed when known.
    fn features(&self) -> Result<FeatureSet> {
        Err(Error::not_supported())
    }

    /// The IPv4 address and netmask, `None` if none is configured.
    fn in4(&self) -> Result<Option<Ipv4Net>> {
        Err(Error::not_supported())
    }

    /// Sets the IPv4 address and netmask; `None` removes it.
    fn set_in4(&self, _net: Option<Ipv4Net>) -> Result<()> {
        Err(Error::not_supported())
    }

    /// The IPv6 addresses with their prefix lengths.
    fn in6(&self) -> Result<Vec<Ipv6Net>> {
        Err(Error::not_supported())
    }

    /// Free-form status in the spirit of Open vSwitch's `get_status`:
    /// `kind`, `driver_name`, `master` and the like, for people and
    /// diagnostics, not for program logic.
    fn status(&self) -> Result<BTreeMap<String, String>> {
        Err(Error::not_supported())
    }

    /// The current flags.
    fn flags(&self) -> Result<Flags> {
        self.update_flags(Flags::empty(), Flags::empty())
    }

    /// Turns `off` off and `on` on (both within [`Flags::SETTABLE`]; the
    /// core checks) and returns the flags as they were before.
    fn update_flags(&self, _off: Flags, _on: Flags) -> Result<Flags> {
        Err(Error::not_supported())
    }

    /// Opens a receive queue for one handle.
    fn open_rx(&self) -> Result<Box<dyn RxQueueBackend>> {
        Err(Error::not_supported())
    }

    /// Opens a receive queue as `options` say. The default ignores what
    /// the backend cannot honour ([`RxQueueOptions::offload`]: complete
    /// frames are always correct) and opens [`DeviceBackend::open_rx`].
    fn open_rx_with(&self, options: &RxQueueOptions) -> Result<Box<dyn RxQueueBackend>> {
        let _ = options;
        self.open_rx()
    }

    /// Sends `frames` with their offload metadata (`offloads[i]` for
    /// `frames[i]`; the caller checked the lengths match), with the
    /// contract of [`DeviceBackend::send_batch`]. The default completes
    /// each frame in software ([`crate::offload::segment`]: the checksum,
    /// TCP segmentation) and sends the result with
    /// [`DeviceBackend::send_batch`]; a frame counts as sent when all its
    /// segments were. A frame that cannot be completed (a GSO type other
    /// than TCP, malformed headers) is an error naming it.
    fn send_batch_offload(&self, frames: &[&[u8]], offloads: &[Offload]) -> Result<usize> {
        send_batch_in_software(self, frames, offloads)
    }

    /// Sends the frames in order, stopping at the first one that cannot be
    /// queued now. Returns how many were sent; `Ok(0)` for a non-empty batch
    /// means "no room, try again after [`DeviceBackend::send_wait`]".
    /// A frame the device can never send (too large, malformed) is an error.
    fn send_batch(&self, _frames: &[&[u8]]) -> Result<usize> {
        Err(Error::not_supported())
    }

    /// Blocks until a send could make progress or `timeout` passes; true if
    /// there is room. `None` waits indefinitely.
    fn send_wait(&self, _timeout: Option<Duration>) -> Result<bool> {
        Ok(true)
    }

    /// A descriptor that polls writable when a send could make progress
    /// (the readiness [`DeviceBackend::send_wait`] waits for), for
    /// poll/epoll loops.
    fn send_fd(&self) -> Result<BorrowedFd<'_>> {
        Err(Error::not_supported())
    }
}

/// One device a class can open, as [`NetdevClass::enumerate`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DeviceInfo {
    /// The name to open it by, exactly as the OS reports it.
    pub name: String,
    /// Interface index (0 if the class has none).
    pub ifindex: u32,
    /// Link kind (`veth`, `bridge`, `tun`...), if known.
    pub kind: Option<String>,
    /// Interface index of the master device (bridge, bond), if enslaved.
    pub master: Option<u32>,
    /// MTU, if the listing carried it.
    pub mtu: Option<u32>,
    /// Ethernet address, if the listing carried one.
    pub mac: Option<EthAddr>,
    /// Flags, if the listing carried them.
    pub flags: Option<Flags>,
}

impl DeviceInfo {
    /// A device known by name and index only.
    pub fn new(name: impl Into<String>, ifindex: u32) -> DeviceInfo {
        DeviceInfo {
            name: name.into(),
            ifindex,
            ..DeviceInfo::default()
        }
    }
}

/// The default of [`DeviceBackend::send_batch_offload`], for backends
/// that take offload metadata only on some paths: completes each frame in
/// software ([`crate::offload::segment`]) and sends it with `backend`'s
/// [`DeviceBackend::send_batch`].
pub fn send_batch_in_software<B: DeviceBackend + ?Sized>(
    backend: &B,
    frames: &[&[u8]],
    offloads: &[Offload],
) -> Result<usize> {
    // As `send_batch`: an error only for the first frame of the call;
    // after that, the count so far (the caller retries the rest, and the
    // error shows then).
    let sent_or = |i: usize, e: Error| if i == 0 { Err(e) } else { Ok(i) };
    let mut buf = Vec::new();
    let mut lens = Vec::new();
    let mut i = 0;
    while i < frames.len() {
        let run = offloads[i..].iter().take_while(|o| o.is_none()).count();
        if run > 0 {
            let n = match backend.send_batch(&frames[i..i + run]) {
                Ok(n) => n,
                Err(e) => return sent_or(i, e),
            };
            i += n;
            if n < run {
                return Ok(i);
            }
            continue;
        }
        buf.clear();
        lens.clear();
        if let Err(e) = crate::offload::segment(frames[i], &offloads[i], &mut buf, &mut lens) {
            let e = Error::new(ErrorKind::InvalidInput(e.to_string()))
                .with_detail(format!("frame {i} of the batch, {} bytes", frames[i].len()));
            return sent_or(i, e);
        }
        let mut segs = Vec::with_capacity(lens.len());
        let mut at = 0;
        for len in &lens {
            segs.push(&buf[at..at + len]);
            at += len;
        }
        let mut sent = 0;
        while sent < segs.len() {
            match backend.send_batch(&segs[sent..]) {
                Ok(0) if sent == 0 => return Ok(i),
                // Some segments are out: finish the frame rather than send
                // its start twice on a retry; give up on the rest if the
                // device stays full.
                Ok(0) => {
                    if !backend.send_wait(Some(Duration::from_millis(10)))? {
                        break;
                    }
                }
                Ok(n) => sent += n,
                Err(e) if sent == 0 => return sent_or(i, e),
                Err(_) => break,
            }
        }
        i += 1;
    }
    Ok(frames.len())
}
