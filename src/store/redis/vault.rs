//! The media vault in Redis: one hash per file (`meta`, sealed `blob`) and an index set per conversation, with
//! `EXPIRE` set to the retention; the conversation is the hash tag.

use std::time::Duration;

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::store::vault::{MediaCipher, MediaMeta, MediaVault, StoredMedia, VaultError, aad, meta_of};

#[derive(Clone)]
pub struct RedisVault {
    conn: RedisConn,
    prefix: String,
    cipher: MediaCipher,
    retention: Duration,
    clock: SharedClock,
}

fn unavailable(e: redis::RedisError) -> VaultError {
    VaultError::Unavailable(e.to_string())
}

impl RedisVault {
    pub fn new(
        conn: RedisConn,
        key_prefix: &str,
        cipher: MediaCipher,
        retention: Duration,
        clock: SharedClock,
    ) -> Self {
        Self { conn, prefix: key_prefix.to_owned(), cipher, retention, clock }
    }

    fn tag(conversation: &str) -> String {
        conversation.replace(['{', '}'], "_")
    }

    /// The key of one file's hash (fields `meta`, `blob`).
    pub fn item_key(&self, conversation: &str, name: &str) -> String {
        format!("{}:media:{{{}}}:item:{name}", self.prefix, Self::tag(conversation))
    }

    fn index_key(&self, conversation: &str) -> String {
        format!("{}:media:{{{}}}:index", self.prefix, Self::tag(conversation))
    }

    fn ttl_secs(&self) -> u64 {
        self.retention.as_secs().max(1)
    }
}

#[async_trait]
impl MediaVault for RedisVault {
    async fn put(
        &self,
        conversation: &str,
        name: &str,
        bytes: &[u8],
        mime_type: &str,
    ) -> Result<MediaMeta, VaultError> {
        let meta = meta_of(bytes, mime_type, self.clock.now_ms());
        let blob = self.cipher.seal(&aad(conversation, name), bytes)?;
        let meta_json = serde_json::to_string(&meta).map_err(|e| VaultError::Corrupt(e.to_string()))?;
        let (item, index) = (self.item_key(conversation, name), self.index_key(conversation));
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(&item)
            .ignore()
            .cmd("HSET")
            .arg(&item)
            .arg("meta")
            .arg(meta_json)
            .arg("blob")
            .arg(blob)
            .ignore()
            .cmd("EXPIRE")
            .arg(&item)
            .arg(self.ttl_secs())
            .ignore()
            .cmd("SADD")
            .arg(&index)
            .arg(name)
            .ignore()
            .cmd("EXPIRE")
            .arg(&index)
            .arg(self.ttl_secs())
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(meta)
    }

    async fn get(&self, conversation: &str, name: &str) -> Result<Option<StoredMedia>, VaultError> {
        let mut conn = self.conn.clone();
        let (meta, blob): (Option<String>, Option<Vec<u8>>) = redis::cmd("HMGET")
            .arg(self.item_key(conversation, name))
            .arg("meta")
            .arg("blob")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let (Some(meta), Some(blob)) = (meta, blob) else { return Ok(None) };
        let meta: MediaMeta = serde_json::from_str(&meta).map_err(|e| VaultError::Corrupt(e.to_string()))?;
        Ok(Some(StoredMedia { bytes: self.cipher.open(&aad(conversation, name), &blob)?, meta }))
    }

    async fn list(&self, conversation: &str) -> Result<Vec<(String, MediaMeta)>, VaultError> {
        let mut conn = self.conn.clone();
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.index_key(conversation))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        names.sort();
        let mut list = Vec::with_capacity(names.len());
        for name in names {
            let meta: Option<String> = redis::cmd("HGET")
                .arg(self.item_key(conversation, &name))
                .arg("meta")
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            // Expired files leave their name in the index until the index itself expires.
            if let Some(meta) = meta {
                list.push((name, serde_json::from_str(&meta).map_err(|e| VaultError::Corrupt(e.to_string()))?));
            }
        }
        Ok(list)
    }

    async fn delete_conversation(&self, conversation: &str) -> Result<(), VaultError> {
        let mut conn = self.conn.clone();
        let index = self.index_key(conversation);
        let names: Vec<String> =
            redis::cmd("SMEMBERS").arg(&index).query_async(&mut conn).await.map_err(unavailable)?;
        let mut keys: Vec<String> = names.iter().map(|n| self.item_key(conversation, n)).collect();
        keys.push(index);
        redis::cmd("UNLINK").arg(keys).query_async::<()>(&mut conn).await.map_err(unavailable)
    }
}
