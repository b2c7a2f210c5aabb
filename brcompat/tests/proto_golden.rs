//! Golden bytes for the brcompat protocol, written out field by field from
//! the layouts the seeds use (`vswitchd/ovs-brcompatd.c`: `parse_command`,
//! `compose_reply`, `send_ifindex_reply`, the FDB query) and Linux's
//! `struct __fdb_entry`: every request and reply kind is encoded to exactly
//! these bytes and decoded back from them. Then the same messages broken
//! in every way a peer could break them: errors, never panics.
//!
//! Netlink is host-endian, so integers are written with `to_ne_bytes`.

use brcompat::proto::{
    FdbEntry, PortStats, ProtoError, Reply, ReplyData, Request, MAX_ATTRS, MAX_FDB_ENTRIES,
    MAX_IFINDEXES, MAX_MESSAGE_LEN,
};
use netdev_netlink::{Error, Msg, MsgBuilder, Part, StringProblem};

mod common;
use common::{encode_reply, encode_request, FAMILY};

const NLM_F_REQUEST: u16 = 1;

/// An `nlmsghdr`: length, type, flags, sequence number, port id.
fn nlmsghdr(len: u32, msg_type: u16, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
    [
        &len.to_ne_bytes()[..],      // nlmsg_len
        &msg_type.to_ne_bytes()[..], // nlmsg_type: the family id
        &flags.to_ne_bytes()[..],    // nlmsg_flags
        &seq.to_ne_bytes()[..],      // nlmsg_seq
        &pid.to_ne_bytes()[..],      // nlmsg_pid
    ]
    .concat()
}

/// An attribute header: `nla_len` (header + payload, before padding),
/// `nla_type`.
fn nla(len: u16, ty: u16) -> Vec<u8> {
    [len.to_ne_bytes(), ty.to_ne_bytes()].concat()
}

/// Checks both directions: `request` encodes to `golden`, `golden` decodes
/// to `request`.
fn golden_request(request: &Request, seq: u32, golden: &[u8]) {
    assert_eq!(encode_request(request, seq), golden, "{request:?}");
    assert_eq!(
        Request::parse(golden, FAMILY),
        Ok((seq, request.clone())),
        "{request:?}"
    );
    let msg = Msg::parse(golden).unwrap();
    assert_eq!(Request::decode(&msg, FAMILY), Ok((seq, request.clone())));
}

fn golden_reply(reply: &Reply, seq: u32, pid: u32, golden: &[u8]) {
    assert_eq!(encode_reply(reply, seq, pid), golden, "{reply:?}");
    assert_eq!(Reply::parse(golden, FAMILY), Ok((seq, reply.clone())));
    assert_eq!(Msg::parse(golden).unwrap().pid(), pid);
}

// ---- Requests.

/// `brctl addbr br0`.
fn dp_add_br0() -> Vec<u8> {
    [
        nlmsghdr(28, FAMILY, NLM_F_REQUEST, 7, 0),
        vec![1, 1, 0, 0], // genlmsghdr: cmd DP_ADD, version 1, reserved
        nla(8, 1),        // DP_NAME, 4 + 4 bytes
        b"br0\0".to_vec(),
    ]
    .concat()
}

#[test]
fn dp_add() {
    let r = Request::AddBridge { name: "br0".into() };
    golden_request(&r, 7, &dp_add_br0());
}

#[test]
fn dp_del_with_padding() {
    // "bridge1\0" is 8 bytes; "br10\0" is 5, padded to 8 with zeros.
    let golden = [
        nlmsghdr(32, FAMILY, NLM_F_REQUEST, 8, 0),
        vec![2, 1, 0, 0], // DP_DEL
        nla(9, 1),        // DP_NAME: 4 + 5
        b"br10\0".to_vec(),
        vec![0, 0, 0], // padding to 4 bytes
    ]
    .concat();
    let r = Request::DelBridge {
        name: "br10".into(),
    };
    golden_request(&r, 8, &golden);
}

