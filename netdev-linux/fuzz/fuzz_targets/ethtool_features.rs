//! Fuzzes the ethtool translation of the Linux backend: arbitrary
//! [`EthtoolSettings`] (speed, duplex, port, autonegotiation and link-mode
//! masks of any length, as `ETHTOOL_GLINKSETTINGS` or the legacy
//! `ETHTOOL_GSET` fill them in) turned into a `LinkSpeed` and core
//! `Features`.
//!
//! Input layout (native-endian, like the kernel's structs):
//! bytes 0..4 speed, 4 duplex, 5 port, 6 autoneg, 7 `n`; then 32-bit words:
//! `n` of the supported mask, `n` of the advertised one, the rest the
//! peer's (a short input gives shorter masks).
//!
//! Any panic is a bug; the asserts state what the translation promises.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netdev_core::{Duplex, Features};
use netdev_linux::ethtool::EthtoolSettings;

fn settings(data: &[u8]) -> Option<EthtoolSettings> {
    let (head, rest) = data.split_first_chunk::<8>()?;
    let words: Vec<u32> = rest
        .chunks_exact(4)
        .map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    let n = usize::from(head[7]);
    let (supported, rest) = words.split_at(n.min(words.len()));
    let (advertising, lp_advertising) = rest.split_at(n.min(rest.len()));
    Some(EthtoolSettings {
        speed: u32::from_ne_bytes([head[0], head[1], head[2], head[3]]),
        duplex: head[4],
        port: head[5],
        autoneg: head[6],
        supported: supported.to_vec(),
        advertising: advertising.to_vec(),
        lp_advertising: lp_advertising.to_vec(),
    })
}

/// The features of a mask, one set bit at a time.
fn bit_by_bit(mask: &[u32]) -> Features {
    let mut all = Features::empty();
    for (i, word) in mask.iter().enumerate() {
        for bit in 0..32 {
            if word & (1 << bit) != 0 {
                let mut one = vec![0; i + 1];
                one[i] = 1 << bit;
                let s = EthtoolSettings {
                    supported: one,
                    ..EthtoolSettings::default()
                };
                all |= s.features().supported;
            }
        }
    }
    all
}

fuzz_target!(|data: &[u8]| {
    let Some(s) = settings(data) else { return };
    let speed = s.link_speed();
    let f = s.features();

    // The speed is known unless the kernel says "unknown" (0 or ~0), and
    // the feature set carries the same one.
    assert_eq!(speed.is_none(), s.speed == 0 || s.speed == u32::MAX);
    assert_eq!(f.speed, speed);
    if let Some(sp) = speed {
        assert_eq!(sp.mbps, u64::from(s.speed));
        let duplex = sp.duplex.unwrap_or(Duplex::Full);
        assert!(f.current.contains(Features::from_speed(sp.mbps, duplex)));
    }
    assert_eq!(s.autoneg != 0, f.current.contains(Features::AUTONEG));

    // Masks translate bit by bit, the same way for all three.
    if s.supported.len() <= 8 {
        assert_eq!(f.supported, bit_by_bit(&s.supported));
    }
    let swapped = EthtoolSettings {
        supported: s.lp_advertising.clone(),
        advertising: s.supported.clone(),
        lp_advertising: s.advertising.clone(),
        ..s.clone()
    };
    let g = swapped.features();
    assert_eq!(
        (g.supported, g.advertised, g.peer),
        (f.peer, f.supported, f.advertised)
    );
});
