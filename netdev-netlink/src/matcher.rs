//! Request/reply matching as a sans-IO state machine.
//!
//! The [`Matcher`] numbers requests and decides, for every message a peer
//! sends back, which outstanding request it answers and whether that
//! request is now complete. It does no I/O and keeps no clock: the caller
//! sends what it built, feeds in what it received, and decides how long to
//! wait (see [`crate::Requester`] for the blocking driver). Nothing here
//! assumes the peer answers synchronously or in order, so the same code
//! serves the kernel and a userspace daemon that answers late,
//! interleaved, or over several datagrams.
//!
//! The rules are on [`Matcher`].

use std::collections::VecDeque;

use super::builder::MsgBuilder;
use super::consts::{NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI};
use super::error::Error;
use super::msg::{Msg, MsgIter, MsgKind};

/// `EINTR`, the errno of a dump the peer flagged inconsistent. Netlink
/// errnos are Linux numbers whatever OS decodes them.
const EINTR: i32 = 4;

/// One outstanding request, named by its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u32);

impl RequestId {
    /// The sequence number the request was sent with.
    #[must_use]
    #[inline]
    pub fn seq(self) -> u32 {
        self.0
    }
}

/// What a received message means for the outstanding requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// A data message answering the request; more may follow.
    Reply(RequestId),
    /// A data message answering the request, and its last: the request
    /// asked for no ack, is no dump, and this reply is not multi-part.
    FinalReply(RequestId),
    /// The request is complete: `Ok` on an ack or at the end of a
    /// multi-part reply, `Err` (an [`Error::Kernel`] with a positive errno,
    /// or the description of a malformed control message) on failure. A
    /// dump the peer flagged inconsistent (`NLM_F_DUMP_INTR`) ends with
    /// `EINTR` after all its messages, so the caller may dump again.
    Complete(RequestId, Result<(), Error>),
    /// Not for any outstanding request; dropped and counted.
    Ignored(Ignored),
}

/// Why a message was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Its sequence number belongs to no outstanding request (a late
    /// answer to an abandoned request, a notification, a duplicate).
    UnknownSeq(u32),
    /// It is addressed to another port id.
    ForeignPort(u32),
    /// `NLMSG_NOOP`.
    Noop,
}

/// Counters of what the matcher dropped, for logs and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatcherStats {
    /// Messages whose sequence number matched no outstanding request.
    pub unknown_seq: u64,
    /// Messages addressed to another port id.
    pub foreign_port: u64,
    /// `NLMSG_NOOP` messages.
    pub noop: u64,
}

#[derive(Debug)]
struct Pending {
    seq: u32,
    ack: bool,
    dump: bool,
    /// A multi-part reply has started: only `NLMSG_DONE` (or an error)
    /// ends it now.
    multi: bool,
    interrupted: bool,
}

/// Pairs replies with requests: numbers them ([`Matcher::start`]) and
/// classifies every received message ([`Matcher::on_message`],
/// [`Matcher::feed`]).
///
/// When a request is complete:
/// - an ack (`NLMSG_ERROR` with error 0): success;
/// - an error (`NLMSG_ERROR` with an errno, or `NLMSG_DONE` with a negative
///   status): failure with that positive errno and the extended-ACK text;
/// - `NLMSG_DONE` after a dump or any multi-part (`NLM_F_MULTI`) reply;
/// - the first data message that is not multi-part, when the request asked
///   for no ack and is no dump (an rtnetlink `GET`): nothing else will come.
///
/// A reply with a sequence number nobody waits for (a late answer to an
/// abandoned request, a notification) or from another port is ignored and
/// counted, never an error: it says nothing about our requests.
#[derive(Debug)]
pub struct Matcher {
    port: Option<u32>,
    next_seq: u32,
    /// In the order sent: answers mostly come in that order, so the one
    /// wanted is usually at the front.
    pending: VecDeque<Pending>,
    stats: MatcherStats,
}

impl Default for Matcher {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Matcher {
    /// A matcher for a connection known to its peer as `port` (replies
    /// addressed elsewhere are ignored), or for one without port ids.
    #[must_use]
    pub fn new(port: Option<u32>) -> Self {
        Matcher {
            port,
            next_seq: 1,
            pending: VecDeque::new(),
            stats: MatcherStats::default(),
        }
    }

    /// The port id stamped on requests and expected on replies.
    #[must_use]
    #[inline]
    pub fn port(&self) -> Option<u32> {
        self.port
    }

