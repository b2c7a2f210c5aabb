//! The one error type of the netdev layer.
//!
//! Every failure names the operation that failed, the device it concerned
//! (when there is one) and an errno-compatible [`ErrorKind`], so callers can
//! both print a useful message and branch on `raw_os_error()` the way C
//! callers of Open vSwitch's netdev library branch on errno values.

use std::fmt;
use std::io;
use std::sync::Arc;

/// Result alias used throughout the netdev crates.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, independent of which operation or device.
///
/// Each kind maps to one errno value (see [`ErrorKind::errno`]) so that code
/// ported from C can keep its errno checks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The device class does not implement this operation (`EOPNOTSUPP`).
    NotSupported,
    /// The device does not exist, or no longer exists (`ENODEV`).
    NoDevice,
    /// The device was removed (or removed and re-created under the same
    /// name) while this handle was open (`ENODEV`).
    Gone,
    /// An interface name failed validation; the string says why (`EINVAL`).
    InvalidName(String),
    /// No class is registered under this type name (`EAFNOSUPPORT`, the
    /// value Open vSwitch uses for an unknown netdev type).
    UnknownType(String),
    /// The device is already open with another type (`EEXIST`).
    TypeConflict {
        /// The type the device is open as.
        open_as: String,
        /// The type that was requested.
        requested: String,
    },
    /// A class with this type name is already registered (`EEXIST`).
    AlreadyRegistered(String),
    /// The resource is in use, for example a class with open devices
    /// (`EBUSY`).
    Busy,
    /// An argument is out of range or malformed; the string says how
    /// (`EINVAL`).
    InvalidInput(String),
    /// The device has no such address configured (`EADDRNOTAVAIL`).
    AddressNotAvailable,
    /// The operation would block; try again later (`EAGAIN`).
    WouldBlock,
    /// The device is administratively down (`ENETDOWN`).
    NetworkDown,
    /// Data from the kernel, a socket or a file was malformed; the string
    /// says how (`EPROTO`).
    Malformed(String),
    /// Any other operating-system error, by errno value.
    Os(i32),
}

impl ErrorKind {
    /// The errno value this kind corresponds to.
    pub fn errno(&self) -> i32 {
        match self {
            ErrorKind::NotSupported => libc::EOPNOTSUPP,
            ErrorKind::NoDevice | ErrorKind::Gone => libc::ENODEV,
            ErrorKind::InvalidName(_) | ErrorKind::InvalidInput(_) => libc::EINVAL,
            ErrorKind::UnknownType(_) => libc::EAFNOSUPPORT,
            ErrorKind::TypeConflict { .. } | ErrorKind::AlreadyRegistered(_) => libc::EEXIST,
            ErrorKind::Busy => libc::EBUSY,
            ErrorKind::AddressNotAvailable => libc::EADDRNOTAVAIL,
            ErrorKind::WouldBlock => libc::EAGAIN,
            ErrorKind::NetworkDown => libc::ENETDOWN,
            ErrorKind::Malformed(_) => libc::EPROTO,
            ErrorKind::Os(errno) => *errno,
        }
    }

    /// True for failures that say nothing about the device, only about the
    /// moment: an interrupted call, a full socket buffer, memory pressure, a
    /// timeout. Such answers are worth retrying and never cached.
    pub fn is_transient(&self) -> bool {
        let errno = self.errno();
        matches!(self, ErrorKind::WouldBlock)
            || [
                libc::EINTR,
                libc::EAGAIN,
                libc::ENOBUFS,
                libc::ENOMEM,
                libc::ETIMEDOUT,
            ]
            .contains(&errno)
    }

    /// The kind for an errno value, using the specific variants where one
    /// exists so that matching on kinds works for backend errors too.
    pub fn from_errno(errno: i32) -> ErrorKind {
        match errno {
            e if e == libc::EOPNOTSUPP => ErrorKind::NotSupported,
            e if e == libc::ENODEV || e == libc::ENXIO => ErrorKind::NoDevice,
            e if e == libc::EBUSY => ErrorKind::Busy,
            e if e == libc::EADDRNOTAVAIL => ErrorKind::AddressNotAvailable,
            e if e == libc::EAGAIN || e == libc::EWOULDBLOCK => ErrorKind::WouldBlock,
            e if e == libc::ENETDOWN => ErrorKind::NetworkDown,
            e => ErrorKind::Os(e),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::NotSupported => f.write_str("operation not supported"),
            ErrorKind::NoDevice => f.write_str("no such device"),
            ErrorKind::Gone => f.write_str("device was removed while open"),
            ErrorKind::InvalidName(why) => write!(f, "invalid interface name: {why}"),
            ErrorKind::UnknownType(t) => write!(f, "unknown device type {t:?}"),
            ErrorKind::TypeConflict { open_as, requested } => write!(
                f,
                "device is already open as type {open_as:?}, cannot open it as {requested:?}"
            ),
            ErrorKind::AlreadyRegistered(t) => {
                write!(f, "a class of type {t:?} is already registered")
            }
            ErrorKind::Busy => f.write_str("resource busy"),
            ErrorKind::InvalidInput(why) => write!(f, "invalid argument: {why}"),
            ErrorKind::AddressNotAvailable => f.write_str("no such address configured"),
            ErrorKind::WouldBlock => f.write_str("operation would block"),
            ErrorKind::NetworkDown => f.write_str("device is down"),
            ErrorKind::Malformed(why) => write!(f, "malformed data: {why}"),
            ErrorKind::Os(errno) => write!(f, "{}", io::Error::from_raw_os_error(*errno)),
        }
    }
}

