//! API tokens on Redis: one hash, `<prefix>:api-tokens`, name → JSON.

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::api_tokens::{ApiToken, ApiTokenStore};

#[derive(Clone)]
pub struct RedisApiTokens {
    conn: RedisConn,
    key: String,
}

impl RedisApiTokens {
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self { conn, key: format!("{prefix}:api-tokens") }
    }
}

#[async_trait]
impl ApiTokenStore for RedisApiTokens {
    async fn add(&self, token: &ApiToken) -> Result<bool, StoreError> {
        let json = serde_json::to_string(token).map_err(StoreError::corrupt)?;
        let mut conn = self.conn.clone();
        redis::cmd("HSETNX")
            .arg(&self.key)
            .arg(&token.name)
            .arg(json)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)
    }

    async fn list(&self) -> Result<Vec<ApiToken>, StoreError> {
        let mut conn = self.conn.clone();
        let all: std::collections::BTreeMap<String, String> =
            redis::cmd("HGETALL").arg(&self.key).query_async(&mut conn).await.map_err(StoreError::unavailable)?;
        all.values().map(|json| serde_json::from_str(json).map_err(StoreError::corrupt)).collect()
    }

    async fn revoke(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: i64 = redis::cmd("HDEL")
            .arg(&self.key)
            .arg(name)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(removed == 1)
    }
}