    /// Reserves `n` consecutive sequence numbers (at least one) and returns
    /// the first, for messages sent outside [`Matcher::start`] (replies a
    /// daemon sends, notifications). Never returns 0: the kernel uses 0 in
    /// notifications, so a request numbered 0 could take one for its reply.
    pub fn allocate_seq(&mut self, n: u32) -> u32 {
        if self.next_seq == 0 || self.next_seq.checked_add(n.max(1)).is_none() {
            self.next_seq = 1;
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(n.max(1));
        seq
    }

    /// Registers `request` as outstanding: gives it a fresh sequence
    /// number and this connection's port id, and notes from its flags what
    /// ends it (`NLM_F_ACK`: an ack; `NLM_F_DUMP`: `NLMSG_DONE`; neither:
    /// the first reply). Send `request.finish()` afterwards.
    pub fn start(&mut self, request: &mut MsgBuilder) -> RequestId {
        let seq = self.allocate_seq(1);
        request.set_seq(seq).set_pid(self.port.unwrap_or(0));
        let flags = request.header().flags;
        self.pending.push_back(Pending {
            seq,
            ack: flags & NLM_F_ACK != 0,
            dump: flags & NLM_F_DUMP == NLM_F_DUMP,
            multi: false,
            interrupted: false,
        });
        RequestId(seq)
    }

    /// Whether `id` still waits for its answer.
    #[must_use]
    #[inline]
    pub fn is_outstanding(&self, id: RequestId) -> bool {
        self.position(id.0).is_some()
    }

    /// The requests still waiting, oldest first.
    pub fn outstanding(&self) -> impl Iterator<Item = RequestId> + '_ {
        self.pending.iter().map(|p| RequestId(p.seq))
    }

    /// How many requests are waiting.
    #[must_use]
    #[inline]
    pub fn outstanding_count(&self) -> usize {
        self.pending.len()
    }

    /// Stops waiting for `id` (after a timeout, or when the caller gave
    /// up): its late answers will be ignored as unknown. Returns whether it
    /// was outstanding.
    pub fn abandon(&mut self, id: RequestId) -> bool {
        match self.position(id.0) {
            Some(i) => {
                self.pending.remove(i);
                true
            }
            None => false,
        }
    }

    /// What was ignored so far.
    #[must_use]
    #[inline]
    pub fn stats(&self) -> MatcherStats {
        self.stats
    }

    fn position(&self, seq: u32) -> Option<usize> {
        self.pending.iter().position(|p| p.seq == seq)
    }

    fn finish(&mut self, i: usize) -> RequestId {
        let seq = self.pending[i].seq;
        self.pending.remove(i);
        RequestId(seq)
    }

    /// Classifies one received message and updates the outstanding
    /// requests. Never fails: a malformed `NLMSG_ERROR` or `NLMSG_DONE`
    /// for an outstanding request completes it with the parse error; one
    /// for nobody is ignored like any other stray.
    pub fn on_message(&mut self, msg: &Msg<'_>) -> Disposition {
        if let Some(port) = self.port {
            if msg.pid() != port {
                self.stats.foreign_port += 1;
                log::debug!(
                    "netlink: ignoring message for port {} (ours is {port})",
                    msg.pid()
                );
                return Disposition::Ignored(Ignored::ForeignPort(msg.pid()));
            }
        }
        let Some(i) = self.position(msg.seq()) else {
            self.stats.unknown_seq += 1;
            log::debug!(
                "netlink: ignoring message with unexpected seq {:#x}",
                msg.seq()
            );
            return Disposition::Ignored(Ignored::UnknownSeq(msg.seq()));
        };
        let p = &mut self.pending[i];
        if msg.flags() & NLM_F_DUMP_INTR != 0 {
            p.interrupted = true;
        }
        let kind = match msg.kind() {
            Ok(kind) => kind,
            Err(e) => return Disposition::Complete(self.finish(i), Err(e)),
        };
        match kind {
            MsgKind::Noop => {
                self.stats.noop += 1;
                Disposition::Ignored(Ignored::Noop)
            }
            MsgKind::Error(err) => {
                let result = match err.to_error() {
                    None => Ok(()),
                    Some(e) => {
                        log::debug!("netlink request {:#x} failed: {e}", msg.seq());
                        Err(e)
                    }
                };
                Disposition::Complete(self.finish(i), result)
            }
            MsgKind::Done(done) => {
                let result = match done.to_error() {
                    Some(e) => Err(e),
                    None if p.interrupted => {
                        log::debug!("netlink dump interrupted: the table changed while read");
                        Err(Error::Kernel {
                            errno: EINTR,
                            message: Some("dump interrupted: the table changed".into()),
                        })
                    }
                    None => Ok(()),
                };
                Disposition::Complete(self.finish(i), result)
            }
            // Overrun is the peer saying data was lost: hand it to the
            // caller like data rather than guess what it means here.
            MsgKind::Data | MsgKind::Overrun => {
                if msg.flags() & NLM_F_MULTI != 0 {
                    p.multi = true;
                }
                if p.ack || p.dump || p.multi {
                    Disposition::Reply(RequestId(p.seq))
                } else {
                    Disposition::FinalReply(self.finish(i))
                }
            }
        }
    }

