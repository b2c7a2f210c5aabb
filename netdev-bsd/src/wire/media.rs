//! `SIOCGIFMEDIA` media words (`<net/if_media.h>`) → carrier, speed,
//! duplex and [`FeatureSet`].
//!
//! A media word packs a network type (`IFM_NMASK`), a subtype
//! (`IFM_TMASK`, extended on Ethernet by `IFM_ETH_XTYPE` for subtypes
//! above 31), and options (`IFM_FDX`, `IFM_HDX`, pause bits). The ioctl
//! reports `ifm_status` (carrier), `ifm_active` (what the link runs now),
//! `ifm_current` (what is configured: autoselect, or a forced medium) and
//! a list of supported words, which needs a second call with a buffer
//! sized from the first call's `ifm_count` (see [`media_list_len`] and
//! [`received_words`]).

use netdev_core::{Duplex, FeatureSet, Features, LinkSpeed};

use super::layout::*;
use super::WireError;

/// Carrier from `ifm_status`: `IFM_ACTIVE` when `IFM_AVALID` says it is
/// meaningful; `None` when the driver does not report it.
pub fn carrier_from_status(status: u32) -> Option<bool> {
    (status & IFM_AVALID != 0).then_some(status & IFM_ACTIVE != 0)
}

/// Carrier as the netdev API reports it: a device that cannot tell (no
/// `IFM_AVALID`: loopback, tunnels, many virtual devices) is taken as up,
/// as the C backend did, since "down" would stop users from using it.
pub fn carrier(status: u32) -> bool {
    carrier_from_status(status).unwrap_or(true)
}

/// `IFM_SUBTYPE()` of an Ethernet word, as a plain number (0..=511): the
/// low 5 bits joined with the extended bits.
pub fn ether_subtype(word: u32) -> u32 {
    (word & IFM_TMASK) | ((word & IFM_ETH_XTYPE) >> IFM_ETH_XSHIFT)
}

/// True if `word` is an Ethernet media word.
pub fn is_ether(word: u32) -> bool {
    word & IFM_NMASK == IFM_ETHER
}

/// Medium of a subtype, for the `COPPER`/`FIBER` feature bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Medium {
    Copper,
    Fiber,
    /// Backplane, PCIe and chip-to-chip interfaces: neither.
    Other,
}

