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
        (118, 50_000, O),  // IFM_50G_KR4
        (119, 40_000, F),  // IFM_40G_LM4
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

/// Ethernet subtype numbers → the names `ifconfig` prints, copied from
/// `IFM_SUBTYPE_ETHERNET_DESCRIPTIONS` in `<net/if_media.h>` (FreeBSD 14,
/// subtypes 3 to 119; 0 to 2 are the shared ones).
const ETHER_SUBTYPE_NAMES: &[(u32, &str)] = &[
    (3, "10baseT/UTP"),
    (4, "10base2/BNC"),
    (5, "10base5/AUI"),
    (6, "100baseTX"),
    (7, "100baseFX"),
    (8, "100baseT4"),
    (9, "100baseVG"),
    (10, "100baseT2"),
    (11, "1000baseSX"),
    (12, "10baseSTP"),
    (13, "10baseFL"),
    (14, "1000baseLX"),
    (15, "1000baseCX"),
    (16, "1000baseT"),
    (17, "homePNA"),
    (18, "10Gbase-LR"),
    (19, "10Gbase-SR"),
    (20, "10Gbase-CX4"),
    (21, "2500BaseSX"),
    (22, "10Gbase-Twinax"),
    (23, "10Gbase-Twinax-Long"),
    (24, "10Gbase-LRM"),
    (25, "Unknown"),
    (26, "10Gbase-T"),
    (27, "40Gbase-CR4"),
    (28, "40Gbase-SR4"),
    (29, "40Gbase-LR4"),
    (30, "1000Base-KX"),
    (31, "Other"),
    (32, "10GBase-KX4"),
    (33, "10GBase-KR"),
    (34, "10GBase-CR1"),
    (35, "20GBase-KR2"),
    (36, "2500Base-KX"),
    (37, "2500Base-T"),
    (38, "5000Base-T"),
    (39, "PCIExpress-50G"),
    (40, "PCIExpress-25G"),
    (41, "1000Base-SGMII"),
    (42, "10GBase-SFI"),
    (43, "40GBase-XLPPI"),
    (44, "1000Base-CX-SGMII"),
    (45, "40GBase-KR4"),
    (46, "10GBase-ER"),
    (47, "100GBase-CR4"),
    (48, "100GBase-SR4"),
    (49, "100GBase-KR4"),
    (50, "100GBase-LR4"),
    (51, "56GBase-R4"),
    (52, "100BaseT"),
    (53, "25GBase-CR"),
    (54, "25GBase-KR"),
    (55, "25GBase-SR"),
    (56, "50GBase-CR2"),
    (57, "50GBase-KR2"),
    (58, "25GBase-LR"),
    (59, "10GBase-AOC"),
    (60, "25GBase-ACC"),
    (61, "25GBase-AOC"),
    (62, "100M-SGMII"),
    (63, "2500Base-X"),
    (64, "5000Base-KR"),
    (65, "25GBase-T"),
    (66, "25GBase-CR-S"),
    (67, "25GBase-CR1"),
    (68, "25GBase-KR-S"),
    (69, "5000Base-KR-S"),
    (70, "5000Base-KR1"),
    (71, "25G-AUI"),
    (72, "40G-XLAUI"),
    (73, "40G-XLAUI-AC"),
    (74, "40GBase-ER4"),
    (75, "50GBase-SR2"),
    (76, "50GBase-LR2"),
    (77, "50G-LAUI2-AC"),
    (78, "50G-LAUI2"),
    (79, "50G-AUI2-AC"),
    (80, "50G-AUI2"),
    (81, "50GBase-CP"),
    (82, "50GBase-SR"),
    (83, "50GBase-LR"),
    (84, "50GBase-FR"),
    (85, "50GBase-KR-PAM4"),
    (86, "25GBase-KR1"),
    (87, "50G-AUI1-AC"),
    (88, "50G-AUI1"),
    (89, "100G-CAUI4-AC"),
    (90, "100G-CAUI4"),
    (91, "100G-AUI4-AC"),
    (92, "100G-AUI4"),
    (93, "100GBase-CR-PAM4"),
    (94, "100GBase-KR-PAM4"),
    (95, "100GBase-CP2"),
    (96, "100GBase-SR2"),
    (97, "100GBase-DR"),
    (98, "100GBase-KR2-PAM4"),
    (99, "100G-CAUI2-AC"),
    (100, "100G-CAUI2"),
    (101, "100G-AUI2-AC"),
    (102, "100G-AUI2"),
    (103, "200GBase-CR4-PAM4"),
    (104, "200GBase-SR4"),
    (105, "200GBase-FR4"),
    (106, "200GBase-LR4"),
    (107, "200GBase-DR4"),
    (108, "200GBase-KR4-PAM4"),
    (109, "200G-AUI4-AC"),
    (110, "200G-AUI4"),
    (111, "200G-AUI8-AC"),
    (112, "200G-AUI8"),
    (113, "400GBase-FR8"),
    (114, "400GBase-LR8"),
    (115, "400GBase-DR4"),
    (116, "400G-AUI8-AC"),
    (117, "400G-AUI8"),
    (118, "50GBase-KR4"),
    (119, "40GBase-LM4"),
];

