//! The media vault in one process: sealed blobs in a map, expiring on the backend's clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::store::vault::{MediaCipher, MediaMeta, MediaVault, StoredMedia, VaultError, aad, meta_of};

/// (conversation, name) → (meta, sealed blob, expiry in Unix ms).
type Items = HashMap<(String, String), (MediaMeta, Vec<u8>, u64)>;

pub struct MemoryVault {
    cipher: MediaCipher,
    retention: Duration,
    clock: SharedClock,
    items: Mutex<Items>,
}

impl MemoryVault {
    pub fn new(cipher: MediaCipher, retention: Duration, clock: SharedClock) -> Self {
        Self { cipher, retention, clock, items: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Items> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
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
        let now = self.clock.now_ms();
        let meta = meta_of(bytes, mime_type, now);
        let blob = self.cipher.seal(&aad(conversation, name), bytes)?;
        let expires = now + self.retention.as_millis() as u64;
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
