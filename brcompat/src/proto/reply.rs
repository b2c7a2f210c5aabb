//! The daemon's reply (`DP_RESULT`): a result code and at most one kind of
//! data.

use netdev_netlink::{policy_table, Error, Msg, MsgBuilder, Part, Policy};

use super::error::ProtoError;
use super::fdb::{FdbEntry, FDB_ENTRY_LEN, MAX_FDB_ENTRIES, MAX_IFINDEXES, REPLY_OVERHEAD};
use super::stats::{PortStats, MAX_PORT_STATS, PORT_STATS_LEN};
use super::{
    finish, open_genl, single_msg, Command, BRC_GENL_A_ERR_CODE, BRC_GENL_A_FDB_DATA,
    BRC_GENL_A_IFINDEXES, BRC_GENL_A_MAX, BRC_GENL_A_MC_GROUP, BRC_GENL_A_PORT_STATS,
    BRC_GENL_C_DP_RESULT, VERSION,
};

/// The largest errno (Linux's `MAX_ERRNO`); a larger `ERR_CODE` is a
/// negated errno or garbage, not a result.
const MAX_ERRNO: u32 = 4095;

/// What a successful reply carries besides its result code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum ReplyData {
    /// Nothing: the answer to `DP_ADD`, `DP_DEL`, `PORT_ADD`, `PORT_DEL`,
    /// and to any failed request.
    #[default]
    None,
    /// `FDB_DATA`: the answer to `FDB_QUERY` (possibly empty: the end of
    /// the table).
    Fdb(Vec<FdbEntry>),
    /// `IFINDEXES`: the answer to `GET_BRIDGES` and `GET_PORTS`, as
    /// host-endian `int`s, kept as sent.
    Ifindexes(Vec<i32>),
    /// `MC_GROUP`: the answer to `QUERY_MC`.
    McGroup(u32),
    /// `PORT_STATS` (extension): the answer to `GET_PORT_STATS`.
    PortStats(Vec<PortStats>),
}

/// A `DP_RESULT` message: the answer to one request, which it names by
/// echoing the request's sequence number and port id.
///
/// A struct with one data enum rather than one list per kind, so that "no
/// data" and "an empty list" stay apart on the wire: an FDB query past the
/// end of the table is answered with an empty `FDB_DATA`, which a client
/// can tell from a reply that has no `FDB_DATA` at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reply {
    /// `ERR_CODE`: 0 for success, else a positive errno (at most 4095).
    pub errno: u32,
    /// The data the request asked for.
    pub data: ReplyData,
}

static REPLY_POLICY: [Policy; BRC_GENL_A_MAX as usize + 1] = policy_table(&[
    (BRC_GENL_A_ERR_CODE, Policy::u32("BRC_GENL_A_ERR_CODE")),
    (
        BRC_GENL_A_MC_GROUP,
        Policy::u32("BRC_GENL_A_MC_GROUP").optional(),
    ),
    (
        BRC_GENL_A_FDB_DATA,
        Policy::unspec("BRC_GENL_A_FDB_DATA").optional(),
    ),
    (
        BRC_GENL_A_IFINDEXES,
        Policy::unspec("BRC_GENL_A_IFINDEXES").optional(),
    ),
    (
        BRC_GENL_A_PORT_STATS,
        Policy::unspec("BRC_GENL_A_PORT_STATS").optional(),
    ),
]);

const IFINDEX_LEN: usize = 4;

fn bad_errno(offset: usize, errno: u32) -> Error {
    Error::BadValue {
        part: Part::Attr(BRC_GENL_A_ERR_CODE),
        offset,
        value: i64::from(errno),
        reason: "is not a positive errno (at most 4095)",
    }
}

impl Reply {
    /// Success with no data.
    #[must_use]
    pub fn ok() -> Self {
        Self::default()
    }

    /// Failure with a positive `errno`.
    #[must_use]
    pub fn error(errno: u32) -> Self {
        Self {
            errno,
            data: ReplyData::None,
        }
    }

    /// Success carrying FDB records.
    #[must_use]
    pub fn fdb(entries: Vec<FdbEntry>) -> Self {
        Self {
            errno: 0,
            data: ReplyData::Fdb(entries),
        }
    }

    /// Success carrying ifindexes.
    #[must_use]
    pub fn ifindexes(ifindexes: Vec<i32>) -> Self {
        Self {
            errno: 0,
            data: ReplyData::Ifindexes(ifindexes),
        }
    }

    /// Success carrying per-port counters.
    #[must_use]
    pub fn port_stats(stats: Vec<PortStats>) -> Self {
        Self {
            errno: 0,
            data: ReplyData::PortStats(stats),
        }
    }

