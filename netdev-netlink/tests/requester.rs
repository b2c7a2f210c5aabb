//! The request/reply matcher and its blocking driver against a scripted
//! in-memory peer that answers late, out of order, interleaved, over
//! several datagrams, with multi-part dumps, errors, acks, stale sequence
//! numbers, foreign port ids and broken datagrams. No sockets: this runs on
//! every OS.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::time::Duration;

use netdev_netlink::{
    Header, Msg, MsgBuilder, MsgIter, PeerModel, Requester, Transaction, Transport, NLMSG_DONE,
    NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST,
};
use proptest::prelude::*;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const ENODEV: i32 = 19;
const EINVAL: i32 = 22;
const EINTR: i32 = 4;
const PORT: u32 = 4242;

/// What the peer queues for the client to receive.
enum Step {
    Datagram(Vec<u8>),
    /// The peer has not answered yet: a receive that waits at all gets
    /// past this, a non-blocking one finds nothing.
    Stall,
    /// The peer closed the connection.
    Closed,
}

/// A peer driven by a script: `answer` sees each datagram the client
/// sends (as the requests' headers) and returns what to queue.
struct Scripted<F> {
    answer: F,
    queue: VecDeque<Step>,
    sent: Vec<Header>,
    port: Option<u32>,
}

type Answer = Box<dyn FnMut(&[Header]) -> Vec<Step>>;

fn peer(answer: impl FnMut(&[Header]) -> Vec<Step> + 'static) -> Scripted<Answer> {
    Scripted {
        answer: Box::new(answer),
        queue: VecDeque::new(),
        sent: Vec::new(),
        port: Some(PORT),
    }
}

