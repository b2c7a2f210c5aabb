//! Golden bytes: requests and replies captured from a real Linux kernel
//! (see `fixtures/README.md` for how), checked against the sans-IO
//! Netlink library. Requests we build must be byte-identical to what
//! iproute2 sent; replies the kernel sent must parse to the values iproute2
//! printed.

use netdev_netlink::{
    genl, Attr, Error, Header, Msg, MsgBuilder, MsgDisplay, MsgIter, MsgKind, Parsed, Policy,
    Protocol, StringProblem, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, CTRL_CMD_NEWFAMILY,
    GENL_ID_CTRL, NLMSG_DONE, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_EXCL, NLM_F_MULTI, NLM_F_REQUEST, RTM_GETLINK, RTM_NEWLINK,
};

// rtnetlink link constants used only by these tests (linux/if_link.h).
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_TXQLEN: u16 = 13;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_EXT_MASK: u16 = 29;
const IFLA_INFO_KIND: u16 = 1;
const RTEXT_FILTER_VF: u32 = 1;
const RTEXT_FILTER_SKIP_STATS: u32 = 8;
const AF_PACKET: u8 = 17;
const ARPHRD_LOOPBACK: u16 = 772;
const IFF_UP: u32 = 1;
const IFINFOMSG_LEN: usize = 16;

/// Decodes a fixture: hex bytes separated by whitespace, `#` comments.
fn fixture(text: &str) -> Vec<u8> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
        .map(|b| u8::from_str_radix(b, 16).expect("fixture is hex"))
        .collect()
}

macro_rules! fixture {
    ($name:literal) => {
        fixture(include_str!(concat!("fixtures/", $name, ".hex")))
    };
}

/// A `struct ifinfomsg`: family, pad, type, index, flags, change.
fn ifinfomsg(family: u8, index: i32, flags: u32, change: u32) -> [u8; IFINFOMSG_LEN] {
    let mut out = [0; IFINFOMSG_LEN];
    out[0] = family;
    out[4..8].copy_from_slice(&index.to_ne_bytes());
    out[8..12].copy_from_slice(&flags.to_ne_bytes());
    out[12..16].copy_from_slice(&change.to_ne_bytes());
    out
}

/// Gives a built request the captured request's sequence number and port
/// id, and returns the finished bytes.
fn finish_like(b: &mut MsgBuilder, captured: &[u8]) -> Vec<u8> {
    let h = Header::parse(captured).unwrap();
    b.set_seq(h.seq).set_pid(h.pid);
    b.finish().unwrap().to_vec()
}

fn only_msg(bytes: &[u8]) -> Msg<'_> {
    let msgs: Vec<_> = MsgIter::new(bytes).collect::<Result<_, _>>().unwrap();
    assert_eq!(msgs.len(), 1);
    msgs[0]
}

// ---- Generic Netlink controller.

#[test]
fn getfamily_request_is_byte_identical() {
    let captured = fixture!("genl_getfamily_nlctrl.req");
    // iproute2's `genl` sends controller version 0 and asks for an ACK.
    let mut b = MsgBuilder::new_genl(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        CTRL_CMD_GETFAMILY,
        0,
    );
    b.put_str(CTRL_ATTR_FAMILY_NAME, "nlctrl");
    assert_eq!(finish_like(&mut b, &captured), captured);

    // Our helper writes version 1 (as the C original did); otherwise equal.
    let mut helper = MsgBuilder::default();
    genl::getfamily_request(&mut helper, "nlctrl").add_flags(NLM_F_ACK);
    let mut ours = finish_like(&mut helper, &captured);
    assert_eq!(ours[17], 1);
    ours[17] = 0;
    assert_eq!(ours, captured);
}

#[test]
fn getfamily_reply_for_nlctrl() {
    let request = fixture!("genl_getfamily_nlctrl.req");
    let reply = fixture!("genl_getfamily_nlctrl.reply");
    let msg = only_msg(&reply);
    assert_eq!(msg.kind(), Ok(MsgKind::Data));
    assert_eq!(msg.seq(), Header::parse(&request).unwrap().seq);
    let genl = msg.genl_header().unwrap();
    assert_eq!((genl.cmd, genl.version), (CTRL_CMD_NEWFAMILY, 2));

    let family = genl::Family::parse(&msg).unwrap();
    assert_eq!(family.id(), 16);
    assert_eq!(family.name(), "nlctrl");
    assert_eq!(family.version(), Some(2));
    assert_eq!(family.hdrsize(), Some(0));
    assert_eq!(family.maxattr(), Some(0));
    // `genl ctrl get` printed: #1 ID-0x3 caps 0xe, #2 ID-0xa caps 0xc.
    assert_eq!(
        family.ops().collect::<Result<Vec<_>, _>>(),
        Ok(vec![(3, 0xe), (10, 0xc)])
    );
    // ...and the multicast group "notify" with ID 0x10.
    assert_eq!(family.mcast_group("notify"), Ok(Some(0x10)));

    assert_eq!(
        MsgDisplay::new(&reply, Some(Protocol::Generic)).to_string(),
        "nl(len:136, type=16(nlctrl), flags=0x0, seq=0x6b042265, pid=2363),\
         genl(cmd=1(CTRL_CMD_NEWFAMILY),version=2)"
    );
}

