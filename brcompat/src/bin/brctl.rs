//! `brctl`: bridge-utils' command line on top of the brcompat daemon.
//!
//! `brctl [--socket PATH] COMMAND [ARGS]`: `addbr`, `delbr`, `addif`,
//! `delif`, `show [BR...]`, `showmacs BR`, `-h`/`--help`, `-V`, and one
//! extension, `showstats BR` (the per-port frame counters of the daemon's
//! switch). The
//! daemon's socket is `--socket PATH`, else `$BRCOMPAT_SOCKET`, else
//! `/run/brcompat.sock`. What it prints and its exit status are those of
//! bridge-utils' `brctl` ([`brcompat::brctl`] renders every byte; the
//! deliberate differences are listed there).
//!
//! The daemon speaks in ifindexes and errnos; the names and addresses
//! `show` prints come from the host's network devices (the netdev facade's
//! `system` class), and so do the distinctions `brctl` makes that the
//! daemon's errno does not (`interface X does not exist!` versus `bridge X
//! does not exist!`; a device that exists but is not a bridge).

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Write;

use brcompat::brctl::{self, BridgeId, BridgeInfo, Error, Invocation, Lookup, Output, Request};
use brcompat::client::{self, Client};
use brcompat::proto::validate_request_name;
use netdev::{DeviceInfo, Registry};

/// The priority half of a bridge id: the STP default, as the kernel
/// bridge has it until told otherwise (brcompat has no STP).
const BRIDGE_PRIORITY: u16 = 0x8000;

fn main() {
    let out = run(std::env::args_os().skip(1).collect());
    // Failures to write (a closed pipe) change nothing about the status.
    let _ = std::io::stdout().lock().write_all(out.stdout.as_bytes());
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().lock().write_all(out.stderr.as_bytes());
    std::process::exit(out.status);
}

/// Everything `brctl ARGS` prints and its status.
fn run(args: Vec<OsString>) -> Output {
    let (socket, args) = match take_socket_option(args) {
        Ok(split) => split,
        Err(e) => return e.render(),
    };
    // Not UTF-8: kept as U+FFFD, which no valid name contains.
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let request = match brctl::parse_args(&args) {
        Ok(Invocation::Run(request)) => request,
        Ok(other) => return brctl::render_invocation(&other).unwrap_or_default(),
        Err(e) => return e.render(),
    };
    let path = client::socket_path(socket.as_deref());
    let mut session: Option<Session> = None;
    // `brctl addif BR IF...` and `delif` act on each interface in turn and
    // stop at the first that fails.
    for request in each_interface(request, &args) {
        if let Some(bad) = first_invalid_name(&request) {
            return Error::for_invalid_name(&request, bad).render();
        }
        let s = match &mut session {
            Some(s) => s,
            None => match Client::connect(&path, Some(client::DEFAULT_TIMEOUT)) {
                Ok(client) => session.insert(Session { client, host: None }),
                Err(e) => return Error::Daemon(e.to_string()).render(),
            },
        };
        match s.execute(&request) {
            Ok(out) if out == Output::default() => {}
            Ok(out) => return out,
            Err(e) => return e.render(),
        }
    }
    Output::default()
}

/// `addif`/`delif` with several interfaces (`args[2..]`) as one request
/// per interface; any other request alone.
fn each_interface(request: Request, args: &[String]) -> Vec<Request> {
    let devices = args.get(2..).unwrap_or_default();
    match request {
        Request::Addif { bridge, .. } => devices
            .iter()
            .map(|d| Request::Addif {
                bridge: bridge.clone(),
                device: d.clone(),
            })
            .collect(),
        Request::Delif { bridge, .. } => devices
            .iter()
            .map(|d| Request::Delif {
                bridge: bridge.clone(),
                device: d.clone(),
            })
            .collect(),
        other => vec![other],
    }
}

/// Splits a leading `--socket PATH` (or `--socket=PATH`) off the
/// arguments. Only before the command: after it, `--socket` is an
/// argument of the command (and no valid name).
fn take_socket_option(mut args: Vec<OsString>) -> Result<(Option<OsString>, Vec<OsString>), Error> {
    let Some(first) = args.first() else {
        return Ok((None, args));
    };
    let first = first.clone();
    if first == "--socket" {
        if args.len() < 2 {
            return Err(Error::Usage("option --socket needs a path".into()));
        }
        let path = args.remove(1);
        args.remove(0);
        return Ok((Some(path), args));
    }
    if let Some(path) = first.to_str().and_then(|s| s.strip_prefix("--socket=")) {
        let path = OsString::from(path);
        args.remove(0);
        return Ok((Some(path), args));
    }
    Ok((None, args))
}

