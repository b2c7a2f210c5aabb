//! Interface flags.

use bitflags::bitflags;

bitflags! {
    /// Interface flags, a portable subset of `IFF_*`.
    ///
    /// The bit values are this crate's own (they differ between Linux and
    /// FreeBSD); backends translate. `UP` and `PROMISC` are the ones callers
    /// set through [`crate::Netdev::update_flags`]; the others are reported.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct Flags: u32 {
        /// Administratively up (`IFF_UP`).
        const UP = 1 << 0;
        /// Receives all frames (`IFF_PROMISC`).
        const PROMISC = 1 << 1;
        /// A loopback device (`IFF_LOOPBACK`).
        const LOOPBACK = 1 << 2;
        /// Operationally up: resources allocated, carrier present
        /// (`IFF_RUNNING`).
        const RUNNING = 1 << 3;
        /// Broadcast address valid (`IFF_BROADCAST`).
        const BROADCAST = 1 << 4;
        /// Supports multicast (`IFF_MULTICAST`).
        const MULTICAST = 1 << 5;
        /// Point-to-point link (`IFF_POINTOPOINT`).
        const POINTOPOINT = 1 << 6;
        /// No ARP (`IFF_NOARP`).
        const NOARP = 1 << 7;
        /// Receives all multicast frames (`IFF_ALLMULTI`).
        const ALLMULTI = 1 << 8;
        /// Driver signals L1 up (Linux `IFF_LOWER_UP`).
        const LOWER_UP = 1 << 9;
        /// Driver signals dormant (Linux `IFF_DORMANT`).
        const DORMANT = 1 << 10;
    }
}

impl Flags {
    /// The flags a caller may change with `update_flags`; the rest describe
    /// the device and are read-only.
    pub const SETTABLE: Flags = Flags::UP.union(Flags::PROMISC).union(Flags::ALLMULTI);

    /// Lower-case names of the set flags, for display (`"up,promisc"`).
    pub fn names(&self) -> String {
        let names: Vec<String> = self
            .iter_names()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect();
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_and_ordered() {
        assert_eq!((Flags::PROMISC | Flags::UP).names(), "up,promisc");
        assert_eq!(Flags::empty().names(), "");
        assert!(Flags::SETTABLE.contains(Flags::UP));
        assert!(!Flags::SETTABLE.contains(Flags::RUNNING));
    }
}
