//! [`Daemon`]: one request in, one reply out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use netdev::{DeviceInfo, Escaped, EthAddr, Registry};
use netdev_netlink::{Header, MsgBuilder};

use super::track::{Plan, Tracker};
use crate::model::{Applied, Change, Config, ConfigError, Location};
use crate::proto::{
    self, FdbEntry, PortStats, Reply, Request, MAX_FDB_ENTRIES, MAX_IFINDEXES, MAX_PORT_STATS,
    USER_HZ,
};
use crate::store::{ConfigBackend, FdbSource, StoreError};
use crate::transport::PeerCred;

/// How a [`Daemon`] finds network devices.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    /// The netdev type of the host's devices: `system` (the default); the
    /// tests use `dummy`.
    pub device_type: String,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            device_type: "system".into(),
        }
    }
}

/// The request handler of `brcompatd` (see the module documentation of
/// [`crate::daemon`] for what each request does).
pub struct Daemon {
    backend: Arc<dyn ConfigBackend>,
    registry: Registry,
    device_type: String,
    fdb: Arc<dyn FdbSource>,
    tracker: Tracker,
    builder: MsgBuilder,
}

impl fmt::Debug for Daemon {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Daemon")
            .field("backend", &self.backend)
            .field("device_type", &self.device_type)
            .field("fdb", &self.fdb)
            .field("tracker", &self.tracker)
            .finish_non_exhaustive()
    }
}

const EINVAL: u32 = libc::EINVAL as u32;

/// An errno as the reply carries it (positive, at most 4095).
fn errno(e: i32) -> u32 {
    match u32::try_from(e) {
        Ok(e) if (1..=4095).contains(&e) => e,
        _ => libc::EIO as u32,
    }
}

fn config_errno(e: &ConfigError) -> u32 {
    errno(e.errno())
}

fn store_errno(e: &StoreError) -> u32 {
    errno(e.errno())
}

impl Daemon {
    /// A daemon answering from `backend`'s configuration and the devices
    /// of `options.device_type` in `registry`, with forwarding databases
    /// from `fdb`. Learns the ifindex of every configured interface whose
    /// device exists (opening it), which starts the registry's change
    /// notifier.
    pub fn new(
        backend: Arc<dyn ConfigBackend>,
        registry: Registry,
        fdb: Arc<dyn FdbSource>,
        options: DaemonOptions,
    ) -> Daemon {
        let mut daemon = Daemon {
            backend,
            registry,
            device_type: options.device_type,
            fdb,
            tracker: Tracker::default(),
            builder: MsgBuilder::default(),
        };
        if let Ok(devices) = daemon.devices() {
            let config = daemon.backend.snapshot();
            // Learn only: pruning waits for the first periodic check, so
            // devices that appear shortly after start keep their ports.
            let _ = daemon
                .tracker
                .check(&daemon.registry, &daemon.device_type, &config, &devices);
        }
        daemon
    }

    /// The registry the daemon reads devices from.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The current configuration.
    pub fn config(&self) -> Config {
        self.backend.snapshot()
    }

    /// The ifindex interface `name` is tracked under, if its device was
    /// seen.
    pub fn tracked_ifindex(&self, name: &str) -> Option<u32> {
        self.tracker.get(name).map(|t| t.ifindex)
    }

    /// Answers one datagram from a client: always exactly one encoded
    /// `DP_RESULT` reply, echoing the request's sequence number and port
    /// id (those of the header when the rest does not decode; 0 when not
    /// even the header arrived).
    pub fn handle(&mut self, datagram: &[u8], peer: Option<&PeerCred>) -> Vec<u8> {
        let header = Header::parse(datagram).ok();
        let (seq, pid) = header.map_or((0, 0), |h| (h.seq, h.pid));
        let reply = match Request::parse(datagram, proto::UNIX_FAMILY_ID) {
            Ok((_, request)) => {
                let reply = self.execute(&request);
                log::debug!(
                    "{} from {}: errno {}",
                    request.command(),
                    PeerText(peer),
                    reply.errno
                );
                reply
            }
            Err(e) => {
                log::info!("bad request from {} (seq {seq}): {e}", PeerText(peer));
                Reply::error(e.errno())
            }
        };
        self.encode(&reply, seq, pid)
    }