#[test]
fn port_add_and_del() {
    for (cmd, add) in [(4u8, true), (5, false)] {
        let golden = [
            nlmsghdr(40, FAMILY, NLM_F_REQUEST, 9, 0),
            vec![cmd, 1, 0, 0], // PORT_ADD or PORT_DEL
            nla(8, 1),          // DP_NAME
            b"br0\0".to_vec(),
            nla(9, 2), // PORT_NAME: 4 + 5
            b"eth0\0".to_vec(),
            vec![0, 0, 0], // padding
        ]
        .concat();
        let (bridge, port) = ("br0".to_owned(), "eth0".to_owned());
        let r = if add {
            Request::AddPort { bridge, port }
        } else {
            Request::DelPort { bridge, port }
        };
        golden_request(&r, 9, &golden);
    }
}

#[test]
fn fdb_query() {
    let golden = [
        nlmsghdr(52, FAMILY, NLM_F_REQUEST, 10, 0),
        vec![7, 1, 0, 0], // FDB_QUERY
        nla(8, 1),        // DP_NAME
        b"br0\0".to_vec(),
        nla(12, 5), // FDB_COUNT: u64
        256u64.to_ne_bytes().to_vec(),
        nla(12, 6), // FDB_SKIP: u64
        u64::MAX.to_ne_bytes().to_vec(),
    ]
    .concat();
    let r = Request::FdbQuery {
        bridge: "br0".into(),
        count: 256,
        skip: u64::MAX,
    };
    golden_request(&r, 10, &golden);
}

#[test]
fn get_bridges_and_query_mc_carry_no_attributes() {
    for (cmd, r) in [(8u8, Request::GetBridges), (6, Request::QueryMc)] {
        let golden = [
            nlmsghdr(20, FAMILY, NLM_F_REQUEST, 11, 0),
            vec![cmd, 1, 0, 0], // GET_BRIDGES or QUERY_MC, nothing after
        ]
        .concat();
        golden_request(&r, 11, &golden);
    }
}

#[test]
fn get_ports() {
    let golden = [
        nlmsghdr(28, FAMILY, NLM_F_REQUEST, 12, 0),
        vec![9, 1, 0, 0], // GET_PORTS
        nla(8, 1),        // DP_NAME
        b"br0\0".to_vec(),
    ]
    .concat();
    golden_request(
        &Request::GetPorts {
            bridge: "br0".into(),
        },
        12,
        &golden,
    );
}

#[test]
fn request_family_is_a_parameter() {
    let r = Request::GetBridges;
    let mut b = MsgBuilder::default();
    let bytes = r.encode(&mut b, 0x1234, 5).unwrap();
    assert_eq!(&bytes[4..6], &0x1234u16.to_ne_bytes());
    assert_eq!(Request::parse(bytes, 0x1234), Ok((5, r)));
    assert_eq!(
        Request::parse(bytes, FAMILY),
        Err(ProtoError::WrongFamily {
            expected: FAMILY,
            found: 0x1234
        })
    );
}

// ---- Replies.

#[test]
fn reply_success_and_error() {
    // compose_reply(seq, 0): ERR_CODE only; flags 0 on this transport.
    for errno in [0u32, 17, 6] {
        let golden = [
            nlmsghdr(28, FAMILY, 0, 7, 4242),
            vec![3, 1, 0, 0], // DP_RESULT
            nla(8, 3),        // ERR_CODE: u32
            errno.to_ne_bytes().to_vec(),
        ]
        .concat();
        golden_reply(&Reply::error(errno), 7, 4242, &golden);
    }
    assert_eq!(Reply::error(0), Reply::ok());
}