impl<F: FnMut(&[Header]) -> Vec<Step>> Transport for Scripted<F> {
    fn send(&mut self, parts: &[IoSlice<'_>]) -> io::Result<()> {
        let datagram: Vec<u8> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        let headers: Vec<Header> = MsgIter::new(&datagram)
            .map(|m| m.map(|m| *m.header()))
            .collect::<Result<_, _>>()
            .map_err(io::Error::from)?;
        self.sent.extend(headers.iter().copied());
        let steps = (self.answer)(&headers);
        self.queue.extend(steps);
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<usize> {
        loop {
            match self.queue.pop_front() {
                None => return Err(io::ErrorKind::TimedOut.into()),
                Some(Step::Stall) if timeout == Some(Duration::ZERO) => {
                    return Err(io::ErrorKind::WouldBlock.into())
                }
                Some(Step::Stall) => continue,
                Some(Step::Closed) => return Ok(0),
                Some(Step::Datagram(d)) => {
                    let n = d.len().min(buf.len());
                    buf[..n].copy_from_slice(&d[..n]);
                    return Ok(d.len());
                }
            }
        }
    }

    fn local_port(&self) -> Option<u32> {
        self.port
    }
}

// ---- Messages the peer sends.

fn link(seq: u32, flags: u16, index: u32) -> Vec<u8> {
    let mut b = MsgBuilder::new(RTM_NEWLINK, flags);
    b.set_seq(seq)
        .set_pid(PORT)
        .put_fixed(&[0; 4])
        .put_u32(1, index);
    b.finish().unwrap().to_vec()
}

fn error(seq: u32, errno: i32) -> Vec<u8> {
    let mut payload = (-errno).to_ne_bytes().to_vec();
    payload.extend(Header::default().to_bytes());
    let mut b = MsgBuilder::new(NLMSG_ERROR, 0);
    b.set_seq(seq).set_pid(PORT).put_fixed(&payload);
    b.finish().unwrap().to_vec()
}

fn ack(seq: u32) -> Vec<u8> {
    error(seq, 0)
}

fn done(seq: u32, status: i32, flags: u16) -> Vec<u8> {
    let mut b = MsgBuilder::new(NLMSG_DONE, NLM_F_MULTI | flags);
    b.set_seq(seq)
        .set_pid(PORT)
        .put_fixed(&status.to_ne_bytes());
    b.finish().unwrap().to_vec()
}

fn dgram(msgs: &[Vec<u8>]) -> Step {
    Step::Datagram(msgs.concat())
}

fn request(msg_type: u16, flags: u16, index: u32) -> MsgBuilder {
    let mut b = MsgBuilder::new(msg_type, NLM_F_REQUEST | flags);
    b.put_fixed(&[0; 4]).put_u32(1, index);
    b
}

fn index_of(m: &Msg<'_>) -> u32 {
    m.attrs(4)
        .unwrap()
        .find(1)
        .unwrap()
        .unwrap()
        .get_u32()
        .unwrap()
}

fn asynchronous() -> Requester {
    Requester::new(
        PeerModel::Asynchronous {
            timeout: Some(Duration::from_secs(5)),
        },
        Some(PORT),
    )
}

#[test]
fn late_ack_after_strays_and_other_ports() {
    let mut t = peer(|reqs| {
        let seq = reqs[0].seq;
        vec![
            Step::Stall,
            dgram(&[link(seq + 100, 0, 1), link(0, 0, 2)]),
            Step::Stall,
            // Right seq, someone else's port: not ours.
            Step::Datagram({
                let mut m = ack(seq);
                m[12..16].copy_from_slice(&7u32.to_ne_bytes());
                m
            }),
            dgram(&[ack(seq)]),
        ]
    });
    let mut r = asynchronous();
    let resp = r
        .transact(&mut t, &mut request(RTM_SETLINK, NLM_F_ACK, 3))
        .unwrap();
    assert!(resp.is_empty());
    let stats = r.matcher().stats();
    assert_eq!((stats.unknown_seq, stats.foreign_port), (2, 1));
    assert_eq!(t.sent[0].pid, PORT, "requests carry our port id");
    assert_eq!(r.matcher().outstanding_count(), 0);
}

#[test]
fn get_without_ack_ends_at_its_reply_and_errors_keep_errno() {
    let mut t = peer(|reqs| {
        let h = reqs[0];
        let index = h.seq; // answer with something recognisable
        if h.msg_type == RTM_GETLINK && h.seq % 2 == 1 {
            vec![dgram(&[link(h.seq, 0, index)])]
        } else {
            vec![dgram(&[error(h.seq, ENODEV)])]
        }
    });
    let mut r = asynchronous();
    let resp = r.transact(&mut t, &mut request(RTM_GETLINK, 0, 0)).unwrap();
    assert_eq!(resp.len(), 1);
    assert_eq!(index_of(&resp.first().unwrap()), t.sent[0].seq);
    let e = r
        .transact(&mut t, &mut request(RTM_GETLINK, 0, 0))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(ENODEV));
}

#[test]
fn transact_with_decodes_in_place_and_skips_parse_on_errors() {
    let mut t = peer(|reqs| {
        let h = reqs[0];
        match h.msg_type {
            // A late reply among strays.
            RTM_GETLINK if h.seq % 3 == 1 => vec![
                Step::Stall,
                dgram(&[link(h.seq + 50, 0, 9)]),
                dgram(&[link(h.seq, 0, 7)]),
            ],
            RTM_GETLINK if h.seq % 3 == 2 => vec![dgram(&[error(h.seq, ENODEV)])],
            _ => vec![dgram(&[ack(h.seq)])],
        }
    });
    let mut r = asynchronous();
    let got = r
        .transact_with(&mut t, &mut request(RTM_GETLINK, 0, 0), |m| {
            m.map(|m| index_of(&m))
        })
        .unwrap();
    assert_eq!(got, Some(7), "the reply to our seq, not the stray");
    let mut called = false;
    let e = r
        .transact_with(&mut t, &mut request(RTM_GETLINK, 0, 0), |_| called = true)
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(ENODEV));
    assert!(!called, "no parse for an error answer");
    // A bare ack: parse sees None.
    let got = r
        .transact_with(&mut t, &mut request(RTM_SETLINK, NLM_F_ACK, 1), |m| {
            m.is_none()
        })
        .unwrap();
    assert!(got);
    assert_eq!(r.matcher().outstanding_count(), 0);
}

