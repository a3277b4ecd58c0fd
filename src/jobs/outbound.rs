//! The outbound job: a message for a user, or a read receipt, handed to the Cloud API sender.

use serde::{Deserialize, Serialize};

use crate::flow::event::Reply;
use crate::flow::state::UserKey;
use crate::jobs::key::JobKey;

/// Who a message goes to: by phone when known, else by business-scoped user id (`recipient`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addressee {
    /// Our business number that sends.
    pub phone_number_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboundJob {
    /// The messages one event produced, sent one after the other in this order.
    Send {
        /// The idempotency key of these messages (each is `<key>:<index>`): a retried or rescheduled job reuses
        /// it and never sends a message twice.
        key: JobKey,
        to: Addressee,
        conversation_id: String,
        replies: Vec<Reply>,
        /// Tries made so far (a rescheduled retry carries it on).
        #[serde(default)]
        attempt: u32,
        /// Times it was put back because the access token was invalid (holds are not attempts).
        #[serde(default)]
        holds: u32,
        /// Its place in the user's line: it sends once the jobs queued before it have sent (none: it does not
        /// wait, as jobs queued before lines existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<LinePlace>,
    },
    /// Mark the user's message read and show the typing indicator.
    MarkRead {
        /// The effect that asked for it.
        #[serde(default)]
        key: JobKey,
        phone_number_id: String,
        message_id: String,
    },
}

/// A reply job's place in its user's line of replies ([`SendOrder`](crate::store::SendOrder)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinePlace {
    pub user: UserKey,
    /// The conversation version that queued the job: jobs with a lower one send first.
    pub seq: u64,
    /// Since when (Unix seconds) the job has waited for a job ahead of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_since: Option<u64>,
    /// Times it was put back to wait for its turn.
    #[serde(default)]
    pub waits: u32,
}
