//! An embedded userspace learning switch on netdev ports.
//!
//! A [`Switch`] runs bridges: each has ports, each port one device (or an
//! active-backup bond of several), opened through a [`netdev::Registry`].
//! Member ports are the host's devices (the `system` class: AF_PACKET on
//! Linux, pcap on FreeBSD); internal ports are devices the switch creates
//! (the `tap` class): the bridge's local port, named after the bridge, and
//! fake bridges (an access port of one VLAN). No code here knows which OS
//! it runs on: it only uses the public `Netdev` and `RxQueue` API.
//!
//! One datapath thread serves every port from one `poll` loop over the
//! ports' receive descriptors, the notifier's subscription and a control
//! descriptor: it receives a batch on each port that has frames, learns
//! source addresses per VLAN (ageing 300 s by default), sends known
//! unicast to its port, floods unknown unicast, broadcast and multicast to
//! every other port of the VLAN, and sleeps in `poll` when no port has a
//! frame. Ports are opened (and closed) in the thread that reconfigures the
//! switch, so adding or removing a port does not stall the others.
//!
//! ```
//! use netdev_switch::{BridgeConfig, PortConfig, Switch, SwitchConfig, SwitchOptions};
//!
//! let registry = netdev::Registry::new();
//! netdev_dummy::register(&registry)?;
//! let options = SwitchOptions {
//!     member_type: "dummy".into(),
//!     internal_type: "dummy".into(),
//!     ..SwitchOptions::default()
//! };
//! let switch = Switch::new(registry.clone(), options)?;
//! let config = SwitchConfig::new().bridge(
//!     "br0",
//!     BridgeConfig::with_local_port("br0").port("p1", PortConfig::member("p1")),
//! );
//! let problems = switch.apply(&config);
//! assert!(problems.is_empty(), "{problems:?}");
//! let ports = switch.ports("br0").unwrap();
//! assert_eq!(ports.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["br0", "p1"]);
//! # Ok::<(), netdev::Error>(())
//! ```

#![warn(missing_docs)]

pub mod clock;
pub mod config;
mod datapath;
pub mod fdb;
pub mod frame;

use std::fmt;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{bounded, unbounded, Sender};
use netdev::{Error, EthAddr, Registry};
use parking_lot::Mutex;

pub use clock::{Clock, ManualClock, MonotonicClock};
pub use config::{BridgeConfig, PortConfig, PortKind, SwitchConfig, VlanMode};
pub use fdb::PortNo;

use datapath::{Command, Datapath};

/// How a [`Switch`] runs.
#[derive(Debug, Clone)]
pub struct SwitchOptions {
    /// The netdev type of member ports: `system`.
    pub member_type: String,
    /// The netdev type of internal ports (created by the switch): `tap`.
    pub internal_type: String,
    /// How long a learned address lives without being seen again: 300 s.
    pub ageing: Duration,
    /// Most addresses each bridge learns (the oldest makes room): 8192.
    pub max_mac_entries: usize,
    /// Most frames received from one port per call: 32 (Open vSwitch's
    /// burst size).
    pub batch_size: usize,
    /// The largest frame forwarded, in bytes: 2048 (a 1500-byte MTU with
    /// room for tags), raised to 66 KiB with [`SwitchOptions::offload`].
    /// Larger frames arrive truncated and are dropped, counted in the
    /// port's `dropped`.
    pub max_frame: usize,
    /// Receive frames with their offload metadata and send them on with it
    /// (`true`): a TCP segment of 64 KiB crosses the switch as one frame
    /// and the kernel cuts it (or the receiving host never needs to), and
    /// a checksum the sender left to the hardware is completed where it
    /// must be. Ports whose device cannot take the metadata get complete
    /// frames, made in software. `false` receives complete frames only,
    /// with smaller receive rings.
    pub offload: bool,
    /// Receive buffer of each member port
    /// ([`netdev::RxQueueOptions::buffer_bytes`]): `None` for the class's
    /// default (on Linux a 32 MiB ring per port, which absorbs 16384
    /// frames while the datapath is preempted). Less kernel memory per
    /// port loses frames sooner in bursts.
    pub port_buffer_bytes: Option<usize>,
    /// How often a port whose device could not be opened (missing, gone)
    /// is tried again: 1 s. A notification that its device appeared tries
    /// at once.
    pub retry_interval: Duration,
    /// The clock of address ageing.
    pub clock: Arc<dyn Clock>,
}

