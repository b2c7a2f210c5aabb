//! Property tests for the sans-IO Netlink library: no input makes the
//! parsers or the formatter panic, errors end iteration, and attribute lists
//! survive a build → parse round trip (through the policy parser too).

use netdev_netlink::{
    policy_table, validate, Attr, AttrIter, AttrKind, Disposition, Error, Matcher, Msg, MsgBuilder,
    MsgDisplay, MsgIter, MsgKind, Policy, Protocol, GENL_HDRLEN,
};
use proptest::prelude::*;

// ---- Policies exercised against arbitrary input.

static INNER: [Policy; 4] = policy_table(&[
    (1, Policy::u32("ID")),
    (2, Policy::string("NAME").max_len(16).optional()),
    (3, Policy::nested("SELF", &INNER).optional()),
]);

static TOP: [Policy; 12] = policy_table(&[
    (1, Policy::u8("U8").optional()),
    (2, Policy::u16("U16").optional()),
    (3, Policy::u32("U32").optional()),
    (4, Policy::u64("U64").optional()),
    (5, Policy::string("STR").optional()),
    (6, Policy::flag("FLAG")),
    (7, Policy::unspec("BYTES").min_len(1).max_len(8).optional()),
    (8, Policy::nested("NEST", &INNER).optional()),
    (9, Policy::nested_array("ARRAY", &INNER).optional()),
    (10, Policy::u32("REQUIRED")),
]);

/// Calls every accessor of a parse result; none may panic.
fn poke_parsed(bytes: &[u8]) {
    let Ok(parsed) = AttrIter::new(bytes).parse(&TOP) else {
        return;
    };
    for idx in 0..14 {
        let _ = parsed.get(idx);
        let _ = parsed.u8(idx);
        let _ = parsed.u16(idx);
        let _ = parsed.u32(idx);
        let _ = parsed.u64(idx);
        let _ = parsed.i32(idx);
        let _ = parsed.str(idx);
        let _ = parsed.cstr(idx);
        let _ = parsed.bytes(idx);
        let _ = parsed.flag(idx);
        let _ = parsed.opt(idx, Attr::get_u32);
        if let Ok(inner) = parsed.nested(idx, &INNER) {
            let _ = inner.str(2);
            let _ = inner.nested(3, &INNER);
        }
        if let Ok(array) = parsed.nested_array(idx, &INNER) {
            for element in array {
                let _ = element.map(|e| e.u32(1));
            }
        }
    }
    // Whatever passed the policy has the promised shape.
    assert!(parsed.u32(10).is_ok());
    if let Some(s) = parsed.get(5) {
        assert!(s.get_cstr().is_ok());
    }
}

