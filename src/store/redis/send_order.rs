//! Send lines in Redis: `<prefix>:sendq:{<number>:<hash of the user>}`, a sorted set of job keys scored by the
//! conversation version that queued them (-1 once a job has left), one slot per user.

use async_trait::async_trait;

use crate::flow::state::UserKey;
use crate::store::StoreError;
use crate::store::redis::RedisConn;
use crate::store::send_order::SendOrder;

/// KEYS[1] the line; ARGV[1] the job. Answers the first job still in the line with a lower score, or nil. A job
/// that left keeps the score -1 (so that a dispatch handed out again cannot put it back in the line).
const AHEAD_SCRIPT: &str = r#"
local mine = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not mine or mine < 0 then return false end
local first = redis.call('ZRANGEBYSCORE', KEYS[1], 0, '(' .. mine, 'LIMIT', 0, 1)
return first[1] or false
"#;

#[derive(Clone)]
pub struct RedisSendOrder {
    conn: RedisConn,
    prefix: String,
    /// How long a line is kept after its last entry.
    ttl: std::time::Duration,
    ahead: std::sync::Arc<redis::Script>,
}

impl RedisSendOrder {
    pub fn new(conn: RedisConn, prefix: &str, ttl: std::time::Duration) -> Self {
        let ahead = std::sync::Arc::new(redis::Script::new(AHEAD_SCRIPT));
        Self { conn, prefix: prefix.to_owned(), ttl, ahead }
    }

    /// The user's phone number stays out of the key's name (it shows in monitoring tools): a short hash instead.
    fn key(&self, user: &UserKey) -> String {
        let number = user.phone_number_id.replace(['{', '}'], "");
        let hashed = &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(user.user.as_bytes()))[..20];
        format!("{}:sendq:{{{number}:{hashed}}}", self.prefix)
    }
}

#[async_trait]
impl SendOrder for RedisSendOrder {
    async fn enter(&self, user: &UserKey, job: &str, seq: u64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(user);
        redis::pipe()
            .atomic()
            .cmd("ZADD")
            .arg(&key)
            .arg("NX")
            .arg(seq)
            .arg(job)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(self.ttl.as_millis() as u64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn ahead_of(&self, user: &UserKey, job: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        self.ahead.key(self.key(user)).arg(job).invoke_async(&mut conn).await.map_err(StoreError::unavailable)
    }

    async fn leave(&self, user: &UserKey, job: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        // XX: only a job in the line; its place is kept as left (-1), so entering again changes nothing.
        redis::cmd("ZADD")
            .arg(self.key(user))
            .arg("XX")
            .arg(-1)
            .arg(job)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn erase(&self, user: &UserKey) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(user);
        let (count,): (usize,) = redis::pipe()
            .atomic()
            .cmd("ZCARD")
            .arg(&key)
            .cmd("DEL")
            .arg(&key)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(count)
    }
}