    /// Success carrying a multicast group id.
    #[must_use]
    pub fn mc_group(group: u32) -> Self {
        Self {
            errno: 0,
            data: ReplyData::McGroup(group),
        }
    }

    /// Whether the request succeeded.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.errno == 0
    }

    /// Starts `b` over as this reply for `family`, echoing the request's
    /// sequence number `seq` and port id `pid`, and returns the finished
    /// message.
    ///
    /// Fails when `errno` is over 4095 or the data would not fit in
    /// [`super::MAX_MESSAGE_LEN`] (more than [`MAX_FDB_ENTRIES`] records or
    /// [`MAX_IFINDEXES`] ifindexes): send fewer, the client pages.
    pub fn encode<'b>(
        &self,
        b: &'b mut MsgBuilder,
        family: u16,
        seq: u32,
        pid: u32,
    ) -> Result<&'b [u8], ProtoError> {
        if self.errno > MAX_ERRNO {
            return Err(ProtoError::Build(bad_errno(0, self.errno)));
        }
        b.reset_genl(family, 0, BRC_GENL_C_DP_RESULT, VERSION)
            .set_seq(seq)
            .set_pid(pid)
            .put_u32(BRC_GENL_A_ERR_CODE, self.errno);
        match &self.data {
            ReplyData::None => {}
            ReplyData::Fdb(entries) => {
                // Checked before building so that a huge list is refused
                // without being copied.
                if entries.len() > MAX_FDB_ENTRIES {
                    return Err(too_large(entries.len(), FDB_ENTRY_LEN));
                }
                let mut data = Vec::new();
                FdbEntry::encode_all(entries, &mut data);
                b.put_bytes(BRC_GENL_A_FDB_DATA, &data);
            }
            ReplyData::Ifindexes(ifindexes) => {
                if ifindexes.len() > MAX_IFINDEXES {
                    return Err(too_large(ifindexes.len(), IFINDEX_LEN));
                }
                let data: Vec<u8> = ifindexes.iter().flat_map(|i| i.to_ne_bytes()).collect();
                b.put_bytes(BRC_GENL_A_IFINDEXES, &data);
            }
            ReplyData::McGroup(group) => {
                b.put_u32(BRC_GENL_A_MC_GROUP, *group);
            }
            ReplyData::PortStats(stats) => {
                if stats.len() > MAX_PORT_STATS {
                    return Err(too_large(stats.len(), PORT_STATS_LEN));
                }
                let mut data = Vec::new();
                PortStats::encode_all(stats, &mut data)?;
                b.put_bytes(BRC_GENL_A_PORT_STATS, &data);
            }
        }
        finish(b)
    }

    /// Decodes a reply of `family`; returns the sequence number it echoes
    /// with it (the port id is [`Msg::pid`]).
    ///
    /// At most one of `FDB_DATA`, `IFINDEXES`, `MC_GROUP` and
    /// `PORT_STATS` may be
    /// present; `FDB_DATA` must be a whole number of 16-byte records and
    /// `IFINDEXES` of 4-byte ones.
    pub fn decode(msg: &Msg<'_>, family: u16) -> Result<(u32, Reply), ProtoError> {
        let (cmd, attrs) = open_genl(msg, family)?;
        match Command::from_wire(cmd) {
            Some(Command::DpResult) => {}
            Some(_) => {
                return Err(ProtoError::UnexpectedCommand {
                    cmd,
                    expected: "reply",
                })
            }
            None => return Err(ProtoError::UnknownCommand(cmd)),
        }
        let a = attrs.parse(&REPLY_POLICY)?;
        let errno = a.u32(BRC_GENL_A_ERR_CODE)?;
        if errno > MAX_ERRNO {
            let offset = a.require(BRC_GENL_A_ERR_CODE)?.offset();
            return Err(bad_errno(offset, errno).into());
        }
        let mut present = [
            BRC_GENL_A_FDB_DATA,
            BRC_GENL_A_IFINDEXES,
            BRC_GENL_A_MC_GROUP,
            BRC_GENL_A_PORT_STATS,
        ]
        .into_iter()
        .filter(|&attr| a.has(attr));
        if let (Some(first), Some(second)) = (present.next(), present.next()) {
            return Err(ProtoError::ConflictingData { first, second });
        }
        let data = if let Some(fdb) = a.get(BRC_GENL_A_FDB_DATA) {
            ReplyData::Fdb(FdbEntry::decode_all(fdb.payload(), fdb.offset())?)
        } else if let Some(list) = a.get(BRC_GENL_A_IFINDEXES) {
            let chunks = list.payload().chunks_exact(IFINDEX_LEN);
            if !chunks.remainder().is_empty() {
                return Err(ProtoError::PartialRecord {
                    attr: BRC_GENL_A_IFINDEXES,
                    offset: list.offset(),
                    len: list.payload().len(),
                    record: IFINDEX_LEN,
                });
            }
            ReplyData::Ifindexes(
                chunks
                    .filter_map(|c| <[u8; IFINDEX_LEN]>::try_from(c).ok())
                    .map(i32::from_ne_bytes)
                    .collect(),
            )
        } else if let Some(stats) = a.get(BRC_GENL_A_PORT_STATS) {
            ReplyData::PortStats(PortStats::decode_all(stats.payload(), stats.offset())?)
        } else if let Some(group) = a.opt(BRC_GENL_A_MC_GROUP, |g| g.get_u32())? {
            ReplyData::McGroup(group)
        } else {
            ReplyData::None
        };
        Ok((msg.seq(), Reply { errno, data }))
    }

    /// Decodes a datagram holding one reply of `family`:
    /// [`decode`](Self::decode) after the size limit and the one-message
    /// framing are checked.
    pub fn parse(datagram: &[u8], family: u16) -> Result<(u32, Reply), ProtoError> {
        Self::decode(&single_msg(datagram)?, family)
    }
}

