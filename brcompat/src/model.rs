//! The switch configuration that brcompat edits.
//!
//! The shape is Open vSwitch's: a configuration holds **bridges** by name;
//! a bridge holds **ports** by name; a port holds one or more
//! **interfaces** (network devices). A port with several interfaces, or
//! whose only interface is named differently from the port, is a **bond**.
//! A port may carry a VLAN tag (1 to 4095), which makes it an access port
//! of that VLAN.
//!
//! Every bridge has a *local port* of its own name, with one interface of
//! that name (the bridge's own network device). A port with
//! `fake_bridge = true` and a tag is a **fake bridge**: a VLAN-specific
//! bridge named after the port, whose ports are its parent's ports carrying
//! that tag. brctl sees fake bridges as bridges of their own.
//!
//! Names live in one namespace: a name is a bridge (real or fake), a port or
//! an interface, once in the whole configuration (a port and its sole
//! interface of the same name, and a bridge with its local port and
//! interface, count as one use). So a network device is never attached
//! twice, and "which bridge is `eth0` on?" has one answer.
//!
//! Operations check everything before they change anything: an operation
//! that fails leaves the configuration as it was. Errors are
//! [`ConfigError`] values, each with the errno the brcompat protocol
//! replies with ([`ConfigError::errno`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use netdev_core::Escaped;

/// Checks a bridge, port or interface name taken from a person, a request or
/// a file: the rules of [`netdev_core::validate_name`] (1 to 15 bytes; no
/// `/`, `:`, whitespace or control characters; not `.` or `..`), and not
/// starting with `-` (it would read as an option on a command line).
///
/// The error says which rule failed.
pub fn validate_name(name: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    // One rule for names in requests and in the configuration.
    crate::proto::validate_request_name(name).map_err(|e| {
        invalid(match e.kind() {
            netdev_core::ErrorKind::InvalidName(why) => why.clone(),
            _ => e.to_string(),
        })
    })
}

/// A VLAN ID of an access port or fake bridge: 1 to 4095.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VlanId(u16);

impl VlanId {
    /// The VLAN `id`, if it is in 1..=4095.
    pub fn new(id: u32) -> Result<VlanId, ConfigError> {
        match u16::try_from(id) {
            Ok(v @ 1..=4095) => Ok(VlanId(v)),
            _ => Err(ConfigError::InvalidVlan(id)),
        }
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for VlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The operation an error came from: the same condition means different
/// errnos to different requests (no such bridge is `ENXIO` for `delbr`,
/// `EINVAL` for `addif`, `ENODEV` for a query), as in the seed daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Adding a bridge.
    AddBridge,
    /// Deleting a bridge.
    DeleteBridge,
    /// Adding a fake bridge.
    AddFakeBridge,
    /// Adding an interface or a port.
    AddInterface,
    /// Deleting an interface.
    DeleteInterface,
    /// A query: list ports, resolve a name for the FDB.
    Query,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::AddBridge => "addbr",
            Op::DeleteBridge => "delbr",
            Op::AddFakeBridge => "add fake bridge",
            Op::AddInterface => "addif",
            Op::DeleteInterface => "delif",
            Op::Query => "query",
        })
    }
}

/// Why an operation on the configuration failed. Each maps to the errno of
/// the reply ([`ConfigError::errno`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A name broke a rule of [`validate_name`] (`EINVAL`).
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it broke.
        reason: String,
    },
    /// A VLAN tag outside 1..=4095 (`EINVAL`).
    InvalidVlan(u32),
    /// A bridge (real or fake) of that name exists (`EEXIST`).
    BridgeExists {
        /// The bridge.
        name: String,
    },
    /// A new bridge's name is already a port or interface of a bridge
    /// (`EEXIST`).
    NameInUse {
        /// The name.
        name: String,
        /// The bridge it is on.
        bridge: String,
    },
    /// An interface or port is already attached to a bridge (`EBUSY`, as
    /// the kernel answers for a device that is already a bridge port).
    AlreadyAttached {
        /// The interface or port.
        name: String,
        /// The bridge it is on.
        bridge: String,
    },
    /// A bridge (real or fake) cannot be a port of a bridge (`ELOOP`, as the
    /// kernel answers).
    IsABridge {
        /// The bridge.
        name: String,
    },
    /// No bridge (real or fake) of that name (`ENXIO` for delbr, `EINVAL`
    /// for addif/delif, `ENODEV` for queries, as in the seed daemon).
    NoSuchBridge {
        /// The name asked for.
        name: String,
        /// What was being done.
        op: Op,
    },
    /// The interface is not a port of that bridge (or not of that fake
    /// bridge's VLAN) (`EINVAL`).
    NotAPort {
        /// The interface.
        name: String,
        /// The bridge.
        bridge: String,
    },
    /// A bridge's own port (its local port, or a fake bridge's port) cannot
    /// be removed as an interface: delete the bridge (`EINVAL`).
    OwnPort {
        /// The bridge.
        name: String,
    },
    /// A fake bridge's parent must be a real bridge (`EINVAL`).
    ParentIsFake {
        /// The fake bridge given as parent.
        name: String,
    },
    /// A port needs at least one interface, each named once (`EINVAL`).
    BadInterfaces {
        /// The port.
        port: String,
        /// What is wrong.
        reason: String,
    },
    /// A fake bridge's port takes the fake bridge's tag; a different one was
    /// asked for (`EINVAL`).
    TagMismatch {
        /// The fake bridge.
        bridge: String,
        /// Its tag.
        tag: VlanId,
        /// The tag asked for.
        asked: Option<VlanId>,
    },
}