    /// The reply to a datagram too large to receive whole, whose first
    /// bytes are `head`: `EINVAL`, echoing the header if it arrived.
    pub fn oversized(&mut self, head: &[u8]) -> Vec<u8> {
        let (seq, pid) = Header::parse(head).map_or((0, 0), |h| (h.seq, h.pid));
        self.encode(&Reply::error(EINVAL), seq, pid)
    }

    /// `reply` encoded; one that cannot be (it cannot happen: the data is
    /// bounded) becomes `EIO`.
    fn encode(&mut self, reply: &Reply, seq: u32, pid: u32) -> Vec<u8> {
        let family = proto::UNIX_FAMILY_ID;
        match reply.encode(&mut self.builder, family, seq, pid) {
            Ok(bytes) => bytes.to_vec(),
            Err(e) => {
                log::error!("cannot encode a reply: {e}");
                Reply::error(libc::EIO as u32)
                    .encode(&mut self.builder, family, seq, pid)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default()
            }
        }
    }

    /// Executes a decoded request.
    pub fn execute(&mut self, request: &Request) -> Reply {
        if let Err(e) = request.validate_names() {
            log::info!("{}: {e}", request.command());
            return Reply::error(EINVAL);
        }
        let result = match request {
            Request::AddBridge { name } => self.add_bridge(name).map(|()| Reply::ok()),
            Request::DelBridge { name } => self.del_bridge(name).map(|()| Reply::ok()),
            Request::AddPort { bridge, port } => self.add_port(bridge, port).map(|()| Reply::ok()),
            Request::DelPort { bridge, port } => self.del_port(bridge, port).map(|()| Reply::ok()),
            Request::FdbQuery {
                bridge,
                count,
                skip,
            } => self.fdb_query(bridge, *count, *skip).map(Reply::fdb),
            Request::GetBridges => self.get_bridges().map(Reply::ifindexes),
            Request::GetPorts { bridge } => self.get_ports(bridge).map(Reply::ifindexes),
            Request::QueryMc => Err(libc::EOPNOTSUPP as u32),
            Request::GetPortStats { bridge } => self.port_stats(bridge).map(Reply::port_stats),
        };
        result.unwrap_or_else(Reply::error)
    }

    /// The devices that exist now, from one enumeration.
    fn devices(&self) -> Result<Vec<DeviceInfo>, u32> {
        self.registry.enumerate(&self.device_type).map_err(|e| {
            log::warn!("listing network devices: {e}");
            errno(e.raw_os_error().unwrap_or(libc::EIO))
        })
    }

    fn device(&self, name: &str) -> Result<Option<DeviceInfo>, u32> {
        Ok(self.devices()?.into_iter().find(|d| d.name == name))
    }

    fn apply(&mut self, what: &str, change: &Change) -> Result<Applied, u32> {
        match self.backend.apply(change) {
            Ok(applied) => {
                log::info!("{what}: done");
                self.forget_removed(&applied.removed);
                Ok(applied)
            }
            Err(e) => {
                match &e {
                    StoreError::Config(_) => log::info!("{what}: {e}"),
                    _ => log::error!("{what}: {e}"),
                }
                Err(store_errno(&e))
            }
        }
    }

    fn forget_removed(&mut self, removed: &[Location]) {
        for loc in removed {
            self.tracker.forget(&loc.interface);
        }
    }

    fn add_bridge(&mut self, name: &str) -> Result<(), u32> {
        let what = format!("addbr {}", Escaped(name));
        let config = self.backend.snapshot();
        if config.bridge(name).is_some() {
            log::info!("{what}: bridge exists");
            return Err(libc::EEXIST as u32);
        }
        if config.resolve(name).is_ok_and(|v| v.is_fake()) {
            log::info!("{what}: exists as a fake bridge");
            return Ok(());
        }
        if self.device(name)?.is_some() {
            log::info!("{what}: a network device of that name exists");
            return Err(libc::EEXIST as u32);
        }
        self.apply(&what, &Change::AddBridge { name: name.into() })
            .map(drop)
    }

    fn del_bridge(&mut self, name: &str) -> Result<(), u32> {
        let what = format!("delbr {}", Escaped(name));
        self.apply(&what, &Change::DeleteBridge { name: name.into() })?;
        self.tracker.retain_configured(&self.backend.snapshot());
        Ok(())
    }

    /// The bridge must be configured (real or fake): `EINVAL` otherwise.
    fn port_bridge(config: &Config, what: &str, bridge: &str) -> Result<(), u32> {
        match config.resolve(bridge) {
            Ok(_) => Ok(()),
            Err(_) => {
                log::info!("{what}: no bridge named {}", Escaped(bridge));
                Err(EINVAL)
            }
        }
    }

