//! Fuzzes the sans-IO Netlink parsers: the message iterator, the reserved
//! message payloads, attribute iteration and getters, the policy parser
//! (nested, nested-array and self-referential policies), the formatter and
//! the request/reply matcher.
//! Any panic is a bug: malformed input must come back as an error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netdev_netlink::{
    genl, policy_table, validate, Attr, AttrIter, Matcher, MsgBuilder, MsgDisplay, MsgIter,
    MsgKind, Policy, Protocol,
};

static INNER: [Policy; 4] = policy_table(&[
    (1, Policy::u32("ID")),
    (2, Policy::string("NAME").max_len(16).optional()),
    (3, Policy::nested("SELF", &INNER).optional()),
]);

static TOP: [Policy; 11] = policy_table(&[
    (1, Policy::u8("U8").optional()),
    (2, Policy::u16("U16").optional()),
    (3, Policy::u32("U32").optional()),
    (4, Policy::u64("U64").optional()),
    (5, Policy::string("STR").optional()),
    (6, Policy::flag("FLAG")),
    (7, Policy::unspec("BYTES").min_len(1).max_len(8).optional()),
    (8, Policy::nested("NEST", &INNER).optional()),
    (9, Policy::nested_array("ARRAY", &INNER).optional()),
]);

fn poke_attrs(attrs: AttrIter<'_>, depth: usize) {
    for attr in attrs {
        let Ok(a) = attr else { break };
        let _ = (
            a.get_u8(),
            a.get_u16(),
            a.get_u32(),
            a.get_u64(),
            a.get_i32(),
        );
        let _ = (a.get_str(), a.get_cstr(), a.get_flag());
        if depth < 8 {
            poke_attrs(a.nested(), depth + 1);
        }
    }
}

fn poke_policy(attrs: AttrIter<'_>) {
    let _ = validate(attrs.clone(), &INNER);
    let Ok(parsed) = attrs.parse(&TOP) else {
        return;
    };
    for idx in 0..12 {
        let _ = (
            parsed.u8(idx),
            parsed.u16(idx),
            parsed.u32(idx),
            parsed.u64(idx),
        );
        let _ = (
            parsed.str(idx),
            parsed.bytes(idx),
            parsed.opt(idx, Attr::get_i32),
        );
        if let Ok(inner) = parsed.nested(idx, &INNER) {
            let _ = (
                inner.u32(1),
                inner.str(2),
                inner.nested(3, &INNER).map(|n| n.u32(1)),
            );
        }
        if let Ok(array) = parsed.nested_array(idx, &INNER) {
            for element in array {
                let _ = element.map(|e| e.str(2));
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // The whole input as a receive buffer.
    for msg in MsgIter::new(data) {
        let Ok(msg) = msg else { break };
        let _ = msg.check();
        match msg.kind() {
            Ok(MsgKind::Error(e)) => {
                let _ = (e.message(), e.bad_attr_offset(), e.to_error());
                poke_attrs(e.ext_ack(), 0);
            }
            Ok(MsgKind::Done(d)) => poke_attrs(d.ext_ack(), 0),
            _ => {}
        }
        if let Ok(family) = genl::Family::parse(&msg) {
            let _ = (family.id(), family.name(), family.mcast_group("notify"));
            for op in family.ops() {
                let _ = op;
            }
        }
        for fixed in [0, 1, 4, 16] {
            if let Ok(attrs) = msg.attrs(fixed) {
                poke_attrs(attrs.clone(), 0);
                poke_policy(attrs);
            }
        }
    }
    // The whole input as an attribute list, for the policy parser to get
    // inputs that need no valid message header in front.
    poke_attrs(AttrIter::new(data), 0);
    poke_policy(AttrIter::new(data));
    for protocol in [None, Some(Protocol::Route), Some(Protocol::Generic)] {
        let _ = MsgDisplay::new(data, protocol).to_string();
    }
    // The whole input as a datagram answering a few outstanding requests
    // (plain, acked, dump), with and without port checks.
    for port in [None, Some(0)] {
        let mut matcher = Matcher::new(port);
        for flags in [0x01, 0x05, 0x301] {
            matcher.start(&mut MsgBuilder::new(16, flags));
        }
        let _ = matcher.feed(data, |msg, d| {
            let _ = (msg.seq(), d);
        });
    }
});
