//! Cases: a person taking over an onboarding the bot could not finish. One open case per conversation; a case is
//! `waiting` until one agent claims it (atomically: of two agents clicking at once, one wins and the other is told
//! who did), `assigned` until it is `resolved` (approved, rejected), `returned` to the bot, or `withdrawn` (the
//! user stopped). A case never expires while waiting or assigned; a closed one goes, with its timeline, after the
//! cases retention.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::flow::state::{MediaRef, UserKey};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Waiting,
    Assigned,
    Resolved,
    Returned,
    Withdrawn,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 5] = [Self::Waiting, Self::Assigned, Self::Resolved, Self::Returned, Self::Withdrawn];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Assigned => "assigned",
            Self::Resolved => "resolved",
            Self::Returned => "returned",
            Self::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Waiting or assigned: a person still has to act.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Waiting | Self::Assigned)
    }
}

/// What the agent sees of a case before opening it, fixed when it opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseInfo {
    pub id: String,
    pub conversation_id: String,
    pub user: UserKey,
    /// The phone with all but the last four digits masked.
    pub masked_phone: Option<String>,
    pub profile_name: Option<String>,
    pub language: Option<String>,
    pub document: Option<String>,
    /// The flow step the conversation was at.
    pub step: String,
    /// Why automation handed over (a reason code, e.g. `blurry`, `low_confidence`, `provider_unavailable`).
    pub reason: String,
    /// Failed photo attempts so far.
    pub attempts: u32,
    pub opened_at: u64,
}

/// A case and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Case {
    #[serde(flatten)]
    pub info: CaseInfo,
    pub status: CaseStatus,
    pub assigned_to: Option<String>,
    pub assigned_at: Option<u64>,
    pub closed_at: Option<u64>,
    /// How it was closed (e.g. `approved`, `rejected`, `retake`, `stopped`).
    pub outcome: Option<String>,
}

impl Case {
    pub fn waiting(info: CaseInfo) -> Self {
        Self { info, status: CaseStatus::Waiting, assigned_to: None, assigned_at: None, closed_at: None, outcome: None }
    }
}

/// One line of a case's timeline: what the user wrote while waiting, what the agent wrote and decided, the checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseEntry {
    /// Unique per entry (the effect or request it comes from): recording an entry twice keeps one.
    pub key: String,
    pub at: u64,
    /// `user`, `agent`, `bot`, `verifier`, `system`.
    pub actor: String,
    /// The agent's email, for `agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// `opened`, `message`, `photo`, `check`, `claim`, `decision`, `closed`, `photo_viewed`.
    pub kind: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaRef>,
    /// For a message to the user: the sent log key of the message, to show its delivery state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_key: Option<String>,
}

/// The most entries a case's timeline keeps (the oldest go first).
pub const TIMELINE_MAX: usize = 1000;

/// What [`CaseStore::open`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    New(Case),
    /// The conversation already has an open case (a repeated handoff): that one.
    Existing(Case),
}

impl Opened {
    pub fn case(&self) -> &Case {
        match self {
            Self::New(case) | Self::Existing(case) => case,
        }
    }
}

/// Why a claim, an assignment or a close did not happen. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseChangeError {
    #[error("no case {0}")]
    NotFound(String),
    #[error("the case is already taken by {0}")]
    TakenBy(String),
    #[error("the case is {} already", .0.as_str())]
    Closed(CaseStatus),
    #[error("the case is not assigned to {0}")]
    NotYours(String),
}

/// A failed change: the store was not reached, or the case was not in a state that allows it.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Change(#[from] CaseChangeError),
}

#[async_trait]
pub trait CaseStore: Send + Sync + 'static {
    /// Opens a waiting case, unless the conversation has an open one already (then answers it).
    async fn open(&self, info: CaseInfo) -> Result<Opened, StoreError>;

    async fn get(&self, id: &str) -> Result<Option<Case>, StoreError>;

    /// The open case of a conversation, if any.
    async fn open_case_of(&self, conversation_id: &str) -> Result<Option<Case>, StoreError>;

    /// Cases in `status`, oldest opened first.
    async fn list(&self, status: CaseStatus, limit: usize) -> Result<Vec<Case>, StoreError>;

    /// How many cases are in each state.
    async fn counts(&self) -> Result<BTreeMap<CaseStatus, usize>, StoreError>;

    /// `agent` takes a waiting case, atomically: one claim wins.
    async fn claim(&self, id: &str, agent: &str, now: u64) -> Result<Case, CaseError>;

    /// A supervisor gives an open case to `agent`, whoever held it.
    async fn reassign(&self, id: &str, agent: &str, now: u64) -> Result<Case, CaseError>;

    /// Closes an open case as `status` (resolved, returned, withdrawn) with its `outcome`.
    async fn close(&self, id: &str, status: CaseStatus, outcome: &str, now: u64) -> Result<Case, CaseError>;

    /// Adds an entry to the case's timeline, unless one with its key is there (answers whether it was new).
    async fn record(&self, id: &str, entry: &CaseEntry) -> Result<bool, StoreError>;

    /// The case's timeline, oldest first (at most [`TIMELINE_MAX`] entries).
    async fn timeline(&self, id: &str) -> Result<Vec<CaseEntry>, StoreError>;

    /// Every case of a conversation still kept, open or closed, oldest first.
    async fn cases_of(&self, conversation_id: &str) -> Result<Vec<Case>, StoreError>;

    /// Removes every case of a conversation with its timeline; answers how many.
    async fn erase_conversation(&self, conversation_id: &str) -> Result<usize, StoreError>;
}
