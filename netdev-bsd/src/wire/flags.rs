//! FreeBSD `IFF_*` interface flags ↔ [`netdev_core::Flags`], and the split
//! of the 32 flag bits over `struct ifreq`'s two shorts.
//!
//! Promiscuous mode has two bits on FreeBSD: `IFF_PROMISC` says the device
//! is promiscuous now (the kernel sets it while anyone asked, `tcpdump`'s
//! BPF included), `IFF_PPROMISC` is the user's persistent request, the only
//! one `SIOCSIFFLAGS` honours. Reading, either means [`Flags::PROMISC`];
//! writing, [`Flags::PROMISC`] sets both (as the C seed did) and clearing it
//! clears both, so a request survives the last BPF listener going away and
//! a clear is not undone by the stale `IFF_PROMISC` bit written back.

use netdev_core::Flags;

use super::layout::{
    IFF_ALLMULTI, IFF_BROADCAST, IFF_LOOPBACK, IFF_MULTICAST, IFF_NOARP, IFF_POINTOPOINT,
    IFF_PPROMISC, IFF_PROMISC, IFF_RUNNING, IFF_UP,
};

/// One-to-one pairs; `PROMISC` is handled apart (two FreeBSD bits).
const PAIRS: [(u32, Flags); 8] = [
    (IFF_UP, Flags::UP),
    (IFF_BROADCAST, Flags::BROADCAST),
    (IFF_LOOPBACK, Flags::LOOPBACK),
    (IFF_POINTOPOINT, Flags::POINTOPOINT),
    (IFF_RUNNING, Flags::RUNNING),
    (IFF_NOARP, Flags::NOARP),
    (IFF_ALLMULTI, Flags::ALLMULTI),
    (IFF_MULTICAST, Flags::MULTICAST),
];

/// The core flags a FreeBSD flag word (`SIOCGIFFLAGS`, `ifm_flags`,
/// `ifmd_flags`) holds. Bits without a core counterpart are ignored.
pub fn from_iff(iff: u32) -> Flags {
    let mut flags = Flags::empty();
    for (bit, flag) in PAIRS {
        if iff & bit != 0 {
            flags |= flag;
        }
    }
    if iff & (IFF_PROMISC | IFF_PPROMISC) != 0 {
        flags |= Flags::PROMISC;
    }
    flags
}

/// The FreeBSD bits for `flags`: [`Flags::PROMISC`] becomes `IFF_PROMISC |
/// IFF_PPROMISC`. `LOWER_UP` and `DORMANT` (Linux only) have none.
pub fn to_iff(flags: Flags) -> u32 {
    let mut iff = 0;
    for (bit, flag) in PAIRS {
        if flags.contains(flag) {
            iff |= bit;
        }
    }
    if flags.contains(Flags::PROMISC) {
        iff |= IFF_PROMISC | IFF_PPROMISC;
    }
    iff
}

/// The flag word to write back with `SIOCSIFFLAGS` after turning `off` off
/// and `on` on in `current` (as read with `SIOCGIFFLAGS`). Only the
/// [`Flags::SETTABLE`] flags change; every other bit of `current` (driver
/// bits, `IFF_LINK0`...) is kept as it was.
pub fn update_iff(current: u32, off: Flags, on: Flags) -> u32 {
    let off = to_iff(off & Flags::SETTABLE);
    let on = to_iff(on & Flags::SETTABLE);
    (current & !off) | on
}

/// `struct ifreq`'s `[ifr_flags, ifr_flagshigh]` for a 32-bit flag word:
/// the low and the high 16 bits, as the C `short`s `libc` declares.
pub fn split_ifr_flags(iff: u32) -> [i16; 2] {
    // Reinterpreting each half as a C short is the intent (bit 15 is
    // IFF_MULTICAST, which makes `ifr_flags` negative).
    let lo = (iff & 0xffff) as u16;
    let hi = (iff >> 16) as u16;
    [lo as i16, hi as i16]
}

/// The 32-bit flag word from `struct ifreq`'s `[ifr_flags,
/// ifr_flagshigh]`. Each short is taken as 16 raw bits: sign-extending
/// `ifr_flags` would smear `IFF_MULTICAST` over the high half.
pub fn join_ifr_flags(shorts: [i16; 2]) -> u32 {
    u32::from(shorts[0] as u16) | (u32::from(shorts[1] as u16) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_round_trips() {
        for (bit, flag) in PAIRS {
            assert_eq!(from_iff(bit), flag);
            assert_eq!(to_iff(flag), bit);
        }
        assert_eq!(to_iff(Flags::LOWER_UP | Flags::DORMANT), 0);
    }

    #[test]
    fn promisc_is_either_bit_and_writes_both() {
        assert_eq!(from_iff(IFF_PROMISC), Flags::PROMISC);
        assert_eq!(from_iff(IFF_PPROMISC), Flags::PROMISC);
        assert_eq!(to_iff(Flags::PROMISC), IFF_PROMISC | IFF_PPROMISC);
        // Clearing removes both, so the kernel sees no request left.
        let cur = IFF_UP | IFF_PROMISC | IFF_PPROMISC | 0x1000;
        assert_eq!(
            update_iff(cur, Flags::PROMISC, Flags::empty()),
            IFF_UP | 0x1000
        );
    }

    #[test]
    fn update_keeps_unrelated_bits_and_ignores_read_only() {
        let cur = IFF_BROADCAST | IFF_RUNNING | IFF_MULTICAST | 0x0040_0000;
        let new = update_iff(cur, Flags::RUNNING, Flags::UP | Flags::LOOPBACK);
        assert_eq!(new, cur | IFF_UP);
        assert_eq!(update_iff(new, Flags::UP, Flags::empty()), cur);
    }

    #[test]
    fn ifreq_split_and_join() {
        let iff = IFF_UP | IFF_MULTICAST | IFF_PPROMISC;
        let [lo, hi] = split_ifr_flags(iff);
        assert!(lo < 0, "IFF_MULTICAST is bit 15 of ifr_flags");
        assert_eq!(hi, 2);
        assert_eq!(join_ifr_flags([lo, hi]), iff);
        assert_eq!(join_ifr_flags([-1, 0]), 0xffff);
        for iff in [0, u32::MAX, 0x8000_8000, 0x1234_5678] {
            assert_eq!(join_ifr_flags(split_ifr_flags(iff)), iff);
        }
    }
}
