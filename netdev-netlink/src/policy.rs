//! Policy-checked attribute parsing, after the C original's
//! `nl_policy_parse`.
//!
//! A policy is a table indexed by attribute type. Each entry says what the
//! attribute must look like (integer width, string, flag, nested with its
//! own policy), optional length bounds, and whether it may be absent.
//! Parsing checks every attribute the table knows, skips those it does not,
//! enforces the required ones, and hands back a [`Parsed`] that gives typed
//! access by index while borrowing from the receive buffer.
//!
//! Rules, where the C original or the kernel leave room:
//! - Unknown attributes (beyond the table, or with an [`AttrKind::Unused`]
//!   entry) are skipped, so newer kernels can add attributes.
//! - Duplicates: the last occurrence wins (the kernel's `nla_parse` does the
//!   same); earlier ones are still validated.
//! - Flags are never required: absence is their "false".
//! - Lengths are payload bytes; for strings the NUL terminator counts, so
//!   `max_len(16)` admits a 15-character interface name.
//! - Nested policies are checked recursively, at most [`MAX_DEPTH`] levels.

use std::ffi::CStr;
use std::fmt;

use super::attr::{check_cstr, Attr, AttrIter};
use super::error::Error;

/// How deep nested policies are followed before giving up; guards the
/// stack against self-referential policy tables fed hostile input.
pub const MAX_DEPTH: usize = 16;

/// The shape an attribute must have.
#[derive(Clone, Copy)]
pub enum AttrKind {
    /// No policy: attributes of this type are skipped.
    Unused,
    /// Any bytes (`NLA_UNSPEC`).
    Unspec,
    /// Exactly 1 byte.
    U8,
    /// Exactly 2 bytes.
    U16,
    /// Exactly 4 bytes.
    U32,
    /// Exactly 8 bytes.
    U64,
    /// NUL-terminated, no NUL before the terminator.
    String,
    /// Empty payload; presence means true.
    Flag,
    /// Attributes checked against the given policy.
    Nested(&'static [Policy]),
    /// A nest of nests (the kernel's "nested array", e.g.
    /// `CTRL_ATTR_MCAST_GROUPS`): each child's type is an index and is
    /// ignored, each child's contents are checked against the policy.
    NestedArray(&'static [Policy]),
}

// Hand-written because a policy may refer to itself through `Nested`, and a
// derived `Debug` would then recurse forever.
impl fmt::Debug for AttrKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unused => f.write_str("Unused"),
            Self::Unspec => f.write_str("Unspec"),
            Self::U8 => f.write_str("U8"),
            Self::U16 => f.write_str("U16"),
            Self::U32 => f.write_str("U32"),
            Self::U64 => f.write_str("U64"),
            Self::String => f.write_str("String"),
            Self::Flag => f.write_str("Flag"),
            Self::Nested(p) => write!(f, "Nested(<{} entries>)", p.len()),
            Self::NestedArray(p) => write!(f, "NestedArray(<{} entries>)", p.len()),
        }
    }
}

/// The policy for one attribute type.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    kind: AttrKind,
    min_len: usize,
    max_len: usize,
    optional: bool,
    name: &'static str,
}

impl Policy {
    /// No policy: attributes of this type are skipped.
    pub const UNUSED: Self = Self::new(AttrKind::Unused, "");

    /// A policy for `kind` with its default length bounds; `name` is used in
    /// "missing required attribute" errors.
    #[must_use]
    #[inline]
    pub const fn new(kind: AttrKind, name: &'static str) -> Self {
        let (min_len, max_len) = match kind {
            AttrKind::U8 => (1, 1),
            AttrKind::U16 => (2, 2),
            AttrKind::U32 => (4, 4),
            AttrKind::U64 => (8, 8),
            AttrKind::String => (1, usize::MAX),
            AttrKind::Flag => (0, 0),
            AttrKind::Unused
            | AttrKind::Unspec
            | AttrKind::Nested(_)
            | AttrKind::NestedArray(_) => (0, usize::MAX),
        };
        Self {
            kind,
            min_len,
            max_len,
            optional: false,
            name,
        }
    }

    /// A required `u8`.
    #[must_use]
    #[inline]
    pub const fn u8(name: &'static str) -> Self {
        Self::new(AttrKind::U8, name)
    }