/// Whether `name` may be sent: the protocol's rule, and valid UTF-8 on the
/// command line.
fn name_ok(name: &str) -> bool {
    validate_request_name(name).is_ok() && !name.contains(char::REPLACEMENT_CHARACTER)
}

/// The first name of `request` that may not be sent, in the order
/// `brctl` looks at them (for `addif`/`delif` the device first). `show`
/// checks its names one by one.
fn first_invalid_name(request: &Request) -> Option<&str> {
    let names: Vec<&str> = match request {
        Request::Addbr(n) | Request::Delbr(n) | Request::Showmacs(n) | Request::Showstats(n) => {
            vec![n]
        }
        Request::Addif { bridge, device } | Request::Delif { bridge, device } => {
            vec![device, bridge]
        }
        Request::Show(_) => vec![],
    };
    names.into_iter().find(|n| !name_ok(n))
}

/// The host's network devices, as the netdev facade lists them.
struct Host {
    devices: Vec<DeviceInfo>,
}

impl Host {
    fn load() -> Result<Host, Error> {
        let registry = Registry::new();
        let devices = netdev::register_platform(&registry)
            .and_then(|()| registry.enumerate("system"))
            .map_err(|e| Error::Devices(e.to_string()))?;
        Ok(Host { devices })
    }

    fn by_index(&self, ifindex: u32) -> Option<&DeviceInfo> {
        self.devices.iter().find(|d| d.ifindex == ifindex)
    }

    fn by_name(&self, name: &str) -> Option<&DeviceInfo> {
        self.devices.iter().find(|d| d.name == name)
    }

    fn exists(&self, name: &str) -> bool {
        self.by_name(name).is_some()
    }
}

/// A connection to the daemon and, once needed, the host's devices.
struct Session {
    client: Client,
    host: Option<Host>,
}

/// A client failure other than the daemon's refusal, as one line.
fn daemon_failure(e: &client::Error) -> Error {
    Error::Daemon(e.to_string())
}

impl Session {
    fn host(&mut self) -> Result<&Host, Error> {
        if self.host.is_none() {
            self.host = Some(Host::load()?);
        }
        Ok(self.host.as_ref().expect("loaded above"))
    }

    /// Whether a device named `name` exists; `None` if the devices could
    /// not be listed.
    fn device_exists(&mut self, name: &str) -> Option<bool> {
        self.host().ok().map(|h| h.exists(name))
    }

    /// Whether the daemon knows `name` as a bridge; `None` if it could not
    /// be asked.
    fn is_bridge(&mut self, name: &str) -> Option<bool> {
        match self.client.ports(name) {
            Ok(_) => Some(true),
            Err(e) if e.daemon_errno().is_some() => Some(false),
            Err(_) => None,
        }
    }

    fn execute(&mut self, request: &Request) -> Result<Output, Error> {
        match request {
            Request::Addbr(name) => {
                let result = self.client.add_bridge(name);
                self.refusal(result, |errno, _| Error::addbr(name, errno))
            }
            Request::Delbr(name) => {
                let result = self.client.del_bridge(name);
                self.refusal(result, |errno, s| {
                    // The kernel refuses to delete a device that is not a
                    // bridge with EPERM; the daemon knows only bridges.
                    if errno == libc::ENXIO && s.device_exists(name) == Some(true) {
                        Error::delbr(name, libc::EPERM)
                    } else {
                        Error::delbr(name, errno)
                    }
                })
            }
            Request::Addif { bridge, device } => {
                let result = self.client.add_interface(bridge, device);
                self.refusal(result, |errno, s| {
                    s.port_error(bridge, device, errno, Error::addif)
                })
            }
            Request::Delif { bridge, device } => {
                let result = self.client.del_interface(bridge, device);
                self.refusal(result, |errno, s| {
                    s.port_error(bridge, device, errno, Error::delif)
                })
            }
            Request::Show(names) if names.is_empty() => self.show_all(),
            Request::Show(names) => self.show_selected(names),
            Request::Showmacs(bridge) => self.showmacs(bridge),
            Request::Showstats(bridge) => match self.client.port_stats(bridge) {
                Ok(stats) => Ok(brctl::showstats(&stats)),
                Err(e) => match e.daemon_errno() {
                    Some(errno) => Err(Error::ReadStats {
                        bridge: bridge.clone(),
                        errno,
                    }),
                    None => Err(daemon_failure(&e)),
                },
            },
        }
    }