#[test]
fn batch_answered_out_of_order_interleaved_over_several_datagrams() {
    // Request k (0-based in the batch): k % 3 == 0 a GET answered with a
    // link, 1 a SET acked, 2 a SET refused with EINVAL. The peer answers
    // in reverse order, two answers per datagram, with a stray between.
    let mut t = peer(|reqs| {
        let mut answers: Vec<Vec<u8>> = Vec::new();
        for (k, h) in reqs.iter().enumerate().rev() {
            answers.push(match k % 3 {
                0 => link(h.seq, 0, 1000 + k as u32),
                1 => ack(h.seq),
                _ => error(h.seq, EINVAL),
            });
        }
        let mut steps = Vec::new();
        for pair in answers.chunks(2) {
            steps.push(dgram(pair));
            steps.push(dgram(&[ack(12345)]));
            steps.push(Step::Stall);
        }
        steps
    });
    let mut r = asynchronous();
    let mut txns: Vec<Transaction> = (0..10)
        .map(|k| match k % 3 {
            0 => Transaction::new(request(RTM_GETLINK, 0, k)),
            _ => Transaction::new(request(RTM_SETLINK, NLM_F_ACK, k)),
        })
        .collect();
    r.transact_multiple(&mut t, &mut txns).unwrap();
    for (k, txn) in txns.iter().enumerate() {
        assert!(txn.is_done());
        match k % 3 {
            0 => assert_eq!(index_of(&txn.result().unwrap().unwrap()), 1000 + k as u32),
            1 => assert!(txn.result().unwrap().is_none()),
            _ => assert_eq!(txn.errno(), EINVAL, "txn {k}"),
        }
    }
    // The strays between answers; the one after the last is never read.
    assert_eq!(r.matcher().stats().unknown_seq, 4);
}

#[test]
fn batches_respect_the_limits() {
    let mut datagrams = 0;
    let mut t = peer(move |reqs| {
        datagrams += 1;
        assert!(reqs.len() <= 3, "datagram {datagrams} holds {}", reqs.len());
        reqs.iter().map(|h| dgram(&[ack(h.seq)])).collect()
    });
    let mut r = asynchronous();
    r.set_batch_limits(3, 4096);
    let mut txns: Vec<Transaction> = (0..10)
        .map(|k| Transaction::new(request(RTM_SETLINK, NLM_F_ACK, k)))
        .collect();
    r.transact_multiple(&mut t, &mut txns).unwrap();
    assert!(txns.iter().all(|t| t.is_done() && t.errno() == 0));
    assert_eq!(t.sent.len(), 10);
}

#[test]
fn dump_collects_every_part_across_datagrams() {
    let mut t = peer(|reqs| {
        let seq = reqs[0].seq;
        assert_eq!(reqs[0].flags & NLM_F_DUMP, NLM_F_DUMP);
        let part = |i| link(seq, NLM_F_MULTI, i);
        vec![
            dgram(&[part(1), part(2)]),
            Step::Stall,
            dgram(&[link(seq - 1, NLM_F_MULTI, 99), part(3)]),
            dgram(&[part(4), done(seq, 0, 0)]),
            // After the end: a stray for the next call to ignore.
            dgram(&[part(5)]),
        ]
    });
    let mut r = asynchronous();
    let mut seen = Vec::new();
    let n = r
        .dump(&mut t, &mut request(RTM_GETLINK, 0, 0), |m| {
            seen.push(index_of(&m))
        })
        .unwrap();
    assert_eq!((n, seen), (4, vec![1, 2, 3, 4]));
    // The stray left over is ignored by the next request.
    let resp = {
        let mut next = peer(|reqs| vec![dgram(&[ack(reqs[0].seq)])]);
        next.queue = std::mem::take(&mut t.queue);
        r.transact(&mut next, &mut request(RTM_SETLINK, NLM_F_ACK, 0))
    };
    assert!(resp.unwrap().is_empty());
}

