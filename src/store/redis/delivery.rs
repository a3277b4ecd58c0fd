//! Delivery states in Redis: one small hash per wamid (`<prefix>:delivery:<wamid>`), fields set with `HSETNX` (the
//! first time each status is seen wins), refreshed `EXPIRE`.

use std::collections::HashMap;
use std::time::Duration;

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::delivery::{DeliveryLog, DeliveryState, StatusUpdate};

#[derive(Clone)]
pub struct RedisDeliveryLog {
    conn: RedisConn,
    prefix: String,
    ttl: Duration,
}

impl RedisDeliveryLog {
    pub fn new(conn: RedisConn, key_prefix: &str, ttl: Duration) -> Self {
        Self { conn, prefix: key_prefix.to_owned(), ttl }
    }

    fn key(&self, wamid: &str) -> String {
        format!("{}:delivery:{wamid}", self.prefix)
    }
}

#[async_trait]
impl DeliveryLog for RedisDeliveryLog {
    async fn apply(&self, status: &StatusUpdate) -> Result<DeliveryState, StoreError> {
        let key = self.key(&status.wamid);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (field, value) in status.fields() {
            pipe.cmd("HSETNX").arg(&key).arg(field).arg(value).ignore();
        }
        pipe.cmd("HSET").arg(&key).arg("wamid").arg(&status.wamid).ignore();
        pipe.cmd("EXPIRE").arg(&key).arg(self.ttl.as_secs().max(1)).ignore();
        pipe.cmd("HGETALL").arg(&key);
        let mut conn = self.conn.clone();
        let (fields,): (HashMap<String, String>,) =
            pipe.query_async(&mut conn).await.map_err(StoreError::unavailable)?;
        Ok(DeliveryState::from_fields(&status.wamid, &fields))
    }

    async fn get(&self, wamid: &str) -> Result<Option<DeliveryState>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> =
            redis::cmd("HGETALL").arg(self.key(wamid)).query_async(&mut conn).await.map_err(StoreError::unavailable)?;
        Ok(if fields.is_empty() { None } else { Some(DeliveryState::from_fields(wamid, &fields)) })
    }
}
