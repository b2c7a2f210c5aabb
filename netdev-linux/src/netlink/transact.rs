//! Transactions: requests matched with their replies by sequence number,
//! one at a time or batched many per `sendmsg` (the behaviour of Open
//! vSwitch's `nl_sock_transact_multiple`).
//!
//! The kernel handles a Netlink request synchronously inside `sendmsg`, so
//! once a batch is sent every reply is already queued: receiving without
//! blocking until `EAGAIN` sees them all, and a request that drew no reply
//! by then succeeded. Requests also ask for an ack (`NLM_F_ACK`), so
//! success is explicit too, except where the kernel always answers anyway:
//! an rtnetlink `RTM_GET*` request that is not a dump draws its reply or an
//! error, never nothing, so an ack would only add a second datagram for the
//! kernel to build and for us to receive (about 0.8 µs per transaction on
//! the test machine, a third of a `RTM_GETSTATS` by ifindex: see
//! `examples/bench_netlink.rs`).

use std::io::{self, IoSlice};

use super::socket::{is_overflow, Socket};
use super::{
    Header, Msg, MsgBuilder, MsgIter, MsgKind, NETLINK_ROUTE, NLM_F_ACK, NLM_F_DUMP, RTM_BASE,
};
use crate::sys::netlink::max_iovs;

/// About a page of requests per `sendmsg`: large kernel buffers are
/// expensive to allocate.
const MAX_BATCH_BYTES: usize = 4096 - 512;

/// Whether `request`, sent on a socket of `protocol`, should ask for an
/// ack: always, except for an rtnetlink GET that is not a dump (the kernel
/// classifies rtnetlink types as NEW, DEL, GET, SET by `(type - RTM_BASE)
/// % 4`, and answers every GET with a reply or an error). A caller that
/// set `NLM_F_ACK` itself keeps it.
fn wants_ack(protocol: i32, request: &Header) -> bool {
    let rtnl_get = protocol == NETLINK_ROUTE
        && request.msg_type >= RTM_BASE
        && (request.msg_type - RTM_BASE) % 4 == 2
        && request.flags & NLM_F_DUMP == 0;
    !rtnl_get
}

