//! A blocking driver of the [`Matcher`] over a [`Transport`]: send
//! requests, receive datagrams until each request is complete, hand back
//! the replies. One request, a batch of requests in one datagram, or a
//! dump.
//!
//! How long to wait is the one thing that differs between peers, so it is
//! an explicit [`PeerModel`] rather than an assumption: a userspace daemon
//! may answer whenever it likes, the kernel answers inside `send`.

use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use super::builder::MsgBuilder;
use super::consts::{align, NLM_F_DUMP, NLM_F_REQUEST};
use super::matcher::{Disposition, Matcher, RequestId};
use super::msg::{Msg, MsgIter};
use super::transport::{is_timeout, Transport};

/// Receive buffer of a [`Requester`]: a kernel dump datagram (at most 32
/// KiB, sized by the largest buffer a reader offered) plus room for one
/// message with a maximal 64 KiB attribute.
pub(crate) const DEFAULT_BUFFER: usize = 32 * 1024 + 64 * 1024;

/// How the peer answers, which decides how long a [`Requester`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerModel {
    /// The peer answers whenever it likes: late, out of order, interleaved
    /// with other answers, over several datagrams. Each request waits for
    /// its own answer (an ack, an error, `NLMSG_DONE`, or its single reply
    /// when it asked for no ack), for at most `timeout` per call (`None`:
    /// forever). A userspace daemon is such a peer.
    Asynchronous {
        /// How long one call may wait in total.
        timeout: Option<Duration>,
    },
    /// The Linux kernel, and only it: it handles a request inside `send`,
    /// so when `send` returns every answer is already queued. A
    /// non-blocking receive that finds nothing therefore means the requests
    /// still outstanding succeeded without answering, and no call ever
    /// waits. Dumps are the exception (the kernel fills them as they are
    /// read), so dumps block. Wrong for any other peer: a late answer
    /// would be taken for a silent success.
    KernelSynchronous,
}

/// What a request drew: its data messages (none for a bare ack, one for a
/// `GET`, many for a dump or multi-part reply), in the order received.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The messages back to back, each padded to the Netlink alignment so
    /// that [`MsgIter`] reads them back.
    data: Vec<u8>,
    count: usize,
    /// Length of the first message, so [`Response::into_first`] need not
    /// parse it again.
    first_len: usize,
}

impl Response {
    fn push(&mut self, msg: &Msg<'_>) {
        let bytes = msg.bytes();
        if self.count == 0 {
            self.first_len = bytes.len();
        }
        // One allocation for the common single reply, padding included.
        self.data.reserve(align(bytes.len()));
        self.data.extend_from_slice(bytes);
        self.data.resize(align(self.data.len()), 0);
        self.count += 1;
    }

    /// Number of data messages.
    #[must_use]
    #[inline]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the request drew no data (a bare ack).
    #[must_use]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The messages, in the order received.
    #[must_use]
    pub fn iter(&self) -> MsgIter<'_> {
        MsgIter::new(&self.data)
    }

    /// The first message, if any.
    #[must_use]
    #[inline]
    pub fn first(&self) -> Option<Msg<'_>> {
        self.iter().next().and_then(Result::ok)
    }

    /// The first message alone, without copying it again.
    #[must_use]
    pub fn into_first(self) -> Option<Reply> {
        if self.count == 0 {
            return None;
        }
        let mut data = self.data;
        // Checked when received: the first message is valid.
        data.truncate(self.first_len);
        Some(Reply(data))
    }

    /// All messages, each padded to the Netlink alignment.
    #[must_use]
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
}

/// One reply message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply(Vec<u8>);

impl Reply {
    /// Wraps the bytes of one message; fails if they are not one valid
    /// message.
    pub fn new(bytes: Vec<u8>) -> Result<Reply, crate::Error> {
        Msg::parse(&bytes)?;
        Ok(Reply(bytes))
    }