/// `IFM_IEEE80211`: network type 802.11.
const IFM_IEEE80211: u32 = 0x80;
/// `IFM_ATM`: network type ATM.
const IFM_ATM: u32 = 0xa0;
/// `IFM_IMASK` and `IFM_ISHIFT`: the instance number.
const IFM_IMASK: u32 = 0xf000_0000;
const IFM_ISHIFT: u32 = 28;

/// Global options (`IFM_SHARED_OPTION_DESCRIPTIONS`), in the order
/// `ifconfig` prints them.
const SHARED_OPTIONS: &[(u32, &str)] = &[
    (IFM_FDX, "full-duplex"),
    (IFM_HDX, "half-duplex"),
    (IFM_FLOW, "flowcontrol"),
    (0x0100_0000, "flag0"),
    (0x0200_0000, "flag1"),
    (0x0400_0000, "flag2"),
    (0x0800_0000, "hw-loopback"),
];

/// Ethernet options (`IFM_SUBTYPE_ETHERNET_OPTION_DESCRIPTIONS`).
const ETHER_OPTIONS: &[(u32, &str)] = &[
    (0x100, "master"),
    (IFM_ETH_RXPAUSE, "rxpause"),
    (IFM_ETH_TXPAUSE, "txpause"),
];

/// The network type's name (`IFM_TYPE_DESCRIPTIONS`).
fn type_name(word: u32) -> Option<&'static str> {
    match word & IFM_NMASK {
        IFM_ETHER => Some("Ethernet"),
        IFM_IEEE80211 => Some("IEEE 802.11 Wireless Ethernet"),
        IFM_ATM => Some("ATM"),
        _ => None,
    }
}

/// The subtype's name: a shared one (autoselect, manual, none), an
/// Ethernet one, or its number for a subtype not in the tables.
fn subtype_name(word: u32) -> String {
    let sub = if is_ether(word) {
        ether_subtype(word)
    } else {
        word & IFM_TMASK
    };
    let shared = match sub {
        IFM_AUTO => Some("autoselect"),
        IFM_MANUAL => Some("manual"),
        IFM_NONE => Some("none"),
        _ => None,
    };
    let ether = || {
        ETHER_SUBTYPE_NAMES
            .iter()
            .find(|&&(n, _)| n == sub)
            .map(|&(_, name)| name)
    };
    match shared.or_else(|| is_ether(word).then(ether).flatten()) {
        Some(name) => name.to_owned(),
        None => format!("subtype {sub}"),
    }
}

/// One media word as `ifconfig` prints it: the network type (with
/// `with_type`), the subtype, options in angle brackets, the instance
/// when not 0. `Ethernet 1000baseT <full-duplex,master>`.
pub fn describe(word: u32, with_type: bool) -> String {
    let mut out = String::new();
    if with_type {
        match type_name(word) {
            Some(t) => out.push_str(t),
            None => out.push_str(&format!("type {:#x}", word & IFM_NMASK)),
        }
        out.push(' ');
    }
    out.push_str(&subtype_name(word));
    let mut opts: Vec<&str> = SHARED_OPTIONS
        .iter()
        .filter(|&&(bit, _)| word & bit != 0)
        .map(|&(_, name)| name)
        .collect();
    if is_ether(word) {
        opts.extend(
            ETHER_OPTIONS
                .iter()
                .filter(|&&(bit, _)| word & bit != 0)
                .map(|&(_, name)| name),
        );
    }
    if !opts.is_empty() {
        out.push_str(&format!(" <{}>", opts.join(",")));
    }
    let instance = (word & IFM_IMASK) >> IFM_ISHIFT;
    if instance != 0 {
        out.push_str(&format!(" instance {instance}"));
    }
    out
}

