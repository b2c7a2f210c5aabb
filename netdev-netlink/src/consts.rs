//! Numeric constants of the Netlink wire format.
//!
//! Defined here rather than taken from `libc` because this module is sans-IO
//! and must compile on every OS: FreeBSD's `libc` has no Netlink items, and
//! the values below are fixed by the Linux UAPI headers
//! (`linux/netlink.h`, `linux/genetlink.h`, `linux/rtnetlink.h`), not by the
//! host the code is compiled on.

/// Alignment of messages and attributes (`NLMSG_ALIGNTO`, `NLA_ALIGNTO`).
pub const ALIGNTO: usize = 4;

/// Size of `struct nlmsghdr` (`NLMSG_HDRLEN`).
pub const NLMSG_HDRLEN: usize = 16;
/// Size of `struct nlattr` (`NLA_HDRLEN`).
pub const NLA_HDRLEN: usize = 4;
/// Size of `struct genlmsghdr` (`GENL_HDRLEN`).
pub const GENL_HDRLEN: usize = 4;
/// Size of `struct nlmsgerr` without anything the kernel appends: the
/// negated errno followed by the echoed request header.
pub const NLMSGERR_LEN: usize = 4 + NLMSG_HDRLEN;

/// Rounds `len` up to the Netlink alignment (`NLMSG_ALIGN`, `NLA_ALIGN`).
///
/// Saturates instead of overflowing so that hostile lengths near
/// `usize::MAX` cannot panic; callers compare the result against a buffer
/// length anyway.
#[must_use]
#[inline]
pub const fn align(len: usize) -> usize {
    match len.checked_add(ALIGNTO - 1) {
        Some(n) => n & !(ALIGNTO - 1),
        None => usize::MAX & !(ALIGNTO - 1),
    }
}

// ---- Netlink protocols (the third argument of socket(AF_NETLINK, ...)).

/// Routing and link protocol (`NETLINK_ROUTE`).
pub const NETLINK_ROUTE: i32 = 0;
/// Generic Netlink (`NETLINK_GENERIC`).
pub const NETLINK_GENERIC: i32 = 16;

// ---- Reserved message types (`nlmsg_type` below `NLMSG_MIN_TYPE`).

/// Nothing; the message is to be ignored.
pub const NLMSG_NOOP: u16 = 1;
/// Error or acknowledgement; the payload is a `struct nlmsgerr`.
pub const NLMSG_ERROR: u16 = 2;
/// End of a multipart (dump) reply; the payload is an `int` status.
pub const NLMSG_DONE: u16 = 3;
/// Data lost.
pub const NLMSG_OVERRUN: u16 = 4;
/// First message type a protocol may use for its own messages.
pub const NLMSG_MIN_TYPE: u16 = 0x10;

// ---- nlmsg_flags: meaningful on every message.

/// The message is a request.
pub const NLM_F_REQUEST: u16 = 0x01;
/// Part of a multipart reply, terminated by `NLMSG_DONE`.
pub const NLM_F_MULTI: u16 = 0x02;
/// Ask for an acknowledgement (an `NLMSG_ERROR` with error 0) on success.
pub const NLM_F_ACK: u16 = 0x04;
/// Echo this request back to the sender.
pub const NLM_F_ECHO: u16 = 0x08;
/// The dump was inconsistent because the data changed while it ran.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// The dump was filtered as the request asked.
pub const NLM_F_DUMP_FILTERED: u16 = 0x20;

// ---- nlmsg_flags: GET requests.

/// Return the complete table instead of a single entry.
pub const NLM_F_ROOT: u16 = 0x100;
/// Return all entries matching the criteria in the request.
pub const NLM_F_MATCH: u16 = 0x200;
/// Return an atomic snapshot of the table.
pub const NLM_F_ATOMIC: u16 = 0x400;
/// A dump request: `NLM_F_ROOT | NLM_F_MATCH`.
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;

// ---- nlmsg_flags: NEW requests.

/// Replace an existing object.
pub const NLM_F_REPLACE: u16 = 0x100;
/// Do not touch an object that already exists.
pub const NLM_F_EXCL: u16 = 0x200;
/// Create the object if it does not exist.
pub const NLM_F_CREATE: u16 = 0x400;
/// Add to the end of the object list.
pub const NLM_F_APPEND: u16 = 0x800;

// ---- nlmsg_flags: DELETE requests.

/// Do not delete recursively.
pub const NLM_F_NONREC: u16 = 0x100;
/// Delete multiple objects.
pub const NLM_F_BULK: u16 = 0x200;

// ---- nlmsg_flags: on NLMSG_ERROR (acknowledgement) messages.

/// The echoed request was cut down to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// Extended-ACK attributes (`NLMSGERR_ATTR_*`) follow the echoed request.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

// ---- Attribute type bits.

