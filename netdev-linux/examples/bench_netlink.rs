//! Benchmark of the Netlink socket layer against two references measured in
//! the same run, in two tables per device count:
//!
//! 1. Socket layer against the floor: a minimal raw `libc` loop (what any
//!    library must pay to the kernel) and this crate, both looking up
//!    exactly one attribute per reply (`IFLA_IFNAME`, or the presence of
//!    `IFLA_STATS_LINK_64`), so the ratio is the cost of the library's
//!    requests, matching and parsing.
//! 2. Decoding against the peer `netlink-packet-route` + `netlink-sys`
//!    (used as their examples show): both fully decode what the system
//!    class uses into the same owned [`LinkSummary`] (ifindex, flags, name,
//!    MTU, MAC, operstate, carrier counters, master, kind, 64-bit stats) or
//!    the same 64-bit counters, and the answers are checked equal.
//!
//! Run as root (it makes its own network namespace full of `ifb` devices,
//! removed at exit and on panic):
//!
//! ```text
//! cargo run --release -p netdev-linux --example bench_netlink [-- ROUNDS]
//! ```
//!
//! For each device count it prints the median over rounds of µs per
//! operation and each contender's ratio to the raw floor. It asserts the
//! answers (names, counts) but never the times: this is a program, not a
//! test.
//!
//! The raw floor needs `unsafe` (socket, bind, send, recv through `libc`):
//! it is benchmark code standing in for a C program, so it is allowed here,
//! with a `SAFETY` comment on each block, and nowhere else outside `sys`.
#![allow(unsafe_code)]

#[cfg(target_os = "linux")]
#[path = "../tests/support/mod.rs"]
mod support;

/// The 21 counters of a `struct rtnl_link_stats64`-shaped value (ours and
/// the peer's name the fields alike), in the kernel's order.
#[cfg(target_os = "linux")]
macro_rules! counters {
    ($s:expr) => {{
        let s = $s;
        [
            s.rx_packets,
            s.tx_packets,
            s.rx_bytes,
            s.tx_bytes,
            s.rx_errors,
            s.tx_errors,
            s.rx_dropped,
            s.tx_dropped,
            s.multicast,
            s.collisions,
            s.rx_length_errors,
            s.rx_over_errors,
            s.rx_crc_errors,
            s.rx_frame_errors,
            s.rx_fifo_errors,
            s.rx_missed_errors,
            s.tx_aborted_errors,
            s.tx_carrier_errors,
            s.tx_fifo_errors,
            s.tx_heartbeat_errors,
            s.tx_window_errors,
        ]
    }};
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("bench_netlink: Linux only (Netlink)");
}

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(target_os = "linux")]
#[path = "common/raw_rtnl.rs"]
mod raw_rtnl;

#[cfg(target_os = "linux")]
mod linux {
    use std::hint::black_box;
    use std::time::Instant;

    use super::support::{self, NetNs};

    /// Device counts to measure.
    const SIZES: [usize; 2] = [1000, 4000];
    /// Rounds per measurement (the median is printed); override with the
    /// first argument. Many short rounds, interleaved, so that a burst of
    /// outside load (another process holding the RTNL lock, a namespace
    /// being torn down) spoils a few rounds of every contender rather than
    /// the whole measurement of one.
    const DEFAULT_ROUNDS: usize = 31;
    /// Single-device requests per round and contender (a few ms).
    const SINGLE_OPS: usize = 500;
    /// Devices the single-device requests cycle through.
    const TARGETS: usize = 64;

    pub(super) const IFINFOMSG_LEN: usize = 16;
    pub(super) const IF_STATS_MSG_LEN: usize = 12;
    pub(super) const IFLA_IFNAME: u16 = 3;
    pub(super) const IFLA_STATS_LINK_64: u16 = 1;
    /// `IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64)`.
    pub(super) const STATS_LINK_64_MASK: u32 = 1 << (IFLA_STATS_LINK_64 - 1);