    /// A required `u16`.
    #[must_use]
    #[inline]
    pub const fn u16(name: &'static str) -> Self {
        Self::new(AttrKind::U16, name)
    }

    /// A required `u32`.
    #[must_use]
    #[inline]
    pub const fn u32(name: &'static str) -> Self {
        Self::new(AttrKind::U32, name)
    }

    /// A required `u64`.
    #[must_use]
    #[inline]
    pub const fn u64(name: &'static str) -> Self {
        Self::new(AttrKind::U64, name)
    }

    /// A required string.
    #[must_use]
    #[inline]
    pub const fn string(name: &'static str) -> Self {
        Self::new(AttrKind::String, name)
    }

    /// A flag (never required).
    #[must_use]
    #[inline]
    pub const fn flag(name: &'static str) -> Self {
        Self::new(AttrKind::Flag, name)
    }

    /// Required raw bytes of any length (narrow with `min_len`/`max_len`).
    #[must_use]
    #[inline]
    pub const fn unspec(name: &'static str) -> Self {
        Self::new(AttrKind::Unspec, name)
    }

    /// A required nest checked against `policy`.
    #[must_use]
    #[inline]
    pub const fn nested(name: &'static str, policy: &'static [Policy]) -> Self {
        Self::new(AttrKind::Nested(policy), name)
    }

    /// A required nested array whose elements are checked against `policy`.
    #[must_use]
    #[inline]
    pub const fn nested_array(name: &'static str, policy: &'static [Policy]) -> Self {
        Self::new(AttrKind::NestedArray(policy), name)
    }

    /// The same policy, but the attribute may be absent.
    #[must_use]
    #[inline]
    pub const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// The same policy with a different smallest payload length. Meant for
    /// strings, bytes and nests; integer kinds keep their exact width so
    /// their typed getters cannot fail.
    #[must_use]
    #[inline]
    pub const fn min_len(mut self, len: usize) -> Self {
        self.min_len = len;
        self
    }

    /// The same policy with a different largest payload length (see
    /// [`min_len`](Self::min_len)).
    #[must_use]
    #[inline]
    pub const fn max_len(mut self, len: usize) -> Self {
        self.max_len = len;
        self
    }

    /// What the attribute must look like.
    #[must_use]
    #[inline]
    pub const fn kind(&self) -> AttrKind {
        self.kind
    }

    /// The name used in error messages.
    #[must_use]
    #[inline]
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Whether parsing fails when the attribute is absent.
    #[must_use]
    #[inline]
    pub const fn is_required(&self) -> bool {
        !self.optional && !matches!(self.kind, AttrKind::Unused | AttrKind::Flag)
    }
}

/// Builds a policy table of `N` entries from `(attribute type, policy)`
/// pairs; the types not listed get [`Policy::UNUSED`].
///
/// Meant for `static`/`const` items, where an attribute type `>= N` is a
/// compile-time error:
///
/// ```
/// use netdev_netlink::{policy_table, Policy};
/// static FAMILY: [Policy; 3] = policy_table(&[
///     (1, Policy::u16("FAMILY_ID")),
///     (2, Policy::string("FAMILY_NAME").optional()),
/// ]);
/// assert!(FAMILY[1].is_required());
/// assert!(!FAMILY[0].is_required());
/// ```
///
/// # Panics
///
/// If an attribute type is `>= N` (at compile time in a const context).
#[must_use]
#[inline]
pub const fn policy_table<const N: usize>(entries: &[(u16, Policy)]) -> [Policy; N] {
    let mut table = [Policy::UNUSED; N];
    let mut i = 0;
    while i < entries.len() {
        let (ty, policy) = entries[i];
        table[ty as usize] = policy;
        i += 1;
    }
    table
}