#[test]
fn getfamily_enoent() {
    let captured = fixture!("genl_getfamily_enoent.req");
    let mut b = MsgBuilder::new_genl(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        CTRL_CMD_GETFAMILY,
        0,
    );
    b.put_str(CTRL_ATTR_FAMILY_NAME, "nosuchfamily");
    assert_eq!(finish_like(&mut b, &captured), captured);

    let reply = fixture!("genl_getfamily_enoent.reply");
    let msg = only_msg(&reply);
    let MsgKind::Error(e) = msg.kind().unwrap() else {
        panic!("expected NLMSG_ERROR");
    };
    assert_eq!(e.errno(), 2);
    assert_eq!(e.request(), &Header::parse(&captured).unwrap());
    assert_eq!(
        e.request_bytes(),
        &captured[..],
        "uncapped: whole request echoed"
    );
    assert_eq!(e.message(), None);
    let err = msg.check().unwrap_err();
    assert_eq!(err, Error::kernel(2));
    assert_eq!(err.raw_os_error(), Some(2));
    let text = MsgDisplay::new(&reply, Some(Protocol::Generic)).to_string();
    assert!(
        text.contains(
            " error(-2(ENOENT: No such file or directory), in-reply-to(nl(len:40, type=16(nlctrl), \
             flags=0x5[REQUEST,ACK], seq=0x6b042270, pid=0)))"
        ),
        "{text}"
    );
}

#[test]
fn ctrl_dump_request_and_multipart_reply() {
    let captured = fixture!("genl_ctrl_dump.req");
    let mut b = MsgBuilder::new_genl(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_DUMP,
        CTRL_CMD_GETFAMILY,
        0,
    );
    assert_eq!(finish_like(&mut b, &captured), captured);

    let seq = Header::parse(&captured).unwrap().seq;
    let reply = fixture!("genl_ctrl_dump.reply");
    let mut names = Vec::new();
    for msg in MsgIter::new(&reply) {
        let msg = msg.unwrap();
        assert_eq!(msg.seq(), seq);
        assert_eq!(msg.flags(), NLM_F_MULTI);
        let family = genl::Family::parse(&msg).unwrap();
        for group in family.mcast_groups() {
            group.unwrap();
        }
        names.push((family.name(), family.id()));
    }
    assert!(names.len() > 3, "{names:?}");
    assert_eq!(names[0], ("nlctrl", 16));
    // The offsets of later messages are absolute within the datagram.
    let last = MsgIter::new(&reply).last().unwrap().unwrap();
    assert_eq!(last.offset() + last.bytes().len(), reply.len());

    let done = fixture!("genl_ctrl_dump.done");
    let msg = only_msg(&done);
    assert_eq!(msg.msg_type(), NLMSG_DONE);
    let MsgKind::Done(d) = msg.kind().unwrap() else {
        panic!("expected NLMSG_DONE");
    };
    assert_eq!(d.status(), Some(0));
    assert!(msg.check().is_ok());
}

// ---- rtnetlink.

static LINK_POLICY: [Policy; 30] = netdev_netlink::policy_table(&[
    (IFLA_ADDRESS, Policy::unspec("IFLA_ADDRESS").optional()),
    (IFLA_IFNAME, Policy::string("IFLA_IFNAME").max_len(16)),
    (IFLA_MTU, Policy::u32("IFLA_MTU")),
    (IFLA_TXQLEN, Policy::u32("IFLA_TXQLEN").optional()),
    (IFLA_OPERSTATE, Policy::u8("IFLA_OPERSTATE").optional()),
    (
        IFLA_LINKINFO,
        Policy::nested("IFLA_LINKINFO", &LINKINFO_POLICY).optional(),
    ),
    (IFLA_AF_SPEC, Policy::nested("IFLA_AF_SPEC", &[]).optional()),
]);

