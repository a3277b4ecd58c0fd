//! Storage behind small traits, with two implementations that pass one conformance suite
//! (`tests/store_conformance.rs`): [`memory::MemoryStore`] for development and tests, and
//! [`redis::RedisStore`] shared by any number of server and worker processes.

pub mod conversation;
pub mod memory;
pub mod redis;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::StoreConfig;
use crate::jobs::inbound::InboundJob;

#[derive(Debug, Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time. Nothing was written.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The store answered with data this version cannot read.
    #[error("the store holds data that cannot be read: {0}")]
    Corrupt(String),
}

/// What happened to one inbound job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Its dedupe key was new: claimed, and the job queued.
    New,
    /// Its dedupe key was already claimed: nothing was written.
    Duplicate,
}

/// Why a payload was kept for an operator to look at instead of being processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptKind {
    /// A correctly signed body that is not a webhook envelope.
    InvalidEnvelope,
    /// One message or status of an envelope that could not be read.
    InvalidItem,
    /// A change of a `field` other than `messages` (account updates, template status, ...).
    OtherField,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptPayload {
    pub kind: KeptKind,
    pub reason: String,
    /// The payload as text (lossy for bytes that are not UTF-8).
    pub body: String,
    pub received_at_ms: u64,
}

/// How many kept payloads are retained; older ones are trimmed first.
pub const KEPT_PAYLOADS_MAX: usize = 10_000;

/// What the webhook ingress needs.
#[async_trait]
pub trait IngressStore: Send + Sync + 'static {
    /// For each job, claims its dedupe key and, if the key was new, queues the job, both in one atomic step.
    /// Answers per job, in order. On error some jobs may have been recorded and others not, never a claim
    /// without its job: the sender retries the batch and the recorded ones come back as duplicates.
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError>;

    /// Appends payloads to the inspection log (capped at [`KEPT_PAYLOADS_MAX`]).
    async fn keep(&self, payloads: &[KeptPayload]) -> Result<(), StoreError>;

    /// The newest kept payloads, newest first.
    async fn kept(&self, limit: usize) -> Result<Vec<KeptPayload>, StoreError>;

    /// Inbound jobs waiting to be worked, oldest first (for inspection and tests).
    async fn pending_inbound(&self, limit: usize) -> Result<Vec<InboundJob>, StoreError>;

    /// Whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// A name for logs: `memory` or `redis`.
    fn backend_name(&self) -> &'static str;
}

/// Opens the store the configuration names.
pub async fn open(config: &StoreConfig, dedupe_ttl: std::time::Duration) -> anyhow::Result<Arc<dyn IngressStore>> {
    Ok(match config {
        StoreConfig::Memory => Arc::new(memory::MemoryStore::new(dedupe_ttl)),
        StoreConfig::Redis { url, key_prefix, response_timeout } => {
            Arc::new(redis::RedisStore::connect(url.expose(), key_prefix, *response_timeout, dedupe_ttl).await?)
        }
    })
}

/// Inbound jobs as queue entries: each keyed by its dedupe key.
pub fn queued_inbound(jobs: &[InboundJob]) -> Vec<crate::jobs::queue::Queued<InboundJob>> {
    jobs.iter().map(|j| crate::jobs::queue::Queued::now(j.key.clone(), j.clone())).collect()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
