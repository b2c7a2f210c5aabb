//! Netlink attributes (`struct nlattr` TLVs): one borrowed attribute, typed
//! getters that check lengths, and an iterator over an attribute list.
//!
//! Nothing here panics or allocates: a malformed list makes the iterator
//! yield one `Err` (naming the byte offset) and then stop, and a getter
//! applied to a payload of the wrong size returns an error instead of
//! asserting as the C original did.

use std::ffi::CStr;
use std::iter::FusedIterator;

use super::consts::{align, ALIGNTO, NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_TYPE_MASK};
use super::error::{Error, Part, StringProblem};
use super::wire::{array_at, u16_at};

/// One attribute, borrowing its payload from the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    raw_type: u16,
    payload: &'a [u8],
    offset: usize,
}

impl<'a> Attr<'a> {
    /// The attribute type with the `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER`
    /// bits stripped: the number policies and constants use.
    #[must_use]
    #[inline]
    pub fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    /// `nla_type` as it was on the wire, flag bits included.
    #[must_use]
    #[inline]
    pub fn raw_type(&self) -> u16 {
        self.raw_type
    }

    /// Whether the sender set `NLA_F_NESTED`. Many kernel families nest
    /// without setting it, so this is informative only.
    #[must_use]
    #[inline]
    pub fn has_nested_flag(&self) -> bool {
        self.raw_type & NLA_F_NESTED != 0
    }

    /// Whether the sender set `NLA_F_NET_BYTEORDER`.
    #[must_use]
    #[inline]
    pub fn has_net_byteorder_flag(&self) -> bool {
        self.raw_type & NLA_F_NET_BYTEORDER != 0
    }

    /// The payload, without header or padding.
    #[must_use]
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The payload as raw bytes (an `NLA_UNSPEC`/binary attribute); same as
    /// [`payload`](Self::payload), named to match the other getters.
    #[must_use]
    #[inline]
    pub fn get_bytes(&self) -> &'a [u8] {
        self.payload
    }

    /// Offset of the attribute header in the caller's buffer.
    #[must_use]
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Offset of the first payload byte in the caller's buffer.
    #[must_use]
    #[inline]
    pub fn payload_offset(&self) -> usize {
        self.offset.saturating_add(NLA_HDRLEN)
    }

    fn size_error(&self, min: usize, max: usize) -> Error {
        Error::AttrSize {
            attr: self.kind(),
            offset: self.offset,
            len: self.payload.len(),
            min,
            max,
        }
    }

    /// The payload as exactly `N` bytes.
    fn exact<const N: usize>(&self) -> Result<[u8; N], Error> {
        if self.payload.len() != N {
            return Err(self.size_error(N, N));
        }
        array_at(self.payload, 0).ok_or_else(|| self.size_error(N, N))
    }

    /// The payload as a `u8`; the payload must be exactly 1 byte.
    #[inline]
    pub fn get_u8(&self) -> Result<u8, Error> {
        self.exact::<1>().map(u8::from_ne_bytes)
    }

    /// The payload as a native-endian `u16`; exactly 2 bytes.
    #[inline]
    pub fn get_u16(&self) -> Result<u16, Error> {
        self.exact().map(u16::from_ne_bytes)
    }

    /// The payload as a native-endian `u32`; exactly 4 bytes.
    #[inline]
    pub fn get_u32(&self) -> Result<u32, Error> {
        self.exact().map(u32::from_ne_bytes)
    }

    /// The payload as a native-endian `u64`; exactly 8 bytes.
    #[inline]
    pub fn get_u64(&self) -> Result<u64, Error> {
        self.exact().map(u64::from_ne_bytes)
    }

    /// The payload as a native-endian `i32`; exactly 4 bytes.
    #[inline]
    pub fn get_i32(&self) -> Result<i32, Error> {
        self.exact().map(i32::from_ne_bytes)
    }

    /// A flag attribute: its presence means "true". Its payload must be
    /// empty, as the kernel's `NLA_FLAG` policy demands.
    #[inline]
    pub fn get_flag(&self) -> Result<bool, Error> {
        if self.payload.is_empty() {
            Ok(true)
        } else {
            Err(self.size_error(0, 0))
        }
    }

    /// The payload as a C string: NUL-terminated, with no NUL before the
    /// terminator. Netlink strings need not be UTF-8 (interface names are
    /// arbitrary bytes), so this is the lossless getter.
    #[inline]
    pub fn get_cstr(&self) -> Result<&'a CStr, Error> {
        check_cstr(self.payload).map_err(|problem| self.string_error(problem))
    }

    /// The payload as a `&str`: as [`get_cstr`](Self::get_cstr), and the
    /// bytes before the terminator must be UTF-8.
    #[inline]
    pub fn get_str(&self) -> Result<&'a str, Error> {
        self.get_cstr()?
            .to_str()
            .map_err(|_| self.string_error(StringProblem::NotUtf8))
    }

    fn string_error(&self, problem: StringProblem) -> Error {
        Error::BadString {
            attr: self.kind(),
            offset: self.offset,
            problem,
        }
    }

    /// The attributes nested in this one's payload. Never fails here; a
    /// malformed nest shows up as an `Err` from the iterator.
    #[must_use]
    #[inline]
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::with_base(self.payload, self.payload_offset())
    }
}

