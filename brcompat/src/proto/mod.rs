//! The brcompat wire protocol, sans-IO: typed requests ([`Request`]), the
//! daemon's reply ([`Reply`]), forwarding-database records ([`FdbEntry`])
//! and the interface-name rule front ends apply at the boundary
//! ([`validate_request_name`]).
//!
//! This is layer 1 of the design (wire formats): pure functions over byte
//! slices on top of `netdev-netlink`, no sockets, no `unsafe`, compiled and
//! tested on every OS and fuzzed (`brcompat/fuzz`). The daemon and the
//! client move the bytes; this module only says what they mean. Malformed
//! input is a [`ProtoError`], never a panic.
//!
//! ```
//! use brcompat::proto::{Reply, Request, UNIX_FAMILY_ID};
//! use netdev_netlink::{Header, MsgBuilder};
//!
//! // The client: `brctl addif br0 eth0`.
//! let request = Request::AddPort { bridge: "br0".into(), port: "eth0".into() };
//! let mut b = MsgBuilder::default();
//! let datagram = request.encode(&mut b, UNIX_FAMILY_ID, 42)?.to_vec();
//!
//! // The daemon: decode, check the names, answer with the same seq and port.
//! let (seq, got) = Request::parse(&datagram, UNIX_FAMILY_ID)?;
//! assert_eq!((seq, &got), (42, &request));
//! got.validate_names()?;
//! let pid = Header::parse(&datagram)?.pid;
//! let answer = Reply::ok().encode(&mut b, UNIX_FAMILY_ID, seq, pid)?.to_vec();
//!
//! // The client again.
//! assert_eq!(Reply::parse(&answer, UNIX_FAMILY_ID)?, (42, Reply::ok()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Framing
//!
//! Every message is one generic Netlink message: an `nlmsghdr` (16 bytes:
//! length, type = the family id, flags, sequence number, port id), a
//! `genlmsghdr` (4 bytes: command, version [`VERSION`], 2 reserved bytes)
//! and 4-byte aligned attributes. All integers are host-endian, as
//! everywhere in Netlink.
//!
//! | command | attributes of the request | data in the [`BRC_GENL_C_DP_RESULT`] reply |
//! | --- | --- | --- |
//! | `DP_ADD`, `DP_DEL` | `DP_NAME` | none |
//! | `PORT_ADD`, `PORT_DEL` | `DP_NAME`, `PORT_NAME` | none |
//! | `FDB_QUERY` | `DP_NAME`, `FDB_COUNT`, `FDB_SKIP` | `FDB_DATA` |
//! | `GET_BRIDGES` | none | `IFINDEXES` |
//! | `GET_PORTS` | `DP_NAME` | `IFINDEXES` |
//! | `QUERY_MC` | none | `MC_GROUP` |
//! | `GET_PORT_STATS` (extension) | `DP_NAME` | `PORT_STATS` |
//!
//! Every reply carries `ERR_CODE` (0 or a positive errno) and echoes the
//! request's sequence number and port id; a failed request's reply carries
//! nothing else. Requests are sent with `NLM_F_REQUEST`, replies with no
//! flags: a [`netdev_netlink::Matcher`] on the client side then sees the
//! reply as the request's final answer.
//!
//! # Extensions
//!
//! Commands and attributes after the seed's, numbered after its last ones
//! so a seed peer sees an unknown command (answered `EINVAL`) and never
//! misreads one:
//!
//! - `GET_PORT_STATS` ([`BRC_GENL_C_GET_PORT_STATS`], 10): the frame
//!   counters of each port of bridge `DP_NAME` (`brctl showstats`),
//!   answered with `PORT_STATS` ([`BRC_GENL_A_PORT_STATS`], 9), an array
//!   of 72-byte [`PortStats`] records in port-number order: name, port
//!   number, received, sent, forwarded, flooded, dropped, send failures.
//!   For a fake bridge, the ports of its VLAN. `ENODEV` for an unknown
//!   bridge, `EOPNOTSUPP` when the daemon runs no datapath
//!   (`brcompatd --datapath none`).
//!
//! # Family id
//!
//! The kernel module that assigned the family a dynamic id is gone; the
//! protocol now runs over a Unix `SOCK_SEQPACKET` socket, one message per
//! datagram, where no controller hands out ids. [`UNIX_FAMILY_ID`] is the
//! id both ends use there. The codec itself takes the family id as a
//! parameter, so the same code would serve a kernel transport.
//!
//! # Limits
//!
//! A message longer than [`MAX_MESSAGE_LEN`] or with more than
//! [`MAX_ATTRS`] attributes is refused before anything else is looked at;
//! the encoders refuse to build one ([`MAX_FDB_ENTRIES`] and
//! [`MAX_IFINDEXES`] are what fits in a reply). `FDB_COUNT` and `FDB_SKIP`
//! are kept as the `u64`s they are on the wire; [`fdb_page`] turns them into
//! a slice range without overflow.
//!
//! # Replying to what does not decode
//!
//! The daemon answers every request, malformed ones included (with
//! `EINVAL`). When [`Request::parse`] fails, the sequence number and port id
//! to echo come from [`netdev_netlink::Header::parse`] on the datagram, if
//! at least its 16 header bytes arrived.

