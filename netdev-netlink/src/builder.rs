//! Building Netlink requests: one growable buffer that holds an `nlmsghdr`,
//! an optional `genlmsghdr` or protocol header, and 4-byte aligned
//! attributes with zeroed padding.
//!
//! The builder is meant to be reused: [`MsgBuilder::reset`] starts a new
//! message in the same allocation, and [`MsgBuilder::set_seq`] patches the
//! sequence number of a finished message so the socket layer can resend it
//! after `ENOBUFS` without rebuilding. Mistakes that the C original asserted
//! on (an attribute too long for its 16-bit length, an unbalanced nest) are
//! remembered and returned by [`MsgBuilder::finish`], so `put_*` calls can be
//! chained without checking each one.

use std::ffi::CStr;

use super::consts::{align, NLA_HDRLEN, NLMSG_HDRLEN};
use super::error::{Error, Part, StringProblem};
use super::genl::GenlHeader;
use super::msg::Header;

/// Byte offsets of the `nlmsghdr` fields patched after building.
const LEN_FIELD: usize = 0;
const FLAGS_FIELD: usize = 6;
const SEQ_FIELD: usize = 8;
const PID_FIELD: usize = 12;

/// A Netlink message under construction.
#[derive(Clone, Debug)]
pub struct MsgBuilder {
    buf: Vec<u8>,
    /// Offsets of the headers of nests opened and not yet closed.
    open_nests: Vec<usize>,
    /// The first mistake made while building, reported by `finish`.
    error: Option<Error>,
}

/// An open nested attribute, returned by [`MsgBuilder::begin_nested`] and
/// consumed by [`MsgBuilder::end_nested`].
#[derive(Debug)]
#[must_use = "a nest must be closed with MsgBuilder::end_nested"]
pub struct Nest {
    offset: usize,
}

impl Default for MsgBuilder {
    /// An `NLMSG_NOOP` message, to be [`reset`](MsgBuilder::reset) before use.
    fn default() -> Self {
        Self::new(super::consts::NLMSG_NOOP, 0)
    }
}

impl MsgBuilder {
    /// Starts a message of `msg_type` with `flags`; sequence number and
    /// port id are 0 until set.
    #[must_use]
    #[inline]
    pub fn new(msg_type: u16, flags: u16) -> Self {
        let mut b = Self {
            buf: Vec::with_capacity(256),
            open_nests: Vec::new(),
            error: None,
        };
        b.reset(msg_type, flags);
        b
    }

    /// Starts a generic Netlink message for `family` carrying `cmd`.
    #[must_use]
    #[inline]
    pub fn new_genl(family: u16, flags: u16, cmd: u8, version: u8) -> Self {
        let mut b = Self::new(family, flags);
        b.put_genl_header(cmd, version);
        b
    }

    /// Discards the current contents and starts a new message, keeping the
    /// buffer's allocation.
    #[inline]
    pub fn reset(&mut self, msg_type: u16, flags: u16) -> &mut Self {
        self.buf.clear();
        self.open_nests.clear();
        self.error = None;
        let header = Header {
            len: 0,
            msg_type,
            flags,
            seq: 0,
            pid: 0,
        };
        self.buf.extend_from_slice(&header.to_bytes());
        self
    }

    /// As [`reset`](Self::reset), then appends a `genlmsghdr`.
    #[inline]
    pub fn reset_genl(&mut self, family: u16, flags: u16, cmd: u8, version: u8) -> &mut Self {
        self.reset(family, flags).put_genl_header(cmd, version)
    }

    fn put_genl_header(&mut self, cmd: u8, version: u8) -> &mut Self {
        let genl = GenlHeader {
            cmd,
            version,
            reserved: 0,
        };
        self.put_fixed(&genl.to_bytes())
    }

    /// Appends a protocol's fixed header (`ifinfomsg`, `rtgenmsg`, ...) or
    /// any other raw bytes, followed by zero padding to 4 bytes.
    #[inline]
    pub fn put_fixed(&mut self, bytes: &[u8]) -> &mut Self {
        if self.error.is_none() {
            self.buf.extend_from_slice(bytes);
            self.pad();
        }
        self
    }

    fn pad(&mut self) {
        self.buf.resize(align(self.buf.len()), 0);
    }