    /// The reply message.
    #[must_use]
    #[inline]
    pub fn msg(&self) -> Msg<'_> {
        // Every constructor checked the bytes, so parsing cannot fail.
        Msg::parse(&self.0).expect("reply was validated when received")
    }

    /// The reply's bytes.
    #[must_use]
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One request and, after [`Requester::transact_multiple`], its outcome.
#[derive(Debug)]
pub struct Transaction {
    /// The request; its sequence number and port id are set when sent.
    pub request: MsgBuilder,
    reply: Vec<u8>,
    errno: i32,
    done: bool,
}

impl Transaction {
    /// A transaction for `request`.
    #[must_use]
    pub fn new(request: MsgBuilder) -> Transaction {
        Transaction {
            request,
            reply: Vec::new(),
            errno: 0,
            done: false,
        }
    }

    /// The outcome: the (first) reply message if the peer sent one beyond
    /// an ack, `None` for a bare ack, or the error (the peer's errno, or
    /// the transport error that ended the batch).
    pub fn result(&self) -> io::Result<Option<Msg<'_>>> {
        if self.errno != 0 {
            return Err(io::Error::from_raw_os_error(self.errno));
        }
        if self.reply.is_empty() {
            return Ok(None);
        }
        Msg::parse(&self.reply).map(Some).map_err(io::Error::from)
    }

    /// The errno of a failed transaction, 0 on success.
    #[must_use]
    #[inline]
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// Whether the transaction has its outcome.
    #[must_use]
    #[inline]
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn reset(&mut self) {
        self.reply.clear();
        self.errno = 0;
        self.done = false;
    }

    fn complete(&mut self, errno: i32) {
        self.errno = errno;
        self.done = true;
    }
}

/// `EIO`: the errno a transaction carries when the transport failed under
/// it with an error that has none.
const EIO: i32 = 5;

/// Sends requests over a [`Transport`] and waits for their answers with a
/// [`Matcher`]: one request ([`Requester::transact`]), a batch in one
/// datagram ([`Requester::transact_multiple`]) or a dump
/// ([`Requester::dump`]). How long it waits is its [`PeerModel`].
#[derive(Debug)]
pub struct Requester {
    matcher: Matcher,
    model: PeerModel,
    buf: Vec<u8>,
    max_batch_count: usize,
    max_batch_bytes: usize,
    /// Recognises a transport error that means answers were lost and the
    /// requests should be sent again (the kernel's `ENOBUFS`).
    lost: Option<fn(&io::Error) -> bool>,
}

/// How a wait for answers ended, short of the transport failing.
enum WaitEnd {
    /// Every awaited request is complete.
    Complete,
    /// [`PeerModel::KernelSynchronous`]: nothing more is queued.
    Drained,
}

impl Requester {
    /// A requester for a peer that answers as `model` says, on a
    /// connection known to the peer as `port` (see [`Matcher::new`]).
    #[must_use]
    pub fn new(model: PeerModel, port: Option<u32>) -> Requester {
        Requester {
            matcher: Matcher::new(port),
            model,
            buf: vec![0; DEFAULT_BUFFER],
            // About a page of requests per datagram: large kernel buffers
            // are expensive to allocate, and a daemon reads a page at once.
            max_batch_count: 64,
            max_batch_bytes: 4096 - 512,
            lost: None,
        }
    }

    /// The matcher, for its counters and outstanding requests.
    #[must_use]
    #[inline]
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// The matcher, to number messages sent outside this requester.
    #[inline]
    pub fn matcher_mut(&mut self) -> &mut Matcher {
        &mut self.matcher
    }

    /// How the peer is taken to answer.
    #[must_use]
    #[inline]
    pub fn model(&self) -> PeerModel {
        self.model
    }

    /// The receive buffer, for a caller that receives other traffic
    /// (notifications) on the same connection without a second buffer.
    #[inline]
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The receive buffer as last filled.
    #[must_use]
    #[inline]
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Limits how many requests (`count`, at least 1) and bytes go into one
    /// datagram of [`Requester::transact_multiple`]: the peer must be able
    /// to queue the answers to a whole batch.
    pub fn set_batch_limits(&mut self, count: usize, bytes: usize) {
        self.max_batch_count = count.max(1);
        self.max_batch_bytes = bytes;
    }

