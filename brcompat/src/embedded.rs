//! The embedded backend with a datapath: the configuration in a
//! [`FileStore`], run by an embedded [`netdev_switch::Switch`].
//!
//! Layer 5 (front end), between the daemon and the switch:
//! - [`switch_config`] is the pure mapping from brcompat's [`Config`] to
//!   the switch's [`SwitchConfig`]: each bridge a switch bridge; its own
//!   port (named after it) the switch's local port, an internal trunk port
//!   (a `tap` device named after the bridge); a fake bridge an internal
//!   access port of its VLAN; any other port a member port, access for
//!   its tag or trunk, its interfaces (a bond's several) in order;
//! - [`SwitchBackend`] is a [`ConfigBackend`]: every change is made
//!   durable in the file first, then the new configuration is applied to
//!   the switch;
//! - [`SwitchFdb`] is an [`FdbSource`] reading the switch's forwarding
//!   databases and per-port counters.

use std::fmt;
use std::io;
use std::sync::Arc;

use netdev_switch::{
    BridgeConfig, FdbRecord, PortConfig, PortKind, Switch, SwitchConfig, VlanMode,
};
use parking_lot::Mutex;

use crate::model::{Applied, Change, Config};
use crate::paging::FdbPages;
use crate::proto::PortStats;
use crate::store::{ConfigBackend, FdbEntry, FdbSource, FileStore, StoreError};

/// The switch configuration that runs brcompat configuration `config`
/// (see the module documentation).
#[must_use]
pub fn switch_config(config: &Config) -> SwitchConfig {
    let mut out = SwitchConfig::new();
    for bridge in config.bridges() {
        let mut bc = BridgeConfig::default();
        for port in bridge.ports() {
            let interfaces: Vec<String> = port.interfaces().map(str::to_owned).collect();
            let pc = if port.name() == bridge.name() {
                PortConfig {
                    interfaces,
                    kind: PortKind::Internal,
                    vlan: VlanMode::Trunk,
                }
            } else {
                let vlan = port
                    .tag()
                    .map_or(VlanMode::Trunk, |t| VlanMode::Access(t.get()));
                let kind = if port.is_fake_bridge() {
                    PortKind::Internal
                } else {
                    PortKind::Member
                };
                PortConfig {
                    interfaces,
                    kind,
                    vlan,
                }
            };
            bc = bc.port(port.name(), pc);
        }
        out = out.bridge(bridge.name(), bc);
    }
    out
}

/// Logs the ports the switch could not open: they stay configured and the
/// switch tries them again, so they are no error of the request.
fn apply_to(switch: &Switch, config: &Config) {
    for problem in switch.apply(&switch_config(config)) {
        log::warn!("{problem} (kept, tried again later)");
    }
}

/// The embedded configuration backend running the embedded switch: a
/// [`FileStore`] whose every configuration is applied to a [`Switch`].
pub struct SwitchBackend {
    store: FileStore,
    switch: Arc<Switch>,
    /// Held across storing and applying, so the switch sees the
    /// configurations in the order they were stored.
    order: Mutex<()>,
}

impl fmt::Debug for SwitchBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwitchBackend")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl SwitchBackend {
    /// A backend storing in `store` and running `switch`; applies the
    /// configuration `store` holds now to the switch.
    pub fn new(store: FileStore, switch: Arc<Switch>) -> SwitchBackend {
        apply_to(&switch, &store.snapshot());
        SwitchBackend {
            store,
            switch,
            order: Mutex::new(()),
        }
    }

    /// The switch it runs.
    pub fn switch(&self) -> &Arc<Switch> {
        &self.switch
    }

    /// The file store.
    pub fn store(&self) -> &FileStore {
        &self.store
    }
}

impl ConfigBackend for SwitchBackend {
    fn load(&self) -> Result<Config, StoreError> {
        let _order = self.order.lock();
        let config = self.store.load()?;
        apply_to(&self.switch, &config);
        Ok(config)
    }

    fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        let _order = self.order.lock();
        let applied = self.store.apply(change)?;
        if applied.changed {
            apply_to(&self.switch, &self.store.snapshot());
        }
        Ok(applied)
    }

    fn snapshot(&self) -> Config {
        self.store.snapshot()
    }
}

/// The switch's forwarding databases and port counters, for the daemon.
#[derive(Debug)]
pub struct SwitchFdb {
    switch: Arc<Switch>,
    /// The tables readers are paging through.
    pages: FdbPages,
}

impl SwitchFdb {
    /// Reads from `switch`.
    pub fn new(switch: Arc<Switch>) -> SwitchFdb {
        SwitchFdb {
            switch,
            pages: FdbPages::default(),
        }
    }
}

/// A switch record as the daemon's FDB entry.
fn fdb_entry(r: &FdbRecord) -> FdbEntry {
    FdbEntry {
        mac: r.mac,
        port: r.port_no,
        vlan: r.vlan,
        age: r.age,
        is_local: r.is_local,
    }
}

impl FdbSource for SwitchFdb {
    /// The entries of `bridge` on `vlan`, in the switch's order (port,
    /// VLAN, address). A bridge the switch does not run (yet: the daemon
    /// found it configured) has none.
    fn entries(
        &self,
        bridge: &str,
        vlan: u16,
        skip: usize,
        max: usize,
    ) -> io::Result<Vec<FdbEntry>> {
        self.pages.entries(bridge, vlan, skip, max, || {
            Ok(self
                .switch
                .fdb(bridge)
                .unwrap_or_default()
                .iter()
                .filter(|r| r.vlan == vlan)
                .map(fdb_entry)
                .collect())
        })
    }

    fn port_stats(&self, bridge: &str) -> io::Result<Vec<PortStats>> {
        let ports = self
            .switch
            .ports(bridge)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
        Ok(ports
            .into_iter()
            .map(|p| PortStats {
                name: p.name,
                port: p.port_no,
                rx_packets: p.counters.rx_packets,
                tx_packets: p.counters.tx_packets,
                forwarded: p.counters.forwarded,
                flooded: p.counters.flooded,
                dropped: p.counters.dropped,
                tx_dropped: p.counters.tx_dropped,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
