//! Change sequence numbers: a per-device counter and a registry-wide one
//! that callers can block on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

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

/// The registry-wide sequence: bumped whenever any device's sequence is,
/// with a blocking wait.
#[derive(Debug)]
pub(crate) struct GlobalSeq {
    value: Mutex<u64>,
    cond: Condvar,
}

impl GlobalSeq {
    pub(crate) fn new() -> GlobalSeq {
        GlobalSeq {
            value: Mutex::new(1),
            cond: Condvar::new(),
        }
    }

    pub(crate) fn get(&self) -> u64 {
        *self.value.lock()
    }

    pub(crate) fn bump(&self) {
        let mut v = self.value.lock();
        *v = v.wrapping_add(1).max(1);
        self.cond.notify_all();
    }

    /// Waits until the value differs from `seen` or `timeout` passes, and
    /// returns the value then.
    pub(crate) fn wait_for_change(&self, seen: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now().checked_add(timeout);
        let mut v = self.value.lock();
        while *v == seen {
            match deadline {
                Some(d) => {
                    if self.cond.wait_until(&mut v, d).timed_out() {
                        break;
                    }
                }
                None => self.cond.wait(&mut v),
            }
        }
        *v
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
