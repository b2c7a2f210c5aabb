//! Devices tracked by interface index, not by name, platform-free.
//!
//! FreeBSD's interface ioctls take a name, so a handle must know the name
//! its interface has now: `ifconfig em0 name lan0` while a handle is open
//! must not break it (the Linux class follows renames the same way), and
//! must not leave it driving whatever interface is called `em0` next. The
//! handle keeps the identity it opened (index, driver instance, attach
//! time; [`Identity`]) and its current name ([`Tracked`]), which it learns
//! from:
//!
//! - the core, whose name for the device follows the notifier's
//!   `RTM_IFANNOUNCE` arrivals (a rename is announced as the departure of
//!   the old name and the arrival of the new one, same index; see
//!   [`crate::notifier`] for the departure);
//! - the kernel, asked by index when an ioctl by name answers `ENXIO` or
//!   when the core checks the device ([`Tracked::check`]): one
//!   `net.link.generic.ifdata.<index>` read gives the current name and the
//!   attach time, one `...drivername` read the driver instance.
//!
//! FreeBSD reuses interface indexes (the lowest free one), so an index
//! alone does not identify an interface: a snapshot matches the identity
//! only if the driver instance (`em0`, `tap3`: renames keep it) and the
//! attach time (`ifi_epoch`, seconds) match too. An interface destroyed and
//! created again with the same driver instance, the same index and within
//! the same second is the one case this cannot tell apart.

use std::io;

use parking_lot::Mutex;

use crate::wire::ifmib::{self, IfMibData};
use crate::wire::WireError;

/// What the kernel says about an interface index now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfSnapshot {
    /// Current name (`ifmd_name`).
    pub name: String,
    /// Driver instance, `if_dname` and `if_dunit` (`em0`, `tap3`; a
    /// rename keeps it), from the `drivername` sysctl.
    pub driver: String,
    /// `ifi_epoch`: uptime in seconds when the interface was attached.
    pub epoch: i64,
}

impl IfSnapshot {
    /// The snapshot from the kernel's answers for one index: the
    /// `ifmibdata` (`net.link.generic.ifdata.<index>.general`) and the
    /// driver instance (`...drivername`).
    pub fn from_sysctls(ifmibdata: &[u8], drivername: &[u8]) -> Result<IfSnapshot, WireError> {
        let mib = IfMibData::parse(ifmibdata)?;
        Ok(IfSnapshot {
            name: mib.name,
            driver: ifmib::parse_drivername(drivername)?,
            epoch: mib.data.epoch,
        })
    }
}

/// The interface a handle opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Interface index.
    pub ifindex: u32,
    /// Driver instance.
    pub driver: String,
    /// Attach time.
    pub epoch: i64,
}

impl Identity {
    /// The identity of the interface `snap` describes, at `ifindex`.
    pub fn of(ifindex: u32, snap: &IfSnapshot) -> Identity {
        Identity {
            ifindex,
            driver: snap.driver.clone(),
            epoch: snap.epoch,
        }
    }

    /// True if `snap` (of this identity's index) is still this interface.
    pub fn matches(&self, snap: &IfSnapshot) -> bool {
        self.driver == snap.driver && self.epoch == snap.epoch
    }
}

/// What [`Tracked::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The interface is still there, under this name.
    Same(String),
    /// No interface has the index any more, or another one has it now.
    Gone,
}

#[derive(Debug)]
struct Names {
    /// The name ioctls use.
    current: String,
    /// The core's name when last looked at: a different one now means the
    /// core saw a rename.
    hint_seen: String,
}

/// An interface's identity and current name.
#[derive(Debug)]
pub struct Tracked {
    identity: Identity,
    names: Mutex<Names>,
}

/// `ENXIO`: what FreeBSD's `ifioctl` answers for a name no interface has.
fn no_such_interface() -> io::Error {
    io::Error::from_raw_os_error(libc::ENXIO)
}