    /// Success prints nothing; the daemon's errno becomes `brctl`'s
    /// message through `map`; anything else is one line.
    fn refusal(
        &mut self,
        result: Result<(), client::Error>,
        map: impl FnOnce(i32, &mut Session) -> Error,
    ) -> Result<Output, Error> {
        match result {
            Ok(()) => Ok(Output::default()),
            Err(e) => match e.daemon_errno() {
                Some(errno) => Err(map(errno, self)),
                None => Err(daemon_failure(&e)),
            },
        }
    }

    /// `addif`/`delif` refused with `errno`. The daemon answers `EINVAL`
    /// (or `ENODEV`) both for a missing bridge and a missing device;
    /// `brctl` tells them apart, and says `Operation not supported` when
    /// the "bridge" is a device that is no bridge.
    fn port_error(
        &mut self,
        bridge: &str,
        device: &str,
        errno: i32,
        map: fn(&str, &str, i32) -> Error,
    ) -> Error {
        if errno != libc::EINVAL && errno != libc::ENODEV {
            return map(bridge, device, errno);
        }
        let facts = PortFacts {
            device_exists: self.device_exists(device),
            is_bridge: self.is_bridge(bridge),
            bridge_device_exists: self.device_exists(bridge),
        };
        facts.explain(bridge, device, errno, map)
    }

    fn bridge_info(&mut self, name: &str, ports: &[u32]) -> Result<BridgeInfo, Error> {
        let host = self.host()?;
        let mac = host
            .by_name(name)
            .and_then(|d| d.mac)
            .map(|m| m.0)
            .unwrap_or_default();
        // A port whose device is gone by now is left out, as the kernel
        // would no longer list it.
        let interfaces = ports
            .iter()
            .filter_map(|&i| host.by_index(i).map(|d| d.name.clone()))
            .collect();
        Ok(BridgeInfo {
            name: name.to_owned(),
            id: BridgeId {
                priority: BRIDGE_PRIORITY,
                mac,
            },
            stp_enabled: false,
            interfaces,
        })
    }

    fn show_all(&mut self) -> Result<Output, Error> {
        let bridges = self.client.bridges().map_err(|e| daemon_failure(&e))?;
        let mut names = Vec::new();
        let mut seen = HashSet::new();
        {
            let host = self.host()?;
            for ifindex in bridges {
                // A bridge whose device is gone is not shown.
                if let Some(d) = host.by_index(ifindex) {
                    if seen.insert(ifindex) {
                        names.push(d.name.clone());
                    }
                }
            }
        }
        let mut infos = Vec::with_capacity(names.len());
        for name in names {
            let ports = match self.client.ports_of_listed(&name) {
                Ok(p) => p,
                // Deleted since the list was read.
                Err(e) if e.daemon_errno().is_some() => continue,
                Err(e) => return Err(daemon_failure(&e)),
            };
            infos.push(self.bridge_info(&name, &ports)?);
        }
        Ok(brctl::show_all(&infos))
    }

    fn show_selected(&mut self, names: &[String]) -> Result<Output, Error> {
        let mut lookups = Vec::with_capacity(names.len());
        for name in names {
            if !name_ok(name) {
                lookups.push(Lookup::Missing(name.clone()));
                continue;
            }
            match self.client.ports(name) {
                Ok(ports) => lookups.push(Lookup::Found(self.bridge_info(name, &ports)?)),
                Err(e) if e.daemon_errno().is_some() => {
                    if self.host()?.exists(name) {
                        lookups.push(Lookup::NotABridge(name.clone()));
                    } else {
                        lookups.push(Lookup::Missing(name.clone()));
                    }
                }
                Err(e) => return Err(daemon_failure(&e)),
            }
        }
        Ok(brctl::show_selected(&lookups))
    }

    fn showmacs(&mut self, bridge: &str) -> Result<Output, Error> {
        match self.client.fdb(bridge) {
            Ok(entries) => {
                let rows: Vec<brctl::FdbEntry> = entries
                    .iter()
                    .map(|e| brctl::FdbEntry {
                        port_no: e.port,
                        mac: e.mac,
                        is_local: e.is_local,
                        // USER_HZ ticks are hundredths of a second.
                        ageing_centis: e.ageing_ticks,
                    })
                    .collect();
                Ok(brctl::showmacs(&rows))
            }
            Err(e) => match e.daemon_errno() {
                // The kernel says EOPNOTSUPP for a device that is not a
                // bridge; the daemon knows only bridges.
                Some(libc::ENODEV) if self.device_exists(bridge) == Some(true) => {
                    Err(Error::ReadFdb {
                        errno: libc::EOPNOTSUPP,
                    })
                }
                Some(errno) => Err(Error::ReadFdb { errno }),
                None => Err(daemon_failure(&e)),
            },
        }
    }
}