    /// One way of asking the kernel. Each method returns what the caller
    /// checks against the reference: the length of the device's name
    /// (getlink), 1 if the reply holds the 64-bit stats block (getstats),
    /// or the number of messages a dump returned.
    pub(super) trait Contender {
        fn getlink(&mut self, ifindex: u32) -> usize;
        fn link_dump(&mut self) -> usize;
        fn getstats(&mut self, ifindex: u32) -> usize;
        fn stats_dump(&mut self) -> usize;
    }

    /// The link attributes the system class uses, decoded and owned: what
    /// both sides of the decoding comparison produce per link message.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub(super) struct LinkSummary {
        pub ifindex: u32,
        pub iff: u32,
        pub name: String,
        pub mtu: Option<u32>,
        pub mac: Option<[u8; 6]>,
        pub operstate: Option<u8>,
        pub carrier_changes: Option<u32>,
        pub carrier_down_count: Option<u32>,
        pub master: Option<u32>,
        pub kind: Option<String>,
        pub stats64: Option<Counters>,
    }

    /// The 21 counters of `struct rtnl_link_stats64` the system class
    /// reports, in the kernel's order.
    pub(super) type Counters = [u64; 21];

    /// Full decoding of replies (table 2). Dumps call `each` per message.
    pub(super) trait Decoder {
        fn getlink(&mut self, ifindex: u32) -> LinkSummary;
        fn link_dump(&mut self, each: &mut dyn FnMut(LinkSummary)) -> usize;
        fn getstats(&mut self, ifindex: u32) -> Counters;
        fn stats_dump(&mut self, each: &mut dyn FnMut(Counters)) -> usize;
    }

    /// A decoder timed as a contender: the answers it checks are the name
    /// length (getlink) and whether counters came back (getstats).
    pub(super) struct Decoding<D>(pub D);

    impl<D: Decoder> Contender for Decoding<D> {
        fn getlink(&mut self, ifindex: u32) -> usize {
            black_box(self.0.getlink(ifindex)).name.len()
        }

        fn link_dump(&mut self) -> usize {
            self.0.link_dump(&mut |l| {
                assert!(!black_box(l).name.is_empty());
            })
        }

        fn getstats(&mut self, ifindex: u32) -> usize {
            black_box(self.0.getstats(ifindex));
            1
        }

        fn stats_dump(&mut self) -> usize {
            self.0.stats_dump(&mut |c| {
                black_box(c);
            })
        }
    }

    #[derive(Clone, Copy)]
    enum Op {
        GetLink,
        LinkDump,
        GetStats,
        StatsDump,
    }

    impl Op {
        fn label(self) -> &'static str {
            match self {
                Op::GetLink => "RTM_GETLINK by ifindex",
                Op::LinkDump => "RTM_GETLINK dump (all links)",
                Op::GetStats => "RTM_GETSTATS LINK_64 by ifindex",
                Op::StatsDump => "RTM_GETSTATS LINK_64 dump",
            }
        }
    }

    /// Times `ops` operations; returns µs per operation.
    fn time_one(
        c: &mut dyn Contender,
        op: Op,
        targets: &[(u32, String)],
        n_links: usize,
        ops: usize,
    ) -> f64 {
        let start = Instant::now();
        for k in 0..ops {
            match op {
                Op::GetLink => {
                    let (index, name) = &targets[k % targets.len()];
                    let len = c.getlink(*index);
                    assert_eq!(len, name.len(), "getlink {index}");
                }
                Op::GetStats => {
                    let (index, _) = &targets[k % targets.len()];
                    // Every reply carries the 64-bit stats block.
                    assert_eq!(c.getstats(*index), 1, "getstats {index}");
                }
                Op::LinkDump => assert_eq!(c.link_dump(), n_links, "links dumped"),
                Op::StatsDump => assert_eq!(c.stats_dump(), n_links, "stats dumped"),
            }
        }
        start.elapsed().as_secs_f64() * 1e6 / ops as f64
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    }

    /// Runs every contender on `op`, interleaved within each round so
    /// drift on this noisy machine hits all alike; returns their medians.
    fn measure(
        contenders: &mut [Box<dyn Contender>],
        op: Op,
        targets: &[(u32, String)],
        n_links: usize,
        rounds: usize,
    ) -> Vec<f64> {
        let ops = match op {
            Op::GetLink | Op::GetStats => SINGLE_OPS,
            // About 15 ms per round: a link costs ~4 µs to dump, its stats
            // ~0.2 µs.
            Op::LinkDump => (4_000 / n_links).clamp(1, 50),
            Op::StatsDump => (80_000 / n_links).clamp(2, 200),
        };
        // Warm-up: first-touch of buffers, caches, lazy kernel state.
        for c in contenders.iter_mut() {
            black_box(time_one(c.as_mut(), op, targets, n_links, ops.div_ceil(4)));
        }
        let mut samples = vec![Vec::with_capacity(rounds); contenders.len()];
        for round in 0..rounds {
            // Rotate the order each round.
            for j in 0..contenders.len() {
                let i = (j + round) % contenders.len();
                let c = contenders[i].as_mut();
                samples[i].push(time_one(c, op, targets, n_links, ops));
            }
        }
        samples.into_iter().map(median).collect()
    }

    pub(super) fn main() {
        let rounds = std::env::args()
            .nth(1)
            .map(|a| a.parse::<usize>().expect("ROUNDS must be a number"))
            .unwrap_or(DEFAULT_ROUNDS)
            .max(1);
        support::require_root();
        println!(
            "bench_netlink: median of {rounds} rounds, µs per operation; \
             devices are ifb (no dummy/vlan on this kernel)"
        );
        // Namespaces live until the end: deleting one makes the kernel
        // tear its devices down in the background, which would disturb
        // the next measurement.
        let _namespaces: Vec<NetNs> = SIZES.iter().map(|&n| bench_size(n, rounds)).collect();
    }

    fn bench_size(n: usize, rounds: usize) -> NetNs {
        let ns = NetNs::new();
        ns.add_ifbs("ifb", n);
        let links = ns.links();
        assert_eq!(links.len(), n + 1, "ip -j link after creating {n} ifbs");
        let step = (links.len() / TARGETS).max(1);
        let targets: Vec<(u32, String)> = links.iter().step_by(step).cloned().collect();
        // Sockets made from here on belong to the namespace.
        let inside = ns.enter();

        // Table 1: the raw floor and this crate, one attribute each.
        let mut floor: Vec<Box<dyn Contender>> = vec![
            Box::new(super::raw::Raw::new()),
            Box::new(super::ours::Ours::new()),
        ];
        // Table 2: this crate and the peer, both decoding fully.
        let mut ours = super::ours::Ours::new();
        let mut peer = super::peer::Peer::new();
        cross_check(&mut ours, &mut peer, &targets);
        let mut decoding: Vec<Box<dyn Contender>> =
            vec![Box::new(Decoding(ours)), Box::new(Decoding(peer))];
        println!();
        println!(
            "N = {n} devices (+lo) in namespace {}; {} single-device targets",
            ns.name(),
            targets.len()
        );
        println!("socket layer vs raw floor: both look up exactly one attribute per reply");
        println!(
            "{:<32} {:>10} {:>10} {:>7}",
            "operation", "raw µs", "ours µs", "ours/r"
        );
        for op in [Op::GetLink, Op::LinkDump, Op::GetStats, Op::StatsDump] {
            let m = measure(&mut floor, op, &targets, n + 1, rounds);
            let (raw, ours) = (m[0], m[1]);
            println!(
                "{:<32} {:>10.2} {:>10.2} {:>6.2}x",
                op.label(),
                raw,
                ours,
                ours / raw
            );
        }
        println!(
            "ours vs peer: both fully decode the system class's link attributes \
             (ifindex, flags, name, MTU, MAC, operstate, carrier changes/down count, \
             master, kind, stats64) or all 21 LINK_64 counters, into the same owned values"
        );
        println!(
            "{:<32} {:>10} {:>10} {:>9}",
            "operation", "ours µs", "peer µs", "peer/ours"
        );
        for op in [Op::GetLink, Op::LinkDump, Op::GetStats, Op::StatsDump] {
            let m = measure(&mut decoding, op, &targets, n + 1, rounds);
            let (ours, peer) = (m[0], m[1]);
            println!(
                "{:<32} {:>10.2} {:>10.2} {:>8.2}x",
                op.label(),
                ours,
                peer,
                peer / ours
            );
        }
        println!("(goals: ours/r at most 1.20x; peer/ours at least 1.00x: never slower than the peer at equal work)");
        drop(inside);
        ns
    }

    /// Both decoders must agree on every target and on the dumps, so the
    /// timed work is the same decoding, not one side skipping fields.
    fn cross_check(ours: &mut dyn Decoder, peer: &mut dyn Decoder, targets: &[(u32, String)]) {
        for (index, name) in targets {
            let a = ours.getlink(*index);
            assert_eq!(&a.name, name);
            assert_eq!(a, peer.getlink(*index), "link {index} decoded alike");
        }
        let mut a = Vec::new();
        let mut b = Vec::new();
        ours.link_dump(&mut |l| a.push(l));
        peer.link_dump(&mut |l| b.push(l));
        // Counters move between the two dumps (the kernel's own traffic
        // on lo); everything else must match.
        let strip = |v: &mut Vec<LinkSummary>| {
            for l in v.iter_mut() {
                l.stats64 = l.stats64.map(|_| [0; 21]);
            }
        };
        strip(&mut a);
        strip(&mut b);
        assert_eq!(a, b, "link dumps decoded alike");
        let (index, _) = &targets[targets.len() / 2];
        assert_eq!(ours.getstats(*index), peer.getstats(*index));
        assert_eq!(ours.stats_dump(&mut |_| {}), peer.stats_dump(&mut |_| {}));
    }
}