impl Tracked {
    /// Tracks `identity`, known now as `name`.
    pub fn new(identity: Identity, name: &str) -> Tracked {
        Tracked {
            identity,
            names: Mutex::new(Names {
                current: name.to_owned(),
                hint_seen: name.to_owned(),
            }),
        }
    }

    /// The identity opened.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The name to address the interface by. `hint` is the core's current
    /// name for the device: when it changed since the last call, the core
    /// saw a rename, and the new name is taken.
    pub fn name(&self, hint: &str) -> String {
        let mut n = self.names.lock();
        if n.hint_seen != hint {
            n.hint_seen = hint.to_owned();
            n.current = hint.to_owned();
        }
        n.current.clone()
    }

    /// Asks the kernel (`lookup`: a snapshot of an index, `None` if no
    /// interface has it) whether the interface is still the one opened,
    /// and takes its current name.
    pub fn check<L>(&self, lookup: L) -> io::Result<Check>
    where
        L: Fn(u32) -> io::Result<Option<IfSnapshot>>,
    {
        match lookup(self.identity.ifindex)? {
            Some(snap) if self.identity.matches(&snap) => {
                self.names.lock().current = snap.name.clone();
                Ok(Check::Same(snap.name))
            }
            _ => Ok(Check::Gone),
        }
    }

    /// Runs `op` (an ioctl by name, say) under the current name. When the
    /// kernel answers `ENXIO` (no interface by that name), the interface
    /// is looked up by index: renamed, `op` runs again under the new name;
    /// gone or replaced, the answer is `ENXIO`.
    pub fn by_name<T, L, O>(&self, hint: &str, lookup: L, op: O) -> io::Result<T>
    where
        L: Fn(u32) -> io::Result<Option<IfSnapshot>>,
        O: Fn(&str) -> io::Result<T>,
    {
        let name = self.name(hint);
        match op(&name) {
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => match self.check(lookup)? {
                Check::Same(now) if now != name => op(&now),
                Check::Same(_) => Err(e),
                Check::Gone => Err(no_such_interface()),
            },
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Arc;

    /// A fake kernel: index → snapshot, and the names ioctls accept.
    #[derive(Default, Clone)]
    struct Kernel(Arc<parking_lot::Mutex<HashMap<u32, IfSnapshot>>>);

    impl Kernel {
        fn add(&self, index: u32, name: &str, driver: &str, epoch: i64) {
            let snap = IfSnapshot {
                name: name.into(),
                driver: driver.into(),
                epoch,
            };
            self.0.lock().insert(index, snap);
        }
        fn rename(&self, index: u32, to: &str) {
            self.0.lock().get_mut(&index).unwrap().name = to.into();
        }
        fn remove(&self, index: u32) {
            self.0.lock().remove(&index);
        }
        fn lookup(&self) -> impl Fn(u32) -> io::Result<Option<IfSnapshot>> + '_ {
            move |i| Ok(self.0.lock().get(&i).cloned())
        }
        /// An ioctl by name: the index of the interface called `name`.
        fn ioctl(&self, name: &str) -> io::Result<u32> {
            self.0
                .lock()
                .iter()
                .find(|(_, s)| s.name == name)
                .map(|(&i, _)| i)
                .ok_or_else(no_such_interface)
        }
    }

    fn open(k: &Kernel, index: u32, name: &str) -> Tracked {
        let snap = k.lookup()(index).unwrap().unwrap();
        assert_eq!(snap.name, name);
        Tracked::new(Identity::of(index, &snap), name)
    }

    #[test]
    fn snapshots_from_sysctl_bytes() {
        use crate::wire::fixture::{self, sample_if_data};
        let mut data = sample_if_data(crate::wire::layout::LINK_STATE_UP, 1500);
        data.epoch = 77;
        let mib = fixture::ifmibdata("lan0", 0, 0, &data);
        assert_eq!(
            IfSnapshot::from_sysctls(&mib, b"em0\0").unwrap(),
            IfSnapshot {
                name: "lan0".into(),
                driver: "em0".into(),
                epoch: 77
            }
        );
        assert!(IfSnapshot::from_sysctls(&mib[..10], b"em0\0").is_err());
        assert!(IfSnapshot::from_sysctls(&mib, b"em0").is_err());
    }

    #[test]
    fn an_ioctl_after_a_rename_follows_the_index() {
        let k = Kernel::default();
        k.add(1, "em0", "em0", 5);
        let t = open(&k, 1, "em0");
        k.rename(1, "lan0");
        // The core has not heard of it yet (its name is still em0).
        assert_eq!(t.by_name("em0", k.lookup(), |n| k.ioctl(n)).unwrap(), 1);
        assert_eq!(t.name("em0"), "lan0", "learned by index");
    }

    #[test]
    fn the_cores_rename_is_taken_before_the_kernel_is_asked() {
        let k = Kernel::default();
        k.add(1, "em0", "em0", 5);
        k.add(2, "em1", "em1", 5);
        let t = open(&k, 1, "em0");
        // em0 → lan0, then em1 → em0: the old name now names another
        // interface; the core's rename keeps the handle on its own.
        k.rename(1, "lan0");
        k.rename(2, "em0");
        let asked = std::cell::Cell::new(0);
        let lookup = |i| {
            asked.set(asked.get() + 1);
            k.lookup()(i)
        };
        assert_eq!(t.by_name("lan0", lookup, |n| k.ioctl(n)).unwrap(), 1);
        assert_eq!(asked.get(), 0, "no lookup needed");
        // A stale hint does not undo what the kernel said since.
        k.rename(1, "wan0");
        assert_eq!(t.by_name("lan0", k.lookup(), |n| k.ioctl(n)).unwrap(), 1);
        assert_eq!(t.name("lan0"), "wan0");
    }

    #[test]
    fn gone_and_replaced_interfaces_are_enxio_not_someone_else() {
        let k = Kernel::default();
        k.add(4, "tap0", "tap0", 100);
        let t = open(&k, 4, "tap0");
        k.remove(4);
        let e = t.by_name("tap0", k.lookup(), |n| k.ioctl(n)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO));
        assert_eq!(t.check(k.lookup()).unwrap(), Check::Gone);
        // Index 4 reused by another interface, renamed to the old name.
        k.add(4, "tap0", "tap1", 100);
        assert_eq!(t.check(k.lookup()).unwrap(), Check::Gone);
        // The same driver instance created again later: a new epoch.
        k.add(4, "tap0", "tap0", 101);
        assert_eq!(t.check(k.lookup()).unwrap(), Check::Gone);
    }