impl Default for SwitchOptions {
    fn default() -> Self {
        SwitchOptions {
            member_type: "system".into(),
            internal_type: "tap".into(),
            ageing: Duration::from_secs(300),
            max_mac_entries: 8192,
            batch_size: 32,
            max_frame: 2048,
            offload: true,
            port_buffer_bytes: None,
            retry_interval: Duration::from_secs(1),
            clock: Arc::new(MonotonicClock::new()),
        }
    }
}

/// A port that [`Switch::apply`] configured but could not open (it stays
/// configured, and is tried again every [`SwitchOptions::retry_interval`]).
#[derive(Debug)]
pub struct PortProblem {
    /// Its bridge.
    pub bridge: String,
    /// The port.
    pub port: String,
    /// Why (for a bond, the last interface's error).
    pub error: Error,
}

impl fmt::Display for PortProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bridge {}, port {}: {}",
            netdev::Escaped(&self.bridge),
            netdev::Escaped(&self.port),
            self.error
        )
    }
}

/// Frame counters of one port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames received and sent to the one port their destination was
    /// learned on.
    pub forwarded: u64,
    /// Frames received and flooded (broadcast, multicast, unknown
    /// unicast).
    pub flooded: u64,
    /// Frames received and dropped: destination on the ingress port,
    /// a tag an access port does not accept, a runt, a multicast source,
    /// a frame larger than the switch's largest.
    pub dropped: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames to send that the device refused or had no room for.
    pub tx_dropped: u64,
    /// Frames the port's receive queue lost because the switch fell
    /// behind (from the queue itself, where the backend can tell).
    pub rx_overruns: u64,
}

/// One port as the switch runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortStatus {
    /// The port's name.
    pub name: String,
    /// Its number in the bridge: 0 for the local port, others from 1.
    pub port_no: PortNo,
    /// Its configuration.
    pub config: PortConfig,
    /// The interface carrying its traffic, when one is open.
    pub active: Option<String>,
    /// Why no interface is open (`None` when one is).
    pub error: Option<String>,
    /// Its counters since it was added.
    pub counters: PortCounters,
}

/// One forwarding-database entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdbRecord {
    /// VLAN (0: untagged).
    pub vlan: u16,
    /// The address.
    pub mac: EthAddr,
    /// The port number it is on.
    pub port_no: PortNo,
    /// The port's name.
    pub port: String,
    /// Time since the address was last seen (zero for local entries).
    pub age: Duration,
    /// True for the address of one of the bridge's member ports itself
    /// (listed as the kernel bridge lists its ports' addresses); false for
    /// learned addresses.
    pub is_local: bool,
}

/// The embedded switch: a datapath thread and the configuration it runs.
/// Dropping it stops the thread and closes every port (internal devices
/// are destroyed, member ports get their flags back).
pub struct Switch {
    registry: Registry,
    options: SwitchOptions,
    control: Mutex<SwitchConfig>,
    tx: Sender<Command>,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Switch")
            .field("options", &self.options)
            .field("config", &*self.control.lock())
            .finish_non_exhaustive()
    }
}

impl Switch {
    /// A switch with no bridges, opening devices from `registry`. Starts
    /// the datapath thread.
    pub fn new(registry: Registry, options: SwitchOptions) -> netdev::Result<Switch> {
        let (tx, rx) = unbounded();
        let (wake, wake_rx) = UnixStream::pair()
            .and_then(|(a, b)| {
                a.set_nonblocking(true)?;
                b.set_nonblocking(true)?;
                Ok((a, b))
            })
            .map_err(|e| Error::from(e).with_op("switch"))?;
        let subscription = registry.subscribe()?;
        let datapath = Datapath::new(registry.clone(), options.clone(), rx, wake_rx, subscription);
        let thread = std::thread::Builder::new()
            .name("switch-datapath".into())
            .spawn(move || datapath.run())
            .map_err(|e| Error::from(e).with_op("switch"))?;
        Ok(Switch {
            registry,
            options,
            control: Mutex::new(SwitchConfig::new()),
            tx,
            wake,
            thread: Some(thread),
        })
    }

    /// The options it runs with.
    pub fn options(&self) -> &SwitchOptions {
        &self.options
    }