/// The floor: what a C programmer writes with `libc` and nothing else. One
/// reusable buffer, no `NLM_F_ACK`, one `send` and as many `recv` as the
/// kernel has datagrams, attributes walked by hand.
#[cfg(target_os = "linux")]
mod raw {
    use super::linux::{
        Contender, IFINFOMSG_LEN, IFLA_IFNAME, IFLA_STATS_LINK_64, IF_STATS_MSG_LEN,
    };
    pub(super) use crate::raw_rtnl::Raw;
    use crate::raw_rtnl::{
        find_attr, if_stats_msg, ifinfomsg, NLMSG_HDRLEN, RTM_GETLINK, RTM_GETSTATS, RTM_NEWLINK,
        RTM_NEWSTATS,
    };

    /// Length of the name (without its NUL) of the link message at `off`.
    fn name_len(b: &[u8], off: usize, len: usize) -> usize {
        let b = &b[..off + len];
        let (p, l) = find_attr(b, off + NLMSG_HDRLEN + IFINFOMSG_LEN, IFLA_IFNAME).expect("name");
        b[p..p + l].iter().position(|&c| c == 0).unwrap_or(l)
    }

    fn has_stats64(b: &[u8], off: usize, len: usize) -> bool {
        let b = &b[..off + len];
        find_attr(b, off + NLMSG_HDRLEN + IF_STATS_MSG_LEN, IFLA_STATS_LINK_64)
            .is_some_and(|(_, l)| l >= 8)
    }

