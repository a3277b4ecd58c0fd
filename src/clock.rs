//! The one clock: every part that reads the wall-clock time takes a [`Clock`], so tests and replays can fix and
//! advance it ([`FixedClock`]) and a running service uses [`SystemClock`].
//!
//! The rule: *wall-clock time* (what is stored, compared across processes, or decides an expiry the user sees)
//! comes from a `Clock`. *Elapsed time* on this process (a latency, a timeout, a back-off sleep, a rate limiter's
//! buckets) is measured with [`std::time::Instant`] and tokio's timers, which a fixed clock must not stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Unix time, in milliseconds.
pub trait Clock: Send + Sync + 'static {
    fn now_ms(&self) -> u64;

    /// Unix seconds.
    fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// What components hold: cheap to clone, shared by every part of a process.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that only moves when told to (tests, replays, the demo).
#[derive(Debug, Default)]
pub struct FixedClock {
    now_ms: AtomicU64,
}

impl FixedClock {
    pub fn at_secs(secs: u64) -> Arc<Self> {
        Arc::new(Self { now_ms: AtomicU64::new(secs * 1000) })
    }

    /// Starts at the system's time now (so stored times look real), then stands still.
    pub fn starting_now() -> Arc<Self> {
        Arc::new(Self { now_ms: AtomicU64::new(SystemClock.now_ms()) })
    }

    pub fn set_secs(&self, secs: u64) {
        self.now_ms.store(secs * 1000, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        self.now_ms.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let clock = FixedClock::at_secs(1_000);
        assert_eq!(clock.now_secs(), 1_000);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.now_ms(), 1_001_500);
        clock.set_secs(5);
        assert_eq!(clock.now_secs(), 5);
        assert!(SystemClock.now_secs() > 1_700_000_000);
    }
}