static LINKINFO_POLICY: [Policy; 2] =
    netdev_netlink::policy_table(&[(IFLA_INFO_KIND, Policy::string("IFLA_INFO_KIND"))]);

fn ifi_flags(msg: &Msg<'_>) -> u32 {
    let ifi = msg.fixed_header(IFINFOMSG_LEN).unwrap();
    u32::from_ne_bytes([ifi[8], ifi[9], ifi[10], ifi[11]])
}

fn check_lo<'a>(msg: &Msg<'a>) -> Parsed<'a, 30> {
    let ifi = msg.fixed_header(IFINFOMSG_LEN).unwrap();
    assert_eq!(u16::from_ne_bytes([ifi[2], ifi[3]]), ARPHRD_LOOPBACK);
    assert_eq!(
        i32::from_ne_bytes([ifi[4], ifi[5], ifi[6], ifi[7]]),
        1,
        "ifindex"
    );

    let attrs = msg.attrs(IFINFOMSG_LEN).unwrap();
    // Every attribute is well formed, including the many this policy skips.
    assert!(attrs.clone().validate().is_ok());
    assert!(attrs.clone().count() > 20);
    let link = attrs.parse(&LINK_POLICY).unwrap();
    assert_eq!(link.str(IFLA_IFNAME), Ok("lo"));
    assert_eq!(link.u32(IFLA_MTU), Ok(65536));
    assert_eq!(link.opt(IFLA_TXQLEN, Attr::get_u32), Ok(Some(1000)));
    assert_eq!(link.bytes(IFLA_ADDRESS), Ok(&[0u8; 6][..]));
    assert!(!link.has(IFLA_LINKINFO));
    link
}

#[test]
fn getlink_lo_request_and_reply() {
    let captured = fixture!("rtm_getlink_lo.req");
    let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST);
    b.put_fixed(&ifinfomsg(0, 0, 0, 0))
        .put_u32(IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS)
        .put_str(IFLA_IFNAME, "lo");
    assert_eq!(finish_like(&mut b, &captured), captured);

    let reply = fixture!("rtm_getlink_lo.reply");
    let msg = only_msg(&reply);
    assert_eq!(msg.msg_type(), RTM_NEWLINK);
    assert_eq!(msg.seq(), Header::parse(&captured).unwrap().seq);
    check_lo(&msg);
    assert_ne!(
        ifi_flags(&msg) & IFF_UP,
        0,
        "lo is up in the root namespace"
    );
    let text = MsgDisplay::new(&reply, Some(Protocol::Route)).to_string();
    assert!(
        text.starts_with("nl(len:1100, type=16(RTM_NEWLINK), flags=0x0, seq=0x6b042270"),
        "{text}"
    );
}

#[test]
fn getlink_dump_request_and_reply() {
    let captured = fixture!("rtm_getlink_dump.req");
    let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
    b.put_fixed(&ifinfomsg(AF_PACKET, 0, 0, 0))
        .put_u32(IFLA_EXT_MASK, RTEXT_FILTER_VF);
    assert_eq!(finish_like(&mut b, &captured), captured);
    assert!(MsgDisplay::new(&captured, Some(Protocol::Route))
        .to_string()
        .contains("type=18(RTM_GETLINK), flags=0x301[REQUEST,DUMP]"));

    // A fresh namespace has only lo.
    let reply = fixture!("rtm_getlink_dump.reply");
    let msg = only_msg(&reply);
    assert_eq!(msg.flags(), NLM_F_MULTI);
    let link = check_lo(&msg);
    assert_eq!(
        ifi_flags(&msg) & IFF_UP,
        0,
        "lo starts down in a new namespace"
    );
    // IF_OPER_DOWN
    assert_eq!(link.opt(IFLA_OPERSTATE, Attr::get_u8), Ok(Some(2)));

    let done = fixture!("rtm_getlink_dump.done");
    let MsgKind::Done(d) = only_msg(&done).kind().unwrap() else {
        panic!("expected NLMSG_DONE");
    };
    assert_eq!(d.status(), Some(0));
}

#[test]
fn newlink_probe_enodev_uncapped() {
    let captured = fixture!("rtm_newlink_probe.req");
    let mut b = MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
    b.put_fixed(&ifinfomsg(0, 0, 0, 0));
    assert_eq!(finish_like(&mut b, &captured), captured);

    let reply = fixture!("rtm_newlink_probe.reply");
    let MsgKind::Error(e) = only_msg(&reply).kind().unwrap() else {
        panic!("expected NLMSG_ERROR");
    };
    assert_eq!(e.errno(), 19);
    assert_eq!(e.request_bytes(), &captured[..]);
    assert_eq!(
        MsgDisplay::new(&reply, Some(Protocol::Route)).to_string(),
        format!(
            "nl(len:52, type=2(NLMSG_ERROR), flags=0x0, seq=0x0, pid={}) \
             error(-19(ENODEV: No such device), in-reply-to(nl(len:32, type=16(RTM_NEWLINK), \
             flags=0x5[REQUEST,ACK], seq=0x0, pid=0)))",
            Header::parse(&reply).unwrap().pid
        )
    );
}

