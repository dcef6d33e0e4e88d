//! The Locust setup's monitoring hooks: failed and slow requests logged with endpoint and
//! reason, rate-limited so a storm of failures cannot flood the log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// At most this many lines per second; the rest are counted.
const LINES_PER_SECOND: u64 = 5;

pub struct Log {
    start: Instant,
    /// Slow-request threshold in µs (0 = off).
    pub slow_us: u64,
    pub enabled: bool,
    second: AtomicU64,
    lines: AtomicU64,
    pub suppressed: AtomicU64,
}

impl Log {
    pub fn new(slow_us: u64, enabled: bool) -> Log {
        Log {
            start: Instant::now(),
            slow_us,
            enabled,
            second: AtomicU64::new(0),
            lines: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    pub fn line(&self, text: std::fmt::Arguments<'_>) {
        if !self.enabled {
            return;
        }
        let now = self.start.elapsed().as_secs();
        if self.second.swap(now, Ordering::Relaxed) != now {
            self.lines.store(0, Ordering::Relaxed);
        }
        if self.lines.fetch_add(1, Ordering::Relaxed) < LINES_PER_SECOND {
            errln!("[{now:>4}s] {text}");
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
}
