//! What a scrape reads: the host's devices, each opened once through the
//! registry and kept (so its state comes from the library's cache, which
//! the kernel's change notifications keep fresh), and every device's
//! counters from one stats dump (`Registry::all_stats`).
//!
//! Devices follow the change events: a new ifindex is opened, a removed
//! one dropped, a rename relabelled; lost events (or counters for an
//! ifindex nobody announced yet) bring a fresh listing. What the cache
//! does not keep (carrier changes, operational state) is read again only
//! for a device whose change sequence moved since the last read, so an
//! idle host costs one dump per scrape and no request per device.

use std::collections::{HashMap, HashSet};

use log::warn;
use regex::Regex;

use netdev::{Change, ErrorKind, Netdev, Registry, Stats, Subscription};

use super::expose::{self, Format, Row, Snapshot};

/// The class every device is opened as.
const CLASS: &str = "system";

/// Which devices to export, as node_exporter's
/// `--collector.netdev.device-include/exclude` choose: a pattern matches
/// anywhere in the name unless it anchors itself (`^eth0$`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub(crate) include: Option<Regex>,
    pub(crate) exclude: Option<Regex>,
}

impl Filter {
    pub(crate) fn accepts(&self, name: &str) -> bool {
        self.include.as_ref().map_or(true, |r| r.is_match(name))
            && !self.exclude.as_ref().is_some_and(|r| r.is_match(name))
    }
}

/// One device the exporter knows.
#[derive(Debug)]
struct Entry {
    name: String,
    /// The escaped label value, made once per name.
    label: String,
    /// Whether the filter lets it through.
    exported: bool,
    /// `None`: it could not be opened (a name that is not UTF-8 cannot
    /// be, and a device may vanish between listing and opening): its
    /// counters are still exported, without the cached state.
    dev: Option<Netdev>,
    /// The change sequence `state` was read at (0: never).
    seen: u64,
    state: Snapshot,
}

impl Entry {
    fn new(name: String, dev: Option<Netdev>, filter: &Filter) -> Entry {
        let mut e = Entry {
            name: String::new(),
            label: String::new(),
            exported: false,
            dev,
            seen: 0,
            state: Snapshot::default(),
        };
        e.rename(name, filter);
        e
    }

    fn rename(&mut self, name: String, filter: &Filter) {
        self.label.clear();
        expose::escape_label(&name, &mut self.label);
        self.exported = filter.accepts(&name);
        self.name = name;
    }

    /// Reads the state again if the device changed since the last read.
    /// False if the device is gone (removed, or re-created under its name).
    fn refresh(&mut self) -> bool {
        let Some(dev) = &self.dev else {
            return true;
        };
        let seq = dev.change_seq();
        if seq == self.seen {
            return true;
        }
        let mut gone = false;
        let operstate = value(&mut gone, dev.status()).and_then(|s| {
            s.get("operstate").map(|op| match op.as_str() {
                "up" => "up",
                "down" => "down",
                "dormant" => "dormant",
                "testing" => "testing",
                "notpresent" => "notpresent",
                "lowerlayerdown" => "lowerlayerdown",
                _ => "unknown",
            })
        });
        self.state = Snapshot {
            mtu: value(&mut gone, dev.mtu()),
            mac: value(&mut gone, dev.mac()),
            flags: value(&mut gone, dev.flags()),
            carrier: value(&mut gone, dev.carrier()),
            speed: value(&mut gone, dev.speed()),
            carrier_down_changes: value(&mut gone, dev.carrier_resets()),
            operstate,
        };
        // A change during the reads moves the sequence again: read at the
        // first value, so the next scrape reads once more.
        self.seen = seq;
        !gone && !dev.is_gone()
    }
}

/// A value the device has; `None` for one it does not have, one that
/// failed (logged), and one of a device that is gone (`gone` set).
fn value<T>(gone: &mut bool, r: netdev::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.is_not_supported() => None,
        Err(e) if matches!(e.kind(), ErrorKind::Gone | ErrorKind::NoDevice) => {
            *gone = true;
            None
        }
        Err(e) => {
            warn!("{e}");
            None
        }
    }
}

