//! Property tests for the brcompat codec: every request and reply survives
//! encode → decode unchanged; no input, random or a damaged valid message,
//! makes a decoder panic; whatever decodes re-encodes to the same value;
//! FDB records and paging keep their invariants.

use brcompat::proto::{
    fdb_page, FdbEntry, Reply, ReplyData, Request, FDB_ENTRY_LEN, MAX_FDB_ENTRIES,
};
use proptest::prelude::*;

mod common;
use common::{encode_reply, encode_request, FAMILY};

/// Any text a request can carry: no NUL, any other character.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..20)
        .prop_map(String::from_iter)
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        name().prop_map(|name| Request::AddBridge { name }),
        name().prop_map(|name| Request::DelBridge { name }),
        (name(), name()).prop_map(|(bridge, port)| Request::AddPort { bridge, port }),
        (name(), name()).prop_map(|(bridge, port)| Request::DelPort { bridge, port }),
        (name(), any::<u64>(), any::<u64>()).prop_map(|(bridge, count, skip)| {
            Request::FdbQuery {
                bridge,
                count,
                skip,
            }
        }),
        Just(Request::GetBridges),
        name().prop_map(|bridge| Request::GetPorts { bridge }),
        Just(Request::QueryMc),
    ]
}

fn fdb_entry() -> impl Strategy<Value = FdbEntry> {
    (any::<[u8; 6]>(), any::<u16>(), any::<bool>(), any::<u32>()).prop_map(
        |(mac, port, is_local, ageing_ticks)| FdbEntry {
            mac,
            port,
            is_local,
            ageing_ticks,
        },
    )
}

fn reply() -> impl Strategy<Value = Reply> {
    let data = prop_oneof![
        Just(ReplyData::None),
        prop::collection::vec(fdb_entry(), 0..20).prop_map(ReplyData::Fdb),
        prop::collection::vec(any::<i32>(), 0..20).prop_map(ReplyData::Ifindexes),
        any::<u32>().prop_map(ReplyData::McGroup),
    ];
    (0u32..=4095, data).prop_map(|(errno, data)| Reply { errno, data })
}

/// Decodes `bytes` both ways; what decodes must survive a round trip.
fn decode_any(bytes: &[u8]) {
    if let Ok((seq, r)) = Request::parse(bytes, FAMILY) {
        assert_eq!(
            Request::parse(&encode_request(&r, seq), FAMILY),
            Ok((seq, r))
        );
    }
    if let Ok((seq, r)) = Reply::parse(bytes, FAMILY) {
        assert_eq!(
            Reply::parse(&encode_reply(&r, seq, 0), FAMILY),
            Ok((seq, r))
        );
    }
}

/// A damage done to a valid message.
#[derive(Clone, Debug)]
enum Damage {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, u8),
    Remove(usize),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), 1..=u8::MAX).prop_map(|(at, x)| Damage::Flip(at, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Damage::Insert(at, b)),
        any::<usize>().prop_map(Damage::Remove),
    ]
}

fn apply(bytes: &mut Vec<u8>, d: &Damage) {
    if bytes.is_empty() {
        return;
    }
    let len = bytes.len();
    match *d {
        Damage::Truncate(at) => bytes.truncate(at % len),
        Damage::Flip(at, x) => bytes[at % len] ^= x,
        Damage::Insert(at, b) => bytes.insert(at % (len + 1), b),
        Damage::Remove(at) => {
            bytes.remove(at % len);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip(r in request(), seq in any::<u32>()) {
        let bytes = encode_request(&r, seq);
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(Request::parse(&bytes, FAMILY), Ok((seq, r)));
    }

    #[test]
    fn replies_round_trip(r in reply(), seq in any::<u32>(), pid in any::<u32>()) {
        let bytes = encode_reply(&r, seq, pid);
        prop_assert_eq!(&bytes[12..16], &pid.to_ne_bytes()[..]);
        prop_assert_eq!(Reply::parse(&bytes, FAMILY), Ok((seq, r)));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_any(&bytes);
    }

    #[test]
    fn damaged_requests_never_panic(
        r in request(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let mut bytes = encode_request(&r, 1);
        for d in &damages {
            apply(&mut bytes, d);
        }
        decode_any(&bytes);
    }

    #[test]
    fn damaged_replies_never_panic(
        r in reply(),
        damages in prop::collection::vec(damage(), 1..4),
    ) {
        let mut bytes = encode_reply(&r, 1, 2);
        for d in &damages {
            apply(&mut bytes, d);
        }
        decode_any(&bytes);
    }

    #[test]
    fn fdb_records_round_trip(e in fdb_entry(), raw in any::<[u8; FDB_ENTRY_LEN]>()) {
        prop_assert_eq!(FdbEntry::from_bytes(&e.to_bytes()), e);
        // Any 16 bytes decode; re-encoding normalises padding and is_local.
        let d = FdbEntry::from_bytes(&raw);
        let again = d.to_bytes();
        prop_assert_eq!(&again[..7], &raw[..7]);
        prop_assert_eq!(again[7], u8::from(raw[7] != 0));
        prop_assert_eq!(&again[8..13], &raw[8..13]);
        prop_assert_eq!(&again[13..], &[0u8, 0, 0][..]);
        prop_assert_eq!(FdbEntry::from_bytes(&again), d);
    }

    #[test]
    fn fdb_arrays_need_whole_records(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
        match FdbEntry::decode_all(&bytes, 0) {
            Ok(entries) => {
                prop_assert_eq!(bytes.len() % FDB_ENTRY_LEN, 0);
                prop_assert_eq!(entries.len(), bytes.len() / FDB_ENTRY_LEN);
            }
            Err(_) => prop_assert_ne!(bytes.len() % FDB_ENTRY_LEN, 0),
        }
    }

    #[test]
    fn fdb_pages_stay_in_bounds(count in any::<u64>(), skip in any::<u64>(), available in 0usize..10_000) {
        let page = fdb_page(count, skip, available);
        prop_assert!(page.start <= page.end && page.end <= available);
        prop_assert!(page.len() <= MAX_FDB_ENTRIES);
        prop_assert!(page.len() as u64 <= count);
        if skip < available as u64 {
            prop_assert_eq!(page.start as u64, skip);
            let want = count.min(MAX_FDB_ENTRIES as u64).min(available as u64 - skip);
            prop_assert_eq!(page.len() as u64, want);
        } else {
            prop_assert!(page.is_empty());
        }
    }
}
