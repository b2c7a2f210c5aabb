//! Ethtool link settings and their translation into core [`Features`]
//! (pure logic, unit-tested on every OS; the ioctl is in `sys`).

use netdev_core::{Duplex, FeatureSet, Features, LinkSpeed};

/// Link settings as ethtool reports them (`ETHTOOL_GLINKSETTINGS`, or the
/// legacy `ETHTOOL_GSET`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EthtoolSettings {
    /// Mb/s; 0 or `u32::MAX` when unknown.
    pub speed: u32,
    /// 0 half, 1 full, 0xff unknown.
    pub duplex: u8,
    /// `PORT_*`: 0 twisted pair, 3 fibre, 0xef none, ...
    pub port: u8,
    /// 1 if autonegotiation is on.
    pub autoneg: u8,
    /// Supported link modes, 32 bits a word.
    pub supported: Vec<u32>,
    /// Advertised link modes.
    pub advertising: Vec<u32>,
    /// Link modes the peer advertises.
    pub lp_advertising: Vec<u32>,
}

const PORT_TP: u8 = 0x00;
const PORT_FIBRE: u8 = 0x03;
const PORT_DA: u8 = 0x05;

/// `ETHTOOL_LINK_MODE_*` bit numbers and the feature each one means.
const LINK_MODES: &[(u32, Features)] = &[
    (0, Features::F_10MB_HD),
    (1, Features::F_10MB_FD),
    (2, Features::F_100MB_HD),
    (3, Features::F_100MB_FD),
    (4, Features::F_1GB_HD),
    (5, Features::F_1GB_FD),
    (6, Features::AUTONEG),
    (7, Features::COPPER),
    (10, Features::FIBER),
    (12, Features::F_10GB_FD),
    (13, Features::PAUSE),
    (14, Features::PAUSE_ASYM),
    (15, Features::OTHER),     // 2500baseX
    (17, Features::F_1GB_FD),  // 1000baseKX
    (18, Features::F_10GB_FD), // 10000baseKX4
    (19, Features::F_10GB_FD), // 10000baseKR
    (21, Features::OTHER),     // 20000baseMLD2
    (22, Features::OTHER),     // 20000baseKR2
    (23, Features::F_40GB_FD),
    (24, Features::F_40GB_FD),
    (25, Features::F_40GB_FD),
    (26, Features::F_40GB_FD),
    (27, Features::OTHER), // 56000base*
    (28, Features::OTHER),
    (29, Features::OTHER),
    (30, Features::OTHER),
    (31, Features::OTHER), // 25000base*
    (32, Features::OTHER),
    (33, Features::OTHER),
    (34, Features::OTHER), // 50000base*
    (35, Features::OTHER),
    (36, Features::F_100GB_FD),
    (37, Features::F_100GB_FD),
    (38, Features::F_100GB_FD),
    (39, Features::F_100GB_FD),
];

fn modes_to_features(words: &[u32]) -> Features {
    let bit = |n: u32| {
        words
            .get((n / 32) as usize)
            .is_some_and(|w| w & (1 << (n % 32)) != 0)
    };
    LINK_MODES
        .iter()
        .filter(|(n, _)| bit(*n))
        .fold(Features::empty(), |acc, (_, f)| acc | *f)
}

impl EthtoolSettings {
    /// The exact current speed, if the device knows it.
    pub fn link_speed(&self) -> Option<LinkSpeed> {
        if self.speed == 0 || self.speed == u32::MAX {
            return None;
        }
        let duplex = match self.duplex {
            0 => Some(Duplex::Half),
            1 => Some(Duplex::Full),
            _ => None,
        };
        Some(LinkSpeed {
            mbps: u64::from(self.speed),
            duplex,
        })
    }

    /// The four feature sets, the way Open vSwitch derives them: supported,
    /// advertised and peer from the link-mode masks; current from the speed,
    /// duplex, port and autonegotiation in use.
    pub fn features(&self) -> FeatureSet {
        let mut current = Features::empty();
        let speed = self.link_speed();
        if let Some(s) = speed {
            current |= Features::from_speed(s.mbps, s.duplex.unwrap_or(Duplex::Full));
        }
        match self.port {
            PORT_TP => current |= Features::COPPER,
            PORT_FIBRE => current |= Features::FIBER,
            PORT_DA => current |= Features::COPPER,
            _ => {}
        }
        if self.autoneg != 0 {
            current |= Features::AUTONEG;
        }
        FeatureSet {
            current,
            advertised: modes_to_features(&self.advertising),
            supported: modes_to_features(&self.supported),
            peer: modes_to_features(&self.lp_advertising),
            speed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gigabit_copper_nic() {
        let s = EthtoolSettings {
            speed: 1000,
            duplex: 1,
            port: PORT_TP,
            autoneg: 1,
            // 10/100/1000 half+full, autoneg, TP, pause.
            supported: vec![0b111_1111 | (1 << 13)],
            advertising: vec![(1 << 5) | (1 << 3) | (1 << 6)],
            lp_advertising: vec![1 << 5],
        };
        let f = s.features();
        assert_eq!(
            f.current,
            Features::F_1GB_FD | Features::COPPER | Features::AUTONEG
        );
        assert!(f.supported.contains(
            Features::F_10MB_HD | Features::F_1GB_FD | Features::AUTONEG | Features::PAUSE
        ));
        assert_eq!(
            f.advertised,
            Features::F_1GB_FD | Features::F_100MB_FD | Features::AUTONEG
        );
        assert_eq!(f.peer, Features::F_1GB_FD);
        assert_eq!(f.speed.unwrap().mbps, 1000);
    }

    #[test]
    fn a_virtual_device_and_high_mode_bits() {
        // veth: 10 Gb/s full, no port, no modes.
        let s = EthtoolSettings {
            speed: 10_000,
            duplex: 1,
            port: 0xef,
            ..EthtoolSettings::default()
        };
        assert_eq!(s.features().current, Features::F_10GB_FD);
        // Unknown speed: nothing current, no exact speed.
        let s = EthtoolSettings {
            speed: u32::MAX,
            duplex: 0xff,
            port: 0xef,
            ..EthtoolSettings::default()
        };
        assert_eq!(s.features().current, Features::empty());
        assert!(s.link_speed().is_none());
        // 25 Gb/s is OTHER, its exact speed kept; modes past word 0 count.
        let s = EthtoolSettings {
            speed: 25_000,
            duplex: 1,
            port: PORT_FIBRE,
            supported: vec![1 << 31, 1 << (37 - 32)],
            ..EthtoolSettings::default()
        };
        let f = s.features();
        assert_eq!(f.current, Features::OTHER | Features::FIBER);
        assert_eq!(f.supported, Features::OTHER | Features::F_100GB_FD);
        assert_eq!(f.speed.unwrap().mbps, 25_000);
    }
}