/// The exporter's view of the host, reused from scrape to scrape.
#[derive(Debug)]
pub(crate) struct Collector {
    registry: Registry,
    events: Subscription,
    filter: Filter,
    /// By ifindex.
    devices: HashMap<u32, Entry>,
    /// This scrape's counters: reused, so a scrape allocates nothing for
    /// them after the first.
    counters: Vec<(u32, Stats)>,
    /// The last answer's size, to size the next one's buffer.
    last_len: usize,
}

impl Collector {
    /// Lists and opens every device. Fails if the `system` class cannot
    /// list devices on this OS.
    pub(crate) fn new(registry: Registry, filter: Filter) -> netdev::Result<Collector> {
        // Subscribed before the first open starts the notifier, so no
        // event is missed; large, because creating thousands of devices
        // at once is one burst (an overflow costs a listing, nothing
        // more).
        let events = registry.subscribe_with_capacity(64 * 1024)?;
        let mut c = Collector {
            registry,
            events,
            filter,
            devices: HashMap::new(),
            counters: Vec::new(),
            last_len: 0,
        };
        c.resync()?;
        // A device created between the listing and the notifier's start
        // announced itself to nobody: the notifier runs now.
        c.resync()?;
        Ok(c)
    }

    /// How many devices are known (exported or filtered out).
    pub(crate) fn device_count(&self) -> usize {
        self.devices.len()
    }

    fn open(&self, name: &str) -> Option<Netdev> {
        match self.registry.open(name, CLASS) {
            Ok(dev) => Some(dev),
            // Gone again, or a name the kernel cannot be asked by (not
            // UTF-8): its counters still show.
            Err(e) if matches!(e.kind(), ErrorKind::NoDevice | ErrorKind::Gone) => None,
            Err(e) => {
                warn!("{e}");
                None
            }
        }
    }

    /// Brings the device set in line with a fresh listing.
    fn resync(&mut self) -> netdev::Result<()> {
        let list = self.registry.enumerate(CLASS)?;
        let present: HashMap<u32, String> = list.into_iter().map(|d| (d.ifindex, d.name)).collect();
        self.devices.retain(|i, _| present.contains_key(i));
        for (ifindex, name) in present {
            match self.devices.get_mut(&ifindex) {
                // Known and open: follow a rename.
                Some(e) if e.dev.as_ref().is_some_and(|d| !d.is_gone()) => {
                    if e.name != name {
                        e.rename(name, &self.filter);
                    }
                }
                // New, re-created, or not opened before (it failed, or
                // its name cannot be opened): open it (again).
                _ => {
                    let dev = self.open(&name);
                    let mut e = Entry::new(name, dev, &self.filter);
                    e.refresh();
                    self.devices.insert(ifindex, e);
                }
            }
        }
        Ok(())
    }

    /// Applies the queued change events; true if a listing is needed.
    fn follow_events(&mut self) -> bool {
        let mut relist = false;
        while let Some(change) = self.events.try_recv() {
            match change {
                Change::LinkChanged {
                    ifindex,
                    name: Some(name),
                    ..
                } => match self.devices.get_mut(&ifindex) {
                    Some(e) if e.name != name.as_str() => e.rename(name.into(), &self.filter),
                    Some(_) => {}
                    None => {
                        let dev = self.open(&name);
                        let e = Entry::new(name.into(), dev, &self.filter);
                        self.devices.insert(ifindex, e);
                    }
                },
                // A change without a name (FreeBSD's carry only the
                // index) of a device not known yet: list to learn it.
                Change::LinkChanged { ifindex, .. } => {
                    relist |= !self.devices.contains_key(&ifindex);
                }
                Change::LinkRemoved { ifindex, .. } => {
                    self.devices.remove(&ifindex);
                }
                Change::AddrChanged { .. } => {}
                Change::Overflow => relist = true,
                // Kinds added later change nothing the exporter shows.
                _ => {}
            }
        }
        relist
    }

