//! Conversation state with compare-and-set, its transactional outbox, and the append-only audit log.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::audit_chain::{ChainHead, StoredChain};
use super::retention::Lifetime;
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

/// One record of the audit trail: what happened to a conversation, by whom, and what the bot did. It holds
/// references (message ids, step names, reason codes), never a message's text or a document number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: u64,
    pub conversation_id: String,
    /// Who acted: `user`, `whatsapp` (a delivery status), `system` (timers, the verifier's own checks:
    /// `system:verifier`), `provider:<name>`, `agent:<email>`, `operator:<name>`.
    pub actor: String,
    /// The event, summarized without personal data (a text's length, not its content).
    pub event: String,
    pub event_key: String,
    pub step_before: String,
    pub step_after: String,
    #[serde(default)]
    pub effects: Vec<String>,
    /// Its position in the user's trail, from 1 (set by the store when it is appended).
    #[serde(default)]
    pub seq: u64,
    /// The hash of the record before it in the trail, empty for the first (set by the store).
    #[serde(default)]
    pub prev: String,
}

#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    async fn load(&self, user: &UserKey) -> Result<Option<Versioned>, StoreError>;

    /// Writes `stored` if the current version is still `expected` (0: no document yet), and appends `audit`
    /// (linked to the trail's hash chain) in the same atomic step. The state and the trail then live as long as
    /// the retention of the conversation's phase says ([`Retention::of`](super::retention::Retention::of)).
    async fn save(
        &self,
        user: &UserKey,
        expected: u64,
        stored: &Stored,
        audit: &[AuditRecord],
    ) -> Result<Saved, StoreError>;

    /// Drops the outbox entry of `event_key` if the document is still at `version` (its effects were enqueued).
    async fn clear_outbox(&self, user: &UserKey, version: u64, event_key: &str) -> Result<(), StoreError>;

    /// Appends to the audit log without touching the state (delivery statuses, notes of the outside world). A
    /// user with no conversation (erased, expired) gets no trail back: the records are dropped.
    async fn append_audit(&self, user: &UserKey, audit: &[AuditRecord]) -> Result<(), StoreError>;

    /// The newest `limit` records of a user's audit trail, oldest first.
    async fn audit(&self, user: &UserKey, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// The whole trail as stored (each record's JSON as hashed, its hash, and the head), for verification.
    async fn audit_chain(&self, user: &UserKey) -> Result<StoredChain, StoreError>;

    /// Removes the user's state, audit trail, message log and conversation index entries, and leaves
    /// `tombstones` (one per conversation erased, no personal data) for the erasure-record retention. Answers
    /// what went. Erasing a user with nothing stored does nothing.
    async fn erase(&self, user: &UserKey, tombstones: &[Tombstone]) -> Result<Erased, StoreError>;

    /// Adds a message the user sent to their message log (which keeps the conversation's lifetime and at most
    /// [`MESSAGE_LOG_MAX`] messages). Dropped when the user has no conversation (erased or expired).
    async fn log_message(&self, user: &UserKey, message: &LoggedMessage) -> Result<(), StoreError>;

    /// The user's message log, oldest first.
    async fn messages(&self, user: &UserKey) -> Result<Vec<LoggedMessage>, StoreError>;

    /// The tombstone an erasure left for a conversation.
    async fn tombstone(&self, conversation_id: &str) -> Result<Option<Tombstone>, StoreError>;

    /// Keeps the source of a flow version so any process can run conversations that started on it.
    async fn keep_flow_source(&self, flow_id: &str, version: &str, source: &str) -> Result<(), StoreError>;

    async fn flow_source(&self, flow_id: &str, version: &str) -> Result<Option<String>, StoreError>;

    /// Remembers whose a conversation is for `lifetime` (an agent's outcome, the API and the export name the
    /// conversation); said again when the conversation's lifetime changes.
    async fn index_conversation(
        &self,
        conversation_id: &str,
        user: &UserKey,
        lifetime: Lifetime,
    ) -> Result<(), StoreError>;

    async fn user_of(&self, conversation_id: &str) -> Result<Option<UserKey>, StoreError>;

    /// Keeps a small value for a while (e.g. a verification waiting for a provider's callback).
    async fn put_value(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError>;

    /// Takes a value out (at most one taker gets it).
    async fn take_value(&self, key: &str) -> Result<Option<String>, StoreError>;
}

/// What an erasure removed from the conversation store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// 1 when the user had a conversation state.
    pub states: usize,
    pub audit_records: usize,
    pub messages: usize,
}

/// One message the user sent, as the message log keeps it: the only place (besides a case's timeline) that
/// holds what they wrote. Erasure clears it; the audit trail refers to messages by id only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LoggedMessage {
    /// Unix seconds.
    pub at: u64,
    pub conversation_id: String,
    pub message_id: String,
    /// `text`, `choice`, `media`, or the kind of message the bot cannot use.
    pub kind: String,
    /// What they wrote, or the id of the choice or the photo.
    pub content: String,
}

/// The actor of the verification's records (photo checks, results).
pub const VERIFIER_ACTOR: &str = "system:verifier";

/// The most messages a user's log keeps (the oldest go first).
pub const MESSAGE_LOG_MAX: usize = 500;

/// What is left of an erased conversation: no personal data, only the facts the funnel and a regulator need
/// (that it existed, when, how far it got, and that it was erased at whose request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tombstone {
    pub conversation_id: String,
    pub flow_id: String,
    pub flow_version: String,
    /// The step it was at, and how it had ended before the erasure (none: it had not ended).
    pub step: String,
    pub outcome_before: Option<String>,
    /// Always `erased`.
    pub outcome: String,
    pub started_at: u64,
    pub erased_at: u64,
    /// `user` (they confirmed stop) or `operator:<name>`.
    pub erased_by: String,
    /// The audit trail's last position and hash when it was removed: the erased trail is attested by it.
    pub audit_head: Option<ChainHead>,
}