impl ConfigError {
    /// The positive errno of the brcompat reply for this error.
    pub fn errno(&self) -> i32 {
        match self {
            ConfigError::InvalidName { .. }
            | ConfigError::InvalidVlan(_)
            | ConfigError::NotAPort { .. }
            | ConfigError::OwnPort { .. }
            | ConfigError::ParentIsFake { .. }
            | ConfigError::BadInterfaces { .. }
            | ConfigError::TagMismatch { .. } => libc::EINVAL,
            ConfigError::BridgeExists { .. } | ConfigError::NameInUse { .. } => libc::EEXIST,
            ConfigError::AlreadyAttached { .. } => libc::EBUSY,
            ConfigError::IsABridge { .. } => libc::ELOOP,
            ConfigError::NoSuchBridge { op, .. } => match op {
                Op::DeleteBridge | Op::AddFakeBridge => libc::ENXIO,
                Op::AddInterface | Op::DeleteInterface => libc::EINVAL,
                Op::AddBridge | Op::Query => libc::ENODEV,
            },
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidName { reason, .. } => write!(f, "invalid name: {reason}"),
            ConfigError::InvalidVlan(v) => write!(f, "invalid VLAN {v}: must be 1 to 4095"),
            ConfigError::BridgeExists { name } => {
                write!(f, "bridge {} already exists", Escaped(name))
            }
            ConfigError::NameInUse { name, bridge }
            | ConfigError::AlreadyAttached { name, bridge } => write!(
                f,
                "{} is already a port of bridge {}",
                Escaped(name),
                Escaped(bridge)
            ),
            ConfigError::IsABridge { name } => write!(
                f,
                "{} is a bridge; a bridge cannot be a port of a bridge",
                Escaped(name)
            ),
            ConfigError::NoSuchBridge { name, op } => {
                write!(
                    f,
                    "{op} {}: no bridge named {}",
                    Escaped(name),
                    Escaped(name)
                )
            }
            ConfigError::NotAPort { name, bridge } => write!(
                f,
                "{} is not a port of bridge {}",
                Escaped(name),
                Escaped(bridge)
            ),
            ConfigError::OwnPort { name } => write!(
                f,
                "{} is the bridge's own port; delete the bridge instead",
                Escaped(name)
            ),
            ConfigError::ParentIsFake { name } => write!(
                f,
                "{} is a fake bridge; a fake bridge's parent must be a real bridge",
                Escaped(name)
            ),
            ConfigError::BadInterfaces { port, reason } => {
                write!(f, "port {}: {reason}", Escaped(port))
            }
            ConfigError::TagMismatch { bridge, tag, asked } => {
                write!(f, "fake bridge {} is VLAN {tag}, not ", Escaped(bridge))?;
                match asked {
                    Some(v) => write!(f, "VLAN {v}"),
                    None => f.write_str("untagged"),
                }
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// A port: one or more interfaces, an optional VLAN tag, and whether it is
/// a fake bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    name: String,
    interfaces: BTreeSet<String>,
    tag: Option<VlanId>,
    fake_bridge: bool,
}

impl Port {
    /// The port's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its interfaces, sorted.
    pub fn interfaces(&self) -> impl Iterator<Item = &str> + '_ {
        self.interfaces.iter().map(String::as_str)
    }

    /// Its VLAN tag (an access port), if any.
    pub fn tag(&self) -> Option<VlanId> {
        self.tag
    }

    /// Whether it is a fake bridge (always with a tag).
    pub fn is_fake_bridge(&self) -> bool {
        self.fake_bridge
    }

    /// Whether it is a bond: several interfaces, or one named differently
    /// from the port.
    pub fn is_bond(&self) -> bool {
        self.interfaces.len() != 1 || !self.interfaces.contains(&self.name)
    }

    fn has_interface(&self, name: &str) -> bool {
        self.interfaces.contains(name)
    }

    fn view(&self) -> PortView {
        PortView {
            name: self.name.clone(),
            interfaces: self.interfaces.iter().cloned().collect(),
            tag: self.tag,
            fake_bridge: self.fake_bridge,
        }
    }
}

/// A real bridge: its ports by name, its local port among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    name: String,
    ports: BTreeMap<String, Port>,
}

impl Bridge {
    /// The bridge's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its ports sorted by name, the local port and fake bridges included.
    pub fn ports(&self) -> impl Iterator<Item = &Port> + '_ {
        self.ports.values()
    }

    /// The port of that name.
    pub fn port(&self, name: &str) -> Option<&Port> {
        self.ports.get(name)
    }

    fn fake_bridge_with_tag(&self, tag: VlanId) -> Option<&Port> {
        self.ports
            .values()
            .find(|p| p.fake_bridge && p.tag == Some(tag))
    }
}

/// A bridge as brctl sees it: a real bridge, or a fake bridge standing for
/// one VLAN of its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeView {
    /// The name brctl uses.
    pub name: String,
    /// The real bridge: `name` itself for a real bridge, the parent for a
    /// fake one.
    pub parent: String,
    /// `None` for a real bridge (its untagged ports), the tag for a fake one.
    pub vlan: Option<VlanId>,
}

impl BridgeView {
    /// Whether this is a fake bridge.
    pub fn is_fake(&self) -> bool {
        self.vlan.is_some()
    }

    /// The VLAN number of its forwarding-database entries: 0 for a real
    /// bridge, the tag for a fake one.
    pub fn fdb_vlan(&self) -> u16 {
        self.vlan.map_or(0, VlanId::get)
    }
}

/// A port as listed for brctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView {
    /// The port's name (a bond's name for a bond).
    pub name: String,
    /// Its interfaces, sorted (several for a bond).
    pub interfaces: Vec<String>,
    /// Its VLAN tag.
    pub tag: Option<VlanId>,
    /// Whether it is a fake bridge.
    pub fake_bridge: bool,
}

/// Where an interface is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The interface.
    pub interface: String,
    /// The real bridge it is on.
    pub bridge: String,
    /// The port that holds it (a bond's name for a bond).
    pub port: String,
    /// The port's VLAN tag.
    pub vlan: Option<VlanId>,
    /// The fake bridge of that VLAN on that bridge, if there is one (the
    /// bridge brctl shows it under).
    pub fake_bridge: Option<String>,
}

/// What a successful change did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Whether the configuration changed (adding a bridge that exists as a
    /// fake bridge succeeds without a change, as in the seed daemon).
    pub changed: bool,
    /// The interfaces removed, with where they were (delif, prune).
    pub removed: Vec<Location>,
}

