//! Agent accounts, sessions and sign-in failures on Redis: `<prefix>:agents` (email → JSON),
//! `<prefix>:agent-session:<id hash>` (JSON, expires when idle), `<prefix>:signin-fail:<key>` (a counter that
//! expires with its window).

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::agents::{AgentAccount, AgentStore, SessionRecord};

#[derive(Clone)]
pub struct RedisAgents {
    conn: RedisConn,
    prefix: String,
}

/// Counts a failure; the window starts at the first one (EXPIRE NX keeps it from sliding).
const ADD_FAILURE: &str = r"
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
return n
";

impl RedisAgents {
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_owned() }
    }

    fn accounts_key(&self) -> String {
        format!("{}:agents", self.prefix)
    }

    fn session_key(&self, id_hash: &str) -> String {
        format!("{}:agent-session:{id_hash}", self.prefix)
    }

    fn failure_key(&self, key: &str) -> String {
        format!("{}:signin-fail:{key}", self.prefix)
    }

    async fn write(&self, account: &AgentAccount, only_new: bool) -> Result<bool, StoreError> {
        let json = serde_json::to_string(account).map_err(StoreError::corrupt)?;
        let mut conn = self.conn.clone();
        if only_new {
            return redis::cmd("HSETNX")
                .arg(self.accounts_key())
                .arg(&account.email)
                .arg(json)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable);
        }
        // Only an existing account is replaced.
        let script = redis::Script::new(
            "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) \
             return 1 end return 0",
        );
        let changed: i64 = script
            .key(self.accounts_key())
            .arg(&account.email)
            .arg(json)
            .invoke_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(changed == 1)
    }
}

#[async_trait]
impl AgentStore for RedisAgents {
    async fn add(&self, account: &AgentAccount) -> Result<bool, StoreError> {
        self.write(account, true).await
    }

    async fn get(&self, email: &str) -> Result<Option<AgentAccount>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("HGET")
            .arg(self.accounts_key())
            .arg(email)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        json.map(|j| serde_json::from_str(&j).map_err(StoreError::corrupt)).transpose()
    }

    async fn list(&self) -> Result<Vec<AgentAccount>, StoreError> {
        let mut conn = self.conn.clone();
        let all: std::collections::BTreeMap<String, String> = redis::cmd("HGETALL")
            .arg(self.accounts_key())
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        all.values().map(|json| serde_json::from_str(json).map_err(StoreError::corrupt)).collect()
    }

    async fn update(&self, account: &AgentAccount) -> Result<bool, StoreError> {
        self.write(account, false).await
    }

    async fn put_session(&self, session: &SessionRecord, idle_secs: u64) -> Result<(), StoreError> {
        let json = serde_json::to_string(session).map_err(StoreError::corrupt)?;
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.session_key(&session.id_hash))
            .arg(json)
            .arg("EX")
            .arg(idle_secs.max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("GET")
            .arg(self.session_key(id_hash))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        json.map(|j| serde_json::from_str(&j).map_err(StoreError::corrupt)).transpose()
    }

    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.session_key(id_hash))
            .query_async::<()>(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn add_failure(&self, key: &str, window_secs: u64) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        redis::Script::new(ADD_FAILURE)
            .key(self.failure_key(key))
            .arg(window_secs.max(1))
            .invoke_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn failures(&self, key: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let n: Option<u64> = redis::cmd("GET")
            .arg(self.failure_key(key))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(n.unwrap_or(0))
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL").arg(self.failure_key(key)).query_async::<()>(&mut conn).await.map_err(StoreError::unavailable)
    }
}