/// An error from a netdev operation: which operation, on which device, and
/// what went wrong.
///
/// Cheap to clone (the device cache keeps errors as well as values). Backends
/// build errors without context ([`Error::new`], [`Error::from_errno`],
/// `From<io::Error>`); the core fills in the operation and device name before
/// the error reaches the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    device: Option<Arc<str>>,
    kind: ErrorKind,
    detail: Option<Arc<str>>,
}

impl Error {
    /// An error of `kind` with no operation or device attached yet.
    pub fn new(kind: ErrorKind) -> Error {
        Error {
            op: "",
            device: None,
            kind,
            detail: None,
        }
    }

    /// An error from an errno value.
    pub fn from_errno(errno: i32) -> Error {
        Error::new(ErrorKind::from_errno(errno))
    }

    /// The "this class cannot do that" error that provider defaults return.
    pub fn not_supported() -> Error {
        Error::new(ErrorKind::NotSupported)
    }

    /// Sets the operation name unless one is already set, so the innermost
    /// (most specific) operation wins.
    pub fn with_op(mut self, op: &'static str) -> Error {
        if self.op.is_empty() {
            self.op = op;
        }
        self
    }

    /// Sets the device name unless one is already set.
    pub fn with_device(mut self, device: impl Into<Arc<str>>) -> Error {
        if self.device.is_none() {
            self.device = Some(device.into());
        }
        self
    }

    /// Attaches a free-form detail (for example the ioctl that failed),
    /// printed after the kind.
    pub fn with_detail(mut self, detail: impl Into<Arc<str>>) -> Error {
        self.detail = Some(detail.into());
        self
    }

    /// The operation that failed ("" if none was attached).
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The device concerned, if any.
    pub fn device(&self) -> Option<&str> {
        self.device.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The errno value of this error; always `Some`, named like
    /// [`std::io::Error::raw_os_error`] so the two read alike.
    pub fn raw_os_error(&self) -> Option<i32> {
        Some(self.kind.errno())
    }

    /// See [`ErrorKind::is_transient`].
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// True if this is the default answer of an operation the class does not
    /// implement.
    pub fn is_not_supported(&self) -> bool {
        self.kind == ErrorKind::NotSupported
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dev) = &self.device {
            // Names come from the OS and may hold control characters.
            write!(f, "{}: ", crate::name::Escaped(dev))?;
        }
        if !self.op.is_empty() {
            write!(f, "{}: ", self.op)?;
        }
        write!(f, "{}", self.kind)?;
        if let Some(detail) = &self.detail {
            // Details quote paths and names from outside too.
            write!(f, " ({})", crate::name::Escaped(detail))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        // An io::Error made from one of ours: give back the original, with
        // its operation, device and detail (the tap class's "a device of
        // another type has that name", say), not just its errno.
        if let Some(coded) = e.get_ref().and_then(|i| i.downcast_ref::<OsCoded>()) {
            return coded.inner.clone();
        }
        if let Some(errno) = e.raw_os_error() {
            return Error::from_errno(errno);
        }
        let kind = match e.kind() {
            io::ErrorKind::WouldBlock => ErrorKind::WouldBlock,
            io::ErrorKind::Unsupported => ErrorKind::NotSupported,
            io::ErrorKind::InvalidInput => ErrorKind::InvalidInput(e.to_string()),
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                ErrorKind::Malformed(e.to_string())
            }
            // Kinds that name one errno keep it, so callers branching on
            // `raw_os_error()` see what happened rather than a generic EIO.
            other => ErrorKind::from_errno(errno_for_io_kind(other).unwrap_or(libc::EIO)),
        };
        let detail = e.to_string();
        Error::new(kind).with_detail(detail)
    }
}

/// The errno an `io::ErrorKind` stands for, where it stands for one.
fn errno_for_io_kind(kind: io::ErrorKind) -> Option<i32> {
    use io::ErrorKind as K;
    Some(match kind {
        K::NotFound => libc::ENOENT,
        K::PermissionDenied => libc::EPERM,
        K::ConnectionRefused => libc::ECONNREFUSED,
        K::ConnectionReset => libc::ECONNRESET,
        K::ConnectionAborted => libc::ECONNABORTED,
        K::NotConnected => libc::ENOTCONN,
        K::AddrInUse => libc::EADDRINUSE,
        K::AddrNotAvailable => libc::EADDRNOTAVAIL,
        K::BrokenPipe => libc::EPIPE,
        K::AlreadyExists => libc::EEXIST,
        K::TimedOut => libc::ETIMEDOUT,
        K::Interrupted => libc::EINTR,
        K::OutOfMemory => libc::ENOMEM,
        _ => return None,
    })
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let errno = e.kind.errno();
        // Keep the errno retrievable while carrying the full message.
        let kind = io::Error::from_raw_os_error(errno).kind();
        io::Error::new(kind, OsCoded { errno, inner: e })
    }
}