/// Checks the NUL rules for a string payload and returns it as a `CStr`.
#[inline]
pub(crate) fn check_cstr(payload: &[u8]) -> Result<&CStr, StringProblem> {
    let Some((&last, body)) = payload.split_last() else {
        return Err(StringProblem::Empty);
    };
    if last != 0 {
        return Err(StringProblem::MissingNul);
    }
    if let Some(at) = body.iter().position(|&b| b == 0) {
        return Err(StringProblem::InteriorNul(at));
    }
    CStr::from_bytes_with_nul(payload).map_err(|_| StringProblem::MissingNul)
}

/// Iterator over an attribute list, yielding `Result<Attr, Error>`.
///
/// Stops for good after the first error, because once a length is wrong the
/// position of every later attribute is unknown. The last attribute may omit
/// its trailing padding (the kernel's `nla_ok` accepts that too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    failed: bool,
}

impl<'a> AttrIter<'a> {
    /// Iterates over the attributes in `buf`; offsets in errors count from
    /// the start of `buf`.
    #[must_use]
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_base(buf, 0)
    }

    /// Iterates over the attributes in `buf`, which starts at offset `base`
    /// of some larger buffer; errors and [`Attr::offset`] count from there.
    ///
    /// A `base` that is not a multiple of 4 yields `Error::Misaligned`,
    /// because attributes always start on 4-byte boundaries.
    #[must_use]
    #[inline]
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            failed: false,
        }
    }

    /// Offset of the start of the list in the caller's buffer.
    #[must_use]
    #[inline]
    pub fn base(&self) -> usize {
        self.base
    }

    /// The bytes not yet iterated over.
    #[must_use]
    #[inline]
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// The last attribute of type `kind` (flag bits ignored), walking the
    /// whole list so that a malformed tail is reported, not hidden. "Last
    /// wins" matches the policy parser's rule for duplicates.
    #[inline]
    pub fn find(self, kind: u16) -> Result<Option<Attr<'a>>, Error> {
        let mut found = None;
        for attr in self {
            let attr = attr?;
            if attr.kind() == kind {
                found = Some(attr);
            }
        }
        Ok(found)
    }

    /// Walks the whole list and reports the first structural error, if any.
    #[inline]
    pub fn validate(mut self) -> Result<(), Error> {
        self.try_for_each(|a| a.map(drop))
    }

    fn fail(&mut self, err: Error) -> Option<Result<Attr<'a>, Error>> {
        self.failed = true;
        Some(Err(err))
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let offset = self.base.saturating_add(self.pos);
        if offset % ALIGNTO != 0 {
            return self.fail(Error::Misaligned {
                part: Part::AttrHeader,
                offset,
            });
        }
        let available = self.buf.len() - self.pos;
        let (Some(len), Some(raw_type)) = (
            u16_at(self.buf, self.pos),
            u16_at(self.buf, self.pos.saturating_add(2)),
        ) else {
            return self.fail(Error::Truncated {
                part: Part::AttrHeader,
                offset,
                need: NLA_HDRLEN,
                have: available,
            });
        };
        let len = usize::from(len);
        let part = Part::Attr(raw_type & NLA_TYPE_MASK);
        if len < NLA_HDRLEN {
            return self.fail(Error::LengthTooSmall {
                part,
                offset,
                len,
                min: NLA_HDRLEN,
            });
        }
        let Some(payload) = self.buf.get(self.pos + NLA_HDRLEN..self.pos + len) else {
            return self.fail(Error::LengthPastEnd {
                part,
                offset,
                len,
                available,
            });
        };
        self.pos = self.pos.saturating_add(align(len)).min(self.buf.len());
        Some(Ok(Attr {
            raw_type,
            payload,
            offset,
        }))
    }
}

