//! Dumps: a request with `NLM_F_DUMP` answered by many messages over many
//! datagrams, ended by `NLMSG_DONE` (whose status may report an error).
//!
//! One [`Cursor`] walks a dump's replies; [`Dump`] drives it for one
//! caller, [`SharedDump`] for several threads, so both end, skip strays,
//! report errors and drain alike.
//!
//! Why not [`Requester::dump`](super::Requester::dump): these hand out one
//! message at a time, borrowed from the socket's buffer, to callers that
//! pull (`while let Some(m) = dump.next_msg()`), and `SharedDump` splits
//! datagrams between threads; the requester pushes messages to a callback
//! and owns its loop. Both end a dump the same way (`NLMSG_DONE`, an error,
//! `EINTR` for an interrupted dump), and neither uses the kernel's
//! synchronous shortcut: the kernel fills a dump as it is read, so a dump
//! always blocks for its next datagram. Sequence numbers come from the
//! socket's one counter, shared with its transactions.

use std::io;

use parking_lot::Mutex;

use super::socket::Socket;
use super::{
    align, Msg, MsgBuilder, MsgKind, NLMSG_HDRLEN, NLMSG_MIN_TYPE, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};

/// Where a dump stands in the socket's replies.
#[derive(Debug)]
struct Cursor {
    seq: u32,
    /// Offset of the next message in the socket's last datagram; `None`
    /// when a new datagram must be received.
    offset: Option<usize>,
    finished: bool,
    interrupted: bool,
}

impl Cursor {
    /// Sends `request` as a dump on `sock`.
    fn start(sock: &mut Socket, request: &mut MsgBuilder) -> io::Result<Cursor> {
        request.add_flags(NLM_F_REQUEST | NLM_F_DUMP);
        let seq = sock.send(request)?;
        Ok(Cursor {
            seq,
            offset: None,
            finished: false,
            interrupted: false,
        })
    }

    /// True if the next message is already in the socket's last datagram
    /// (the next [`Cursor::advance`] will not receive).
    fn buffered(&self, sock: &Socket) -> bool {
        matches!(self.offset, Some(o) if o < sock.last_received().len())
    }

    /// Finds the next data message of the dump; returns its offset in the
    /// socket's current datagram. `None` at the end; an error if the kernel
    /// reported one (in `NLMSG_ERROR`, in the status of `NLMSG_DONE`, or as
    /// `EINTR` when it flagged the dump inconsistent) or a reply is
    /// malformed. Messages with other sequence numbers are skipped.
    fn advance(&mut self, sock: &mut Socket) -> io::Result<Option<usize>> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let offset = if self.buffered(sock) {
                self.offset.unwrap_or(0)
            } else {
                match sock.recv(true) {
                    Ok(_) => 0,
                    Err(e) => {
                        self.finished = true;
                        return Err(e);
                    }
                }
            };
            let data = sock.last_received();
            let Some(peek) = Peek::at(data, offset) else {
                // Let the parser say what is wrong. The rest of this
                // datagram is unreadable; later ones may still belong to
                // the dump, so drain them.
                let err = match Msg::parse_at(data, offset) {
                    Err(e) => io::Error::from(e),
                    Ok(_) => io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("malformed netlink message at offset {offset}"),
                    ),
                };
                self.offset = None;
                self.drain(sock);
                return Err(err);
            };
            self.offset = Some(offset + align(peek.len));
            if peek.seq != self.seq {
                log::debug!("dump: skipping reply with seq {:#x}", peek.seq);
                continue;
            }
            if peek.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            if peek.msg_type >= NLMSG_MIN_TYPE {
                // A data message: the caller parses it (once).
                return Ok(Some(offset));
            }
            let msg = Msg::parse_at(data, offset)?;
            match msg.kind()? {
                MsgKind::Done(done) => {
                    self.finished = true;
                    if let Some(e) = done.to_error() {
                        return Err(e.into());
                    }
                    if self.interrupted {
                        // EINTR, as the doc says, so callers can match the
                        // errno; the kind is `Interrupted` too.
                        log::debug!("dump interrupted: the table changed while it was read");
                        return Err(io::Error::from_raw_os_error(libc::EINTR));
                    }
                    return Ok(None);
                }
                MsgKind::Error(err) => {
                    self.finished = true;
                    return match err.errno() {
                        0 => Ok(None),
                        errno => Err(io::Error::from_raw_os_error(errno)),
                    };
                }
                MsgKind::Noop => continue,
                MsgKind::Overrun | MsgKind::Data => return Ok(Some(offset)),
            }
        }
    }

    /// Reads and discards the rest of the dump's replies.
    fn drain(&mut self, sock: &mut Socket) {
        self.finished = false;
        // An error means the end was reached (with an error) or the socket
        // failed: either way nothing more of this dump will come.
        while let Ok(Some(_)) = self.advance(sock) {}
        self.finished = true;
    }
}