/// Checks one attribute against its policy entry.
fn check(attr: &Attr<'_>, policy: &Policy, depth: usize) -> Result<(), Error> {
    let payload = attr.payload();
    let len = payload.len();
    if len < policy.min_len || len > policy.max_len {
        return Err(Error::AttrSize {
            attr: attr.kind(),
            offset: attr.offset(),
            len,
            min: policy.min_len,
            max: policy.max_len,
        });
    }
    match policy.kind {
        AttrKind::String => check_cstr(payload)
            .map(drop)
            .map_err(|problem| Error::BadString {
                attr: attr.kind(),
                offset: attr.offset(),
                problem,
            }),
        AttrKind::Nested(sub) => {
            let depth = deeper(attr, depth)?;
            walk(attr.nested(), sub, None, depth)
        }
        AttrKind::NestedArray(sub) => {
            let depth = deeper(attr, depth)?;
            for element in attr.nested() {
                walk(element?.nested(), sub, None, depth)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn deeper(attr: &Attr<'_>, depth: usize) -> Result<usize, Error> {
    if depth >= MAX_DEPTH {
        return Err(Error::TooDeep {
            offset: attr.offset(),
            limit: MAX_DEPTH,
        });
    }
    Ok(depth + 1)
}

/// Validates `attrs` against `policy`; with `slots`, also records the last
/// attribute of each known type in `slots[type]`.
fn walk<'a>(
    attrs: AttrIter<'a>,
    policy: &[Policy],
    mut slots: Option<&mut [Option<Attr<'a>>]>,
    depth: usize,
) -> Result<(), Error> {
    let base = attrs.base();
    for attr in attrs.clone() {
        let attr = attr?;
        let index = usize::from(attr.kind());
        let Some(entry) = policy.get(index) else {
            continue;
        };
        if matches!(entry.kind, AttrKind::Unused) {
            continue;
        }
        check(&attr, entry, depth)?;
        if let Some(slot) = slots.as_deref_mut().and_then(|s| s.get_mut(index)) {
            *slot = Some(attr);
        }
    }
    for (index, entry) in policy.iter().enumerate() {
        if !entry.is_required() {
            continue;
        }
        let present = match slots.as_deref() {
            Some(slots) => slots.get(index).is_some_and(Option::is_some),
            // Nested levels keep no slots; the list is known to be well
            // formed by now, so a rescan cannot fail.
            None => attrs
                .clone()
                .any(|a| a.is_ok_and(|a| usize::from(a.kind()) == index)),
        };
        if !present {
            return Err(Error::MissingAttr {
                attr: u16::try_from(index).unwrap_or(u16::MAX),
                name: entry.name,
                offset: base,
            });
        }
    }
    Ok(())
}

/// Checks `attrs` against a policy of any length without keeping results,
/// e.g. to validate a nest before handing it to code that iterates it.
#[inline]
pub fn validate(attrs: AttrIter<'_>, policy: &[Policy]) -> Result<(), Error> {
    walk(attrs, policy, None, 0)
}

/// Attributes that passed a policy, by type; borrows the receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct Parsed<'a, const N: usize> {
    slots: [Option<Attr<'a>>; N],
    policy: &'static [Policy; N],
    base: usize,
}

impl<'a> AttrIter<'a> {
    /// Parses this attribute list against `policy`; see [`Parsed::parse`].
    #[inline]
    pub fn parse<const N: usize>(
        self,
        policy: &'static [Policy; N],
    ) -> Result<Parsed<'a, N>, Error> {
        Parsed::parse(self, policy)
    }
}

impl<'a, const N: usize> Parsed<'a, N> {
    /// Checks every attribute against `policy` (see the module rules) and
    /// keeps the last attribute of each known type.
    #[inline]
    pub fn parse(attrs: AttrIter<'a>, policy: &'static [Policy; N]) -> Result<Self, Error> {
        let base = attrs.base();
        let mut slots = [None; N];
        walk(attrs, policy, Some(slots.as_mut_slice()), 0)?;
        Ok(Self {
            slots,
            policy,
            base,
        })
    }

    /// The attribute of type `idx`, if present and known to the policy.
    #[must_use]
    #[inline]
    pub fn get(&self, idx: u16) -> Option<Attr<'a>> {
        self.slots.get(usize::from(idx)).copied().flatten()
    }

    /// Whether the attribute of type `idx` is present.
    #[must_use]
    #[inline]
    pub fn has(&self, idx: u16) -> bool {
        self.get(idx).is_some()
    }

    /// A flag attribute: true when present.
    #[must_use]
    #[inline]
    pub fn flag(&self, idx: u16) -> bool {
        self.has(idx)
    }

    /// The attributes present, in type order.
    #[inline]
    pub fn iter(&self) -> impl Iterator<Item = Attr<'a>> + '_ {
        self.slots.iter().filter_map(|s| *s)
    }

    /// The attribute of type `idx`, or `MissingAttr` naming it.
    #[inline]
    pub fn require(&self, idx: u16) -> Result<Attr<'a>, Error> {
        self.get(idx).ok_or_else(|| Error::MissingAttr {
            attr: idx,
            name: self.policy.get(usize::from(idx)).map_or("", |p| p.name),
            offset: self.base,
        })
    }

    /// Applies `get` to the attribute of type `idx` if it is present:
    /// `parsed.opt(IFLA_MTU, Attr::get_u32)?` reads an optional `u32`.
    #[inline]
    pub fn opt<T>(
        &self,
        idx: u16,
        get: impl FnOnce(&Attr<'a>) -> Result<T, Error>,
    ) -> Result<Option<T>, Error> {
        self.get(idx).map(|a| get(&a)).transpose()
    }

    /// The `u8` attribute of type `idx`.
    #[inline]
    pub fn u8(&self, idx: u16) -> Result<u8, Error> {
        self.require(idx)?.get_u8()
    }

    /// The `u16` attribute of type `idx`.
    #[inline]
    pub fn u16(&self, idx: u16) -> Result<u16, Error> {
        self.require(idx)?.get_u16()
    }

    /// The `u32` attribute of type `idx`.
    #[inline]
    pub fn u32(&self, idx: u16) -> Result<u32, Error> {
        self.require(idx)?.get_u32()
    }

    /// The `u64` attribute of type `idx`.
    #[inline]
    pub fn u64(&self, idx: u16) -> Result<u64, Error> {
        self.require(idx)?.get_u64()
    }

    /// The `i32` attribute of type `idx`.
    #[inline]
    pub fn i32(&self, idx: u16) -> Result<i32, Error> {
        self.require(idx)?.get_i32()
    }

    /// The string attribute of type `idx`, as UTF-8.
    #[inline]
    pub fn str(&self, idx: u16) -> Result<&'a str, Error> {
        self.require(idx)?.get_str()
    }

    /// The string attribute of type `idx`, as a C string.
    #[inline]
    pub fn cstr(&self, idx: u16) -> Result<&'a CStr, Error> {
        self.require(idx)?.get_cstr()
    }

    /// The payload of the attribute of type `idx`.
    #[inline]
    pub fn bytes(&self, idx: u16) -> Result<&'a [u8], Error> {
        Ok(self.require(idx)?.get_bytes())
    }

    /// The nest of type `idx`, parsed against `policy` (normally the same
    /// table its entry names).
    #[inline]
    pub fn nested<const M: usize>(
        &self,
        idx: u16,
        policy: &'static [Policy; M],
    ) -> Result<Parsed<'a, M>, Error> {
        Parsed::parse(self.require(idx)?.nested(), policy)
    }

    /// The elements of the nested array of type `idx`, each parsed against
    /// `policy`.
    #[inline]
    pub fn nested_array<const M: usize>(
        &self,
        idx: u16,
        policy: &'static [Policy; M],
    ) -> Result<NestedArray<'a, M>, Error> {
        Ok(NestedArray {
            elements: self.require(idx)?.nested(),
            policy,
        })
    }
}