/// The attribute carries nested attributes.
pub const NLA_F_NESTED: u16 = 0x8000;
/// The attribute payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Mask that strips the two flag bits from `nla_type`.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

// ---- Extended acknowledgement attributes (appended to NLMSG_ERROR/DONE).

/// A human-readable error message (string).
pub const NLMSGERR_ATTR_MSG: u16 = 1;
/// Offset of the offending attribute in the request (u32).
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
/// An arbitrary cookie (binary).
pub const NLMSGERR_ATTR_COOKIE: u16 = 3;
/// The policy the rejected attribute failed (nested).
pub const NLMSGERR_ATTR_POLICY: u16 = 4;
/// Type of a missing required attribute (u32).
pub const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
/// Offset of the nest that lacks the attribute (u32).
pub const NLMSGERR_ATTR_MISS_NEST: u16 = 6;

// ---- Generic Netlink controller (family "nlctrl").

/// Longest generic Netlink family or multicast group name, NUL included.
pub const GENL_NAMSIZ: usize = 16;

/// Message type of the Generic Netlink controller family.
pub const GENL_ID_CTRL: u16 = NLMSG_MIN_TYPE;

/// Controller command: unspecified.
pub const CTRL_CMD_UNSPEC: u8 = 0;
/// Controller command: a family was registered (also the GETFAMILY reply).
pub const CTRL_CMD_NEWFAMILY: u8 = 1;
/// Controller command: a family was unregistered.
pub const CTRL_CMD_DELFAMILY: u8 = 2;
/// Controller command: look up a family by name or id, or dump all.
pub const CTRL_CMD_GETFAMILY: u8 = 3;
/// Controller command: operations were registered.
pub const CTRL_CMD_NEWOPS: u8 = 4;
/// Controller command: operations were unregistered.
pub const CTRL_CMD_DELOPS: u8 = 5;
/// Controller command: get operations.
pub const CTRL_CMD_GETOPS: u8 = 6;
/// Controller command: a multicast group was registered.
pub const CTRL_CMD_NEWMCAST_GRP: u8 = 7;
/// Controller command: a multicast group was unregistered.
pub const CTRL_CMD_DELMCAST_GRP: u8 = 8;
/// Controller command: get multicast groups.
pub const CTRL_CMD_GETMCAST_GRP: u8 = 9;
/// Controller command: dump a family's attribute policies.
pub const CTRL_CMD_GETPOLICY: u8 = 10;

/// Controller attribute: unspecified.
pub const CTRL_ATTR_UNSPEC: u16 = 0;
/// Controller attribute: family id (u16).
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// Controller attribute: family name (string).
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// Controller attribute: family version (u32).
pub const CTRL_ATTR_VERSION: u16 = 3;
/// Controller attribute: size of the family's own fixed header (u32).
pub const CTRL_ATTR_HDRSIZE: u16 = 4;
/// Controller attribute: highest attribute type of the family (u32).
pub const CTRL_ATTR_MAXATTR: u16 = 5;
/// Controller attribute: operations (nested array).
pub const CTRL_ATTR_OPS: u16 = 6;
/// Controller attribute: multicast groups (nested array).
pub const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
/// Controller attribute: policy dump (nested).
pub const CTRL_ATTR_POLICY: u16 = 8;
/// Controller attribute: per-operation policy (nested).
pub const CTRL_ATTR_OP_POLICY: u16 = 9;
/// Controller attribute: operation (u32).
pub const CTRL_ATTR_OP: u16 = 10;
/// Highest controller attribute type known here.
pub const CTRL_ATTR_MAX: u16 = CTRL_ATTR_OP;

/// Operation attribute inside `CTRL_ATTR_OPS`: command id (u32).
pub const CTRL_ATTR_OP_ID: u16 = 1;
/// Operation attribute inside `CTRL_ATTR_OPS`: `GENL_*` flags (u32).
pub const CTRL_ATTR_OP_FLAGS: u16 = 2;

/// Multicast group attribute inside `CTRL_ATTR_MCAST_GROUPS`: name (string).
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
/// Multicast group attribute inside `CTRL_ATTR_MCAST_GROUPS`: id (u32).
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
/// Highest multicast group attribute type.
pub const CTRL_ATTR_MCAST_GRP_MAX: u16 = CTRL_ATTR_MCAST_GRP_ID;

// ---- rtnetlink message types (NETLINK_ROUTE).
//
// Types come in groups of four (NEW, DEL, GET, SET) starting at RTM_BASE, so
// `(type - RTM_BASE) % 4` tells which kind of request a type is; the
// formatter uses that to pick the meaning of the high flag bits.

