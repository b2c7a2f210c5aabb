//! Creating a FreeBSD tap interface under a chosen name, with every step's
//! undo explicit: open `/dev/tap` (which clones `tapN`), learn `tapN` with
//! `TAPGIFNAME`, rename it with `SIOCSIFNAME`, bring it up. If a step
//! fails, what the earlier steps did is undone in reverse order by one
//! guard ([`Undo`]): the descriptor is closed and the interface destroyed
//! with `SIOCIFDESTROY`, under the name it has at that moment.
//!
//! The C code this replaces leaked the interface when `TAPGIFNAME`
//! failed (it did not know the name to destroy). Here the name then comes
//! from the descriptor's device node (`/dev/tapN` is interface `tapN`),
//! and if even that fails the failure is logged with what is left behind.
//!
//! Platform-free: the system calls are a small trait ([`TapSys`]), so the
//! sequence and every undo path are unit-tested on any OS with a fake;
//! `crate::sys` provides the FreeBSD implementation.

use std::io;

/// The system calls the sequence needs.
pub trait TapSys {
    /// An open `/dev/tap` descriptor; dropping it closes it.
    type Fd;

    /// Opens `/dev/tap` (close-on-exec, nonblocking), cloning a new
    /// interface.
    fn open_clone(&self) -> io::Result<Self::Fd>;
    /// The interface name of the tap behind `fd` (`TAPGIFNAME`).
    fn tap_name(&self, fd: &Self::Fd) -> io::Result<String>;
    /// The name of the device node behind `fd` (`tap3` for `/dev/tap3`),
    /// the fallback when `tap_name` fails.
    fn dev_name(&self, fd: &Self::Fd) -> io::Result<String>;
    /// Renames interface `from` to `to` (`SIOCSIFNAME`).
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Sets `IFF_UP` on `name`, keeping its other flags.
    fn set_up(&self, name: &str) -> io::Result<()>;
    /// Destroys interface `name` (`SIOCIFDESTROY`).
    fn destroy(&self, name: &str) -> io::Result<()>;
}

/// Which step of [`create`] failed; its `Display` is the step's name, for
/// error details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Opening `/dev/tap`.
    Open,
    /// `TAPGIFNAME`.
    GetName,
    /// `SIOCSIFNAME`.
    Rename,
    /// `SIOCSIFFLAGS` with `IFF_UP`.
    Up,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Open => "open /dev/tap",
            Step::GetName => "TAPGIFNAME",
            Step::Rename => "SIOCSIFNAME",
            Step::Up => "SIOCSIFFLAGS (IFF_UP)",
        })
    }
}

/// What has been done so far, undone on drop unless `Undo::commit`ted:
/// close the descriptor, then destroy the interface under its current
/// name.
#[derive(Debug)]
pub struct Undo<'a, S: TapSys> {
    sys: &'a S,
    fd: Option<S::Fd>,
    /// The interface's current name, once known.
    name: Option<String>,
}

impl<'a, S: TapSys> Undo<'a, S> {
    /// Takes ownership of a freshly cloned tap's descriptor.
    fn new(sys: &'a S, fd: S::Fd) -> Undo<'a, S> {
        Undo {
            sys,
            fd: Some(fd),
            name: None,
        }
    }

    fn fd(&self) -> &S::Fd {
        self.fd
            .as_ref()
            .expect("present until committed or dropped")
    }

    /// Everything succeeded: hand over the descriptor, undo nothing.
    fn commit(mut self) -> S::Fd {
        self.name = None;
        self.fd.take().expect("present until committed or dropped")
    }
}

impl<S: TapSys> Drop for Undo<'_, S> {
    fn drop(&mut self) {
        let Some(fd) = self.fd.take() else {
            return;
        };
        // Close first, as the interface's owner would, then destroy.
        drop(fd);
        match self.name.take() {
            Some(name) => {
                if let Err(e) = self.sys.destroy(&name) {
                    log::warn!("tap {name}: destroying it after a failed creation: {e}");
                }
            }
            None => log::warn!(
                "a tap interface cloned from /dev/tap could not be named and is left behind"
            ),
        }
    }
}

