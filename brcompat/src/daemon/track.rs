//! Which network device each configured interface is, by ifindex, and the
//! decision of which interfaces lost their device (see the module
//! documentation of [`super`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use netdev::{DeviceInfo, Netdev, Registry};

use crate::model::Config;

/// A configured interface whose device was seen.
#[derive(Debug)]
pub(super) struct Tracked {
    /// The device's ifindex when it was last seen under the interface's
    /// name.
    pub(super) ifindex: u32,
    /// A handle on it: keeps the change notifier running and the MAC
    /// cached. `None` if it could not be opened.
    pub(super) dev: Option<Netdev>,
}

/// The configured interfaces whose devices were seen, by name.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    by_name: BTreeMap<String, Tracked>,
}

/// What a check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    /// Interfaces whose device is gone: to prune.
    pub(super) gone: Vec<String>,
    /// Interfaces whose device was renamed (kept), with its new name.
    pub(super) renamed: Vec<(String, String)>,
}

/// Every interface of the configuration, bridges' own and fake bridges'
/// included (tracked, never pruned).
pub(super) fn all_interfaces(config: &Config) -> Vec<String> {
    config
        .bridges()
        .flat_map(|br| br.ports())
        .flat_map(|p| p.interfaces())
        .map(str::to_owned)
        .collect()
}

/// The interfaces pruning may remove: those of ordinary ports (bonds
/// included), not a bridge's own port nor a fake bridge, whose devices
/// the switch makes itself.
pub(super) fn prunable_interfaces(config: &Config) -> Vec<String> {
    config
        .bridges()
        .flat_map(|br| {
            br.ports()
                .filter(move |p| p.name() != br.name() && !p.is_fake_bridge())
        })
        .flat_map(|p| p.interfaces())
        .map(str::to_owned)
        .collect()
}

impl Tracker {
    /// The tracked entry of `name`.
    pub(super) fn get(&self, name: &str) -> Option<&Tracked> {
        self.by_name.get(name)
    }

    /// Whether a change about device `ifindex` (last named `name`) may
    /// concern the configuration.
    pub(super) fn concerns(&self, ifindex: u32, name: &str, config: &Config) -> bool {
        self.by_name.contains_key(name)
            || self.by_name.values().any(|t| t.ifindex == ifindex)
            || config.locate(name).is_some()
    }

    /// Records that interface `name` is the device `info` (found under
    /// that name), opening a handle on it unless one for that ifindex is
    /// held already.
    pub(super) fn learn(&mut self, registry: &Registry, device_type: &str, info: &DeviceInfo) {
        if let Some(t) = self.by_name.get(&info.name) {
            if t.ifindex == info.ifindex && t.dev.is_some() {
                return;
            }
            if t.ifindex != info.ifindex {
                log::info!(
                    "{}: device re-created (ifindex {} -> {}); its port is kept",
                    netdev::Escaped(&info.name),
                    t.ifindex,
                    info.ifindex
                );
            }
        }
        // Drop an old handle first, so the registry can give the name to
        // the new device.
        self.by_name.remove(&info.name);
        let dev = match registry.open(&info.name, device_type) {
            Ok(dev) => Some(dev),
            Err(e) => {
                log::debug!("cannot open {}: {e}", netdev::Escaped(&info.name));
                None
            }
        };
        self.by_name.insert(
            info.name.clone(),
            Tracked {
                ifindex: info.ifindex,
                dev,
            },
        );
    }

    /// Stops tracking `name`.
    pub(super) fn forget(&mut self, name: &str) {
        self.by_name.remove(name);
    }

    /// Stops tracking every name the configuration no longer has.
    pub(super) fn retain_configured(&mut self, config: &Config) {
        let names: HashSet<String> = all_interfaces(config).into_iter().collect();
        self.by_name.retain(|n, _| names.contains(n));
    }

    /// Decides, from one enumeration `devices`, which prunable interfaces
    /// of `config` lost their device, and learns the ifindex of every
    /// configured interface whose device exists.
    pub(super) fn check(
        &mut self,
        registry: &Registry,
        device_type: &str,
        config: &Config,
        devices: &[DeviceInfo],
    ) -> Plan {
        let by_name: HashMap<&str, &DeviceInfo> =
            devices.iter().map(|d| (d.name.as_str(), d)).collect();
        let by_index: HashMap<u32, &DeviceInfo> = devices.iter().map(|d| (d.ifindex, d)).collect();
        self.retain_configured(config);
        for name in all_interfaces(config) {
            if let Some(info) = by_name.get(name.as_str()) {
                self.learn(registry, device_type, info);
            }
        }
        let mut plan = Plan::default();
        for name in prunable_interfaces(config) {
            if by_name.contains_key(name.as_str()) {
                continue;
            }
            match self
                .by_name
                .get(&name)
                .and_then(|t| by_index.get(&t.ifindex))
            {
                Some(now) => plan.renamed.push((name, now.name.clone())),
                None => plan.gone.push(name),
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, ifindex: u32) -> DeviceInfo {
        DeviceInfo::new(name, ifindex)
    }

    fn sample() -> Config {
        let mut c = Config::new();
        c.add_bridge("br0").unwrap();
        c.add_interface("br0", "eth0").unwrap();
        c.add_interface("br0", "eth1").unwrap();
        c.add_port("br0", "bond0", &["eth2", "eth3"], None).unwrap();
        c.add_fake_bridge("vlan10", "br0", crate::model::VlanId::new(10).unwrap())
            .unwrap();
        c
    }

    #[test]
    fn prunable_leaves_out_own_ports_and_fake_bridges() {
        let c = sample();
        assert_eq!(prunable_interfaces(&c), ["eth2", "eth3", "eth0", "eth1"]);
        let mut all = all_interfaces(&c);
        all.sort();
        assert_eq!(all, ["br0", "eth0", "eth1", "eth2", "eth3", "vlan10"]);
    }

    #[test]
    fn gone_renamed_and_recreated() {
        // No registry class: opening fails, tracking by ifindex still works.
        let registry = Registry::new();
        let c = sample();
        let mut t = Tracker::default();
        let first = [
            info("eth0", 10),
            info("eth1", 11),
            info("eth2", 12),
            info("eth3", 13),
        ];
        assert_eq!(t.check(&registry, "none", &c, &first), Plan::default());
        assert_eq!(t.get("eth1").unwrap().ifindex, 11);
        // eth0 re-created (new ifindex), eth1 renamed to x1, eth2 gone.
        let second = [info("eth0", 20), info("x1", 11), info("eth3", 13)];
        let plan = t.check(&registry, "none", &c, &second);
        assert_eq!(plan.gone, ["eth2"]);
        assert_eq!(plan.renamed, [("eth1".to_owned(), "x1".to_owned())]);
        assert_eq!(t.get("eth0").unwrap().ifindex, 20);
        // Never seen at all: gone.
        let mut fresh = Tracker::default();
        let plan = fresh.check(&registry, "none", &c, &[]);
        assert_eq!(plan.gone, ["eth2", "eth3", "eth0", "eth1"]);
    }

    #[test]
    fn concerns_names_and_indexes() {
        let registry = Registry::new();
        let c = sample();
        let mut t = Tracker::default();
        t.check(&registry, "none", &c, &[info("eth0", 10)]);
        assert!(t.concerns(10, "whatever", &c));
        assert!(t.concerns(99, "eth1", &c));
        assert!(!t.concerns(99, "other", &c));
    }
}
