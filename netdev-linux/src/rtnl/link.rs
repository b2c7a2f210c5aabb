//! `ifinfomsg` link messages.

use std::borrow::Cow;

use netdev_core::{Change, EthAddr, Flags, IfName, LinkInfo, Stats, MAX_NAME_LEN};

use crate::netlink::{
    align, policy_table, Error, Msg, MsgBuilder, Part, Policy, ALIGNTO, NLA_HDRLEN, NLA_TYPE_MASK,
    NLM_F_REQUEST, RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK,
};

/// Size of `struct ifinfomsg`.
pub const IFINFOMSG_LEN: usize = 16;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_STATS64: u16 = 23;
const IFLA_CARRIER: u16 = 33;
const IFLA_CARRIER_CHANGES: u16 = 35;
const IFLA_CARRIER_DOWN_COUNT: u16 = 48;
const IFLA_MAX: usize = 64;

const IFLA_INFO_KIND: u16 = 1;

// Linux `IFF_*` bits (net/if.h and linux/if.h); defined here because this
// module also compiles on FreeBSD, whose values differ.
const IFF_UP: u32 = 0x1;
const IFF_BROADCAST: u32 = 0x2;
const IFF_LOOPBACK: u32 = 0x8;
const IFF_POINTOPOINT: u32 = 0x10;
const IFF_RUNNING: u32 = 0x40;
const IFF_NOARP: u32 = 0x80;
const IFF_PROMISC: u32 = 0x100;
const IFF_ALLMULTI: u32 = 0x200;
const IFF_MULTICAST: u32 = 0x1000;
const IFF_LOWER_UP: u32 = 0x1_0000;
const IFF_DORMANT: u32 = 0x2_0000;

const IFF_MAP: [(u32, Flags); 11] = [
    (IFF_UP, Flags::UP),
    (IFF_BROADCAST, Flags::BROADCAST),
    (IFF_LOOPBACK, Flags::LOOPBACK),
    (IFF_POINTOPOINT, Flags::POINTOPOINT),
    (IFF_RUNNING, Flags::RUNNING),
    (IFF_NOARP, Flags::NOARP),
    (IFF_PROMISC, Flags::PROMISC),
    (IFF_ALLMULTI, Flags::ALLMULTI),
    (IFF_MULTICAST, Flags::MULTICAST),
    (IFF_LOWER_UP, Flags::LOWER_UP),
    (IFF_DORMANT, Flags::DORMANT),
];

/// Core flags from Linux `IFF_*` bits (unknown bits are dropped).
pub fn flags_from_iff(iff: u32) -> Flags {
    IFF_MAP
        .iter()
        .filter(|(bit, _)| iff & bit != 0)
        .fold(Flags::empty(), |acc, (_, f)| acc | *f)
}

/// Linux `IFF_*` bits from core flags.
pub fn iff_from_flags(flags: Flags) -> u32 {
    IFF_MAP
        .iter()
        .filter(|(_, f)| flags.contains(*f))
        .fold(0, |acc, (bit, _)| acc | bit)
}

static LINKINFO_POLICY: [Policy; 2] = policy_table(&[(
    IFLA_INFO_KIND,
    // iproute2 sends the kind without a NUL; the kernel adds one. Accept
    // both by taking the bytes.
    Policy::unspec("IFLA_INFO_KIND").optional(),
)]);

static LINK_POLICY: [Policy; IFLA_MAX] = policy_table(&[
    (IFLA_ADDRESS, Policy::unspec("IFLA_ADDRESS").optional()),
    // Bytes, not a string: the kernel allows any byte but '/', ':' and
    // whitespace in a name, UTF-8 or not, and one such device must not make
    // every message about it (or a whole dump) malformed. `link_change`
    // checks the same bounds.
    (
        IFLA_IFNAME,
        Policy::unspec("IFLA_IFNAME").min_len(2).max_len(16),
    ),
    (IFLA_MTU, Policy::u32("IFLA_MTU").optional()),
    (IFLA_MASTER, Policy::u32("IFLA_MASTER").optional()),
    (IFLA_OPERSTATE, Policy::u8("IFLA_OPERSTATE").optional()),
    (
        IFLA_LINKINFO,
        Policy::nested("IFLA_LINKINFO", &LINKINFO_POLICY).optional(),
    ),
    (
        IFLA_STATS64,
        Policy::unspec("IFLA_STATS64").optional().min_len(21 * 8),
    ),
    (IFLA_CARRIER, Policy::u8("IFLA_CARRIER").optional()),
    (
        IFLA_CARRIER_CHANGES,
        Policy::u32("IFLA_CARRIER_CHANGES").optional(),
    ),
    (
        IFLA_CARRIER_DOWN_COUNT,
        Policy::u32("IFLA_CARRIER_DOWN_COUNT").optional(),
    ),
]);