    fn fail(&mut self, err: Error) {
        self.error.get_or_insert(err);
    }

    /// Appends an attribute whose payload is the concatenation of `parts`.
    fn put_attr(&mut self, ty: u16, parts: &[&[u8]]) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        let offset = self.buf.len();
        let len = NLA_HDRLEN + parts.iter().map(|p| p.len()).sum::<usize>();
        let Ok(nla_len) = u16::try_from(len) else {
            self.fail(Error::TooLong {
                part: Part::Attr(ty),
                offset,
                len,
                max: usize::from(u16::MAX),
            });
            return self;
        };
        self.buf.reserve(align(len));
        self.buf.extend_from_slice(&nla_len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        self.pad();
        self
    }

    /// Appends an `NLA_UNSPEC` attribute with `payload` as is.
    #[inline]
    pub fn put_bytes(&mut self, ty: u16, payload: &[u8]) -> &mut Self {
        self.put_attr(ty, &[payload])
    }

    /// Appends an attribute with no payload (a flag: present means true).
    #[inline]
    pub fn put_flag(&mut self, ty: u16) -> &mut Self {
        self.put_attr(ty, &[])
    }

    /// Appends a `u8` attribute.
    #[inline]
    pub fn put_u8(&mut self, ty: u16, value: u8) -> &mut Self {
        self.put_attr(ty, &[&[value]])
    }

    /// Appends a native-endian `u16` attribute.
    #[inline]
    pub fn put_u16(&mut self, ty: u16, value: u16) -> &mut Self {
        self.put_attr(ty, &[&value.to_ne_bytes()])
    }

    /// Appends a native-endian `u32` attribute.
    #[inline]
    pub fn put_u32(&mut self, ty: u16, value: u32) -> &mut Self {
        self.put_attr(ty, &[&value.to_ne_bytes()])
    }

    /// Appends a native-endian `u64` attribute.
    #[inline]
    pub fn put_u64(&mut self, ty: u16, value: u64) -> &mut Self {
        self.put_attr(ty, &[&value.to_ne_bytes()])
    }

    /// Appends a native-endian `i32` attribute.
    #[inline]
    pub fn put_i32(&mut self, ty: u16, value: i32) -> &mut Self {
        self.put_attr(ty, &[&value.to_ne_bytes()])
    }

    /// Appends a NUL-terminated string attribute. A `value` containing a NUL
    /// would reach the kernel cut short, so it is refused (`finish` reports
    /// `BadString`).
    #[inline]
    pub fn put_str(&mut self, ty: u16, value: &str) -> &mut Self {
        if let Some(at) = value.bytes().position(|b| b == 0) {
            let offset = self.buf.len();
            self.fail(Error::BadString {
                attr: ty,
                offset,
                problem: StringProblem::InteriorNul(at),
            });
            return self;
        }
        self.put_attr(ty, &[value.as_bytes(), &[0]])
    }

    /// Appends a string attribute from a C string (terminator included).
    #[inline]
    pub fn put_cstr(&mut self, ty: u16, value: &CStr) -> &mut Self {
        self.put_attr(ty, &[value.to_bytes_with_nul()])
    }

    /// Opens a nested attribute; everything appended until the matching
    /// [`end_nested`](Self::end_nested) goes inside it. `NLA_F_NESTED` is
    /// not added on its own, since many families (rtnetlink's
    /// `IFLA_LINKINFO`, for one) are sent without it; or it into `ty` when a
    /// family wants it.
    #[inline]
    pub fn begin_nested(&mut self, ty: u16) -> Nest {
        let offset = self.buf.len();
        self.put_attr(ty, &[]);
        self.open_nests.push(offset);
        Nest { offset }
    }

    /// Closes `nest`, patching its length to cover what was appended since
    /// it was opened. Nests must close innermost first.
    #[inline]
    pub fn end_nested(&mut self, nest: Nest) -> &mut Self {
        if self.open_nests.last() != Some(&nest.offset) {
            self.fail(Error::UnbalancedNest {
                offset: nest.offset,
            });
            return self;
        }
        self.open_nests.pop();
        if self.error.is_some() {
            return self;
        }
        let len = self.buf.len().saturating_sub(nest.offset);
        match u16::try_from(len) {
            Ok(nla_len) => {
                if let Some(field) = self.buf.get_mut(nest.offset..nest.offset + 2) {
                    field.copy_from_slice(&nla_len.to_ne_bytes());
                }
            }
            Err(_) => self.fail(Error::TooLong {
                part: Part::Attr(
                    super::wire::u16_at(&self.buf, nest.offset + 2).unwrap_or_default(),
                ),
                offset: nest.offset,
                len,
                max: usize::from(u16::MAX),
            }),
        }
        self
    }