    fn send(&self, cmd: Command) {
        if self.tx.send(cmd).is_ok() {
            // A full socket buffer already holds a wake-up; a missing
            // reader means the thread is gone and the reply says so.
            let _ = (&self.wake).write(&[1]);
        }
    }

    /// Sends `make(reply)` and waits for the datapath's answer (`None` if
    /// the thread is gone, which only a panic in it can cause).
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Command) -> Option<T> {
        let (reply, answer) = bounded(1);
        self.send(make(reply));
        answer.recv().ok()
    }

    /// Makes the running switch match `config`: bridges and ports that are
    /// no longer in it are removed (their devices closed), new ones added,
    /// changed ports re-added. Returns when the datapath runs the new
    /// configuration; ports that were not touched keep forwarding
    /// throughout.
    ///
    /// A port whose device cannot be opened stays configured, is tried
    /// again later, and is reported in the returned list.
    pub fn apply(&self, config: &SwitchConfig) -> Vec<PortProblem> {
        let mut current = self.control.lock();
        let mut problems = Vec::new();
        let mut closed = Vec::new();
        for name in current.bridges.keys() {
            if !config.bridges.contains_key(name) {
                if let Some(ports) = self.ask(|reply| Command::DelBridge {
                    name: name.clone(),
                    reply,
                }) {
                    closed.extend(ports);
                }
            }
        }
        for (name, bridge) in &config.bridges {
            let old = current.bridges.get(name);
            if old.is_none() {
                self.ask(|reply| Command::AddBridge {
                    name: name.clone(),
                    reply,
                });
            }
            if let Some(old) = old {
                for (port, pc) in &old.ports {
                    if bridge.ports.get(port) != Some(pc) {
                        if let Some(p) = self.ask(|reply| Command::DelPort {
                            bridge: name.clone(),
                            port: port.clone(),
                            reply,
                        }) {
                            closed.extend(p);
                        }
                    }
                }
            }
            // The local port first, so it gets number 0 and is up before
            // members bring traffic.
            let mut order: Vec<(&String, &PortConfig)> = bridge.ports.iter().collect();
            order.sort_by_key(|(p, _)| *p != name);
            for (port, pc) in order {
                if old.and_then(|o| o.ports.get(port)) == Some(pc) {
                    continue;
                }
                let opened = datapath::open_port(&self.registry, &self.options, pc);
                let open = match opened {
                    Ok(live) => Ok(live),
                    Err(error) => {
                        let text = error.to_string();
                        problems.push(PortProblem {
                            bridge: name.clone(),
                            port: port.clone(),
                            error,
                        });
                        Err(text)
                    }
                };
                self.ask(|reply| Command::AddPort {
                    bridge: name.clone(),
                    port: port.clone(),
                    config: pc.clone(),
                    open: open.map(Box::new),
                    reply,
                });
            }
        }
        *current = config.clone();
        drop(current);
        // Closing devices (unmapping rings, destroying taps) happens here,
        // not in the datapath thread.
        drop(closed);
        problems
    }

    /// The configuration last applied.
    pub fn config(&self) -> SwitchConfig {
        self.control.lock().clone()
    }

    /// The ports of `bridge` with their state and counters, by port
    /// number; `None` if there is no such bridge.
    pub fn ports(&self, bridge: &str) -> Option<Vec<PortStatus>> {
        self.ask(|reply| Command::Ports {
            bridge: bridge.into(),
            reply,
        })
        .flatten()
    }

    /// The forwarding database of `bridge`: the addresses learned on its
    /// member and fake-bridge ports (not those of its local port, as the
    /// kernel bridge does not list them) and the addresses of its member
    /// ports' own devices (`is_local`). Sorted by port, VLAN and address.
    /// `None` if there is no such bridge.
    pub fn fdb(&self, bridge: &str) -> Option<Vec<FdbRecord>> {
        self.ask(|reply| Command::Fdb {
            bridge: bridge.into(),
            reply,
        })
        .flatten()
    }

    /// Forgets every learned address of `bridge`; false if there is no
    /// such bridge.
    pub fn flush_fdb(&self, bridge: &str) -> bool {
        self.ask(|reply| Command::FlushFdb {
            bridge: bridge.into(),
            reply,
        })
        .unwrap_or(false)
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        let ports = self.ask(|reply| Command::Shutdown { reply });
        drop(ports);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
