//! Fuzzes the brcompat protocol codec: arbitrary bytes decoded as a
//! request and as a reply (as a datagram, and message by message with the
//! family of each message's own header), names checked as the daemon
//! checks them, FDB arrays and paging, port-counter arrays. Any panic is a bug; and whatever
//! decodes must encode to bytes that decode to the same value.

#![no_main]

use brcompat::proto::{fdb_page, FdbEntry, PortStats, Reply, Request, UNIX_FAMILY_ID};
use libfuzzer_sys::fuzz_target;
use netdev_netlink::{MsgBuilder, MsgIter};

fn check_request(result: Result<(u32, Request), brcompat::proto::ProtoError>, family: u16) {
    let Ok((seq, request)) = result else { return };
    let _ = request.validate_names();
    let _ = (request.command().name(), request.names());
    if let Request::FdbQuery { count, skip, .. } = &request {
        let page = fdb_page(*count, *skip, 10_000);
        assert!(page.start <= page.end && page.end <= 10_000);
    }
    let mut b = MsgBuilder::default();
    let bytes = request
        .encode(&mut b, family, seq)
        .expect("a decoded request encodes");
    assert_eq!(Request::parse(bytes, family), Ok((seq, request)));
}

fn check_reply(result: Result<(u32, Reply), brcompat::proto::ProtoError>, family: u16) {
    let Ok((seq, reply)) = result else { return };
    let mut b = MsgBuilder::default();
    let bytes = reply
        .encode(&mut b, family, seq, 0)
        .expect("a decoded reply encodes");
    assert_eq!(Reply::parse(bytes, family), Ok((seq, reply)));
}

fuzz_target!(|data: &[u8]| {
    // As a datagram from the transport.
    check_request(Request::parse(data, UNIX_FAMILY_ID), UNIX_FAMILY_ID);
    check_reply(Reply::parse(data, UNIX_FAMILY_ID), UNIX_FAMILY_ID);
    // Message by message, with whatever family each claims, so that the
    // fuzzer need not guess the family id to get past the first check.
    for msg in MsgIter::new(data) {
        let Ok(msg) = msg else { break };
        let family = msg.msg_type();
        check_request(Request::decode(&msg, family), family);
        check_reply(Reply::decode(&msg, family), family);
    }
    // As FDB_DATA.
    if let Ok(entries) = FdbEntry::decode_all(data, 0) {
        let mut again = Vec::new();
        FdbEntry::encode_all(&entries, &mut again);
        assert_eq!(again.len(), data.len());
        assert_eq!(FdbEntry::decode_all(&again, 0), Ok(entries));
    }
    // As PORT_STATS (extension): decoded records encode again.
    if let Ok(stats) = PortStats::decode_all(data, 0) {
        let mut again = Vec::new();
        PortStats::encode_all(&stats, &mut again).expect("a decoded record encodes");
        assert_eq!(PortStats::decode_all(&again, 0), Ok(stats));
    }
});