    /// Classifies every message of one received datagram, calling
    /// `each(message, disposition)` in order.
    ///
    /// Fails on the first malformed message (bad length, truncated
    /// header): the rest of the datagram cannot be framed. The messages
    /// before it were handled; the requests whose answers may have been in
    /// the rest stay outstanding, and the error says where it went wrong.
    pub fn feed<'a>(
        &mut self,
        datagram: &'a [u8],
        mut each: impl FnMut(Msg<'a>, Disposition),
    ) -> Result<(), Error> {
        for msg in MsgIter::new(datagram) {
            let msg = msg?;
            let d = self.on_message(&msg);
            each(msg, d);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consts::{NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLM_F_REQUEST, RTM_NEWLINK};
    use crate::msg::Header;

    fn data(seq: u32, flags: u16, pid: u32) -> Vec<u8> {
        let mut b = MsgBuilder::new(RTM_NEWLINK, flags);
        b.set_seq(seq).set_pid(pid).put_u32(1, 7);
        b.finish().unwrap().to_vec()
    }

    fn ctrl(msg_type: u16, seq: u32, status: i32) -> Vec<u8> {
        let mut v = Header {
            len: 36,
            msg_type,
            flags: 0,
            seq,
            pid: 0,
        }
        .to_bytes()
        .to_vec();
        v.extend(status.to_ne_bytes());
        v.extend(Header::default().to_bytes());
        v.truncate(if msg_type == NLMSG_DONE { 20 } else { 36 });
        let len = v.len() as u32;
        v[..4].copy_from_slice(&len.to_ne_bytes());
        v
    }

    fn classify(m: &mut Matcher, bytes: &[u8]) -> Disposition {
        m.on_message(&Msg::parse(bytes).unwrap())
    }

    #[test]
    fn get_without_ack_ends_at_its_reply() {
        let mut m = Matcher::new(None);
        let id = m.start(&mut MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST));
        assert_eq!(
            classify(&mut m, &data(id.seq(), 0, 0)),
            Disposition::FinalReply(id)
        );
        assert!(!m.is_outstanding(id));
        // A second copy is a stray now.
        assert_eq!(
            classify(&mut m, &data(id.seq(), 0, 0)),
            Disposition::Ignored(Ignored::UnknownSeq(id.seq()))
        );
        assert_eq!(m.stats().unknown_seq, 1);
    }

    #[test]
    fn ack_request_collects_replies_until_the_ack() {
        let mut m = Matcher::new(None);
        let id = m.start(&mut MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK));
        assert_eq!(
            classify(&mut m, &data(id.seq(), 0, 0)),
            Disposition::Reply(id)
        );
        assert_eq!(
            classify(&mut m, &ctrl(NLMSG_ERROR, id.seq(), 0)),
            Disposition::Complete(id, Ok(()))
        );
    }

    #[test]
    fn errors_keep_the_positive_errno() {
        let mut m = Matcher::new(None);
        let id = m.start(&mut MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST));
        let d = classify(&mut m, &ctrl(NLMSG_ERROR, id.seq(), -19));
        assert_eq!(d, Disposition::Complete(id, Err(Error::kernel(19))));
    }

    #[test]
    fn multi_part_ends_at_done_and_reports_interruption() {
        let mut m = Matcher::new(None);
        let id = m.start(&mut MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST));
        let d = classify(&mut m, &data(id.seq(), NLM_F_MULTI | NLM_F_DUMP_INTR, 0));
        assert_eq!(d, Disposition::Reply(id));
        let d = classify(&mut m, &ctrl(NLMSG_DONE, id.seq(), 0));
        assert!(
            matches!(d, Disposition::Complete(i, Err(ref e)) if i == id && e.raw_os_error() == Some(EINTR))
        );
    }

    #[test]
    fn foreign_ports_and_noops_are_ignored() {
        let mut m = Matcher::new(Some(77));
        let id = m.start(&mut MsgBuilder::new(
            RTM_NEWLINK,
            NLM_F_REQUEST | NLM_F_DUMP,
        ));
        assert_eq!(
            classify(&mut m, &data(id.seq(), NLM_F_MULTI, 78)),
            Disposition::Ignored(Ignored::ForeignPort(78))
        );
        let mut noop = ctrl(NLMSG_NOOP, id.seq(), 0);
        noop[12..16].copy_from_slice(&77u32.to_ne_bytes());
        assert_eq!(classify(&mut m, &noop), Disposition::Ignored(Ignored::Noop));
        assert!(m.is_outstanding(id));
        assert_eq!(
            m.stats(),
            MatcherStats {
                foreign_port: 1,
                noop: 1,
                unknown_seq: 0
            }
        );
    }

    #[test]
    fn malformed_error_payload_fails_only_its_request() {
        let mut m = Matcher::new(None);
        let a = m.start(&mut MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK));
        let b = m.start(&mut MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK));
        let mut bad = ctrl(NLMSG_ERROR, b.seq(), 0);
        bad.truncate(20);
        bad[..4].copy_from_slice(&20u32.to_ne_bytes());
        assert!(matches!(classify(&mut m, &bad), Disposition::Complete(i, Err(_)) if i == b));
        assert_eq!(m.outstanding().collect::<Vec<_>>(), [a]);
    }

    #[test]
    fn sequence_numbers_skip_zero() {
        let mut m = Matcher::new(None);
        m.next_seq = u32::MAX - 1;
        assert_eq!(m.allocate_seq(4), 1);
        assert_eq!(m.allocate_seq(1), 5);
    }
}
