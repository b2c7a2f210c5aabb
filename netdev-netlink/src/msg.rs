//! Netlink messages: the `nlmsghdr`, a message borrowed from a receive
//! buffer, the reserved `NLMSG_ERROR`/`NLMSG_DONE` payloads, and an
//! iterator over a buffer holding several messages (one `recv` of a dump).
//!
//! All offsets in errors and accessors count from the start of the buffer
//! the caller handed in, so a report about the third message of a datagram
//! points at the byte in that datagram.

use std::iter::FusedIterator;

use super::attr::{Attr, AttrIter};
use super::consts::{
    align, ALIGNTO, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, NLMSGERR_LEN, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK_TLVS, NLM_F_CAPPED,
};
use super::error::{Error, Part};
use super::wire::{i32_at, u16_at, u32_at};

/// A `struct nlmsghdr`, decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// `nlmsg_len`: length of the message including this header.
    pub len: u32,
    /// `nlmsg_type`: `NLMSG_*`, a protocol message type, or a generic
    /// Netlink family id.
    pub msg_type: u16,
    /// `nlmsg_flags`: `NLM_F_*` bits.
    pub flags: u16,
    /// `nlmsg_seq`: sequence number, echoed in replies.
    pub seq: u32,
    /// `nlmsg_pid`: port id of the sender (0 for the kernel).
    pub pid: u32,
}

impl Header {
    /// Size of the header on the wire.
    pub const LEN: usize = NLMSG_HDRLEN;

    /// Decodes the 16 header bytes at the start of `buf`, without checking
    /// `len` against anything.
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<Self, Error> {
        Self::parse_at(buf, 0, Part::Message)
    }

    /// Decodes a header at `at`, reporting errors as `part` at that offset.
    #[inline]
    pub(crate) fn parse_at(buf: &[u8], at: usize, part: Part) -> Result<Self, Error> {
        let field = |off: usize| at.checked_add(off);
        let read = || -> Option<Self> {
            Some(Self {
                len: u32_at(buf, field(0)?)?,
                msg_type: u16_at(buf, field(4)?)?,
                flags: u16_at(buf, field(6)?)?,
                seq: u32_at(buf, field(8)?)?,
                pid: u32_at(buf, field(12)?)?,
            })
        };
        read().ok_or(Error::Truncated {
            part,
            offset: at,
            need: NLMSG_HDRLEN,
            have: buf.len().saturating_sub(at),
        })
    }

    /// The header as it goes on the wire.
    #[must_use]
    #[inline]
    pub fn to_bytes(&self) -> [u8; NLMSG_HDRLEN] {
        let mut out = [0; NLMSG_HDRLEN];
        out[0..4].copy_from_slice(&self.len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.msg_type.to_ne_bytes());
        out[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        out[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        out[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        out
    }
}

/// One message, borrowed from the buffer it was received in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg<'a> {
    header: Header,
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Msg<'a> {
    /// Parses the message at the start of `buf`. Bytes after it (further
    /// messages, padding) are ignored; use [`MsgIter`] to see them.
    #[inline]
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        Self::parse_at(buf, 0)
    }

    /// Parses the message starting at `offset` in `buf`.
    ///
    /// Fails with `Misaligned` if `offset` is not a multiple of 4, because
    /// messages in a buffer always start on 4-byte boundaries.
    #[inline]
    pub fn parse_at(buf: &'a [u8], offset: usize) -> Result<Self, Error> {
        if offset % ALIGNTO != 0 {
            return Err(Error::Misaligned {
                part: Part::Message,
                offset,
            });
        }
        let header = Header::parse_at(buf, offset, Part::Message)?;
        let len = usize::try_from(header.len).unwrap_or(usize::MAX);
        let available = buf.len().saturating_sub(offset);
        if len < NLMSG_HDRLEN {
            return Err(Error::LengthTooSmall {
                part: Part::Message,
                offset,
                len,
                min: NLMSG_HDRLEN,
            });
        }
        let bytes = offset
            .checked_add(len)
            .and_then(|end| buf.get(offset..end))
            .ok_or(Error::LengthPastEnd {
                part: Part::Message,
                offset,
                len,
                available,
            })?;
        Ok(Self {
            header,
            bytes,
            offset,
        })
    }

    /// The decoded `nlmsghdr`.
    #[must_use]
    #[inline]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `nlmsg_type`.
    #[must_use]
    #[inline]
    pub fn msg_type(&self) -> u16 {
        self.header.msg_type
    }

    /// `nlmsg_flags`.
    #[must_use]
    #[inline]
    pub fn flags(&self) -> u16 {
        self.header.flags
    }

    /// `nlmsg_seq`.
    #[must_use]
    #[inline]
    pub fn seq(&self) -> u32 {
        self.header.seq
    }

    /// `nlmsg_pid`.
    #[must_use]
    #[inline]
    pub fn pid(&self) -> u32 {
        self.header.pid
    }

    /// The whole message, header included (`nlmsg_len` bytes).
    #[must_use]
    #[inline]
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Everything after the `nlmsghdr`.
    #[must_use]
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.bytes.get(NLMSG_HDRLEN..).unwrap_or_default()
    }