/// The error for a list of `n` records of `record` bytes that cannot fit.
fn too_large(n: usize, record: usize) -> ProtoError {
    ProtoError::TooLarge {
        len: n.saturating_mul(record).saturating_add(REPLY_OVERHEAD),
        max: super::MAX_MESSAGE_LEN,
    }
}

#[cfg(test)]
mod tests {
    use netdev_netlink::{Disposition, Matcher};

    use super::super::{Request, UNIX_FAMILY_ID};
    use super::*;

    /// A client's matcher takes the reply as the final answer to its
    /// request: the reply echoes sequence number and port id and is not
    /// multi-part.
    #[test]
    fn a_client_matcher_pairs_the_reply_with_its_request() {
        let mut matcher = Matcher::new(Some(77));
        let mut request = MsgBuilder::default();
        Request::GetBridges
            .encode(&mut request, UNIX_FAMILY_ID, 0)
            .unwrap();
        let id = matcher.start(&mut request);
        let sent = request.finish().unwrap().to_vec();

        // The daemon's side.
        let (seq, got) = Request::parse(&sent, UNIX_FAMILY_ID).unwrap();
        assert_eq!(got, Request::GetBridges);
        let pid = Msg::parse(&sent).unwrap().pid();
        assert_eq!((seq, pid), (id.seq(), 77));
        let mut b = MsgBuilder::default();
        let reply = Reply::ifindexes(vec![3, 5]);
        let bytes = reply.encode(&mut b, UNIX_FAMILY_ID, seq, pid).unwrap();

        let msg = Msg::parse(bytes).unwrap();
        assert_eq!(matcher.on_message(&msg), Disposition::FinalReply(id));
        assert_eq!(Reply::decode(&msg, UNIX_FAMILY_ID), Ok((seq, reply)));
    }

    #[test]
    fn errno_bounds() {
        let mut b = MsgBuilder::default();
        for errno in [0, 1, 22, MAX_ERRNO] {
            let bytes = Reply::error(errno)
                .encode(&mut b, UNIX_FAMILY_ID, 1, 0)
                .unwrap();
            assert_eq!(
                Reply::parse(bytes, UNIX_FAMILY_ID),
                Ok((1, Reply::error(errno)))
            );
        }
        for errno in [MAX_ERRNO + 1, u32::MAX] {
            let err = Reply::error(errno)
                .encode(&mut b, UNIX_FAMILY_ID, 1, 0)
                .unwrap_err();
            assert!(matches!(err, ProtoError::Build(Error::BadValue { .. })));
        }
    }

    #[test]
    fn an_error_may_come_with_data_and_keeps_it() {
        let reply = Reply {
            errno: 5,
            data: ReplyData::McGroup(1),
        };
        let mut b = MsgBuilder::default();
        let bytes = reply.encode(&mut b, UNIX_FAMILY_ID, 9, 0).unwrap();
        assert_eq!(Reply::parse(bytes, UNIX_FAMILY_ID), Ok((9, reply)));
    }

    #[test]
    fn too_large_reports_the_message_length() {
        let e = too_large(MAX_FDB_ENTRIES + 1, FDB_ENTRY_LEN);
        assert_eq!(
            e,
            ProtoError::TooLarge {
                len: 32 + (MAX_FDB_ENTRIES + 1) * FDB_ENTRY_LEN,
                max: super::super::MAX_MESSAGE_LEN
            }
        );
        assert!(matches!(
            too_large(usize::MAX, 16),
            ProtoError::TooLarge {
                len: usize::MAX,
                ..
            }
        ));
    }
}
