//! The in-memory store: same semantics as Redis, for one process. Everything is lost on restart.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::conversation::{AuditRecord, ConversationStore, Saved, Stored, Versioned};
use super::{Enqueued, IngressStore, KEPT_PAYLOADS_MAX, KeptPayload, StoreError};
use crate::flow::state::UserKey;
use crate::jobs::inbound::InboundJob;
use crate::jobs::queue::JobQueue;
use crate::jobs::queue::memory::MemoryQueue;

pub struct MemoryStore {
    inbound: Arc<MemoryQueue<InboundJob>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Newest last.
    kept: VecDeque<KeptPayload>,
}

impl MemoryStore {
    pub fn new(dedupe_ttl: Duration) -> Self {
        Self { inbound: Arc::new(MemoryQueue::new(dedupe_ttl)), state: Mutex::new(State::default()) }
    }

    /// The inbound queue, for the in-process workers.
    pub fn inbound(&self) -> Arc<MemoryQueue<InboundJob>> {
        self.inbound.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written batch (each write is one push), so the data
        // is still consistent: keep serving instead of poisoning every later request.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl IngressStore for MemoryStore {
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError> {
        self.inbound.push(&super::queued_inbound(jobs)).await
    }

    async fn keep(&self, payloads: &[KeptPayload]) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.kept.extend(payloads.iter().cloned());
        while state.kept.len() > KEPT_PAYLOADS_MAX {
            state.kept.pop_front();
        }
        Ok(())
    }

    async fn kept(&self, limit: usize) -> Result<Vec<KeptPayload>, StoreError> {
        Ok(self.lock().kept.iter().rev().take(limit).cloned().collect())
    }

    async fn pending_inbound(&self, limit: usize) -> Result<Vec<InboundJob>, StoreError> {
        self.inbound.pending(limit).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

/// Conversations in memory: the same compare-and-set semantics as the Redis script.
#[derive(Default)]
pub struct MemoryConversations {
    inner: Mutex<Conversations>,
}

#[derive(Default)]
struct Conversations {
    docs: std::collections::HashMap<UserKey, (u64, Stored)>,
    audit: std::collections::HashMap<UserKey, Vec<AuditRecord>>,
    flows: std::collections::HashMap<(String, String), String>,
    index: std::collections::HashMap<String, UserKey>,
    values: std::collections::HashMap<String, (String, std::time::Instant)>,
}

impl MemoryConversations {
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
        self.lock().index.insert(conversation_id.to_owned(), user.clone());
        Ok(())
    }

    async fn user_of(&self, conversation_id: &str) -> Result<Option<UserKey>, StoreError> {
        Ok(self.lock().index.get(conversation_id).cloned())
    }

    async fn put_value(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let expiry = std::time::Instant::now() + Duration::from_secs(ttl_secs);
        self.lock().values.insert(key.to_owned(), (value.to_owned(), expiry));
        Ok(())
    }

    async fn take_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let taken = self.lock().values.remove(key);
        Ok(taken.filter(|(_, expiry)| *expiry > std::time::Instant::now()).map(|(value, _)| value))
    }
}