    fn add_port(&mut self, bridge: &str, port: &str) -> Result<(), u32> {
        let what = format!("addif {} {}", Escaped(bridge), Escaped(port));
        Self::port_bridge(&self.backend.snapshot(), &what, bridge)?;
        let Some(info) = self.device(port)? else {
            log::info!("{what}: no network device named {}", Escaped(port));
            return Err(EINVAL);
        };
        self.apply(
            &what,
            &Change::AddInterface {
                bridge: bridge.into(),
                interface: port.into(),
            },
        )?;
        self.tracker.learn(&self.registry, &self.device_type, &info);
        Ok(())
    }

    fn del_port(&mut self, bridge: &str, port: &str) -> Result<(), u32> {
        let what = format!("delif {} {}", Escaped(bridge), Escaped(port));
        let config = self.backend.snapshot();
        Self::port_bridge(&config, &what, bridge)?;
        let is_bond = config
            .bridges()
            .flat_map(|b| b.ports())
            .any(|p| p.name() == port && p.is_bond());
        if !is_bond && self.device(port)?.is_none() {
            log::info!("{what}: no network device named {}", Escaped(port));
            return Err(EINVAL);
        }
        self.apply(
            &what,
            &Change::DeleteInterface {
                bridge: bridge.into(),
                interface: port.into(),
            },
        )
        .map(drop)
    }

    /// The MACs of the devices of `name`'s VLAN, read through netdev.
    fn local_macs(&mut self, config: &Config, name: &str) -> Result<Vec<EthAddr>, u32> {
        let ifaces = config.vlan_interfaces(name).map_err(|e| config_errno(&e))?;
        let mut devices: Option<HashMap<String, DeviceInfo>> = None;
        let mut macs = Vec::with_capacity(ifaces.len());
        for iface in ifaces {
            let mac = match self.tracker.get(&iface).and_then(|t| t.dev.as_ref()) {
                Some(dev) => dev.mac().ok(),
                None => {
                    // Opened only if it exists: opening creates devices of
                    // some classes (dummy).
                    let devices = match &devices {
                        Some(d) => d,
                        None => devices.insert(
                            self.devices()?
                                .into_iter()
                                .map(|d| (d.name.clone(), d))
                                .collect(),
                        ),
                    };
                    devices.get(&iface).and_then(|_| {
                        self.registry
                            .open(&iface, &self.device_type)
                            .and_then(|d| d.mac())
                            .ok()
                    })
                }
            };
            macs.extend(mac);
        }
        Ok(macs)
    }

    fn fdb_query(&mut self, name: &str, count: u64, skip: u64) -> Result<Vec<FdbEntry>, u32> {
        let config = self.backend.snapshot();
        let view = config.resolve(name).map_err(|e| config_errno(&e))?;
        let local = self.local_macs(&config, name)?;
        let vlan = view.fdb_vlan();
        let skip = usize::try_from(skip).unwrap_or(usize::MAX);
        let max = usize::try_from(count).map_or(MAX_FDB_ENTRIES, |c| c.min(MAX_FDB_ENTRIES));
        if max == 0 {
            return Ok(Vec::new());
        }
        let entries = self
            .fdb
            .entries(&view.parent, vlan, skip, max)
            .map_err(|e| {
                log::warn!("forwarding database of {}: {e}", Escaped(&view.parent));
                errno(e.raw_os_error().unwrap_or(libc::EIO))
            })?;
        Ok(entries
            .into_iter()
            .filter(|e| e.vlan == vlan)
            .take(max)
            .map(|e| FdbEntry {
                mac: e.mac.octets(),
                port: e.port,
                is_local: e.is_local || local.contains(&e.mac),
                ageing_ticks: ticks(e.age),
            })
            .collect())
    }

    /// The per-port counters of bridge `name`: all ports of a real
    /// bridge; the ports of its VLAN (itself included) for a fake one.
    fn port_stats(&self, name: &str) -> Result<Vec<PortStats>, u32> {
        let config = self.backend.snapshot();
        let view = config.resolve(name).map_err(|e| config_errno(&e))?;
        let mut stats = self.fdb.port_stats(&view.parent).map_err(|e| {
            let code = e.raw_os_error().unwrap_or(libc::EIO);
            if code != libc::EOPNOTSUPP {
                log::warn!("port counters of {}: {e}", Escaped(&view.parent));
            }
            errno(code)
        })?;
        if view.is_fake() {
            let ports = config.list_ports(name).map_err(|e| config_errno(&e))?;
            stats.retain(|s| s.name == name || ports.iter().any(|p| p.name == s.name));
        }
        if stats.len() > MAX_PORT_STATS {
            log::warn!(
                "{} ports: only {MAX_PORT_STATS} fit in a reply",
                stats.len()
            );
            stats.truncate(MAX_PORT_STATS);
        }
        Ok(stats)
    }

