//! Interface name validation, done once at every boundary where a name
//! enters the library.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Error, ErrorKind};

/// Longest interface name, in bytes, without the terminating NUL
/// (`IFNAMSIZ - 1` on Linux and FreeBSD).
pub const MAX_NAME_LEN: usize = 15;

/// The rules every name follows: 1 to 15 bytes, not `.` or `..`.
fn check_length_and_reserved(name: &str) -> Result<(), Error> {
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
    Ok(())
}

/// Checks that `name` can be an interface name on every supported OS:
/// 1 to 15 bytes, no `/`, no whitespace, no control characters, not `.` or
/// `..` (Linux refuses those because names become sysfs directories).
///
/// The error says which rule failed, so a user can fix the name.
pub fn validate_name(name: &str) -> Result<(), Error> {
    check_length_and_reserved(name)?;
    let bad = |why: String| Err(Error::new(ErrorKind::InvalidName(why)));
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

/// Checks that `name` is one the OS itself allows for an existing device
/// (Linux's `dev_valid_name`, which FreeBSD's rules include): 1 to 15
/// bytes, not `.` or `..`, no `/`, no `:`, no whitespace as the kernel
/// counts it (space, `\t` to `\r`, and the byte 0xA0). Control characters
/// and other bytes are allowed: the kernel accepts them, so a device may
/// carry them, and the library must be able to open it.
///
/// [`crate::Registry::open`] checks names with this; front ends that create
/// devices or take names from people may use the stricter
/// [`validate_name`] on top.
pub fn validate_os_name(name: &str) -> Result<(), Error> {
    check_length_and_reserved(name)?;
    let bad = |why: String| Err(Error::new(ErrorKind::InvalidName(why)));
    if let Some(b) = name
        .bytes()
        .find(|b| matches!(b, b'/' | b':' | b' ' | b'\t'..=b'\r' | 0xa0))
    {
        let what = match b {
            b'/' => "a '/'",
            b':' => "a ':' (reserved for aliases)",
            _ => "whitespace",
        };
        return bad(format!("{name:?} contains {what}"));
    }
    Ok(())
}

/// Text from outside the program (device names above all) as it may go to
/// a terminal or a log: control characters and backslashes escaped the way
/// Rust writes them (`\u{1b}`, `\t`, `\\`), so a device name cannot move
/// the cursor, recolour or retitle the screen, and an escaped name cannot
/// pass for another; everything else as it is. JSON and other structured
/// output carry the exact text instead.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\' || is_invisible_format(c)
}

/// Unicode format characters (category Cf) and separators a terminal does
/// not show but obeys: bidirectional overrides (U+202E turns `eth0` into
/// what reads as another name), zero-width characters, line and paragraph
/// separators.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
    )
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("a character at a match");
            write!(f, "{}", c.escape_default())?;
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// [`Escaped`] text as a string, borrowed when nothing needed escaping.
pub fn escape(s: &str) -> Cow<'_, str> {
    if s.contains(needs_escape) {
        Cow::Owned(Escaped(s).to_string())
    } else {
        Cow::Borrowed(s)
    }
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

    #[test]
    fn os_names_follow_the_kernels_rules() {
        // Accepted by the kernel, so openable, though a person should not
        // type the ones with control characters (validate_name refuses
        // them).
        assert!(validate_name("red\u{1b}[31m").is_err());
        for ok in ["red\u{1b}[31m", "a\u{7f}", "\u{1}", "tab@x", "é", "a-b_c.d"] {
            validate_os_name(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for (bad, why) in [
            ("", "empty"),
            ("a b", "whitespace"),
            ("a\nb", "whitespace"),
            ("a\u{b}b", "whitespace"),
            ("\u{a0}", "whitespace"),
            ("eth0:1", "':'"),
            ("a/b", "'/'"),
            (".", "reserved"),
            ("1234567890123456", "16 bytes"),
        ] {
            let e = validate_os_name(bad).unwrap_err();
            assert!(e.to_string().contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn escaping_neutralises_control_characters() {
        assert!(matches!(escape("eth0"), Cow::Borrowed("eth0")));
        assert_eq!(escape("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(escape("a\\b"), "a\\\\b");
        assert_eq!(escape("tab\there"), "tab\\there");
        assert_eq!(Escaped("é\u{7}").to_string(), "é\\u{7}");
        // Invisible but obeyed: a right-to-left override, a zero-width
        // space.
        assert_eq!(escape("a\u{202e}b\u{200b}"), "a\\u{202e}b\\u{200b}");
        assert!(
            matches!(escape("日本"), Cow::Borrowed(_)),
            "printable stays"
        );
    }
}
