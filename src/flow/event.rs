//! What goes into the engine (events) and what comes out (effects).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::input::UserMessage;
use super::state::MediaRef;
use crate::verify::reason::ReasonCode;

/// An event and the facts the engine may not look up itself: the time and a unique key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per event; effects derive their idempotency keys from it.
    pub key: String,
    /// Now, in Unix seconds (the engine has no clock).
    pub now: u64,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A message from the user (its phone, when known, drives the language guess).
    Message {
        message: UserMessage,
    },
    VerificationFinished {
        submission: String,
        result: VerificationResult,
    },
    /// The quality check of one photo, run as soon as it arrived.
    PhotoChecked {
        slot: String,
        media_id: String,
        result: PhotoCheck,
    },
    /// A photo's quick check has not answered in time (its job lost or stuck): the conversation moves on rather
    /// than wait silently; the verification checks the photo again.
    PhotoCheckOverdue {
        media_id: String,
    },
    /// The photos of a submission could not be downloaded: the user is asked to send them again.
    MediaUnavailable {
        submission: String,
        slot: String,
        detail: String,
    },
    ReminderDue {
        step: String,
        visit: u64,
    },
    /// The conversation may have been idle for longer than the flow allows.
    ExpiryDue,
    /// A verification has taken longer than the flow allows.
    VerificationTimeout {
        submission: String,
    },
    AgentOutcome {
        decision: AgentDecision,
        /// Who decided (an agent's email), kept in the audit log and sent to the company as `decided_by`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
}

/// What the quick check of one photo found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum PhotoCheck {
    Passed,
    /// Take this photo again, for this reason (its advice is sent at once).
    Retake {
        reason: ReasonCode,
    },
    /// The photo could not be downloaded (not the user's fault).
    Unavailable {
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum VerificationResult {
    Verified {
        confidence: f32,
        #[serde(default)]
        fields: BTreeMap<String, String>,
    },
    /// A photo must be taken again.
    Retake { slot: String, reason: ReasonCode },
    /// A person must look at it (low confidence, provider unavailable, ...).
    Agent { reason: ReasonCode },
    /// Failed a check (registry hit, face mismatch): reviewed by a person, never an accusation in the chat.
    Rejected { reason: ReasonCode },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum AgentDecision {
    Approve,
    /// Closed with a reason from [`crate::agent::REJECT_REASONS`] (kept in the audit log and sent to the company;
    /// the user only gets the polite closing text).
    Reject {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// One photo again, with the reason's advice; its new check comes back to the agent.
    Retake {
        slot: String,
        reason: ReasonCode,
    },
    /// Back to the bot, at `step` (or where the conversation was).
    Return {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
}

/// What the engine asks the runner to do. The runner turns each into a job with an idempotency key made of the
/// event key and the effect's index, so a retried event never does anything twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Send {
        reply: Reply,
    },
    /// Mark the user's message read and show the typing indicator while the bot works.
    MarkRead {
        message_id: String,
    },
    Verify {
        submission: String,
        document: Option<String>,
        media: BTreeMap<String, MediaRef>,
        attempt: u32,
    },
    /// Check one photo's quality now (answered by [`Event::PhotoChecked`]), before the next step is said.
    CheckPhoto {
        slot: String,
        document: Option<String>,
        media: MediaRef,
    },
    /// A person takes over: a case opens (`reason` is shown to the agent). With an external agent system the user
    /// gets its signed link (`body`, `label`); with the built-in console, `waiting` ("a person will write to you
    /// here").
    Handoff {
        reason: String,
        body: String,
        label: String,
        #[serde(default)]
        waiting: String,
    },
    /// Something the agent of the open case must see at once: a message the user wrote while waiting, the result
    /// of a check the agent asked for.
    ForAgent {
        note: AgentNote,
    },
    /// The open case is over for the agents: `resolved` (approved, rejected) or `returned` to the bot.
    CloseCase {
        returned: bool,
        outcome: String,
    },
    Schedule {
        at: u64,
        event: Event,
    },
    /// A deliberate silence or a decision worth keeping in the audit log.
    Note {
        text: String,
    },
    /// The conversation is over; `erase_data` deletes what the user sent (photos, answers).
    End {
        outcome: String,
        erase_data: bool,
    },
}

/// One line of a case's timeline, as the engine sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentNote {
    /// `message` (text from the user), `photo`, `check` (a verification result).
    pub kind: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
}

/// A message for the user, already in their language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    Text {
        body: String,
    },
    Buttons {
        body: String,
        #[serde(default)]
        footer: Option<String>,
        buttons: Vec<Button>,
    },
    List {
        body: String,
        #[serde(default)]
        footer: Option<String>,
        button: String,
        sections: Vec<ListSection>,
    },
    Link {
        body: String,
        label: String,
        url: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListSection {
    #[serde(default)]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
}

impl Reply {
    pub fn body(&self) -> &str {
        match self {
            Reply::Text { body }
            | Reply::Buttons { body, .. }
            | Reply::List { body, .. }
            | Reply::Link { body, .. } => body,
        }
    }

    /// The ids a user can answer with (buttons and rows).
    pub fn choice_ids(&self) -> Vec<&str> {
        match self {
            Reply::Buttons { buttons, .. } => buttons.iter().map(|b| b.id.as_str()).collect(),
            Reply::List { sections, .. } => sections.iter().flat_map(|s| &s.rows).map(|r| r.id.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}