impl FusedIterator for AttrIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// One attribute, header + payload + zero padding.
    fn tlv(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&u16::try_from(payload.len() + 4).unwrap().to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        v.resize(align(v.len()), 0);
        v
    }

    #[test]
    fn iterates_typed_attributes() {
        let mut buf = tlv(1, &7u8.to_ne_bytes());
        buf.extend(tlv(2, &0x1234u16.to_ne_bytes()));
        buf.extend(tlv(3, &0xdead_beefu32.to_ne_bytes()));
        buf.extend(tlv(4, &u64::MAX.to_ne_bytes()));
        buf.extend(tlv(5, b"eth0\0"));
        buf.extend(tlv(6, b""));
        buf.extend(tlv(7, &(-5i32).to_ne_bytes()));
        let attrs: Vec<_> = AttrIter::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(attrs.len(), 7);
        assert_eq!(attrs[0].get_u8(), Ok(7));
        assert_eq!(attrs[1].get_u16(), Ok(0x1234));
        assert_eq!(attrs[2].get_u32(), Ok(0xdead_beef));
        assert_eq!(attrs[3].get_u64(), Ok(u64::MAX));
        assert_eq!(attrs[4].get_str(), Ok("eth0"));
        assert_eq!(attrs[4].get_cstr().unwrap().to_bytes(), b"eth0");
        assert_eq!(attrs[5].get_flag(), Ok(true));
        assert_eq!(attrs[6].get_i32(), Ok(-5));
        // Offsets count from the start of the buffer: 8+8+8+12+12+4.
        let offsets: Vec<_> = attrs.iter().map(Attr::offset).collect();
        assert_eq!(offsets, [0, 8, 16, 24, 36, 48, 52]);
        assert_eq!(attrs[1].payload_offset(), 12);
    }

    #[test]
    fn getters_check_size_without_panicking() {
        let buf = tlv(3, &[1, 2, 3]);
        let a = AttrIter::new(&buf).next().unwrap().unwrap();
        let size = |min, max| Error::AttrSize {
            attr: 3,
            offset: 0,
            len: 3,
            min,
            max,
        };
        assert_eq!(a.get_u8(), Err(size(1, 1)));
        assert_eq!(a.get_u16(), Err(size(2, 2)));
        assert_eq!(a.get_u32(), Err(size(4, 4)));
        assert_eq!(a.get_u64(), Err(size(8, 8)));
        assert_eq!(a.get_i32(), Err(size(4, 4)));
        assert_eq!(a.get_flag(), Err(size(0, 0)));
        assert_eq!(a.get_bytes(), &[1, 2, 3]);
        assert_eq!(
            a.get_u32().unwrap_err().to_string(),
            "attribute 3 at offset 0: payload is 3 bytes, expected 4"
        );
    }

    #[test]
    fn string_rules() {
        let check = |payload: &[u8]| {
            let buf = tlv(9, payload);
            let attr = AttrIter::new(&buf).next().unwrap().unwrap();
            attr.get_str().map(str::to_owned)
        };
        let bad = |problem| Error::BadString {
            attr: 9,
            offset: 0,
            problem,
        };
        assert_eq!(check(b"lo\0"), Ok("lo".to_owned()));
        assert_eq!(check(b"\0"), Ok(String::new()));
        assert_eq!(check(b""), Err(bad(StringProblem::Empty)));
        assert_eq!(check(b"lo"), Err(bad(StringProblem::MissingNul)));
        assert_eq!(check(b"l\0o\0"), Err(bad(StringProblem::InteriorNul(1))));
        assert_eq!(check(b"\xff\0"), Err(bad(StringProblem::NotUtf8)));
        // Non-UTF-8 is still a valid C string.
        let buf = tlv(9, b"\xff\0");
        let a = AttrIter::new(&buf).next().unwrap().unwrap();
        assert_eq!(a.get_cstr().unwrap().to_bytes(), b"\xff");
    }

    #[test]
    fn flag_bits_are_stripped_from_kind() {
        let inner = tlv(1, &5u32.to_ne_bytes());
        let buf = tlv(7 | NLA_F_NESTED, &inner);
        let a = AttrIter::new(&buf).next().unwrap().unwrap();
        assert_eq!(a.kind(), 7);
        assert_eq!(a.raw_type(), 7 | NLA_F_NESTED);
        assert!(a.has_nested_flag());
        assert!(!a.has_net_byteorder_flag());
        let nested: Vec<_> = a.nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(nested.len(), 1);
        assert_eq!(nested[0].get_u32(), Ok(5));
        // Nested offsets are absolute: outer header (4) + inner at 0.
        assert_eq!(nested[0].offset(), 4);
    }

    #[test]
    fn last_attribute_may_omit_padding() {
        let mut buf = tlv(1, b"ab\0");
        buf.truncate(7);
        let attrs: Vec<_> = AttrIter::new(&buf).collect();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].as_ref().unwrap().get_str(), Ok("ab"));
    }

    #[test]
    fn truncated_header_reports_offset() {
        let mut buf = tlv(1, &[0; 4]);
        buf.extend_from_slice(&[8, 0]);
        let mut it = AttrIter::with_base(&buf, 20);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(
            it.next(),
            Some(Err(Error::Truncated {
                part: Part::AttrHeader,
                offset: 28,
                need: 4,
                have: 2,
            }))
        );
        assert_eq!(it.next(), None, "iteration stops after an error");
    }

    #[test]
    fn length_smaller_than_header() {
        let buf = [2u8, 0, 5, 0, 0, 0, 0, 0];
        let mut buf = buf.to_vec();
        buf[0..2].copy_from_slice(&2u16.to_ne_bytes());
        buf[2..4].copy_from_slice(&5u16.to_ne_bytes());
        assert_eq!(
            AttrIter::new(&buf).next(),
            Some(Err(Error::LengthTooSmall {
                part: Part::Attr(5),
                offset: 0,
                len: 2,
                min: 4,
            }))
        );
    }

    #[test]
    fn length_past_end_matches_documented_message() {
        let mut buf = tlv(1, &[0; 16]);
        buf.truncate(20);
        let mut bad = Vec::new();
        bad.extend_from_slice(&9u16.to_ne_bytes());
        bad.extend_from_slice(&3u16.to_ne_bytes());
        bad.extend_from_slice(&[0; 4]);
        buf.extend(bad);
        let err = AttrIter::new(&buf).nth(1).unwrap().unwrap_err();
        assert_eq!(
            err,
            Error::LengthPastEnd {
                part: Part::Attr(3),
                offset: 20,
                len: 9,
                available: 8,
            }
        );
        assert_eq!(
            err.to_string(),
            "attribute 3 at offset 20: length 9 runs past end of buffer (8 bytes available)"
        );
    }

    #[test]
    fn misaligned_base_is_reported() {
        let buf = tlv(1, &[0; 4]);
        assert_eq!(
            AttrIter::with_base(&buf, 2).next(),
            Some(Err(Error::Misaligned {
                part: Part::AttrHeader,
                offset: 2,
            }))
        );
    }

    #[test]
    fn find_takes_last_and_reports_bad_tail() {
        let mut buf = tlv(1, &1u32.to_ne_bytes());
        buf.extend(tlv(2, &2u32.to_ne_bytes()));
        buf.extend(tlv(1, &3u32.to_ne_bytes()));
        let found = AttrIter::new(&buf).find(1).unwrap().unwrap();
        assert_eq!(found.get_u32(), Ok(3));
        assert_eq!(AttrIter::new(&buf).find(5), Ok(None));
        assert!(AttrIter::new(&buf).validate().is_ok());
        buf.push(1);
        assert!(AttrIter::new(&buf).find(1).is_err());
        assert!(AttrIter::new(&buf).validate().is_err());
    }

    #[test]
    fn empty_list_yields_nothing() {
        assert_eq!(AttrIter::new(&[]).next(), None);
        assert!(AttrIter::new(&[]).remaining().is_empty());
    }
}