/// One request and, after [`Socket::transact_multiple`], its outcome.
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
    pub fn new(request: MsgBuilder) -> Transaction {
        Transaction {
            request,
            reply: Vec::new(),
            errno: 0,
            done: false,
        }
    }

    /// The outcome: the reply message if the kernel sent one beyond an ack,
    /// `None` for a bare ack, or the error (a kernel errno, or the socket
    /// error that ended the batch).
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
    pub fn errno(&self) -> i32 {
        self.errno
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

/// What [`Socket::transact`] got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply(Vec<u8>);

impl Reply {
    /// The reply message.
    pub fn msg(&self) -> Msg<'_> {
        // Checked when received; cannot fail.
        Msg::parse(&self.0).expect("reply was validated when received")
    }

    /// The reply's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Socket {
    /// Sends `request` (with `NLM_F_ACK` added, unless it is an rtnetlink
    /// GET, which the kernel always answers) and waits for its outcome:
    /// `Ok(Some(reply))` if the kernel answered with a message,
    /// `Ok(None)` for a bare ack, or the kernel's error. Replies to other
    /// sequence numbers are ignored; if the receive buffer overflowed, the
    /// request is sent again.
    pub fn transact(&mut self, request: &mut MsgBuilder) -> io::Result<Option<Reply>> {
        // One request needs no Transaction, iovec array or reply copy
        // beyond the Reply itself: this path is as lean as the batch path
        // is general.
        if wants_ack(self.protocol(), &request.header()) {
            request.add_flags(NLM_F_ACK);
        }
        loop {
            let seq = self.send(request)?;
            match self.await_reply(seq) {
                Err(e) if is_overflow(&e) => {
                    log::debug!("netlink receive buffer overflow, resending request");
                }
                r => return r,
            }
        }
    }

    /// Receives until the answer to `seq` (a reply, an error or an ack)
    /// or until nothing more is waiting, which means the request, handled
    /// inside `sendmsg`, succeeded without a reply.
    fn await_reply(&mut self, seq: u32) -> io::Result<Option<Reply>> {
        loop {
            let data = match self.recv(false) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            };
            for msg in MsgIter::new(data) {
                let msg = msg?;
                if msg.seq() != seq {
                    log::debug!(
                        "ignoring netlink reply with unexpected seq {:#x}",
                        msg.seq()
                    );
                    continue;
                }
                return match answer(&msg)? {
                    Answer::Noop => continue,
                    Answer::Errno(0) => Ok(None),
                    Answer::Errno(errno) => Err(io::Error::from_raw_os_error(errno)),
                    Answer::Reply => Ok(Some(Reply(msg.bytes().to_vec()))),
                };
            }
        }
    }

    /// Runs every transaction, batching as many requests per `sendmsg` as
    /// the receive buffer can answer (rcvbuf / 4096, at most the iovec
    /// limit, about a page of requests), and fills in each outcome. Each
    /// request asks for an ack as in [`Socket::transact`].
    ///
    /// Returns an error only if the socket itself failed; the transactions
    /// not finished then carry that error too. Batches whose replies were
    /// lost to a receive-buffer overflow are sent again.
    pub fn transact_multiple(&mut self, txns: &mut [Transaction]) -> io::Result<()> {
        let protocol = self.protocol();
        for t in txns.iter_mut() {
            t.reset();
            if wants_ack(protocol, &t.request.header()) {
                t.request.add_flags(NLM_F_ACK);
            }
        }
        let max_count = (self.rcvbuf() / 4096).clamp(1, max_iovs());
        let mut rest = txns;
        while !rest.is_empty() {
            let mut count = 1;
            let mut bytes = rest[0].request.header().len as usize;
            while count < rest.len() && count < max_count {
                let len = rest[count].request.header().len as usize;
                if bytes + len > MAX_BATCH_BYTES {
                    break;
                }
                bytes += len;
                count += 1;
            }
            let (batch, _) = rest.split_at_mut(count);
            let done = match self.transact_batch(batch) {
                Ok(done) => done,
                Err((done, e)) if is_overflow(&e) => {
                    log::debug!("netlink receive buffer overflow, resending requests");
                    done
                }
                Err((done, e)) => {
                    for t in rest.iter_mut().skip(done) {
                        t.complete(e.raw_os_error().unwrap_or(libc::EIO));
                    }
                    return Err(e);
                }
            };
            rest = &mut std::mem::take(&mut rest)[done..];
        }
        Ok(())
    }

    /// Sends one batch and collects replies; returns how many transactions
    /// (from the start) are finished, with the error that stopped it.
    fn transact_batch(&mut self, batch: &mut [Transaction]) -> Result<usize, (usize, io::Error)> {
        let n = batch.len();
        let base = self.allocate_seq(n as u32);
        let port = self.port();
        {
            let mut slices = Vec::with_capacity(n);
            for (i, t) in batch.iter_mut().enumerate() {
                t.request.set_seq(base.wrapping_add(i as u32)).set_pid(port);
            }
            for t in batch.iter_mut() {
                let bytes = t.request.finish().map_err(|e| (0, io::Error::from(e)))?;
                slices.push(IoSlice::new(bytes));
            }
            self.send_many(&slices).map_err(|e| (0, e))?;
        }
        let mut done = 0;
        while done < n {
            let data = match self.recv(false) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Everything was handled inside sendmsg: requests that
                    // drew nothing succeeded.
                    for t in &mut batch[done..] {
                        t.complete(0);
                    }
                    return Ok(n);
                }
                Err(e) => return Err((done, e)),
            };
            for msg in MsgIter::new(data) {
                let msg = msg.map_err(|e| (done, io::Error::from(e)))?;
                let offset = msg.seq().wrapping_sub(base) as usize;
                if offset >= n || offset < done {
                    log::debug!(
                        "ignoring netlink reply with unexpected seq {:#x}",
                        msg.seq()
                    );
                    continue;
                }
                let t = &mut batch[offset];
                match answer(&msg).map_err(|e| (done, e))? {
                    Answer::Noop => continue,
                    Answer::Errno(errno) => t.complete(errno),
                    Answer::Reply => {
                        t.reply.clear();
                        t.reply.extend_from_slice(msg.bytes());
                        t.complete(0);
                    }
                }
                // Replies come in request order: earlier requests without
                // a reply have succeeded.
                for earlier in &mut batch[done..offset] {
                    earlier.complete(0);
                }
                done = offset + 1;
            }
        }
        Ok(n)
    }
}

/// What a reply means for the request it answers.
enum Answer {
    /// `NLMSG_NOOP`: not an answer, keep reading.
    Noop,
    /// `NLMSG_ERROR`: 0 is an ack, anything else the kernel's errno.
    Errno(i32),
    /// A message with data.
    Reply,
}

/// Classifies a reply (one place for `transact` and `transact_multiple`).
fn answer(msg: &Msg<'_>) -> io::Result<Answer> {
    Ok(match msg.kind()? {
        MsgKind::Noop => Answer::Noop,
        MsgKind::Error(err) => {
            if err.errno() != 0 {
                if let Some(text) = err.message() {
                    log::debug!("netlink request failed: {text}");
                }
            }
            Answer::Errno(err.errno())
        }
        _ => Answer::Reply,
    })
}