/// What is known about the names of a refused `addif`/`delif` (`None`:
/// could not be found out).
#[derive(Clone, Copy, Debug)]
struct PortFacts {
    device_exists: Option<bool>,
    is_bridge: Option<bool>,
    bridge_device_exists: Option<bool>,
}

impl PortFacts {
    /// `brctl`'s message: the device is looked at first, then the bridge.
    fn explain(
        self,
        bridge: &str,
        device: &str,
        errno: i32,
        map: fn(&str, &str, i32) -> Error,
    ) -> Error {
        if self.device_exists == Some(false) {
            return Error::NoSuchInterface(device.to_owned());
        }
        if self.is_bridge == Some(false) {
            return if self.bridge_device_exists == Some(true) {
                map(bridge, device, libc::EOPNOTSUPP)
            } else {
                Error::NoSuchBridge(bridge.to_owned())
            };
        }
        map(bridge, device, errno)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn socket_option_only_before_the_command() {
        let (s, rest) = take_socket_option(os(&["--socket", "/x", "show"])).unwrap();
        assert_eq!(s, Some(OsString::from("/x")));
        assert_eq!(rest, os(&["show"]));
        let (s, rest) = take_socket_option(os(&["--socket=/y", "addbr", "b"])).unwrap();
        assert_eq!(s, Some(OsString::from("/y")));
        assert_eq!(rest, os(&["addbr", "b"]));
        let (s, rest) = take_socket_option(os(&["addbr", "--socket", "/z"])).unwrap();
        assert_eq!(s, None);
        assert_eq!(rest.len(), 3);
        assert_eq!(
            take_socket_option(os(&["--socket"])).unwrap_err(),
            Error::Usage("option --socket needs a path".into())
        );
    }

    #[test]
    fn addif_and_delif_take_several_interfaces() {
        let args: Vec<String> = ["addif", "br0", "v1", "v2"].map(String::from).to_vec();
        let r = Request::Addif {
            bridge: "br0".into(),
            device: "v1".into(),
        };
        assert_eq!(
            each_interface(r, &args),
            [
                Request::Addif {
                    bridge: "br0".into(),
                    device: "v1".into()
                },
                Request::Addif {
                    bridge: "br0".into(),
                    device: "v2".into()
                }
            ]
        );
        let show = Request::Show(vec!["a".into(), "b".into()]);
        assert_eq!(each_interface(show.clone(), &[]), [show]);
    }

    #[test]
    fn invalid_names_are_found_device_first() {
        let r = Request::Addif {
            bridge: "a b".into(),
            device: "x/y".into(),
        };
        assert_eq!(first_invalid_name(&r), Some("x/y"));
        let r = Request::Delif {
            bridge: "-br".into(),
            device: "eth0".into(),
        };
        assert_eq!(first_invalid_name(&r), Some("-br"));
        assert_eq!(
            first_invalid_name(&Request::Addbr("br\u{fffd}".into())),
            Some("br\u{fffd}")
        );
        assert_eq!(first_invalid_name(&Request::Show(vec!["/".into()])), None);
    }

    #[test]
    fn refused_port_requests_are_explained_like_brctl() {
        let facts = |d, b, bd| PortFacts {
            device_exists: Some(d),
            is_bridge: Some(b),
            bridge_device_exists: Some(bd),
        };
        let einval = libc::EINVAL;
        assert_eq!(
            facts(false, true, true).explain("br0", "nosuchdev", einval, Error::addif),
            Error::NoSuchInterface("nosuchdev".into())
        );
        assert_eq!(
            facts(true, false, false).explain("nosuchbr", "v1a", einval, Error::delif),
            Error::NoSuchBridge("nosuchbr".into())
        );
        assert_eq!(
            facts(true, false, true)
                .explain("v3a", "v1a", einval, Error::delif)
                .render()
                .stderr,
            "can't delete v1a from v3a: Operation not supported\n"
        );
        assert_eq!(
            facts(true, true, true).explain("br0", "v3a", einval, Error::delif),
            Error::NotAPort {
                device: "v3a".into(),
                bridge: "br0".into()
            }
        );
        assert_eq!(
            facts(true, true, true)
                .explain("br0", "lo", einval, Error::addif)
                .render()
                .stderr,
            "can't add lo to bridge br0: Invalid argument\n"
        );
        let unknown = PortFacts {
            device_exists: None,
            is_bridge: None,
            bridge_device_exists: None,
        };
        assert_eq!(
            unknown.explain("br0", "v1a", einval, Error::delif),
            Error::NotAPort {
                device: "v1a".into(),
                bridge: "br0".into()
            }
        );
    }
}
