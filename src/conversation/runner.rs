//! The one road for every change of a conversation: load (versioned) → engine.step → compare-and-set save
//! (with the audit records and an outbox of effects) → hand out the effects → clear the outbox.
//! A lost race reloads and steps again; never last-writer-wins.

use std::sync::Arc;

use thiserror::Error;

use super::dispatch::Dispatcher;
use super::flows::FlowRegistry;
use crate::clock::SharedClock;
use crate::flow::engine;
use crate::flow::event::{Effect, Envelope, Event, VerificationResult};
use crate::flow::input::Input;
use crate::flow::state::{ConversationState, UserKey};
use crate::funnel::JourneySummary;
use crate::jobs::event::EventJob;
use crate::jobs::inbound::{InboundEvent, InboundJob};
use crate::store::StoreError;
use crate::store::conversation::{
    APPLIED_KEYS_KEPT, AuditRecord, ConversationStore, LoggedMessage, OutboxEntry, Saved, Stored,
};
use crate::store::retention::{Lifetime, Retention};

/// How many times a lost compare-and-set race is retried before the job is handed back to the queue.
const MAX_RACES: usize = 50;

#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("too many concurrent changes to one conversation; the job will run again")]
    Contention,
    #[error("flow `{0}` version {1} is not available in this process or the store")]
    FlowMissing(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The event changed the conversation; this many effects were handed out.
    Applied { effects: usize },
    /// The event had been applied already (a retried job): only what was left was handed out.
    Duplicate,
    /// The event concerns no conversation (e.g. a reminder for a user whose data was erased).
    Ignored,
    /// Recorded in the audit log without touching the state (delivery statuses).
    Recorded,
}

pub struct Runner {
    pub flows: Arc<FlowRegistry>,
    pub store: Arc<dyn ConversationStore>,
    pub dispatcher: Dispatcher,
    /// The time of every event; tests and replays fix it.
    pub clock: SharedClock,
    /// How long conversations are kept (their index lives as long).
    pub retention: Retention,
    /// The funnel's summary of each conversation, rewritten at every change.
    pub journeys: Arc<dyn crate::store::journeys::JourneyStore>,
    /// The funnel's metrics, counted once per applied event.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Runner {
    pub async fn inbound(&self, job: &InboundJob) -> Result<Applied, RunError> {
        let Some(user) = job.event.user_key() else { return Ok(Applied::Ignored) };
        let now = self.clock.now_secs();
        match &job.event {
            InboundEvent::Message { message, .. } => {
                let event = Event::Message { message: message.clone() };
                self.apply(&user, Envelope { key: job.key.to_string(), now, event }, "user").await
            }
            InboundEvent::Status { status, .. } => {
                let record = AuditRecord {
                    at: now,
                    conversation_id: String::new(),
                    actor: "whatsapp".into(),
                    event: format!(
                        "delivery {} of {}{}",
                        status.status.as_str(),
                        status.id,
                        status.errors.first().map(|e| format!(" (error {}: {})", e.code, e.title)).unwrap_or_default()
                    ),
                    event_key: job.key.to_string(),
                    ..Default::default()
                };
                self.store.append_audit(&user, &[record]).await?;
                Ok(Applied::Recorded)
            }
        }
    }

    pub async fn event(&self, job: &EventJob, actor: &str) -> Result<Applied, RunError> {
        let envelope = Envelope { key: job.key.to_string(), now: self.clock.now_secs(), event: job.event.clone() };
        self.apply(&job.user, envelope, actor).await
    }