#[test]
fn reply_fdb_data() {
    let entries = vec![
        FdbEntry {
            mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56],
            port: 3,
            is_local: false,
            ageing_ticks: 1500,
        },
        FdbEntry {
            mac: [0x02, 0, 0, 0, 0, 1],
            port: 0x0102,
            is_local: true,
            ageing_ticks: 0,
        },
    ];
    let golden = [
        nlmsghdr(64, FAMILY, 0, 10, 99),
        vec![3, 1, 0, 0], // DP_RESULT
        nla(8, 3),        // ERR_CODE
        0u32.to_ne_bytes().to_vec(),
        nla(36, 7), // FDB_DATA: 4 + 2 * 16
        // struct __fdb_entry #1
        vec![0x52, 0x54, 0x00, 0x12, 0x34, 0x56], // mac_addr
        vec![3],                                  // port_no
        vec![0],                                  // is_local
        1500u32.to_ne_bytes().to_vec(),           // ageing_timer_value (15 s)
        vec![0],                                  // port_hi
        vec![0],                                  // pad0
        vec![0, 0],                               // unused
        // struct __fdb_entry #2
        vec![0x02, 0, 0, 0, 0, 1], // mac_addr
        vec![0x02],                // port_no: port 0x0102 & 0xff
        vec![1],                   // is_local
        0u32.to_ne_bytes().to_vec(),
        vec![0x01], // port_hi: port 0x0102 >> 8
        vec![0],    // pad0
        vec![0, 0], // unused
    ]
    .concat();
    golden_reply(&Reply::fdb(entries), 10, 99, &golden);
}

#[test]
fn reply_empty_fdb_is_not_no_data() {
    let golden = [
        nlmsghdr(32, FAMILY, 0, 10, 0),
        vec![3, 1, 0, 0],
        nla(8, 3), // ERR_CODE
        0u32.to_ne_bytes().to_vec(),
        nla(4, 7), // FDB_DATA with no records: the end of the table
    ]
    .concat();
    golden_reply(&Reply::fdb(vec![]), 10, 0, &golden);
    assert_ne!(Reply::fdb(vec![]), Reply::ok());
}

#[test]
fn reply_ifindexes() {
    let golden = [
        nlmsghdr(44, FAMILY, 0, 11, 1),
        vec![3, 1, 0, 0], // DP_RESULT
        nla(8, 3),        // ERR_CODE
        0u32.to_ne_bytes().to_vec(),
        nla(16, 8), // IFINDEXES: 4 + 3 * 4
        1i32.to_ne_bytes().to_vec(),
        7i32.to_ne_bytes().to_vec(),
        4000i32.to_ne_bytes().to_vec(),
    ]
    .concat();
    golden_reply(&Reply::ifindexes(vec![1, 7, 4000]), 11, 1, &golden);
}

#[test]
fn reply_mc_group() {
    let golden = [
        nlmsghdr(36, FAMILY, 0, 1, 0),
        vec![3, 1, 0, 0],
        nla(8, 3), // ERR_CODE
        0u32.to_ne_bytes().to_vec(),
        nla(8, 4), // MC_GROUP: u32
        33u32.to_ne_bytes().to_vec(),
    ]
    .concat();
    golden_reply(&Reply::mc_group(33), 1, 0, &golden);
}

// ---- Extension: GET_PORT_STATS.

#[test]
fn get_port_stats_request() {
    let golden = [
        nlmsghdr(28, FAMILY, NLM_F_REQUEST, 13, 0),
        vec![10, 1, 0, 0], // GET_PORT_STATS
        nla(8, 1),         // DP_NAME
        b"br0\0".to_vec(),
    ]
    .concat();
    golden_request(
        &Request::GetPortStats {
            bridge: "br0".into(),
        },
        13,
        &golden,
    );
}

