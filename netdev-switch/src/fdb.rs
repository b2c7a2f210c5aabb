//! The MAC learning table of one bridge: source addresses per VLAN, the
//! port each was last seen on, aged out after a configurable time.

use std::collections::HashMap;
use std::time::Duration;

use netdev::EthAddr;

/// A port number within one bridge.
pub type PortNo = u16;

#[derive(Debug, Clone, Copy)]
struct Slot {
    port: PortNo,
    seen: Duration,
}

/// What [`MacTable::learn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// A new entry.
    New,
    /// The address was on another port and moved here.
    Moved {
        /// Where it was.
        from: PortNo,
    },
    /// Already known on this port; its age restarts.
    Refreshed,
}

/// One entry, as listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacEntry {
    /// VLAN (0: untagged).
    pub vlan: u16,
    /// Address.
    pub mac: EthAddr,
    /// Port it was last seen on.
    pub port: PortNo,
    /// Time since it was last seen.
    pub age: Duration,
}

/// The table. Entries older than the ageing time are treated as absent at
/// once (lookups check the age), and removed by [`MacTable::expire`].
#[derive(Debug)]
pub struct MacTable {
    map: HashMap<u64, Slot>,
    ageing: Duration,
    max_entries: usize,
}

fn key(vlan: u16, mac: EthAddr) -> u64 {
    let m = mac.0;
    u64::from(vlan & 0x0fff) << 48 | u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]])
}

fn unkey(k: u64) -> (u16, EthAddr) {
    let b = k.to_be_bytes();
    (
        (k >> 48) as u16,
        EthAddr([b[2], b[3], b[4], b[5], b[6], b[7]]),
    )
}

impl MacTable {
    /// An empty table that forgets an address `ageing` after it was last
    /// seen and holds at most `max_entries` (at least 1; when full, the
    /// oldest entry makes room).
    pub fn new(ageing: Duration, max_entries: usize) -> MacTable {
        MacTable {
            map: HashMap::new(),
            ageing,
            max_entries: max_entries.max(1),
        }
    }

    /// The ageing time.
    pub fn ageing(&self) -> Duration {
        self.ageing
    }

    /// Changes the ageing time (takes effect for every entry at once).
    pub fn set_ageing(&mut self, ageing: Duration) {
        self.ageing = ageing;
    }

    fn live(&self, slot: &Slot, now: Duration) -> bool {
        now.saturating_sub(slot.seen) < self.ageing
    }

    /// Records that `mac` was seen on `port` in `vlan` at `now`.
    pub fn learn(&mut self, vlan: u16, mac: EthAddr, port: PortNo, now: Duration) -> Learned {
        let k = key(vlan, mac);
        if let Some(slot) = self.map.get_mut(&k) {
            let was_live = now.saturating_sub(slot.seen) < self.ageing;
            let from = slot.port;
            slot.seen = now;
            slot.port = port;
            return match (was_live, from == port) {
                (true, true) => Learned::Refreshed,
                (true, false) => Learned::Moved { from },
                (false, _) => Learned::New,
            };
        }
        if self.map.len() >= self.max_entries {
            self.expire(now);
        }
        if self.map.len() >= self.max_entries {
            self.evict_oldest();
        }
        self.map.insert(k, Slot { port, seen: now });
        Learned::New
    }

    /// Makes room in a table full of live entries by forgetting the least
    /// recently seen sixteenth at once. One at a time would cost a scan of
    /// the whole table per new address, which a flood of random source
    /// addresses (an attack, or a loop) turns into a scan per frame; in
    /// bulk it is one scan per `max_entries / 16` new addresses, and
    /// cheaper than keeping an LRU list current on every frame.
    fn evict_oldest(&mut self) {
        let mut seen: Vec<Duration> = self.map.values().map(|s| s.seen).collect();
        if seen.is_empty() {
            return;
        }
        let k = (seen.len() / 16).min(seen.len() - 1);
        let (_, cut, _) = seen.select_nth_unstable(k);
        let cut = *cut;
        self.map.retain(|_, s| s.seen > cut);
    }

    /// The port `mac` was last seen on in `vlan`, unless it aged out.
    pub fn lookup(&self, vlan: u16, mac: EthAddr, now: Duration) -> Option<PortNo> {
        let slot = self.map.get(&key(vlan, mac))?;
        self.live(slot, now).then_some(slot.port)
    }

    /// Removes the entries that aged out; returns how many.
    pub fn expire(&mut self, now: Duration) -> usize {
        let before = self.map.len();
        let ageing = self.ageing;
        self.map.retain(|_, s| now.saturating_sub(s.seen) < ageing);
        before - self.map.len()
    }

