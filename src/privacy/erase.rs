//! Erasure: every trace of one person goes from every store and queue; a tombstone per conversation is left
//! (no personal data) as the record that it happened, and a receipt says what went.
//!
//! Jobs and kept payloads are found by what they mention: the user's WhatsApp id, their phone number and their
//! conversation ids. A stop erases through an [`EraseJob`], which first lets the last messages to the user
//! (the goodbye, the company notification) go out.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Privacy, PrivacyError, masked};
use crate::flow::state::{ConversationState, Phase, UserKey};
use crate::jobs::event::EventJob;
use crate::jobs::inbound::InboundJob;
use crate::jobs::notify::NotifyJob;
use crate::jobs::outbound::OutboundJob;
use crate::jobs::photo::PhotoJob;
use crate::jobs::verify::VerifyJob;
use crate::jobs::worker::{Handler, JobFailure};
use crate::jobs::{BackgroundJob, JobKey};
use crate::store::conversation::{AuditRecord, Tombstone};

/// What an erasure removed, by kind. Every count is 0 when the person was erased already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Removed {
    /// Conversation states (at most one per user and business number).
    pub states: usize,
    pub audit_records: usize,
    /// Messages from the message log.
    pub messages: usize,
    /// Cases, each with its timeline.
    pub cases: usize,
    pub photos: usize,
    /// Jobs waiting, scheduled or dead in any queue.
    pub queued_jobs: usize,
    /// Webhook payloads kept for inspection.
    pub kept_payloads: usize,
}

/// The answer to an erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErasureReceipt {
    /// The user, masked.
    pub user: String,
    pub phone_number_id: String,
    /// `user` (they confirmed stop) or `operator:<name>` / `api:<token name>`.
    pub erased_by: String,
    /// Unix seconds.
    pub erased_at: u64,
    /// The conversations erased; a tombstone stays for each.
    pub conversations: Vec<String>,
    pub removed: Removed,
}

impl Privacy {
    /// Removes everything held about `user`. Idempotent: erasing again removes nothing and answers zeros.
    pub async fn erase(&self, user: &UserKey, erased_by: &str) -> Result<ErasureReceipt, PrivacyError> {
        let now = self.backend.clock().now_secs();
        let (state, ids) = self.conversation_ids(user).await?;
        let conversations = self.backend.conversations();
        let chain = conversations.audit_chain(user).await?;
        let records: Vec<AuditRecord> = chain.links.iter().filter_map(|l| serde_json::from_str(&l.json).ok()).collect();
        let mut removed = Removed::default();
        let mut tombstones = Vec::new();
        for id in &ids {
            removed.photos += self.vault.list(id).await?.len();
            self.vault.delete_conversation(id).await?;
            removed.cases += self.backend.cases().erase_conversation(id).await?;
            if conversations.tombstone(id).await?.is_none() {
                let stone = tombstone(id, state.as_ref(), &records, chain.head.clone(), erased_by, now);
                self.mark_in_funnel(&stone).await?;
                tombstones.push(stone);
            }
        }
        let needles = needles(user, state.as_ref(), &ids);
        removed.queued_jobs = self.erase_jobs(&needles).await?;
        removed.kept_payloads = self.backend.ingress().erase_kept(&needles).await?;
        let erased = conversations.erase(user, &tombstones).await?;
        // The line of reply jobs names the user's messages (their ids); its jobs are erased above.
        self.backend.send_order().erase(user).await?;
        removed.states = erased.states;
        removed.audit_records = erased.audit_records;
        removed.messages = erased.messages;
        tracing::info!(user = %masked(&user.user), erased_by, conversations = ids.len(), ?removed, "erased");
        Ok(ErasureReceipt {
            user: masked(&user.user),
            phone_number_id: user.phone_number_id.clone(),
            erased_by: erased_by.to_owned(),
            erased_at: now,
            conversations: ids,
            removed,
        })
    }

    /// The funnel keeps the conversation, marked erased; one that had not ended ends there, as `erased`.
    async fn mark_in_funnel(&self, stone: &Tombstone) -> Result<(), PrivacyError> {
        let journeys = self.backend.journeys();
        let before = journeys.mark_erased(&stone.conversation_id, stone.started_at, stone.erased_at).await?;
        if let (Some(before), Some(metrics)) = (before, &self.metrics)
            && before.is_open()
        {
            metrics.funnel.ended(&before.erased_at(stone.erased_at));
        }
        Ok(())
    }

    /// Removes the jobs that mention one of `needles` from every queue (the erasure queue's own jobs are left:
    /// one may be running this erasure; it goes when it is done).
    async fn erase_jobs(&self, needles: &[String]) -> Result<usize, PrivacyError> {
        let q = &self.queues;
        Ok(q.of::<InboundJob>().erase_matching(needles).await?
            + q.of::<EventJob>().erase_matching(needles).await?
            + q.of::<OutboundJob>().erase_matching(needles).await?
            + q.of::<PhotoJob>().erase_matching(needles).await?
            + q.of::<VerifyJob>().erase_matching(needles).await?
            + q.of::<NotifyJob>().erase_matching(needles).await?)
    }