#[test]
fn dump_errors_in_done_and_interrupted_dumps() {
    let mut t = peer(|reqs| {
        let seq = reqs[0].seq;
        vec![dgram(&[link(seq, NLM_F_MULTI, 1), done(seq, -EINVAL, 0)])]
    });
    let mut r = asynchronous();
    let e = r
        .dump(&mut t, &mut request(RTM_GETLINK, 0, 0), |_| {})
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(EINVAL));

    let mut t = peer(|reqs| {
        let seq = reqs[0].seq;
        vec![
            dgram(&[link(seq, NLM_F_MULTI | NLM_F_DUMP_INTR, 1)]),
            dgram(&[link(seq, NLM_F_MULTI, 2), done(seq, 0, NLM_F_DUMP_INTR)]),
        ]
    });
    let mut count = 0;
    let e = r
        .dump(&mut t, &mut request(RTM_GETLINK, 0, 0), |_| count += 1)
        .unwrap_err();
    assert_eq!((count, e.raw_os_error()), (2, Some(EINTR)));
}

#[test]
fn multi_part_reply_to_a_plain_request_is_collected_until_done() {
    let mut t = peer(|reqs| {
        let seq = reqs[0].seq;
        vec![
            dgram(&[link(seq, NLM_F_MULTI, 1)]),
            dgram(&[link(seq, NLM_F_MULTI, 2), done(seq, 0, 0)]),
        ]
    });
    let resp = asynchronous()
        .transact(&mut t, &mut request(RTM_GETLINK, 0, 0))
        .unwrap();
    let got: Vec<u32> = resp.iter().map(|m| index_of(&m.unwrap())).collect();
    assert_eq!(got, [1, 2]);
}

#[test]
fn timeout_names_the_outstanding_requests() {
    // The second of three requests is never answered.
    let mut t = peer(|reqs| vec![dgram(&[ack(reqs[0].seq)]), dgram(&[ack(reqs[2].seq)])]);
    let mut r = asynchronous();
    let mut txns: Vec<Transaction> = (0..3)
        .map(|k| Transaction::new(request(RTM_SETLINK, NLM_F_ACK, k)))
        .collect();
    let e = r.transact_multiple(&mut t, &mut txns).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    let missing = t.sent[1].seq;
    assert!(e.to_string().contains(&format!("seq {missing}")), "{e}");
    assert_eq!(txns[0].errno(), 0);
    assert_ne!(txns[1].errno(), 0);
    assert_eq!(txns[2].errno(), 0);
    // Nothing is left waiting: a late answer is a stray.
    assert_eq!(r.matcher().outstanding_count(), 0);
}

#[test]
fn broken_datagrams_are_errors_not_panics() {
    // Truncated: longer than the receive buffer.
    let mut t = peer(|reqs| {
        let seq = reqs[0].seq;
        let mut big = MsgBuilder::new(RTM_NEWLINK, 0);
        big.set_seq(seq).put_bytes(1, &vec![0xab; 60_000]);
        let big = big.finish().unwrap().to_vec();
        vec![dgram(&[big.clone(), big])]
    });
    let mut r = asynchronous();
    let e = r
        .transact(&mut t, &mut request(RTM_GETLINK, 0, 0))
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("truncated"), "{e}");

    // Malformed: a message claiming more bytes than the datagram holds,
    // and a datagram cut inside a header.
    for cut in [30, 10] {
        let mut t = peer(move |reqs| {
            let mut m = link(reqs[0].seq, 0, 1);
            if cut == 30 {
                m[..4].copy_from_slice(&200u32.to_ne_bytes());
            }
            m.truncate(cut.min(m.len()));
            vec![Step::Datagram(m)]
        });
        let e = r
            .transact(&mut t, &mut request(RTM_GETLINK, 0, 0))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string().starts_with("malformed netlink datagram"),
            "{e}"
        );
    }
    assert_eq!(r.matcher().outstanding_count(), 0);

    // The peer hangs up.
    let mut t = peer(|_| vec![Step::Closed]);
    let e = r
        .transact(&mut t, &mut request(RTM_GETLINK, 0, 0))
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn kernel_synchronous_policy_takes_silence_for_success() {
    // What the kernel model means, and why it is wrong for anyone else: a
    // peer that has not answered yet (a stall) looks like one that
    // succeeded silently.
    let mut t = peer(|reqs| vec![Step::Stall, dgram(&[error(reqs[0].seq, EINVAL)])]);
    let mut kernel = Requester::new(PeerModel::KernelSynchronous, Some(PORT));
    let resp = kernel
        .transact(&mut t, &mut request(RTM_SETLINK, NLM_F_ACK, 0))
        .unwrap();
    assert!(resp.is_empty());
    // The late error is then a stray for the next request.
    let mut t2 = peer(|reqs| vec![dgram(&[ack(reqs[0].seq)])]);
    t2.queue = std::mem::take(&mut t.queue);
    kernel
        .transact(&mut t2, &mut request(RTM_SETLINK, NLM_F_ACK, 0))
        .unwrap();
    assert_eq!(kernel.matcher().stats().unknown_seq, 1);

    // The asynchronous model waits and sees the error.
    let mut t = peer(|reqs| vec![Step::Stall, dgram(&[error(reqs[0].seq, EINVAL)])]);
    let e = asynchronous()
        .transact(&mut t, &mut request(RTM_SETLINK, NLM_F_ACK, 0))
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(EINVAL));
}