#[test]
fn reply_port_stats() {
    let record = |name: &[u8], port: u16, c: [u64; 6]| {
        let mut r = name.to_vec();
        r.resize(16, 0); // name, NUL-padded
        r.extend_from_slice(&port.to_ne_bytes());
        r.extend_from_slice(&[0; 6]);
        for v in c {
            r.extend_from_slice(&v.to_ne_bytes());
        }
        r
    };
    let golden = [
        nlmsghdr(32 + 2 * 72, FAMILY, 0, 14, 2),
        vec![3, 1, 0, 0], // DP_RESULT
        nla(8, 3),        // ERR_CODE
        0u32.to_ne_bytes().to_vec(),
        nla(4 + 2 * 72, 9), // PORT_STATS: two 72-byte records
        record(b"br0", 0, [6, 13, 0, 6, 0, 0]),
        record(b"veth1", 1, [13, 18, 6, 7, 1, u64::MAX]),
    ]
    .concat();
    let stats = vec![
        PortStats {
            name: "br0".into(),
            port: 0,
            rx_packets: 6,
            tx_packets: 13,
            forwarded: 0,
            flooded: 6,
            dropped: 0,
            tx_dropped: 0,
        },
        PortStats {
            name: "veth1".into(),
            port: 1,
            rx_packets: 13,
            tx_packets: 18,
            forwarded: 6,
            flooded: 7,
            dropped: 1,
            tx_dropped: u64::MAX,
        },
    ];
    golden_reply(&Reply::port_stats(stats), 14, 2, &golden);
    // An empty list is data, not no data.
    let empty = [
        nlmsghdr(32, FAMILY, 0, 1, 0),
        vec![3, 1, 0, 0],
        nla(8, 3),
        0u32.to_ne_bytes().to_vec(),
        nla(4, 9),
    ]
    .concat();
    golden_reply(&Reply::port_stats(vec![]), 1, 0, &empty);
    // A partial record, a name without NUL: errors.
    let mut bad = golden.clone();
    bad[32 + 15] = b'x';
    bad[32..32 + 16].fill(b'x');
    assert!(matches!(
        Reply::parse(&bad, FAMILY),
        Err(ProtoError::BadRecord { attr: 9, .. })
    ));
    // A name too long to encode is refused, not truncated.
    let long = Reply::port_stats(vec![PortStats {
        name: "sixteen-bytes-xx".into(),
        ..PortStats::default()
    }]);
    assert!(long
        .encode(&mut MsgBuilder::default(), FAMILY, 1, 0)
        .is_err());
}

// ---- Malformed requests and replies.

fn request_err(bytes: &[u8]) -> ProtoError {
    Request::parse(bytes, FAMILY).unwrap_err()
}

/// Rewrites `nlmsg_len` to the buffer's length after an edit.
fn fix_len(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = u32::try_from(bytes.len()).unwrap();
    bytes[..4].copy_from_slice(&len.to_ne_bytes());
    bytes
}

#[test]
fn every_truncation_is_an_error() {
    let golden = dp_add_br0();
    for cut in 0..golden.len() {
        let short = &golden[..cut];
        assert!(Request::parse(short, FAMILY).is_err(), "cut at {cut}");
        assert!(Reply::parse(short, FAMILY).is_err(), "cut at {cut}");
        // And with the length fixed up to match, so the damage is inside.
        if cut >= 16 {
            let fixed = fix_len(short.to_vec());
            assert!(Request::parse(&fixed, FAMILY).is_err(), "fixed cut {cut}");
        }
    }
}

#[test]
fn truncated_headers_name_their_part() {
    let golden = dp_add_br0();
    assert!(matches!(
        request_err(&golden[..10]),
        ProtoError::Netlink(Error::Truncated {
            part: Part::Message,
            ..
        })
    ));
    let only_nlmsghdr = fix_len(golden[..18].to_vec());
    assert!(matches!(
        request_err(&only_nlmsghdr),
        ProtoError::Netlink(Error::Truncated {
            part: Part::GenlHeader,
            ..
        })
    ));
    assert!(matches!(
        request_err(&[]),
        ProtoError::Netlink(Error::Truncated { .. })
    ));
}

