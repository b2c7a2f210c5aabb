//! Fuzzes the rtnetlink decoders of the Linux backend (sans-IO, layer 1):
//! `parse_link`, `parse_addr`, `parse_stats`, `parse_stats_into` and
//! `change_from_msg`, fed every message of the input taken as a receive
//! buffer (the seeds are the kernel's own dumps and notifications), and
//! `lone_link_change`, fed the whole buffer.
//!
//! Any panic is a bug: a malformed message must come back as an error.
//! Beyond that, the decoders must agree with each other (see the asserts).

#![no_main]

use libfuzzer_sys::fuzz_target;
use netdev_core::{Change, Stats};
use netdev_linux::netlink::{MsgIter, RTM_DELLINK, RTM_NEWLINK};
use netdev_linux::rtnl::{
    change_from_msg, lone_link_change, parse_addr, parse_link, parse_stats, parse_stats_into,
};

fuzz_target!(|data: &[u8]| {
    // The notifier's short path for a lone link message gives what the
    // general path gives for the whole datagram, or leaves it to it.
    if let Some(lone) = lone_link_change(data) {
        let general: Vec<Change> = MsgIter::new(data)
            .map(|m| change_from_msg(&m.expect("a datagram the short path took")))
            .collect::<Result<Vec<_>, _>>()
            .expect("the general path decodes what the short path took")
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(general, vec![lone]);
    }
    // Reused from one stats message to the next, as a dump reuses it: the
    // previous link's counters must never show through.
    let mut reused = Stats::default();
    for msg in MsgIter::new(data) {
        let Ok(msg) = msg else { break };

        // Links: every accessor, and the event it means.
        let link = parse_link(&msg);
        if let Ok(link) = &link {
            let _ = (link.flags(), link.has_carrier(), link.info());
            let _ = format!("{link:?}");
            // parse_link's names (at most 15 bytes) always fit an IfName.
            let change = link.to_change().expect("to_change of a parsed link");
            match &change {
                Change::LinkRemoved { ifindex, name } => {
                    assert!(link.deleted && link.family == 0);
                    assert_eq!((*ifindex, name.as_str()), (link.ifindex, &*link.name));
                }
                Change::LinkChanged { ifindex, name, .. } => {
                    assert_eq!(*ifindex, link.ifindex);
                    assert_eq!(name.as_deref(), Some(&*link.name));
                }
                other => panic!("a link message became {other:?}"),
            }
        }

        // Addresses.
        let addr = parse_addr(&msg);
        if let Ok(a) = &addr {
            let _ = format!("{a:?}");
        }

        // Statistics: both entry points give the same answer, and the
        // in-place one overwrites every counter.
        let stats = parse_stats(&msg);
        let into_ifindex = parse_stats_into(&msg, &mut reused);
        match (&stats, &into_ifindex) {
            (Ok((ifindex, s)), Ok(i)) => {
                assert_eq!(ifindex, i);
                assert_eq!(*s, reused);
            }
            (Err(_), Err(_)) => {}
            (a, b) => panic!("parse_stats {a:?} but parse_stats_into {b:?}"),
        }

        // The notifier's decoder agrees with the typed ones.
        let change = change_from_msg(&msg);
        if let Ok(Some(c)) = &change {
            let _ = format!("{c:?}");
        }
        if matches!(msg.msg_type(), RTM_NEWLINK | RTM_DELLINK) {
            match (&link, &change) {
                (Ok(l), Ok(Some(c))) => assert_eq!(&l.to_change().expect("to_change"), c),
                // The same verdict, in the same words.
                (Err(l), Err(c)) => assert_eq!(l.to_string(), c.to_string()),
                // The notifier reads only what the event carries: a
                // malformed attribute it does not read fails the full
                // decode alone.
                (Err(_), Ok(Some(_))) => {}
                (l, c) => panic!("parse_link {l:?} but change_from_msg {c:?}"),
            }
        }
    }
});
