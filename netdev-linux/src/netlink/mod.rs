//! The Netlink library: the wire format and request/reply matching of the
//! `netdev-netlink` crate (re-exported here whole, so `netlink::Msg`,
//! `netlink::MsgBuilder`, `netlink::genl`... keep working), plus the Linux
//! kernel socket layer on top of it (sockets, transactions, dumps, generic
//! Netlink family lookup, a socket pool).
//!
//! The wire half is layer 1 (sans-IO, every OS); the socket half is Linux
//! only and its system calls are in `sys::netlink`, the one place with
//! `unsafe`. The socket implements [`Transport`], and its transactions run
//! through the same sans-IO [`Requester`] as any other Netlink peer, with
//! the kernel's synchronous answering as an explicit
//! [`PeerModel::KernelSynchronous`] policy.
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

pub use netdev_netlink::*;

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

#[cfg(target_os = "linux")]
pub use dump::{Dump, SharedDump};
#[cfg(target_os = "linux")]
pub use family::{family_name, forget_family, lookup_family, lookup_mcast_group, FamilyInfo};
#[cfg(target_os = "linux")]
pub use pool::{pooled, PooledSocket};
#[cfg(target_os = "linux")]
pub use socket::{is_overflow, Socket, DEFAULT_RCVBUF};