    impl Contender for Raw {
        fn getlink(&mut self, ifindex: u32) -> usize {
            let len = self.single(RTM_GETLINK, &ifinfomsg(ifindex), RTM_NEWLINK);
            name_len(self.buf(), 0, len)
        }

        fn link_dump(&mut self) -> usize {
            let mut names = 0;
            let n = self.dump(RTM_GETLINK, &ifinfomsg(0), |b, off, len| {
                names += usize::from(name_len(b, off, len) > 0);
            });
            assert_eq!(names, n);
            n
        }

        fn getstats(&mut self, ifindex: u32) -> usize {
            let len = self.single(RTM_GETSTATS, &if_stats_msg(ifindex), RTM_NEWSTATS);
            usize::from(has_stats64(self.buf(), 0, len))
        }

        fn stats_dump(&mut self) -> usize {
            let mut with = 0;
            let n = self.dump(RTM_GETSTATS, &if_stats_msg(0), |b, off, len| {
                with += usize::from(has_stats64(b, off, len));
            });
            assert_eq!(with, n);
            n
        }
    }
}

/// This crate, as its users call it: a `MsgBuilder` per request,
/// `Socket::transact` for one device, `Socket::dump` for all.
#[cfg(target_os = "linux")]
mod ours {
    use netdev_linux::netlink::{
        Msg, MsgBuilder, Socket, NETLINK_ROUTE, NLM_F_REQUEST, RTM_GETLINK, RTM_GETSTATS,
    };

