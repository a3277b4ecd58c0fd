//! One conversation as the funnel sees it, kept apart from the conversation itself (which expires with the
//! onboarding retention and goes at an erasure): ids, flow, times, steps, reason codes. No personal data.

use serde::{Deserialize, Serialize};

use crate::flow::journey::Retake;
use crate::flow::state::{ConversationState, Phase};

/// How a conversation stands in the funnel: how it ended, or where it is.
pub mod outcome {
    pub const VERIFIED: &str = "verified";
    pub const REJECTED: &str = "rejected";
    pub const DECLINED: &str = "declined";
    pub const STOPPED: &str = "stopped";
    pub const EXPIRED: &str = "expired";
    /// Erased by an operator before it ended.
    pub const ERASED: &str = "erased";
    /// Not ended: a person has the case.
    pub const REVIEW: &str = "review";
    /// Not ended: waiting for the verification's result.
    pub const CHECKING: &str = "checking";
    /// Not ended: talking with the bot.
    pub const IN_PROGRESS: &str = "in_progress";

    /// The outcomes that are not an end (yet).
    pub fn is_open(outcome: &str) -> bool {
        matches!(outcome, REVIEW | CHECKING | IN_PROGRESS)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneySummary {
    pub conversation_id: String,
    pub flow_id: String,
    pub flow_version: String,
    /// The first message (Unix seconds).
    pub started_at: u64,
    /// The newest event.
    pub updated_at: u64,
    /// See [`outcome`]; a flow's own finishing steps may name others.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    /// The step it is at now, or was at when it ended (see [`crate::flow::journey::Journey::left_at`]).
    pub step: String,
    /// Steps reached, in order.
    pub steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retakes: Vec<Retake>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handoffs: Vec<String>,
    #[serde(default)]
    pub active_secs: u64,
    /// Its data was erased (after it ended, or before: then the outcome is `erased`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub erased: bool,
}

impl JourneySummary {
    pub fn of(state: &ConversationState) -> Self {
        let journey = &state.journey;
        let (outcome, ended_at) = match &state.phase {
            Phase::Ended { outcome, at } => (outcome.clone(), Some(*at)),
            Phase::WithAgent { .. } => (outcome::REVIEW.to_owned(), None),
            _ if state.agent_review => (outcome::REVIEW.to_owned(), None),
            Phase::Checking { .. } => (outcome::CHECKING.to_owned(), None),
            Phase::Active | Phase::ConfirmingStop => (outcome::IN_PROGRESS.to_owned(), None),
        };
        let step = match ended_at {
            Some(_) => journey.left_at.clone().unwrap_or_else(|| state.step.clone()),
            None => state.step.clone(),
        };
        let document = state.vars.get("document").cloned().or_else(|| journey.document.clone());
        Self {
            conversation_id: state.conversation_id.clone(),
            flow_id: state.flow_id.clone(),
            flow_version: state.flow_version.clone(),
            started_at: state.started_at,
            updated_at: state.updated_at,
            outcome,
            ended_at,
            step,
            steps: journey.steps.clone(),
            document,
            retakes: journey.retakes.clone(),
            handoffs: journey.handoffs.clone(),
            active_secs: journey.active_secs,
            erased: false,
        }
    }

    /// The same conversation after its data was erased at `at`: one that had not ended ends as `erased`.
    pub fn erased_at(mut self, at: u64) -> Self {
        self.erased = true;
        if outcome::is_open(&self.outcome) {
            self.outcome = outcome::ERASED.to_owned();
            self.ended_at = Some(at);
        }
        self
    }

    pub fn is_open(&self) -> bool {
        outcome::is_open(&self.outcome)
    }

    /// Seconds from the first message to the outcome.
    pub fn wall_secs(&self) -> Option<u64> {
        self.ended_at.map(|end| end.saturating_sub(self.started_at))
    }
}