/// First rtnetlink message type.
pub const RTM_BASE: u16 = 16;
/// Create or announce a link.
pub const RTM_NEWLINK: u16 = 16;
/// Delete or announce removal of a link.
pub const RTM_DELLINK: u16 = 17;
/// Get one link or dump all.
pub const RTM_GETLINK: u16 = 18;
/// Change a link.
pub const RTM_SETLINK: u16 = 19;
/// Add or announce an address.
pub const RTM_NEWADDR: u16 = 20;
/// Delete or announce removal of an address.
pub const RTM_DELADDR: u16 = 21;
/// Get or dump addresses.
pub const RTM_GETADDR: u16 = 22;
/// Add or announce a route.
pub const RTM_NEWROUTE: u16 = 24;
/// Delete or announce removal of a route.
pub const RTM_DELROUTE: u16 = 25;
/// Get or dump routes.
pub const RTM_GETROUTE: u16 = 26;
/// Add or announce a neighbour.
pub const RTM_NEWNEIGH: u16 = 28;
/// Delete or announce removal of a neighbour.
pub const RTM_DELNEIGH: u16 = 29;
/// Get or dump neighbours.
pub const RTM_GETNEIGH: u16 = 30;
/// Add or announce a routing rule.
pub const RTM_NEWRULE: u16 = 32;
/// Delete or announce removal of a routing rule.
pub const RTM_DELRULE: u16 = 33;
/// Get or dump routing rules.
pub const RTM_GETRULE: u16 = 34;
/// Add or announce a queueing discipline.
pub const RTM_NEWQDISC: u16 = 36;
/// Delete or announce removal of a queueing discipline.
pub const RTM_DELQDISC: u16 = 37;
/// Get or dump queueing disciplines.
pub const RTM_GETQDISC: u16 = 38;
/// Add or announce a traffic class.
pub const RTM_NEWTCLASS: u16 = 40;
/// Delete or announce removal of a traffic class.
pub const RTM_DELTCLASS: u16 = 41;
/// Get or dump traffic classes.
pub const RTM_GETTCLASS: u16 = 42;
/// Add or announce a traffic filter.
pub const RTM_NEWTFILTER: u16 = 44;
/// Delete or announce removal of a traffic filter.
pub const RTM_DELTFILTER: u16 = 45;
/// Get or dump traffic filters.
pub const RTM_GETTFILTER: u16 = 46;
/// Announce per-device network configuration.
pub const RTM_NEWNETCONF: u16 = 80;
/// Announce removal of per-device network configuration.
pub const RTM_DELNETCONF: u16 = 81;
/// Get or dump per-device network configuration.
pub const RTM_GETNETCONF: u16 = 82;
/// Add or announce a network namespace id.
pub const RTM_NEWNSID: u16 = 88;
/// Delete or announce removal of a network namespace id.
pub const RTM_DELNSID: u16 = 89;
/// Get or dump network namespace ids.
pub const RTM_GETNSID: u16 = 90;
/// Announce link statistics.
pub const RTM_NEWSTATS: u16 = 92;
/// Get or dump link statistics.
pub const RTM_GETSTATS: u16 = 94;

/// Which Netlink protocol a message belongs to.
///
/// Netlink messages do not say which protocol they travel on, yet the meaning
/// of `nlmsg_type` (and of some flag bits) depends on it; the socket layer
/// knows, so it passes this along to the formatter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `NETLINK_ROUTE` (rtnetlink).
    Route,
    /// `NETLINK_GENERIC`.
    Generic,
    /// Any other protocol, by number.
    Other(i32),
}

impl Protocol {
    /// Maps a raw protocol number to a `Protocol`.
    #[must_use]
    #[inline]
    pub const fn from_raw(raw: i32) -> Self {
        match raw {
            NETLINK_ROUTE => Self::Route,
            NETLINK_GENERIC => Self::Generic,
            other => Self::Other(other),
        }
    }

    /// The raw protocol number, for `socket(AF_NETLINK, SOCK_RAW, n)`.
    #[must_use]
    #[inline]
    pub const fn as_raw(self) -> i32 {
        match self {
            Self::Route => NETLINK_ROUTE,
            Self::Generic => NETLINK_GENERIC,
            Self::Other(n) => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_rounds_up_to_four() {
        assert_eq!(align(0), 0);
        assert_eq!(align(1), 4);
        assert_eq!(align(4), 4);
        assert_eq!(align(5), 8);
        assert_eq!(align(usize::MAX), usize::MAX & !3);
    }

    #[test]
    fn dump_is_root_and_match() {
        assert_eq!(NLM_F_DUMP, 0x300);
        assert_eq!(NLA_TYPE_MASK, 0x3fff);
    }

    #[test]
    fn protocol_round_trips() {
        for raw in [0, 16, 4, -1] {
            assert_eq!(Protocol::from_raw(raw).as_raw(), raw);
        }
        assert_eq!(Protocol::from_raw(16), Protocol::Generic);
    }
}
