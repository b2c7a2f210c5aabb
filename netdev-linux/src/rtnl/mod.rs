//! rtnetlink messages for links and addresses (layer 1, sans-IO): decode
//! `RTM_NEWLINK`/`RTM_DELLINK`/`RTM_NEWADDR`/`RTM_DELADDR` into typed
//! values and core [`netdev_core::Change`] events, and build the requests
//! the Linux classes send. Compiles and is tested on every OS.

#![forbid(unsafe_code)]

mod addr;
mod link;
mod stats;

pub use addr::{getaddr_request, parse_addr, AddrMsg};
pub use link::{
    dumplink_request, flags_from_iff, getlink_request, iff_from_flags, link_change,
    lone_link_change, parse_link, setlink_request, LinkChange, LinkMsg, AF_BRIDGE, IFINFOMSG_LEN,
    LINK_FAMILY,
};
pub use stats::{getstats_request, parse_stats, parse_stats_into, IF_STATS_MSG_LEN};

use crate::netlink::{Error, Msg, RTM_DELADDR, RTM_DELLINK, RTM_NEWADDR, RTM_NEWLINK};
use netdev_core::Change;

/// rtnetlink multicast group of link changes (`RTNLGRP_LINK`).
pub const RTNLGRP_LINK: u32 = 1;
/// rtnetlink multicast group of IPv4 address changes.
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
/// rtnetlink multicast group of IPv6 address changes.
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;

/// The core event a notification means, if it is one we track: link
/// created/changed/removed, or an address of a link added/removed. Other
/// message types give `Ok(None)`; malformed ones an error.
pub fn change_from_msg(msg: &Msg<'_>) -> Result<Option<Change>, Error> {
    match msg.msg_type() {
        RTM_NEWLINK | RTM_DELLINK => link_change(msg).map(Some),
        RTM_NEWADDR | RTM_DELADDR => {
            let addr = parse_addr(msg)?;
            Ok(Some(Change::AddrChanged {
                ifindex: addr.ifindex,
            }))
        }
        _ => Ok(None),
    }
}