/// `AF_UNSPEC`: the family of messages about the link itself. Others
/// (`AF_BRIDGE` from a bridge about its ports, `AF_INET6` from IPv6
/// configuration) describe one facet of an existing link.
pub const LINK_FAMILY: u8 = 0;
/// `AF_BRIDGE`: a bridge's messages about its ports (`bridge link`).
pub const AF_BRIDGE: u8 = 7;

/// A decoded link message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMsg<'a> {
    /// True for `RTM_DELLINK`.
    pub deleted: bool,
    /// The `ifi_family` of the message: [`LINK_FAMILY`] for the link
    /// itself, [`AF_BRIDGE`] for a bridge port's facet, and so on.
    pub family: u8,
    /// Interface index.
    pub ifindex: u32,
    /// Hardware type (`ARPHRD_*`; 1 is Ethernet).
    pub hw_type: u16,
    /// Raw Linux `IFF_*` flags.
    pub iff: u32,
    /// Name. A name that is not UTF-8 (the kernel allows that) comes with
    /// U+FFFD in place of the bad bytes: it can be shown, but a device
    /// opened by it is not found.
    pub name: Cow<'a, str>,
    /// MTU.
    pub mtu: Option<u32>,
    /// Hardware address when it is 6 bytes long.
    pub mac: Option<EthAddr>,
    /// RFC 2863 operational state (`IF_OPER_*`; 6 is up).
    pub operstate: Option<u8>,
    /// Carrier as the driver reports it.
    pub carrier: Option<bool>,
    /// Carrier transitions (up and down) since creation.
    pub carrier_changes: Option<u32>,
    /// Carrier falls since creation.
    pub carrier_down_count: Option<u32>,
    /// Index of the master device (bridge, bond), if enslaved.
    pub master: Option<u32>,
    /// Link kind (`veth`, `bridge`, `tun`...), if the message carries one.
    pub kind: Option<&'a str>,
    /// The 64-bit counters, if present.
    pub stats: Option<Stats>,
}

impl LinkMsg<'_> {
    /// Core flags.
    pub fn flags(&self) -> Flags {
        flags_from_iff(self.iff)
    }

    /// Carrier the way Open vSwitch defines it on Linux: `IFF_RUNNING`
    /// (administratively up, and the driver reports the link up).
    pub fn has_carrier(&self) -> bool {
        self.iff & IFF_RUNNING != 0
    }

    /// The values a cache can take from this message.
    pub fn info(&self) -> LinkInfo {
        LinkInfo {
            mtu: self.mtu,
            mac: self.mac,
            flags: Some(self.flags()),
            carrier: Some(self.has_carrier()),
        }
    }

    /// The core event this message means.
    ///
    /// Only a message of the link's own family creates or removes it. A
    /// bridge's `RTM_DELLINK` of family `AF_BRIDGE` (sent when a port is
    /// released with `ip link set DEV nomaster`) means "no longer my port",
    /// not "the device is gone": like every message about a facet of the
    /// link, it is a change whose values are read again.
    ///
    /// Fails only for a name no interface can have (empty, or longer than
    /// an [`IfName`] holds), which [`parse_link`] never gives.
    pub fn to_change(&self) -> Result<Change, Error> {
        let name = IfName::new(&self.name).map_err(|_| Error::BadValue {
            part: Part::Message,
            offset: 0,
            value: self.name.len() as i64,
            reason: "the link's name is not one an interface can have",
        })?;
        Ok(change_of(&self.head(), name, self.mtu, self.mac))
    }

    fn head(&self) -> Head {
        Head {
            deleted: self.deleted,
            family: self.family,
            ifindex: self.ifindex,
            hw_type: self.hw_type,
            iff: self.iff,
        }
    }
}

/// What every link message says in its `ifinfomsg` (and message type).
struct Head {
    deleted: bool,
    family: u8,
    ifindex: u32,
    hw_type: u16,
    iff: u32,
}

impl Head {
    fn decode(msg: &Msg<'_>) -> Result<Head, Error> {
        let hdr = msg.fixed_header(IFINFOMSG_LEN)?;
        let ifindex_raw = i32::from_ne_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        let ifindex = u32::try_from(ifindex_raw).map_err(|_| Error::BadValue {
            part: Part::FamilyHeader,
            offset: msg.payload_offset() + 4,
            value: i64::from(ifindex_raw),
            reason: "ifindex is negative",
        })?;
        Ok(Head {
            deleted: msg.msg_type() == RTM_DELLINK,
            family: hdr[0],
            ifindex,
            hw_type: u16::from_ne_bytes([hdr[2], hdr[3]]),
            iff: u32_at(hdr, 8),
        })
    }
}

/// The core event of a link message; see [`LinkMsg::to_change`].
#[inline]
fn change_of(head: &Head, name: IfName, mtu: Option<u32>, mac: Option<EthAddr>) -> Change {
    if head.family != LINK_FAMILY {
        return Change::LinkChanged {
            ifindex: head.ifindex,
            name: Some(name),
            info: LinkInfo::default(),
        };
    }
    if head.deleted {
        Change::LinkRemoved {
            ifindex: head.ifindex,
            name,
        }
    } else {
        Change::LinkChanged {
            ifindex: head.ifindex,
            name: Some(name),
            info: LinkInfo {
                mtu,
                mac,
                flags: Some(flags_from_iff(head.iff)),
                carrier: Some(head.iff & IFF_RUNNING != 0),
            },
        }
    }
}

