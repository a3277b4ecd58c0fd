//! The media vault: files of a conversation with their metadata, encrypted with AES-256-GCM and kept only for
//! the retention period (`MEDIA_RETENTION_HOURS`, 72 by default).
//!
//! Each file is sealed with a fresh random 96-bit nonce; the conversation and the file name are the associated
//! data, so a sealed blob moved under another key does not open. Stored as `nonce || ciphertext || tag`.
//! The Redis vault keeps one hash per file (`<prefix>:media:{<conversation>}:item:<name>`, fields `meta` and
//! `blob`) plus an index set per conversation, all with `EXPIRE`; the memory vault has the same semantics in one
//! process (expired entries are never returned). Encryption at rest is this room's job: what leaves it for
//! Redis is already sealed.

use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Generate, Key, KeyInit, Nonce, Payload};
use async_trait::async_trait;
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

pub(crate) fn aad(conversation: &str, name: &str) -> Vec<u8> {
    format!("wa-onboard media\0{conversation}\0{name}").into_bytes()
}

pub(crate) fn meta_of(bytes: &[u8], mime_type: &str, received_at_ms: u64) -> MediaMeta {
    MediaMeta {
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
        mime_type: mime_type.to_owned(),
        received_at_ms,
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