    use netdev_linux::rtnl::{parse_link, parse_stats};

    use super::linux::{
        Contender, Counters, Decoder, LinkSummary, IFINFOMSG_LEN, IFLA_IFNAME, IFLA_STATS_LINK_64,
        IF_STATS_MSG_LEN, STATS_LINK_64_MASK,
    };

    pub(super) struct Ours {
        sock: Socket,
    }

    impl Ours {
        pub(super) fn new() -> Ours {
            Ours {
                sock: Socket::new(NETLINK_ROUTE).expect("netlink socket"),
            }
        }
    }

    fn getlink_request(ifindex: u32) -> MsgBuilder {
        let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST);
        let mut ifi = [0u8; IFINFOMSG_LEN];
        ifi[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        b.put_fixed(&ifi);
        b
    }

    fn getstats_request(ifindex: u32) -> MsgBuilder {
        let mut b = MsgBuilder::new(RTM_GETSTATS, NLM_F_REQUEST);
        let mut m = [0u8; IF_STATS_MSG_LEN];
        m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        m[8..12].copy_from_slice(&STATS_LINK_64_MASK.to_ne_bytes());
        b.put_fixed(&m);
        b
    }

    fn name_len(m: &Msg<'_>) -> usize {
        let a = m
            .attrs(IFINFOMSG_LEN)
            .and_then(|a| a.find(IFLA_IFNAME))
            .expect("attributes")
            .expect("IFLA_IFNAME");
        a.get_str().expect("name").len()
    }

    fn has_stats64(m: &Msg<'_>) -> bool {
        m.attrs(IF_STATS_MSG_LEN)
            .and_then(|a| a.find(IFLA_STATS_LINK_64))
            .expect("attributes")
            .is_some_and(|a| a.payload().len() >= 8)
    }

