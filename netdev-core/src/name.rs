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

/// The most bytes an [`IfName`] holds: a name of [`MAX_NAME_LEN`] bytes
/// none of which was valid UTF-8, each turned into U+FFFD (three bytes) on
/// the way in, as decoders do with names the OS reports.
pub const IFNAME_CAPACITY: usize = 3 * MAX_NAME_LEN;

/// An interface name as a [`crate::Change`] carries it: held inline, so
/// that an event costs no allocation (a program waiting for a change
/// decodes it on its way, and an allocation there was a measurable part of
/// that wait).
///
/// It holds any non-empty text of up to [`IFNAME_CAPACITY`] bytes: every
/// name the OS reports fits (at most [`MAX_NAME_LEN`] bytes, more after a
/// lossy conversion of bytes that are not UTF-8). It checks no other rule:
/// it carries what the OS said, it does not vouch for it. Reads as a
/// `&str` ([`IfName::as_str`], `Deref`); compares, hashes and orders as
/// its text does.
#[derive(Clone, Copy)]
pub struct IfName {
    len: std::num::NonZeroU8,
    /// The text, then zeros.
    bytes: [u8; IFNAME_CAPACITY],
}

impl IfName {
    /// `name` inline; fails if it is empty or longer than
    /// [`IFNAME_CAPACITY`] bytes.
    pub fn new(name: &str) -> Result<IfName, Error> {
        IfName::inline(name.as_bytes()).ok_or_else(|| IfName::bad_length(name.as_bytes()))
    }

    /// `name`, which must be UTF-8, inline; fails if it is not, or if it
    /// is empty or longer than [`IFNAME_CAPACITY`] bytes. For decoders:
    /// an ASCII name (the usual one) is taken without a call.
    #[inline]
    pub fn from_utf8(name: &[u8]) -> Result<IfName, Error> {
        if !name.is_ascii() && std::str::from_utf8(name).is_err() {
            return Err(IfName::not_utf8(name));
        }
        IfName::inline(name).ok_or_else(|| IfName::bad_length(name))
    }

    /// `name` (UTF-8) inline if its length fits.
    #[inline]
    fn inline(name: &[u8]) -> Option<IfName> {
        if name.len() > IFNAME_CAPACITY {
            return None;
        }
        let len = std::num::NonZeroU8::new(u8::try_from(name.len()).ok()?)?;
        // A loop, not a copy of `name.len()` bytes: no call to `memcpy`.
        let mut bytes = [0; IFNAME_CAPACITY];
        for (d, s) in bytes.iter_mut().zip(name) {
            *d = *s;
        }
        Some(IfName { len, bytes })
    }

    #[cold]
    fn bad_length(name: &[u8]) -> Error {
        let shown = String::from_utf8_lossy(&name[..IFNAME_CAPACITY.min(name.len())]);
        Error::new(ErrorKind::InvalidName(format!(
            "{shown:?} is {} bytes long; a reported name has 1 to {IFNAME_CAPACITY}",
            name.len()
        )))
    }

    #[cold]
    fn not_utf8(name: &[u8]) -> Error {
        Error::new(ErrorKind::InvalidName(format!(
            "{:?} is not UTF-8",
            String::from_utf8_lossy(name)
        )))
    }

    /// The text's bytes (UTF-8).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len.get())]
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ever filled with UTF-8 (see `new` and `from_utf8`): always
        // valid. The fallback is never taken; it keeps this free of a
        // panic path.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl std::ops::Deref for IfName {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for IfName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for IfName {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for IfName {
    fn eq(&self, other: &IfName) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for IfName {}

impl PartialEq<str> for IfName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for IfName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for IfName {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for IfName {
    fn partial_cmp(&self, other: &IfName) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IfName {
    fn cmp(&self, other: &IfName) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for IfName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that `Borrow<str>` lookups work.
        self.as_str().hash(state);
    }
}

impl fmt::Debug for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The exact text: escape it ([`Escaped`]) before it goes to a terminal.
impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IfName {
    type Err = Error;

    fn from_str(s: &str) -> Result<IfName, Error> {
        IfName::new(s)
    }
}

impl TryFrom<&str> for IfName {
    type Error = Error;

    fn try_from(s: &str) -> Result<IfName, Error> {
        IfName::new(s)
    }
}

impl From<IfName> for String {
    fn from(n: IfName) -> String {
        n.as_str().to_owned()
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

    #[test]
    fn ifname_holds_any_reported_name_inline() {
        for ok in [
            "eth0",
            "a",
            "fifteen-bytes-x",
            "é",
            "\u{1b}[31m",
            "bad\u{fffd}name",
        ] {
            let n = IfName::new(ok).unwrap();
            assert_eq!(n.as_str(), ok);
            assert_eq!(n, ok);
            assert_eq!(format!("{n}"), ok);
            assert_eq!(format!("{n:?}"), format!("{ok:?}"));
        }
        // 15 bytes that are not UTF-8 become 15 replacement characters.
        let lossy = IfName::new(&String::from_utf8_lossy(&[0xff; MAX_NAME_LEN])).unwrap();
        assert_eq!(lossy.as_str(), "\u{fffd}".repeat(MAX_NAME_LEN));
        assert_eq!(lossy.len(), IFNAME_CAPACITY);
        assert_eq!(
            std::mem::size_of::<Option<IfName>>(),
            std::mem::size_of::<IfName>()
        );
    }

    #[test]
    fn ifname_from_utf8_takes_only_text() {
        assert_eq!(IfName::from_utf8(b"eth0").unwrap(), "eth0");
        assert_eq!(IfName::from_utf8("é0".as_bytes()).unwrap(), "é0");
        assert_eq!(IfName::from_utf8(b"eth0").unwrap().as_bytes(), b"eth0");
        for bad in [&b""[..], b"x\xff", &[b'x'; IFNAME_CAPACITY + 1]] {
            assert!(IfName::from_utf8(bad).is_err(), "{bad:?}");
        }
        assert!(IfName::from_utf8(b"x\xff")
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
    }

    #[test]
    fn ifname_refuses_empty_and_overlong_text() {
        assert!(IfName::new("").is_err());
        assert!(IfName::new(&"x".repeat(IFNAME_CAPACITY + 1)).is_err());
        assert!(IfName::new(&"x".repeat(300)).is_err());
        // A multi-byte character cut by the message stays a clean error.
        let e = IfName::new(&"é".repeat(40)).unwrap_err();
        assert!(e.to_string().contains("80 bytes"), "{e}");
    }

    #[test]
    fn ifname_compares_hashes_and_orders_as_its_text() {
        use std::collections::HashSet;
        let a = IfName::new("br0").unwrap();
        let b = IfName::new("br1").unwrap();
        assert!(a < b);
        let set: HashSet<IfName> = [a, b].into_iter().collect();
        assert!(set.contains("br0"));
        assert!(!set.contains("br2"));
        assert_eq!(String::from(a), "br0");
        assert_eq!("br1".parse::<IfName>().unwrap(), b);
    }
}
