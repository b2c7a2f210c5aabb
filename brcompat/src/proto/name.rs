//! The interface-name rule applied to names that arrive in requests.
//!
//! The codec keeps names exactly as sent (any UTF-8, any length that fits
//! the message), so that a daemon can say what was wrong with one; the
//! daemon calls [`validate_request_name`] at the boundary, before a name
//! reaches the configuration or any program.

use netdev_core::{validate_name, Error, ErrorKind};

/// Checks a bridge or interface name taken from a request: the strict
/// rules of [`netdev_core::validate_name`] (1 to 15 bytes, not `.` or
/// `..`, no `/`, `:`, whitespace or control characters) and no leading `-`,
/// which programs given the name as an argument would read as an option.
///
/// The error is an [`ErrorKind::InvalidName`] (errno `EINVAL`) whose text
/// says which rule failed.
pub fn validate_request_name(name: &str) -> Result<(), Error> {
    validate_name(name)?;
    if name.starts_with('-') {
        return Err(Error::new(ErrorKind::InvalidName(format!(
            "{name:?} starts with '-' (it would read as an option)"
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "br0",
            "eth0",
            "br-int",
            "veth_a.100",
            "a-",
            "123456789012345",
        ] {
            validate_request_name(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
    }

    #[test]
    fn refuses_with_a_reason() {
        for (bad, why) in [
            ("", "empty"),
            ("1234567890123456", "16 bytes"),
            ("a/b", "'/'"),
            ("a b", "whitespace"),
            ("a\nb", "whitespace"),
            ("a\u{1b}b", "control"),
            ("a\u{7f}", "control"),
            ("..", "reserved"),
            ("eth0:1", "':'"),
            ("-h", "starts with '-'"),
            ("--help", "starts with '-'"),
        ] {
            let err = validate_request_name(bad).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(22), "{bad:?}");
            let text = err.to_string();
            assert!(text.contains(why), "{bad:?}: {text} should mention {why}");
            assert!(text.starts_with("invalid interface name"), "{text}");
        }
    }
}
