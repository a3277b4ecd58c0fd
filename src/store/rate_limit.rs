//! Send rate limits: per business phone number (Meta's throughput, 80 msg/s by default) and per user (the pair
//! rate, about one message every 6 s with a burst allowance), so that we slow down before Meta answers
//! 130429 / 131056.
//!
//! Both limits are GCRA (generic cell rate algorithm, a token bucket stored as one timestamp): a request is
//! admitted only when *both* allow it, and then both are charged, atomically. [`RedisLimiter`] runs that as one
//! Lua script keyed `<prefix>:ratelimit:{<number>}:...` (the user as a hash; one hash tag per business number,
//! so both keys share a Redis Cluster slot), shared by every process; the memory limiter runs [`gcra`] under a
//! lock, for one process. Buckets measure elapsed time, not the wall clock (see [`crate::clock`]).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use thiserror::Error;

/// The limits. Rates are "one every `interval`", with `burst` allowed back to back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterSettings {
    /// Messages per second per business number (Meta: 80 by default, up to 1,000 when upgraded).
    pub per_number_per_second: u32,
    /// How many messages of one number may go back to back (default: one second's worth).
    pub per_number_burst: u32,
    /// The steady interval between two messages to one user (Meta's pair rate: about 6 s).
    pub per_user_interval: Duration,
    /// How many messages to one user may go back to back before the interval applies.
    pub per_user_burst: u32,
}

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            per_number_per_second: 80,
            per_number_burst: 80,
            per_user_interval: Duration::from_secs(6),
            // Meta lets bursts of ~45 borrow ahead; a conversation step rarely sends more than a few messages.
            per_user_burst: 10,
        }
    }
}

impl LimiterSettings {
    /// From `WHATSAPP_SEND_RATE`, `WHATSAPP_USER_INTERVAL_MS` and `WHATSAPP_USER_BURST`; the number's burst is one
    /// second's worth.
    pub fn from_config(config: &crate::config::SendRateConfig) -> Self {
        Self {
            per_number_per_second: config.per_number_per_second,
            per_number_burst: config.per_number_per_second,
            per_user_interval: config.per_user_interval,
            per_user_burst: config.per_user_burst,
        }
    }

    pub(crate) fn number_interval_us(&self) -> u64 {
        1_000_000 / u64::from(self.per_number_per_second.max(1))
    }

    pub(crate) fn user_interval_us(&self) -> u64 {
        (self.per_user_interval.as_micros() as u64).max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LimitError {
    /// Over the limit: try again after this long.
    #[error("rate limited: try again in {0:?}")]
    Wait(Duration),
    /// The shared limiter state cannot be reached.
    #[error("the rate limiter is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Takes one message's worth from the business number's bucket and the user's bucket, or neither.
    async fn acquire(&self, number: &str, user: &str) -> Result<(), LimitError>;

    /// Like [`RateLimiter::acquire`], but waits when the wait is at most `max_wait` in total.
    async fn acquire_within(&self, number: &str, user: &str, max_wait: Duration) -> Result<(), LimitError> {
        let deadline = Instant::now() + max_wait;
        loop {
            match self.acquire(number, user).await {
                Err(LimitError::Wait(wait)) if Instant::now() + wait <= deadline => tokio::time::sleep(wait).await,
                other => return other,
            }
        }
    }
}

/// One GCRA step. `tat` is the theoretical arrival time of the next request (µs); answers the new `tat`, or the
/// wait.
pub(crate) fn gcra(now: u64, tat: Option<u64>, interval: u64, burst: u32) -> Result<u64, u64> {
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + interval;
    let allow_at = new_tat.saturating_sub(interval * u64::from(burst.max(1)));
    if now < allow_at { Err(allow_at - now) } else { Ok(new_tat) }
}

#[cfg(test)]
mod tests {
    use super::gcra;

    #[test]
    fn gcra_admits_a_burst_then_one_per_interval() {
        let (interval, burst) = (100, 3);
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(gcra(0, tat, interval, burst).unwrap());
        }
        assert_eq!(gcra(0, tat, interval, burst), Err(100));
        assert_eq!(gcra(50, tat, interval, burst), Err(50));
        assert!(gcra(100, tat, interval, burst).is_ok());
    }
}