/// Creates a tap interface called `name`, up, and returns its descriptor.
/// On failure nothing is left behind (see the module documentation), and
/// the error says which step failed.
pub fn create<S: TapSys>(sys: &S, name: &str) -> Result<S::Fd, (Step, io::Error)> {
    let fd = sys.open_clone().map_err(|e| (Step::Open, e))?;
    let mut undo = Undo::new(sys, fd);

    let kernel_name = match sys.tap_name(undo.fd()) {
        Ok(n) => n,
        Err(e) => {
            // Learn the name some other way, only to destroy it.
            undo.name = sys.dev_name(undo.fd()).ok();
            return Err((Step::GetName, e));
        }
    };
    undo.name = Some(kernel_name.clone());

    if kernel_name != name {
        sys.rename(&kernel_name, name)
            .map_err(|e| (Step::Rename, e))?;
        undo.name = Some(name.to_owned());
    }

    sys.set_up(name).map_err(|e| (Step::Up, e))?;
    Ok(undo.commit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A fake that logs every call and fails the step it is told to.
    #[derive(Default)]
    struct Fake {
        log: Rc<RefCell<Vec<String>>>,
        fail: Option<&'static str>,
        dev_name_fails: bool,
    }

    struct FakeFd(Rc<RefCell<Vec<String>>>);

    impl Drop for FakeFd {
        fn drop(&mut self) {
            self.0.borrow_mut().push("close".into());
        }
    }

    impl Fake {
        fn call(&self, what: &'static str, detail: String) -> io::Result<()> {
            self.log.borrow_mut().push(detail);
            if self.fail == Some(what) {
                Err(io::Error::from_raw_os_error(5))
            } else {
                Ok(())
            }
        }
    }

    impl TapSys for Fake {
        type Fd = FakeFd;
        fn open_clone(&self) -> io::Result<FakeFd> {
            self.call("open", "open".into())?;
            Ok(FakeFd(self.log.clone()))
        }
        fn tap_name(&self, _: &FakeFd) -> io::Result<String> {
            self.call("name", "name".into())?;
            Ok("tap7".into())
        }
        fn dev_name(&self, _: &FakeFd) -> io::Result<String> {
            self.log.borrow_mut().push("devname".into());
            if self.dev_name_fails {
                Err(io::Error::from_raw_os_error(2))
            } else {
                Ok("tap7".into())
            }
        }
        fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            self.call("rename", format!("rename {from} {to}"))
        }
        fn set_up(&self, name: &str) -> io::Result<()> {
            self.call("up", format!("up {name}"))
        }
        fn destroy(&self, name: &str) -> io::Result<()> {
            self.call("destroy", format!("destroy {name}"))
        }
    }

    fn run(fail: Option<&'static str>, dev_name_fails: bool) -> (Option<Step>, Vec<String>) {
        let fake = Fake {
            fail,
            dev_name_fails,
            ..Fake::default()
        };
        let step = match create(&fake, "br0tap") {
            Ok(fd) => {
                fake.log.borrow_mut().push("ok".into());
                drop(fd);
                None
            }
            Err((step, e)) => {
                assert_eq!(e.raw_os_error(), Some(5));
                Some(step)
            }
        };
        let log = fake.log.borrow().clone();
        (step, log)
    }

    #[test]
    fn success_hands_over_the_descriptor_and_undoes_nothing() {
        let (step, log) = run(None, false);
        assert_eq!(step, None);
        assert_eq!(
            log,
            [
                "open",
                "name",
                "rename tap7 br0tap",
                "up br0tap",
                "ok",
                "close"
            ]
        );
    }

    #[test]
    fn failed_open_leaves_nothing_to_undo() {
        let (step, log) = run(Some("open"), false);
        assert_eq!(step, Some(Step::Open));
        assert_eq!(log, ["open"]);
    }

    #[test]
    fn failed_tapgifname_destroys_the_clone_by_its_device_name() {
        let (step, log) = run(Some("name"), false);
        assert_eq!(step, Some(Step::GetName));
        assert_eq!(log, ["open", "name", "devname", "close", "destroy tap7"]);
    }

    #[test]
    fn failed_tapgifname_and_devname_closes_and_says_so() {
        let (step, log) = run(Some("name"), true);
        assert_eq!(step, Some(Step::GetName));
        assert_eq!(log, ["open", "name", "devname", "close"]);
    }

    #[test]
    fn failed_rename_destroys_under_the_kernel_name() {
        let (step, log) = run(Some("rename"), false);
        assert_eq!(step, Some(Step::Rename));
        assert_eq!(
            log,
            [
                "open",
                "name",
                "rename tap7 br0tap",
                "close",
                "destroy tap7"
            ]
        );
    }

    #[test]
    fn failed_up_destroys_under_the_new_name() {
        let (step, log) = run(Some("up"), false);
        assert_eq!(step, Some(Step::Up));
        assert_eq!(
            log,
            [
                "open",
                "name",
                "rename tap7 br0tap",
                "up br0tap",
                "close",
                "destroy br0tap"
            ]
        );
    }

    #[test]
    fn a_failed_undo_is_logged_not_panicked() {
        // Rename fails, then destroy fails too: still no panic.
        let fake = Fake {
            fail: Some("rename"),
            ..Fake::default()
        };
        assert!(create(&fake, "x").is_err());
        let fake = Fake {
            fail: Some("destroy"),
            ..Fake::default()
        };
        assert!(
            create(&fake, "x").is_ok(),
            "destroy is not called on success"
        );
    }

    #[test]
    fn no_rename_when_the_kernel_name_is_wanted() {
        let fake = Fake::default();
        assert!(create(&fake, "tap7").is_ok());
        assert_eq!(*fake.log.borrow(), ["open", "name", "up tap7", "close"]);
    }
}