#[test]
fn missing_nul_and_bad_utf8() {
    let mut no_nul = dp_add_br0();
    no_nul[27] = b'x'; // "br0x": no terminator
    assert!(matches!(
        request_err(&no_nul),
        ProtoError::Netlink(Error::BadString {
            attr: 1,
            problem: StringProblem::MissingNul,
            ..
        })
    ));
    let mut inner_nul = dp_add_br0();
    inner_nul[25] = 0; // "b\00\0"
    assert!(matches!(
        request_err(&inner_nul),
        ProtoError::Netlink(Error::BadString {
            problem: StringProblem::InteriorNul(1),
            ..
        })
    ));
    let mut latin1 = dp_add_br0();
    latin1[25] = 0xe9; // "b\xe90": not UTF-8
    let err = request_err(&latin1);
    assert!(matches!(
        err,
        ProtoError::Netlink(Error::BadString {
            problem: StringProblem::NotUtf8,
            ..
        })
    ));
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    // An empty payload has no terminator at all: shorter than a string.
    let empty = fix_len(
        [
            nlmsghdr(0, FAMILY, NLM_F_REQUEST, 1, 0),
            vec![1, 1, 0, 0],
            nla(4, 1),
        ]
        .concat(),
    );
    assert!(matches!(
        request_err(&empty),
        ProtoError::Netlink(Error::AttrSize {
            attr: 1,
            len: 0,
            min: 1,
            ..
        })
    ));
}

#[test]
fn wrong_attribute_sizes() {
    // FDB_COUNT as a u32 instead of a u64.
    let bytes = fix_len(
        [
            nlmsghdr(0, FAMILY, NLM_F_REQUEST, 1, 0),
            vec![7, 1, 0, 0],
            nla(8, 1),
            b"br0\0".to_vec(),
            nla(8, 5),
            5u32.to_ne_bytes().to_vec(),
            nla(12, 6),
            0u64.to_ne_bytes().to_vec(),
        ]
        .concat(),
    );
    assert!(matches!(
        request_err(&bytes),
        ProtoError::Netlink(Error::AttrSize {
            attr: 5,
            len: 4,
            min: 8,
            max: 8,
            ..
        })
    ));
    // ERR_CODE as a u16.
    let bytes = fix_len(
        [
            nlmsghdr(0, FAMILY, 0, 1, 0),
            vec![3, 1, 0, 0],
            nla(6, 3),
            vec![0, 0, 0, 0],
        ]
        .concat(),
    );
    assert!(matches!(
        Reply::parse(&bytes, FAMILY),
        Err(ProtoError::Netlink(Error::AttrSize { attr: 3, .. }))
    ));
    // An attribute length running past the message.
    let mut bytes = dp_add_br0();
    bytes[20..22].copy_from_slice(&200u16.to_ne_bytes());
    assert!(matches!(
        request_err(&bytes),
        ProtoError::Netlink(Error::LengthPastEnd { .. })
    ));
    // One shorter than its own header.
    bytes[20..22].copy_from_slice(&2u16.to_ne_bytes());
    assert!(matches!(
        request_err(&bytes),
        ProtoError::Netlink(Error::LengthTooSmall { .. })
    ));
}

