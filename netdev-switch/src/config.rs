//! What the switch is asked to be: bridges, their ports, each port's
//! interfaces and VLAN mode. [`crate::Switch::apply`] makes the running
//! switch match a [`SwitchConfig`].

use std::collections::BTreeMap;

/// How a port treats VLANs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VlanMode {
    /// Carries every VLAN: untagged frames are VLAN 0, tagged frames keep
    /// their tag (Open vSwitch's port with neither `tag` nor `trunks`).
    #[default]
    Trunk,
    /// Belongs to one VLAN (1–4095): untagged frames received are in it,
    /// frames sent leave untagged, tagged frames received are dropped
    /// (except priority tags, VLAN 0).
    Access(u16),
}

impl VlanMode {
    /// Whether a frame of `vlan` may leave through a port of this mode.
    pub fn carries(self, vlan: u16) -> bool {
        match self {
            VlanMode::Trunk => true,
            VlanMode::Access(v) => v == vlan,
        }
    }
}

/// The kind of device behind a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PortKind {
    /// An existing device of the host, opened as the switch's member type
    /// (`system`): the switch sends and receives on it and never creates
    /// or destroys it.
    #[default]
    Member,
    /// A device the switch creates as its internal type (`tap`), up, for
    /// the host's own traffic: the bridge's local port (named after the
    /// bridge) and fake bridges (an access port of their VLAN). Destroyed
    /// when the port is removed.
    Internal,
}

/// One port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PortConfig {
    /// Its interfaces, in order of preference: the first one that can be
    /// opened carries the port's traffic (several make an active-backup
    /// bond: no LACP, no load balancing).
    pub interfaces: Vec<String>,
    /// Its device kind.
    pub kind: PortKind,
    /// Its VLAN mode.
    pub vlan: VlanMode,
}

impl PortConfig {
    /// A member port of one interface named `name`, trunk.
    pub fn member(name: &str) -> PortConfig {
        PortConfig {
            interfaces: vec![name.to_owned()],
            kind: PortKind::Member,
            vlan: VlanMode::Trunk,
        }
    }

    /// An internal port (a device the switch creates) named `name`.
    pub fn internal(name: &str) -> PortConfig {
        PortConfig {
            interfaces: vec![name.to_owned()],
            kind: PortKind::Internal,
            vlan: VlanMode::Trunk,
        }
    }

    /// This port in access mode for `vlan`.
    pub fn with_vlan(mut self, vlan: VlanMode) -> PortConfig {
        self.vlan = vlan;
        self
    }
}

/// One bridge: its ports by name. A port named after the bridge is its
/// local port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeConfig {
    /// Ports by name.
    pub ports: BTreeMap<String, PortConfig>,
}

impl BridgeConfig {
    /// A bridge with only its local port, `name` (internal, trunk).
    pub fn with_local_port(name: &str) -> BridgeConfig {
        BridgeConfig {
            ports: BTreeMap::from([(name.to_owned(), PortConfig::internal(name))]),
        }
    }

    /// Adds (or replaces) port `name`.
    pub fn port(mut self, name: &str, port: PortConfig) -> BridgeConfig {
        self.ports.insert(name.to_owned(), port);
        self
    }
}

/// The whole switch: bridges by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SwitchConfig {
    /// Bridges by name.
    pub bridges: BTreeMap<String, BridgeConfig>,
}

impl SwitchConfig {
    /// No bridges.
    pub fn new() -> SwitchConfig {
        SwitchConfig::default()
    }

    /// Adds (or replaces) bridge `name`.
    pub fn bridge(mut self, name: &str, bridge: BridgeConfig) -> SwitchConfig {
        self.bridges.insert(name.to_owned(), bridge);
        self
    }
}