/// The hardware address in an `IFLA_ADDRESS` payload, if it is Ethernet's.
fn mac_of(payload: &[u8]) -> Option<EthAddr> {
    if payload.len() == 6 {
        EthAddr::from_slice(payload)
    } else {
        None
    }
}

/// The core event of `RTM_NEWLINK`/`RTM_DELLINK`: the same as
/// `parse_link(msg)?.to_change()` for every message `parse_link` accepts,
/// and the same error for every message this cannot decode, but only what
/// the event carries (name, MTU, address, flags) is decoded. This is the
/// notifier's path: a caller waiting for a change decodes it on its way,
/// and the full decode (each of some 40 attributes through the generic
/// iterator and the policy, counters and kind read) was most of the time
/// between the kernel's notification and the caller seeing it.
///
/// The attribute list's framing is checked whole and the attributes read
/// are checked as `parse_link` checks them; the others are not looked at,
/// so a message with, say, a malformed `IFLA_MASTER` still gives its event
/// (whose values are all valid). Anything unexpected is left to
/// `parse_link`, which says what is wrong.
pub fn link_change(msg: &Msg<'_>) -> Result<Change, Error> {
    match quick_link_change(msg) {
        Some(change) => Ok(change),
        None => parse_link(msg)?.to_change(),
    }
}

/// [`link_change`] of a datagram that holds one link message and nothing
/// else (the usual notification), if the quick decode takes it: the same
/// event the general path ([`crate::netlink::MsgIter`], then
/// [`super::change_from_msg`]) gives for that datagram. `None` otherwise,
/// and the caller decodes the datagram the general way, which says what
/// is wrong with it, if anything.
///
/// Small and inlined on purpose: a caller that waits for its own change
/// runs this after a pause, when every line of code it touches is a cache
/// miss (see `Registry::wait_for_change`).
#[inline]
pub fn lone_link_change(datagram: &[u8]) -> Option<Change> {
    let msg = Msg::parse(datagram).ok()?;
    if align(msg.bytes().len()) != datagram.len()
        || !matches!(msg.msg_type(), RTM_NEWLINK | RTM_DELLINK)
    {
        return None;
    }
    quick_link_change(&msg)
}

/// [`link_change`]'s decode, in one pass over the attributes; `None` if
/// anything is not as the kernel writes it.
fn quick_link_change(msg: &Msg<'_>) -> Option<Change> {
    let head = Head::decode(msg).ok()?;
    let start = align(IFINFOMSG_LEN);
    if (msg.payload_offset() + start) % ALIGNTO != 0 {
        return None;
    }
    let attrs = msg.payload().get(start..)?;
    // Where each attribute read starts and ends; the last of duplicates
    // counts, as in `parse_link`. One index and plain arithmetic: this
    // loop runs once per attribute, some 40 per link message.
    let (mut name, mut mtu, mut mac) = ((0, 0), (0, 0), (0, 0));
    let mut pos = 0;
    while let Some(hdr) = attrs.get(pos..pos + NLA_HDRLEN) {
        let len = usize::from(u16::from_ne_bytes([hdr[0], hdr[1]]));
        if len < NLA_HDRLEN || len > attrs.len() - pos {
            return None;
        }
        let span = (pos + NLA_HDRLEN, pos + len);
        match u16::from_ne_bytes([hdr[2], hdr[3]]) & NLA_TYPE_MASK {
            IFLA_IFNAME => name = span,
            IFLA_MTU => mtu = span,
            IFLA_ADDRESS => mac = span,
            _ => {}
        }
        pos += align(len);
    }
    if pos < attrs.len() {
        return None; // a truncated attribute header
    }
    let read = |(from, to): (usize, usize)| if to > 0 { attrs.get(from..to) } else { None };
    let (name, mtu, mac) = (read(name), read(mtu), read(mac));
    let name = name.filter(|n| (2..=16).contains(&n.len()))?;
    let end = name.iter().position(|&b| b == 0).filter(|&e| e > 0)?;
    let name = IfName::from_utf8(&name[..end]).ok()?;
    let mtu = match mtu {
        None => None,
        Some(&[a, b, c, d]) => Some(u32::from_ne_bytes([a, b, c, d])),
        Some(_) => return None,
    };
    Some(change_of(&head, name, mtu, mac.and_then(mac_of)))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The name in an `IFLA_IFNAME` payload: NUL-terminated, any bytes.
fn ifname<'a>(payload: &'a [u8], msg: &Msg<'_>) -> Result<Cow<'a, str>, Error> {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .ok_or(Error::BadValue {
            part: Part::Message,
            offset: msg.payload_offset(),
            value: payload.len() as i64,
            reason: "IFLA_IFNAME is not NUL-terminated",
        })?;
    if end == 0 {
        return Err(Error::BadValue {
            part: Part::Message,
            offset: msg.payload_offset(),
            value: 0,
            reason: "IFLA_IFNAME is empty",
        });
    }
    if end > MAX_NAME_LEN {
        return Err(Error::BadValue {
            part: Part::Message,
            offset: msg.payload_offset(),
            value: end as i64,
            reason: "IFLA_IFNAME is longer than an interface name can be (15 bytes)",
        });
    }
    Ok(String::from_utf8_lossy(&payload[..end]))
}

/// Decodes `RTM_NEWLINK`/`RTM_DELLINK`.
pub fn parse_link<'a>(msg: &Msg<'a>) -> Result<LinkMsg<'a>, Error> {
    let head = Head::decode(msg)?;
    let attrs = msg.attrs(IFINFOMSG_LEN)?.parse(&LINK_POLICY)?;
    let mac = attrs.get(IFLA_ADDRESS).and_then(|a| mac_of(a.payload()));
    let kind = match attrs.nested(IFLA_LINKINFO, &LINKINFO_POLICY) {
        Ok(info) => info
            .get(IFLA_INFO_KIND)
            .map(|a| a.payload())
            .map(|p| p.strip_suffix(&[0]).unwrap_or(p))
            .and_then(|p| std::str::from_utf8(p).ok()),
        Err(_) => None,
    };
    let stats = attrs.get(IFLA_STATS64).map(|a| stats_from(a.payload()));
    Ok(LinkMsg {
        deleted: head.deleted,
        family: head.family,
        ifindex: head.ifindex,
        hw_type: head.hw_type,
        iff: head.iff,
        name: ifname(attrs.bytes(IFLA_IFNAME)?, msg)?,
        mtu: attrs.opt(IFLA_MTU, |a| a.get_u32())?,
        mac,
        operstate: attrs.opt(IFLA_OPERSTATE, |a| a.get_u8())?,
        carrier: attrs.opt(IFLA_CARRIER, |a| a.get_u8())?.map(|c| c != 0),
        carrier_changes: attrs.opt(IFLA_CARRIER_CHANGES, |a| a.get_u32())?,
        carrier_down_count: attrs.opt(IFLA_CARRIER_DOWN_COUNT, |a| a.get_u32())?,
        master: attrs.opt(IFLA_MASTER, |a| a.get_u32())?,
        kind,
        stats,
    })
}

