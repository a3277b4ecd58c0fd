//! Send rate limits: per business phone number (Meta's throughput, 80 msg/s by default) and per user (the pair
//! rate, about one message every 6 s with a burst allowance), so that we slow down before Meta answers
//! 130429 / 131056.
//!
//! Both limits are GCRA (generic cell rate algorithm, a token bucket stored as one timestamp): a request is
//! admitted only when *both* allow it, and then both are charged, atomically. [`RedisLimiter`] runs that as one
//! Lua script keyed `<prefix>:ratelimit:{<number>}:...` (the user as a hash) (one hash tag per business number, so both keys share a
//! Redis Cluster slot), shared by every process; [`MemoryLimiter`] does the same under a lock, for one process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::ConnectionManager;
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

    fn number_interval_us(&self) -> u64 {
        1_000_000 / u64::from(self.per_number_per_second.max(1))
    }

    fn user_interval_us(&self) -> u64 {
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
fn gcra(now: u64, tat: Option<u64>, interval: u64, burst: u32) -> Result<u64, u64> {
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + interval;
    let allow_at = new_tat.saturating_sub(interval * u64::from(burst.max(1)));
    if now < allow_at { Err(allow_at - now) } else { Ok(new_tat) }
}

/// In one process.
pub struct MemoryLimiter {
    settings: LimiterSettings,
    origin: Instant,
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    numbers: HashMap<String, u64>,
    users: HashMap<(String, String), u64>,
    calls: u64,
}

impl MemoryLimiter {
    pub fn new(settings: LimiterSettings) -> Self {
        Self { settings, origin: Instant::now(), state: Mutex::new(MemoryState::default()) }
    }
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn acquire(&self, number: &str, user: &str) -> Result<(), LimitError> {
        let now = self.origin.elapsed().as_micros() as u64;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let user_key = (number.to_owned(), user.to_owned());
        let number_tat = gcra(
            now,
            state.numbers.get(number).copied(),
            self.settings.number_interval_us(),
            self.settings.per_number_burst,
        );
        let user_tat = gcra(
            now,
            state.users.get(&user_key).copied(),
            self.settings.user_interval_us(),
            self.settings.per_user_burst,
        );
        match (number_tat, user_tat) {
            (Ok(n), Ok(u)) => {
                state.numbers.insert(number.to_owned(), n);
                state.users.insert(user_key, u);
                state.calls += 1;
                // Forget users whose bucket is full again, now and then, so the map does not grow without end.
                if state.calls.is_multiple_of(1024) {
                    state.users.retain(|_, tat| *tat > now);
                }
                Ok(())
            }
            (n, u) => {
                let wait = n.err().unwrap_or(0).max(u.err().unwrap_or(0));
                Err(LimitError::Wait(Duration::from_micros(wait)))
            }
        }
    }
}

/// Shared by every process through Redis.
#[derive(Clone)]
pub struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    settings: LimiterSettings,
    script: std::sync::Arc<redis::Script>,
}

/// KEYS[1] number bucket, KEYS[2] user bucket; ARGV: number interval µs, number burst, user interval µs,
/// user burst. Answers 0 when admitted, else the wait in µs. Time comes from the Redis server, so every process
/// agrees on it.
const GCRA_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function step(key, interval, burst)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval * burst
  if now < allow_at then return nil, allow_at - now end
  return new_tat, 0
end
local n_tat, n_wait = step(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
local u_tat, u_wait = step(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
if n_tat and u_tat then
  redis.call('SET', KEYS[1], string.format('%d', n_tat), 'PX', math.ceil((n_tat - now) / 1000) + 1)
  redis.call('SET', KEYS[2], string.format('%d', u_tat), 'PX', math.ceil((u_tat - now) / 1000) + 1)
  return 0
end
return math.max(n_wait, u_wait)
"#;

impl RedisLimiter {
    pub fn new(conn: ConnectionManager, key_prefix: &str, settings: LimiterSettings) -> Self {
        Self {
            conn,
            prefix: key_prefix.to_owned(),
            settings,
            script: std::sync::Arc::new(redis::Script::new(GCRA_SCRIPT)),
        }
    }

    fn keys(&self, number: &str, user: &str) -> (String, String) {
        let number = number.replace(['{', '}'], "");
        // The user's phone number stays out of key names (they show in monitoring tools): a short hash instead.
        let user = &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(user.as_bytes()))[..20];
        (
            format!("{}:ratelimit:{{{number}}}:number", self.prefix),
            format!("{}:ratelimit:{{{number}}}:user:{user}", self.prefix),
        )
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(&self, number: &str, user: &str) -> Result<(), LimitError> {
        let (number_key, user_key) = self.keys(number, user);
        let mut conn = self.conn.clone();
        let wait_us: u64 = self
            .script
            .key(number_key)
            .key(user_key)
            .arg(self.settings.number_interval_us())
            .arg(self.settings.per_number_burst.max(1))
            .arg(self.settings.user_interval_us())
            .arg(self.settings.per_user_burst.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(|e| LimitError::Unavailable(e.to_string()))?;
        if wait_us == 0 { Ok(()) } else { Err(LimitError::Wait(Duration::from_micros(wait_us))) }
    }
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
