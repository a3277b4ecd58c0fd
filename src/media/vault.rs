//! The media vault: files of a conversation with their metadata, encrypted with AES-256-GCM and kept only for
//! the retention period (`MEDIA_RETENTION_HOURS`, 72 by default).
//!
//! Each file is sealed with a fresh random 96-bit nonce; the conversation and the file name are the associated
//! data, so a sealed blob moved under another key does not open. Stored as `nonce || ciphertext || tag`.
//! [`RedisVault`] keeps one hash per file (`<prefix>:media:{<conversation>}:<name>`, fields `meta` and `blob`)
//! plus an index set per conversation, all with `EXPIRE`; [`MemoryVault`] has the same semantics in one process
//! (expired entries are never returned).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Nonce, Payload};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::config::{MediaConfig, MediaKey};

#[derive(Debug, Error)]
pub enum VaultError {
    #[error("the media store is unavailable: {0}")]
    Unavailable(String),
    /// The blob does not open with this key (wrong key, e.g. after a restart without MEDIA_ENCRYPTION_KEY, or
    /// tampered data).
    #[error("stored media cannot be decrypted (wrong MEDIA_ENCRYPTION_KEY or tampered data)")]
    Decrypt,
    #[error("stored media metadata is unreadable: {0}")]
    Corrupt(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaMeta {
    /// Lowercase hex of the plaintext's SHA-256.
    pub sha256: String,
    pub size: u64,
    pub mime_type: String,
    pub received_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia {
    pub meta: MediaMeta,
    pub bytes: Vec<u8>,
}

/// Seals and opens blobs.
#[derive(Clone)]
pub struct MediaCipher {
    cipher: Arc<Aes256Gcm>,
}

const NONCE_LEN: usize = 12;

impl MediaCipher {
    pub fn new(key: &MediaKey) -> Self {
        let key = Key::<Aes256Gcm>::from(*key.expose());
        Self { cipher: Arc::new(Aes256Gcm::new(&key)) }
    }

    /// With the configured key, or a random one for this process only (logged as a warning).
    pub fn from_config(config: &MediaConfig) -> Self {
        match &config.encryption_key {
            Some(key) => Self::new(key),
            None => {
                tracing::warn!(
                    "MEDIA_ENCRYPTION_KEY is not set: stored media is encrypted with a random key of this process \
                     only (unreadable after a restart and by other processes); set it in production"
                );
                Self::random()
            }
        }
    }

    pub fn random() -> Self {
        Self { cipher: Arc::new(Aes256Gcm::new(&Key::<Aes256Gcm>::generate())) }
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let nonce = Nonce::<Aes256Gcm>::generate();
        let sealed = self.cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).map_err(|_| VaultError::Decrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, aad: &[u8], blob: &[u8]) -> Result<Vec<u8>, VaultError> {
        if blob.len() < NONCE_LEN {
            return Err(VaultError::Decrypt);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| VaultError::Decrypt)?;
        self.cipher.decrypt(&nonce, Payload { msg: sealed, aad }).map_err(|_| VaultError::Decrypt)
    }
}

fn aad(conversation: &str, name: &str) -> Vec<u8> {
    format!("wa-onboard media\0{conversation}\0{name}").into_bytes()
}

fn meta_of(bytes: &[u8], mime_type: &str) -> MediaMeta {
    MediaMeta {
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
        mime_type: mime_type.to_owned(),
        received_at_ms: crate::store::now_ms(),
    }
}

#[async_trait]
pub trait MediaVault: Send + Sync + 'static {
    /// Stores (or replaces) a file of a conversation; it expires after the retention period.
    async fn put(&self, conversation: &str, name: &str, bytes: &[u8], mime_type: &str)
    -> Result<MediaMeta, VaultError>;

    async fn get(&self, conversation: &str, name: &str) -> Result<Option<StoredMedia>, VaultError>;

    /// The names and metadata of a conversation's files still kept, sorted by name.
    async fn list(&self, conversation: &str) -> Result<Vec<(String, MediaMeta)>, VaultError>;

    /// Deletes every file of a conversation now (e.g. when the verification is finished).
    async fn delete_conversation(&self, conversation: &str) -> Result<(), VaultError>;
}

/// (conversation, name) → (meta, sealed blob, expiry).
type Items = HashMap<(String, String), (MediaMeta, Vec<u8>, Instant)>;

pub struct MemoryVault {
    cipher: MediaCipher,
    retention: Duration,
    items: Mutex<Items>,
}

impl MemoryVault {
    pub fn new(cipher: MediaCipher, retention: Duration) -> Self {
        Self { cipher, retention, items: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Items> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        items.retain(|_, (_, _, expires)| *expires > now);
        items
    }

    /// The sealed bytes as held in memory (for tests that check nothing is kept in the clear).
    pub fn raw(&self, conversation: &str, name: &str) -> Option<Vec<u8>> {
        self.lock().get(&(conversation.to_owned(), name.to_owned())).map(|(_, blob, _)| blob.clone())
    }
}

#[async_trait]
impl MediaVault for MemoryVault {
    async fn put(
        &self,
        conversation: &str,
        name: &str,
        bytes: &[u8],
        mime_type: &str,
    ) -> Result<MediaMeta, VaultError> {
        let meta = meta_of(bytes, mime_type);
        let blob = self.cipher.seal(&aad(conversation, name), bytes)?;
        let expires = Instant::now() + self.retention;
        self.lock().insert((conversation.to_owned(), name.to_owned()), (meta.clone(), blob, expires));
        Ok(meta)
    }

    async fn get(&self, conversation: &str, name: &str) -> Result<Option<StoredMedia>, VaultError> {
        let item = self.lock().get(&(conversation.to_owned(), name.to_owned())).cloned();
        match item {
            None => Ok(None),
            Some((meta, blob, _)) => {
                Ok(Some(StoredMedia { bytes: self.cipher.open(&aad(conversation, name), &blob)?, meta }))
            }
        }
    }

    async fn list(&self, conversation: &str) -> Result<Vec<(String, MediaMeta)>, VaultError> {
        let mut list: Vec<(String, MediaMeta)> = self
            .lock()
            .iter()
            .filter(|((c, _), _)| c == conversation)
            .map(|((_, name), (meta, _, _))| (name.clone(), meta.clone()))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(list)
    }

    async fn delete_conversation(&self, conversation: &str) -> Result<(), VaultError> {
        self.lock().retain(|(c, _), _| c != conversation);
        Ok(())
    }
}

#[derive(Clone)]
pub struct RedisVault {
    conn: ConnectionManager,
    prefix: String,
    cipher: MediaCipher,
    retention: Duration,
}

fn unavailable(e: redis::RedisError) -> VaultError {
    VaultError::Unavailable(e.to_string())
}

impl RedisVault {
    pub fn new(conn: ConnectionManager, key_prefix: &str, cipher: MediaCipher, retention: Duration) -> Self {
        Self { conn, prefix: key_prefix.to_owned(), cipher, retention }
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
        let meta = meta_of(bytes, mime_type);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_blobs_open_only_with_their_key_and_place() {
        let cipher = MediaCipher::new(&MediaKey::new([7; 32]));
        let sealed = cipher.seal(b"a", b"hello photo").unwrap();
        assert_ne!(&sealed[NONCE_LEN..NONCE_LEN + 11], b"hello photo");
        assert_eq!(cipher.open(b"a", &sealed).unwrap(), b"hello photo");
        assert!(matches!(cipher.open(b"b", &sealed), Err(VaultError::Decrypt)));
        assert!(matches!(MediaCipher::random().open(b"a", &sealed), Err(VaultError::Decrypt)));
        // Fresh nonce each time.
        assert_ne!(cipher.seal(b"a", b"x").unwrap(), cipher.seal(b"a", b"x").unwrap());
    }
}
