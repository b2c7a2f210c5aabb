//! Change sequence numbers: a per-device counter and a registry-wide one
//! that callers can block on.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

/// A counter bumped on every observed change of one device. Starts at 1 and
/// is never 0, so 0 can mean "never seen" to callers.
#[derive(Debug)]
pub(crate) struct ChangeSeq(AtomicU64);

impl ChangeSeq {
    pub(crate) fn new() -> ChangeSeq {
        ChangeSeq(AtomicU64::new(1))
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn bump(&self) {
        // Wrapping takes 2^64 changes; skip 0 anyway so the promise holds.
        if self.0.fetch_add(1, Ordering::AcqRel) == u64::MAX {
            self.0.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The registry-wide sequence: bumped whenever any device's is, with a
/// blocking wait. It also holds the registry's other words that every
/// applied change uses, `applying` and `index_epoch`.
///
/// One cache line (aligned): every applied change writes it, so whoever
/// applies the next change fetches it, from another CPU if the notifier
/// thread applied the last one there. Everything else the registry keeps
/// for applying a change is only read there, or in this line.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct GlobalSeq {
    /// The value, readable and written without the lock.
    value: AtomicU64,
    /// Taken shared around each batch of changes applied (by the notifier
    /// thread or a waiting caller), and exclusively by
    /// `Registry::hold_changes`.
    pub(crate) applying: RwLock<()>,
    /// Bumped whenever the registry's index map maps an index anew or
    /// forgets one: see `registry::IndexHint`.
    pub(crate) index_epoch: AtomicU64,
    /// Threads in [`GlobalSeq::wait_for_change`] about to sleep or
    /// sleeping, counted under the lock: a bump with nobody waiting (a
    /// caller that applies the change itself, the usual case) takes no
    /// lock and wakes nobody.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    cond: Condvar,
}

impl GlobalSeq {
    pub(crate) fn new() -> GlobalSeq {
        GlobalSeq {
            value: AtomicU64::new(1),
            applying: RwLock::new(()),
            index_epoch: AtomicU64::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            cond: Condvar::new(),
        }
    }

    pub(crate) fn get(&self) -> u64 {
        self.value.load(Ordering::Acquire)
    }

    pub(crate) fn bump(&self) {
        // Never 0: skip it on wrapping.
        let mut v = self.value.load(Ordering::Relaxed);
        while let Err(now) = self.value.compare_exchange_weak(
            v,
            v.wrapping_add(1).max(1),
            Ordering::SeqCst,
            Ordering::Relaxed,
        ) {
            v = now;
        }
        // No wake-up is lost: a waiter counts itself (SeqCst) before it
        // checks the value, and this reads the count (SeqCst) after the
        // store, so either the waiter sees the new value or this sees
        // the waiter. Then the lock, which the waiter holds from its check
        // until it sleeps, orders the notification after its sleep.
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        drop(self.lock.lock());
        // Notified after the lock is released, so a waiter wakes straight
        // away instead of being moved to the lock's queue and woken a
        // second time when it is released.
        self.cond.notify_all();
    }

    /// Waits until the value differs from `seen` or `timeout` passes, and
    /// returns the value then.
    pub(crate) fn wait_for_change(&self, seen: u64, timeout: Duration) -> u64 {
        let v = self.get();
        if v != seen {
            return v;
        }
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.lock.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let v = loop {
            let v = self.value.load(Ordering::SeqCst);
            if v != seen {
                break v;
            }
            match deadline {
                Some(d) => {
                    if self.cond.wait_until(&mut guard, d).timed_out() {
                        break self.get();
                    }
                }
                None => self.cond.wait(&mut guard),
            }
        };
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn device_seq_starts_at_one_and_skips_zero() {
        let s = ChangeSeq::new();
        assert_eq!(s.get(), 1);
        s.bump();
        assert_eq!(s.get(), 2);
        s.0.store(u64::MAX, Ordering::Relaxed);
        s.bump();
        assert_eq!(s.get(), 1);
    }

    #[test]
    fn global_wait_returns_on_bump_or_timeout() {
        let g = Arc::new(GlobalSeq::new());
        let seen = g.get();
        // Nothing changes: the wait times out and returns the same value.
        assert_eq!(g.wait_for_change(seen, Duration::from_millis(20)), seen);
        // Already changed: returns at once.
        g.bump();
        assert_eq!(g.wait_for_change(seen, Duration::from_secs(60)), seen + 1);
        // Changed by another thread while waiting.
        let g2 = g.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            g2.bump();
        });
        let now = g.get();
        assert_eq!(g.wait_for_change(now, Duration::from_secs(60)), now + 1);
        t.join().unwrap();
    }
}