/// Ethernet subtype numbers (`IFM_X(n)` index) → speed in Mb/s and medium.
/// Copied from `<net/if_media.h>`; subtypes missing here (HomePNA, "other",
/// "unknown") have no speed.
const ETHER_SUBTYPES: &[(u32, u64, Medium)] = {
    use Medium::{Copper as C, Fiber as F, Other as O};
    &[
        (3, 10, C),        // IFM_10_T
        (4, 10, C),        // IFM_10_2
        (5, 10, C),        // IFM_10_5
        (6, 100, C),       // IFM_100_TX
        (7, 100, F),       // IFM_100_FX
        (8, 100, C),       // IFM_100_T4
        (9, 100, C),       // IFM_100_VG
        (10, 100, C),      // IFM_100_T2
        (11, 1_000, F),    // IFM_1000_SX
        (12, 10, C),       // IFM_10_STP
        (13, 10, F),       // IFM_10_FL
        (14, 1_000, F),    // IFM_1000_LX
        (15, 1_000, C),    // IFM_1000_CX
        (16, 1_000, C),    // IFM_1000_T
        (18, 10_000, F),   // IFM_10G_LR
        (19, 10_000, F),   // IFM_10G_SR
        (20, 10_000, C),   // IFM_10G_CX4
        (21, 2_500, F),    // IFM_2500_SX
        (22, 10_000, C),   // IFM_10G_TWINAX
        (23, 10_000, C),   // IFM_10G_TWINAX_LONG
        (24, 10_000, F),   // IFM_10G_LRM
        (26, 10_000, C),   // IFM_10G_T
        (27, 40_000, C),   // IFM_40G_CR4
        (28, 40_000, F),   // IFM_40G_SR4
        (29, 40_000, F),   // IFM_40G_LR4
        (30, 1_000, O),    // IFM_1000_KX
        (32, 10_000, O),   // IFM_10G_KX4
        (33, 10_000, O),   // IFM_10G_KR
        (34, 10_000, C),   // IFM_10G_CR1
        (35, 20_000, O),   // IFM_20G_KR2
        (36, 2_500, O),    // IFM_2500_KX
        (37, 2_500, C),    // IFM_2500_T
        (38, 5_000, C),    // IFM_5000_T
        (39, 50_000, O),   // IFM_50G_PCIE
        (40, 25_000, O),   // IFM_25G_PCIE
        (41, 1_000, O),    // IFM_1000_SGMII
        (42, 10_000, O),   // IFM_10G_SFI
        (43, 40_000, O),   // IFM_40G_XLPPI
        (44, 1_000, C),    // IFM_1000_CX_SGMII
        (45, 40_000, O),   // IFM_40G_KR4
        (46, 10_000, F),   // IFM_10G_ER
        (47, 100_000, C),  // IFM_100G_CR4
        (48, 100_000, F),  // IFM_100G_SR4
        (49, 100_000, O),  // IFM_100G_KR4
        (50, 100_000, F),  // IFM_100G_LR4
        (51, 56_000, O),   // IFM_56G_R4
        (52, 100, C),      // IFM_100_T
        (53, 25_000, C),   // IFM_25G_CR
        (54, 25_000, O),   // IFM_25G_KR
        (55, 25_000, F),   // IFM_25G_SR
        (56, 50_000, C),   // IFM_50G_CR2
        (57, 50_000, O),   // IFM_50G_KR2
        (58, 25_000, F),   // IFM_25G_LR
        (59, 10_000, F),   // IFM_10G_AOC
        (60, 25_000, C),   // IFM_25G_ACC
        (61, 25_000, F),   // IFM_25G_AOC
        (62, 100, O),      // IFM_100_SGMII
        (63, 2_500, O),    // IFM_2500_X
        (64, 5_000, O),    // IFM_5000_KR
        (65, 25_000, C),   // IFM_25G_T
        (66, 25_000, C),   // IFM_25G_CR_S
        (67, 25_000, C),   // IFM_25G_CR1
        (68, 25_000, O),   // IFM_25G_KR_S
        (69, 5_000, O),    // IFM_5000_KR_S
        (70, 5_000, O),    // IFM_5000_KR1
        (71, 25_000, O),   // IFM_25G_AUI
        (72, 40_000, O),   // IFM_40G_XLAUI
        (73, 40_000, O),   // IFM_40G_XLAUI_AC
        (74, 40_000, F),   // IFM_40G_ER4
        (75, 50_000, F),   // IFM_50G_SR2
        (76, 50_000, F),   // IFM_50G_LR2
        (77, 50_000, O),   // IFM_50G_LAUI2_AC
        (78, 50_000, O),   // IFM_50G_LAUI2
        (79, 50_000, O),   // IFM_50G_AUI2_AC
        (80, 50_000, O),   // IFM_50G_AUI2
        (81, 50_000, C),   // IFM_50G_CP
        (82, 50_000, F),   // IFM_50G_SR
        (83, 50_000, F),   // IFM_50G_LR
        (84, 50_000, F),   // IFM_50G_FR
        (85, 50_000, O),   // IFM_50G_KR_PAM4
        (86, 25_000, O),   // IFM_25G_KR1
        (87, 50_000, O),   // IFM_50G_AUI1_AC
        (88, 50_000, O),   // IFM_50G_AUI1
        (89, 100_000, O),  // IFM_100G_CAUI4_AC
        (90, 100_000, O),  // IFM_100G_CAUI4
        (91, 100_000, O),  // IFM_100G_AUI4_AC
        (92, 100_000, O),  // IFM_100G_AUI4
        (93, 100_000, C),  // IFM_100G_CR_PAM4
        (94, 100_000, O),  // IFM_100G_KR_PAM4
        (95, 100_000, C),  // IFM_100G_CP2
        (96, 100_000, F),  // IFM_100G_SR2
        (97, 100_000, F),  // IFM_100G_DR
        (98, 100_000, O),  // IFM_100G_KR2_PAM4
        (99, 100_000, O),  // IFM_100G_CAUI2_AC
        (100, 100_000, O), // IFM_100G_CAUI2
        (101, 100_000, O), // IFM_100G_AUI2_AC
        (102, 100_000, O), // IFM_100G_AUI2
        (103, 200_000, C), // IFM_200G_CR4_PAM4
        (104, 200_000, F), // IFM_200G_SR4
        (105, 200_000, F), // IFM_200G_FR4
        (106, 200_000, F), // IFM_200G_LR4
        (107, 200_000, F), // IFM_200G_DR4
        (108, 200_000, O), // IFM_200G_KR4_PAM4
        (109, 200_000, O), // IFM_200G_AUI4_AC
        (110, 200_000, O), // IFM_200G_AUI4
        (111, 200_000, O), // IFM_200G_AUI8_AC
        (112, 200_000, O), // IFM_200G_AUI8
        (113, 400_000, F), // IFM_400G_FR8
        (114, 400_000, F), // IFM_400G_LR8
        (115, 400_000, F), // IFM_400G_DR4
        (116, 400_000, O), // IFM_400G_AUI8_AC
        (117, 400_000, O), // IFM_400G_AUI8
    ]
};

fn lookup(word: u32) -> Option<(u64, Medium)> {
    if !is_ether(word) {
        return None;
    }
    let sub = ether_subtype(word);
    ETHER_SUBTYPES
        .iter()
        .find(|&&(s, _, _)| s == sub)
        .map(|&(_, mbps, medium)| (mbps, medium))
}