    /// Makes requests whose answers the transport reports lost (an error
    /// for which `lost` is true, such as the kernel's receive-buffer
    /// overflow) be sent again instead of failing. Only safe for requests
    /// that may run twice; the kernel socket uses it because an overflow
    /// drops answers, not requests.
    pub fn resend_when(&mut self, lost: fn(&io::Error) -> bool) {
        self.lost = Some(lost);
    }

    /// Sends `request` and waits until it is complete; returns every data
    /// message it drew. The caller chooses what ends it by its flags
    /// (`NLM_F_ACK`, `NLM_F_DUMP`; see [`Matcher::start`]).
    ///
    /// Errors: the peer's errno (`raw_os_error()`), a transport error, a
    /// malformed or truncated datagram (`InvalidData`), or `TimedOut`
    /// naming the request's sequence number. After an error the request is
    /// abandoned: late answers to it are ignored.
    pub fn transact(
        &mut self,
        t: &mut dyn Transport,
        request: &mut MsgBuilder,
    ) -> io::Result<Response> {
        loop {
            let id = self.matcher.start(request);
            if let Err(e) = t.send(&[IoSlice::new(request.finish()?)]) {
                self.matcher.abandon(id);
                return Err(e);
            }
            let mut response = Response::default();
            let mut result = Ok(());
            let end = self.wait(t, &[id], false, |_, msg, d| match d {
                Disposition::Reply(_) | Disposition::FinalReply(_) => response.push(&msg),
                Disposition::Complete(_, r) => result = r,
                Disposition::Ignored(_) => {}
            });
            match end {
                // Only the transport can say answers were lost; a peer
                // that answers ENOBUFS has answered.
                Err(e) if self.lost.is_some_and(|lost| lost(&e)) => {
                    log::debug!("netlink answer lost ({e}), sending the request again");
                }
                Err(e) => return Err(e),
                Ok(_) => return result.map(|()| response).map_err(io::Error::from),
            }
        }
    }