/// Counters from a `struct rtnl_link_stats64` payload (at least the 21
/// counters `Stats` has; callers check the length).
pub(crate) fn stats_from(p: &[u8]) -> Stats {
    let mut s = Stats::default();
    stats_into(p, &mut s);
    s
}

/// Writes the counters of a `struct rtnl_link_stats64` payload into `s`, in
/// the kernel's order, which is `Stats`'s field order; missing trailing
/// counters stay as they were.
pub(crate) fn stats_into(p: &[u8], s: &mut Stats) {
    let fields: [&mut u64; 21] = [
        &mut s.rx_packets,
        &mut s.tx_packets,
        &mut s.rx_bytes,
        &mut s.tx_bytes,
        &mut s.rx_errors,
        &mut s.tx_errors,
        &mut s.rx_dropped,
        &mut s.tx_dropped,
        &mut s.multicast,
        &mut s.collisions,
        &mut s.rx_length_errors,
        &mut s.rx_over_errors,
        &mut s.rx_crc_errors,
        &mut s.rx_frame_errors,
        &mut s.rx_fifo_errors,
        &mut s.rx_missed_errors,
        &mut s.tx_aborted_errors,
        &mut s.tx_carrier_errors,
        &mut s.tx_fifo_errors,
        &mut s.tx_heartbeat_errors,
        &mut s.tx_window_errors,
    ];
    for (field, chunk) in fields.into_iter().zip(p.chunks_exact(8)) {
        *field = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
    }
}

/// Starts `b` over as an `RTM_GETLINK` request for `ifindex`, or for the
/// device called `name` when `ifindex` is 0.
pub fn getlink_request<'b>(
    b: &'b mut MsgBuilder,
    ifindex: u32,
    name: Option<&str>,
) -> &'b mut MsgBuilder {
    b.reset(RTM_GETLINK, NLM_F_REQUEST);
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    b.put_fixed(&ifi);
    if let Some(name) = name {
        b.put_str(IFLA_IFNAME, name);
    }
    b
}

/// What an `RTM_NEWLINK` change request sets on an existing link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkChange {
    /// New MTU.
    pub mtu: Option<u32>,
    /// New hardware address.
    pub mac: Option<EthAddr>,
    /// Flags to set: `(iff values, iff mask)`; only bits in the mask change.
    pub iff: Option<(u32, u32)>,
}

