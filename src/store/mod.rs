//! Storage: every byte the service keeps, behind small traits, each with an in-memory and a Redis
//! implementation that pass one conformance suite (`tests/store_conformance/`, one module per trait). No other room opens a Redis
//! connection: [`Backend`] is built once from the configuration (all Redis or all memory) and hands out each
//! store.
//!
//! | trait | what it keeps | Redis keys (under `REDIS_KEY_PREFIX`) |
//! |---|---|---|
//! | [`IngressStore`] | inbound jobs with their dedupe claims; payloads kept for inspection | `{inbound}:*`, `{kept}:*` |
//! | [`ConversationStore`] | conversation state (compare-and-set), outbox, hash-chained audit trail, message log, flow sources, index, erasure tombstones | `conv:{user}`, `audit:{user}`, `msgs:{user}`, `flows`, `convidx:*`, `tombstone:*`, `value:*` |
//! | [`CaseStore`] | cases: a person taking over an onboarding (waiting, assigned, closed) | `{cases}:*` |
//! | [`JourneyStore`](journeys::JourneyStore) | the funnel's summary of each conversation (steps, outcome, reason codes; no personal data) | `journeys:<day>` |
//! | [`AgentStore`](agents::AgentStore) | console accounts (argon2id hashes), sessions, failed sign-ins | `agents`, `agent-session:*`, `signin-fail:*` |
//! | [`ApiTokenStore`](api_tokens::ApiTokenStore) | hashes of the `/api/v1` tokens, by name | `api-tokens` |
//! | [`JobQueue`] | jobs with idempotency keys, due now or later (apalis-redis format) | `{<queue>}:*` |
//! | [`ValueStore`] | small values with a lifetime, e.g. what each send did | `<namespace>:<key>` |
//! | [`DeliveryLog`] | the delivery state of each message we sent | `delivery:<wamid>` |
//! | [`SendOrder`] | each user's line of reply jobs, so their messages leave in order | `sendq:{user}` |
//! | [`RateLimiter`] | send-rate buckets per business number and user | `ratelimit:{number}:*` |
//! | [`MediaVault`] | photos and files, encrypted, for the retention period | `media:{conversation}:*` |
//!
//! Every key about a person has a lifetime ([`retention`]: `RETENTION_*`) or goes when its work is done (a
//! finished job is removed); erasure reaches every room (`crate::privacy`). See docs/privacy.md.
//!
//! `memory/` holds one process's implementations (lost on restart), `redis/` the shared ones. Time comes from the
//! backend's [`Clock`](crate::clock::Clock), so the memory backend's expiries follow a test's fixed clock.

pub mod agents;
pub mod api_tokens;
pub mod audit_chain;
pub mod backend;
pub mod case;
pub mod conversation;
pub mod delivery;
pub mod ingress;
pub mod journeys;
pub mod memory;
pub mod queue;
pub mod rate_limit;
pub mod redis;
pub mod retention;
pub mod send_order;
pub mod values;
pub mod vault;

use thiserror::Error;

pub use backend::Backend;
pub use case::CaseStore;
pub use conversation::ConversationStore;
pub use delivery::DeliveryLog;
pub use ingress::{IngressStore, KEPT_BYTES_MAX, KEPT_PAYLOADS_MAX, KeptCap, KeptKind, KeptPayload};
pub use queue::{Enqueued, JobQueue, Queued};
pub use rate_limit::RateLimiter;
pub use send_order::SendOrder;
pub use values::ValueStore;
pub use vault::MediaVault;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time. Nothing was written.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered with data this version cannot read.
    #[error("the store holds data that cannot be read: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn unavailable(e: impl std::fmt::Display) -> Self {
        Self::Unavailable(e.to_string())
    }

    pub(crate) fn corrupt(e: impl std::fmt::Display) -> Self {
        Self::Corrupt(e.to_string())
    }
}

/// Serializes a value for storage.
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::corrupt)
}

/// Reads back a stored value; `what` names it in the error.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}