    /// Offset of the message in the caller's buffer.
    #[must_use]
    #[inline]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Offset of the first payload byte in the caller's buffer.
    #[must_use]
    #[inline]
    pub fn payload_offset(&self) -> usize {
        self.offset.saturating_add(NLMSG_HDRLEN)
    }

    /// The first `len` payload bytes: a protocol's fixed header such as
    /// `ifinfomsg`, for the caller to decode.
    #[inline]
    pub fn fixed_header(&self, len: usize) -> Result<&'a [u8], Error> {
        let payload = self.payload();
        payload.get(..len).ok_or(Error::Truncated {
            part: Part::FamilyHeader,
            offset: self.payload_offset(),
            need: len,
            have: payload.len(),
        })
    }

    /// The attributes that follow a fixed header of `fixed_len` bytes in
    /// the payload (0 for none; `GENL_HDRLEN` for generic Netlink; 16 for
    /// `ifinfomsg`). `fixed_len` is rounded up to 4 as `NLMSG_ALIGN` would,
    /// so a 1-byte `rtgenmsg` works.
    #[inline]
    pub fn attrs(&self, fixed_len: usize) -> Result<AttrIter<'a>, Error> {
        let start = align(fixed_len);
        let payload = self.payload();
        let attrs = payload.get(start..).ok_or(Error::Truncated {
            part: Part::FamilyHeader,
            offset: self.payload_offset(),
            need: start,
            have: payload.len(),
        })?;
        Ok(AttrIter::with_base(
            attrs,
            self.payload_offset().saturating_add(start),
        ))
    }

    /// Classifies the message, decoding the payload of the reserved types.
    #[inline]
    pub fn kind(&self) -> Result<MsgKind<'a>, Error> {
        Ok(match self.msg_type() {
            NLMSG_NOOP => MsgKind::Noop,
            NLMSG_ERROR => MsgKind::Error(ErrorMsg::parse(self)?),
            NLMSG_DONE => MsgKind::Done(DoneMsg::parse(self)),
            NLMSG_OVERRUN => MsgKind::Overrun,
            _ => MsgKind::Data,
        })
    }

    /// Turns an error reply into `Err(Error::Kernel)` and lets everything
    /// else (data, ACKs, DONE) through: the common first step of handling a
    /// reply. A malformed error payload is reported as such.
    #[inline]
    pub fn check(self) -> Result<Self, Error> {
        match self.kind()? {
            MsgKind::Error(e) => match e.to_error() {
                Some(err) => Err(err),
                None => Ok(self),
            },
            MsgKind::Done(d) => match d.to_error() {
                Some(err) => Err(err),
                None => Ok(self),
            },
            _ => Ok(self),
        }
    }
}

/// What a message is, by its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgKind<'a> {
    /// `NLMSG_NOOP`: to be ignored.
    Noop,
    /// `NLMSG_ERROR`: an error, or an acknowledgement when the errno is 0.
    Error(ErrorMsg<'a>),
    /// `NLMSG_DONE`: end of a dump.
    Done(DoneMsg<'a>),
    /// `NLMSG_OVERRUN`: data was lost.
    Overrun,
    /// A protocol message.
    Data,
}

/// The payload of an `NLMSG_ERROR` message (`struct nlmsgerr` plus what
/// the kernel appends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorMsg<'a> {
    errno: i32,
    request: Header,
    request_bytes: &'a [u8],
    ext_ack: &'a [u8],
    ext_ack_base: usize,
}

