//! Fuzzes the FreeBSD routing-message decoder (sans-IO, layer 1):
//! `wire::route::messages`, `parse_message`, `to_change` and `changes`,
//! on the input taken as a routing-socket read or a sysctl dump.
//!
//! Any panic is a bug: malformed input must come back as an error.
//! Beyond that, the entry points must agree with each other (see the
//! asserts).

#![no_main]

use libfuzzer_sys::fuzz_target;
use netdev_bsd::wire::route::{
    changes, messages, parse_message, split_message, to_change, AnnounceWhat, RouteMsg,
};
use netdev_core::Change;

fuzz_target!(|data: &[u8]| {
    let mut expected = Vec::new();
    let mut failed = false;
    let mut rest = data;
    for msg in messages(data) {
        // The walk and a message-by-message split agree.
        let split = split_message(rest);
        let Ok(msg) = msg else {
            failed = true;
            if let Ok((_, r)) = split {
                rest = r;
            }
            break;
        };
        let (one, r) = split.expect("the walk found a message where split did not");
        rest = r;
        assert_eq!(parse_message(one).as_ref(), Ok(&msg));
        let _ = format!("{msg:?}");
        let change = to_change(&msg);
        match (&msg, &change) {
            (
                RouteMsg::IfInfo(i),
                Some(Change::LinkChanged {
                    ifindex,
                    name,
                    info,
                }),
            ) => {
                assert_eq!(*ifindex, i.ifindex);
                assert!(name.is_none());
                assert_eq!(info.mtu, Some(i.data.mtu));
            }
            (RouteMsg::IfAnnounce(a), Some(Change::LinkChanged { ifindex, name, .. })) => {
                assert_eq!(a.what, AnnounceWhat::Arrival);
                assert_eq!((*ifindex, name.as_deref()), (a.ifindex, Some(&*a.name)));
            }
            (RouteMsg::IfAnnounce(a), Some(Change::LinkRemoved { ifindex, name })) => {
                assert_eq!(a.what, AnnounceWhat::Departure);
                assert_eq!((*ifindex, name), (a.ifindex, &a.name));
            }
            (RouteMsg::IfAnnounce(a), None) => {
                assert!(matches!(a.what, AnnounceWhat::Other(_)))
            }
            (RouteMsg::Addr(a), Some(Change::AddrChanged { ifindex })) => {
                assert_eq!(*ifindex, a.ifindex)
            }
            (RouteMsg::Other { .. }, None) => {}
            (m, c) => panic!("{m:?} became {c:?}"),
        }
        if let Some(c) = change {
            // Interface index 0 is rejected by the decoder.
            match &c {
                Change::LinkChanged { ifindex, .. }
                | Change::LinkRemoved { ifindex, .. }
                | Change::AddrChanged { ifindex } => assert_ne!(*ifindex, 0),
                _ => {}
            }
            expected.push(c);
        }
    }
    // The notifier's decoder gives the same events, and fails exactly when
    // the walk did.
    let mut out = Vec::new();
    let r = changes(data, &mut out);
    assert_eq!(r.is_err(), failed);
    assert_eq!(out, expected);
});
