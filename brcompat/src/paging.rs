//! The forwarding-database tables a reader is paging through, shared by
//! the FDB sources ([`crate::embedded::SwitchFdb`],
//! [`crate::ovs::OvsFdb`]).
//!
//! A query with `skip > 0` continues from the table its first page read,
//! so reading N entries in pages costs one read of the table, not one per
//! page (the seed daemon re-read everything for every page: quadratic,
//! and with Open vSwitch one `ovs-appctl` process per page), and the pages
//! do not skip or repeat entries that moved meanwhile.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::store::FdbEntry;

/// How long a paged read may keep reading the table its first page took.
pub(crate) const SNAPSHOT_TTL: Duration = Duration::from_secs(5);

/// Tables by bridge and VLAN, each with when it was read.
#[derive(Debug, Default)]
pub(crate) struct FdbPages {
    snapshots: Mutex<HashMap<(String, u16), Snapshot>>,
}

#[derive(Debug)]
struct Snapshot {
    taken: Instant,
    entries: Arc<Vec<FdbEntry>>,
}

impl FdbPages {
    /// The entries of `bridge` on `vlan` that a query with `skip` and `max`
    /// returns: the page of [`FdbPages::table`].
    pub(crate) fn entries(
        &self,
        bridge: &str,
        vlan: u16,
        skip: usize,
        max: usize,
        read: impl FnOnce() -> io::Result<Vec<FdbEntry>>,
    ) -> io::Result<Vec<FdbEntry>> {
        let table = self.table(bridge, vlan, skip, read)?;
        Ok(Self::page(&table, skip, max))
    }

    /// The table of `bridge` on `vlan`: for a first page (`skip == 0`), or
    /// when the first page's table is gone or older than [`SNAPSHOT_TTL`],
    /// a fresh one from `read` (which returns the entries of `vlan`); for
    /// the next pages, the one the first page took.
    fn table(
        &self,
        bridge: &str,
        vlan: u16,
        skip: usize,
        read: impl FnOnce() -> io::Result<Vec<FdbEntry>>,
    ) -> io::Result<Arc<Vec<FdbEntry>>> {
        let key = (bridge.to_owned(), vlan);
        let now = Instant::now();
        let mut snaps = self.snapshots.lock();
        snaps.retain(|_, s| now.duration_since(s.taken) < SNAPSHOT_TTL);
        if skip > 0 {
            if let Some(s) = snaps.get(&key) {
                return Ok(s.entries.clone());
            }
        }
        // Not held while reading: a slow source must not block readers of
        // other bridges.
        drop(snaps);
        let entries = Arc::new(read()?);
        self.snapshots.lock().insert(
            key,
            Snapshot {
                taken: now,
                entries: entries.clone(),
            },
        );
        Ok(entries)
    }

    /// `table`'s page: `skip` entries skipped, at most `max` returned.
    fn page(table: &[FdbEntry], skip: usize, max: usize) -> Vec<FdbEntry> {
        table.iter().skip(skip).take(max).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn entry(port: u16) -> FdbEntry {
        FdbEntry {
            mac: [2, 0, 0, 0, 0, port as u8].into(),
            port,
            vlan: 0,
            age: Duration::ZERO,
            is_local: false,
        }
    }

    #[test]
    fn one_read_per_paged_pass() {
        let pages = FdbPages::default();
        let reads = Cell::new(0);
        let read = |n: u16| {
            reads.set(reads.get() + 1);
            Ok((0..n).map(entry).collect())
        };
        let first = pages.table("br0", 0, 0, || read(5)).unwrap();
        assert_eq!(FdbPages::page(&first, 0, 2).len(), 2);
        // The next pages read the first page's table, even if it changed.
        let next = pages.table("br0", 0, 2, || read(9)).unwrap();
        assert_eq!(FdbPages::page(&next, 2, 2)[1].port, 3);
        assert_eq!(FdbPages::page(&next, 4, 2).len(), 1);
        assert_eq!(reads.get(), 1);
        // Another VLAN, or a new first page, reads again.
        pages.table("br0", 5, 2, || read(1)).unwrap();
        let again = pages.table("br0", 0, 0, || read(9)).unwrap();
        assert_eq!(again.len(), 9);
        assert_eq!(reads.get(), 3);
    }

    #[test]
    fn a_failed_read_is_not_kept() {
        let pages = FdbPages::default();
        let e = pages
            .table("br0", 0, 0, || Err(io::Error::from_raw_os_error(libc::EIO)))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        let t = pages.table("br0", 0, 1, || Ok(vec![entry(1)])).unwrap();
        assert_eq!(t.len(), 1);
    }
}