/// Calls every getter on every attribute, descending into nests.
fn poke_attrs(attrs: AttrIter<'_>, depth: usize) {
    let mut failed = false;
    for attr in attrs {
        assert!(!failed, "iteration continued after an error");
        match attr {
            Ok(a) => {
                assert_eq!(a.offset() % 4, 0);
                let _ = (
                    a.get_u8(),
                    a.get_u16(),
                    a.get_u32(),
                    a.get_u64(),
                    a.get_i32(),
                );
                let _ = (a.get_str(), a.get_cstr(), a.get_flag(), a.get_bytes());
                if depth < 4 {
                    poke_attrs(a.nested(), depth + 1);
                }
            }
            Err(e) => {
                failed = true;
                assert!(e.offset().is_some());
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

fn poke_msg(msg: &Msg<'_>) {
    let _ = msg.check();
    if let Ok(kind) = msg.kind() {
        match kind {
            MsgKind::Error(e) => {
                let _ = (e.message(), e.bad_attr_offset(), e.to_error());
                poke_attrs(e.ext_ack(), 0);
            }
            MsgKind::Done(d) => {
                let _ = d.to_error();
                poke_attrs(d.ext_ack(), 0);
            }
            _ => {}
        }
    }
    let _ = msg.genl_header();
    for fixed in [0, 1, GENL_HDRLEN, 16, 100] {
        let _ = msg.fixed_header(fixed);
        if let Ok(attrs) = msg.attrs(fixed) {
            poke_attrs(attrs.clone(), 0);
            let _ = validate(attrs.clone(), &TOP);
            poke_parsed(attrs.remaining());
        }
    }
    for protocol in [None, Some(Protocol::Route), Some(Protocol::Generic)] {
        let _ = msg.display(protocol).to_string();
    }
}

/// A message header with a plausible length in front of arbitrary bytes,
/// so that the payload parsers get exercised, not only the header check.
fn framed(msg_type: u16, flags: u16, body: &[u8]) -> Vec<u8> {
    let mut b = MsgBuilder::new(msg_type, flags);
    b.put_fixed(body);
    let mut bytes = b.finish().unwrap().to_vec();
    bytes.truncate(16 + body.len());
    let len = u32::try_from(bytes.len()).unwrap();
    bytes[0..4].copy_from_slice(&len.to_ne_bytes());
    bytes
}

proptest! {
    #[test]
    fn message_iterator_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut failed = false;
        for msg in MsgIter::new(&bytes) {
            prop_assert!(!failed, "iteration continued after an error");
            match msg {
                Ok(m) => {
                    prop_assert!(m.offset() + m.bytes().len() <= bytes.len());
                    prop_assert_eq!(m.offset() % 4, 0);
                    poke_msg(&m);
                }
                Err(e) => {
                    failed = true;
                    prop_assert!(e.offset().is_some_and(|o| o < bytes.len()));
                }
            }
        }
        for protocol in [None, Some(Protocol::Route), Some(Protocol::Generic)] {
            let _ = MsgDisplay::new(&bytes, protocol).to_string();
        }
    }

    #[test]
    fn framed_payloads_never_panic(
        msg_type in prop_oneof![Just(2u16), Just(3u16), Just(16u16), any::<u16>()],
        flags in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let bytes = framed(msg_type, flags, &body);
        let msg = Msg::parse(&bytes).unwrap();
        poke_msg(&msg);
    }

    #[test]
    fn attribute_iterator_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        base in 0usize..64,
    ) {
        poke_attrs(AttrIter::with_base(&bytes, base), 0);
        if base % 4 != 0 && !bytes.is_empty() {
            let first = AttrIter::with_base(&bytes, base).next();
            let misaligned = matches!(first, Some(Err(Error::Misaligned { .. })));
            prop_assert!(misaligned);
        }
    }

    #[test]
    fn policy_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        poke_parsed(&bytes);
        let _ = validate(AttrIter::new(&bytes), &TOP);
        let _ = validate(AttrIter::new(&bytes), &INNER);
    }

    #[test]
    fn corrupted_valid_lists_never_panic(
        list in attr_list(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut b = MsgBuilder::new(16, 0);
        put_all(&mut b, &list);
        let mut bytes = b.finish().unwrap().to_vec();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        for msg in MsgIter::new(&bytes).flatten() {
            poke_msg(&msg);
        }
        poke_parsed(bytes.get(16..).unwrap_or_default());
    }

    #[test]
    fn attribute_lists_round_trip(list in attr_list()) {
        let mut b = MsgBuilder::new(16, 0);
        put_all(&mut b, &list);
        let bytes = b.finish().unwrap().to_vec();
        prop_assert_eq!(bytes.len() % 4, 0);
        let msg = Msg::parse(&bytes).unwrap();
        prop_assert_eq!(msg.bytes().len(), bytes.len());
        check_all(msg.attrs(0).unwrap(), &list)?;
    }

    #[test]
    fn policy_round_trip(
        list in proptest::collection::vec((1u16..12, flat_value()), 0..12),
        required_absent in proptest::option::of(12u16..16),
    ) {
        // One value per type (first occurrence kept), and a policy whose
        // entry for each type matches that value's kind.
        let mut seen = [false; 16];
        let list: Vec<_> = list
            .into_iter()
            .filter(|(ty, _)| !std::mem::replace(&mut seen[usize::from(*ty)], true))
            .collect();
        let mut table = [Policy::UNUSED; 16];
        for (ty, value) in &list {
            table[usize::from(*ty)] = value.policy();
        }
        if let Some(ty) = required_absent {
            table[usize::from(ty)] = Policy::u32("ABSENT");
        }
        let table: &'static [Policy; 16] = Box::leak(Box::new(table));

        let mut b = MsgBuilder::new(16, 0);
        put_all(&mut b, &list);
        let bytes = b.finish().unwrap().to_vec();
        let attrs = Msg::parse(&bytes).unwrap().attrs(0).unwrap();
        match (attrs.parse(table), required_absent) {
            (Err(Error::MissingAttr { attr, name, offset }), Some(ty)) => {
                prop_assert_eq!(attr, ty);
                prop_assert_eq!(name, "ABSENT");
                prop_assert_eq!(offset, 16);
            }
            (Ok(parsed), None) => {
                prop_assert_eq!(parsed.iter().count(), list.len());
                for (ty, value) in &list {
                    check_one(&parsed.get(*ty).unwrap(), value)?;
                }
            }
            (other, absent) => {
                prop_assert!(false, "got {:?}, absent {:?}", other.map(|_| ()), absent);
            }
        }
    }

    #[test]
    fn duplicates_last_one_wins(list in proptest::collection::vec((1u16..8, any::<u32>()), 0..20)) {
        static ALL_U32: [Policy; 8] = policy_table(&[
            (1, Policy::u32("A1").optional()),
            (2, Policy::u32("A2").optional()),
            (3, Policy::u32("A3").optional()),
            (4, Policy::u32("A4").optional()),
            (5, Policy::u32("A5").optional()),
            (6, Policy::u32("A6").optional()),
            (7, Policy::u32("A7").optional()),
        ]);
        let mut b = MsgBuilder::new(16, 0);
        let mut last = [None; 8];
        for &(ty, v) in &list {
            b.put_u32(ty, v);
            last[usize::from(ty)] = Some(v);
        }
        let bytes = b.finish().unwrap().to_vec();
        let parsed = Msg::parse(&bytes).unwrap().attrs(0).unwrap().parse(&ALL_U32).unwrap();
        for ty in 1..8u16 {
            prop_assert_eq!(parsed.opt(ty, Attr::get_u32).unwrap(), last[usize::from(ty)]);
        }
    }
}

// ---- Random attribute trees.

#[derive(Clone, Debug)]
enum Value {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Str(String),
    Flag,
    Bytes(Vec<u8>),
    Nested(Vec<(u16, Value)>),
}

impl Value {
    fn policy(&self) -> Policy {
        let kind = match self {
            Value::U8(_) => AttrKind::U8,
            Value::U16(_) => AttrKind::U16,
            Value::U32(_) => AttrKind::U32,
            Value::U64(_) => AttrKind::U64,
            Value::Str(_) => AttrKind::String,
            Value::Flag => AttrKind::Flag,
            Value::Bytes(_) => AttrKind::Unspec,
            Value::Nested(_) => AttrKind::Nested(&[]),
        };
        Policy::new(kind, "GENERATED").optional()
    }
}

fn flat_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<u16>().prop_map(Value::U16),
        any::<u32>().prop_map(Value::U32),
        any::<u64>().prop_map(Value::U64),
        "[^\u{0}]{0,20}".prop_map(Value::Str),
        Just(Value::Flag),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
    ]
}

