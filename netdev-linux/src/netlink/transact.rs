//! Transactions on a kernel socket: requests matched with their replies by
//! the sans-IO [`Requester`](super::Requester), one at a time or batched
//! many per `sendmsg` (the behaviour of Open vSwitch's
//! `nl_sock_transact_multiple`).
//!
//! Two things here are kernel-only and therefore live here, not in the
//! matcher. The kernel handles a request synchronously inside `sendmsg`, so
//! the socket's requester runs with
//! [`PeerModel::KernelSynchronous`](super::PeerModel::KernelSynchronous):
//! once a batch is sent every answer is queued, and a non-blocking receive
//! that finds nothing ends the wait. And requests ask for an ack
//! (`NLM_F_ACK`), so success is explicit, except where the kernel always
//! answers anyway: an rtnetlink `RTM_GET*` request that is not a dump draws
//! its reply or an error, never nothing, so an ack would only add a second
//! datagram for the kernel to build and for us to receive (about 0.8 µs per
//! transaction on the test machine, a third of a `RTM_GETSTATS` by ifindex:
//! see `examples/bench_netlink.rs`).

use std::io;

use super::socket::Socket;
use super::{
    Header, MsgBuilder, Reply, Transaction, NETLINK_ROUTE, NLM_F_ACK, NLM_F_DUMP, RTM_BASE,
};

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

impl Socket {
    /// Sends `request` (with `NLM_F_ACK` added, unless it is an rtnetlink
    /// GET, which the kernel always answers) and waits for its outcome:
    /// `Ok(Some(reply))` if the kernel answered with a message (the first,
    /// if several), `Ok(None)` for a bare ack, or the kernel's error.
    /// Replies to other sequence numbers are ignored; if the receive buffer
    /// overflowed, the request is sent again.
    pub fn transact(&mut self, request: &mut MsgBuilder) -> io::Result<Option<Reply>> {
        if wants_ack(self.protocol(), &request.header()) {
            request.add_flags(NLM_F_ACK);
        }
        let (io, requester) = self.parts();
        Ok(requester.transact(io, request)?.into_first())
    }

    /// Like [`Socket::transact`], decoding the reply with `parse` where it
    /// lies in the receive buffer (`None` for a bare ack): no copy and no
    /// allocation per transaction (see
    /// [`Requester::transact_with`](super::Requester::transact_with)).
    pub fn transact_with<T>(
        &mut self,
        request: &mut MsgBuilder,
        parse: impl for<'m> FnOnce(Option<super::Msg<'m>>) -> T,
    ) -> io::Result<T> {
        if wants_ack(self.protocol(), &request.header()) {
            request.add_flags(NLM_F_ACK);
        }
        let (io, requester) = self.parts();
        requester.transact_with(io, request, parse)
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
            if wants_ack(protocol, &t.request.header()) {
                t.request.add_flags(NLM_F_ACK);
            }
        }
        let (io, requester) = self.parts();
        requester.transact_multiple(io, txns)
    }
}