/// A dump in progress on a socket. Read it with [`Dump::next_msg`]; if it is
/// dropped before the end, the rest of its replies are drained so the socket
/// is clean for the next request.
#[derive(Debug)]
pub struct Dump<'s> {
    sock: &'s mut Socket,
    cursor: Cursor,
}

impl Socket {
    /// Starts a dump: sends `request` with `NLM_F_REQUEST | NLM_F_DUMP`.
    pub fn dump(&mut self, request: &mut MsgBuilder) -> io::Result<Dump<'_>> {
        let cursor = Cursor::start(self, request)?;
        Ok(Dump { sock: self, cursor })
    }
}

impl Dump<'_> {
    /// The next message of the dump: `None` at the end, an error if the
    /// kernel reported one (in `NLMSG_ERROR`, or in the status of
    /// `NLMSG_DONE`) or if a reply is malformed. Messages with other
    /// sequence numbers (stray replies) are skipped.
    ///
    /// If the kernel flagged the dump inconsistent (`NLM_F_DUMP_INTR`: the
    /// table changed while it was dumped), every message is still returned
    /// and the end is reported as an `EINTR` error, so the caller can
    /// decide to dump again.
    pub fn next_msg(&mut self) -> Option<io::Result<Msg<'_>>> {
        let found = match self.cursor.advance(self.sock) {
            Ok(Some(off)) => off,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        // Parsed here, not in `advance` (which only peeks at headers),
        // because a borrow returned from inside its loop would keep the
        // socket borrowed across receives.
        Some(Msg::parse_at(self.sock.last_received(), found).map_err(io::Error::from))
    }
}

impl Drop for Dump<'_> {
    fn drop(&mut self) {
        if !self.cursor.finished {
            self.cursor.drain(self.sock);
        }
    }
}

/// The header fields the dump loop steers by, read straight from the
/// bytes: a data message is then parsed only once, by [`Dump::next_msg`]
/// when it hands the message out (a dump is mostly data messages, so this
/// halves the parsing per message). `None` if the header is short,
/// misaligned, or claims more bytes than the datagram holds.
struct Peek {
    len: usize,
    msg_type: u16,
    flags: u16,
    seq: u32,
}

impl Peek {
    fn at(data: &[u8], offset: usize) -> Option<Peek> {
        if offset % 4 != 0 {
            return None;
        }
        let h: &[u8; NLMSG_HDRLEN] = data
            .get(offset..offset.checked_add(NLMSG_HDRLEN)?)?
            .try_into()
            .ok()?;
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < NLMSG_HDRLEN || len > data.len() - offset {
            return None;
        }
        Some(Peek {
            len,
            msg_type: u16::from_ne_bytes([h[4], h[5]]),
            flags: u16::from_ne_bytes([h[6], h[7]]),
            seq: u32::from_ne_bytes([h[8], h[9], h[10], h[11]]),
        })
    }
}

/// A dump that several threads consume together, each taking whole
/// datagrams of replies into its own buffer (like Open vSwitch's thread-safe
/// `nl_dump`). It ends, skips strays and reports errors (including `EINTR`
/// for an inconsistent dump) exactly as [`Dump`] does.
#[derive(Debug)]
pub struct SharedDump {
    inner: Mutex<SharedState>,
}