#[test]
fn missing_required_attributes() {
    let header = |cmd: u8| {
        [
            nlmsghdr(20, FAMILY, NLM_F_REQUEST, 3, 0),
            vec![cmd, 1, 0, 0],
        ]
    };
    for cmd in [1u8, 2, 4, 5, 7, 9] {
        let bytes = header(cmd).concat();
        assert!(
            matches!(
                request_err(&bytes),
                ProtoError::Netlink(Error::MissingAttr { attr: 1, .. })
            ),
            "command {cmd}"
        );
    }
    // PORT_ADD with DP_NAME only.
    let bytes = fix_len(
        [&header(4)[..], &[nla(8, 1), b"br0\0".to_vec()]]
            .concat()
            .concat(),
    );
    let err = request_err(&bytes);
    assert!(
        matches!(err, ProtoError::Netlink(Error::MissingAttr { attr: 2, .. })),
        "{err}"
    );
    assert!(err.to_string().contains("BRC_GENL_A_PORT_NAME"), "{err}");
    // FDB_QUERY without FDB_SKIP.
    let bytes = fix_len(
        [
            &header(7)[..],
            &[
                nla(8, 1),
                b"br0\0".to_vec(),
                nla(12, 5),
                1u64.to_ne_bytes().to_vec(),
            ],
        ]
        .concat()
        .concat(),
    );
    assert!(matches!(
        request_err(&bytes),
        ProtoError::Netlink(Error::MissingAttr { attr: 6, .. })
    ));
    // A reply without ERR_CODE.
    let bytes = [nlmsghdr(20, FAMILY, 0, 3, 0), vec![3, 1, 0, 0]].concat();
    assert!(matches!(
        Reply::parse(&bytes, FAMILY),
        Err(ProtoError::Netlink(Error::MissingAttr { attr: 3, .. }))
    ));
}

#[test]
fn unknown_and_misdirected_commands() {
    for cmd in [0u8, 11, 255] {
        let bytes = [
            nlmsghdr(20, FAMILY, NLM_F_REQUEST, 3, 0),
            vec![cmd, 1, 0, 0],
        ]
        .concat();
        assert_eq!(request_err(&bytes), ProtoError::UnknownCommand(cmd));
        assert_eq!(
            Reply::parse(&bytes, FAMILY),
            Err(ProtoError::UnknownCommand(cmd))
        );
    }
    // A reply is no request, and a request no reply.
    let reply = encode_reply(&Reply::ok(), 1, 0);
    assert_eq!(
        request_err(&reply),
        ProtoError::UnexpectedCommand {
            cmd: 3,
            expected: "request"
        }
    );
    assert_eq!(
        Reply::parse(&dp_add_br0(), FAMILY),
        Err(ProtoError::UnexpectedCommand {
            cmd: 1,
            expected: "reply"
        })
    );
    // An NLMSG_ERROR is not of the family.
    let mut error = dp_add_br0();
    error[4..6].copy_from_slice(&2u16.to_ne_bytes());
    assert!(matches!(
        request_err(&error),
        ProtoError::WrongFamily { found: 2, .. }
    ));
}

#[test]
fn fdb_data_must_be_whole_records() {
    for len in [1usize, 15, 17, 31] {
        let bytes = fix_len(
            [
                nlmsghdr(0, FAMILY, 0, 1, 0),
                vec![3, 1, 0, 0],
                nla(8, 3),
                0u32.to_ne_bytes().to_vec(),
                nla(u16::try_from(4 + len).unwrap(), 7),
                vec![0; netdev_netlink::align(len)],
            ]
            .concat(),
        );
        assert_eq!(
            Reply::parse(&bytes, FAMILY),
            Err(ProtoError::PartialRecord {
                attr: 7,
                offset: 28,
                len,
                record: 16
            }),
            "{len} bytes"
        );
    }
    // IFINDEXES likewise, in 4-byte ints.
    let bytes = fix_len(
        [
            nlmsghdr(0, FAMILY, 0, 1, 0),
            vec![3, 1, 0, 0],
            nla(8, 3),
            0u32.to_ne_bytes().to_vec(),
            nla(10, 8),
            vec![1, 0, 0, 0, 2, 0, 0, 0],
        ]
        .concat(),
    );
    assert!(matches!(
        Reply::parse(&bytes, FAMILY),
        Err(ProtoError::PartialRecord {
            attr: 8,
            len: 6,
            record: 4,
            ..
        })
    ));
}