    /// Forgets every address learned on `port` (removed, or gone down).
    pub fn flush_port(&mut self, port: PortNo) {
        self.map.retain(|_, s| s.port != port);
    }

    /// Forgets everything.
    pub fn flush(&mut self) {
        self.map.clear();
    }

    /// How many entries are stored (aged ones not yet expired included).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live entries, sorted by port, then VLAN, then address: a stable
    /// order for paging.
    pub fn entries(&self, now: Duration) -> Vec<MacEntry> {
        let mut v: Vec<MacEntry> = self
            .map
            .iter()
            .filter(|(_, s)| self.live(s, now))
            .map(|(k, s)| {
                let (vlan, mac) = unkey(*k);
                MacEntry {
                    vlan,
                    mac,
                    port: s.port,
                    age: now.saturating_sub(s.seen),
                }
            })
            .collect();
        v.sort_by_key(|e| (e.port, e.vlan, e.mac.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: EthAddr = EthAddr([2, 0, 0, 0, 0, 0xa]);
    const B: EthAddr = EthAddr([2, 0, 0, 0, 0, 0xb]);
    const S: Duration = Duration::from_secs(1);

    #[test]
    fn learns_moves_and_ages() {
        let mut t = MacTable::new(300 * S, 100);
        assert_eq!(t.learn(0, A, 1, S), Learned::New);
        assert_eq!(t.learn(0, A, 1, 2 * S), Learned::Refreshed);
        assert_eq!(t.lookup(0, A, 3 * S), Some(1));
        assert_eq!(t.lookup(5, A, 3 * S), None, "per VLAN");
        assert_eq!(t.learn(0, A, 2, 4 * S), Learned::Moved { from: 1 });
        assert_eq!(t.lookup(0, A, 4 * S), Some(2));
        assert_eq!(t.lookup(0, A, 303 * S), Some(2));
        assert_eq!(t.lookup(0, A, 304 * S), None, "aged out at exactly 300 s");
        assert_eq!(
            t.learn(0, A, 3, 305 * S),
            Learned::New,
            "an aged entry is new"
        );
        assert_eq!(t.expire(1000 * S), 1);
        assert!(t.is_empty());
    }

    #[test]
    fn full_table_evicts_the_oldest() {
        let mut t = MacTable::new(300 * S, 2);
        t.learn(0, A, 1, S);
        t.learn(0, B, 1, 2 * S);
        t.learn(1, A, 1, 3 * S);
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(0, A, 3 * S), None, "oldest evicted");
        assert_eq!(t.lookup(0, B, 3 * S), Some(1));
        assert_eq!(t.lookup(1, A, 3 * S), Some(1));
    }

    #[test]
    fn a_flood_of_new_addresses_keeps_the_table_bounded_and_recent() {
        let mut t = MacTable::new(300 * S, 1024);
        let mac = |i: u32| {
            let b = i.to_be_bytes();
            EthAddr([2, 0, b[0], b[1], b[2], b[3]])
        };
        // A station that keeps talking survives the flood.
        for i in 0..100_000u32 {
            let now = Duration::from_micros(u64::from(i));
            t.learn(0, mac(i), 2, now);
            if i % 64 == 0 {
                t.learn(0, A, 1, now);
            }
            assert!(t.len() <= 1024);
        }
        let end = Duration::from_micros(100_000);
        assert_eq!(t.lookup(0, A, end), Some(1));
        assert_eq!(t.lookup(0, mac(99_999), end), Some(2), "the newest is kept");
        assert_eq!(t.lookup(0, mac(0), end), None, "the oldest went");
        assert!(
            t.len() > 1024 - 1024 / 16 - 1,
            "only about a sixteenth at a time"
        );
    }

    #[test]
    fn entries_are_sorted_and_flush_port() {
        let mut t = MacTable::new(300 * S, 10);
        t.learn(7, B, 2, S);
        t.learn(0, B, 1, S);
        t.learn(0, A, 2, 2 * S);
        let e = t.entries(3 * S);
        let order: Vec<_> = e.iter().map(|e| (e.port, e.vlan, e.mac)).collect();
        assert_eq!(order, vec![(1, 0, B), (2, 0, A), (2, 7, B)]);
        assert_eq!(e[0].age, 2 * S);
        t.flush_port(2);
        assert_eq!(t.entries(3 * S).len(), 1);
    }

    #[test]
    fn key_round_trips() {
        let mac = EthAddr([0xfe, 1, 2, 3, 4, 0xff]);
        assert_eq!(unkey(key(4095, mac)), (4095, mac));
    }
}