    async fn flow_for(
        &self,
        user: &UserKey,
        state: Option<&ConversationState>,
        event: &Event,
        now: u64,
    ) -> Result<Arc<crate::flow::load::Flow>, RunError> {
        let default = || {
            self.flows
                .default_for(&user.phone_number_id)
                .ok_or_else(|| RunError::FlowMissing("default".into(), "current".into()))
        };
        let Some(state) = state else { return default() };
        let flow = self
            .flows
            .version(&state.flow_id, &state.flow_version, self.store.as_ref())
            .await?
            .ok_or_else(|| RunError::FlowMissing(state.flow_id.clone(), state.flow_version.clone()))?;
        // A message after the end (or after the idle expiry) starts a new conversation on the current flow.
        let idle = flow.file.settings.idle_expiry.seconds();
        let over = state.is_ended() || now >= state.last_message_at.max(state.started_at) + idle;
        if over && matches!(event, Event::Message { .. }) { default() } else { Ok(flow) }
    }

    async fn apply(&self, user: &UserKey, envelope: Envelope, actor: &str) -> Result<Applied, RunError> {
        for _ in 0..MAX_RACES {
            let loaded = self.store.load(user).await?;
            let version = loaded.as_ref().map_or(0, |l| l.version);
            let previous = loaded.map(|l| l.stored);
            if let Some(previous) = &previous {
                // Effects an earlier run saved but may not have handed out (it crashed in between).
                for entry in &previous.outbox {
                    self.dispatcher.dispatch(&previous.state, version, entry, envelope.now).await?;
                }
                if previous.applied.contains(&envelope.key) {
                    for entry in &previous.outbox {
                        self.store.clear_outbox(user, version, &entry.event_key).await?;
                    }
                    // An earlier run may have stopped before writing the summary: it is rewritten (idempotent).
                    self.journeys.record(&JourneySummary::of(&previous.state)).await?;
                    return Ok(Applied::Duplicate);
                }
            }
            let state = previous.as_ref().map(|p| &p.state);
            let flow = self.flow_for(user, state, &envelope.event, envelope.now).await?;
            let Some(outcome) = engine::step(&flow, state, user, &envelope) else { return Ok(Applied::Ignored) };
            // Agents' outcomes, the API and exports name the conversation: its index lives as long as it does.
            let lifetime = self.retention.of(&outcome.state);
            if state.map(|s| (&s.conversation_id, self.retention.of(s)))
                != Some((&outcome.state.conversation_id, lifetime))
                || lifetime != Lifetime::Held
            {
                self.store.index_conversation(&outcome.state.conversation_id, user, lifetime).await?;
            }

            let audit = audit_record(&envelope, actor, state, &outcome.state, &outcome.effects);
            let entry = OutboxEntry { event_key: envelope.key.clone(), effects: outcome.effects };
            let mut applied = previous.as_ref().map(|p| p.applied.clone()).unwrap_or_default();
            applied.push(envelope.key.clone());
            if applied.len() > APPLIED_KEYS_KEPT {
                applied.drain(..applied.len() - APPLIED_KEYS_KEPT);
            }
            // Earlier outbox entries were handed out above: only this event's remain pending.
            let stored = Stored { state: outcome.state, outbox: vec![entry], applied };
            match self.store.save(user, version, &stored, &[audit]).await? {
                Saved::Conflict => continue,
                Saved::Ok(new_version) => {
                    self.metrics.funnel.observe(state, &stored.state, &envelope.event);
                    self.journeys.record(&JourneySummary::of(&stored.state)).await?;
                    if let Event::Message { message } = &envelope.event {
                        self.store.log_message(user, &logged(&stored.state.conversation_id, message)).await?;
                    }
                    let entry = &stored.outbox[0];
                    self.dispatcher.dispatch(&stored.state, new_version, entry, envelope.now).await?;
                    self.store.clear_outbox(user, new_version, &entry.event_key).await?;
                    return Ok(Applied::Applied { effects: entry.effects.len() });
                }
            }
        }
        Err(RunError::Contention)
    }
}

/// A user's message as their message log keeps it.
fn logged(conversation_id: &str, message: &crate::flow::input::UserMessage) -> LoggedMessage {
    let (kind, content) = match &message.input {
        Input::Text(text) => ("text".to_owned(), text.clone()),
        Input::Choice(id) => ("choice".to_owned(), id.clone()),
        Input::Media(media) => ("media".to_owned(), format!("{} ({})", media.media_id, media.mime_type)),
        Input::Ignorable(kind) | Input::Other(kind) => (kind.clone(), String::new()),
    };
    LoggedMessage {
        at: message.timestamp,
        conversation_id: conversation_id.to_owned(),
        message_id: message.id.clone(),
        kind,
        content,
    }
}