/// The `media:` line of `ifconfig`: what is configured (`ifm_current`)
/// and, when it differs, what runs now (`ifm_active`) in parentheses.
/// `Ethernet autoselect (1000baseT <full-duplex>)`.
pub fn describe_media(current: u32, active: u32) -> String {
    let mut out = describe(current, true);
    if active != current {
        out.push_str(&format!(" ({})", describe(active, false)));
    }
    out
}

/// The `status:` line of `ifconfig` for `ifm_status`
/// (`IFM_STATUS_DESCRIPTIONS`): `active`, `no carrier` (Ethernet), `no
/// network` (802.11, ATM); `None` when the driver does not report it
/// (`IFM_AVALID` clear) or the type has no description.
pub fn describe_status(word: u32, status: u32) -> Option<&'static str> {
    let up = carrier_from_status(status)?;
    match (word & IFM_NMASK, up) {
        (IFM_ETHER | IFM_IEEE80211 | IFM_ATM, true) => Some("active"),
        (IFM_ETHER, false) => Some("no carrier"),
        (IFM_IEEE80211 | IFM_ATM, false) => Some("no network"),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    const IFM_10_T: u32 = 3;
    const IFM_100_TX: u32 = 6;
    const IFM_1000_SX: u32 = 11;
    const IFM_1000_T: u32 = 16;
    const IFM_10G_SR: u32 = 19;
    const IFM_HPNA_1: u32 = 17;

    /// `IFM_X(n)`: an extended Ethernet subtype as the header encodes it.
    fn ifm_x(n: u32) -> u32 {
        (n & IFM_TMASK) | ((n & (IFM_ETH_XTYPE >> IFM_ETH_XSHIFT)) << IFM_ETH_XSHIFT)
    }

    #[test]
    fn carrier_needs_avalid() {
        assert_eq!(carrier_from_status(IFM_AVALID | IFM_ACTIVE), Some(true));
        assert_eq!(carrier_from_status(IFM_AVALID), Some(false));
        assert_eq!(carrier_from_status(IFM_ACTIVE), None);
        assert_eq!(carrier_from_status(0), None);
        assert!(carrier(0));
        assert!(!carrier(IFM_AVALID));
    }

    #[test]
    fn subtypes_and_extended_subtypes() {
        assert_eq!(ether_subtype(IFM_ETHER | IFM_1000_T | IFM_FDX), 16);
        // IFM_25G_SR = IFM_X(55): 55 & 0x1f = 23, (55 & 0x1e0) << 6 = 0x800.
        assert_eq!(ifm_x(55), 23 | 0x800);
        assert_eq!(ether_subtype(IFM_ETHER | ifm_x(55) | IFM_FDX), 55);
        assert_eq!(ether_subtype(IFM_ETHER | ifm_x(117)), 117);
        // Round trip over the whole table.
        for &(n, _, _) in ETHER_SUBTYPES {
            assert_eq!(ether_subtype(IFM_ETHER | ifm_x(n)), n);
        }
    }

    #[test]
    fn speeds_and_duplex() {
        let w = IFM_ETHER | IFM_1000_T | IFM_FDX;
        assert_eq!(
            speed(w),
            Some(LinkSpeed {
                mbps: 1000,
                duplex: Some(Duplex::Full)
            })
        );
        assert_eq!(
            speed(IFM_ETHER | IFM_10_T | IFM_HDX).unwrap().duplex,
            Some(Duplex::Half)
        );
        assert_eq!(speed(IFM_ETHER | IFM_100_TX).unwrap().duplex, None);
        assert_eq!(
            speed(IFM_ETHER | IFM_10G_SR).unwrap().duplex,
            Some(Duplex::Full)
        );
        assert_eq!(speed(IFM_ETHER | ifm_x(55) | IFM_FDX).unwrap().mbps, 25_000);
        assert_eq!(speed(IFM_ETHER | IFM_AUTO), None);
        assert_eq!(speed(IFM_ETHER | IFM_NONE), None);
        assert_eq!(speed(IFM_ETHER | IFM_HPNA_1), None);
        // IEEE 802.11 words share subtype numbers but are not Ethernet.
        assert_eq!(speed(0x80 | IFM_1000_T), None);
    }

    #[test]
    fn feature_bits() {
        assert_eq!(
            features(IFM_ETHER | IFM_1000_T | IFM_FDX),
            Features::F_1GB_FD | Features::COPPER
        );
        assert_eq!(
            features(IFM_ETHER | IFM_100_TX | IFM_HDX),
            Features::F_100MB_HD | Features::COPPER
        );
        assert_eq!(
            features(IFM_ETHER | IFM_1000_SX),
            Features::F_1GB_FD | Features::FIBER
        );
        assert_eq!(
            features(IFM_ETHER | ifm_x(55) | IFM_FDX),
            Features::OTHER | Features::FIBER
        );
        assert_eq!(features(IFM_ETHER | IFM_AUTO), Features::AUTONEG);
        assert_eq!(
            features(IFM_ETHER | IFM_1000_T | IFM_FDX | IFM_ETH_RXPAUSE | IFM_ETH_TXPAUSE),
            Features::F_1GB_FD | Features::COPPER | Features::PAUSE
        );
        assert_eq!(
            features(IFM_ETHER | IFM_1000_T | IFM_FDX | IFM_ETH_TXPAUSE),
            Features::F_1GB_FD | Features::COPPER | Features::PAUSE_ASYM
        );
        assert_eq!(features(0x80 | IFM_1000_T), Features::empty());
        assert_eq!(features(IFM_ETHER | IFM_HPNA_1), Features::empty());
    }

    #[test]
    fn feature_set_of_an_autoselecting_gigabit_nic() {
        let list = [
            IFM_ETHER | IFM_AUTO,
            IFM_ETHER | IFM_10_T,
            IFM_ETHER | IFM_10_T | IFM_FDX,
            IFM_ETHER | IFM_100_TX | IFM_HDX,
            IFM_ETHER | IFM_100_TX | IFM_FDX,
            IFM_ETHER | IFM_1000_T | IFM_FDX,
        ];
        let fs = feature_set(
            IFM_ETHER | IFM_1000_T | IFM_FDX,
            IFM_ETHER | IFM_AUTO,
            &list,
        );
        assert_eq!(fs.current, Features::F_1GB_FD | Features::COPPER);
        let supported = Features::AUTONEG
            | Features::F_10MB_FD
            | Features::F_100MB_HD
            | Features::F_100MB_FD
            | Features::F_1GB_FD
            | Features::COPPER;
        assert_eq!(fs.supported, supported);
        assert_eq!(fs.advertised, supported);
        assert_eq!(fs.peer, Features::empty());
        assert_eq!(fs.speed.unwrap().mbps, 1000);

        // Forced medium: advertises just that.
        let forced = IFM_ETHER | IFM_100_TX | IFM_FDX;
        let fs = feature_set(forced, forced, &list);
        assert_eq!(fs.advertised, Features::F_100MB_FD | Features::COPPER);
        // No list, no link.
        let fs = feature_set(IFM_ETHER | IFM_NONE, IFM_ETHER | IFM_AUTO, &[]);
        assert_eq!(fs.current, Features::empty());
        assert_eq!(fs.speed, None);
        assert_eq!(fs.advertised, Features::AUTONEG);
    }

    #[test]
    fn media_list_sizing() {
        assert_eq!(media_list_len(0).unwrap(), 0);
        assert_eq!(media_list_len(12).unwrap(), 12);
        assert_eq!(
            media_list_len(MAX_MEDIA_WORDS as i32).unwrap(),
            MAX_MEDIA_WORDS
        );
        assert!(media_list_len(-1).is_err());
        assert!(media_list_len(MAX_MEDIA_WORDS as i32 + 1).is_err());
        assert!(media_list_len(i32::MAX).is_err());

        let buf = [1u32, 2, 3, 4];
        let got = received_words(&buf, 4).unwrap();
        assert_eq!((got.words, got.truncated), (&buf[..], false));
        // Fewer than the buffer: only those are valid.
        let got = received_words(&buf, 2).unwrap();
        assert_eq!((got.words, got.truncated), (&buf[..2], false));
        // More appeared between the calls: truncated, never read past.
        let got = received_words(&buf, 9).unwrap();
        assert_eq!((got.words, got.truncated), (&buf[..], true));
        let got = received_words(&[], i32::MAX).unwrap();
        assert!(got.words.is_empty() && got.truncated);
        assert!(received_words(&buf, -3).is_err());
    }

    #[test]
    fn descriptions_as_ifconfig_prints_them() {
        let auto = IFM_ETHER | IFM_AUTO;
        let gig = IFM_ETHER | IFM_1000_T | IFM_FDX;
        assert_eq!(describe(gig, true), "Ethernet 1000baseT <full-duplex>");
        assert_eq!(
            describe_media(auto, gig),
            "Ethernet autoselect (1000baseT <full-duplex>)"
        );
        // Forced medium: one word, no parentheses.
        assert_eq!(
            describe_media(
                IFM_ETHER | IFM_100_TX | IFM_HDX,
                IFM_ETHER | IFM_100_TX | IFM_HDX
            ),
            "Ethernet 100baseTX <half-duplex>"
        );
        // Shared options first, then the Ethernet ones.
        assert_eq!(
            describe(gig | 0x100, false),
            "1000baseT <full-duplex,master>"
        );
        assert_eq!(
            describe(
                IFM_ETHER | ifm_x(26) | IFM_FDX | IFM_ETH_RXPAUSE | IFM_ETH_TXPAUSE,
                false
            ),
            "10Gbase-T <full-duplex,rxpause,txpause>"
        );
        // Extended subtypes by their number across IFM_ETH_XTYPE.
        assert_eq!(
            describe(IFM_ETHER | ifm_x(55) | IFM_FDX, false),
            "25GBase-SR <full-duplex>"
        );
        assert_eq!(describe(IFM_ETHER | ifm_x(119), false), "40GBase-LM4");
        assert_eq!(describe(IFM_ETHER | IFM_NONE, true), "Ethernet none");
        assert_eq!(
            describe(IFM_ETHER | IFM_1000_SX | (2 << 28), false),
            "1000baseSX instance 2"
        );
        // What the tables do not name is numbered, not guessed.
        assert_eq!(describe(IFM_ETHER | ifm_x(200), false), "subtype 200");
        assert_eq!(
            describe(IFM_IEEE80211 | 5, true),
            "IEEE 802.11 Wireless Ethernet subtype 5"
        );
        assert_eq!(describe(0x40 | IFM_AUTO, true), "type 0x40 autoselect");
        // A tap answers IFM_ETHER alone: subtype 0, autoselect.
        assert_eq!(describe_media(IFM_ETHER, IFM_ETHER), "Ethernet autoselect");
    }

    #[test]
    fn every_subtype_with_a_speed_has_a_name() {
        for &(n, _, _) in ETHER_SUBTYPES {
            assert!(
                ETHER_SUBTYPE_NAMES.iter().any(|&(m, _)| m == n),
                "subtype {n} has no name"
            );
        }
        let mut seen = std::collections::HashSet::new();
        for &(n, name) in ETHER_SUBTYPE_NAMES {
            assert!(seen.insert(n), "subtype {n} named twice");
            assert!(!name.contains(' '), "{name}: ifconfig names have no spaces");
        }
    }

    #[test]
    fn status_descriptions() {
        let e = IFM_ETHER | IFM_AUTO;
        assert_eq!(describe_status(e, IFM_AVALID | IFM_ACTIVE), Some("active"));
        assert_eq!(describe_status(e, IFM_AVALID), Some("no carrier"));
        assert_eq!(describe_status(e, IFM_ACTIVE), None, "not valid");
        assert_eq!(
            describe_status(IFM_IEEE80211, IFM_AVALID),
            Some("no network")
        );
        assert_eq!(describe_status(0x40, IFM_AVALID | IFM_ACTIVE), None);
    }
}
