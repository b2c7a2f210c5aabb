//! Interface name validation, done once at every boundary where a name
//! enters the library.

use crate::error::{Error, ErrorKind};

/// Longest interface name, in bytes, without the terminating NUL
/// (`IFNAMSIZ - 1` on Linux and FreeBSD).
pub const MAX_NAME_LEN: usize = 15;

/// Checks that `name` can be an interface name on every supported OS:
/// 1 to 15 bytes, no `/`, no whitespace, no control characters, not `.` or
/// `..` (Linux refuses those because names become sysfs directories).
///
/// The error says which rule failed, so a user can fix the name.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let bad = |why: String| Err(Error::new(ErrorKind::InvalidName(why)));
    if name.is_empty() {
        return bad("name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return bad(format!(
            "{name:?} is {} bytes long, the maximum is {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if name == "." || name == ".." {
        return bad(format!("{name:?} is reserved"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
    {
        let what = match c {
            '/' => "a '/'",
            ':' => "a ':' (reserved for aliases)",
            c if c.is_whitespace() => "whitespace",
            _ => "a control character",
        };
        return bad(format!("{name:?} contains {what}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "eth0",
            "br-int",
            "veth_a.100",
            "a",
            "123456789012345",
            "tap@x",
        ] {
            validate_name(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("1234567890123456", "16 bytes long"),
            ("a/b", "'/'"),
            ("a b", "whitespace"),
            ("a\tb", "whitespace"),
            ("a\u{a0}b", "whitespace"),
            ("a\u{1}b", "control"),
            ("a\u{7f}", "control"),
            ("eth0:1", "':'"),
            (".", "reserved"),
            ("..", "reserved"),
            // Multi-byte characters count in bytes, as the kernel counts.
            ("ééééééééé", "18 bytes"),
        ];
        for (name, why) in cases {
            let err = validate_name(name).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            assert!(
                err.to_string().contains(why),
                "{name:?}: {err} should mention {why}"
            );
        }
    }
}
