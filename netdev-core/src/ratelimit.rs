//! Rate limiting for noisy log messages.

use std::time::{Duration, Instant};

/// Allows `burst` messages per `interval`; counts the ones it suppresses so
/// the next allowed message can say how many were skipped.
#[derive(Debug)]
pub struct RateLimit {
    burst: u32,
    interval: Duration,
    window_start: Option<Instant>,
    used: u32,
    suppressed: u64,
}

impl RateLimit {
    /// At most `burst` messages per `interval`.
    pub fn new(burst: u32, interval: Duration) -> RateLimit {
        RateLimit {
            burst,
            interval,
            window_start: None,
            used: 0,
            suppressed: 0,
        }
    }

    /// `Some(n)` if a message may be logged now, `n` being how many were
    /// suppressed since the last allowed one; `None` to stay quiet.
    pub fn allow(&mut self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&mut self, now: Instant) -> Option<u64> {
        match self.window_start {
            Some(start) if now.duration_since(start) < self.interval => {}
            _ => {
                self.window_start = Some(now);
                self.used = 0;
            }
        }
        if self.used < self.burst {
            self.used += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }

    /// A suffix for a log line: empty, or " (N similar messages suppressed)".
    pub fn suffix(suppressed: u64) -> String {
        if suppressed == 0 {
            String::new()
        } else {
            format!(" ({suppressed} similar messages suppressed)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_suppresses_then_reports() {
        let mut r = RateLimit::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(r.allow_at(t0), Some(0));
        assert_eq!(r.allow_at(t0), Some(0));
        assert_eq!(r.allow_at(t0), None);
        assert_eq!(r.allow_at(t0 + Duration::from_secs(1)), None);
        assert_eq!(r.allow_at(t0 + Duration::from_secs(11)), Some(2));
        assert_eq!(RateLimit::suffix(2), " (2 similar messages suppressed)");
        assert_eq!(RateLimit::suffix(0), "");
    }
}