impl Applied {
    fn changed() -> Applied {
        Applied {
            changed: true,
            removed: Vec::new(),
        }
    }
}

/// One change to the configuration, as a value: what a backend applies and
/// persists ([`crate::store::ConfigBackend::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// [`Config::add_bridge`].
    AddBridge {
        /// The bridge.
        name: String,
    },
    /// [`Config::delete_bridge`].
    DeleteBridge {
        /// The bridge, real or fake.
        name: String,
    },
    /// [`Config::add_fake_bridge`].
    AddFakeBridge {
        /// The fake bridge.
        name: String,
        /// Its real parent.
        parent: String,
        /// Its VLAN.
        tag: VlanId,
    },
    /// [`Config::add_interface`].
    AddInterface {
        /// The bridge, real or fake.
        bridge: String,
        /// The interface.
        interface: String,
    },
    /// [`Config::add_port`].
    AddPort {
        /// The bridge, real or fake.
        bridge: String,
        /// The port.
        port: String,
        /// Its interfaces.
        interfaces: Vec<String>,
        /// Its tag.
        tag: Option<VlanId>,
    },
    /// [`Config::delete_interface`].
    DeleteInterface {
        /// The bridge, real or fake.
        bridge: String,
        /// The interface (or a bond's name).
        interface: String,
    },
    /// [`Config::prune`].
    Prune {
        /// The interfaces whose devices are gone.
        interfaces: Vec<String>,
    },
}

/// What a name is used for in the configuration.
enum Use<'a> {
    /// A real bridge (and its local port and interface).
    Bridge,
    /// A fake bridge port on this bridge.
    FakeBridge,
    /// A port or an interface of an ordinary port on this bridge.
    Port(&'a Bridge),
}

/// The whole switch configuration: bridges by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    bridges: BTreeMap<String, Bridge>,
}

impl Config {
    /// An empty configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Whether it has no bridges.
    pub fn is_empty(&self) -> bool {
        self.bridges.is_empty()
    }

