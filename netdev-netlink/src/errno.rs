//! Names of the Linux errno values a Netlink peer reports.
//!
//! Netlink errors are Linux errno numbers whatever host decodes them, so the
//! table is ours rather than the host's `strerror` (FreeBSD numbers several
//! of these differently). Only the values the kernel commonly returns on
//! Netlink are listed; others print as numbers.

/// Symbolic name and description of a positive Linux errno value, if known.
#[must_use]
pub fn errno_name(errno: i32) -> Option<(&'static str, &'static str)> {
    let entry = match errno {
        1 => ("EPERM", "Operation not permitted"),
        2 => ("ENOENT", "No such file or directory"),
        3 => ("ESRCH", "No such process"),
        4 => ("EINTR", "Interrupted system call"),
        5 => ("EIO", "Input/output error"),
        6 => ("ENXIO", "No such device or address"),
        7 => ("E2BIG", "Argument list too long"),
        9 => ("EBADF", "Bad file descriptor"),
        11 => ("EAGAIN", "Resource temporarily unavailable"),
        12 => ("ENOMEM", "Cannot allocate memory"),
        13 => ("EACCES", "Permission denied"),
        14 => ("EFAULT", "Bad address"),
        16 => ("EBUSY", "Device or resource busy"),
        17 => ("EEXIST", "File exists"),
        18 => ("EXDEV", "Invalid cross-device link"),
        19 => ("ENODEV", "No such device"),
        20 => ("ENOTDIR", "Not a directory"),
        21 => ("EISDIR", "Is a directory"),
        22 => ("EINVAL", "Invalid argument"),
        23 => ("ENFILE", "Too many open files in system"),
        24 => ("EMFILE", "Too many open files"),
        28 => ("ENOSPC", "No space left on device"),
        34 => ("ERANGE", "Numerical result out of range"),
        35 => ("EDEADLK", "Resource deadlock avoided"),
        36 => ("ENAMETOOLONG", "File name too long"),
        38 => ("ENOSYS", "Function not implemented"),
        39 => ("ENOTEMPTY", "Directory not empty"),
        61 => ("ENODATA", "No data available"),
        67 => ("ENOLINK", "Link has been severed"),
        71 => ("EPROTO", "Protocol error"),
        74 => ("EBADMSG", "Bad message"),
        75 => ("EOVERFLOW", "Value too large for defined data type"),
        90 => ("EMSGSIZE", "Message too long"),
        93 => ("EPROTONOSUPPORT", "Protocol not supported"),
        95 => ("EOPNOTSUPP", "Operation not supported"),
        97 => ("EAFNOSUPPORT", "Address family not supported by protocol"),
        98 => ("EADDRINUSE", "Address already in use"),
        99 => ("EADDRNOTAVAIL", "Cannot assign requested address"),
        100 => ("ENETDOWN", "Network is down"),
        101 => ("ENETUNREACH", "Network is unreachable"),
        105 => ("ENOBUFS", "No buffer space available"),
        106 => ("EISCONN", "Transport endpoint is already connected"),
        107 => ("ENOTCONN", "Transport endpoint is not connected"),
        110 => ("ETIMEDOUT", "Connection timed out"),
        111 => ("ECONNREFUSED", "Connection refused"),
        113 => ("EHOSTUNREACH", "No route to host"),
        114 => ("EALREADY", "Operation already in progress"),
        115 => ("EINPROGRESS", "Operation now in progress"),
        _ => return None,
    };
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_common_netlink_errnos() {
        assert_eq!(errno_name(2), Some(("ENOENT", "No such file or directory")));
        assert_eq!(errno_name(95).map(|e| e.0), Some("EOPNOTSUPP"));
        assert_eq!(errno_name(105).map(|e| e.0), Some("ENOBUFS"));
    }

    #[test]
    fn unknown_and_nonpositive_values_have_no_name() {
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(-2), None);
        assert_eq!(errno_name(4095), None);
    }
}
