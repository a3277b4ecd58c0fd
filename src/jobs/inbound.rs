//! The inbound job: one message or one status from a webhook, waiting for the conversation runner.
//! A message is already in its domain form ([`UserMessage`]); a status keeps Meta's shape, as it only goes to
//! the delivery log.
//!
//! Each job carries its dedupe key. The key is claimed in the same atomic step that enqueues the job, so a
//! redelivered webhook finds the claim and adds nothing, and a crash can never leave a claim without its job.

use serde::{Deserialize, Serialize};

use crate::flow::input::UserMessage;
use crate::flow::state::UserKey;
use crate::jobs::key::JobKey;
use crate::webhook::envelope::{Contact, Metadata, Status};

/// The queue inbound jobs travel on (also the ingress's queue).
pub const INBOUND_QUEUE: &str = "inbound";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundJob {
    /// What makes this job unique: see [`InboundEvent::dedupe_key`].
    pub key: JobKey,
    /// When the webhook reached us, in Unix milliseconds (the message's own time is in the event).
    pub received_at_ms: u64,
    pub event: InboundEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A message a user sent to one of our business numbers.
    Message {
        business: Metadata,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<Contact>,
        /// The sender's business-scoped user id, when Meta gives one (their phone is in the message).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
        /// The message type as Meta names it (`text`, `interactive`, `sticker`, ...): the label of metrics and logs.
        message_type: String,
        message: UserMessage,
        /// The raw JSON of a message whose type (or body) this version cannot read, kept whole so that nothing is
        /// lost; the conversation sees it as [`Input::Other`](crate::flow::input::Input::Other).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        raw: Option<serde_json::Map<String, serde_json::Value>>,
    },
    /// A change in the delivery state of a message we sent.
    Status { business: Metadata, status: Status },
}

impl InboundEvent {
    /// Messages are unique per (business number, wamid); a status once per (business number, wamid, status).
    pub fn dedupe_key(&self) -> JobKey {
        match self {
            Self::Message { business, message, .. } => JobKey::message(&business.phone_number_id, &message.id),
            Self::Status { business, status } => {
                JobKey::status(&business.phone_number_id, &status.id, status.status.as_str())
            }
        }
    }

    /// A short label for metrics and logs: the message type, or `status:<kind>`.
    pub fn label(&self) -> String {
        match self {
            Self::Message { message_type, .. } => message_type.clone(),
            Self::Status { status, .. } => format!("status:{}", status.status.as_str()),
        }
    }
}

impl InboundEvent {
    /// Whose conversation this concerns: the business-scoped user id when Meta gives one, else the phone.
    pub fn user_key(&self) -> Option<UserKey> {
        let (business, user) = match self {
            Self::Message { business, user_id, message, .. } => {
                (business, user_id.clone().or_else(|| message.phone.clone()))
            }
            Self::Status { business, status } => {
                (business, status.recipient_user_id.clone().or_else(|| status.recipient_id.clone()))
            }
        };
        Some(UserKey { phone_number_id: business.phone_number_id.clone(), user: user? })
    }
}

impl InboundJob {
    pub fn new(event: InboundEvent, received_at_ms: u64) -> Self {
        Self { key: event.dedupe_key(), received_at_ms, event }
    }
}