    /// The ifindexes of the devices named `names`, where they exist.
    fn ifindexes<'a>(&self, names: impl Iterator<Item = &'a str>) -> Result<Vec<i32>, u32> {
        let devices = self.devices()?;
        let by_name: HashMap<&str, u32> = devices
            .iter()
            .map(|d| (d.name.as_str(), d.ifindex))
            .collect();
        let mut out: Vec<i32> = names
            .filter_map(|n| by_name.get(n))
            .filter_map(|&i| i32::try_from(i).ok())
            .collect();
        if out.len() > MAX_IFINDEXES {
            log::warn!(
                "{} ifindexes: only {MAX_IFINDEXES} fit in a reply",
                out.len()
            );
            out.truncate(MAX_IFINDEXES);
        }
        Ok(out)
    }

    fn get_bridges(&self) -> Result<Vec<i32>, u32> {
        let bridges = self.backend.snapshot().list_bridges();
        let mut out = self.ifindexes(bridges.iter().map(|b| b.name.as_str()))?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn get_ports(&self, name: &str) -> Result<Vec<i32>, u32> {
        let config = self.backend.snapshot();
        let ports = config.list_ports(name).map_err(|e| config_errno(&e))?;
        self.ifindexes(
            ports
                .iter()
                .flat_map(|p| p.interfaces.iter().map(String::as_str)),
        )
    }

    /// Whether a change event about device `ifindex` (last named `name`)
    /// may concern the configuration.
    pub(super) fn concerns(&self, ifindex: u32, name: &str) -> bool {
        self.tracker
            .concerns(ifindex, name, &self.backend.snapshot())
    }

    /// Checks every configured interface against the devices that exist
    /// now, and removes from the configuration those whose device is gone
    /// (see the module documentation). Returns what was removed.
    pub fn check_devices(&mut self) -> Vec<Location> {
        let Ok(devices) = self.devices() else {
            return Vec::new();
        };
        let config = self.backend.snapshot();
        let Plan { gone, renamed } =
            self.tracker
                .check(&self.registry, &self.device_type, &config, &devices);
        for (name, now) in renamed {
            log::debug!(
                "{}: device renamed to {}; its port is kept",
                Escaped(&name),
                Escaped(&now)
            );
        }
        if gone.is_empty() {
            return Vec::new();
        }
        match self.backend.apply(&Change::Prune {
            interfaces: gone.clone(),
        }) {
            Ok(applied) => {
                for loc in &applied.removed {
                    log::info!(
                        "network device {} destroyed, removed from bridge {}",
                        Escaped(&loc.interface),
                        Escaped(&loc.bridge)
                    );
                }
                self.forget_removed(&applied.removed);
                applied.removed
            }
            Err(e) => {
                log::error!("pruning {} interfaces: {e}", gone.len());
                Vec::new()
            }
        }
    }
}

/// An age in `USER_HZ` ticks, saturating.
fn ticks(age: std::time::Duration) -> u32 {
    let t = age.as_millis() * u128::from(USER_HZ) / 1000;
    u32::try_from(t).unwrap_or(u32::MAX)
}

struct PeerText<'a>(Option<&'a PeerCred>);

impl fmt::Display for PeerText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(p) => write!(f, "peer {p}"),
            None => f.write_str("a peer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_hundredths_and_saturate() {
        use std::time::Duration;
        assert_eq!(ticks(Duration::from_secs(3)), 300);
        assert_eq!(ticks(Duration::from_millis(1234)), 123);
        assert_eq!(ticks(Duration::from_secs(u64::MAX)), u32::MAX);
    }

    #[test]
    fn errnos_stay_in_range() {
        assert_eq!(errno(22), 22);
        assert_eq!(errno(0), libc::EIO as u32);
        assert_eq!(errno(-5), libc::EIO as u32);
        assert_eq!(errno(5000), libc::EIO as u32);
    }
}
