//! The client library under `brctl`: one connection to the daemon, one
//! call per protocol request, typed errors that keep the daemon's errno.
//!
//! Layer 5 (a front end): requests are encoded with [`crate::proto`], sent
//! over [`crate::transport`] and matched with their replies by a
//! [`netdev_netlink::Requester`] ([`PeerModel::Asynchronous`]: the daemon
//! answers when it likes, and a call never waits longer than the client's
//! timeout). Names are checked with [`validate_request_name`] before
//! anything is sent.
//!
//! ```no_run
//! use std::time::Duration;
//! use brcompat::client::{socket_path, Client};
//!
//! let mut client = Client::connect(socket_path(None), Some(Duration::from_secs(5)))?;
//! client.add_bridge("br0")?;
//! client.add_interface("br0", "eth0")?;
//! for ifindex in client.ports("br0")? {
//!     println!("port {ifindex}");
//! }
//! # Ok::<(), brcompat::client::Error>(())
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netdev_netlink::{MsgBuilder, PeerModel, Requester};

use crate::proto::{
    validate_request_name, Command, FdbEntry, PortStats, Reply, ReplyData, Request, UNIX_FAMILY_ID,
};
use crate::transport::{self, Connection};

/// The environment variable naming the daemon's socket when `--socket` is
/// not given.
pub const SOCKET_ENV: &str = "BRCOMPAT_SOCKET";

/// How long a client waits for the daemon to accept and to answer one
/// request unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many FDB records [`Client::fdb`] asks for per request (the seed's
/// page size).
pub const FDB_PAGE: u64 = 256;

/// The most FDB records [`Client::fdb`] accepts in total: a daemon that
/// never ends the table is an error, not an endless loop.
pub const MAX_FDB_TOTAL: usize = 1 << 24;

/// The daemon's socket: `explicit` (a `--socket` argument) if given, else
/// the [`SOCKET_ENV`] environment variable if set and not empty, else
/// [`transport::DEFAULT_PATH`].
#[must_use]
pub fn socket_path(explicit: Option<&OsStr>) -> PathBuf {
    explicit
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os(SOCKET_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(transport::DEFAULT_PATH))
}

/// Why a client call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The daemon could not be reached: `cannot connect to brcompatd at
    /// PATH: REASON`.
    Connect(transport::Error),
    /// A name was refused before anything was sent (empty, too long, `/`,
    /// whitespace, control characters, a leading `-`): `invalid interface
    /// name ...`.
    InvalidName {
        /// The name as given.
        name: String,
        /// Which rule it broke.
        source: netdev_core::Error,
    },
    /// The daemon answered the request with an errno: `brcompatd refused
    /// REQUEST: STRERROR`.
    Refused {
        /// The request's command.
        command: Command,
        /// The positive errno the daemon answered.
        errno: i32,
    },
    /// The request could not be sent or its answer did not come: the
    /// connection failed, the daemon closed it, or it did not answer in
    /// time ([`Error::is_timeout`]).
    Transport {
        /// The request's command.
        command: Command,
        /// What went wrong.
        source: io::Error,
    },
    /// The daemon answered with something that is not an answer to the
    /// request (malformed, the wrong kind of data, a bad ifindex, an FDB
    /// table that does not end).
    BadReply {
        /// The request's command.
        command: Command,
        /// What was wrong with it.
        reason: String,
    },
}