    /// Appends a nested attribute whose contents `fill` appends; the nest
    /// is closed when `fill` returns, so it cannot be left unbalanced.
    #[inline]
    pub fn nested(&mut self, ty: u16, fill: impl FnOnce(&mut Self)) -> &mut Self {
        let nest = self.begin_nested(ty);
        fill(self);
        self.end_nested(nest)
    }

    fn patch_u32(&mut self, at: usize, value: u32) {
        if let Some(field) = self.buf.get_mut(at..at + 4) {
            field.copy_from_slice(&value.to_ne_bytes());
        }
    }

    /// Sets `nlmsg_seq`; may be called before or after `finish`.
    #[inline]
    pub fn set_seq(&mut self, seq: u32) -> &mut Self {
        self.patch_u32(SEQ_FIELD, seq);
        self
    }

    /// Sets `nlmsg_pid`; may be called before or after `finish`.
    #[inline]
    pub fn set_pid(&mut self, pid: u32) -> &mut Self {
        self.patch_u32(PID_FIELD, pid);
        self
    }

    /// Replaces `nlmsg_flags`.
    #[inline]
    pub fn set_flags(&mut self, flags: u16) -> &mut Self {
        if let Some(field) = self.buf.get_mut(FLAGS_FIELD..FLAGS_FIELD + 2) {
            field.copy_from_slice(&flags.to_ne_bytes());
        }
        self
    }

    /// Adds `flags` to `nlmsg_flags` (e.g. `NLM_F_ACK` before a
    /// transaction, `NLM_F_DUMP` before a dump).
    #[inline]
    pub fn add_flags(&mut self, flags: u16) -> &mut Self {
        let current = self.header().flags;
        self.set_flags(current | flags)
    }

    /// The header as it stands, with `len` the current size.
    #[must_use]
    #[inline]
    pub fn header(&self) -> Header {
        let mut header = Header::parse(&self.buf).unwrap_or_default();
        header.len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        header
    }

    /// Patches `nlmsg_len` and returns the finished message, or the first
    /// mistake made while building it.
    #[inline]
    pub fn finish(&mut self) -> Result<&[u8], Error> {
        if let Some(err) = &self.error {
            return Err(err.clone());
        }
        if let Some(&offset) = self.open_nests.last() {
            return Err(Error::UnbalancedNest { offset });
        }
        let len = self.buf.len();
        let Ok(nlmsg_len) = u32::try_from(len) else {
            return Err(Error::TooLong {
                part: Part::Message,
                offset: 0,
                len,
                max: u32::MAX as usize,
            });
        };
        self.patch_u32(LEN_FIELD, nlmsg_len);
        Ok(&self.buf)
    }
}

