//! Clients for Open vSwitch's two control protocols, without starting a
//! process per command:
//!
//! - OVSDB ([RFC 7047](https://www.rfc-editor.org/rfc/rfc7047)): [`Client`]
//!   keeps one persistent JSON-RPC connection, monitors the tables it is
//!   asked for into a [`Replica`] kept current by `update` notifications,
//!   answers and sends echoes, reconnects with backoff, and with a clustered
//!   database follows the Raft leader through the `_Server` database as
//!   `ovs-vsctl` does.
//! - [`unixctl`]: the protocol `ovs-appctl` speaks on a daemon's control
//!   socket (`fdb/show`, `cluster/status`, ...).
//!
//! [`jsonrpc`] holds the framing both share: JSON values sent back to back
//! on a byte stream with no delimiter, as OVS's `lib/jsonrpc.c` does.
//!
//! ```no_run
//! use ovs_client::{ops, parse_remotes, unixctl, Client, ClientOptions};
//! use serde_json::json;
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), ovs_client::Error> {
//! let options = ClientOptions::default()
//!     .table("Open_vSwitch", &[])
//!     .table("Bridge", &["name", "ports"]);
//! let client = Client::connect(parse_remotes("unix:/run/openvswitch/db.sock")?, options)?;
//! let root = client.replica().single("Open_vSwitch").expect("initialized").0;
//! client.transact(
//!     vec![
//!         ops::insert("Bridge", json!({"name": "br0"}), Some("b")),
//!         ops::mutate(
//!             "Open_vSwitch",
//!             ops::where_uuid(root),
//!             vec![ops::mutation("bridges", "insert", ops::set(vec![ops::named_uuid("b")]))],
//!         ),
//!     ],
//!     Some("add br0"),
//! )?;
//! // ovsdb-server sends a transaction's updates before its reply.
//! assert!(client.replica().table("Bridge").any(|(_, r)| r.string("name") == Some("br0")));
//!
//! let ctl = unixctl::control_socket("/run/openvswitch".as_ref(), "ovs-vswitchd")?;
//! let fdb = unixctl::call(&ctl, "fdb/show", &["br0"], Duration::from_secs(5))?;
//! # let _ = fdb;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod client;
mod datum;
mod error;
pub mod jsonrpc;
pub mod ops;
#[cfg(feature = "testing")]
pub mod testing;
pub mod unixctl;

pub use client::{Client, ClientOptions};
pub use datum::{Atom, Datum, Replica, Row, Uuid};
pub use error::Error;

use std::fmt;
use std::path::PathBuf;

/// Where an OVSDB server listens: OVS's `unix:PATH` or `tcp:HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Remote {
    /// A Unix stream socket (`unix:PATH`).
    Unix(PathBuf),
    /// A TCP address, `HOST:PORT` (an IPv6 host in brackets: `[::1]:6641`).
    Tcp(String),
}

impl fmt::Display for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remote::Unix(path) => write!(f, "unix:{}", path.display()),
            Remote::Tcp(addr) => write!(f, "tcp:{addr}"),
        }
    }
}

impl std::str::FromStr for Remote {
    type Err = Error;

    fn from_str(s: &str) -> Result<Remote, Error> {
        let bad = |why: &str| Error::InvalidRemote(format!("{s:?}: {why}"));
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(bad("empty socket path"));
            }
            if path.contains('\0') {
                return Err(bad("NUL byte in socket path"));
            }
            return Ok(Remote::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            let (host, port) = addr
                .rsplit_once(':')
                .ok_or_else(|| bad("expected tcp:HOST:PORT"))?;
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            if host.starts_with('[') != host.ends_with(']') {
                return Err(bad("unbalanced brackets around an IPv6 address"));
            }
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if bare.contains(':') && !host.starts_with('[') {
                return Err(bad("an IPv6 address needs brackets: tcp:[ADDR]:PORT"));
            }
            if bare.is_empty()
                || !bare
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'))
            {
                return Err(bad("invalid host"));
            }
            match port.parse::<u16>() {
                Ok(p) if p != 0 => {}
                _ => return Err(bad("port must be 1-65535")),
            }
            return Ok(Remote::Tcp(addr.to_string()));
        }
        if s.starts_with("ssl:") {
            return Err(bad("ssl: remotes are not supported (use unix: or tcp:)"));
        }
        Err(bad("expected unix:PATH or tcp:HOST:PORT"))
    }
}

/// Parses OVS's remote syntax: one remote or a comma-separated list of them
/// (the members of a clustered database). Surrounding spaces are ignored.
pub fn parse_remotes(spec: &str) -> Result<Vec<Remote>, Error> {
    let remotes = spec
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<Vec<Remote>, Error>>()?;
    if remotes.is_empty() {
        return Err(Error::InvalidRemote("no remote given".into()));
    }
    Ok(remotes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes() {
        assert_eq!(
            parse_remotes("unix:/run/db.sock").unwrap(),
            vec![Remote::Unix("/run/db.sock".into())]
        );
        assert_eq!(
            parse_remotes("tcp:127.0.0.1:6641, tcp:[::1]:6642,unix:a").unwrap(),
            vec![
                Remote::Tcp("127.0.0.1:6641".into()),
                Remote::Tcp("[::1]:6642".into()),
                Remote::Unix("a".into())
            ]
        );
        for bad in [
            "",
            "unix:",
            "tcp:host",
            "tcp::1",
            "tcp:::1:5",
            "tcp:[::1:5",
            "tcp:h:0",
            "tcp:h:70000",
            "tcp:h x:1",
            "ssl:h:1",
            "/run/db.sock",
            "unix:a,",
        ] {
            assert!(parse_remotes(bad).is_err(), "{bad:?} accepted");
        }
        let r: Remote = "tcp:[::1]:6641".parse().unwrap();
        assert_eq!(r.to_string(), "tcp:[::1]:6641");
    }
}