    #[test]
    fn check_learns_the_name_and_other_errors_pass_through() {
        let k = Kernel::default();
        k.add(7, "vtnet0", "vtnet0", 9);
        let t = open(&k, 7, "vtnet0");
        k.rename(7, "uplink");
        assert_eq!(t.check(k.lookup()).unwrap(), Check::Same("uplink".into()));
        assert_eq!(t.name("vtnet0"), "uplink");
        // EPERM is the ioctl's answer, not a sign of a rename.
        let e = t
            .by_name("vtnet0", k.lookup(), |_| -> io::Result<()> {
                Err(io::Error::from_raw_os_error(libc::EPERM))
            })
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        // A lookup that fails is reported as itself.
        let e = t
            .by_name(
                "vtnet0",
                |_| Err(io::Error::from_raw_os_error(libc::ENOMEM)),
                |_| -> io::Result<()> { Err(no_such_interface()) },
            )
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOMEM));
        // ENXIO under the name the kernel still reports: not retried.
        let calls = std::cell::Cell::new(0);
        let e = t
            .by_name("vtnet0", k.lookup(), |_| -> io::Result<()> {
                calls.set(calls.get() + 1);
                Err(no_such_interface())
            })
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENXIO));
        assert_eq!(calls.get(), 1);
    }
}