#![forbid(unsafe_code)]

mod error;
mod fdb;
mod name;
mod reply;
mod request;
mod stats;

pub use error::ProtoError;
pub use fdb::{fdb_page, FdbEntry, FDB_ENTRY_LEN, MAX_FDB_ENTRIES, MAX_IFINDEXES, USER_HZ};
pub use name::validate_request_name;
pub use reply::{Reply, ReplyData};
pub use request::{Command, Request};
pub use stats::{PortStats, MAX_PORT_STATS, PORT_STATS_LEN};

use netdev_netlink::{AttrIter, Msg, MsgIter, NLMSG_HDRLEN};

/// The generic Netlink family name.
pub const FAMILY_NAME: &str = "brcompat";

/// The family id used on the Unix `SOCK_SEQPACKET` transport: 19, the
/// first id Linux hands out dynamically (`GENL_START_ALLOC`). Not
/// `GENL_MIN_ID` (16): that is the controller's own id (`GENL_ID_CTRL`),
/// and a brcompat message carrying it would be shown and handled as a
/// controller message by generic tools such as
/// [`netdev_netlink::MsgDisplay`].
pub const UNIX_FAMILY_ID: u16 = 19;

/// The `genlmsghdr` version sent (the seeds' 1). Decoding accepts any.
pub const VERSION: u8 = 1;

/// The largest message accepted or built: 64 KiB, header included.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// The most attributes one message may hold. A request uses at most four
/// and a reply two; the slack is for attributes a newer peer may add.
pub const MAX_ATTRS: usize = 32;

/// Attribute `BRC_GENL_A_UNSPEC` (never sent).
pub const BRC_GENL_A_UNSPEC: u16 = 0;
/// Attribute: bridge name (NUL-terminated string).
pub const BRC_GENL_A_DP_NAME: u16 = 1;
/// Attribute: port (interface) name (NUL-terminated string).
pub const BRC_GENL_A_PORT_NAME: u16 = 2;
/// Attribute: result of a request, 0 or a positive errno (u32).
pub const BRC_GENL_A_ERR_CODE: u16 = 3;
/// Attribute: multicast group id (u32).
pub const BRC_GENL_A_MC_GROUP: u16 = 4;
/// Attribute: most FDB records wanted (u64).
pub const BRC_GENL_A_FDB_COUNT: u16 = 5;
/// Attribute: FDB records to skip first (u64).
pub const BRC_GENL_A_FDB_SKIP: u16 = 6;
/// Attribute: FDB records, an array of 16-byte `struct __fdb_entry`.
pub const BRC_GENL_A_FDB_DATA: u16 = 7;
/// Attribute: interface indexes, an array of host-endian `int`.
pub const BRC_GENL_A_IFINDEXES: u16 = 8;
/// Attribute (extension): per-port counters, an array of 72-byte
/// [`PortStats`] records.
pub const BRC_GENL_A_PORT_STATS: u16 = 9;
/// Highest attribute type of the protocol.
pub const BRC_GENL_A_MAX: u16 = BRC_GENL_A_PORT_STATS;

