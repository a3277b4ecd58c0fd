//! What the funnel needs of one conversation, kept in its state by the engine as it goes: the steps reached, the
//! retakes asked for and why, the handoffs and why, and the time the user spent answering. No personal data:
//! step names, reason codes and document types only, so it may outlive the conversation (see
//! [`crate::funnel::JourneySummary`]).

use serde::{Deserialize, Serialize};

/// A gap longer than this between the bot's last word and the user's answer counts as this long: the user put
/// the phone down, and the rest is waiting, not answering.
pub const ACTIVE_GAP_MAX_SECS: u64 = 300;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journey {
    /// Every step entered, each once, in the order first reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retakes: Vec<Retake>,
    /// Why the conversation went to a person, each time it did (`review_required`, `user_request`,
    /// `attempts_exhausted: blurry`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub handoffs: Vec<String>,
    /// Seconds the user spent answering: from the bot's last event to each of their messages, each gap counted
    /// up to [`ACTIVE_GAP_MAX_SECS`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub active_secs: u64,
    /// Where the user was when the conversation ended: the step before a finishing step (a user who declines
    /// consent left at `consent`, not at `declined`), else the step it ended on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<String>,
    /// The document type chosen, kept at the end (a stop or a declined consent clears the answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// A photo asked for again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retake {
    pub slot: String,
    /// The reason code (`blurry`, `glare`, `face_mismatch`...).
    pub reason: String,
    /// The document type chosen (`mx_ine`, `passport`...), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

impl Journey {
    pub fn reach(&mut self, step: &str) {
        if !self.steps.iter().any(|s| s == step) {
            self.steps.push(step.to_owned());
        }
    }

    /// A user's answer `gap` seconds after the bot's last event.
    pub fn answered_after(&mut self, gap: u64) {
        self.active_secs += gap.min(ACTIVE_GAP_MAX_SECS);
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The code of a handoff reason, for labels and grouping: `attempts_exhausted: blurry` is `attempts_exhausted`;
/// anything that is not a plain code is `other`, so a label never carries free text.
pub fn reason_code(reason: &str) -> &str {
    let code = reason.split(':').next().unwrap_or_default().trim();
    let plain = !code.is_empty() && code.len() <= 40 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if plain { code } else { "other" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_kept_once_in_first_order_and_long_gaps_are_capped() {
        let mut journey = Journey::default();
        for step in ["language", "consent", "front", "consent", "front", "selfie"] {
            journey.reach(step);
        }
        assert_eq!(journey.steps, ["language", "consent", "front", "selfie"]);
        journey.answered_after(20);
        journey.answered_after(3 * 3600);
        assert_eq!(journey.active_secs, 20 + ACTIVE_GAP_MAX_SECS);
    }

    #[test]
    fn reason_codes_never_carry_free_text() {
        assert_eq!(reason_code("attempts_exhausted: blurry"), "attempts_exhausted");
        assert_eq!(reason_code("review_required"), "review_required");
        assert_eq!(reason_code("no step collects `selfie`"), "other");
        assert_eq!(reason_code(""), "other");
    }
}