    /// Like [`Requester::transact`], handing the first reply to `parse`
    /// where it lies in the receive buffer (`None` for a bare ack) instead
    /// of copying it into a [`Response`]: no allocation and no copy per
    /// transaction, for callers that decode the reply at once. Further
    /// replies to the same request are consumed and ignored.
    ///
    /// Errors as for [`Requester::transact`]; `parse` is not called when
    /// the peer answered with an error.
    pub fn transact_with<T>(
        &mut self,
        t: &mut dyn Transport,
        request: &mut MsgBuilder,
        parse: impl for<'m> FnOnce(Option<Msg<'m>>) -> T,
    ) -> io::Result<T> {
        let mut parse = Some(parse);
        loop {
            let id = self.matcher.start(request);
            if let Err(e) = t.send(&[IoSlice::new(request.finish()?)]) {
                self.matcher.abandon(id);
                return Err(e);
            }
            let mut out = None;
            let mut result = Ok(());
            let end = self.wait(t, &[id], false, |_, msg, d| match d {
                Disposition::Reply(_) | Disposition::FinalReply(_) => {
                    if let Some(f) = parse.take() {
                        out = Some(f(Some(msg)));
                    }
                }
                Disposition::Complete(_, r) => result = r,
                Disposition::Ignored(_) => {}
            });
            match end {
                // Answers lost after ours arrived change nothing for us.
                Err(e) if self.lost.is_some_and(|lost| lost(&e)) && out.is_none() => {
                    log::debug!("netlink answer lost ({e}), sending the request again");
                }
                Err(e) if out.is_none() => return Err(e),
                _ => {
                    result.map_err(io::Error::from)?;
                    return Ok(match out {
                        Some(v) => v,
                        None => parse.take().expect("not called without a reply")(None),
                    });
                }
            }
        }
    }

    /// Runs a dump: sends `request` with `NLM_F_REQUEST | NLM_F_DUMP` and
    /// calls `each` on every message of the answer, as it arrives (no
    /// copy). Returns how many there were.
    ///
    /// Errors as for [`Requester::transact`]; a dump the peer flagged
    /// inconsistent ends with `EINTR` after all its messages were handed
    /// out.
    pub fn dump(
        &mut self,
        t: &mut dyn Transport,
        request: &mut MsgBuilder,
        mut each: impl FnMut(Msg<'_>),
    ) -> io::Result<usize> {
        request.add_flags(NLM_F_REQUEST | NLM_F_DUMP);
        let id = self.matcher.start(request);
        if let Err(e) = t.send(&[IoSlice::new(request.finish()?)]) {
            self.matcher.abandon(id);
            return Err(e);
        }
        let mut count = 0;
        let mut result = Ok(());
        self.wait(t, &[id], true, |_, msg, d| match d {
            Disposition::Reply(_) | Disposition::FinalReply(_) => {
                count += 1;
                each(msg);
            }
            Disposition::Complete(_, r) => result = r,
            Disposition::Ignored(_) => {}
        })?;
        result.map(|()| count).map_err(io::Error::from)
    }

    /// Runs every transaction, as many requests per datagram as the batch
    /// limits allow, and fills in each outcome (the first reply message, or
    /// the errno). Returns an error only if the transport failed, or a
    /// datagram was malformed or a wait timed out; the transactions not
    /// finished then carry that error's errno (`EIO` if it has none).
    pub fn transact_multiple(
        &mut self,
        t: &mut dyn Transport,
        txns: &mut [Transaction],
    ) -> io::Result<()> {
        for txn in txns.iter_mut() {
            txn.reset();
        }
        let mut rest = txns;
        while !rest.is_empty() {
            let mut count = 1;
            let mut bytes = rest[0].request.header().len as usize;
            while count < rest.len() && count < self.max_batch_count {
                let len = rest[count].request.header().len as usize;
                if bytes + len > self.max_batch_bytes {
                    break;
                }
                bytes += len;
                count += 1;
            }
            let (batch, _) = rest.split_at_mut(count);
            if let Err(e) = self.transact_batch(t, batch) {
                let errno = e.raw_os_error().unwrap_or(EIO);
                for txn in rest.iter_mut().filter(|t| !t.done) {
                    txn.complete(errno);
                }
                return Err(e);
            }
            rest = &mut std::mem::take(&mut rest)[count..];
        }
        Ok(())
    }

    /// Sends the unfinished transactions of `batch` in one datagram and
    /// waits for them; sends them again while answers are lost.
    fn transact_batch(
        &mut self,
        t: &mut dyn Transport,
        batch: &mut [Transaction],
    ) -> io::Result<()> {
        loop {
            match self.try_batch(t, batch) {
                Err(e) if self.lost.is_some_and(|lost| lost(&e)) => {
                    log::debug!("netlink answers lost ({e}), sending the requests again");
                }
                r => return r,
            }
        }
    }

    fn try_batch(&mut self, t: &mut dyn Transport, batch: &mut [Transaction]) -> io::Result<()> {
        let mut ids = Vec::with_capacity(batch.len());
        let mut slots = Vec::with_capacity(batch.len());
        for (i, txn) in batch.iter_mut().enumerate().filter(|(_, t)| !t.done) {
            ids.push(self.matcher.start(&mut txn.request));
            slots.push(i);
        }
        let sent = {
            let mut parts = Vec::with_capacity(slots.len());
            let mut failed = None;
            for txn in batch.iter_mut().filter(|t| !t.done) {
                match txn.request.finish() {
                    Ok(bytes) => parts.push(IoSlice::new(bytes)),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => t.send(&parts),
                Some(e) => Err(io::Error::from(e)),
            }
        };
        if let Err(e) = sent {
            for id in &ids {
                self.matcher.abandon(*id);
            }
            return Err(e);
        }
        let base = ids.first().map_or(0, |id| id.seq());
        let slot = |id: RequestId| {
            let k = id.seq().wrapping_sub(base) as usize;
            // Sequence numbers are consecutive unless they wrapped.
            let k = if ids.get(k) == Some(&id) {
                Some(k)
            } else {
                ids.iter().position(|x| *x == id)
            };
            k.map(|k| slots[k])
        };
        let end = self.wait(t, &ids, false, |id, msg, d| {
            let Some(txn) = slot(id).and_then(|i| batch.get_mut(i)) else {
                return;
            };
            match d {
                Disposition::Reply(_) | Disposition::FinalReply(_) => {
                    // The first data message is the reply; a multi-part
                    // answer to a batched request keeps only its first.
                    if txn.reply.is_empty() {
                        txn.reply.extend_from_slice(msg.bytes());
                    }
                    if matches!(d, Disposition::FinalReply(_)) {
                        txn.complete(0);
                    }
                }
                Disposition::Complete(_, r) => {
                    txn.complete(r.err().and_then(|e| e.raw_os_error()).unwrap_or(0));
                }
                Disposition::Ignored(_) => {}
            }
        })?;
        if let WaitEnd::Drained = end {
            for txn in batch.iter_mut().filter(|t| !t.done) {
                txn.complete(0);
            }
        }
        Ok(())
    }

    /// Receives and classifies datagrams until every request of `ids` is
    /// complete, calling `each` with the request a message is for. `dump`
    /// asks to block even for a [`PeerModel::KernelSynchronous`] peer.
    /// Whatever ends the wait, none of `ids` is outstanding afterwards.
    fn wait(
        &mut self,
        t: &mut dyn Transport,
        ids: &[RequestId],
        dump: bool,
        mut each: impl FnMut(RequestId, Msg<'_>, Disposition),
    ) -> io::Result<WaitEnd> {
        let deadline = match self.model {
            PeerModel::Asynchronous {
                timeout: Some(limit),
            } => Some(Instant::now() + limit),
            _ => None,
        };
        let result = loop {
            if !ids.iter().any(|id| self.matcher.is_outstanding(*id)) {
                break Ok(WaitEnd::Complete);
            }
            let timeout = match (self.model, deadline) {
                (PeerModel::KernelSynchronous, _) if !dump => Some(Duration::ZERO),
                (_, Some(d)) => Some(d.saturating_duration_since(Instant::now())),
                _ => None,
            };
            let n = match t.recv(&mut self.buf, timeout) {
                Ok(n) => n,
                Err(e) if is_timeout(&e) && self.model == PeerModel::KernelSynchronous && !dump => {
                    break Ok(WaitEnd::Drained);
                }
                Err(e) if is_timeout(&e) => break Err(self.timed_out(ids)),
                Err(e) => break Err(e),
            };
            if n == 0 {
                break Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "netlink peer closed the connection with requests outstanding",
                ));
            }
            if n > self.buf.len() {
                break Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "netlink datagram of {n} bytes truncated to the {}-byte receive buffer",
                        self.buf.len()
                    ),
                ));
            }
            let fed = self.matcher.feed(&self.buf[..n], |msg, d| {
                let id = match &d {
                    Disposition::Reply(id)
                    | Disposition::FinalReply(id)
                    | Disposition::Complete(id, _) => *id,
                    Disposition::Ignored(_) => return,
                };
                if ids.contains(&id) {
                    each(id, msg, d);
                }
            });
            if let Err(e) = fed {
                break Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("malformed netlink datagram of {n} bytes: {e}"),
                ));
            }
        };
        for id in ids {
            self.matcher.abandon(*id);
        }
        result
    }

    fn timed_out(&self, ids: &[RequestId]) -> io::Error {
        let waiting: Vec<String> = ids
            .iter()
            .filter(|id| self.matcher.is_outstanding(**id))
            .map(|id| id.seq().to_string())
            .collect();
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "netlink peer did not answer in time; still outstanding: seq {}",
                waiting.join(", ")
            ),
        )
    }
}
