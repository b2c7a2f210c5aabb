//! Linux backend of the netdev layer.
//!
//! - [`netlink`]: the Netlink library. Its wire format half (layer 1:
//!   messages, attributes, policies, generic Netlink, request/reply
//!   matching) is the `netdev-netlink` crate, re-exported; its socket half
//!   (sockets, transactions, dumps, family lookup, a socket pool) is Linux
//!   only.
//! - [`rtnl`]: rtnetlink link and address messages, decoded into typed
//!   values and core change events (layer 1).
//! - `notifier` (Linux): the rtnetlink `ChangeSource` behind the core's
//!   notifier thread.
//!
//! The `system` and `tap` classes build on these.

#![warn(missing_docs)]

pub mod ethtool;
pub mod netlink;
pub mod rtnl;

#[cfg(target_os = "linux")]
pub mod notifier;

#[cfg(target_os = "linux")]
pub mod list;
#[cfg(target_os = "linux")]
pub mod packet;
#[cfg(target_os = "linux")]
pub mod packet_adaptive;
#[cfg(target_os = "linux")]
pub mod packet_ring;
#[cfg(target_os = "linux")]
pub mod packet_ring_v2;
#[cfg(target_os = "linux")]
pub mod packet_rx;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
pub mod system;

#[cfg(target_os = "linux")]
pub use system::{
    all_stats, all_stats_into, register, visit_all_stats, SystemClass, SystemOptions,
};
