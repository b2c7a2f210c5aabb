use std::fmt;
use std::io;
use std::time::Duration;

/// Everything that can go wrong talking to an Open vSwitch daemon. Each
/// variant names the remote (socket or address) and, where there is one,
/// the JSON-RPC method.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A remote specification that is not `unix:PATH` or `tcp:HOST:PORT`.
    InvalidRemote(String),
    /// A system call failed (connect, read, write, reading a pid file).
    Io {
        /// The remote or file.
        remote: String,
        /// What was being done.
        what: String,
        /// The system's error.
        source: io::Error,
    },
    /// No answer in time: connecting, or waiting for the reply to `method`.
    Timeout {
        /// The remote (or every remote tried).
        remote: String,
        /// The method or step that timed out.
        method: String,
        /// How long was waited.
        after: Duration,
        /// The last failure seen while trying, if any.
        detail: String,
    },
    /// The peer sent something that is not the protocol: bytes that are not
    /// JSON, a message over the size limit, a malformed reply or update.
    Protocol {
        /// The remote.
        remote: String,
        /// What was wrong.
        detail: String,
    },
    /// A JSON-RPC error reply: for OVSDB the server's error object, for
    /// unixctl the daemon's error text (as `ovs-appctl` prints it).
    Remote {
        /// The remote.
        remote: String,
        /// The method that failed.
        method: String,
        /// The error text (a JSON error object rendered as text).
        text: String,
    },
    /// The database or a monitored table/column does not exist on the server.
    Schema {
        /// The remote.
        remote: String,
        /// What is missing.
        detail: String,
    },
    /// An operation of a transaction failed; nothing was committed.
    Transaction {
        /// Index of the failing operation in the caller's list; the length of
        /// the list when the commit itself failed (e.g. a referential
        /// integrity or constraint violation).
        index: usize,
        /// The RFC 7047 error tag, e.g. `"constraint violation"`.
        error: String,
        /// The server's details, if any.
        details: String,
    },
    /// The connection went away before the reply: the outcome is unknown
    /// (the caller re-reads the replica to decide whether to retry).
    Disconnected {
        /// The remote.
        remote: String,
        /// The method whose reply never came.
        method: String,
    },
    /// The server cannot take the request now (not the cluster leader, or
    /// cut off from the cluster); the client is reconnecting. Nothing was
    /// committed: retry.
    TryAgain {
        /// The remote.
        remote: String,
        /// Why.
        detail: String,
    },
    /// The client has been dropped or its background thread is gone.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRemote(what) => write!(f, "invalid remote {what}"),
            Error::Io {
                remote,
                what,
                source,
            } => write!(f, "{remote}: {what}: {source}"),
            Error::Timeout {
                remote,
                method,
                after,
                detail,
            } => {
                write!(f, "{remote}: {method}: no answer within {after:?}")?;
                if !detail.is_empty() {
                    write!(f, " (last error: {detail})")?;
                }
                Ok(())
            }
            Error::Protocol { remote, detail } => write!(f, "{remote}: protocol error: {detail}"),
            Error::Remote {
                remote,
                method,
                text,
            } => write!(f, "{remote}: {method} failed: {text}"),
            Error::Schema { remote, detail } => write!(f, "{remote}: {detail}"),
            Error::Transaction {
                index,
                error,
                details,
            } => {
                write!(f, "transaction failed at operation {index}: {error}")?;
                if !details.is_empty() {
                    write!(f, ": {details}")?;
                }
                Ok(())
            }
            Error::Disconnected { remote, method } => write!(
                f,
                "{remote}: connection lost before the reply to {method} (outcome unknown)"
            ),
            Error::TryAgain { remote, detail } => write!(f, "{remote}: try again: {detail}"),
            Error::Closed => f.write_str("the OVSDB client is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    pub(crate) fn io(
        remote: impl fmt::Display,
        what: impl Into<String>,
        source: io::Error,
    ) -> Error {
        Error::Io {
            remote: remote.to_string(),
            what: what.into(),
            source,
        }
    }

    pub(crate) fn protocol(remote: impl fmt::Display, detail: impl Into<String>) -> Error {
        Error::Protocol {
            remote: remote.to_string(),
            detail: detail.into(),
        }
    }

    /// True when retrying the same request later may succeed and nothing was
    /// committed ([`Error::TryAgain`]).
    pub fn is_try_again(&self) -> bool {
        matches!(self, Error::TryAgain { .. })
    }
}
