//! Netlink wire format, sans-IO: messages, attributes, policy-checked
//! parsing, generic Netlink controller messages and a debug formatter.
//!
//! This is layer 1 of the design (wire formats): pure functions over byte
//! slices with no sockets, no system calls and no `unsafe`, so it builds and
//! is tested on every OS even though only Linux speaks Netlink. The socket
//! layer (layer 2) sends what [`MsgBuilder`] builds and feeds what it
//! receives to [`MsgIter`]; the rtnetlink notifier and the brcompat codec
//! parse attributes with [`Policy`] tables.
//!
//! Parsing borrows: a [`Msg`], an [`Attr`] and a [`Parsed`] all point into
//! the receive buffer, so a dump is decoded without copying. Malformed input
//! is an [`Error`] naming the byte offset, never a panic.
//!
//! ```
//! use netdev_linux::netlink::{genl, MsgBuilder, MsgIter, Msg, NLM_F_ACK};
//!
//! // Build a generic Netlink family lookup, as a socket layer would.
//! let mut request = MsgBuilder::default();
//! genl::getfamily_request(&mut request, "nlctrl").add_flags(NLM_F_ACK).set_seq(1);
//! let bytes = request.finish()?.to_vec();
//!
//! // Parse it back: one message, one string attribute.
//! let msgs: Vec<Msg<'_>> = MsgIter::new(&bytes).collect::<Result<_, _>>()?;
//! let name = msgs[0].genl_attrs()?.find(netdev_linux::netlink::CTRL_ATTR_FAMILY_NAME)?;
//! assert_eq!(name.map(|a| a.get_str()).transpose()?, Some("nlctrl"));
//! # Ok::<(), netdev_linux::netlink::Error>(())
//! ```

#![forbid(unsafe_code)]

mod attr;
mod builder;
mod consts;
mod display;
mod errno;
mod error;
pub mod genl;
mod msg;
mod policy;
mod wire;

// The socket layer: Linux only (it needs the `sys` module).
#[cfg(target_os = "linux")]
mod dump;
#[cfg(target_os = "linux")]
mod family;
#[cfg(target_os = "linux")]
mod pool;
#[cfg(target_os = "linux")]
mod socket;
#[cfg(target_os = "linux")]
mod transact;

pub use attr::{Attr, AttrIter};
pub use builder::{MsgBuilder, Nest};
pub use consts::*;
pub use display::{rtm_name, MsgDisplay};
#[cfg(target_os = "linux")]
pub use dump::{Dump, SharedDump};
pub use errno::errno_name;
pub use error::{Error, Part, StringProblem};
#[cfg(target_os = "linux")]
pub use family::{family_name, forget_family, lookup_family, lookup_mcast_group, FamilyInfo};
pub use genl::GenlHeader;
pub use msg::{DoneMsg, ErrorMsg, Header, Msg, MsgIter, MsgKind};
pub use policy::{policy_table, validate, AttrKind, NestedArray, Parsed, Policy, MAX_DEPTH};
#[cfg(target_os = "linux")]
pub use pool::{pooled, PooledSocket};
#[cfg(target_os = "linux")]
pub use socket::{is_overflow, Socket, DEFAULT_RCVBUF};
#[cfg(target_os = "linux")]
pub use transact::{Reply, Transaction};
