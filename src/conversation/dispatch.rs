//! Effects to jobs. Each job's idempotency key is the event key and the effect's index, so handing out the same
//! effects again (a retried job, a crash before the outbox was cleared) never sends or verifies twice.

use std::sync::Arc;

use crate::agent::link::LinkSigner;
use crate::flow::event::{Effect, Reply};
use crate::flow::state::ConversationState;
use crate::jobs::event::EventJob;
use crate::jobs::key::JobKey;
use crate::jobs::notify::NotifyJob;
use crate::jobs::outbound::{Addressee, LinePlace, OutboundJob};
use crate::jobs::photo::PhotoJob;
use crate::jobs::verify::VerifyJob;
use crate::jobs::{BackgroundJob, Queues};
use crate::privacy::EraseJob;
use crate::store::case::{CaseEntry, CaseError, CaseInfo, CaseStatus, CaseStore};
use crate::store::conversation::OutboxEntry;
use crate::store::vault::MediaVault;
use crate::store::{SendOrder, StoreError};

#[derive(Clone)]
pub struct Dispatcher {
    pub queues: Queues,
    pub links: LinkSigner,
    /// Where the user's photos are kept, to erase them when the user asks (stop, declined consent).
    pub vault: Option<Arc<dyn MediaVault>>,
    /// Where a handoff opens a case for a person (and the end of the conversation closes it).
    pub cases: Option<Arc<dyn CaseStore>>,
    /// `AGENT_LINK_BASE_URL` is set: the user gets the external agent system's signed link. Unset, the built-in
    /// console is the agent system and the user is told that a person will write to them here.
    pub external_agents: bool,
    /// Each user's line of reply jobs: a job queued later waits for the ones before it.
    pub send_order: Arc<dyn SendOrder>,
}

/// The case a handoff opens: what the agent sees in the queue.
fn case_info(state: &ConversationState, key: &JobKey, reason: &str, now: u64) -> CaseInfo {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(key.to_string().as_bytes());
    CaseInfo {
        id: format!("case-{}", hex::encode(&digest[..8])),
        conversation_id: state.conversation_id.clone(),
        user: state.user.clone(),
        masked_phone: state.phone.as_deref().map(crate::privacy::masked),
        profile_name: state.vars.get(crate::flow::engine::PROFILE_NAME).cloned(),
        language: state.language.clone(),
        document: state.vars.get("document").cloned(),
        step: state.step.clone(),
        reason: reason.to_owned(),
        attempts: state.attempts.values().sum(),
        opened_at: now,
    }
}

fn case_entry(key: &JobKey, now: u64, actor: &str, kind: &str, text: String) -> CaseEntry {
    CaseEntry {
        key: key.to_string(),
        at: now,
        actor: actor.to_owned(),
        agent: None,
        kind: kind.to_owned(),
        text,
        media: None,
        send_key: None,
    }
}

/// Who the bot writes to: the phone when known, else the business-scoped user id.
pub fn addressee(state: &ConversationState) -> Addressee {
    let user_is_id = state.phone.as_deref() != Some(state.user.user.as_str());
    Addressee {
        phone_number_id: state.user.phone_number_id.clone(),
        phone: state.phone.clone(),
        user_id: if user_is_id { Some(state.user.user.clone()) } else { None },
    }
}