impl<'a> ErrorMsg<'a> {
    fn parse(msg: &Msg<'a>) -> Result<Self, Error> {
        let payload = msg.payload();
        let at = msg.payload_offset();
        if payload.len() < NLMSGERR_LEN {
            return Err(Error::Truncated {
                part: Part::ErrorPayload,
                offset: at,
                need: NLMSGERR_LEN,
                have: payload.len(),
            });
        }
        let raw = i32_at(payload, 0).unwrap_or_default();
        // The kernel sends a negated errno; anything positive (or a value
        // whose negation overflows) is not one.
        if raw > 0 || raw == i32::MIN {
            return Err(Error::BadValue {
                part: Part::ErrorPayload,
                offset: at,
                value: i64::from(raw),
                reason: "is not a negated errno",
            });
        }
        let request = Header::parse_at(payload, 4, Part::ErrorPayload)?;
        let echoed = payload.get(4..).unwrap_or_default();
        // A capped echo holds only the request header; otherwise the whole
        // request follows, padded, and extended-ACK TLVs come after it.
        let echo_len = if msg.flags() & NLM_F_CAPPED != 0 {
            NLMSG_HDRLEN
        } else {
            align(usize::try_from(request.len).unwrap_or(usize::MAX)).max(NLMSG_HDRLEN)
        };
        let (request_bytes, ext_ack) = if msg.flags() & NLM_F_ACK_TLVS != 0 {
            let Some(tlvs) = echoed.get(echo_len..) else {
                return Err(Error::LengthPastEnd {
                    part: Part::ErrorPayload,
                    offset: at + 4,
                    len: echo_len,
                    available: echoed.len(),
                });
            };
            let bytes = echoed.get(..echo_len).unwrap_or(echoed);
            (bytes, tlvs)
        } else {
            // Without TLVs nothing depends on the echo's length, so a short
            // echo is tolerated rather than failing the whole reply.
            let bytes = echoed.get(..echo_len).unwrap_or(echoed);
            (bytes, &[][..])
        };
        Ok(Self {
            errno: -raw,
            request,
            request_bytes,
            ext_ack,
            ext_ack_base: at + 4 + request_bytes.len(),
        })
    }

    /// Positive errno; 0 means this is an acknowledgement.
    #[must_use]
    #[inline]
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// Whether this is an acknowledgement (errno 0) rather than an error.
    #[must_use]
    #[inline]
    pub fn is_ack(&self) -> bool {
        self.errno == 0
    }

    /// The header of the request this answers.
    #[must_use]
    #[inline]
    pub fn request(&self) -> &Header {
        &self.request
    }

    /// The echoed request: the whole request, or only its header when the
    /// kernel capped it (`NLM_F_CAPPED`).
    #[must_use]
    #[inline]
    pub fn request_bytes(&self) -> &'a [u8] {
        self.request_bytes
    }

    /// The extended-ACK attributes (`NLMSGERR_ATTR_*`), empty when the
    /// kernel sent none.
    #[must_use]
    #[inline]
    pub fn ext_ack(&self) -> AttrIter<'a> {
        AttrIter::with_base(self.ext_ack, self.ext_ack_base)
    }

    /// The kernel's human-readable explanation (`NLMSGERR_ATTR_MSG`), if it
    /// sent a well-formed one.
    #[must_use]
    #[inline]
    pub fn message(&self) -> Option<&'a str> {
        ext_ack_attr(self.ext_ack(), NLMSGERR_ATTR_MSG).and_then(|a| a.get_str().ok())
    }

    /// Offset of the offending attribute within the request
    /// (`NLMSGERR_ATTR_OFFS`), if the kernel sent one.
    #[must_use]
    #[inline]
    pub fn bad_attr_offset(&self) -> Option<u32> {
        ext_ack_attr(self.ext_ack(), NLMSGERR_ATTR_OFFS).and_then(|a| a.get_u32().ok())
    }

    /// `Error::Kernel` for an error, `None` for an acknowledgement.
    #[must_use]
    #[inline]
    pub fn to_error(&self) -> Option<Error> {
        (self.errno != 0).then(|| Error::Kernel {
            errno: self.errno,
            message: self.message().map(str::to_owned),
        })
    }
}

/// The first attribute of `kind` in an extended ACK, ignoring malformed
/// tails: the ACK itself has already been understood, and the TLVs only add
/// detail.
fn ext_ack_attr(attrs: AttrIter<'_>, kind: u16) -> Option<Attr<'_>> {
    attrs.map_while(Result::ok).find(|a| a.kind() == kind)
}

/// The payload of an `NLMSG_DONE` message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoneMsg<'a> {
    status: Option<i32>,
    ext_ack: &'a [u8],
    ext_ack_base: usize,
}