/// Starts `b` over as an `RTM_NEWLINK` request changing link `ifindex`
/// (no create flags: it fails with `ENODEV` rather than creating).
pub fn setlink_request<'b>(
    b: &'b mut MsgBuilder,
    ifindex: u32,
    change: &LinkChange,
) -> &'b mut MsgBuilder {
    b.reset(RTM_NEWLINK, NLM_F_REQUEST);
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    if let Some((values, mask)) = change.iff {
        ifi[8..12].copy_from_slice(&(values & mask).to_ne_bytes());
        ifi[12..16].copy_from_slice(&mask.to_ne_bytes());
    }
    b.put_fixed(&ifi);
    if let Some(mtu) = change.mtu {
        b.put_u32(IFLA_MTU, mtu);
    }
    if let Some(mac) = change.mac {
        b.put_bytes(IFLA_ADDRESS, &mac.octets());
    }
    b
}

/// Starts `b` over as an `RTM_GETLINK` dump request of every link.
pub fn dumplink_request(b: &mut MsgBuilder) -> &mut MsgBuilder {
    b.reset(RTM_GETLINK, NLM_F_REQUEST);
    b.put_fixed(&[0u8; IFINFOMSG_LEN]);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::MsgIter;

    fn link_msg(
        msg_type: u16,
        ifindex: i32,
        iff: u32,
        fill: impl FnOnce(&mut MsgBuilder),
    ) -> Vec<u8> {
        let mut b = MsgBuilder::new(msg_type, 0);
        let mut ifi = [0u8; IFINFOMSG_LEN];
        ifi[2..4].copy_from_slice(&1u16.to_ne_bytes());
        ifi[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        ifi[8..12].copy_from_slice(&iff.to_ne_bytes());
        b.put_fixed(&ifi);
        fill(&mut b);
        b.finish().unwrap().to_vec()
    }

    #[test]
    fn decodes_a_full_link_message() {
        let mut stats = Vec::new();
        for i in 0..24u64 {
            stats.extend_from_slice(&(i + 100).to_ne_bytes());
        }
        let bytes = link_msg(
            RTM_NEWLINK,
            7,
            IFF_UP | IFF_RUNNING | IFF_LOWER_UP | IFF_BROADCAST,
            |b| {
                b.put_str(IFLA_IFNAME, "veth0")
                    .put_u32(IFLA_MTU, 9000)
                    .put_bytes(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 7])
                    .put_u8(IFLA_OPERSTATE, 6)
                    .put_u8(IFLA_CARRIER, 1)
                    .put_u32(IFLA_CARRIER_CHANGES, 3)
                    .put_u32(IFLA_CARRIER_DOWN_COUNT, 1)
                    .put_bytes(IFLA_STATS64, &stats)
                    .nested(IFLA_LINKINFO, |n| {
                        n.put_bytes(IFLA_INFO_KIND, b"veth");
                    });
            },
        );
        let msg = Msg::parse(&bytes).unwrap();
        let l = parse_link(&msg).unwrap();
        assert_eq!(
            (l.ifindex, &*l.name, l.mtu, l.hw_type),
            (7, "veth0", Some(9000), 1)
        );
        assert_eq!(l.mac, Some(EthAddr([2, 0, 0, 0, 0, 7])));
        assert_eq!(
            l.flags(),
            Flags::UP | Flags::RUNNING | Flags::LOWER_UP | Flags::BROADCAST
        );
        assert!(l.has_carrier());
        assert_eq!(
            (l.carrier, l.carrier_changes, l.carrier_down_count),
            (Some(true), Some(3), Some(1))
        );
        assert_eq!(l.kind, Some("veth"));
        let s = l.stats.unwrap();
        assert_eq!((s.rx_packets, s.tx_window_errors), (100, 120));
        assert_eq!(
            l.to_change().unwrap(),
            Change::LinkChanged {
                ifindex: 7,
                name: Some(IfName::new("veth0").unwrap()),
                info: LinkInfo {
                    mtu: Some(9000),
                    mac: Some(EthAddr([2, 0, 0, 0, 0, 7])),
                    flags: Some(l.flags()),
                    carrier: Some(true),
                }
            }
        );
    }

    #[test]
    fn dellink_is_a_removal_and_short_addresses_are_not_macs() {
        let bytes = link_msg(RTM_DELLINK, 9, 0, |b| {
            b.put_str(IFLA_IFNAME, "gre0")
                .put_bytes(IFLA_ADDRESS, &[0, 0, 0, 0]);
        });
        let l = parse_link(&Msg::parse(&bytes).unwrap()).unwrap();
        assert!(l.deleted && l.mac.is_none() && !l.has_carrier());
        assert_eq!(
            l.to_change().unwrap(),
            Change::LinkRemoved {
                ifindex: 9,
                name: IfName::new("gre0").unwrap()
            }
        );
    }

    #[test]
    fn bridge_port_messages_never_remove_the_link() {
        // What a bridge sends when `ip link set v0 nomaster` releases its
        // port: RTM_DELLINK, family AF_BRIDGE, about a link that stays.
        let mut b = MsgBuilder::new(RTM_DELLINK, 0);
        let mut ifi = [0u8; IFINFOMSG_LEN];
        ifi[0] = AF_BRIDGE;
        ifi[2..4].copy_from_slice(&1u16.to_ne_bytes());
        ifi[4..8].copy_from_slice(&4i32.to_ne_bytes());
        ifi[8..12].copy_from_slice(&(IFF_UP | IFF_RUNNING).to_ne_bytes());
        b.put_fixed(&ifi);
        b.put_str(IFLA_IFNAME, "v0")
            .put_u32(IFLA_MASTER, 3)
            .put_u32(IFLA_MTU, 1500);
        let bytes = b.finish().unwrap().to_vec();
        let l = parse_link(&Msg::parse(&bytes).unwrap()).unwrap();
        assert_eq!((l.family, l.deleted), (AF_BRIDGE, true));
        assert_eq!(
            l.to_change().unwrap(),
            Change::LinkChanged {
                ifindex: 4,
                name: Some(IfName::new("v0").unwrap()),
                info: LinkInfo::default(),
            },
            "a facet changed; values are read again"
        );
        // The same message for the link itself is a removal.
        let mut own = bytes.clone();
        own[16] = LINK_FAMILY;
        let l = parse_link(&Msg::parse(&own).unwrap()).unwrap();
        assert!(matches!(
            l.to_change().unwrap(),
            Change::LinkRemoved { ifindex: 4, .. }
        ));
    }

    #[test]
    fn names_the_kernel_allows_decode_even_if_not_utf8() {
        let bytes = link_msg(RTM_NEWLINK, 5, 0, |b| {
            b.put_bytes(IFLA_IFNAME, b"x\xff\xfe\0");
        });
        let l = parse_link(&Msg::parse(&bytes).unwrap()).unwrap();
        assert_eq!(l.name, "x\u{fffd}\u{fffd}");
        let bytes = link_msg(RTM_NEWLINK, 5, 0, |b| {
            b.put_bytes(IFLA_IFNAME, b"red\x1b[31m\0");
        });
        let l = parse_link(&Msg::parse(&bytes).unwrap()).unwrap();
        assert_eq!(l.name, "red\u{1b}[31m");
        // Not NUL-terminated, empty, or longer than IFNAMSIZ - 1: malformed.
        for bad in [&b"abc"[..], b"\0", b"sixteen-bytes-xx\0"] {
            let bytes = link_msg(RTM_NEWLINK, 5, 0, |b| {
                b.put_bytes(IFLA_IFNAME, bad);
            });
            let msg = Msg::parse(&bytes).unwrap();
            assert!(parse_link(&msg).is_err(), "{bad:?}");
            assert!(link_change(&msg).is_err(), "{bad:?}");
        }
        // The longest name there is, all of it not UTF-8: its event holds
        // it (as 15 replacement characters), quick decode or not.
        let mut name = vec![0xffu8; 15];
        name.push(0);
        let bytes = link_msg(RTM_NEWLINK, 5, 0, |b| {
            b.put_bytes(IFLA_IFNAME, &name);
        });
        let msg = Msg::parse(&bytes).unwrap();
        let want = "\u{fffd}".repeat(15);
        assert!(matches!(
            link_change(&msg).unwrap(),
            Change::LinkChanged { name: Some(n), .. } if n == want.as_str()
        ));
    }

    #[test]
    fn malformed_link_messages_are_errors() {
        // Missing name.
        let bytes = link_msg(RTM_NEWLINK, 1, 0, |b| {
            b.put_u32(IFLA_MTU, 1500);
        });
        let e = parse_link(&Msg::parse(&bytes).unwrap()).unwrap_err();
        assert!(e.to_string().contains("IFLA_IFNAME"), "{e}");
        // MTU of the wrong size.
        let bytes = link_msg(RTM_NEWLINK, 1, 0, |b| {
            b.put_str(IFLA_IFNAME, "x").put_u16(IFLA_MTU, 1500);
        });
        assert!(parse_link(&Msg::parse(&bytes).unwrap()).is_err());
        // Negative ifindex.
        let bytes = link_msg(RTM_NEWLINK, -5, 0, |b| {
            b.put_str(IFLA_IFNAME, "x");
        });
        let e = parse_link(&Msg::parse(&bytes).unwrap()).unwrap_err();
        assert!(e.to_string().contains("negative"), "{e}");
        // Header cut short.
        let mut b = MsgBuilder::new(RTM_NEWLINK, 0);
        b.put_fixed(&[0u8; 8]);
        let bytes = b.finish().unwrap().to_vec();
        assert!(parse_link(&Msg::parse(&bytes).unwrap()).is_err());
    }

    /// `bytes` with `tail` appended to its message (length fixed up).
    fn with_tail(mut bytes: Vec<u8>, tail: &[u8]) -> Vec<u8> {
        bytes.extend_from_slice(tail);
        let len = u32::try_from(bytes.len()).unwrap();
        bytes[..4].copy_from_slice(&len.to_ne_bytes());
        bytes
    }

    #[test]
    fn link_change_agrees_with_parse_link() {
        let full = link_msg(RTM_NEWLINK, 7, IFF_UP | IFF_RUNNING, |b| {
            b.put_str(IFLA_IFNAME, "veth0")
                .put_u32(IFLA_MTU, 9000)
                .put_bytes(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 7])
                .put_u32(IFLA_MASTER, 3)
                .put_u8(IFLA_CARRIER, 1)
                .put_bytes(IFLA_STATS64, &[0; 24 * 8])
                .nested(IFLA_LINKINFO, |n| {
                    n.put_bytes(IFLA_INFO_KIND, b"veth");
                })
                // Beyond the policy table: skipped by both.
                .put_u32(200, 1);
        });
        let duplicates = link_msg(RTM_NEWLINK, 8, IFF_UP, |b| {
            b.put_str(IFLA_IFNAME, "old")
                .put_u32(IFLA_MTU, 1400)
                .put_str(IFLA_IFNAME, "new")
                .put_u32(IFLA_MTU, 1500)
                // The type's flag bits are not part of the type.
                .put_bytes(IFLA_ADDRESS | 0x8000, &[2, 0, 0, 0, 0, 8]);
        });
        let removed = link_msg(RTM_DELLINK, 9, 0, |b| {
            b.put_str(IFLA_IFNAME, "gre0")
                .put_bytes(IFLA_ADDRESS, &[0, 0, 0, 0]);
        });
        let bare = link_msg(RTM_NEWLINK, 10, 0, |b| {
            b.put_str(IFLA_IFNAME, "x");
        });
        let not_utf8 = link_msg(RTM_NEWLINK, 5, 0, |b| {
            b.put_bytes(IFLA_IFNAME, b"x\xff\0");
        });
        let mut port = full.clone();
        port[16] = AF_BRIDGE;
        for bytes in [&full, &duplicates, &removed, &bare, &not_utf8, &port] {
            let msg = Msg::parse(bytes).unwrap();
            let want = parse_link(&msg).unwrap().to_change().unwrap();
            assert_eq!(link_change(&msg).unwrap(), want);
        }
        let msg = Msg::parse(&duplicates).unwrap();
        assert!(matches!(
            link_change(&msg).unwrap(),
            Change::LinkChanged { name: Some(n), info: LinkInfo { mtu: Some(1500), mac: Some(_), .. }, .. }
                if n == "new"
        ));
    }

    #[test]
    fn lone_link_change_is_the_general_path_for_one_message() {
        let one = |ty, i| {
            link_msg(ty, i, IFF_UP, |b| {
                b.put_str(IFLA_IFNAME, "v0")
                    .put_u32(IFLA_MTU, 1400)
                    .put_bytes(IFLA_ADDRESS, &[2, 0, 0, 0, 0, 1]);
            })
        };
        let general = |datagram: &[u8]| -> Vec<Change> {
            crate::netlink::MsgIter::new(datagram)
                .filter_map(|m| super::super::change_from_msg(&m.unwrap()).unwrap())
                .collect()
        };
        for ty in [RTM_NEWLINK, RTM_DELLINK] {
            let d = one(ty, 4);
            assert_eq!(lone_link_change(&d).map(|c| vec![c]).unwrap(), general(&d));
        }
        // Not taken: two messages, a message cut short, one that is not a
        // link's, one the quick decode refuses (the general path says why).
        let mut two = one(RTM_NEWLINK, 4);
        two.extend_from_slice(&one(RTM_NEWLINK, 5));
        assert!(lone_link_change(&two).is_none());
        assert_eq!(general(&two).len(), 2);
        let d = one(RTM_NEWLINK, 4);
        assert!(lone_link_change(&d[..d.len() - 4]).is_none());
        let mut addr = d.clone();
        addr[4..6].copy_from_slice(&crate::netlink::RTM_NEWADDR.to_ne_bytes());
        assert!(lone_link_change(&addr).is_none());
        let long_name = link_msg(RTM_NEWLINK, 4, 0, |b| {
            b.put_bytes(IFLA_IFNAME, b"sixteen-bytes-xx\0");
        });
        assert!(lone_link_change(&long_name).is_none());
        let msg = Msg::parse(&long_name).unwrap();
        assert!(link_change(&msg).is_err());
    }

    #[test]
    fn link_change_fails_as_parse_link_does() {
        let named = |fill: &dyn Fn(&mut MsgBuilder)| {
            link_msg(RTM_NEWLINK, 1, 0, |b| {
                b.put_str(IFLA_IFNAME, "x");
                fill(b);
            })
        };
        let mut short_header = MsgBuilder::new(RTM_NEWLINK, 0);
        short_header.put_fixed(&[0u8; 8]);
        let bad = [
            link_msg(RTM_NEWLINK, 1, 0, |b| {
                b.put_u32(IFLA_MTU, 1500);
            }),
            named(&|b| {
                b.put_u16(IFLA_MTU, 1500);
            }),
            link_msg(RTM_NEWLINK, -5, 0, |b| {
                b.put_str(IFLA_IFNAME, "x");
            }),
            link_msg(RTM_NEWLINK, 1, 0, |b| {
                b.put_bytes(IFLA_IFNAME, b"abc");
            }),
            link_msg(RTM_NEWLINK, 1, 0, |b| {
                b.put_str(IFLA_IFNAME, "sixteen-chars-xx");
            }),
            short_header.finish().unwrap().to_vec(),
            // An attribute header cut short, one longer than what is left,
            // one shorter than its own header.
            with_tail(named(&|_| {}), &[8, 0]),
            with_tail(named(&|_| {}), &[12, 0, 4, 0, 0, 0, 0, 0]),
            with_tail(named(&|_| {}), &[2, 0, 4, 0]),
        ];
        for bytes in &bad {
            let msg = Msg::parse(bytes).unwrap();
            let want = parse_link(&msg).unwrap_err().to_string();
            let got = link_change(&msg).unwrap_err().to_string();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn link_change_reads_only_what_the_event_carries() {
        // A malformed attribute the event does not carry (IFLA_MASTER of
        // two bytes) fails the full decode, not the event's: its values
        // are all well formed.
        let bytes = link_msg(RTM_NEWLINK, 4, IFF_UP, |b| {
            b.put_str(IFLA_IFNAME, "v0")
                .put_u16(IFLA_MASTER, 3)
                .put_u32(IFLA_MTU, 1280);
        });
        let msg = Msg::parse(&bytes).unwrap();
        assert!(parse_link(&msg).is_err());
        assert_eq!(
            link_change(&msg).unwrap(),
            Change::LinkChanged {
                ifindex: 4,
                name: Some(IfName::new("v0").unwrap()),
                info: LinkInfo {
                    mtu: Some(1280),
                    mac: None,
                    flags: Some(Flags::UP),
                    carrier: Some(false),
                },
            }
        );
    }

    #[test]
    fn iff_translation_round_trips() {
        for (bit, flag) in IFF_MAP {
            assert_eq!(flags_from_iff(bit), flag);
            assert_eq!(iff_from_flags(flag), bit);
        }
        assert_eq!(flags_from_iff(0x8000_0000), Flags::empty());
    }

    #[test]
    fn decodes_the_kernels_reply_for_lo() {
        let text = include_str!("../../tests/fixtures/netlink/rtm_getlink_lo.reply.hex");
        let bytes: Vec<u8> = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .flat_map(str::split_whitespace)
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        let msg = MsgIter::new(&bytes).next().unwrap().unwrap();
        let l = parse_link(&msg).unwrap();
        assert_eq!((l.ifindex, &*l.name, l.mtu), (1, "lo", Some(65536)));
        assert!(l.flags().contains(Flags::LOOPBACK));
        assert_eq!(l.mac, Some(EthAddr::ZERO));
        assert!(l.stats.is_some());
        // The notifier's decode of the kernel's own bytes.
        assert_eq!(link_change(&msg).unwrap(), l.to_change().unwrap());
    }

    #[test]
    fn setlink_request_layout() {
        let mut b = MsgBuilder::default();
        let change = LinkChange {
            mtu: Some(1400),
            mac: Some(EthAddr([2, 1, 2, 3, 4, 5])),
            iff: Some((IFF_UP | IFF_PROMISC, IFF_PROMISC)),
        };
        setlink_request(&mut b, 5, &change);
        let bytes = b.finish().unwrap().to_vec();
        let msg = Msg::parse(&bytes).unwrap();
        assert_eq!(msg.msg_type(), RTM_NEWLINK);
        let hdr = msg.fixed_header(IFINFOMSG_LEN).unwrap();
        assert_eq!(u32_at(hdr, 4), 5);
        assert_eq!(u32_at(hdr, 8), IFF_PROMISC, "only masked bits are sent");
        assert_eq!(u32_at(hdr, 12), IFF_PROMISC);
        let attrs = msg.attrs(IFINFOMSG_LEN).unwrap();
        assert_eq!(
            attrs.find(IFLA_MTU).unwrap().unwrap().get_u32().unwrap(),
            1400
        );
        let attrs = msg.attrs(IFINFOMSG_LEN).unwrap();
        assert_eq!(
            attrs.find(IFLA_ADDRESS).unwrap().unwrap().payload(),
            &[2, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn getlink_request_layout() {
        let mut b = MsgBuilder::default();
        getlink_request(&mut b, 0, Some("eth0"));
        let bytes = b.finish().unwrap().to_vec();
        let msg = Msg::parse(&bytes).unwrap();
        assert_eq!(msg.msg_type(), RTM_GETLINK);
        let name = msg
            .attrs(IFINFOMSG_LEN)
            .unwrap()
            .find(IFLA_IFNAME)
            .unwrap()
            .unwrap();
        assert_eq!(name.get_str().unwrap(), "eth0");
        getlink_request(&mut b, 42, None);
        let bytes = b.finish().unwrap().to_vec();
        assert_eq!(u32_at(&bytes, 16 + 4), 42);
    }
}