    impl Ours {
        /// One request, its one reply handed to `read` where it lies in
        /// the receive buffer (`transact_with`, the path the classes use).
        fn single<T>(&mut self, mut req: MsgBuilder, read: impl FnOnce(&Msg<'_>) -> T) -> T {
            self.sock
                .transact_with(&mut req, |reply| read(&reply.expect("a reply")))
                .expect("transact")
        }

        /// A dump, each message handed to `each`; returns the count.
        fn each(&mut self, mut req: MsgBuilder, mut each: impl FnMut(&Msg<'_>)) -> usize {
            let mut dump = self.sock.dump(&mut req).expect("dump");
            let mut n = 0;
            while let Some(m) = dump.next_msg() {
                each(&m.expect("dumped message"));
                n += 1;
            }
            n
        }
    }

    impl Contender for Ours {
        fn getlink(&mut self, ifindex: u32) -> usize {
            self.single(getlink_request(ifindex), name_len)
        }

        fn link_dump(&mut self) -> usize {
            self.each(getlink_request(0), |m| assert!(name_len(m) > 0))
        }

        fn getstats(&mut self, ifindex: u32) -> usize {
            usize::from(self.single(getstats_request(ifindex), has_stats64))
        }

        fn stats_dump(&mut self) -> usize {
            self.each(getstats_request(0), |m| assert!(has_stats64(m)))
        }
    }

    /// Decodes a link message fully, as the system class does
    /// (`rtnl::parse_link`: a policy walk of every attribute).
    fn summary(m: &Msg<'_>) -> LinkSummary {
        let l = parse_link(m).expect("link message");
        LinkSummary {
            ifindex: l.ifindex,
            iff: l.iff,
            name: l.name.into_owned(),
            mtu: l.mtu,
            mac: l.mac.map(|m| m.octets()),
            operstate: l.operstate,
            carrier_changes: l.carrier_changes,
            carrier_down_count: l.carrier_down_count,
            master: l.master,
            kind: l.kind.map(str::to_owned),
            stats64: l.stats.as_ref().map(|s| counters!(s)),
        }
    }

    fn stats_counters(m: &Msg<'_>) -> Counters {
        let (_, s) = parse_stats(m).expect("stats message");
        counters!(&s)
    }

    impl Decoder for Ours {
        fn getlink(&mut self, ifindex: u32) -> LinkSummary {
            self.single(getlink_request(ifindex), summary)
        }

        fn link_dump(&mut self, each: &mut dyn FnMut(LinkSummary)) -> usize {
            self.each(getlink_request(0), |m| each(summary(m)))
        }

        fn getstats(&mut self, ifindex: u32) -> Counters {
            self.single(getstats_request(ifindex), stats_counters)
        }

        fn stats_dump(&mut self, each: &mut dyn FnMut(Counters)) -> usize {
            self.each(getstats_request(0), |m| each(stats_counters(m)))
        }
    }
}

/// The peer: `netlink-packet-route` messages over a `netlink-sys` socket,
/// built, sent, received and deserialized as their examples do.
#[cfg(target_os = "linux")]
mod peer {
    use netlink_packet_core::{
        NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
    };
    use netlink_packet_route::link::{self, LinkAttribute, LinkMessage};
    use netlink_packet_route::stats::{StatsAttribute, StatsFilterMask, StatsMessage};
    use netlink_packet_route::RouteNetlinkMessage;
    use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

    use super::linux::{Counters, Decoder, LinkSummary};

    pub(super) struct Peer {
        sock: Socket,
        seq: u32,
        send_buf: Vec<u8>,
        recv_buf: Vec<u8>,
    }

    impl Peer {
        pub(super) fn new() -> Peer {
            let mut sock = Socket::new(NETLINK_ROUTE).expect("netlink-sys socket");
            sock.bind_auto().expect("bind");
            sock.connect(&SocketAddr::new(0, 0)).expect("connect");
            Peer {
                sock,
                seq: 0,
                send_buf: Vec::new(),
                // As large as ours and raw's, so all get the same datagrams.
                recv_buf: vec![0; 32 * 1024],
            }
        }

        fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> u32 {
            self.seq = self.seq.wrapping_add(1);
            let mut packet = NetlinkMessage::new(NetlinkHeader::default(), msg.into());
            packet.header.flags = flags;
            packet.header.sequence_number = self.seq;
            packet.finalize();
            self.send_buf.resize(packet.buffer_len(), 0);
            packet.serialize(&mut self.send_buf[..]);
            self.sock.send(&self.send_buf, 0).expect("send");
            self.seq
        }

        fn recv(&mut self) -> usize {
            self.sock
                .recv(&mut &mut self.recv_buf[..], 0)
                .expect("recv")
        }

        /// One request, one reply message.
        fn single(&mut self, msg: RouteNetlinkMessage) -> RouteNetlinkMessage {
            let seq = self.send(msg, NLM_F_REQUEST);
            let n = self.recv();
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.recv_buf[..n])
                .expect("deserialize");
            assert_eq!(reply.header.sequence_number, seq);
            match reply.payload {
                NetlinkPayload::InnerMessage(m) => m,
                other => panic!("unexpected reply {other:?}"),
            }
        }