// The header is always present, so the patch offsets above are in range.
const _: () = assert!(PID_FIELD + 4 == NLMSG_HDRLEN);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::AttrIter;
    use crate::consts::{NLA_F_NESTED, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
    use crate::msg::Msg;

    #[test]
    fn header_only_message() {
        let mut b = MsgBuilder::new(18, NLM_F_REQUEST);
        b.set_seq(7).set_pid(9);
        let bytes = b.finish().unwrap();
        assert_eq!(bytes.len(), 16);
        let h = Header::parse(bytes).unwrap();
        assert_eq!(
            h,
            Header {
                len: 16,
                msg_type: 18,
                flags: NLM_F_REQUEST,
                seq: 7,
                pid: 9,
            }
        );
    }

    #[test]
    fn attributes_are_aligned_and_zero_padded() {
        let mut b = MsgBuilder::new(16, 0);
        // Prefill the allocation with garbage to prove padding is written,
        // not inherited.
        b.put_bytes(1, &[0xff; 64]);
        b.reset(16, 0);
        b.put_u8(1, 0xaa).put_u16(2, 0xbbbb).put_str(3, "abcde");
        let bytes = b.finish().unwrap().to_vec();
        assert_eq!(bytes.len(), 16 + 8 + 8 + 12);
        assert_eq!(bytes.len() % 4, 0);
        // u8: len 5, type 1, value, 3 padding bytes.
        assert_eq!(&bytes[16..18], &5u16.to_ne_bytes());
        assert_eq!(&bytes[20..24], &[0xaa, 0, 0, 0]);
        // u16: len 6, 2 padding bytes.
        assert_eq!(&bytes[24..26], &6u16.to_ne_bytes());
        assert_eq!(&bytes[30..32], &[0, 0]);
        // string: "abcde\0" -> len 10, 2 padding bytes.
        assert_eq!(&bytes[32..34], &10u16.to_ne_bytes());
        assert_eq!(&bytes[36..44], b"abcde\0\0\0");
    }

    #[test]
    fn every_attribute_type_round_trips() {
        let mut b = MsgBuilder::new(16, NLM_F_REQUEST | NLM_F_ACK);
        b.put_fixed(&[1, 2, 3])
            .put_u8(1, 0x12)
            .put_u16(2, 0x3456)
            .put_u32(3, 0x789a_bcde)
            .put_u64(4, 0x0123_4567_89ab_cdef)
            .put_str(5, "eth0")
            .put_cstr(6, c"tap1")
            .put_flag(7)
            .put_bytes(8, &[9, 8, 7, 6, 5])
            .put_i32(9, -3);
        let bytes = b.finish().unwrap();
        let msg = Msg::parse(bytes).unwrap();
        assert_eq!(msg.bytes().len(), bytes.len());
        assert_eq!(msg.fixed_header(3), Ok(&[1u8, 2, 3][..]));
        let a: Vec<_> = msg.attrs(3).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(a.len(), 9);
        assert_eq!(a[0].get_u8(), Ok(0x12));
        assert_eq!(a[1].get_u16(), Ok(0x3456));
        assert_eq!(a[2].get_u32(), Ok(0x789a_bcde));
        assert_eq!(a[3].get_u64(), Ok(0x0123_4567_89ab_cdef));
        assert_eq!(a[4].get_str(), Ok("eth0"));
        assert_eq!(a[5].get_str(), Ok("tap1"));
        assert_eq!(a[6].get_flag(), Ok(true));
        assert_eq!(a[7].get_bytes(), &[9, 8, 7, 6, 5]);
        assert_eq!(a[8].get_i32(), Ok(-3));
    }

    #[test]
    fn nested_lengths_are_patched() {
        let mut b = MsgBuilder::new(16, 0);
        let outer = b.begin_nested(1 | NLA_F_NESTED);
        b.put_u32(2, 5);
        let inner = b.begin_nested(3);
        b.put_str(4, "x");
        b.end_nested(inner);
        b.end_nested(outer);
        b.put_u8(9, 1);
        let bytes = b.finish().unwrap();
        // outer = 4 + 8 (u32) + inner(4 + 8) = 24; inner = 12.
        assert_eq!(&bytes[16..18], &24u16.to_ne_bytes());
        assert_eq!(&bytes[28..30], &12u16.to_ne_bytes());
        let msg = Msg::parse(bytes).unwrap();
        let top: Vec<_> = msg.attrs(0).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(top.len(), 2);
        assert!(top[0].has_nested_flag());
        let inside: Vec<_> = top[0].nested().collect::<Result<_, _>>().unwrap();
        assert_eq!(inside[0].get_u32(), Ok(5));
        let innermost = inside[1].nested().find(4).unwrap().unwrap();
        assert_eq!(innermost.get_str(), Ok("x"));
        assert_eq!(top[1].get_u8(), Ok(1));
    }

    #[test]
    fn closure_nesting_matches_explicit_nesting() {
        let mut a = MsgBuilder::new(16, 0);
        a.nested(1, |b| {
            b.put_u32(2, 5).nested(3, |b| {
                b.put_flag(4);
            });
        });
        let mut b = MsgBuilder::new(16, 0);
        let n1 = b.begin_nested(1);
        b.put_u32(2, 5);
        let n3 = b.begin_nested(3);
        b.put_flag(4);
        b.end_nested(n3).end_nested(n1);
        assert_eq!(a.finish().unwrap(), b.finish().unwrap());
    }

    #[test]
    fn empty_nest_is_just_a_header() {
        let mut b = MsgBuilder::new(16, 0);
        b.nested(1, |_| {});
        let bytes = b.finish().unwrap();
        assert_eq!(bytes.len(), 20);
        assert_eq!(&bytes[16..18], &4u16.to_ne_bytes());
        assert_eq!(&bytes[18..20], &1u16.to_ne_bytes());
    }

    #[test]
    fn unbalanced_nests_are_reported() {
        let mut b = MsgBuilder::new(16, 0);
        let outer = b.begin_nested(1);
        let _inner = b.begin_nested(2);
        b.end_nested(outer);
        assert_eq!(b.finish(), Err(Error::UnbalancedNest { offset: 16 }));

        let mut b = MsgBuilder::new(16, 0);
        let _never_closed = b.begin_nested(1);
        assert_eq!(b.finish(), Err(Error::UnbalancedNest { offset: 16 }));
    }

    #[test]
    fn oversized_attributes_are_refused() {
        let mut b = MsgBuilder::new(16, 0);
        b.put_bytes(5, &vec![0; 70_000]).put_u8(6, 1);
        assert_eq!(
            b.finish(),
            Err(Error::TooLong {
                part: Part::Attr(5),
                offset: 16,
                len: 70_004,
                max: 65_535,
            })
        );
        // The largest attribute that fits is accepted.
        b.reset(16, 0).put_bytes(5, &vec![0; 65_531]);
        assert!(b.finish().is_ok());

        let mut b = MsgBuilder::new(16, 0);
        b.nested(1, |b| {
            b.put_bytes(2, &[0; 40_000]).put_bytes(3, &[0; 40_000]);
        });
        assert!(matches!(
            b.finish(),
            Err(Error::TooLong {
                part: Part::Attr(1),
                ..
            })
        ));
    }

    #[test]
    fn strings_with_nul_are_refused() {
        let mut b = MsgBuilder::new(16, 0);
        b.put_str(3, "a\0b");
        assert_eq!(
            b.finish(),
            Err(Error::BadString {
                attr: 3,
                offset: 16,
                problem: StringProblem::InteriorNul(1),
            })
        );
    }

    #[test]
    fn reset_reuses_allocation_and_clears_errors() {
        let mut b = MsgBuilder::new(16, 0);
        b.put_str(1, "\0");
        assert!(b.finish().is_err());
        let cap = b.buf.capacity();
        b.reset(17, NLM_F_REQUEST).put_u32(1, 1);
        assert!(b.finish().is_ok());
        assert_eq!(b.buf.capacity(), cap);
    }

    #[test]
    fn seq_pid_and_flags_patch_after_finish() {
        let mut b = MsgBuilder::new(18, NLM_F_REQUEST);
        b.put_u32(1, 1);
        let first = b.finish().unwrap().to_vec();
        b.set_seq(1234).set_pid(99).add_flags(NLM_F_DUMP);
        let second = b.finish().unwrap();
        let h = Header::parse(second).unwrap();
        assert_eq!(h.seq, 1234);
        assert_eq!(h.pid, 99);
        assert_eq!(h.flags, NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(&first[16..], &second[16..], "payload untouched");
        assert_eq!(b.header().flags, NLM_F_REQUEST | NLM_F_DUMP);
    }

    #[test]
    fn genl_header_follows_nlmsghdr() {
        let mut b = MsgBuilder::new_genl(0x10, NLM_F_REQUEST, 3, 1);
        b.put_str(2, "nlctrl");
        let bytes = b.finish().unwrap();
        assert_eq!(&bytes[16..20], &[3, 1, 0, 0]);
        let attrs = AttrIter::with_base(&bytes[20..], 20);
        assert_eq!(attrs.find(2).unwrap().unwrap().get_str(), Ok("nlctrl"));
        let mut again = MsgBuilder::default();
        again
            .reset_genl(0x10, NLM_F_REQUEST, 3, 1)
            .put_str(2, "nlctrl");
        assert_eq!(again.finish().unwrap(), bytes);
    }
}
