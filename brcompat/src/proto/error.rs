//! The error type of the brcompat codec.

use std::fmt;

/// Why a brcompat message could not be decoded or built.
///
/// The `Display` text of each variant is given in its documentation. Every
/// variant describes a malformed or unacceptable message, so a daemon
/// answers all of them with `EINVAL` ([`ProtoError::errno`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoError {
    /// `malformed message: {0}`
    ///
    /// The Netlink structure is wrong: a truncated header, a length past
    /// the end, an attribute of the wrong size, a string without its NUL
    /// terminator or not UTF-8, a missing required attribute, an
    /// `ERR_CODE` that is no errno.
    Netlink(netdev_netlink::Error),
    /// `cannot build message: {0}`
    ///
    /// The encoder refused the value: a name containing a NUL byte, an
    /// errno out of range.
    Build(netdev_netlink::Error),
    /// `message is {len} bytes, more than the {max}-byte limit`
    TooLarge {
        /// The message's (or datagram's) length.
        len: usize,
        /// [`super::MAX_MESSAGE_LEN`].
        max: usize,
    },
    /// `message has more than {max} attributes`
    TooManyAttrs {
        /// [`super::MAX_ATTRS`].
        max: usize,
    },
    /// `{len} bytes after the message at offset {offset}`
    ///
    /// A datagram carries one message; more is a framing error.
    TrailingBytes {
        /// Where the extra bytes start.
        offset: usize,
        /// How many there are.
        len: usize,
    },
    /// `message type {found} is not the brcompat family ({expected})`
    WrongFamily {
        /// The family id the caller expects.
        expected: u16,
        /// The `nlmsg_type` received.
        found: u16,
    },
    /// `unknown brcompat command {0}`
    UnknownCommand(u8),
    /// `brcompat command {cmd} is not a {expected}`
    ///
    /// A known command where the other direction's was due: a
    /// `DP_RESULT` decoded as a request, a request decoded as a reply.
    UnexpectedCommand {
        /// The command received.
        cmd: u8,
        /// "request" or "reply".
        expected: &'static str,
    },
    /// `attribute {attr} at offset {offset}: {len} bytes is not a whole
    /// number of {record}-byte records`
    ///
    /// `FDB_DATA` not a multiple of 16 bytes, `IFINDEXES` not a multiple
    /// of 4: a trailing partial record is refused, not dropped.
    PartialRecord {
        /// Attribute type.
        attr: u16,
        /// Offset of the attribute header in the buffer.
        offset: usize,
        /// Payload length.
        len: usize,
        /// Record size.
        record: usize,
    },
    /// `reply carries more than one kind of data (attributes {first} and
    /// {second})`
    ConflictingData {
        /// The first data attribute's type.
        first: u16,
        /// The second's.
        second: u16,
    },
    /// A record of an array attribute whose content is invalid.
    BadRecord {
        /// The attribute type.
        attr: u16,
        /// The record's offset in the message (or in the payload, when
        /// encoding).
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

impl ProtoError {
    /// The errno a daemon answers with: `EINVAL` (22) for all of them.
    #[must_use]
    #[inline]
    pub fn errno(&self) -> u32 {
        22
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Netlink(e) => write!(f, "malformed message: {e}"),
            Self::Build(e) => write!(f, "cannot build message: {e}"),
            Self::TooLarge { len, max } => {
                write!(f, "message is {len} bytes, more than the {max}-byte limit")
            }
            Self::TooManyAttrs { max } => write!(f, "message has more than {max} attributes"),
            Self::TrailingBytes { offset, len } => {
                write!(f, "{len} bytes after the message at offset {offset}")
            }
            Self::WrongFamily { expected, found } => write!(
                f,
                "message type {found} is not the brcompat family ({expected})"
            ),
            Self::UnknownCommand(cmd) => write!(f, "unknown brcompat command {cmd}"),
            Self::UnexpectedCommand { cmd, expected } => {
                write!(f, "brcompat command {cmd} is not a {expected}")
            }
            Self::PartialRecord {
                attr,
                offset,
                len,
                record,
            } => write!(
                f,
                "attribute {attr} at offset {offset}: {len} bytes is not a whole number of \
                 {record}-byte records"
            ),
            Self::ConflictingData { first, second } => write!(
                f,
                "reply carries more than one kind of data (attributes {first} and {second})"
            ),
            Self::BadRecord {
                attr,
                offset,
                reason,
            } => write!(f, "attribute {attr}: record at offset {offset}: {reason}"),
        }
    }
}

impl std::error::Error for ProtoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Netlink(e) | Self::Build(e) => Some(e),
            _ => None,
        }
    }
}

impl From<netdev_netlink::Error> for ProtoError {
    fn from(e: netdev_netlink::Error) -> Self {
        Self::Netlink(e)
    }
}

impl From<ProtoError> for std::io::Error {
    /// `InvalidData` (what does not decode) or `InvalidInput` (what cannot
    /// be built), with the error as its source.
    fn from(e: ProtoError) -> Self {
        let kind = match e {
            ProtoError::Build(_) => std::io::ErrorKind::InvalidInput,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}