#[test]
fn reply_errno_must_be_a_positive_errno() {
    let bytes = [
        nlmsghdr(28, FAMILY, 0, 1, 0),
        vec![3, 1, 0, 0],
        nla(8, 3),
        (-22i32).to_ne_bytes().to_vec(), // a negated errno, sent by mistake
    ]
    .concat();
    let err = Reply::parse(&bytes, FAMILY).unwrap_err();
    assert!(err.to_string().contains("not a positive errno"), "{err}");
    assert!(Reply::error(4096)
        .encode(&mut MsgBuilder::default(), FAMILY, 1, 0)
        .is_err());
    assert!(Reply::error(4095)
        .encode(&mut MsgBuilder::default(), FAMILY, 1, 0)
        .is_ok());
}

#[test]
fn reply_with_two_kinds_of_data_is_refused() {
    let bytes = [
        nlmsghdr(48, FAMILY, 0, 1, 0),
        vec![3, 1, 0, 0],
        nla(8, 3),
        0u32.to_ne_bytes().to_vec(),
        nla(8, 8), // IFINDEXES
        1i32.to_ne_bytes().to_vec(),
        nla(4, 7), // FDB_DATA
        nla(8, 4), // MC_GROUP
        1u32.to_ne_bytes().to_vec(),
    ]
    .concat();
    assert_eq!(
        Reply::parse(&bytes, FAMILY),
        Err(ProtoError::ConflictingData {
            first: 7,
            second: 8
        })
    );
}

#[test]
fn oversized_messages_are_refused() {
    // A name attribute of 65 000 bytes.
    let name = vec![b'a'; 65_000];
    let mut big = [
        nlmsghdr(0, FAMILY, NLM_F_REQUEST, 1, 0),
        vec![1, 1, 0, 0],
        nla(65_005, 1),
        name.clone(),
        vec![0, 0, 0, 0],
    ]
    .concat();
    big.truncate(20 + netdev_netlink::align(65_005));
    // Then an unknown attribute of 1000 bytes takes it over the limit.
    big.extend([nla(1004, 100), vec![0; 1000]].concat());
    let big = fix_len(big);
    assert!(big.len() > MAX_MESSAGE_LEN);
    assert_eq!(
        request_err(&big),
        ProtoError::TooLarge {
            len: big.len(),
            max: MAX_MESSAGE_LEN
        }
    );
    // Refused on decode too, given a Msg from a larger receive buffer.
    let msg = Msg::parse(&big).unwrap();
    assert!(matches!(
        Request::decode(&msg, FAMILY),
        Err(ProtoError::TooLarge { .. })
    ));
    // And the encoders refuse to build one.
    let r = Request::AddBridge {
        name: String::from_utf8(name.clone()).unwrap(),
    };
    let mut b = MsgBuilder::default();
    assert!(
        r.encode(&mut b, FAMILY, 1).is_ok(),
        "65 000 bytes still fit"
    );
    let r = Request::AddPort {
        bridge: String::from_utf8(name.clone()).unwrap(),
        port: String::from_utf8(name).unwrap(),
    };
    assert!(matches!(
        r.encode(&mut b, FAMILY, 1),
        Err(ProtoError::TooLarge { .. })
    ));
    let fdb = Reply::fdb(vec![FdbEntry::default(); MAX_FDB_ENTRIES + 1]);
    assert!(matches!(
        fdb.encode(&mut b, FAMILY, 1, 0),
        Err(ProtoError::TooLarge { .. })
    ));
    let fdb = Reply::fdb(vec![FdbEntry::default(); MAX_FDB_ENTRIES]);
    let bytes = fdb.encode(&mut b, FAMILY, 1, 0).unwrap().to_vec();
    assert!(bytes.len() <= MAX_MESSAGE_LEN);
    assert_eq!(Reply::parse(&bytes, FAMILY), Ok((1, fdb)));
    let list = Reply::ifindexes(vec![1; MAX_IFINDEXES]);
    let bytes = list.encode(&mut b, FAMILY, 1, 0).unwrap().to_vec();
    assert_eq!(Reply::parse(&bytes, FAMILY), Ok((1, list)));
    assert!(Reply::ifindexes(vec![1; MAX_IFINDEXES + 1])
        .encode(&mut b, FAMILY, 1, 0)
        .is_err());
}