fn attr_list() -> impl Strategy<Value = Vec<(u16, Value)>> {
    let value = flat_value().prop_recursive(3, 24, 6, |inner| {
        proptest::collection::vec((0u16..0x3fff, inner), 0..6).prop_map(Value::Nested)
    });
    proptest::collection::vec((0u16..0x3fff, value), 0..10)
}

fn put_all(b: &mut MsgBuilder, list: &[(u16, Value)]) {
    for (ty, value) in list {
        let ty = *ty;
        match value {
            Value::U8(v) => b.put_u8(ty, *v),
            Value::U16(v) => b.put_u16(ty, *v),
            Value::U32(v) => b.put_u32(ty, *v),
            Value::U64(v) => b.put_u64(ty, *v),
            Value::Str(s) => b.put_str(ty, s),
            Value::Flag => b.put_flag(ty),
            Value::Bytes(v) => b.put_bytes(ty, v),
            Value::Nested(inner) => b.nested(ty, |b| put_all(b, inner)),
        };
    }
}

fn check_one(attr: &Attr<'_>, value: &Value) -> Result<(), TestCaseError> {
    match value {
        Value::U8(v) => prop_assert_eq!(attr.get_u8(), Ok(*v)),
        Value::U16(v) => prop_assert_eq!(attr.get_u16(), Ok(*v)),
        Value::U32(v) => prop_assert_eq!(attr.get_u32(), Ok(*v)),
        Value::U64(v) => prop_assert_eq!(attr.get_u64(), Ok(*v)),
        Value::Str(s) => prop_assert_eq!(attr.get_str(), Ok(s.as_str())),
        Value::Flag => prop_assert_eq!(attr.get_flag(), Ok(true)),
        Value::Bytes(v) => prop_assert_eq!(attr.get_bytes(), &v[..]),
        Value::Nested(inner) => check_all(attr.nested(), inner)?,
    }
    Ok(())
}

fn check_all(attrs: AttrIter<'_>, list: &[(u16, Value)]) -> Result<(), TestCaseError> {
    let parsed: Vec<Attr<'_>> = attrs
        .collect::<Result<_, _>>()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(parsed.len(), list.len());
    for (attr, (ty, value)) in parsed.iter().zip(list) {
        prop_assert_eq!(attr.kind(), *ty);
        check_one(attr, value)?;
    }
    Ok(())
}

// ---- The matcher against arbitrary datagrams.

proptest! {
    /// No datagram makes the matcher panic; a message it hands back is
    /// always one the datagram holds; an error stops the datagram; and a
    /// request completes at most once.
    #[test]
    fn matcher_survives_any_datagram(
        data in prop::collection::vec(any::<u8>(), 0..512),
        flags in prop::collection::vec(any::<u16>(), 0..6),
    ) {
        let mut m = Matcher::new(Some(0));
        let ids: Vec<_> = flags
            .iter()
            .map(|&f| m.start(&mut MsgBuilder::new(RTM_NEWLINK, f)))
            .collect();
        let mut completed = Vec::new();
        let result = m.feed(&data, |msg, d| {
            assert!(msg.offset() + msg.bytes().len() <= data.len());
            if let Disposition::Complete(id, _) | Disposition::FinalReply(id) = d {
                completed.push(id);
            }
        });
        let _ = result.map_err(|e| e.to_string());
        let mut unique = completed.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), completed.len());
        for id in &ids {
            prop_assert_eq!(m.is_outstanding(*id), !completed.contains(id));
        }
    }
}

const RTM_NEWLINK: u16 = 16;
