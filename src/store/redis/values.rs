//! Values in Redis: `<prefix>:<namespace>:<key>`, written with `SET NX EX`.

use std::time::Duration;

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::values::ValueStore;

#[derive(Clone)]
pub struct RedisValues {
    conn: RedisConn,
    /// `<prefix>:<namespace>`.
    base: String,
}

impl RedisValues {
    pub fn new(conn: RedisConn, prefix: &str, namespace: &str) -> Self {
        Self { conn, base: format!("{prefix}:{namespace}") }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.base)
    }
}

#[async_trait]
impl ValueStore for RedisValues {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GET").arg(self.key(key)).query_async(&mut conn).await.map_err(StoreError::unavailable)
    }

    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg(value)
            .arg("NX")
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(set.is_some())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL").arg(self.key(key)).query_async(&mut conn).await.map_err(StoreError::unavailable)
    }
}