    /// One scrape in `format`: the whole answer.
    pub(crate) fn scrape(&mut self, format: Format) -> netdev::Result<Vec<u8>> {
        if self.follow_events() {
            self.resync()?;
        }
        self.read_counters()?;
        // The dump says what exists now. Counters of a device no event
        // announced yet (created a moment ago): list once, so the answer
        // matches the dump. A known device missing from it was removed
        // (its event is late or was lost): forget it.
        let known = self
            .counters
            .iter()
            .filter(|(i, _)| self.devices.contains_key(i))
            .count();
        if known < self.counters.len() {
            self.resync()?;
        } else if known < self.devices.len() {
            let counters = &self.counters;
            self.devices
                .retain(|i, _| counters.binary_search_by_key(i, |c| c.0).is_ok());
        }
        let mut gone = Vec::new();
        for (ifindex, e) in &mut self.devices {
            if !e.refresh() {
                gone.push(*ifindex);
            }
        }
        if !gone.is_empty() {
            // Removed or re-created under the same name: the listing says
            // which, and re-created devices are opened anew.
            for i in gone {
                self.devices.remove(&i);
            }
            self.resync()?;
            for e in self.devices.values_mut() {
                e.refresh();
            }
        }
        let mut rows: Vec<Row<'_>> = Vec::with_capacity(self.counters.len());
        // Kernel names are unique, but two that read the same once bad
        // bytes became U+FFFD would make two series with one identity:
        // the first (lowest ifindex) is exported, the other reported.
        let mut lossy: HashSet<&str> = HashSet::new();
        for (ifindex, stats) in &self.counters {
            let Some(e) = self.devices.get(ifindex).filter(|e| e.exported) else {
                continue;
            };
            if e.label.contains('\u{fffd}') && !lossy.insert(e.label.as_str()) {
                warn!(
                    "ifindex {ifindex}: the device label \"{}\" is already used by another device; not exported",
                    netdev::escape(&e.name)
                );
                continue;
            }
            rows.push(Row {
                label: &e.label,
                ifindex: *ifindex,
                stats,
                state: &e.state,
            });
        }
        let mut out = Vec::with_capacity(self.last_len + self.last_len / 8);
        expose::write(&mut out, format, &rows);
        self.last_len = out.len();
        Ok(out)
    }

    fn read_counters(&mut self) -> netdev::Result<()> {
        self.counters.clear();
        let counters = &mut self.counters;
        self.registry.all_stats(CLASS, &mut |ifindex, s| {
            counters.push((ifindex, *s));
        })?;
        // In ifindex order, as the kernel lists: stable for readers.
        counters.sort_unstable_by_key(|c| c.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry whose `system` class is the in-memory dummy one.
    fn dummies(names: &[&str]) -> (Registry, Vec<Netdev>) {
        let registry = Registry::new();
        netdev_dummy::override_system(&registry).unwrap();
        let devs = names
            .iter()
            .map(|n| registry.open(n, CLASS).unwrap())
            .collect();
        (registry, devs)
    }

    fn text(c: &mut Collector) -> String {
        String::from_utf8(c.scrape(Format::Prometheus).unwrap()).unwrap()
    }

    #[test]
    fn state_follows_changes_through_the_cache() {
        let (registry, devs) = dummies(&["d0", "d1"]);
        let mut c = Collector::new(registry, Filter::default()).unwrap();
        assert_eq!(c.device_count(), 2);
        let t = text(&mut c);
        assert!(
            t.contains("node_network_mtu_bytes{device=\"d0\"} 1500\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_mtu_bytes{device=\"d1\"} 1500\n"),
            "{t}"
        );
        let seen = c.devices.values().map(|e| e.seen).collect::<Vec<_>>();
        // Nothing changed: nothing read again.
        text(&mut c);
        assert_eq!(c.devices.values().map(|e| e.seen).collect::<Vec<_>>(), seen);
        devs[0].set_mtu(1400).unwrap();
        let t = text(&mut c);
        assert!(
            t.contains("node_network_mtu_bytes{device=\"d0\"} 1400\n"),
            "{t}"
        );
        assert!(
            t.contains("node_network_mtu_bytes{device=\"d1\"} 1500\n"),
            "{t}"
        );
    }

    #[test]
    fn filters_leave_devices_out_of_every_family() {
        let (registry, _devs) = dummies(&["eth0", "veth0", "br0"]);
        let filter = Filter {
            include: Some(Regex::new("eth").unwrap()),
            exclude: None,
        };
        let mut c = Collector::new(registry, filter).unwrap();
        let t = text(&mut c);
        assert!(t.contains("device=\"eth0\"") && t.contains("device=\"veth0\""));
        assert!(!t.contains("br0"), "{t}");
        let f = Filter {
            include: None,
            exclude: Some(Regex::new("^eth0$").unwrap()),
        };
        assert!(!f.accepts("eth0") && f.accepts("eth00") && f.accepts("xeth0"));
    }
}
