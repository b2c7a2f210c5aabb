//! The one error type of the Netlink wire format.
//!
//! Every variant names what is wrong and, for malformed bytes, the byte
//! offset at which it was found, counted from the start of the buffer the
//! caller handed in (for a receive buffer holding several messages, from the
//! start of that buffer, not of the message). Kernel errors carry a positive
//! errno so the socket layer can turn them into `io::Error` unchanged.

use std::fmt;

use super::errno::errno_name;

/// Which piece of a Netlink message an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// A message (`nlmsghdr` and what it covers).
    Message,
    /// A `genlmsghdr`.
    GenlHeader,
    /// A protocol's fixed header between `nlmsghdr` and the attributes
    /// (`ifinfomsg`, `rtmsg`, ...).
    FamilyHeader,
    /// The `struct nlmsgerr` payload of an `NLMSG_ERROR` message.
    ErrorPayload,
    /// The status payload of an `NLMSG_DONE` message.
    DoneStatus,
    /// An attribute whose type is known.
    Attr(u16),
    /// An attribute whose header is too short to tell its type.
    AttrHeader,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message => f.write_str("message"),
            Self::GenlHeader => f.write_str("generic netlink header"),
            Self::FamilyHeader => f.write_str("family header"),
            Self::ErrorPayload => f.write_str("error payload"),
            Self::DoneStatus => f.write_str("done status"),
            Self::Attr(ty) => write!(f, "attribute {ty}"),
            Self::AttrHeader => f.write_str("attribute"),
        }
    }
}

/// What is wrong with a string attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringProblem {
    /// The payload is empty, so there is not even a terminator.
    Empty,
    /// The last payload byte is not NUL.
    MissingNul,
    /// A NUL byte appears before the terminator, at this payload index.
    InteriorNul(usize),
    /// The bytes before the terminator are not UTF-8 (only checked when the
    /// caller asks for a `&str`).
    NotUtf8,
}

impl fmt::Display for StringProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("string is empty (no NUL terminator)"),
            Self::MissingNul => f.write_str("string lacks a NUL terminator"),
            Self::InteriorNul(at) => write!(f, "string has a NUL at payload byte {at}"),
            Self::NotUtf8 => f.write_str("string is not UTF-8"),
        }
    }
}

/// Errors of the Netlink wire format, and errors the kernel reported.
///
/// The `Display` text of each variant is given in its documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `{part} at offset {offset}: needs {need} bytes, only {have} available`
    ///
    /// A header (or fixed-size payload) does not fit in what is left.
    Truncated {
        /// What was being read.
        part: Part,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        need: usize,
        /// Bytes that were left.
        have: usize,
    },
    /// `{part} at offset {offset}: length {len} runs past end of buffer
    /// ({available} bytes available)`
    LengthPastEnd {
        /// What was being read.
        part: Part,
        /// Where it starts.
        offset: usize,
        /// The length it claims.
        len: usize,
        /// Bytes left from `offset` to the end of the enclosing buffer.
        available: usize,
    },
    /// `{part} at offset {offset}: length {len} is smaller than its
    /// {min}-byte header`
    LengthTooSmall {
        /// What was being read.
        part: Part,
        /// Where it starts.
        offset: usize,
        /// The length it claims.
        len: usize,
        /// Its header size.
        min: usize,
    },
    /// `{part} at offset {offset}: not aligned to 4 bytes`
    ///
    /// Messages and attributes start on 4-byte boundaries; a parse started
    /// elsewhere is reading the wrong bytes.
    Misaligned {
        /// What was being read.
        part: Part,
        /// The misaligned offset.
        offset: usize,
    },
    /// `attribute {attr} at offset {offset}: {problem}`
    BadString {
        /// Attribute type.
        attr: u16,
        /// Offset of the attribute header.
        offset: usize,
        /// What is wrong.
        problem: StringProblem,
    },
    /// `attribute {attr} at offset {offset}: payload is {len} bytes, expected
    /// {min}..={max}` (or `expected {min}` when both are equal)
    AttrSize {
        /// Attribute type.
        attr: u16,
        /// Offset of the attribute header.
        offset: usize,
        /// Actual payload length.
        len: usize,
        /// Smallest allowed payload length.
        min: usize,
        /// Largest allowed payload length.
        max: usize,
    },
    /// `missing required attribute {attr} ({name}) in attributes at offset
    /// {offset}`
    MissingAttr {
        /// Attribute type.
        attr: u16,
        /// Its name in the policy (may be empty).
        name: &'static str,
        /// Offset where the attribute list starts.
        offset: usize,
    },
    /// `{part} at offset {offset}: value {value} {reason}`
    ///
    /// A field has the right size but a value the protocol forbids.
    BadValue {
        /// What was being read.
        part: Part,
        /// Where it starts.
        offset: usize,
        /// The value found.
        value: i64,
        /// Why it is wrong, e.g. "is not a negated errno".
        reason: &'static str,
    },
    /// `attribute at offset {offset}: nested deeper than {limit} levels`
    TooDeep {
        /// Offset of the attribute that went over the limit.
        offset: usize,
        /// The nesting limit.
        limit: usize,
    },
    /// `{part} at offset {offset}: length {len} does not fit its length
    /// field (at most {max})`
    ///
    /// Raised by the message builder, which never truncates silently.
    TooLong {
        /// What was being built.
        part: Part,
        /// Where it starts in the message.
        offset: usize,
        /// The length it would need.
        len: usize,
        /// The most its length field can hold.
        max: usize,
    },
    /// `nested attribute at offset {offset}: closed out of order or never
    /// closed`
    ///
    /// Raised by the message builder.
    UnbalancedNest {
        /// Offset of the nest header in the message.
        offset: usize,
    },
    /// `kernel error {NAME} ({description}, errno {errno})[: {message}]`
    ///
    /// The peer answered with `NLMSG_ERROR` (or a failed `NLMSG_DONE`).
    Kernel {
        /// Positive errno value.
        errno: i32,
        /// The extended-ACK message (`NLMSGERR_ATTR_MSG`), if any.
        message: Option<String>,
    },
}