impl<'a> DoneMsg<'a> {
    fn parse(msg: &Msg<'a>) -> Self {
        let payload = msg.payload();
        let at = msg.payload_offset();
        let status = i32_at(payload, 0);
        let tlvs = if msg.flags() & NLM_F_ACK_TLVS != 0 {
            payload.get(4..).unwrap_or_default()
        } else {
            &[]
        };
        Self {
            status,
            ext_ack: tlvs,
            ext_ack_base: at + 4,
        }
    }

    /// The `int` status, if the message carries one (some families send an
    /// empty `NLMSG_DONE`). 0 is success, negative is `-errno`.
    #[must_use]
    #[inline]
    pub fn status(&self) -> Option<i32> {
        self.status
    }

    /// The extended-ACK attributes after the status, if any.
    #[must_use]
    #[inline]
    pub fn ext_ack(&self) -> AttrIter<'a> {
        AttrIter::with_base(self.ext_ack, self.ext_ack_base)
    }

    /// `Error::Kernel` if the dump ended with a negative status.
    #[must_use]
    #[inline]
    pub fn to_error(&self) -> Option<Error> {
        match self.status {
            Some(s) if s < 0 && s != i32::MIN => Some(Error::Kernel {
                errno: -s,
                message: ext_ack_attr(self.ext_ack(), NLMSGERR_ATTR_MSG)
                    .and_then(|a| a.get_str().ok())
                    .map(str::to_owned),
            }),
            _ => None,
        }
    }
}