/// Command `BRC_GENL_C_UNSPEC` (never valid).
pub const BRC_GENL_C_UNSPEC: u8 = 0;
/// Command: add a bridge.
pub const BRC_GENL_C_DP_ADD: u8 = 1;
/// Command: delete a bridge.
pub const BRC_GENL_C_DP_DEL: u8 = 2;
/// Command: the daemon's reply to any request.
pub const BRC_GENL_C_DP_RESULT: u8 = 3;
/// Command: add an interface to a bridge.
pub const BRC_GENL_C_PORT_ADD: u8 = 4;
/// Command: remove an interface from a bridge.
pub const BRC_GENL_C_PORT_DEL: u8 = 5;
/// Command: ask for the multicast group id.
pub const BRC_GENL_C_QUERY_MC: u8 = 6;
/// Command: read a page of a bridge's forwarding database.
pub const BRC_GENL_C_FDB_QUERY: u8 = 7;
/// Command: list the bridges' ifindexes.
pub const BRC_GENL_C_GET_BRIDGES: u8 = 8;
/// Command: list a bridge's ports' ifindexes.
pub const BRC_GENL_C_GET_PORTS: u8 = 9;
/// Command (extension): a bridge's per-port frame counters.
pub const BRC_GENL_C_GET_PORT_STATS: u8 = 10;

/// The one message in `datagram`, checked against the size limit; bytes
/// after it (a second message) are an error, since the transport carries
/// one message per datagram.
fn single_msg(datagram: &[u8]) -> Result<Msg<'_>, ProtoError> {
    check_len(datagram.len())?;
    let mut msgs = MsgIter::new(datagram);
    let msg = match msgs.next() {
        Some(msg) => msg?,
        None => {
            return Err(netdev_netlink::Error::Truncated {
                part: netdev_netlink::Part::Message,
                offset: 0,
                need: NLMSG_HDRLEN,
                have: 0,
            }
            .into())
        }
    };
    let end = netdev_netlink::align(msg.bytes().len());
    if datagram.len() > end {
        return Err(ProtoError::TrailingBytes {
            offset: end,
            len: datagram.len() - end,
        });
    }
    Ok(msg)
}

fn check_len(len: usize) -> Result<(), ProtoError> {
    if len > MAX_MESSAGE_LEN {
        return Err(ProtoError::TooLarge {
            len,
            max: MAX_MESSAGE_LEN,
        });
    }
    Ok(())
}

/// The checks every message gets before its attributes are parsed: size,
/// family, a `genlmsghdr`, and a bounded number of well-formed attributes.
/// Returns the command and the attribute list.
fn open_genl<'a>(msg: &Msg<'a>, family: u16) -> Result<(u8, AttrIter<'a>), ProtoError> {
    check_len(msg.bytes().len())?;
    if msg.msg_type() != family {
        return Err(ProtoError::WrongFamily {
            expected: family,
            found: msg.msg_type(),
        });
    }
    let cmd = msg.genl_header()?.cmd;
    let attrs = msg.genl_attrs()?;
    let mut count = 0usize;
    for attr in attrs.clone() {
        attr?;
        count += 1;
        if count > MAX_ATTRS {
            return Err(ProtoError::TooManyAttrs { max: MAX_ATTRS });
        }
    }
    Ok((cmd, attrs))
}

/// Finishes `b`, turning a builder mistake into a [`ProtoError`] and
/// refusing a message over [`MAX_MESSAGE_LEN`].
fn finish(b: &mut netdev_netlink::MsgBuilder) -> Result<&[u8], ProtoError> {
    let len = b.header().len;
    check_len(usize::try_from(len).unwrap_or(usize::MAX))?;
    b.finish().map_err(ProtoError::Build)
}