/// Payload of an `io::Error` converted from [`Error`]: keeps the message and
/// lets [`errno_of`] recover the errno value.
#[derive(Debug)]
struct OsCoded {
    errno: i32,
    inner: Error,
}

impl fmt::Display for OsCoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::error::Error for OsCoded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// The errno value of an `io::Error`, whether it came from the OS or from a
/// converted netdev [`Error`] (whose `raw_os_error()` is `None` once wrapped,
/// because `std` only reports codes for errors it built itself).
pub fn errno_of(e: &io::Error) -> Option<i32> {
    e.raw_os_error().or_else(|| {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<OsCoded>())
            .map(|c| c.errno)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_device_op_and_kind() {
        let e = Error::new(ErrorKind::NotSupported)
            .with_op("set_mtu")
            .with_device("eth0");
        assert_eq!(e.to_string(), "eth0: set_mtu: operation not supported");
        assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP));
    }

    #[test]
    fn display_escapes_names_and_details() {
        let e = Error::new(ErrorKind::NoDevice)
            .with_op("open")
            .with_device("\u{1b}]0;pwned\u{7}")
            .with_detail("path /tmp/\u{1b}[2J");
        let text = e.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert_eq!(
            text,
            "\\u{1b}]0;pwned\\u{7}: open: no such device (path /tmp/\\u{1b}[2J)"
        );
        // The error itself keeps the exact name.
        assert_eq!(e.device(), Some("\u{1b}]0;pwned\u{7}"));
    }

    #[test]
    fn innermost_context_wins() {
        let e = Error::from_errno(libc::EPERM)
            .with_op("ioctl")
            .with_op("set_mtu")
            .with_device("a")
            .with_device("b");
        assert_eq!(e.op(), "ioctl");
        assert_eq!(e.device(), Some("a"));
        assert_eq!(e.kind(), &ErrorKind::Os(libc::EPERM));
    }

    #[test]
    fn errno_mapping_round_trips() {
        for errno in [
            libc::EOPNOTSUPP,
            libc::ENODEV,
            libc::EBUSY,
            libc::EADDRNOTAVAIL,
            libc::EAGAIN,
            libc::ENETDOWN,
            libc::EPERM,
            libc::ENOBUFS,
        ] {
            assert_eq!(ErrorKind::from_errno(errno).errno(), errno);
        }
        // ENXIO is what some ioctls return for a missing device.
        assert_eq!(ErrorKind::from_errno(libc::ENXIO), ErrorKind::NoDevice);
    }

    #[test]
    fn converts_to_io_error_keeping_errno_and_message() {
        let e = Error::new(ErrorKind::TypeConflict {
            open_as: "tap".into(),
            requested: "system".into(),
        })
        .with_op("open")
        .with_device("br0");
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(errno_of(&io), Some(libc::EEXIST));
        assert!(io.to_string().contains("already open as type \"tap\""));
    }

    #[test]
    fn converts_from_io_error() {
        let e: Error = io::Error::from_raw_os_error(libc::ENODEV).into();
        assert_eq!(e.kind(), &ErrorKind::NoDevice);
        // Round trip through io::Error keeps the errno.
        let e: Error = io::Error::from(Error::new(ErrorKind::Busy)).into();
        assert_eq!(e.raw_os_error(), Some(libc::EBUSY));
        let e: Error = io::Error::new(io::ErrorKind::InvalidData, "bad").into();
        assert_eq!(e.raw_os_error(), Some(libc::EPROTO));
        assert!(e.to_string().contains("bad"));
    }

    #[test]
    fn io_round_trip_keeps_operation_device_and_detail() {
        let original = Error::from_errno(libc::EEXIST)
            .with_op("open")
            .with_device("t0")
            .with_detail("a device of another type has that name");
        let back: Error = io::Error::from(original.clone()).into();
        assert_eq!(back, original);
        assert_eq!(
            back.to_string(),
            "t0: open: File exists (os error 17) (a device of another type has that name)"
        );
        // A second round trip, as through two layers of io::Result.
        let twice: Error = io::Error::from(back).into();
        assert_eq!(twice, original);
    }

    #[test]
    fn io_kinds_without_errno_keep_their_meaning() {
        for (kind, errno) in [
            (io::ErrorKind::PermissionDenied, libc::EPERM),
            (io::ErrorKind::NotFound, libc::ENOENT),
            (io::ErrorKind::TimedOut, libc::ETIMEDOUT),
            (io::ErrorKind::Interrupted, libc::EINTR),
            (io::ErrorKind::AlreadyExists, libc::EEXIST),
        ] {
            let e: Error = io::Error::new(kind, "why").into();
            assert_eq!(e.raw_os_error(), Some(errno), "{kind:?}");
            assert!(e.to_string().contains("why"), "{e}");
        }
        let e: Error = io::Error::other("strange").into();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
    }
}
