//! Conversation state with compare-and-set, its transactional outbox, and the append-only audit log.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::flow::event::Effect;
use crate::flow::state::{ConversationState, UserKey};

/// What is stored per user: the engine's state, the effects not yet handed out, and the keys of the events
/// already applied (a retried job finds its event there and only hands out what is left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub state: ConversationState,
    /// Effects of applied events that may not have been enqueued yet, per event key.
    #[serde(default)]
    pub outbox: Vec<OutboxEntry>,
    /// Keys of the most recent events applied, oldest first (bounded).
    #[serde(default)]
    pub applied: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub event_key: String,
    pub effects: Vec<Effect>,
}

/// How many applied event keys are remembered per conversation.
pub const APPLIED_KEYS_KEPT: usize = 64;

/// A loaded document and the version to compare against when saving.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    pub version: u64,
    pub stored: Stored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// Written; the new version.
    Ok(u64),
    /// Someone else wrote first: reload and step again.
    Conflict,
}

/// One line of the audit log: what happened to a conversation, by whom, and what the bot did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: u64,
    pub conversation_id: String,
    /// `user`, `bot`, `verifier`, `agent`, `system`.
    pub actor: String,
    /// The event, summarized without personal data (a text's length, not its content).
    pub event: String,
    pub event_key: String,
    pub step_before: String,
    pub step_after: String,
    #[serde(default)]
    pub effects: Vec<String>,
}

#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    async fn load(&self, user: &UserKey) -> Result<Option<Versioned>, StoreError>;

    /// Writes `stored` if the current version is still `expected` (0: no document yet), and appends `audit`
    /// in the same atomic step.
    async fn save(
        &self,
        user: &UserKey,
        expected: u64,
        stored: &Stored,
        audit: &[AuditRecord],
    ) -> Result<Saved, StoreError>;

    /// Drops the outbox entry of `event_key` if the document is still at `version` (its effects were enqueued).
    async fn clear_outbox(&self, user: &UserKey, version: u64, event_key: &str) -> Result<(), StoreError>;

    /// Appends to the audit log without touching the state (delivery statuses, notes of the outside world).
    async fn append_audit(&self, user: &UserKey, audit: &[AuditRecord]) -> Result<(), StoreError>;

    /// The audit log of a user, oldest first.
    async fn audit(&self, user: &UserKey, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Keeps the source of a flow version so any process can run conversations that started on it.
    async fn keep_flow_source(&self, flow_id: &str, version: &str, source: &str) -> Result<(), StoreError>;

    async fn flow_source(&self, flow_id: &str, version: &str) -> Result<Option<String>, StoreError>;

    /// Remembers whose a conversation is, so that an agent's outcome (which names the conversation) finds it.
    async fn index_conversation(&self, conversation_id: &str, user: &UserKey) -> Result<(), StoreError>;

    async fn user_of(&self, conversation_id: &str) -> Result<Option<UserKey>, StoreError>;

    /// Keeps a small value for a while (e.g. a verification waiting for a provider's callback).
    async fn put_value(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError>;

    /// Takes a value out (at most one taker gets it).
    async fn take_value(&self, key: &str) -> Result<Option<String>, StoreError>;
}

/// How long the conversation index is kept: longer than any agent takes to decide.
pub const CONVERSATION_INDEX_TTL_SECS: u64 = 30 * 24 * 3600;
