//! The fuzz seed corpus (`fuzz/seeds/route_parse/`), built from the
//! field-by-field fixtures. With `NETDEV_BSD_WRITE_SEEDS=1` the files are
//! (re)written; otherwise the test checks that the tree's seeds are the
//! ones built here and decode as intended.

use std::net::Ipv6Addr;
use std::path::PathBuf;

use netdev_bsd::wire::fixture::{self, sample_if_data};
use netdev_bsd::wire::layout::*;
use netdev_bsd::wire::route::changes;

fn seeds() -> Vec<(&'static str, Vec<u8>, Result<usize, ()>)> {
    let v4 = fixture::sample_newaddr_v4();
    let ll: Ipv6Addr = "fe80::1".parse().unwrap();
    let v6 = fixture::ifa_msghdr(
        RTM_DELADDR,
        2,
        &[
            (RTA_NETMASK, {
                let mut m = fixture::sockaddr_in6("ffff:ffff:ffff:ffff::".parse().unwrap(), 0);
                m.truncate(16);
                m[0] = 16;
                m
            }),
            (RTA_IFA, fixture::sockaddr_in6(ll, 2)),
        ],
    );
    let ifinfo = fixture::if_msghdr(
        2,
        IFF_UP | IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST,
        &sample_if_data(LINK_STATE_UP, 1500),
    );
    let mut mixed = fixture::other(1, 152);
    mixed.extend(fixture::if_announce(5, "tap0", IFAN_ARRIVAL));
    mixed.extend(fixture::if_msghdr(
        5,
        IFF_UP,
        &sample_if_data(LINK_STATE_DOWN, 1500),
    ));
    mixed.extend(fixture::other(RTM_NEWMADDR, 16));
    mixed.extend(v4.clone());
    mixed.extend(fixture::if_announce(5, "tap0", IFAN_DEPARTURE));
    let mut bad_version = ifinfo.clone();
    bad_version[MSG_VERSION] = 4;
    let mut truncated = ifinfo.clone();
    truncated.truncate(100);
    let mut past_sockaddr = v4.clone();
    past_sockaddr[IFA_MSGHDR_LEN + SA_LEN] = 250;
    vec![
        ("ifinfo-up", ifinfo, Ok(1)),
        (
            "announce-arrival",
            fixture::if_announce(7, "vlan100", IFAN_ARRIVAL),
            Ok(1),
        ),
        (
            "announce-departure",
            fixture::if_announce(7, "vlan100", IFAN_DEPARTURE),
            Ok(1),
        ),
        ("newaddr-v4", v4, Ok(1)),
        ("deladdr-v6", v6, Ok(1)),
        ("mixed-stream", mixed, Ok(4)),
        ("bad-version", bad_version, Err(())),
        ("truncated-ifinfo", truncated, Err(())),
        ("sockaddr-past-end", past_sockaddr, Err(())),
    ]
}

#[test]
fn seed_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/route_parse");
    let write = std::env::var_os("NETDEV_BSD_WRITE_SEEDS").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, bytes, expect) in seeds() {
        let mut out = Vec::new();
        let got = changes(&bytes, &mut out).map(|()| out.len()).map_err(drop);
        assert_eq!(got, expect, "{name}");
        let path = dir.join(name);
        if write {
            std::fs::write(&path, &bytes).unwrap();
        } else {
            let stored = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e} (regenerate, see fuzz/README.md)", path.display())
            });
            assert_eq!(stored, bytes, "{name} differs from its fixture");
        }
    }
}
