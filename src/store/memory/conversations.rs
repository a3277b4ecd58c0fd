//! Conversations in memory: the same compare-and-set semantics as the Redis script, for one process.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::clock::{self, SharedClock};
use crate::flow::state::UserKey;
use crate::store::StoreError;
use crate::store::conversation::{
    AuditRecord, CONVERSATION_INDEX_TTL_SECS, ConversationStore, Saved, Stored, Versioned,
};

/// Conversations in memory: the same compare-and-set semantics as the Redis script.
pub struct MemoryConversations {
    clock: SharedClock,
    inner: Mutex<Conversations>,
}

impl Default for MemoryConversations {
    fn default() -> Self {
        Self::new(clock::system())
    }
}

#[derive(Default)]
struct Conversations {
    docs: HashMap<UserKey, (u64, Stored)>,
    audit: HashMap<UserKey, Vec<AuditRecord>>,
    flows: HashMap<(String, String), String>,
    /// Conversation id → (user, expiry in Unix ms), forgotten after [`CONVERSATION_INDEX_TTL_SECS`] like on Redis.
    index: HashMap<String, (UserKey, u64)>,
    /// Key → (value, expiry in Unix ms).
    values: HashMap<String, (String, u64)>,
}

impl MemoryConversations {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock, inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Conversations> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ConversationStore for MemoryConversations {
    async fn load(&self, user: &UserKey) -> Result<Option<Versioned>, StoreError> {
        Ok(self.lock().docs.get(user).map(|(version, stored)| Versioned { version: *version, stored: stored.clone() }))
    }

    async fn save(
        &self,
        user: &UserKey,
        expected: u64,
        stored: &Stored,
        audit: &[AuditRecord],
    ) -> Result<Saved, StoreError> {
        let mut inner = self.lock();
        let current = inner.docs.get(user).map_or(0, |(v, _)| *v);
        if current != expected {
            return Ok(Saved::Conflict);
        }
        inner.docs.insert(user.clone(), (expected + 1, stored.clone()));
        inner.audit.entry(user.clone()).or_default().extend(audit.iter().cloned());
        Ok(Saved::Ok(expected + 1))
    }

    async fn clear_outbox(&self, user: &UserKey, version: u64, event_key: &str) -> Result<(), StoreError> {
        if let Some((v, stored)) = self.lock().docs.get_mut(user)
            && *v == version
        {
            stored.outbox.retain(|e| e.event_key != event_key);
        }
        Ok(())
    }

    async fn append_audit(&self, user: &UserKey, audit: &[AuditRecord]) -> Result<(), StoreError> {
        self.lock().audit.entry(user.clone()).or_default().extend(audit.iter().cloned());
        Ok(())
    }

    async fn audit(&self, user: &UserKey, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let inner = self.lock();
        let all = inner.audit.get(user).map(Vec::as_slice).unwrap_or_default();
        Ok(all[all.len().saturating_sub(limit)..].to_vec())
    }

    async fn keep_flow_source(&self, flow_id: &str, version: &str, source: &str) -> Result<(), StoreError> {
        self.lock().flows.insert((flow_id.to_owned(), version.to_owned()), source.to_owned());
        Ok(())
    }

    async fn flow_source(&self, flow_id: &str, version: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().flows.get(&(flow_id.to_owned(), version.to_owned())).cloned())
    }

    async fn index_conversation(&self, conversation_id: &str, user: &UserKey) -> Result<(), StoreError> {
        let expiry = self.clock.now_ms() + CONVERSATION_INDEX_TTL_SECS * 1000;
        self.lock().index.insert(conversation_id.to_owned(), (user.clone(), expiry));
        Ok(())
    }

    async fn user_of(&self, conversation_id: &str) -> Result<Option<UserKey>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self.lock().index.get(conversation_id).filter(|(_, expiry)| *expiry > now).map(|(user, _)| user.clone()))
    }

    async fn put_value(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let expiry = self.clock.now_ms() + ttl_secs * 1000;
        self.lock().values.insert(key.to_owned(), (value.to_owned(), expiry));
        Ok(())
    }

    async fn take_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let taken = self.lock().values.remove(key);
        let now = self.clock.now_ms();
        Ok(taken.filter(|(_, expiry)| *expiry > now).map(|(value, _)| value))
    }
}
