//! The state of one conversation: where the user is, what they gave us, and what is pending.
//! Serialized as JSON in the store, and changed only by the engine.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who a conversation is with: `(business phone number id, user)`; the user is their business-scoped user id
/// when Meta gives one, else their phone number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserKey {
    pub phone_number_id: String,
    pub user: String,
}

impl UserKey {
    pub fn as_string(&self) -> String {
        format!("{}:{}", self.phone_number_id, self.user)
    }
}

impl std::fmt::Display for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.phone_number_id, crate::telemetry::mask_phone(&self.user))
    }
}

/// A photo or document the user sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaRef {
    pub media_id: String,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub message_id: String,
    /// The message's timestamp (Unix seconds).
    pub at: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Phase {
    /// Talking with the bot.
    Active,
    /// Waiting for a verification result.
    Checking { submission: String, since: u64 },
    /// A live agent owns the conversation: the bot records but does not answer.
    WithAgent { reason: String, since: u64 },
    /// The user asked to stop; waiting for their confirmation.
    ConfirmingStop,
    /// Over. A new message starts a new conversation.
    Ended { outcome: String, at: u64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    pub conversation_id: String,
    pub user: UserKey,
    /// The user's phone number, when WhatsApp gave one (users of usernames may have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub flow_id: String,
    /// The flow version this conversation started on and keeps until it ends.
    pub flow_version: String,
    pub step: String,
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Values collected so far (`document`, typed answers).
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Photos by slot (front, back, selfie).
    #[serde(default)]
    pub media: BTreeMap<String, MediaRef>,
    /// Slots filled in the current run of photo steps, in order: a burst of photos is assigned to them by time.
    #[serde(default)]
    pub photo_run: Vec<String>,
    /// Photos that arrived when no photo was asked for: never discarded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_media: Vec<MediaRef>,
    /// Failed verification attempts per slot.
    #[serde(default)]
    pub attempts: BTreeMap<String, u32>,
    /// When retaking one photo, the step to return to once it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retake_return: Option<String>,
    /// Timestamp (Unix s) of the newest user message applied: older answers are recorded, not acted upon.
    #[serde(default)]
    pub last_message_at: u64,
    /// The last choice taken, as (step, id): a second tap on it is a duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_choice: Option<(String, String)>,
    /// Counts every step entered, so that a reminder scheduled for an earlier visit is recognised as stale.
    #[serde(default)]
    pub visit: u64,
    /// Verification submissions made, to number the next one.
    #[serde(default)]
    pub submissions: u32,
    /// While a person handles the case: when the user was last told a person will answer (Unix s).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub agent_notice_at: u64,
    /// Photos whose quality check is still running (media ids): the next step is not said until they pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub photo_checks: Vec<String>,
    /// The current step was entered silently while photos were checked: it is said (and its action run) once
    /// every check in `photo_checks` has passed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prompt_held: bool,
    /// An agent asked for a photo again: the check of the new photo goes back to them instead of deciding.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agent_review: bool,
    /// What the funnel report and metrics need: steps reached, retakes, handoffs, active time.
    #[serde(default)]
    pub journey: super::journey::Journey,
    pub started_at: u64,
    /// Time of the newest event of any kind (for the idle expiry).
    pub updated_at: u64,
}

impl ConversationState {
    /// Whether WhatsApp's 24-hour customer-service window is open at `now`.
    pub fn window_open(&self, now: u64) -> bool {
        self.last_message_at > 0 && now < self.last_message_at + 24 * 3600
    }

    pub fn is_ended(&self) -> bool {
        matches!(self.phase, Phase::Ended { .. })
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
