//! The rate limiter shared by every process: both GCRA steps in one Lua script, on the Redis server's time.

use std::time::Duration;

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::store::rate_limit::{LimitError, LimiterSettings, RateLimiter};

/// Shared by every process through Redis.
#[derive(Clone)]
pub struct RedisLimiter {
    conn: RedisConn,
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
    pub fn new(conn: RedisConn, key_prefix: &str, settings: LimiterSettings) -> Self {
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
