//! How long each kind of stored data lives. Every key the service writes about a person has one of these
//! lifetimes (or is removed when its work is done); nothing about a person is kept for ever.

use std::time::Duration;

use crate::flow::state::{ConversationState, Phase};

const DAY: u64 = 24 * 3600;

/// The lifetimes, read from the `RETENTION_*` settings (see `.env.example` and docs/privacy.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// An onboarding that did not end in a decision (in progress and idle, abandoned, stopped, declined, expired,
    /// failed): its state, message log and audit records go this long after its last activity.
    pub onboarding: Duration,
    /// An onboarding that ended in a KYC decision (verified or rejected): its state (the fields read, the
    /// decision, who took it) and audit records, for the company's AML record keeping. Holds no image.
    pub decision: Duration,
    /// A closed case (its timeline of messages and agent actions) after it closed.
    pub cases: Duration,
    /// The tombstone left by an erasure (no personal data): the record that the erasure happened.
    pub erasure_record: Duration,
    /// The funnel's summary of a conversation (no personal data), counted from the day it started.
    pub funnel: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            onboarding: Duration::from_secs(DEFAULT_ONBOARDING_DAYS * DAY),
            decision: Duration::from_secs(DEFAULT_DECISION_DAYS * DAY),
            cases: Duration::from_secs(DEFAULT_CASES_DAYS * DAY),
            erasure_record: Duration::from_secs(DEFAULT_ERASURE_RECORD_DAYS * DAY),
            funnel: Duration::from_secs(DEFAULT_FUNNEL_DAYS * DAY),
        }
    }
}

/// Unfinished onboardings: long enough for a user who comes back within two weeks to go on, short enough that
/// abandoned ID data does not linger.
pub const DEFAULT_ONBOARDING_DAYS: u64 = 14;
/// Five years: what the AML rules of Mexico, Colombia, Peru, Argentina, Chile and Brazil ask of KYC records.
pub const DEFAULT_DECISION_DAYS: u64 = 5 * 365 + 1;
/// A quarter: long enough for supervisors to review decisions and answer complaints.
pub const DEFAULT_CASES_DAYS: u64 = 90;
/// As long as the decisions it may stand in for.
pub const DEFAULT_ERASURE_RECORD_DAYS: u64 = DEFAULT_DECISION_DAYS;

/// Thirteen months: this month can be compared with the same month a year before.
pub const DEFAULT_FUNNEL_DAYS: u64 = 400;

/// What a conversation's keys should do at a save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Kept while a person holds the case: a case never expires while waiting or assigned.
    Held,
    /// Removed this long from now.
    For(Duration),
}

impl Retention {
    /// The lifetime of a conversation's state and audit records, from its state after a change.
    pub fn of(&self, state: &ConversationState) -> Lifetime {
        match &state.phase {
            Phase::WithAgent { .. } => Lifetime::Held,
            Phase::Ended { outcome, .. } if is_decision(outcome) => Lifetime::For(self.decision),
            _ => Lifetime::For(self.onboarding),
        }
    }
}

/// Whether an onboarding ended with a KYC decision (kept for the AML period).
pub fn is_decision(outcome: &str) -> bool {
    matches!(outcome, "verified" | "rejected")
}

impl Lifetime {
    /// Milliseconds for `PEXPIRE`; 0 for none (`PERSIST`).
    pub fn millis(self) -> u64 {
        match self {
            Self::Held => 0,
            Self::For(d) => (d.as_millis() as u64).max(1),
        }
    }
}
