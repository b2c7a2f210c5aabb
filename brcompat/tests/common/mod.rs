//! Helpers shared by the protocol test files.

use brcompat::proto::{Reply, Request, UNIX_FAMILY_ID};
use netdev_netlink::MsgBuilder;

/// The family id the tests use.
pub const FAMILY: u16 = UNIX_FAMILY_ID;

/// `r` as sent with sequence number `seq`.
pub fn encode_request(r: &Request, seq: u32) -> Vec<u8> {
    r.encode(&mut MsgBuilder::default(), FAMILY, seq)
        .unwrap()
        .to_vec()
}

/// `r` as sent in answer to `seq` from port `pid`.
pub fn encode_reply(r: &Reply, seq: u32, pid: u32) -> Vec<u8> {
    r.encode(&mut MsgBuilder::default(), FAMILY, seq, pid)
        .unwrap()
        .to_vec()
}