impl Error {
    /// A kernel error without an extended-ACK message.
    #[must_use]
    #[inline]
    pub fn kernel(errno: i32) -> Self {
        Self::Kernel {
            errno,
            message: None,
        }
    }

    /// The positive errno of a kernel error, like `io::Error::raw_os_error`.
    ///
    /// `None` for malformed input: that is our finding, not the kernel's, and
    /// callers usually map it to `EPROTO`.
    #[must_use]
    #[inline]
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Self::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// The byte offset the error refers to, if it refers to one.
    #[must_use]
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::Truncated { offset, .. }
            | Self::LengthPastEnd { offset, .. }
            | Self::LengthTooSmall { offset, .. }
            | Self::Misaligned { offset, .. }
            | Self::BadString { offset, .. }
            | Self::AttrSize { offset, .. }
            | Self::MissingAttr { offset, .. }
            | Self::BadValue { offset, .. }
            | Self::TooDeep { offset, .. }
            | Self::TooLong { offset, .. }
            | Self::UnbalancedNest { offset } => Some(*offset),
            Self::Kernel { .. } => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                part,
                offset,
                need,
                have,
            } => write!(
                f,
                "{part} at offset {offset}: needs {need} bytes, only {have} available"
            ),
            Self::LengthPastEnd {
                part,
                offset,
                len,
                available,
            } => write!(
                f,
                "{part} at offset {offset}: length {len} runs past end of buffer \
                 ({available} bytes available)"
            ),
            Self::LengthTooSmall {
                part,
                offset,
                len,
                min,
            } => write!(
                f,
                "{part} at offset {offset}: length {len} is smaller than its {min}-byte header"
            ),
            Self::Misaligned { part, offset } => {
                write!(f, "{part} at offset {offset}: not aligned to 4 bytes")
            }
            Self::BadString {
                attr,
                offset,
                problem,
            } => write!(f, "attribute {attr} at offset {offset}: {problem}"),
            Self::AttrSize {
                attr,
                offset,
                len,
                min,
                max,
            } => {
                write!(
                    f,
                    "attribute {attr} at offset {offset}: payload is {len} bytes, "
                )?;
                if min == max {
                    write!(f, "expected {min}")
                } else if *max == usize::MAX {
                    write!(f, "expected at least {min}")
                } else {
                    write!(f, "expected {min}..={max}")
                }
            }
            Self::MissingAttr { attr, name, offset } => {
                write!(f, "missing required attribute {attr}")?;
                if !name.is_empty() {
                    write!(f, " ({name})")?;
                }
                write!(f, " in attributes at offset {offset}")
            }
            Self::BadValue {
                part,
                offset,
                value,
                reason,
            } => write!(f, "{part} at offset {offset}: value {value} {reason}"),
            Self::TooDeep { offset, limit } => write!(
                f,
                "attribute at offset {offset}: nested deeper than {limit} levels"
            ),
            Self::TooLong {
                part,
                offset,
                len,
                max,
            } => write!(
                f,
                "{part} at offset {offset}: length {len} does not fit its length field \
                 (at most {max})"
            ),
            Self::UnbalancedNest { offset } => write!(
                f,
                "nested attribute at offset {offset}: closed out of order or never closed"
            ),
            Self::Kernel { errno, message } => {
                match errno_name(*errno) {
                    Some((name, text)) => write!(f, "kernel error {name} ({text}, errno {errno})")?,
                    None => write!(f, "kernel error (errno {errno})")?,
                }
                if let Some(msg) = message {
                    write!(f, ": {msg}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    /// Kernel errors keep their errno (`raw_os_error()` still works on the
    /// result); malformed input becomes `InvalidData` carrying our message.
    fn from(err: Error) -> Self {
        match err {
            Error::Kernel { errno, .. } => std::io::Error::from_raw_os_error(errno),
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_what_and_where() {
        let e = Error::LengthPastEnd {
            part: Part::Attr(3),
            offset: 20,
            len: 9,
            available: 8,
        };
        assert_eq!(
            e.to_string(),
            "attribute 3 at offset 20: length 9 runs past end of buffer (8 bytes available)"
        );
        assert_eq!(e.offset(), Some(20));
        assert_eq!(e.raw_os_error(), None);

        let e = Error::Truncated {
            part: Part::Message,
            offset: 0,
            need: 16,
            have: 5,
        };
        assert_eq!(
            e.to_string(),
            "message at offset 0: needs 16 bytes, only 5 available"
        );

        let e = Error::LengthTooSmall {
            part: Part::Message,
            offset: 32,
            len: 8,
            min: 16,
        };
        assert_eq!(
            e.to_string(),
            "message at offset 32: length 8 is smaller than its 16-byte header"
        );
    }

    #[test]
    fn display_attr_size_ranges() {
        let exact = Error::AttrSize {
            attr: 1,
            offset: 4,
            len: 3,
            min: 4,
            max: 4,
        };
        assert_eq!(
            exact.to_string(),
            "attribute 1 at offset 4: payload is 3 bytes, expected 4"
        );
        let open = Error::AttrSize {
            attr: 1,
            offset: 4,
            len: 0,
            min: 1,
            max: usize::MAX,
        };
        assert!(open.to_string().ends_with("expected at least 1"));
        let range = Error::AttrSize {
            attr: 1,
            offset: 4,
            len: 20,
            min: 1,
            max: 16,
        };
        assert!(range.to_string().ends_with("expected 1..=16"));
    }

    #[test]
    fn display_missing_attr_names_it() {
        let e = Error::MissingAttr {
            attr: 1,
            name: "CTRL_ATTR_FAMILY_ID",
            offset: 20,
        };
        assert_eq!(
            e.to_string(),
            "missing required attribute 1 (CTRL_ATTR_FAMILY_ID) in attributes at offset 20"
        );
    }

    #[test]
    fn kernel_errors_keep_errno() {
        let e = Error::Kernel {
            errno: 95,
            message: Some("Unknown device type".into()),
        };
        assert_eq!(e.raw_os_error(), Some(95));
        assert_eq!(e.offset(), None);
        assert_eq!(
            e.to_string(),
            "kernel error EOPNOTSUPP (Operation not supported, errno 95): Unknown device type"
        );
        assert_eq!(Error::kernel(4000).to_string(), "kernel error (errno 4000)");
        let io: std::io::Error = Error::kernel(2).into();
        assert_eq!(io.raw_os_error(), Some(2));
    }

    #[test]
    fn malformed_input_becomes_invalid_data() {
        let io: std::io::Error = Error::Misaligned {
            part: Part::Message,
            offset: 2,
        }
        .into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(
            io.to_string(),
            "message at offset 2: not aligned to 4 bytes"
        );
    }

    #[test]
    fn error_is_std_error_clone_eq() {
        fn assert_traits<T: std::error::Error + Clone + PartialEq + Send + Sync + 'static>() {}
        assert_traits::<Error>();
    }
}