    /// The real bridges, sorted by name.
    pub fn bridges(&self) -> impl Iterator<Item = &Bridge> + '_ {
        self.bridges.values()
    }

    /// The real bridge of that name.
    pub fn bridge(&self, name: &str) -> Option<&Bridge> {
        self.bridges.get(name)
    }

    /// Applies `change` (see the method each variant names).
    pub fn apply(&mut self, change: &Change) -> Result<Applied, ConfigError> {
        match change {
            Change::AddBridge { name } => self.add_bridge(name),
            Change::DeleteBridge { name } => self.delete_bridge(name),
            Change::AddFakeBridge { name, parent, tag } => self.add_fake_bridge(name, parent, *tag),
            Change::AddInterface { bridge, interface } => self.add_interface(bridge, interface),
            Change::AddPort {
                bridge,
                port,
                interfaces,
                tag,
            } => {
                let ifaces: Vec<&str> = interfaces.iter().map(String::as_str).collect();
                self.add_port(bridge, port, &ifaces, *tag)
            }
            Change::DeleteInterface { bridge, interface } => {
                self.delete_interface(bridge, interface)
            }
            Change::Prune { interfaces } => {
                let names: Vec<&str> = interfaces.iter().map(String::as_str).collect();
                Ok(self.prune(&names))
            }
        }
    }

    /// What `name` is used for, if anything.
    fn usage(&self, name: &str) -> Option<Use<'_>> {
        if self.bridges.contains_key(name) {
            return Some(Use::Bridge);
        }
        for br in self.bridges.values() {
            for port in br.ports.values() {
                if port.name == name || port.has_interface(name) {
                    return Some(if port.fake_bridge {
                        Use::FakeBridge
                    } else {
                        Use::Port(br)
                    });
                }
            }
        }
        None
    }

    /// Adds bridge `name` with its local port. A bridge of that name →
    /// [`ConfigError::BridgeExists`]; a fake bridge of that name → success
    /// without a change (as the seed daemon answers); a port or interface
    /// of that name → [`ConfigError::NameInUse`].
    pub fn add_bridge(&mut self, name: &str) -> Result<Applied, ConfigError> {
        validate_name(name)?;
        match self.usage(name) {
            Some(Use::Bridge) => Err(ConfigError::BridgeExists { name: name.into() }),
            Some(Use::FakeBridge) => Ok(Applied::default()),
            Some(Use::Port(br)) => Err(ConfigError::NameInUse {
                name: name.into(),
                bridge: br.name.clone(),
            }),
            None => {
                let local = Port {
                    name: name.into(),
                    interfaces: BTreeSet::from([name.to_owned()]),
                    tag: None,
                    fake_bridge: false,
                };
                let bridge = Bridge {
                    name: name.into(),
                    ports: BTreeMap::from([(name.to_owned(), local)]),
                };
                self.bridges.insert(name.into(), bridge);
                Ok(Applied::changed())
            }
        }
    }

    /// Deletes bridge `name` with all its ports, its fake bridges among
    /// them. For a fake bridge: deletes it and every port of its VLAN on
    /// its parent (as `ovs-vsctl del-br` does). No such bridge →
    /// [`ConfigError::NoSuchBridge`] (`ENXIO`).
    pub fn delete_bridge(&mut self, name: &str) -> Result<Applied, ConfigError> {
        validate_name(name)?;
        let view = self.resolve_for(name, Op::DeleteBridge)?;
        let mut removed = Vec::new();
        match view.vlan {
            None => {
                let br = self
                    .bridges
                    .remove(name)
                    .expect("resolved as a real bridge");
                for port in br.ports.values() {
                    removed.extend(self.locations(&br, port));
                }
            }
            Some(tag) => {
                let br = &self.bridges[&view.parent];
                let doomed: Vec<&Port> = br.ports.values().filter(|p| p.tag == Some(tag)).collect();
                for port in &doomed {
                    removed.extend(self.locations(br, port));
                }
                let names: Vec<String> = doomed.iter().map(|p| p.name.clone()).collect();
                let br = self.bridges.get_mut(&view.parent).expect("parent exists");
                for n in names {
                    br.ports.remove(&n);
                }
            }
        }
        Ok(Applied {
            changed: true,
            removed,
        })
    }

    /// Adds fake bridge `name` on real bridge `parent` for VLAN `tag`: a
    /// port of that name with one internal interface of that name. A name
    /// in use → [`ConfigError::BridgeExists`] or
    /// [`ConfigError::NameInUse`]; another fake bridge for that VLAN on
    /// that parent → [`ConfigError::BridgeExists`].
    pub fn add_fake_bridge(
        &mut self,
        name: &str,
        parent: &str,
        tag: VlanId,
    ) -> Result<Applied, ConfigError> {
        validate_name(name)?;
        validate_name(parent)?;
        match self.usage(name) {
            Some(Use::Bridge | Use::FakeBridge) => {
                return Err(ConfigError::BridgeExists { name: name.into() })
            }
            Some(Use::Port(br)) => {
                return Err(ConfigError::NameInUse {
                    name: name.into(),
                    bridge: br.name.clone(),
                })
            }
            None => {}
        }
        let view = self.resolve_for(parent, Op::AddFakeBridge)?;
        if view.is_fake() {
            return Err(ConfigError::ParentIsFake {
                name: parent.into(),
            });
        }
        let br = self
            .bridges
            .get_mut(parent)
            .expect("resolved as a real bridge");
        if let Some(other) = br.fake_bridge_with_tag(tag) {
            return Err(ConfigError::BridgeExists {
                name: other.name.clone(),
            });
        }
        br.ports.insert(
            name.into(),
            Port {
                name: name.into(),
                interfaces: BTreeSet::from([name.to_owned()]),
                tag: Some(tag),
                fake_bridge: true,
            },
        );
        Ok(Applied::changed())
    }

    /// Adds interface `iface` to `bridge` as a port of its own name. On a
    /// fake bridge, the port goes on the parent with the fake bridge's tag.
    /// See [`Config::add_port`] for the errors.
    pub fn add_interface(&mut self, bridge: &str, iface: &str) -> Result<Applied, ConfigError> {
        self.add_port(bridge, iface, &[iface], None)
    }

    /// Adds port `port` with `interfaces` (several make a bond) to `bridge`,
    /// tagged `tag`. On a fake bridge the port goes on the parent and takes
    /// the fake bridge's tag (`tag` must be `None` or the same).
    ///
    /// Errors: no such bridge ([`ConfigError::NoSuchBridge`], `EINVAL`); a
    /// bridge as an interface ([`ConfigError::IsABridge`]); a port or
    /// interface already attached anywhere
    /// ([`ConfigError::AlreadyAttached`]); no interfaces, or one named
    /// twice ([`ConfigError::BadInterfaces`]).
    pub fn add_port(
        &mut self,
        bridge: &str,
        port: &str,
        interfaces: &[&str],
        tag: Option<VlanId>,
    ) -> Result<Applied, ConfigError> {
        validate_name(bridge)?;
        validate_name(port)?;
        for iface in interfaces {
            validate_name(iface)?;
        }
        let view = self.resolve_for(bridge, Op::AddInterface)?;
        let tag = match (view.vlan, tag) {
            (None, tag) => tag,
            (Some(v), None) => Some(v),
            (Some(v), Some(t)) if v == t => Some(v),
            (Some(v), asked) => {
                return Err(ConfigError::TagMismatch {
                    bridge: bridge.into(),
                    tag: v,
                    asked,
                })
            }
        };
        let set: BTreeSet<String> = interfaces.iter().map(|s| (*s).to_owned()).collect();
        if set.is_empty() {
            return Err(ConfigError::BadInterfaces {
                port: port.into(),
                reason: "a port needs at least one interface".into(),
            });
        }
        if set.len() != interfaces.len() {
            return Err(ConfigError::BadInterfaces {
                port: port.into(),
                reason: "an interface is named twice".into(),
            });
        }
        let is_bond = set.len() != 1 || !set.contains(port);
        if is_bond && set.contains(port) {
            return Err(ConfigError::BadInterfaces {
                port: port.into(),
                reason: "a bond cannot have an interface of its own name".into(),
            });
        }
        for name in std::iter::once(port).chain(interfaces.iter().copied()) {
            match self.usage(name) {
                None => {}
                // A fake bridge's port has one interface, of its own name.
                Some(Use::Bridge | Use::FakeBridge) => {
                    return Err(ConfigError::IsABridge { name: name.into() })
                }
                Some(Use::Port(br)) => {
                    return Err(ConfigError::AlreadyAttached {
                        name: name.into(),
                        bridge: br.name.clone(),
                    })
                }
            }
        }
        let br = self.bridges.get_mut(&view.parent).expect("resolved bridge");
        br.ports.insert(
            port.into(),
            Port {
                name: port.into(),
                interfaces: set,
                tag,
                fake_bridge: false,
            },
        );
        Ok(Applied::changed())
    }

    /// Removes interface `iface` from `bridge`. From a bond, only that
    /// interface goes; a port left without interfaces goes too. Naming a
    /// bond removes the whole bond. On a fake bridge, only ports of its VLAN
    /// are considered; on a real bridge, all its ports.
    ///
    /// Errors: no such bridge ([`ConfigError::NoSuchBridge`], `EINVAL`); the
    /// bridge's own port or a fake bridge ([`ConfigError::OwnPort`],
    /// [`ConfigError::IsABridge`]); not there ([`ConfigError::NotAPort`]).
    pub fn delete_interface(&mut self, bridge: &str, iface: &str) -> Result<Applied, ConfigError> {
        validate_name(bridge)?;
        validate_name(iface)?;
        let view = self.resolve_for(bridge, Op::DeleteInterface)?;
        if iface == bridge {
            return Err(ConfigError::OwnPort { name: iface.into() });
        }
        let br = &self.bridges[&view.parent];
        if iface == br.name {
            return Err(ConfigError::IsABridge { name: iface.into() });
        }
        let in_scope = |p: &&Port| view.vlan.is_none() || p.tag == view.vlan;
        // An interface first; else a port (a bond) of that name.
        let found = br
            .ports
            .values()
            .filter(in_scope)
            .find(|p| p.has_interface(iface))
            .map(|p| (p, false))
            .or_else(|| {
                br.ports
                    .values()
                    .filter(in_scope)
                    .find(|p| p.name == iface)
                    .map(|p| (p, true))
            });
        let Some((port, whole)) = found else {
            return Err(ConfigError::NotAPort {
                name: iface.into(),
                bridge: bridge.into(),
            });
        };
        if port.fake_bridge {
            return Err(ConfigError::IsABridge { name: iface.into() });
        }
        let removed = if whole {
            self.locations(br, port)
        } else {
            vec![self.location(br, port, iface)]
        };
        let port_name = port.name.clone();
        let parent = view.parent;
        self.remove_interfaces_of(&parent, &port_name, whole, iface);
        Ok(Applied {
            changed: true,
            removed,
        })
    }

    /// Removes `iface` (or the whole port when `whole`) from port
    /// `port_name` of bridge `parent`; removes the port when it is empty.
    fn remove_interfaces_of(&mut self, parent: &str, port_name: &str, whole: bool, iface: &str) {
        let br = self.bridges.get_mut(parent).expect("bridge exists");
        let port = br.ports.get_mut(port_name).expect("port exists");
        if !whole {
            port.interfaces.remove(iface);
        }
        if whole || port.interfaces.is_empty() {
            br.ports.remove(port_name);
        }
    }

    /// Where interface `iface` is attached.
    pub fn locate(&self, iface: &str) -> Option<Location> {
        self.bridges.values().find_map(|br| {
            br.ports
                .values()
                .find(|p| p.has_interface(iface))
                .map(|p| self.location(br, p, iface))
        })
    }

    fn location(&self, br: &Bridge, port: &Port, iface: &str) -> Location {
        Location {
            interface: iface.into(),
            bridge: br.name.clone(),
            port: port.name.clone(),
            vlan: port.tag,
            fake_bridge: port
                .tag
                .and_then(|t| br.fake_bridge_with_tag(t))
                .map(|p| p.name.clone()),
        }
    }

    fn locations(&self, br: &Bridge, port: &Port) -> Vec<Location> {
        port.interfaces
            .iter()
            .map(|i| self.location(br, port, i))
            .collect()
    }

    /// Every bridge brctl sees, real and fake, sorted by name.
    pub fn list_bridges(&self) -> Vec<BridgeView> {
        let mut all = Vec::new();
        for br in self.bridges.values() {
            all.push(BridgeView {
                name: br.name.clone(),
                parent: br.name.clone(),
                vlan: None,
            });
            for port in br.ports.values().filter(|p| p.fake_bridge) {
                all.push(BridgeView {
                    name: port.name.clone(),
                    parent: br.name.clone(),
                    vlan: port.tag,
                });
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Resolves a brctl bridge name: a real bridge is itself with no VLAN; a
    /// fake bridge is its parent and its tag. Anything else →
    /// [`ConfigError::NoSuchBridge`] (`ENODEV`).
    pub fn resolve(&self, name: &str) -> Result<BridgeView, ConfigError> {
        self.resolve_for(name, Op::Query)
    }

    fn resolve_for(&self, name: &str, op: Op) -> Result<BridgeView, ConfigError> {
        if self.bridges.contains_key(name) {
            return Ok(BridgeView {
                name: name.into(),
                parent: name.into(),
                vlan: None,
            });
        }
        for br in self.bridges.values() {
            if let Some(port) = br.ports.get(name).filter(|p| p.fake_bridge) {
                return Ok(BridgeView {
                    name: name.into(),
                    parent: br.name.clone(),
                    vlan: port.tag,
                });
            }
        }
        Err(ConfigError::NoSuchBridge {
            name: name.into(),
            op,
        })
    }

    /// The ports brctl shows on bridge `name`: for a real bridge its
    /// untagged ports, for a fake bridge its parent's ports of its VLAN;
    /// sorted by name; the bridge's own port left out; a bond as one entry
    /// with its interfaces.
    pub fn list_ports(&self, name: &str) -> Result<Vec<PortView>, ConfigError> {
        let view = self.resolve(name)?;
        let br = &self.bridges[&view.parent];
        Ok(br
            .ports
            .values()
            .filter(|p| p.tag == view.vlan && p.name != name)
            .map(Port::view)
            .collect())
    }

    /// Every interface of bridge `name`'s VLAN, its own included (the
    /// devices whose MAC addresses make FDB entries local), sorted.
    pub fn vlan_interfaces(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let view = self.resolve(name)?;
        let br = &self.bridges[&view.parent];
        let mut all: Vec<String> = br
            .ports
            .values()
            .filter(|p| p.tag == view.vlan || p.name == name)
            .flat_map(|p| p.interfaces.iter().cloned())
            .collect();
        all.sort();
        Ok(all)
    }

    /// Removes every interface named in `names` from wherever it is
    /// attached (from a bond only that interface; a port left empty goes
    /// too). Bridges' local ports and fake bridges are left alone: the
    /// switch makes those devices itself. Names not attached are ignored.
    pub fn prune(&mut self, names: &[&str]) -> Applied {
        let mut applied = Applied::default();
        for name in names {
            let Some(loc) = self.locate(name) else {
                continue;
            };
            let port = &self.bridges[&loc.bridge].ports[&loc.port];
            if port.fake_bridge || loc.port == loc.bridge {
                continue;
            }
            self.remove_interfaces_of(&loc.bridge.clone(), &loc.port.clone(), false, name);
            applied.changed = true;
            applied.removed.push(loc);
        }
        applied
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn v(n: u32) -> VlanId {
        VlanId::new(n).unwrap()
    }

    fn names(ports: &[PortView]) -> Vec<&str> {
        ports.iter().map(|p| p.name.as_str()).collect()
    }

    /// br0 with eth0, bond0 = {eth1, eth2}, fake bridge vlan10 (tag 10) with
    /// eth3 on VLAN 10 (the store's documented example too).
    pub(crate) fn sample() -> Config {
        let mut c = Config::new();
        c.add_bridge("br0").unwrap();
        c.add_interface("br0", "eth0").unwrap();
        c.add_port("br0", "bond0", &["eth1", "eth2"], None).unwrap();
        c.add_fake_bridge("vlan10", "br0", v(10)).unwrap();
        c.add_interface("vlan10", "eth3").unwrap();
        c
    }

    #[test]
    fn names_are_validated_with_reasons() {
        // netdev-core's rules (tested there), and no leading '-'.
        for ok in ["eth0", "br-int", "a-", "a=b", "a%b", "é"] {
            validate_name(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for (bad, why) in [("-eth0", "starts with '-'"), ("a/b", "'/'"), ("", "empty")] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.errno(), libc::EINVAL);
            assert!(e.to_string().starts_with("invalid name: "), "{e}");
            assert!(e.to_string().contains(why), "{bad:?}: {e}");
        }
        // Operations refuse bad names before anything else.
        let mut c = Config::new();
        assert!(matches!(
            c.add_bridge("a/b"),
            Err(ConfigError::InvalidName { .. })
        ));
        assert!(c.is_empty());
    }

    #[test]
    fn vlan_range() {
        assert!(VlanId::new(0).is_err());
        assert_eq!(VlanId::new(1).unwrap().get(), 1);
        assert_eq!(VlanId::new(4095).unwrap().get(), 4095);
        let e = VlanId::new(4096).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(e.to_string().contains("4096"));
        assert!(VlanId::new(70000).is_err());
    }

    #[test]
    fn add_bridge_makes_a_local_port() {
        let mut c = Config::new();
        assert!(c.add_bridge("br0").unwrap().changed);
        let br = c.bridge("br0").unwrap();
        let local = br.port("br0").unwrap();
        assert_eq!(local.interfaces().collect::<Vec<_>>(), ["br0"]);
        assert!(!local.is_bond());
        assert_eq!(c.list_ports("br0").unwrap(), []);
        assert_eq!(c.locate("br0").unwrap().port, "br0");
    }

    #[test]
    fn double_add_bridge_is_eexist() {
        let mut c = Config::new();
        c.add_bridge("br0").unwrap();
        let before = c.clone();
        let e = c.add_bridge("br0").unwrap_err();
        assert_eq!(e, ConfigError::BridgeExists { name: "br0".into() });
        assert_eq!(e.errno(), libc::EEXIST);
        assert_eq!(c, before);
    }

    #[test]
    fn add_bridge_named_as_a_fake_bridge_succeeds_unchanged() {
        let mut c = sample();
        let before = c.clone();
        assert_eq!(c.add_bridge("vlan10").unwrap(), Applied::default());
        assert_eq!(c, before);
    }

    #[test]
    fn add_bridge_named_as_an_interface_is_eexist() {
        let mut c = sample();
        for name in ["eth0", "eth1", "bond0", "eth3"] {
            let e = c.add_bridge(name).unwrap_err();
            assert_eq!(e.errno(), libc::EEXIST, "{name}: {e}");
            assert!(e.to_string().contains("br0"), "{e}");
        }
    }

    #[test]
    fn a_bridge_cannot_be_an_interface() {
        let mut c = sample();
        c.add_bridge("br1").unwrap();
        for name in ["br0", "vlan10"] {
            let e = c.add_interface("br1", name).unwrap_err();
            assert_eq!(e, ConfigError::IsABridge { name: name.into() });
            assert_eq!(e.errno(), libc::ELOOP);
        }
        // Not even its own.
        assert_eq!(
            c.add_interface("br1", "br1").unwrap_err().errno(),
            libc::ELOOP
        );
    }

    #[test]
    fn delete_bridge() {
        let mut c = sample();
        c.add_bridge("br1").unwrap();
        let applied = c.delete_bridge("br0").unwrap();
        assert!(applied.changed);
        let mut gone: Vec<&str> = applied
            .removed
            .iter()
            .map(|l| l.interface.as_str())
            .collect();
        gone.sort();
        assert_eq!(gone, ["br0", "eth0", "eth1", "eth2", "eth3", "vlan10"]);
        // Its fake bridge went with it.
        let all: Vec<String> = c.list_bridges().into_iter().map(|b| b.name).collect();
        assert_eq!(all, ["br1"]);
        assert!(c.locate("eth3").is_none());
        // The names are free again.
        c.add_interface("br1", "eth1").unwrap();
        c.add_bridge("vlan10").unwrap();
    }

    #[test]
    fn delete_absent_bridge_is_enxio() {
        let mut c = sample();
        let before = c.clone();
        let e = c.delete_bridge("br9").unwrap_err();
        assert_eq!(e.errno(), libc::ENXIO);
        assert!(
            e.to_string().contains("delbr br9: no bridge named br9"),
            "{e}"
        );
        // An interface is not a bridge either.
        assert_eq!(c.delete_bridge("eth0").unwrap_err().errno(), libc::ENXIO);
        assert_eq!(c, before);
    }

    #[test]
    fn delete_fake_bridge_takes_its_vlan() {
        let mut c = sample();
        c.add_port("br0", "eth5", &["eth5"], Some(v(20))).unwrap();
        c.delete_bridge("vlan10").unwrap();
        assert!(c.locate("eth3").is_none());
        assert!(c.locate("vlan10").is_none());
        // Other VLANs and the parent stay.
        assert_eq!(c.locate("eth5").unwrap().vlan, Some(v(20)));
        assert_eq!(names(&c.list_ports("br0").unwrap()), ["bond0", "eth0"]);
    }

    #[test]
    fn add_interface_to_real_and_fake_bridges() {
        let c = sample();
        let eth0 = c.locate("eth0").unwrap();
        assert_eq!(
            eth0,
            Location {
                interface: "eth0".into(),
                bridge: "br0".into(),
                port: "eth0".into(),
                vlan: None,
                fake_bridge: None,
            }
        );
        // On a fake bridge: the parent, the fake bridge's tag.
        let eth3 = c.locate("eth3").unwrap();
        assert_eq!(eth3.bridge, "br0");
        assert_eq!(eth3.vlan, Some(v(10)));
        assert_eq!(eth3.fake_bridge.as_deref(), Some("vlan10"));
        let bond = c.locate("eth2").unwrap();
        assert_eq!(bond.port, "bond0");
        assert!(c.locate("nothing").is_none());
    }

    #[test]
    fn add_interface_errors() {
        let mut c = sample();
        c.add_bridge("br1").unwrap();
        let before = c.clone();
        // Double add, same bridge or another: EBUSY, says where it is.
        for (br, name) in [
            ("br0", "eth0"),
            ("br1", "eth0"),
            ("br1", "eth1"),
            ("vlan10", "eth3"),
        ] {
            let e = c.add_interface(br, name).unwrap_err();
            assert_eq!(
                e,
                ConfigError::AlreadyAttached {
                    name: name.into(),
                    bridge: "br0".into()
                }
            );
            assert_eq!(e.errno(), libc::EBUSY);
        }
        // A bond's name is taken too.
        assert_eq!(
            c.add_interface("br1", "bond0").unwrap_err().errno(),
            libc::EBUSY
        );
        // No such bridge: EINVAL (as the seed answers addif).
        let e = c.add_interface("br9", "eth9").unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(e.to_string().contains("addif br9"), "{e}");
        // An interface's name is not a bridge.
        assert_eq!(
            c.add_interface("eth0", "eth9").unwrap_err().errno(),
            libc::EINVAL
        );
        assert_eq!(c, before);
    }

    #[test]
    fn add_port_checks_bonds_and_tags() {
        let mut c = sample();
        let before = c.clone();
        let bad = |e: ConfigError| assert_eq!(e.errno(), libc::EINVAL, "{e}");
        bad(c.add_port("br0", "bond1", &[], None).unwrap_err());
        bad(c
            .add_port("br0", "bond1", &["eth7", "eth7"], None)
            .unwrap_err());
        bad(c
            .add_port("br0", "bond1", &["bond1", "eth7"], None)
            .unwrap_err());
        bad(c
            .add_port("vlan10", "eth7", &["eth7"], Some(v(11)))
            .unwrap_err());
        bad(c
            .add_port("vlan10", "eth7", &["eth7"], Some(v(11)))
            .unwrap_err());
        // One interface of a bond taken: nothing is added.
        assert_eq!(
            c.add_port("br0", "bond1", &["eth7", "eth1"], None)
                .unwrap_err()
                .errno(),
            libc::EBUSY
        );
        assert_eq!(c, before);
        // The fake bridge's own tag is fine; a bond on a fake bridge too.
        c.add_port("vlan10", "eth7", &["eth7"], Some(v(10)))
            .unwrap();
        c.add_port("vlan10", "bond1", &["eth8", "eth9"], None)
            .unwrap();
        assert_eq!(c.locate("eth9").unwrap().vlan, Some(v(10)));
        // A single-interface bond named apart from its interface.
        c.add_port("br0", "bond2", &["eth10"], None).unwrap();
        assert!(c.bridge("br0").unwrap().port("bond2").unwrap().is_bond());
    }

    #[test]
    fn delete_interface_plain() {
        let mut c = sample();
        let applied = c.delete_interface("br0", "eth0").unwrap();
        assert_eq!(applied.removed[0].interface, "eth0");
        assert!(c.locate("eth0").is_none());
        assert!(c.bridge("br0").unwrap().port("eth0").is_none());
    }

    #[test]
    fn delete_interface_from_a_bond_keeps_the_bond() {
        let mut c = sample();
        c.delete_interface("br0", "eth1").unwrap();
        let bond = c.bridge("br0").unwrap().port("bond0").unwrap();
        assert_eq!(bond.interfaces().collect::<Vec<_>>(), ["eth2"]);
        assert!(bond.is_bond());
        assert_eq!(c.locate("eth2").unwrap().port, "bond0");
        // The last interface takes the port with it.
        c.delete_interface("br0", "eth2").unwrap();
        assert!(c.bridge("br0").unwrap().port("bond0").is_none());
    }

    #[test]
    fn delete_a_bond_by_name() {
        let mut c = sample();
        let applied = c.delete_interface("br0", "bond0").unwrap();
        assert_eq!(applied.removed.len(), 2);
        assert!(c.locate("eth1").is_none() && c.locate("eth2").is_none());
    }

    #[test]
    fn delete_interface_errors() {
        let mut c = sample();
        c.add_bridge("br1").unwrap();
        let before = c.clone();
        // Absent, or on another bridge.
        let e = c.delete_interface("br0", "eth9").unwrap_err();
        assert_eq!(
            e,
            ConfigError::NotAPort {
                name: "eth9".into(),
                bridge: "br0".into()
            }
        );
        assert_eq!(e.errno(), libc::EINVAL);
        assert_eq!(
            c.delete_interface("br1", "eth0").unwrap_err().errno(),
            libc::EINVAL
        );
        // A fake bridge only sees its VLAN.
        assert_eq!(
            c.delete_interface("vlan10", "eth0").unwrap_err().errno(),
            libc::EINVAL
        );
        // No such bridge.
        let e = c.delete_interface("br9", "eth0").unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(e.to_string().contains("delif br9"), "{e}");
        // Own ports and fake bridges are not interfaces to remove.
        assert_eq!(
            c.delete_interface("br0", "br0").unwrap_err(),
            ConfigError::OwnPort { name: "br0".into() }
        );
        assert_eq!(
            c.delete_interface("vlan10", "vlan10").unwrap_err().errno(),
            libc::EINVAL
        );
        assert_eq!(
            c.delete_interface("br0", "vlan10").unwrap_err().errno(),
            libc::ELOOP
        );
        assert_eq!(
            c.delete_interface("vlan10", "br0").unwrap_err().errno(),
            libc::ELOOP
        );
        assert_eq!(c, before);
        // A real bridge reaches its tagged ports; a fake bridge its own.
        c.delete_interface("vlan10", "eth3").unwrap();
        c.add_interface("vlan10", "eth3").unwrap();
        c.delete_interface("br0", "eth3").unwrap();
        assert!(c.locate("eth3").is_none());
    }

    #[test]
    fn list_bridges_real_and_fake() {
        let mut c = sample();
        c.add_bridge("a0").unwrap();
        let all = c.list_bridges();
        let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["a0", "br0", "vlan10"]);
        assert_eq!(all[2].parent, "br0");
        assert_eq!(all[2].vlan, Some(v(10)));
        assert!(all[2].is_fake() && !all[1].is_fake());
        assert!(Config::new().list_bridges().is_empty());
    }

    #[test]
    fn list_ports_by_vlan() {
        let mut c = sample();
        c.add_interface("br0", "aaa").unwrap();
        c.add_port("br0", "eth5", &["eth5"], Some(v(20))).unwrap();
        // Real bridge: untagged only, sorted, own port excluded, bond whole.
        let ports = c.list_ports("br0").unwrap();
        assert_eq!(names(&ports), ["aaa", "bond0", "eth0"]);
        assert_eq!(ports[1].interfaces, ["eth1", "eth2"]);
        // Fake bridge: its VLAN, itself excluded.
        c.add_interface("vlan10", "eth4").unwrap();
        let ports = c.list_ports("vlan10").unwrap();
        assert_eq!(names(&ports), ["eth3", "eth4"]);
        assert!(ports.iter().all(|p| p.tag == Some(v(10))));
        // Unknown names: ENODEV.
        let e = c.list_ports("eth0").unwrap_err();
        assert_eq!(e.errno(), libc::ENODEV);
    }

    #[test]
    fn resolve_for_the_fdb() {
        let c = sample();
        let br0 = c.resolve("br0").unwrap();
        assert_eq!(
            (br0.parent.as_str(), br0.vlan, br0.fdb_vlan()),
            ("br0", None, 0)
        );
        let fake = c.resolve("vlan10").unwrap();
        assert_eq!(
            (fake.parent.as_str(), fake.vlan, fake.fdb_vlan()),
            ("br0", Some(v(10)), 10)
        );
        assert_eq!(c.resolve("eth0").unwrap_err().errno(), libc::ENODEV);
        assert_eq!(c.resolve("nope").unwrap_err().errno(), libc::ENODEV);
        assert_eq!(
            c.vlan_interfaces("br0").unwrap(),
            ["br0", "eth0", "eth1", "eth2"]
        );
        assert_eq!(c.vlan_interfaces("vlan10").unwrap(), ["eth3", "vlan10"]);
    }

    #[test]
    fn fake_bridge_rules() {
        let mut c = sample();
        c.add_bridge("br1").unwrap();
        let before = c.clone();
        // Names in use.
        assert_eq!(
            c.add_fake_bridge("br1", "br0", v(5)).unwrap_err().errno(),
            libc::EEXIST
        );
        assert_eq!(
            c.add_fake_bridge("vlan10", "br1", v(5))
                .unwrap_err()
                .errno(),
            libc::EEXIST
        );
        assert_eq!(
            c.add_fake_bridge("eth0", "br1", v(5)).unwrap_err().errno(),
            libc::EEXIST
        );
        // One fake bridge per VLAN per parent.
        let e = c.add_fake_bridge("v10b", "br0", v(10)).unwrap_err();
        assert_eq!(
            e,
            ConfigError::BridgeExists {
                name: "vlan10".into()
            }
        );
        // Parent must exist and be real.
        assert_eq!(
            c.add_fake_bridge("v5", "br9", v(5)).unwrap_err().errno(),
            libc::ENXIO
        );
        assert_eq!(
            c.add_fake_bridge("v5", "vlan10", v(5)).unwrap_err(),
            ConfigError::ParentIsFake {
                name: "vlan10".into()
            }
        );
        assert_eq!(c, before);
        // The same VLAN on another parent is fine.
        c.add_fake_bridge("v10b", "br1", v(10)).unwrap();
        assert_eq!(c.resolve("v10b").unwrap().parent, "br1");
    }

    #[test]
    fn prune_removes_interfaces_only() {
        let mut c = sample();
        c.add_bridge("br1").unwrap();
        c.add_interface("br1", "eth9").unwrap();
        let applied = c.prune(&["eth0", "eth1", "eth9", "absent", "br0", "vlan10", "bond0"]);
        assert!(applied.changed);
        let gone: Vec<&str> = applied
            .removed
            .iter()
            .map(|l| l.interface.as_str())
            .collect();
        assert_eq!(gone, ["eth0", "eth1", "eth9"]);
        assert_eq!(applied.removed[2].bridge, "br1");
        // The bond lost one interface, not itself; own ports stayed.
        assert_eq!(c.locate("eth2").unwrap().port, "bond0");
        assert!(c.locate("br0").is_some() && c.locate("vlan10").is_some());
        assert_eq!(c.prune(&["eth2"]).removed.len(), 1);
        assert!(c.bridge("br0").unwrap().port("bond0").is_none());
        assert_eq!(c.prune(&["nothing"]), Applied::default());
    }

    #[test]
    fn apply_dispatches_changes() {
        let mut c = Config::new();
        let changes = [
            Change::AddBridge { name: "br0".into() },
            Change::AddFakeBridge {
                name: "v7".into(),
                parent: "br0".into(),
                tag: v(7),
            },
            Change::AddInterface {
                bridge: "v7".into(),
                interface: "eth0".into(),
            },
            Change::AddPort {
                bridge: "br0".into(),
                port: "bond0".into(),
                interfaces: vec!["eth1".into(), "eth2".into()],
                tag: None,
            },
            Change::DeleteInterface {
                bridge: "br0".into(),
                interface: "eth1".into(),
            },
            Change::Prune {
                interfaces: vec!["eth0".into()],
            },
        ];
        for ch in &changes {
            assert!(c.apply(ch).unwrap().changed, "{ch:?}");
        }
        assert_eq!(c.locate("eth2").unwrap().port, "bond0");
        assert!(c.locate("eth0").is_none());
        assert!(
            c.apply(&Change::DeleteBridge { name: "br0".into() })
                .unwrap()
                .changed
        );
        assert!(c.is_empty());
    }
}
