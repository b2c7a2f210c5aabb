//! Fuzzes what a server's bytes go through: the JSON-RPC framing (fed
//! whole and in chunks whose sizes come from the input: both must give the
//! same messages and fail at the same point), message classification, and
//! the OVSDB values, rows and table updates inside. Any panic is a bug;
//! whatever decodes must encode to JSON that decodes to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ovs_client::jsonrpc::{FrameDecoder, Message};
use ovs_client::{Datum, Replica, Row, Uuid};
use serde_json::Value;

/// Every message the decoder yields, then whether it failed.
fn decode(chunks: &[&[u8]], max: usize) -> (Vec<Value>, bool) {
    let mut d = FrameDecoder::new(max);
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        loop {
            match d.next_value() {
                Ok(Some(v)) => out.push(v),
                Ok(None) => break,
                Err(_) => return (out, true),
            }
        }
    }
    (out, false)
}

fn check_values(v: &Value) {
    if let Ok(d) = Datum::from_json(v) {
        assert_eq!(Datum::from_json(&d.to_json()), Ok(d));
    }
    if let Ok(r) = Row::from_json(v) {
        assert_eq!(Row::from_json(&r.to_json()), Ok(r));
    }
    let mut replica = Replica::default();
    let before = replica.clone();
    if replica.apply_update(v).is_err() {
        assert_eq!(replica, before, "a failed update changed the replica");
    }
    match v {
        Value::Array(items) => items.iter().for_each(check_values),
        Value::Object(obj) => obj.values().for_each(check_values),
        Value::String(s) => {
            if let Ok(u) = s.parse::<Uuid>() {
                assert_eq!(u.to_string(), s.to_ascii_lowercase());
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, rest)) = data.split_first() else {
        return;
    };
    // A small limit sometimes, to reach the size check.
    let max = if step & 0x80 != 0 { 64 } else { 1 << 20 };
    let step = usize::from(step & 0x3f) + 1;
    let whole = decode(&[rest], max);
    let chunks: Vec<&[u8]> = rest.chunks(step).collect();
    let chunked = decode(&chunks, max);
    assert_eq!(whole, chunked, "chunking changed the result");
    for v in whole.0 {
        check_values(&v);
        if let Ok(m) = Message::from_json(v) {
            assert_eq!(Message::from_json(m.to_json()).as_ref(), Ok(&m));
            if let Message::Notification { params, .. } = &m {
                let mut replica = Replica::default();
                let _ = replica.apply_update(params.get(1).unwrap_or(&Value::Null));
            }
        }
    }
});