        /// Runs a dump; calls `each` on every message; returns the count.
        fn dump(
            &mut self,
            msg: RouteNetlinkMessage,
            mut each: impl FnMut(RouteNetlinkMessage),
        ) -> usize {
            let seq = self.send(msg, NLM_F_REQUEST | NLM_F_DUMP);
            let mut count = 0;
            loop {
                let n = self.recv();
                let mut off = 0;
                while off < n {
                    let m =
                        NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.recv_buf[off..n])
                            .expect("deserialize");
                    off += (m.header.length as usize + 3) & !3;
                    if m.header.sequence_number != seq {
                        continue;
                    }
                    match m.payload {
                        NetlinkPayload::Done(_) => return count,
                        NetlinkPayload::InnerMessage(inner) => {
                            each(inner);
                            count += 1;
                        }
                        NetlinkPayload::Error(e) => panic!("dump failed: {e:?}"),
                        _ => {}
                    }
                }
            }
        }
    }

    fn getstats(ifindex: u32) -> RouteNetlinkMessage {
        let mut m = StatsMessage::default();
        m.header.ifindex = ifindex;
        m.header.filter_mask = StatsFilterMask::Link64;
        RouteNetlinkMessage::GetStats(m)
    }

    /// Picks the system class's attributes out of a fully deserialized
    /// link message (deserializing is the peer's only way in).
    fn summary(m: &RouteNetlinkMessage) -> LinkSummary {
        let RouteNetlinkMessage::NewLink(l) = m else {
            panic!("not a link: {m:?}");
        };
        let mut s = LinkSummary {
            ifindex: l.header.index,
            iff: l.header.flags.bits(),
            ..LinkSummary::default()
        };
        for a in &l.attributes {
            match a {
                LinkAttribute::IfName(n) => s.name = n.clone(),
                LinkAttribute::Mtu(v) => s.mtu = Some(*v),
                LinkAttribute::Address(a) => s.mac = a.as_slice().try_into().ok(),
                LinkAttribute::OperState(st) => s.operstate = Some(u8::from(*st)),
                LinkAttribute::CarrierChanges(v) => s.carrier_changes = Some(*v),
                LinkAttribute::CarrierDownCount(v) => s.carrier_down_count = Some(*v),
                LinkAttribute::Controller(v) => s.master = Some(*v),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        if let link::LinkInfo::Kind(k) = i {
                            s.kind = Some(k.to_string());
                        }
                    }
                }
                LinkAttribute::Stats64(st) => s.stats64 = Some(counters!(st)),
                _ => {}
            }
        }
        s
    }

    fn stats_counters(m: &RouteNetlinkMessage) -> Counters {
        let RouteNetlinkMessage::NewStats(s) = m else {
            panic!("not stats: {m:?}");
        };
        s.attributes
            .iter()
            .find_map(|a| match a {
                StatsAttribute::Link64(st) => Some(counters!(st)),
                _ => None,
            })
            .expect("IFLA_STATS_LINK_64")
    }

    impl Decoder for Peer {
        fn getlink(&mut self, ifindex: u32) -> LinkSummary {
            let mut m = LinkMessage::default();
            m.header.index = ifindex;
            summary(&self.single(RouteNetlinkMessage::GetLink(m)))
        }

        fn link_dump(&mut self, each: &mut dyn FnMut(LinkSummary)) -> usize {
            self.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()), |m| {
                each(summary(&m))
            })
        }

        fn getstats(&mut self, ifindex: u32) -> Counters {
            stats_counters(&self.single(getstats(ifindex)))
        }

        fn stats_dump(&mut self, each: &mut dyn FnMut(Counters)) -> usize {
            self.dump(getstats(0), |m| each(stats_counters(&m)))
        }
    }
}