#[test]
fn newlink_lo_up_is_acked() {
    let captured = fixture!("rtm_newlink_lo_up.req");
    let mut b = MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
    b.put_fixed(&ifinfomsg(0, 1, IFF_UP, IFF_UP));
    assert_eq!(finish_like(&mut b, &captured), captured);

    let reply = fixture!("rtm_newlink_lo_up.reply");
    let msg = only_msg(&reply);
    assert_eq!(msg.flags(), NLM_F_CAPPED);
    let MsgKind::Error(e) = msg.kind().unwrap() else {
        panic!("expected NLMSG_ERROR");
    };
    assert!(e.is_ack());
    assert_eq!(e.request_bytes(), &captured[..16], "capped: header only");
    assert_eq!(e.request().len, 32);
    assert_eq!(msg.check(), Ok(msg));
    let text = MsgDisplay::new(&reply, Some(Protocol::Route)).to_string();
    assert!(text.contains("flags=0x100[CAPPED]"), "{text}");
    assert!(
        text.contains(" ack(in-reply-to(nl(len:32, type=16(RTM_NEWLINK)"),
        "{text}"
    );
}

#[test]
fn newlink_dummy_nested_request_and_extended_ack() {
    let captured = fixture!("rtm_newlink_dummy.req");
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
    let mut b = MsgBuilder::new(RTM_NEWLINK, flags);
    b.put_fixed(&ifinfomsg(0, 0, 0, 0))
        .put_str(IFLA_IFNAME, "d0")
        .nested(IFLA_LINKINFO, |b| {
            // iproute2 sends the kind without a NUL: the kernel's NLA_STRING
            // does not require one.
            b.put_bytes(IFLA_INFO_KIND, b"dummy");
        });
    assert_eq!(finish_like(&mut b, &captured), captured);

    // The policy check descends into the nest and finds iproute2's
    // unterminated kind string.
    let msg = only_msg(&captured);
    let link = msg.attrs(IFINFOMSG_LEN).unwrap();
    let err = link.clone().parse(&LINK_POLICY).unwrap_err();
    assert_eq!(
        err.to_string(),
        "attribute 1 at offset 44: string lacks a NUL terminator"
    );
    let linkinfo = link.find(IFLA_LINKINFO).unwrap().unwrap();
    let kind = linkinfo.nested().find(IFLA_INFO_KIND).unwrap().unwrap();
    assert_eq!(kind.get_bytes(), b"dummy");
    // Our policies demand the NUL (as the C original's did), and say where
    // it is missing: 16 (nlmsghdr) + 16 (ifinfomsg) + 8 (IFLA_IFNAME) + 4.
    assert_eq!(
        linkinfo.nested().parse(&LINKINFO_POLICY).unwrap_err(),
        Error::BadString {
            attr: IFLA_INFO_KIND,
            offset: 44,
            problem: StringProblem::MissingNul,
        }
    );

    let reply = fixture!("rtm_newlink_dummy.reply");
    let msg = only_msg(&reply);
    assert_eq!(msg.flags(), NLM_F_ACK_TLVS);
    let MsgKind::Error(e) = msg.kind().unwrap() else {
        panic!("expected NLMSG_ERROR");
    };
    assert_eq!(e.errno(), 95);
    assert_eq!(e.request_bytes(), &captured[..]);
    assert_eq!(e.message(), Some("Unknown device type"));
    let err = msg.check().unwrap_err();
    assert_eq!(
        err,
        Error::Kernel {
            errno: 95,
            message: Some("Unknown device type".into()),
        }
    );
    assert_eq!(
        err.to_string(),
        "kernel error EOPNOTSUPP (Operation not supported, errno 95): Unknown device type"
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.raw_os_error(), Some(95));
    let text = MsgDisplay::new(&reply, Some(Protocol::Route)).to_string();
    assert!(text.contains("flags=0x200[ACK_TLVS]"), "{text}");
    assert!(
        text.contains("flags=0x605[REQUEST,ACK,EXCL,CREATE]"),
        "{text}"
    );
    assert!(text.ends_with(", msg=\"Unknown device type\")"), "{text}");
}
