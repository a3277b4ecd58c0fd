//! What the webhook ingress needs from storage: inbound jobs claimed and queued atomically, and the payloads kept
//! for an operator to inspect.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Enqueued, StoreError};
use crate::jobs::inbound::InboundJob;

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
    /// A message or status for a business number this deployment does not serve (`WHATSAPP_NUMBERS`).
    UnknownNumber,
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
/// How many bytes of kept bodies are retained (`KEPT_MAX_BYTES`).
pub const KEPT_BYTES_MAX: usize = 64 * 1024 * 1024;

/// What the inspection log may hold: the oldest payloads go first when either bound is passed or when they are
/// older than `max_age` (they may hold phone numbers and message texts), and a body larger than `max_bytes` is
/// cut to it (with a note of its full size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptCap {
    pub max_count: usize,
    pub max_bytes: usize,
    pub max_age: std::time::Duration,
}

/// How long a kept payload stays for inspection: a week, enough to look into a problem reported by a user.
pub const KEPT_MAX_AGE_DAYS: u64 = 7;

impl Default for KeptCap {
    fn default() -> Self {
        Self {
            max_count: KEPT_PAYLOADS_MAX,
            max_bytes: KEPT_BYTES_MAX,
            max_age: std::time::Duration::from_secs(KEPT_MAX_AGE_DAYS * 24 * 3600),
        }
    }
}

impl KeptCap {
    /// The payload as it is kept: its body cut to `max_bytes` at a character boundary, when larger.
    pub fn fit(&self, payload: &KeptPayload) -> KeptPayload {
        let mut kept = payload.clone();
        if kept.body.len() > self.max_bytes {
            let note = format!(" …[cut: {} bytes in all]", payload.body.len());
            let mut end = self.max_bytes.saturating_sub(note.len());
            while !kept.body.is_char_boundary(end) {
                end -= 1;
            }
            kept.body.truncate(end);
            kept.body.push_str(&note);
        }
        kept
    }
}

#[async_trait]
pub trait IngressStore: Send + Sync + 'static {
    /// For each job, claims its dedupe key and, if the key was new, queues the job, both in one atomic step.
    /// Answers per job, in order. On error some jobs may have been recorded and others not, never a claim
    /// without its job: the sender retries the batch and the recorded ones come back as duplicates.
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError>;

    /// Appends payloads to the inspection log, then trims the oldest until it holds at most `cap`.
    async fn keep(&self, payloads: &[KeptPayload], cap: KeptCap) -> Result<(), StoreError>;

    /// The newest kept payloads, newest first.
    async fn kept(&self, limit: usize) -> Result<Vec<KeptPayload>, StoreError>;

    /// Removes the kept payloads whose body contains one of `needles` (an erasure); answers how many went.
    async fn erase_kept(&self, needles: &[String]) -> Result<usize, StoreError>;

    /// Inbound jobs waiting to be worked, oldest first (for inspection and tests).
    async fn pending_inbound(&self, limit: usize) -> Result<Vec<InboundJob>, StoreError>;

    /// Whether the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// A name for logs: `memory` or `redis`.
    fn backend_name(&self) -> &'static str;
}