    /// Jobs still to run for the user that an erasure on stop waits for: messages coming in or going out, the
    /// company's notification, photo checks and verifications (which would store again what they read).
    /// Reminders (events) are not waited for: they are erased.
    async fn work_in_flight(&self, needles: &[String]) -> Result<usize, PrivacyError> {
        let q = &self.queues;
        Ok(q.of::<InboundJob>().count_matching(needles).await?
            + q.of::<OutboundJob>().count_matching(needles).await?
            + q.of::<PhotoJob>().count_matching(needles).await?
            + q.of::<VerifyJob>().count_matching(needles).await?
            + q.of::<NotifyJob>().count_matching(needles).await?)
    }
}

/// What jobs and payloads about the user contain: their WhatsApp id, phone and conversation ids (never a short
/// string that could match someone else's job).
fn needles(user: &UserKey, state: Option<&ConversationState>, ids: &[String]) -> Vec<String> {
    let mut needles = vec![user.user.clone()];
    needles.extend(state.and_then(|s| s.phone.clone()));
    needles.extend(ids.iter().cloned());
    needles.retain(|n| n.len() >= 6);
    needles.sort();
    needles.dedup();
    needles
}

/// The tombstone of conversation `id`: from the state when it is the current conversation, else from its audit
/// records.
fn tombstone(
    id: &str,
    state: Option<&ConversationState>,
    records: &[AuditRecord],
    audit_head: Option<crate::store::audit_chain::ChainHead>,
    erased_by: &str,
    now: u64,
) -> Tombstone {
    let mine: Vec<&AuditRecord> = records.iter().filter(|r| r.conversation_id == id).collect();
    let current = state.filter(|s| s.conversation_id == id);
    let outcome_before = match current.map(|s| &s.phase) {
        Some(Phase::Ended { outcome, .. }) => Some(outcome.clone()),
        _ => None,
    };
    Tombstone {
        conversation_id: id.to_owned(),
        flow_id: current.map(|s| s.flow_id.clone()).unwrap_or_default(),
        flow_version: current.map(|s| s.flow_version.clone()).unwrap_or_default(),
        step: current.map(|s| s.step.clone()).or_else(|| mine.last().map(|r| r.step_after.clone())).unwrap_or_default(),
        outcome_before,
        outcome: "erased".into(),
        started_at: current.map(|s| s.started_at).or_else(|| mine.first().map(|r| r.at)).unwrap_or(now),
        erased_at: now,
        erased_by: erased_by.to_owned(),
        audit_head,
    }
}

/// Erases a user who confirmed stop, once the last messages to them have gone out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseJob {
    pub user: UserKey,
    /// The conversation that ended with the erasure (its key).
    pub conversation_id: String,
    /// Unix seconds when it was asked.
    pub asked_at: u64,
}

/// The erasure queue.
pub const ERASURE_QUEUE: &str = "erasure";

/// Tries of an erasure on stop: about half an hour of waiting (2 s, 4 s, 8 s ... 5 min) for the last
/// messages to go out; the last try erases whatever is still queued.
pub const ERASE_ATTEMPTS: u32 = 14;

impl BackgroundJob for EraseJob {
    const QUEUE: &'static str = ERASURE_QUEUE;
    const MAX_ATTEMPTS: u32 = ERASE_ATTEMPTS;
    type Handler = Privacy;
    fn key(&self) -> JobKey {
        JobKey::erasure(&self.conversation_id)
    }
    fn owner(&self) -> Option<String> {
        Some(self.user.as_string())
    }
}

#[async_trait]
impl Handler<EraseJob> for Privacy {
    async fn handle(&self, job: EraseJob, attempt: u32) -> Result<(), JobFailure> {
        let conversations = self.backend.conversations();
        let state = conversations.load(&job.user).await.map_err(JobFailure::retry)?.map(|v| v.stored.state);
        let needles = needles(&job.user, state.as_ref(), std::slice::from_ref(&job.conversation_id));
        let waiting = self.work_in_flight(&needles).await.map_err(JobFailure::retry)?;
        if waiting > 0 && attempt + 1 < ERASE_ATTEMPTS {
            return Err(JobFailure::retry(format!("{waiting} jobs for the user still to run before the erasure")));
        }
        if waiting > 0 {
            tracing::warn!(waiting, "erasing a user whose last jobs did not run: they are erased with the rest");
        }
        self.erase(&job.user, "user").await.map(drop).map_err(JobFailure::retry)
    }
}