impl Error {
    /// The daemon's errno for a refused request, `None` for every other
    /// failure.
    #[must_use]
    pub fn daemon_errno(&self) -> Option<i32> {
        match self {
            Error::Refused { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// The errno this failure amounts to: the daemon's, `EINVAL` for an
    /// invalid name, the system call's for a transport failure (`EIO` if
    /// it has none, `ETIMEDOUT` for a timeout), `EPROTO` for a bad reply.
    #[must_use]
    pub fn errno(&self) -> i32 {
        match self {
            Error::Connect(e) => e.errno(),
            Error::InvalidName { .. } => libc::EINVAL,
            Error::Refused { errno, .. } => *errno,
            Error::Transport { source, .. } => {
                if self.is_timeout() {
                    libc::ETIMEDOUT
                } else {
                    source.raw_os_error().unwrap_or(libc::EIO)
                }
            }
            Error::BadReply { .. } => libc::EPROTO,
        }
    }

    /// Whether the daemon did not answer in time.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport { source, .. } => netdev_netlink::is_timeout(source),
            Error::Connect(e) => e.is_timeout(),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect(e) => write!(f, "{e}"),
            Error::InvalidName { source, .. } => write!(f, "{source}"),
            Error::Refused { command, errno } => write!(
                f,
                "brcompatd refused {command}: {}",
                crate::brctl::strerror(*errno)
            ),
            Error::Transport { command, source } => {
                if netdev_netlink::is_timeout(source) {
                    write!(f, "brcompatd did not answer {command} in time")
                } else {
                    write!(f, "{command} to brcompatd failed: {source}")
                }
            }
            Error::BadReply { command, reason } => {
                write!(f, "bad reply from brcompatd to {command}: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect(e) => Some(e),
            Error::InvalidName { source, .. } => Some(source),
            Error::Transport { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A connection to the daemon and what request/reply over it needs.
#[derive(Debug)]
pub struct Client {
    conn: Connection,
    requester: Requester,
    builder: MsgBuilder,
    requests: u64,
}

impl Client {
    /// Connects to the daemon listening at `path`. `timeout` bounds the
    /// connect and then every call (`None`: wait forever; a command-line
    /// client should not).
    ///
    /// A daemon that is not running fails at once with [`Error::Connect`]
    /// (`No such file or directory`, `Connection refused`).
    pub fn connect(path: impl AsRef<Path>, timeout: Option<Duration>) -> Result<Client, Error> {
        let conn = transport::connect(path, timeout).map_err(Error::Connect)?;
        Ok(Client::with_connection(conn, timeout))
    }

    /// A client on an established connection; `timeout` bounds each call.
    #[must_use]
    pub fn with_connection(conn: Connection, timeout: Option<Duration>) -> Client {
        Client {
            conn,
            requester: Requester::new(PeerModel::Asynchronous { timeout }, None),
            builder: MsgBuilder::default(),
            requests: 0,
        }
    }

    /// How many requests this client has sent.
    #[must_use]
    pub fn requests_sent(&self) -> u64 {
        self.requests
    }

    /// Sends `request` as it is (names unchecked) and returns the daemon's
    /// reply, whatever its errno: the primitive under every other call.
    pub fn request(&mut self, request: &Request) -> Result<Reply, Error> {
        let command = request.command();
        let bad = |reason: String| Error::BadReply { command, reason };
        request
            .encode(&mut self.builder, UNIX_FAMILY_ID, 0)
            .map_err(|e| bad(format!("cannot encode the request: {e}")))?;
        self.requests += 1;
        let decoded = self
            .requester
            .transact_with(&mut self.conn, &mut self.builder, |msg| {
                msg.map(|m| Reply::decode(&m, UNIX_FAMILY_ID))
            })
            .map_err(|source| Error::Transport { command, source })?;
        match decoded {
            None => Err(bad("an acknowledgement without a result".into())),
            Some(Err(e)) => Err(bad(e.to_string())),
            Some(Ok((_, reply))) => Ok(reply),
        }
    }

    /// Sends `request` after checking its names with
    /// [`validate_request_name`]; a reply with an errno is
    /// [`Error::Refused`].
    fn call(&mut self, request: &Request) -> Result<ReplyData, Error> {
        self.call_checked(request, validate_request_name)
    }

    fn call_checked(
        &mut self,
        request: &Request,
        check: fn(&str) -> Result<(), netdev_core::Error>,
    ) -> Result<ReplyData, Error> {
        for name in request.names() {
            check(name).map_err(|source| Error::InvalidName {
                name: name.to_owned(),
                source,
            })?;
        }
        let reply = self.request(request)?;
        if reply.errno != 0 {
            return Err(Error::Refused {
                command: request.command(),
                // At most 4095: the codec refuses more.
                errno: i32::try_from(reply.errno).unwrap_or(libc::EIO),
            });
        }
        Ok(reply.data)
    }

    /// A call answered with no data.
    fn call_none(&mut self, request: &Request) -> Result<(), Error> {
        match self.call(request)? {
            ReplyData::None => Ok(()),
            other => Err(unexpected(request.command(), &other)),
        }
    }

    /// A call answered with ifindexes, each positive.
    fn call_ifindexes(
        &mut self,
        request: &Request,
        check: fn(&str) -> Result<(), netdev_core::Error>,
    ) -> Result<Vec<u32>, Error> {
        let command = request.command();
        match self.call_checked(request, check)? {
            ReplyData::Ifindexes(list) => list
                .into_iter()
                .map(|i| {
                    u32::try_from(i)
                        .ok()
                        .filter(|&i| i != 0)
                        .ok_or_else(|| Error::BadReply {
                            command,
                            reason: format!("ifindex {i} is not a device"),
                        })
                })
                .collect(),
            other => Err(unexpected(command, &other)),
        }
    }

    /// `DP_ADD`: creates bridge `name` (`brctl addbr`).
    pub fn add_bridge(&mut self, name: &str) -> Result<(), Error> {
        self.call_none(&Request::AddBridge { name: name.into() })
    }

    /// `DP_DEL`: deletes bridge `name` (`brctl delbr`).
    pub fn del_bridge(&mut self, name: &str) -> Result<(), Error> {
        self.call_none(&Request::DelBridge { name: name.into() })
    }

    /// `PORT_ADD`: adds `port` to `bridge` (`brctl addif`).
    pub fn add_interface(&mut self, bridge: &str, port: &str) -> Result<(), Error> {
        self.call_none(&Request::AddPort {
            bridge: bridge.into(),
            port: port.into(),
        })
    }

    /// `PORT_DEL`: removes `port` from `bridge` (`brctl delif`).
    pub fn del_interface(&mut self, bridge: &str, port: &str) -> Result<(), Error> {
        self.call_none(&Request::DelPort {
            bridge: bridge.into(),
            port: port.into(),
        })
    }

    /// `GET_BRIDGES`: the ifindexes of every bridge's network device, real
    /// and fake bridges alike, in the daemon's order.
    pub fn bridges(&mut self) -> Result<Vec<u32>, Error> {
        self.call_ifindexes(&Request::GetBridges, validate_request_name)
    }

    /// `GET_PORTS`: the ifindexes of `bridge`'s ports, in the daemon's
    /// order. A name that is no bridge is refused with `ENODEV`.
    pub fn ports(&mut self, bridge: &str) -> Result<Vec<u32>, Error> {
        let request = Request::GetPorts {
            bridge: bridge.into(),
        };
        self.call_ifindexes(&request, validate_request_name)
    }

    /// [`Client::ports`] of a bridge whose name the OS reported (an
    /// ifindex of [`Client::bridges`] looked up among the host's devices),
    /// checked only against the rules the OS itself applies
    /// ([`netdev_core::validate_os_name`]): the kernel lets a device name
    /// hold control characters, and such a bridge must still be listed.
    /// Names people typed go through [`Client::ports`].
    pub fn ports_of_listed(&mut self, bridge: &str) -> Result<Vec<u32>, Error> {
        let request = Request::GetPorts {
            bridge: bridge.into(),
        };
        self.call_ifindexes(&request, netdev_core::validate_os_name)
    }

    /// One `FDB_QUERY`: at most `count` records of `bridge` after the
    /// first `skip`.
    pub fn fdb_page(
        &mut self,
        bridge: &str,
        count: u64,
        skip: u64,
    ) -> Result<Vec<FdbEntry>, Error> {
        let command = Command::FdbQuery;
        match self.call(&Request::FdbQuery {
            bridge: bridge.into(),
            count,
            skip,
        })? {
            ReplyData::Fdb(entries) => {
                if u64::try_from(entries.len()).map_or(true, |n| n > count) {
                    return Err(Error::BadReply {
                        command,
                        reason: format!(
                            "{} records where at most {count} were asked",
                            entries.len()
                        ),
                    });
                }
                Ok(entries)
            }
            other => Err(unexpected(command, &other)),
        }
    }

    /// `GET_PORT_STATS` (extension): the frame counters of each port of
    /// `bridge` (`brctl showstats`), in port-number order.
    pub fn port_stats(&mut self, bridge: &str) -> Result<Vec<PortStats>, Error> {
        let request = Request::GetPortStats {
            bridge: bridge.into(),
        };
        match self.call(&request)? {
            ReplyData::PortStats(stats) => Ok(stats),
            other => Err(unexpected(request.command(), &other)),
        }
    }

    /// The whole forwarding database of `bridge` (`brctl showmacs`), read
    /// in pages of [`FDB_PAGE`] records, each page asking for the records
    /// after those already read, until a page comes back empty: every
    /// record is transferred once, so the cost is linear in the table's
    /// size, and reading `n` records takes `ceil(n / 256) + 1` requests.
    ///
    /// The pages are separate requests, so a table that changes meanwhile
    /// may be read with a record missing or twice, as `brctl` reads the
    /// kernel's.
    pub fn fdb(&mut self, bridge: &str) -> Result<Vec<FdbEntry>, Error> {
        let mut all = Vec::new();
        loop {
            let skip = u64::try_from(all.len()).unwrap_or(u64::MAX);
            let page = self.fdb_page(bridge, FDB_PAGE, skip)?;
            if page.is_empty() {
                return Ok(all);
            }
            if all.len() + page.len() > MAX_FDB_TOTAL {
                return Err(Error::BadReply {
                    command: Command::FdbQuery,
                    reason: format!("more than {MAX_FDB_TOTAL} records"),
                });
            }
            all.extend_from_slice(&page);
        }
    }
}

fn unexpected(command: Command, data: &ReplyData) -> Error {
    let what = match data {
        ReplyData::None => "no data",
        ReplyData::Fdb(_) => "FDB records",
        ReplyData::Ifindexes(_) => "ifindexes",
        ReplyData::McGroup(_) => "a multicast group",
        ReplyData::PortStats(_) => "port counters",
    };
    Error::BadReply {
        command,
        reason: format!("it carries {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_path_comes_from_the_argument_first() {
        assert_eq!(
            socket_path(Some(OsStr::new("/tmp/x.sock"))),
            PathBuf::from("/tmp/x.sock")
        );
    }

    #[test]
    fn errors_keep_the_daemon_errno() {
        let e = Error::Refused {
            command: Command::PortAdd,
            errno: libc::EBUSY,
        };
        assert_eq!(e.daemon_errno(), Some(libc::EBUSY));
        assert_eq!(e.errno(), libc::EBUSY);
        assert_eq!(
            e.to_string(),
            "brcompatd refused PORT_ADD: Device or resource busy"
        );
        let t = Error::Transport {
            command: Command::GetBridges,
            source: io::Error::new(io::ErrorKind::TimedOut, "late"),
        };
        assert!(t.is_timeout());
        assert_eq!(t.errno(), libc::ETIMEDOUT);
        assert_eq!(t.daemon_errno(), None);
        assert_eq!(
            t.to_string(),
            "brcompatd did not answer GET_BRIDGES in time"
        );
    }

    #[test]
    fn unexpected_data_is_named() {
        let e = unexpected(Command::DpAdd, &ReplyData::Ifindexes(vec![1]));
        assert_eq!(
            e.to_string(),
            "bad reply from brcompatd to DP_ADD: it carries ifindexes"
        );
    }
}