#[test]
fn without_port_ids_replies_match_by_seq_alone() {
    let mut t = peer(|reqs| {
        let mut m = ack(reqs[0].seq);
        m[12..16].copy_from_slice(&0u32.to_ne_bytes());
        vec![Step::Datagram(m)]
    });
    t.port = None;
    let mut r = Requester::new(PeerModel::Asynchronous { timeout: None }, None);
    r.transact(&mut t, &mut request(RTM_SETLINK, NLM_F_ACK, 0))
        .unwrap();
    assert_eq!(t.sent[0].pid, 0);
}

proptest! {
    /// Whatever order and datagram split the peer answers a batch in, with
    /// strays anywhere, every transaction gets exactly its own outcome.
    #[test]
    fn any_order_any_split(
        kinds in prop::collection::vec(0u8..3, 1..20),
        order_seed in any::<u64>(),
        split in prop::collection::vec(1usize..4, 1..40),
        strays in prop::collection::vec(any::<bool>(), 1..40),
    ) {
        let kinds2 = kinds.clone();
        let mut t = peer(move |reqs| {
            let mut answers: Vec<Vec<u8>> = reqs
                .iter()
                .enumerate()
                .map(|(k, h)| match kinds2[k] {
                    0 => link(h.seq, 0, k as u32),
                    1 => ack(h.seq),
                    _ => error(h.seq, ENODEV),
                })
                .collect();
            // A deterministic shuffle from the seed.
            let mut s = order_seed | 1;
            for i in (1..answers.len()).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                answers.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let mut steps = Vec::new();
            let mut i = 0;
            let mut j = 0;
            while i < answers.len() {
                let n = split[j % split.len()].min(answers.len() - i);
                let mut msgs: Vec<Vec<u8>> = answers[i..i + n].to_vec();
                if strays[j % strays.len()] {
                    msgs.insert(0, link(reqs[0].seq.wrapping_sub(1), 0, 9999));
                }
                steps.push(dgram(&msgs));
                i += n;
                j += 1;
            }
            steps
        });
        let mut r = asynchronous();
        let mut txns: Vec<Transaction> = kinds
            .iter()
            .map(|&k| match k {
                0 => Transaction::new(request(RTM_GETLINK, 0, 0)),
                _ => Transaction::new(request(RTM_SETLINK, NLM_F_ACK, 0)),
            })
            .collect();
        r.transact_multiple(&mut t, &mut txns).unwrap();
        for (k, txn) in txns.iter().enumerate() {
            match kinds[k] {
                0 => prop_assert_eq!(index_of(&txn.result().unwrap().unwrap()), k as u32),
                1 => prop_assert!(txn.result().unwrap().is_none()),
                _ => prop_assert_eq!(txn.errno(), ENODEV),
            }
        }
        prop_assert_eq!(r.matcher().outstanding_count(), 0);
    }
}
