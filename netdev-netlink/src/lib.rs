//! Netlink wire format and request/reply matching, sans-IO: messages,
//! attributes, policy-checked parsing, generic Netlink controller messages,
//! a debug formatter, and a state machine that pairs replies with requests
//! over any datagram [`Transport`].
//!
//! This is layer 1 of the design (wire formats): pure functions and state
//! machines over byte slices with no sockets, no system calls and no
//! `unsafe`, so it builds and is tested on every OS. Two kinds of peers use
//! it: the Linux kernel (through `netdev-linux`, whose socket implements
//! [`Transport`]) and userspace daemons speaking Netlink-framed messages
//! over a Unix `SOCK_SEQPACKET` socket (brcompat, on Linux and FreeBSD).
//!
//! Parsing borrows: a [`Msg`], an [`Attr`] and a [`Parsed`] all point into
//! the receive buffer, so a dump is decoded without copying. Malformed input
//! is an [`Error`] naming the byte offset, never a panic.
//!
//! ```
//! use netdev_netlink::{genl, MsgBuilder, MsgIter, Msg, NLM_F_ACK};
//!
//! // Build a generic Netlink family lookup, as a socket layer would.
//! let mut request = MsgBuilder::default();
//! genl::getfamily_request(&mut request, "nlctrl").add_flags(NLM_F_ACK).set_seq(1);
//! let bytes = request.finish()?.to_vec();
//!
//! // Parse it back: one message, one string attribute.
//! let msgs: Vec<Msg<'_>> = MsgIter::new(&bytes).collect::<Result<_, _>>()?;
//! let name = msgs[0].genl_attrs()?.find(netdev_netlink::CTRL_ATTR_FAMILY_NAME)?;
//! assert_eq!(name.map(|a| a.get_str()).transpose()?, Some("nlctrl"));
//! # Ok::<(), netdev_netlink::Error>(())
//! ```
//!
//! Requests and replies: a [`Matcher`] numbers requests and classifies
//! every received message ([`Disposition`]); a [`Requester`] drives it over
//! a [`Transport`] for blocking callers ([`Requester::transact`],
//! [`Requester::transact_multiple`], [`Requester::dump`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attr;
mod builder;
mod consts;
mod display;
mod errno;
mod error;
pub mod genl;
mod matcher;
mod msg;
mod policy;
mod requester;
mod transport;
mod wire;

pub use attr::{Attr, AttrIter};
pub use builder::{MsgBuilder, Nest};
pub use consts::*;
pub use display::{rtm_name, MsgDisplay};
pub use errno::errno_name;
pub use error::{Error, Part, StringProblem};
pub use genl::GenlHeader;
pub use matcher::{Disposition, Ignored, Matcher, MatcherStats, RequestId};
pub use msg::{DoneMsg, ErrorMsg, Header, Msg, MsgIter, MsgKind};
pub use policy::{policy_table, validate, AttrKind, NestedArray, Parsed, Policy, MAX_DEPTH};
pub use requester::{PeerModel, Reply, Requester, Response, Transaction};
pub use transport::{is_timeout, Transport};