fn describe(event: &Event) -> String {
    match event {
        // Never the text itself: the audit log keeps no message content.
        Event::Message { message } => match &message.input {
            Input::Text(text) => format!("text message ({} characters)", text.chars().count()),
            other => other.label(),
        },
        Event::VerificationFinished { submission, result } => {
            format!("verification {submission} finished: {}", result_summary(result))
        }
        Event::MediaUnavailable { submission, slot, detail } => {
            format!("media of {submission} slot {slot} unavailable: {detail}")
        }
        Event::PhotoChecked { slot, media_id, result } => format!("photo {media_id} ({slot}) checked: {result:?}"),
        Event::PhotoCheckOverdue { media_id } => format!("check of photo {media_id} overdue"),
        Event::ReminderDue { step, .. } => format!("reminder due for step {step}"),
        Event::ExpiryDue => "idle expiry check".into(),
        Event::VerificationTimeout { submission } => format!("verification {submission} timed out"),
        Event::AgentOutcome { decision, agent } => match agent {
            Some(agent) => format!("agent decision by {agent}: {decision:?}"),
            None => format!("agent decision: {decision:?}"),
        },
    }
}

/// A verification's outcome with its reason code and the names of the fields read, never their values.
fn result_summary(result: &VerificationResult) -> String {
    match result {
        VerificationResult::Verified { confidence, fields } => format!(
            "verified, confidence {confidence:.2}, fields read: {}",
            if fields.is_empty() { "none".to_owned() } else { fields.keys().cloned().collect::<Vec<_>>().join(", ") }
        ),
        VerificationResult::Retake { slot, reason } => format!("retake {slot}: {reason}"),
        VerificationResult::Agent { reason } => format!("to an agent: {reason}"),
        VerificationResult::Rejected { reason } => format!("rejected: {reason}"),
    }
}

fn summarize(effect: &Effect) -> String {
    match effect {
        Effect::Send { reply } => format!(
            "send {}",
            serde_json::to_value(reply)
                .ok()
                .and_then(|v| v.get("kind").cloned())
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
        Effect::MarkRead { .. } => "mark read".into(),
        Effect::Verify { submission, media, .. } => {
            format!("verify {submission} ({})", media.keys().cloned().collect::<Vec<_>>().join(", "))
        }
        Effect::CheckPhoto { slot, media, .. } => format!("check photo {} ({slot})", media.media_id),
        Effect::Handoff { reason, .. } => format!("handoff to a live agent: {reason}"),
        Effect::ForAgent { note } => format!("shown to the agent: {}", note.kind),
        Effect::CloseCase { returned, outcome } => {
            format!("case {}: {outcome}", if *returned { "returned to the bot" } else { "resolved" })
        }
        Effect::Schedule { at, event } => format!("schedule at {at}: {}", describe(event)),
        Effect::Note { text } => format!("note: {text}"),
        Effect::End { outcome, erase_data } => {
            format!("end: {outcome}{}", if *erase_data { ", data erased" } else { "" })
        }
    }
}

fn audit_record(
    envelope: &Envelope,
    actor: &str,
    before: Option<&ConversationState>,
    after: &ConversationState,
    effects: &[Effect],
) -> AuditRecord {
    AuditRecord {
        at: envelope.now,
        conversation_id: after.conversation_id.clone(),
        actor: actor.to_owned(),
        event: describe(&envelope.event),
        event_key: envelope.key.clone(),
        step_before: before.map(|s| s.step.clone()).unwrap_or_default(),
        step_after: after.step.clone(),
        effects: effects.iter().map(summarize).collect(),
        ..Default::default()
    }
}