/// Iterator over the elements of a nested array, each parsed against a
/// policy; stops after the first error.
#[derive(Clone, Debug)]
pub struct NestedArray<'a, const M: usize> {
    elements: AttrIter<'a>,
    policy: &'static [Policy; M],
}

impl<'a, const M: usize> Iterator for NestedArray<'a, M> {
    type Item = Result<Parsed<'a, M>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let element = self.elements.next()?;
        let parsed = element.and_then(|e| Parsed::parse(e.nested(), self.policy));
        if parsed.is_err() {
            // An element that fails its policy ends the walk too, so every
            // error is the last item, as with the other iterators.
            self.elements = AttrIter::new(&[]);
        }
        Some(parsed)
    }
}

impl<const M: usize> std::iter::FusedIterator for NestedArray<'_, M> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::MsgBuilder;
    use crate::error::StringProblem;
    use crate::msg::Msg;

    const A_U8: u16 = 1;
    const A_U16: u16 = 2;
    const A_U32: u16 = 3;
    const A_U64: u16 = 4;
    const A_STR: u16 = 5;
    const A_FLAG: u16 = 6;
    const A_BYTES: u16 = 7;
    const A_NEST: u16 = 8;
    const A_ARRAY: u16 = 9;
    const A_OPT: u16 = 10;

    static INNER: [Policy; 3] = policy_table(&[
        (1, Policy::u32("INNER_ID")),
        (2, Policy::string("INNER_NAME").optional()),
    ]);

    static TOP: [Policy; 11] = policy_table(&[
        (A_U8, Policy::u8("A_U8")),
        (A_U16, Policy::u16("A_U16")),
        (A_U32, Policy::u32("A_U32")),
        (A_U64, Policy::u64("A_U64").optional()),
        (A_STR, Policy::string("A_STR").max_len(16)),
        (A_FLAG, Policy::flag("A_FLAG")),
        (
            A_BYTES,
            Policy::unspec("A_BYTES").min_len(2).max_len(6).optional(),
        ),
        (A_NEST, Policy::nested("A_NEST", &INNER).optional()),
        (A_ARRAY, Policy::nested_array("A_ARRAY", &INNER).optional()),
        (A_OPT, Policy::u32("A_OPT").optional()),
    ]);

    /// Builds a message with the required attributes plus whatever `more`
    /// appends, and returns its bytes.
    fn build(more: impl FnOnce(&mut MsgBuilder)) -> Vec<u8> {
        let mut b = MsgBuilder::new(16, 0);
        b.put_u8(A_U8, 1)
            .put_u16(A_U16, 2)
            .put_u32(A_U32, 3)
            .put_str(A_STR, "eth0");
        more(&mut b);
        b.finish().unwrap().to_vec()
    }

    fn parse(bytes: &[u8]) -> Result<Parsed<'_, 11>, Error> {
        Msg::parse(bytes)?.attrs(0)?.parse(&TOP)
    }

    #[test]
    fn required_attributes_parse_into_typed_values() {
        let bytes = build(|b| {
            b.put_u64(A_U64, 4)
                .put_flag(A_FLAG)
                .put_bytes(A_BYTES, &[1, 2, 3]);
        });
        let p = parse(&bytes).unwrap();
        assert_eq!(p.u8(A_U8), Ok(1));
        assert_eq!(p.u16(A_U16), Ok(2));
        assert_eq!(p.u32(A_U32), Ok(3));
        assert_eq!(p.u64(A_U64), Ok(4));
        assert_eq!(p.str(A_STR), Ok("eth0"));
        assert_eq!(p.cstr(A_STR).unwrap().to_bytes(), b"eth0");
        assert!(p.flag(A_FLAG));
        assert_eq!(p.bytes(A_BYTES), Ok(&[1u8, 2, 3][..]));
        assert_eq!(p.opt(A_OPT, Attr::get_u32), Ok(None));
        assert_eq!(p.opt(A_U32, Attr::get_u32), Ok(Some(3)));
        assert_eq!(p.iter().count(), 7);
    }

    #[test]
    fn missing_required_attribute_is_named() {
        let mut b = MsgBuilder::new(16, 0);
        b.put_u8(A_U8, 1).put_u32(A_U32, 3).put_str(A_STR, "x");
        let bytes = b.finish().unwrap().to_vec();
        let err = parse(&bytes).unwrap_err();
        assert_eq!(
            err,
            Error::MissingAttr {
                attr: A_U16,
                name: "A_U16",
                offset: 16,
            }
        );
        assert_eq!(
            err.to_string(),
            "missing required attribute 2 (A_U16) in attributes at offset 16"
        );
    }

    #[test]
    fn optional_and_flag_attributes_may_be_absent() {
        let bytes = build(|_| {});
        let p = parse(&bytes).unwrap();
        assert!(!p.flag(A_FLAG));
        assert!(!p.has(A_U64));
        assert_eq!(
            p.u64(A_U64),
            Err(Error::MissingAttr {
                attr: A_U64,
                name: "A_U64",
                offset: 16,
            })
        );
        // Beyond the table: no name, still an error not a panic.
        assert!(matches!(
            p.u32(500),
            Err(Error::MissingAttr {
                attr: 500,
                name: "",
                ..
            })
        ));
    }

    #[test]
    fn integer_sizes_are_exact() {
        // A_U32 sent as 2 bytes.
        let mut b = MsgBuilder::new(16, 0);
        b.put_u8(A_U8, 1).put_u16(A_U16, 2).put_u16(A_U32, 3);
        let bytes = b.finish().unwrap().to_vec();
        assert_eq!(
            parse(&bytes).unwrap_err(),
            Error::AttrSize {
                attr: A_U32,
                offset: 32,
                len: 2,
                min: 4,
                max: 4,
            }
        );
    }

    #[test]
    fn min_and_max_length_overrides() {
        let short = build(|b| {
            b.put_bytes(A_BYTES, &[1]);
        });
        assert!(matches!(
            parse(&short),
            Err(Error::AttrSize {
                attr: A_BYTES,
                len: 1,
                min: 2,
                max: 6,
                ..
            })
        ));
        let long = build(|b| {
            b.put_bytes(A_BYTES, &[0; 7]);
        });
        assert!(matches!(
            parse(&long),
            Err(Error::AttrSize {
                attr: A_BYTES,
                len: 7,
                ..
            })
        ));
        let edge = build(|b| {
            b.put_bytes(A_BYTES, &[0; 6]);
        });
        assert!(parse(&edge).is_ok());
    }

    #[test]
    fn string_rules_under_policy() {
        // 15 characters + NUL = 16: fits max_len(16).
        let fits = build(|b| {
            b.put_str(A_STR, "abcdefghijklmno");
        });
        assert_eq!(parse(&fits).unwrap().str(A_STR), Ok("abcdefghijklmno"));
        let too_long = build(|b| {
            b.put_str(A_STR, "abcdefghijklmnop");
        });
        assert!(matches!(
            parse(&too_long),
            Err(Error::AttrSize {
                attr: A_STR,
                len: 17,
                max: 16,
                ..
            })
        ));
        let no_nul = build(|b| {
            b.put_bytes(A_STR, b"abc");
        });
        assert!(matches!(
            parse(&no_nul),
            Err(Error::BadString {
                attr: A_STR,
                problem: StringProblem::MissingNul,
                ..
            })
        ));
        let interior = build(|b| {
            b.put_bytes(A_STR, b"a\0c\0");
        });
        assert!(matches!(
            parse(&interior),
            Err(Error::BadString {
                attr: A_STR,
                problem: StringProblem::InteriorNul(1),
                ..
            })
        ));
        let empty = build(|b| {
            b.put_bytes(A_STR, b"");
        });
        assert!(matches!(
            parse(&empty),
            Err(Error::AttrSize {
                attr: A_STR,
                len: 0,
                min: 1,
                ..
            })
        ));
    }

    #[test]
    fn flag_with_payload_is_rejected() {
        let bytes = build(|b| {
            b.put_u8(A_FLAG, 1);
        });
        assert!(matches!(
            parse(&bytes),
            Err(Error::AttrSize {
                attr: A_FLAG,
                len: 1,
                min: 0,
                max: 0,
                ..
            })
        ));
    }

    #[test]
    fn unknown_attributes_are_skipped() {
        let bytes = build(|b| {
            // Beyond the table, and type 0 (Unused) with a bogus payload.
            b.put_bytes(200, b"whatever").put_bytes(0, &[1]);
        });
        let p = parse(&bytes).unwrap();
        assert_eq!(p.get(200), None);
        assert_eq!(p.get(0), None);
    }

    #[test]
    fn duplicates_last_one_wins_but_all_are_checked() {
        let bytes = build(|b| {
            b.put_u32(A_OPT, 1).put_u32(A_OPT, 2);
        });
        assert_eq!(parse(&bytes).unwrap().u32(A_OPT), Ok(2));
        let bad_first = build(|b| {
            b.put_u16(A_OPT, 1).put_u32(A_OPT, 2);
        });
        assert!(parse(&bad_first).is_err());
    }

    #[test]
    fn nested_policies_are_checked_recursively() {
        let good = build(|b| {
            b.nested(A_NEST, |b| {
                b.put_u32(1, 7).put_str(2, "inner");
            });
        });
        let p = parse(&good).unwrap();
        let inner = p.nested(A_NEST, &INNER).unwrap();
        assert_eq!(inner.u32(1), Ok(7));
        assert_eq!(inner.str(2), Ok("inner"));

        let missing = build(|b| {
            b.nested(A_NEST, |b| {
                b.put_str(2, "inner");
            });
        });
        // The error points at the inner list: 16 (nlmsghdr) + 8 + 8 + 8 +
        // 12 (required attributes) + 4 (nest header).
        assert_eq!(
            parse(&missing).unwrap_err(),
            Error::MissingAttr {
                attr: 1,
                name: "INNER_ID",
                offset: 56,
            }
        );

        let bad_inner = build(|b| {
            b.nested(A_NEST, |b| {
                b.put_u32(1, 7).put_bytes(2, b"no-nul");
            });
        });
        assert!(matches!(
            parse(&bad_inner),
            Err(Error::BadString { attr: 2, .. })
        ));
    }

    #[test]
    fn nested_arrays_check_every_element() {
        let good = build(|b| {
            b.nested(A_ARRAY, |b| {
                b.nested(1, |b| {
                    b.put_u32(1, 10).put_str(2, "a");
                })
                .nested(2, |b| {
                    b.put_u32(1, 20);
                });
            });
        });
        let p = parse(&good).unwrap();
        let ids: Vec<_> = p
            .nested_array(A_ARRAY, &INNER)
            .unwrap()
            .map(|e| e.and_then(|e| e.u32(1)))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, [10, 20]);

        let bad = build(|b| {
            b.nested(A_ARRAY, |b| {
                b.nested(1, |b| {
                    b.put_str(2, "a");
                });
            });
        });
        assert!(matches!(
            parse(&bad),
            Err(Error::MissingAttr { attr: 1, .. })
        ));
    }

    #[test]
    fn malformed_nest_structure_is_reported() {
        let mut bytes = build(|b| {
            b.nested(A_NEST, |b| {
                b.put_u32(1, 7);
            });
        });
        // Corrupt the inner attribute's length to run past the nest.
        let inner_len_at = bytes.len() - 8;
        bytes[inner_len_at..inner_len_at + 2].copy_from_slice(&12u16.to_ne_bytes());
        assert!(matches!(
            parse(&bytes),
            Err(Error::LengthPastEnd { len: 12, .. })
        ));
    }

    static RECURSIVE: [Policy; 2] =
        policy_table(&[(1, Policy::nested("SELF", &RECURSIVE).optional())]);

    #[test]
    fn self_referential_policy_hits_depth_limit() {
        let mut b = MsgBuilder::new(16, 0);
        let nests: Vec<_> = (0..MAX_DEPTH + 2).map(|_| b.begin_nested(1)).collect();
        for nest in nests.into_iter().rev() {
            b.end_nested(nest);
        }
        let bytes = b.finish().unwrap().to_vec();
        let attrs = Msg::parse(&bytes).unwrap().attrs(0).unwrap();
        assert!(matches!(
            attrs.clone().parse(&RECURSIVE),
            Err(Error::TooDeep {
                limit: MAX_DEPTH,
                ..
            })
        ));
        assert!(format!("{:?}", RECURSIVE[1]).contains("Nested(<2 entries>)"));
        // A shallow tree is fine.
        let mut b = MsgBuilder::new(16, 0);
        b.nested(1, |b| {
            b.nested(1, |_| {});
        });
        let bytes = b.finish().unwrap().to_vec();
        let attrs = Msg::parse(&bytes).unwrap().attrs(0).unwrap();
        assert!(validate(attrs, &RECURSIVE).is_ok());
    }

    #[test]
    fn policy_metadata() {
        assert!(TOP[usize::from(A_U8)].is_required());
        assert!(!TOP[usize::from(A_FLAG)].is_required());
        assert!(!TOP[0].is_required());
        assert_eq!(TOP[usize::from(A_STR)].name(), "A_STR");
        assert!(matches!(
            TOP[usize::from(A_NEST)].kind(),
            AttrKind::Nested(_)
        ));
    }
}