#[derive(Debug)]
struct SharedState {
    sock: Socket,
    cursor: Cursor,
    /// How the dump ended, repeated to every later caller (an
    /// `io::Error` cannot be cloned).
    error: Option<(io::ErrorKind, Option<i32>, String)>,
}

impl SharedDump {
    /// Starts a dump of `request` on `sock` (which the dump owns until it
    /// is dropped or [`SharedDump::into_socket`] is called).
    pub fn start(mut sock: Socket, request: &mut MsgBuilder) -> io::Result<SharedDump> {
        let cursor = Cursor::start(&mut sock, request)?;
        Ok(SharedDump {
            inner: Mutex::new(SharedState {
                sock,
                cursor,
                error: None,
            }),
        })
    }

    /// Replaces `out` with the next run of data messages of the dump (from
    /// one datagram), each 4-byte aligned so `MsgIter` reads them back.
    /// Returns false at the end. Safe to call from several threads: each
    /// message goes to exactly one caller.
    pub fn next_batch(&self, out: &mut Vec<u8>) -> io::Result<bool> {
        out.clear();
        let mut guard = self.inner.lock();
        let st = &mut *guard;
        loop {
            match st.cursor.advance(&mut st.sock) {
                Ok(Some(offset)) => {
                    let msg = Msg::parse_at(st.sock.last_received(), offset)?;
                    out.extend_from_slice(msg.bytes());
                    out.resize(align(out.len()), 0);
                    if !st.cursor.buffered(&st.sock) {
                        return Ok(true);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    st.error = Some((e.kind(), e.raw_os_error(), e.to_string()));
                    break;
                }
            }
        }
        if !out.is_empty() {
            return Ok(true);
        }
        match &st.error {
            None => Ok(false),
            Some((_, Some(errno), _)) => Err(io::Error::from_raw_os_error(*errno)),
            Some((kind, None, text)) => Err(io::Error::new(*kind, text.clone())),
        }
    }

    /// Ends the dump (draining what is left) and returns the socket.
    pub fn into_socket(self) -> Socket {
        let mut st = self.inner.into_inner();
        if !st.cursor.finished {
            st.cursor.drain(&mut st.sock);
        }
        st.sock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{Header, MsgIter, NLMSG_DONE, RTM_NEWLINK};

    fn msg(len: u32, msg_type: u16, flags: u16, seq: u32) -> Vec<u8> {
        let h = Header {
            len,
            msg_type,
            flags,
            seq,
            pid: 7,
        };
        let mut v = h.to_bytes().to_vec();
        v.resize(len as usize, 0);
        v
    }

    #[test]
    fn peek_agrees_with_the_parser() {
        let mut data = msg(20, RTM_NEWLINK, NLM_F_DUMP_INTR, 42);
        data.extend(msg(16, NLMSG_DONE, 0, 42));
        let mut offsets = Vec::new();
        for m in MsgIter::new(&data) {
            let m = m.unwrap();
            let p = Peek::at(&data, m.offset()).expect("a valid header");
            assert_eq!(
                (p.len, p.msg_type, p.flags, p.seq),
                (m.bytes().len(), m.msg_type(), m.flags(), m.seq())
            );
            offsets.push(m.offset());
        }
        assert_eq!(offsets, [0, 20]);
    }

    #[test]
    fn peek_rejects_what_the_parser_rejects() {
        let data = msg(20, RTM_NEWLINK, 0, 1);
        // Short header, misaligned, past the end, shorter than a header.
        assert!(Peek::at(&data[..15], 0).is_none());
        assert!(Peek::at(&data, 2).is_none());
        assert!(Peek::at(&data, 20).is_none());
        assert!(Peek::at(&data[..19], 0).is_none());
        assert!(Msg::parse_at(&data[..19], 0).is_err());
        let mut tiny = msg(16, RTM_NEWLINK, 0, 1);
        tiny[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(Peek::at(&tiny, 0).is_none());
        assert!(Msg::parse_at(&tiny, 0).is_err());
        let huge = Header {
            len: u32::MAX,
            ..Header::default()
        }
        .to_bytes();
        assert!(Peek::at(&huge, 0).is_none());
    }
}
