//! Link features: speeds, duplex, medium, autonegotiation, pause.

use bitflags::bitflags;

bitflags! {
    /// Link features in the style of OpenFlow's `ofp_port_features`, as Open
    /// vSwitch's `enum netdev_features` uses them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct Features: u32 {
        /// 10 Mb/s half duplex.
        const F_10MB_HD = 1 << 0;
        /// 10 Mb/s full duplex.
        const F_10MB_FD = 1 << 1;
        /// 100 Mb/s half duplex.
        const F_100MB_HD = 1 << 2;
        /// 100 Mb/s full duplex.
        const F_100MB_FD = 1 << 3;
        /// 1 Gb/s half duplex.
        const F_1GB_HD = 1 << 4;
        /// 1 Gb/s full duplex.
        const F_1GB_FD = 1 << 5;
        /// 10 Gb/s full duplex.
        const F_10GB_FD = 1 << 6;
        /// 40 Gb/s full duplex.
        const F_40GB_FD = 1 << 7;
        /// 100 Gb/s full duplex.
        const F_100GB_FD = 1 << 8;
        /// 1 Tb/s full duplex.
        const F_1TB_FD = 1 << 9;
        /// A speed not listed above.
        const OTHER = 1 << 10;
        /// Copper medium.
        const COPPER = 1 << 11;
        /// Fiber medium.
        const FIBER = 1 << 12;
        /// Autonegotiation.
        const AUTONEG = 1 << 13;
        /// Pause.
        const PAUSE = 1 << 14;
        /// Asymmetric pause.
        const PAUSE_ASYM = 1 << 15;
    }
}

/// Speed bits with their rate in Mb/s and duplex, fastest first.
const SPEEDS: [(Features, u64, Duplex); 10] = [
    (Features::F_1TB_FD, 1_000_000, Duplex::Full),
    (Features::F_100GB_FD, 100_000, Duplex::Full),
    (Features::F_40GB_FD, 40_000, Duplex::Full),
    (Features::F_10GB_FD, 10_000, Duplex::Full),
    (Features::F_1GB_FD, 1_000, Duplex::Full),
    (Features::F_1GB_HD, 1_000, Duplex::Half),
    (Features::F_100MB_FD, 100, Duplex::Full),
    (Features::F_100MB_HD, 100, Duplex::Half),
    (Features::F_10MB_FD, 10, Duplex::Full),
    (Features::F_10MB_HD, 10, Duplex::Half),
];

/// Duplex mode of a link.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Duplex {
    /// Half duplex.
    Half,
    /// Full duplex.
    Full,
}

/// Current speed and duplex of a link.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkSpeed {
    /// Speed in Mb/s.
    pub mbps: u64,
    /// Duplex, when the device reports one.
    pub duplex: Option<Duplex>,
}

impl Features {
    /// The mask of all speed bits.
    pub const SPEED_MASK: Features = Features::from_bits_truncate(0x3ff);

    /// The fastest speed among the set bits, with its duplex; `None` if no
    /// speed bit is set.
    pub fn max_speed(&self) -> Option<LinkSpeed> {
        SPEEDS
            .iter()
            .find(|(bit, _, _)| self.contains(*bit))
            .map(|&(_, mbps, duplex)| LinkSpeed {
                mbps,
                duplex: Some(duplex),
            })
    }

    /// The speed bit for a rate in Mb/s and a duplex, `OTHER` if there is
    /// none (for example 25 Gb/s, or 10 Gb/s half duplex).
    pub fn from_speed(mbps: u64, duplex: Duplex) -> Features {
        SPEEDS
            .iter()
            .find(|&&(_, m, d)| m == mbps && d == duplex)
            .map(|&(bit, _, _)| bit)
            .unwrap_or(Features::OTHER)
    }
}

/// The four feature sets a device reports, as in OpenFlow port
/// descriptions.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FeatureSet {
    /// What the link is using now.
    pub current: Features,
    /// What the device advertises to its peer.
    pub advertised: Features,
    /// What the device supports.
    pub supported: Features,
    /// What the peer advertises.
    pub peer: Features,
    /// The exact current speed, when the device reports one that the
    /// feature bits cannot express (25 Gb/s, say) or reports it directly.
    pub speed: Option<LinkSpeed>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_speed_picks_fastest() {
        let f = Features::F_100MB_FD | Features::F_1GB_FD | Features::COPPER;
        assert_eq!(
            f.max_speed(),
            Some(LinkSpeed {
                mbps: 1000,
                duplex: Some(Duplex::Full)
            })
        );
        assert_eq!(
            Features::F_10MB_HD.max_speed().unwrap().duplex,
            Some(Duplex::Half)
        );
        assert_eq!((Features::COPPER | Features::AUTONEG).max_speed(), None);
    }

    #[test]
    fn from_speed_maps_back() {
        for (bit, mbps, duplex) in SPEEDS {
            assert_eq!(Features::from_speed(mbps, duplex), bit);
        }
        assert_eq!(Features::from_speed(25_000, Duplex::Full), Features::OTHER);
        assert_eq!(Features::SPEED_MASK.bits().count_ones(), 10);
    }
}