/// Iterator over the messages in one receive buffer.
///
/// Yields `Err` once for the first malformed message and then stops: the
/// position of anything after a bad length is unknowable. The last message
/// may omit its trailing padding; 1 to 15 stray bytes after the last message
/// are reported as a truncated header.
#[derive(Clone, Debug)]
pub struct MsgIter<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> MsgIter<'a> {
    /// Iterates over the messages in `buf`.
    #[must_use]
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for MsgIter<'a> {
    type Item = Result<Msg<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        match Msg::parse_at(self.buf, self.pos) {
            Ok(msg) => {
                self.pos = self
                    .pos
                    .saturating_add(align(msg.bytes().len()))
                    .min(self.buf.len());
                Some(Ok(msg))
            }
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

impl FusedIterator for MsgIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::{NLM_F_MULTI, NLM_F_REQUEST};

    fn msg(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(NLMSG_HDRLEN + payload.len()).unwrap();
        let mut v = Header {
            len,
            msg_type,
            flags,
            seq,
            pid: 77,
        }
        .to_bytes()
        .to_vec();
        v.extend_from_slice(payload);
        v.resize(align(v.len()), 0);
        v
    }

    fn error_payload(errno: i32, request: &[u8]) -> Vec<u8> {
        let mut p = errno.to_ne_bytes().to_vec();
        p.extend_from_slice(request);
        p
    }

    #[test]
    fn header_round_trips() {
        let h = Header {
            len: 20,
            msg_type: 18,
            flags: 0x301,
            seq: 0xdead_beef,
            pid: 42,
        };
        assert_eq!(Header::parse(&h.to_bytes()), Ok(h));
    }

    #[test]
    fn short_header() {
        assert_eq!(
            Msg::parse(&[0; 5]),
            Err(Error::Truncated {
                part: Part::Message,
                offset: 0,
                need: 16,
                have: 5,
            })
        );
    }

    #[test]
    fn length_smaller_than_header() {
        let mut buf = msg(20, 0, 1, &[]);
        buf[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(
            Msg::parse(&buf),
            Err(Error::LengthTooSmall {
                part: Part::Message,
                offset: 0,
                len: 8,
                min: 16,
            })
        );
    }

    #[test]
    fn length_past_end() {
        let mut buf = msg(20, 0, 1, &[1, 2, 3, 4]);
        buf[0..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        let err = Msg::parse(&buf).unwrap_err();
        assert_eq!(
            err,
            Error::LengthPastEnd {
                part: Part::Message,
                offset: 0,
                len: u32::MAX as usize,
                available: 20,
            }
        );
    }

    #[test]
    fn misaligned_start() {
        let buf = msg(20, 0, 1, &[]);
        assert_eq!(
            Msg::parse_at(&buf, 2),
            Err(Error::Misaligned {
                part: Part::Message,
                offset: 2,
            })
        );
    }

    #[test]
    fn accessors_and_attrs() {
        // A 1-byte fixed header (rtgenmsg) followed by one attribute.
        let mut payload = vec![17, 0, 0, 0];
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&29u16.to_ne_bytes());
        payload.extend_from_slice(&1u32.to_ne_bytes());
        let buf = msg(18, NLM_F_REQUEST, 9, &payload);
        let m = Msg::parse(&buf).unwrap();
        assert_eq!(m.msg_type(), 18);
        assert_eq!(m.flags(), NLM_F_REQUEST);
        assert_eq!(m.seq(), 9);
        assert_eq!(m.pid(), 77);
        assert_eq!(m.bytes().len(), 28);
        assert_eq!(m.payload(), &payload[..]);
        assert_eq!(m.fixed_header(1), Ok(&[17u8][..]));
        let attrs: Vec<_> = m.attrs(1).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].kind(), 29);
        assert_eq!(attrs[0].offset(), 20);
        assert_eq!(m.kind(), Ok(MsgKind::Data));
        assert_eq!(
            m.fixed_header(16),
            Err(Error::Truncated {
                part: Part::FamilyHeader,
                offset: 16,
                need: 16,
                have: 12,
            })
        );
        assert!(m.attrs(16).is_err());
    }

    #[test]
    fn error_with_full_echo() {
        let request = msg(16, NLM_F_REQUEST, 5, &[0; 8]);
        let buf = msg(NLMSG_ERROR, 0, 5, &error_payload(-19, &request));
        let m = Msg::parse(&buf).unwrap();
        let MsgKind::Error(e) = m.kind().unwrap() else {
            panic!("not an error");
        };
        assert_eq!(e.errno(), 19);
        assert!(!e.is_ack());
        assert_eq!(e.request().seq, 5);
        assert_eq!(e.request_bytes(), &request[..]);
        assert_eq!(e.message(), None);
        assert_eq!(e.to_error(), Some(Error::kernel(19)));
        assert_eq!(m.check(), Err(Error::kernel(19)));
    }

    #[test]
    fn ack_with_capped_echo_and_tlvs() {
        let request = msg(16, NLM_F_REQUEST, 5, &[0; 8]);
        let mut payload = error_payload(-22, &request[..16]);
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend_from_slice(b"bad\0");
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_OFFS.to_ne_bytes());
        payload.extend_from_slice(&24u32.to_ne_bytes());
        let buf = msg(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 5, &payload);
        let MsgKind::Error(e) = Msg::parse(&buf).unwrap().kind().unwrap() else {
            panic!("not an error");
        };
        assert_eq!(e.request_bytes().len(), 16);
        assert_eq!(e.message(), Some("bad"));
        assert_eq!(e.bad_attr_offset(), Some(24));
        assert_eq!(e.ext_ack().base(), 16 + 4 + 16);
        assert_eq!(
            e.to_error().unwrap().to_string(),
            "kernel error EINVAL (Invalid argument, errno 22): bad"
        );

        let ack = msg(
            NLMSG_ERROR,
            NLM_F_CAPPED,
            5,
            &error_payload(0, &request[..16]),
        );
        let m = Msg::parse(&ack).unwrap();
        let MsgKind::Error(e) = m.kind().unwrap() else {
            panic!("not an error");
        };
        assert!(e.is_ack());
        assert_eq!(e.to_error(), None);
        assert_eq!(m.check(), Ok(m));
    }

    #[test]
    fn truncated_error_payload() {
        let buf = msg(NLMSG_ERROR, 0, 5, &[0xfe, 0xff, 0xff, 0xff]);
        assert_eq!(
            Msg::parse(&buf).unwrap().kind(),
            Err(Error::Truncated {
                part: Part::ErrorPayload,
                offset: 16,
                need: 20,
                have: 4,
            })
        );
    }

    #[test]
    fn positive_errno_is_bad_value() {
        let buf = msg(NLMSG_ERROR, 0, 5, &error_payload(5, &[0; 16]));
        let err = Msg::parse(&buf).unwrap().kind().unwrap_err();
        assert_eq!(
            err.to_string(),
            "error payload at offset 16: value 5 is not a negated errno"
        );
        let buf = msg(NLMSG_ERROR, 0, 5, &error_payload(i32::MIN, &[0; 16]));
        assert!(Msg::parse(&buf).unwrap().kind().is_err());
    }

    #[test]
    fn tlvs_past_echo_are_reported() {
        // Claims an uncapped 64-byte echo but only carries 16 bytes of it.
        let mut request = msg(16, NLM_F_REQUEST, 5, &[]);
        request[0..4].copy_from_slice(&64u32.to_ne_bytes());
        let buf = msg(NLMSG_ERROR, NLM_F_ACK_TLVS, 5, &error_payload(-1, &request));
        assert_eq!(
            Msg::parse(&buf).unwrap().kind(),
            Err(Error::LengthPastEnd {
                part: Part::ErrorPayload,
                offset: 20,
                len: 64,
                available: 16,
            })
        );
        // The same short echo without TLVs is tolerated.
        let buf = msg(NLMSG_ERROR, 0, 5, &error_payload(-1, &request));
        let MsgKind::Error(e) = Msg::parse(&buf).unwrap().kind().unwrap() else {
            panic!("not an error");
        };
        assert_eq!(e.request_bytes().len(), 16);
    }

    #[test]
    fn done_with_and_without_status() {
        let buf = msg(NLMSG_DONE, NLM_F_MULTI, 3, &0i32.to_ne_bytes());
        let m = Msg::parse(&buf).unwrap();
        let MsgKind::Done(d) = m.kind().unwrap() else {
            panic!("not done");
        };
        assert_eq!(d.status(), Some(0));
        assert_eq!(d.to_error(), None);
        assert_eq!(m.check(), Ok(m));

        let buf = msg(NLMSG_DONE, NLM_F_MULTI, 3, &(-16i32).to_ne_bytes());
        let m = Msg::parse(&buf).unwrap();
        assert_eq!(m.check(), Err(Error::kernel(16)));

        let buf = msg(NLMSG_DONE, NLM_F_MULTI, 3, &[]);
        let MsgKind::Done(d) = Msg::parse(&buf).unwrap().kind().unwrap() else {
            panic!("not done");
        };
        assert_eq!(d.status(), None);
        assert_eq!(d.ext_ack().count(), 0);
    }

    #[test]
    fn noop_and_overrun() {
        let noop = msg(NLMSG_NOOP, 0, 0, &[]);
        assert_eq!(Msg::parse(&noop).unwrap().kind(), Ok(MsgKind::Noop));
        let overrun = msg(NLMSG_OVERRUN, 0, 0, &[]);
        assert_eq!(Msg::parse(&overrun).unwrap().kind(), Ok(MsgKind::Overrun));
    }

    #[test]
    fn iterates_over_several_messages() {
        let mut buf = msg(16, NLM_F_MULTI, 1, &[1, 2, 3]);
        buf.extend(msg(16, NLM_F_MULTI, 1, &[4; 8]));
        buf.extend(msg(NLMSG_DONE, NLM_F_MULTI, 1, &0i32.to_ne_bytes()));
        let msgs: Vec<_> = MsgIter::new(&buf).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0].offset(), 0);
        assert_eq!(msgs[0].payload(), &[1, 2, 3]);
        assert_eq!(msgs[1].offset(), 20);
        assert_eq!(msgs[2].offset(), 44);
        assert!(matches!(msgs[2].kind(), Ok(MsgKind::Done(_))));
    }

    #[test]
    fn iterator_stops_after_first_error() {
        let mut buf = msg(16, 0, 1, &[]);
        let mut bad = msg(16, 0, 2, &[]);
        bad[0..4].copy_from_slice(&4u32.to_ne_bytes());
        buf.extend(bad);
        buf.extend(msg(16, 0, 3, &[]));
        let mut it = MsgIter::new(&buf);
        assert!(it.next().unwrap().is_ok());
        assert_eq!(
            it.next(),
            Some(Err(Error::LengthTooSmall {
                part: Part::Message,
                offset: 16,
                len: 4,
                min: 16,
            }))
        );
        assert_eq!(it.next(), None);
    }

    #[test]
    fn iterator_reports_trailing_garbage() {
        let mut buf = msg(16, 0, 1, &[]);
        buf.extend_from_slice(&[0; 6]);
        let results: Vec<_> = MsgIter::new(&buf).collect();
        assert_eq!(results.len(), 2);
        assert_eq!(
            results[1],
            Err(Error::Truncated {
                part: Part::Message,
                offset: 16,
                need: 16,
                have: 6,
            })
        );
    }

    #[test]
    fn last_message_may_omit_padding() {
        let mut buf = msg(16, 0, 1, &[9]);
        buf.truncate(17);
        let msgs: Vec<_> = MsgIter::new(&buf).collect();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].as_ref().unwrap().payload(), &[9]);
    }
}