impl Dispatcher {
    /// Hands out the effects `entry` saved at conversation version `version`.
    pub async fn dispatch(
        &self,
        state: &ConversationState,
        version: u64,
        entry: &OutboxEntry,
        now: u64,
    ) -> Result<(), StoreError> {
        let mut outbound = Vec::new();
        let mut verify = Vec::new();
        let mut photos = Vec::new();
        let mut events = Vec::new();
        let mut notify = Vec::new();
        let mut erase = Vec::new();
        // The messages of one event go out as one job, in order (several jobs could be sent in parallel).
        let mut replies = Vec::new();
        let event_key = JobKey::from_stored(entry.event_key.clone());
        for (index, effect) in entry.effects.iter().enumerate() {
            let key = JobKey::effect(&event_key, index);
            match effect {
                Effect::Send { reply } => replies.push(reply.clone()),
                Effect::MarkRead { message_id } => outbound.push(
                    OutboundJob::MarkRead {
                        key,
                        phone_number_id: state.user.phone_number_id.clone(),
                        message_id: message_id.clone(),
                    }
                    .queued(),
                ),
                Effect::Handoff { body, label, reason, waiting } => {
                    if let Some(cases) = &self.cases {
                        let opened = cases.open(case_info(state, &key, reason, now)).await?;
                        let text = format!("handed over by the bot: {reason}");
                        let entry = case_entry(&key, now, "bot", "opened", text);
                        cases.record(&opened.case().info.id, &entry).await?;
                    }
                    if self.external_agents || waiting.is_empty() {
                        let url = self.links.link(&state.conversation_id, now);
                        replies.push(Reply::Link { body: body.clone(), label: label.clone(), url });
                    } else {
                        replies.push(Reply::Text { body: waiting.clone() });
                    }
                }
                Effect::ForAgent { note } => {
                    if let Some(cases) = &self.cases
                        && let Some(case) = cases.open_case_of(&state.conversation_id).await?
                    {
                        let actor = if note.kind == "check" { "verifier" } else { "user" };
                        let mut entry = case_entry(&key, now, actor, &note.kind, note.text.clone());
                        entry.media = note.media.clone();
                        cases.record(&case.info.id, &entry).await?;
                    }
                }
                Effect::CloseCase { returned, outcome } => {
                    if let Some(cases) = &self.cases
                        && let Some(case) = cases.open_case_of(&state.conversation_id).await?
                    {
                        let status = if *returned { CaseStatus::Returned } else { CaseStatus::Resolved };
                        match cases.close(&case.info.id, status, outcome, now).await {
                            Ok(_) | Err(CaseError::Change(_)) => {}
                            Err(CaseError::Store(e)) => return Err(e),
                        }
                    }
                }
                Effect::Verify { submission, document, media, attempt } => verify.push(
                    VerifyJob {
                        key,
                        user: state.user.clone(),
                        conversation_id: state.conversation_id.clone(),
                        submission: submission.clone(),
                        flow_id: state.flow_id.clone(),
                        flow_version: state.flow_version.clone(),
                        document: document.clone(),
                        media: media.clone(),
                        attempt: *attempt,
                        known: Default::default(),
                    }
                    .queued(),
                ),
                Effect::CheckPhoto { slot, document, media } => photos.push(
                    PhotoJob {
                        key,
                        user: state.user.clone(),
                        conversation_id: state.conversation_id.clone(),
                        flow_id: state.flow_id.clone(),
                        flow_version: state.flow_version.clone(),
                        slot: slot.clone(),
                        document: document.clone(),
                        media: media.clone(),
                    }
                    .queued(),
                ),
                Effect::Schedule { at, event } => {
                    events.push(EventJob { user: state.user.clone(), key, event: event.clone() }.queued_at(*at))
                }
                Effect::End { outcome, erase_data } => {
                    // An open case ends with the conversation: decided (verified, rejected) or withdrawn.
                    if let Some(cases) = &self.cases
                        && let Some(case) = cases.open_case_of(&state.conversation_id).await?
                    {
                        let status = match outcome.as_str() {
                            "verified" | "rejected" => CaseStatus::Resolved,
                            _ => CaseStatus::Withdrawn,
                        };
                        match cases.close(&case.info.id, status, outcome, now).await {
                            Ok(_) | Err(CaseError::Change(_)) => {}
                            Err(CaseError::Store(e)) => return Err(e),
                        }
                    }
                    if *erase_data && let Some(vault) = &self.vault {
                        vault
                            .delete_conversation(&state.conversation_id)
                            .await
                            .map_err(|e| StoreError::Unavailable(format!("erasing the photos: {e}")))?;
                    }
                    // The company's system hears how it ended; only a verified user's fields go with it.
                    let fields = if outcome == "verified" {
                        state
                            .vars
                            .iter()
                            .filter_map(|(k, v)| k.strip_prefix("field_").map(|k| (k.to_owned(), v.clone())))
                            .collect()
                    } else {
                        Default::default()
                    };
                    let job = NotifyJob {
                        id: key.to_string(),
                        event: format!("onboarding.{outcome}"),
                        conversation_id: state.conversation_id.clone(),
                        phone_number_id: state.user.phone_number_id.clone(),
                        phone: state.phone.clone(),
                        user: state.user.user.clone(),
                        document: state.vars.get("document").cloned(),
                        fields,
                        decided_by: state.vars.get("decided_by").cloned(),
                        reason: state.vars.get("rejected_reason").cloned().filter(|_| outcome == "rejected"),
                        at: now,
                    };
                    notify.push(job.queued());
                    if *erase_data {
                        let job = EraseJob {
                            user: state.user.clone(),
                            conversation_id: state.conversation_id.clone(),
                            asked_at: now,
                        };
                        erase.push(job.queued());
                    }
                }
                // Recorded in the audit log with the transition; nothing to run.
                Effect::Note { .. } => {}
            }
        }
        if !replies.is_empty() {
            let key = JobKey::replies(&event_key);
            // In the line before it is queued: a job queued later cannot overtake it.
            self.send_order.enter(&state.user, key.as_ref(), version).await?;
            let job = OutboundJob::Send {
                key: key.clone(),
                to: addressee(state),
                conversation_id: state.conversation_id.clone(),
                replies,
                attempt: 0,
                holds: 0,
                line: Some(LinePlace { user: state.user.clone(), seq: version, waiting_since: None, waits: 0 }),
            };
            outbound.push(job.queued());
        }
        self.queues.push(&outbound).await?;
        self.queues.push(&photos).await?;
        self.queues.push(&verify).await?;
        self.queues.push(&events).await?;
        self.queues.push::<NotifyJob>(&notify).await?;
        self.queues.push(&erase).await?;
        Ok(())
    }
}