/// Duplex of a word: `IFM_HDX` is half; `IFM_FDX` is full; neither is
/// full for 10 Gb/s and faster (only full exists) and unknown otherwise.
fn duplex_of(word: u32, mbps: u64) -> Option<Duplex> {
    if word & IFM_HDX != 0 {
        Some(Duplex::Half)
    } else if word & IFM_FDX != 0 || mbps >= 10_000 {
        Some(Duplex::Full)
    } else {
        None
    }
}

/// Speed and duplex of an Ethernet media word (normally `ifm_active`);
/// `None` for autoselect, "none", unknown subtypes and other network
/// types.
pub fn speed(word: u32) -> Option<LinkSpeed> {
    let (mbps, _) = lookup(word)?;
    Some(LinkSpeed {
        mbps,
        duplex: duplex_of(word, mbps),
    })
}

/// Feature bits of one media word: the speed bit (half duplex only with
/// `IFM_HDX`; a word without either duplex flag counts as full, as the C
/// backend did), the medium, `AUTONEG` for autoselect and the pause bits.
pub fn features(word: u32) -> Features {
    if !is_ether(word) {
        return Features::empty();
    }
    let mut f = Features::empty();
    if ether_subtype(word) == IFM_AUTO {
        f |= Features::AUTONEG;
    } else if let Some((mbps, medium)) = lookup(word) {
        let duplex = if word & IFM_HDX != 0 {
            Duplex::Half
        } else {
            Duplex::Full
        };
        f |= Features::from_speed(mbps, duplex);
        f |= match medium {
            Medium::Copper => Features::COPPER,
            Medium::Fiber => Features::FIBER,
            Medium::Other => Features::empty(),
        };
    }
    // Pause options sit in the Ethernet type-specific bits and IFM_FLOW.
    if word & (IFM_FLOW | IFM_ETH_RXPAUSE) != 0 {
        f |= Features::PAUSE;
    }
    if word & IFM_ETH_TXPAUSE != 0 && word & IFM_ETH_RXPAUSE == 0 {
        f |= Features::PAUSE_ASYM;
    }
    f
}

/// The feature set from one `SIOCGIFMEDIA` answer: `current` from
/// `ifm_active`, `advertised` from `ifm_current` (autoselect advertises
/// everything supported), `supported` from the list; the peer's is not
/// reported by FreeBSD. `speed` is the active word's exact speed.
pub fn feature_set(active: u32, current: u32, supported: &[u32]) -> FeatureSet {
    let supported = supported
        .iter()
        .fold(Features::empty(), |acc, &w| acc | features(w));
    let mut advertised = features(current);
    if is_ether(current) && ether_subtype(current) == IFM_AUTO {
        advertised |= supported;
    }
    FeatureSet {
        current: features(active),
        advertised,
        supported,
        peer: Features::empty(),
        speed: speed(active),
    }
}

/// Most media words a device is believed to list. Real drivers list a
/// few dozen; a count beyond this is a bogus answer, not a reason to
/// allocate gigabytes.
pub const MAX_MEDIA_WORDS: usize = 4096;

/// The length of the buffer for the second `SIOCGIFMEDIA` call, from the
/// first call's `ifm_count`: an error if negative or beyond
/// [`MAX_MEDIA_WORDS`].
pub fn media_list_len(first_count: i32) -> Result<usize, WireError> {
    match usize::try_from(first_count) {
        Ok(n) if n <= MAX_MEDIA_WORDS => Ok(n),
        _ => Err(WireError::Invalid {
            what: "SIOCGIFMEDIA ifm_count",
            detail: format!("{first_count} media words (at most {MAX_MEDIA_WORDS} accepted)"),
        }),
    }
}

/// What the second call filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaWords<'a> {
    /// The words the kernel wrote (a prefix of the buffer).
    pub words: &'a [u32],
    /// The device lists more than the buffer held (media added between
    /// the two calls): `words` is a truncated list.
    pub truncated: bool,
}

/// The valid part of the buffer after the second `SIOCGIFMEDIA` call.
/// The kernel copies at most the buffer's length of words and sets
/// `ifm_count` to how many the device has, which may now be more: only
/// `min(second_count, buf.len())` words are read, and a larger count is
/// reported as truncation instead of reading past the buffer. A negative
/// count is an error.
pub fn received_words(buf: &[u32], second_count: i32) -> Result<MediaWords<'_>, WireError> {
    let n = usize::try_from(second_count).map_err(|_| WireError::Invalid {
        what: "SIOCGIFMEDIA ifm_count",
        detail: format!("negative count {second_count} on the second call"),
    })?;
    let k = n.min(buf.len());
    Ok(MediaWords {
        words: &buf[..k],
        truncated: n > buf.len(),
    })
}