#[test]
fn too_many_attributes_are_refused() {
    let mut parts = vec![nlmsghdr(0, FAMILY, NLM_F_REQUEST, 1, 0), vec![8, 1, 0, 0]];
    // Unknown attributes (type 100), which alone would be skipped.
    for _ in 0..=MAX_ATTRS {
        parts.push(nla(4, 100));
    }
    let bytes = fix_len(parts.concat());
    assert_eq!(
        request_err(&bytes),
        ProtoError::TooManyAttrs { max: MAX_ATTRS }
    );
    // At the limit it is fine, and the unknown ones are ignored.
    let bytes = fix_len(bytes[..bytes.len() - 4].to_vec());
    assert_eq!(Request::parse(&bytes, FAMILY), Ok((1, Request::GetBridges)));
}

#[test]
fn a_datagram_holds_one_message() {
    let mut two = dp_add_br0();
    two.extend(dp_add_br0());
    assert_eq!(
        request_err(&two),
        ProtoError::TrailingBytes {
            offset: 28,
            len: 28
        }
    );
    let mut junk = dp_add_br0();
    junk.push(0);
    assert!(matches!(
        request_err(&junk),
        ProtoError::TrailingBytes { len: 1, .. }
    ));
    // nlmsg_len shorter than the datagram is trailing bytes too.
    let mut short_len = dp_add_br0();
    short_len[..4].copy_from_slice(&20u32.to_ne_bytes());
    assert!(matches!(
        request_err(&short_len),
        ProtoError::TrailingBytes { offset: 20, .. }
    ));
}

#[test]
fn unknown_attributes_and_unused_ones_are_ignored() {
    // DP_ADD carrying PORT_NAME, FDB_COUNT and an unknown attribute 42.
    let bytes = fix_len(
        [
            nlmsghdr(0, FAMILY, NLM_F_REQUEST, 4, 0),
            vec![1, 1, 0, 0],
            nla(8, 1),
            b"br0\0".to_vec(),
            nla(9, 2),
            b"eth0\0".to_vec(),
            vec![0; 3],
            nla(12, 5),
            1u64.to_ne_bytes().to_vec(),
            nla(5, 42),
            vec![9, 0, 0, 0],
        ]
        .concat(),
    );
    assert_eq!(
        Request::parse(&bytes, FAMILY),
        Ok((4, Request::AddBridge { name: "br0".into() }))
    );
}

#[test]
fn errors_carry_einval_and_read_well() {
    let err = request_err(&[1, 2, 3]);
    assert_eq!(err.errno(), 22);
    let io: std::io::Error = err.clone().into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(
        err.to_string(),
        "malformed message: message at offset 0: needs 16 bytes, only 3 available"
    );
    assert_eq!(
        ProtoError::UnknownCommand(12).to_string(),
        "unknown brcompat command 12"
    );
}

#[test]
fn reply_data_default_is_none() {
    assert_eq!(ReplyData::default(), ReplyData::None);
    assert!(Reply::ok().is_ok());
    assert!(!Reply::error(22).is_ok());
}

/// The fuzz seeds (written little-endian) are valid messages of the kind
/// their names say, so the fuzzer starts from inside the protocol.
#[test]
#[cfg(target_endian = "little")]
fn fuzz_seeds_decode() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/brcompat_proto");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".req") {
            assert!(Request::parse(&bytes, FAMILY).is_ok(), "{name}");
        } else {
            assert!(Reply::parse(&bytes, FAMILY).is_ok(), "{name}");
        }
        seen += 1;
    }
    assert_eq!(seen, 14);
}
