//! `RTM_GETSTATS` requests and replies (`struct if_stats_msg`), the
//! cheapest way to read one device's 64-bit counters.

use netdev_core::Stats;

use super::link::stats_from;
use crate::netlink::{policy_table, Error, Msg, MsgBuilder, Policy, NLM_F_REQUEST, RTM_GETSTATS};

/// Size of `struct if_stats_msg`.
pub const IF_STATS_MSG_LEN: usize = 12;
const IFLA_STATS_LINK_64: u16 = 1;
/// `filter_mask` bit asking for `IFLA_STATS_LINK_64` only.
const FILTER_LINK_64: u32 = 1 << (IFLA_STATS_LINK_64 - 1);

static STATS_POLICY: [Policy; 2] = policy_table(&[(
    IFLA_STATS_LINK_64,
    Policy::unspec("IFLA_STATS_LINK_64").min_len(21 * 8),
)]);

/// Starts `b` over as an `RTM_GETSTATS` request for the 64-bit link
/// counters of `ifindex` (0 with a dump flag: every link).
pub fn getstats_request(b: &mut MsgBuilder, ifindex: u32) -> &mut MsgBuilder {
    b.reset(RTM_GETSTATS, NLM_F_REQUEST);
    let mut hdr = [0u8; IF_STATS_MSG_LEN];
    hdr[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    hdr[8..12].copy_from_slice(&FILTER_LINK_64.to_ne_bytes());
    b.put_fixed(&hdr);
    b
}

/// Decodes an `RTM_NEWSTATS` reply: the ifindex and its counters.
pub fn parse_stats(msg: &Msg<'_>) -> Result<(u32, Stats), Error> {
    let hdr = msg.fixed_header(IF_STATS_MSG_LEN)?;
    let ifindex = u32::from_ne_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
    let attrs = msg.attrs(IF_STATS_MSG_LEN)?.parse(&STATS_POLICY)?;
    Ok((ifindex, stats_from(attrs.bytes(IFLA_STATS_LINK_64)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::RTM_NEWSTATS;

    #[test]
    fn request_and_reply() {
        let mut b = MsgBuilder::default();
        getstats_request(&mut b, 9);
        let req = b.finish().unwrap().to_vec();
        assert_eq!(req.len(), 16 + IF_STATS_MSG_LEN);
        assert_eq!(&req[16 + 4..16 + 12], &[9, 0, 0, 0, 1, 0, 0, 0][..]);

        let mut b = MsgBuilder::new(RTM_NEWSTATS, 0);
        let mut hdr = [0u8; IF_STATS_MSG_LEN];
        hdr[4..8].copy_from_slice(&9u32.to_ne_bytes());
        let counters: Vec<u8> = (1..=24u64).flat_map(|v| v.to_ne_bytes()).collect();
        b.put_fixed(&hdr).put_bytes(IFLA_STATS_LINK_64, &counters);
        let bytes = b.finish().unwrap().to_vec();
        let (ifindex, s) = parse_stats(&Msg::parse(&bytes).unwrap()).unwrap();
        assert_eq!(
            (ifindex, s.rx_packets, s.tx_bytes, s.tx_window_errors),
            (9, 1, 4, 21)
        );

        // Too short a counter block is an error, not zeros.
        let mut b = MsgBuilder::new(RTM_NEWSTATS, 0);
        b.put_fixed(&hdr)
            .put_bytes(IFLA_STATS_LINK_64, &counters[..80]);
        let bytes = b.finish().unwrap().to_vec();
        assert!(parse_stats(&Msg::parse(&bytes).unwrap()).is_err());
    }
}
