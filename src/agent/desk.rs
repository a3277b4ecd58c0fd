//! What an agent does with a case, the same for the console and for `/api/v1`: look at it (the case, its
//! timeline with the delivery state of each message to the user, its photos), take it, write to the user through
//! the bot's own sender, decide. Decisions go through the engine like any other event, so the audit log and the
//! company webhook hear of them the usual way.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::photo::{PhotoSize, render};
use crate::clock::SharedClock;
use crate::conversation::dispatch::addressee;
use crate::flow::event::{AgentDecision, Event, Reply};
use crate::flow::state::{ConversationState, UserKey};
use crate::jobs::BackgroundJob as _;
use crate::jobs::Queues;
use crate::jobs::event::EventJob;
use crate::jobs::key::JobKey;
use crate::jobs::outbound::{LinePlace, OutboundJob};
use crate::store::case::{Case, CaseChangeError, CaseEntry, CaseError, CaseStore};
use crate::store::conversation::{AuditRecord, ConversationStore};
use crate::store::delivery::{DeliveryLog, Progress};
use crate::store::vault::MediaVault;
use crate::store::{SendOrder, StoreError, ValueStore};

/// Why an agent's action did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("no case {0}")]
    NotFound(String),
    #[error(transparent)]
    Change(CaseChangeError),
    #[error(
        "WhatsApp's 24-hour window has closed (the user last wrote more than 24 hours ago): a free-form message \
         cannot reach them; send the re-engagement template instead"
    )]
    WindowClosed,
    #[error("{0}")]
    Invalid(String),
    #[error("no photo `{0}` in this case")]
    NoPhoto(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CaseError> for DeskError {
    fn from(error: CaseError) -> Self {
        match error {
            CaseError::Store(e) => Self::Store(e),
            CaseError::Change(CaseChangeError::NotFound(id)) => Self::NotFound(id),
            CaseError::Change(change) => Self::Change(change),
        }
    }
}

/// A case as the agent sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: Case,
    pub timeline: Vec<TimelineLine>,
    /// The photos kept for the conversation, newest first per slot.
    pub photos: Vec<PhotoInfo>,
    /// Whether a free-form message can still reach the user (the 24-hour window is open).
    pub window_open: bool,
    /// The conversation's flow step now (it moves on after a retake).
    pub step: Option<String>,
    /// The conversation's flow.
    pub flow: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineLine {
    #[serde(flatten)]
    pub entry: CaseEntry,
    /// For a message to the user: `queued`, `sent`, `delivered`, `read` or `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PhotoInfo {
    /// `front`, `back`, `selfie` (or another slot of the flow).
    pub slot: String,
    /// The vault's name of this photo (`<slot>-<media id>`).
    pub name: String,
    pub received_at_ms: u64,
    pub size: u64,
}

#[derive(Clone)]
pub struct Desk {
    pub cases: Arc<dyn CaseStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub queues: Queues,
    pub vault: Arc<dyn MediaVault>,
    /// The sender's idempotency records (message key → wamid) and Meta's statuses (wamid → delivered, read).
    pub sent: Arc<dyn ValueStore>,
    pub delivery: Arc<dyn DeliveryLog>,
    pub clock: SharedClock,
    /// `WHATSAPP_REENGAGE_TEMPLATE` is configured: a message outside the window falls back to it.
    pub has_reengage_template: bool,
    /// Time to assignment, handling time, decisions.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Each user's line of reply jobs: an agent's message leaves after the bot's replies queued before it.
    pub send_order: Arc<dyn SendOrder>,
}

/// The actor of the verification's audit records.
const VERIFIER: &str = crate::store::conversation::VERIFIER_ACTOR;

/// The most audit records a case page shows from the conversation's history.
const HISTORY_MAX: usize = 300;

/// Timeline lines from the conversation's audit records: the steps before the case opened (what the user did and
/// where the bot went; message texts are not kept there, only their kind and length) and every verification with
/// its reason codes and measurements.
fn history_lines(case: &Case, records: Vec<AuditRecord>) -> Vec<TimelineLine> {
    records
        .into_iter()
        .filter(|r| r.conversation_id == case.info.conversation_id && !r.actor.starts_with("agent"))
        .filter(|r| r.actor == VERIFIER || r.at <= case.info.opened_at)
        .map(|r| {
            let (actor, kind) = match r.actor.as_str() {
                VERIFIER => ("verifier", "check"),
                "user" => ("user", "history"),
                _ => ("system", "history"),
            };
            let mut text = r.event.clone();
            // A check's measurements are in its effects; a result's effects are only what the bot did next.
            if r.actor == VERIFIER && !r.effects.is_empty() && !r.event.contains(" finished: ") {
                text = format!("{text}: {}", r.effects.join("; "));
            } else if !r.step_after.is_empty() && r.step_after != r.step_before {
                text = format!("{text} → {}", r.step_after);
            }
            let entry = CaseEntry {
                key: format!("audit:{}", r.event_key),
                at: r.at,
                actor: actor.into(),
                agent: None,
                kind: kind.into(),
                text,
                media: None,
                send_key: None,
            };
            TimelineLine { entry, delivery: None }
        })
        .collect()
}

/// A request's own key: the same request sent twice (a retry) acts once.
pub fn request_key(case_id: &str, kind: &str, agent: &str, parts: &[&str], nonce: Option<&str>) -> String {
    let mut hasher = Sha256::new();
    for part in [case_id, kind, agent].iter().chain(parts).chain(nonce.iter()) {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    if nonce.is_none() {
        // Without a client key, every request is its own.
        hasher.update(fastrand::u64(..).to_le_bytes());
    }
    format!("agent:{case_id}:{kind}:{}", hex::encode(&hasher.finalize()[..8]))
}

impl Desk {
    pub async fn case(&self, id: &str) -> Result<Case, DeskError> {
        self.cases.get(id).await?.ok_or_else(|| DeskError::NotFound(id.to_owned()))
    }

    async fn state_of(&self, user: &UserKey) -> Result<Option<ConversationState>, DeskError> {
        Ok(self.conversations.load(user).await?.map(|v| v.stored.state))
    }

    pub async fn view(&self, id: &str) -> Result<CaseView, DeskError> {
        let case = self.case(id).await?;
        let state = self.state_of(&case.info.user).await?;
        let now = self.clock.now_secs();
        let mut timeline = Vec::new();
        for entry in self.cases.timeline(id).await? {
            let delivery = match &entry.send_key {
                Some(key) => Some(self.delivery_of(key).await),
                None => None,
            };
            timeline.push(TimelineLine { entry, delivery });
        }
        // What happened before the case opened, and every check with its measurements, from the audit log.
        let history = self.conversations.audit(&case.info.user, HISTORY_MAX).await?;
        timeline.extend(history_lines(&case, history));
        timeline.sort_by_key(|line| line.entry.at);
        let mut photos: Vec<PhotoInfo> = self
            .vault
            .list(&case.info.conversation_id)
            .await
            .map_err(|e| StoreError::Unavailable(format!("the photo vault: {e}")))?
            .into_iter()
            .map(|(name, meta)| PhotoInfo {
                slot: name.split_once('-').map(|(slot, _)| slot.to_owned()).unwrap_or_else(|| name.clone()),
                name,
                received_at_ms: meta.received_at_ms,
                size: meta.size,
            })
            .collect();
        photos.sort_by(|a, b| a.slot.cmp(&b.slot).then(b.received_at_ms.cmp(&a.received_at_ms)));
        Ok(CaseView {
            window_open: state.as_ref().is_some_and(|s| s.window_open(now)),
            flow: state.as_ref().map(|s| s.flow_id.clone()),
            step: state.map(|s| s.step),
            case,
            timeline,
            photos,
        })
    }

    /// Where a message the agent wrote stands: queued until Meta accepted it, then Meta's latest status.
    async fn delivery_of(&self, send_key: &str) -> String {
        let Ok(Some(record)) = self.sent.get(send_key).await else { return "queued".into() };
        let wamid = match serde_json::from_str::<crate::whatsapp::sender::SentRecord>(&record) {
            Ok(crate::whatsapp::sender::SentRecord::Sent { wamid, .. }) => wamid,
            Ok(crate::whatsapp::sender::SentRecord::Undeliverable { .. }) => return "failed".into(),
            Err(_) => return "sent".into(),
        };
        match self.delivery.get(&wamid).await {
            Ok(Some(state)) => match state.status {
                Some(Progress::Failed) => "failed",
                Some(Progress::Read | Progress::Played) => "read",
                Some(Progress::Delivered) => "delivered",
                _ => "sent",
            }
            .into(),
            _ => "sent".into(),
        }
    }

    /// The case must be open, and taken by `agent` (a supervisor may act on any).
    fn must_hold(case: &Case, agent: &str, supervisor: bool) -> Result<(), DeskError> {
        if !case.status.is_open() {
            return Err(DeskError::Change(CaseChangeError::Closed(case.status)));
        }
        match case.assigned_to.as_deref() {
            Some(holder) if holder == agent || supervisor => Ok(()),
            Some(holder) => Err(DeskError::Change(CaseChangeError::TakenBy(holder.to_owned()))),
            None => Err(DeskError::Change(CaseChangeError::NotYours(agent.to_owned()))),
        }
    }

    pub async fn claim(&self, id: &str, agent: &str) -> Result<Case, DeskError> {
        let now = self.clock.now_secs();
        let case = self.cases.claim(id, agent, now).await?;
        self.metrics.case_time_to_assignment.observe(now.saturating_sub(case.info.opened_at) as f64);
        self.log(&case, agent, "claim", format!("taken by {agent}"), None, now).await?;
        Ok(case)
    }

    pub async fn reassign(&self, id: &str, to: &str, by: &str) -> Result<Case, DeskError> {
        let now = self.clock.now_secs();
        let case = self.cases.reassign(id, to, now).await?;
        self.log(&case, by, "claim", format!("given to {to} by {by}"), None, now).await?;
        Ok(case)
    }

    /// The next waiting case (oldest first), taken by `agent`; `None` when no one waits. A case another agent takes
    /// at the same moment is skipped.
    pub async fn take_next(&self, agent: &str) -> Result<Option<Case>, DeskError> {
        for case in self.cases.list(crate::store::case::CaseStatus::Waiting, 20).await? {
            match self.claim(&case.info.id, agent).await {
                Ok(case) => return Ok(Some(case)),
                Err(DeskError::Change(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// The agent writes to the user: sent through the bot's sender (rate limits, retries, idempotency, statuses).
    /// `reengage`: outside the 24-hour window, send anyway so that the sender falls back to the re-engagement
    /// template.
    pub async fn message(
        &self,
        id: &str,
        agent: &str,
        supervisor: bool,
        text: &str,
        request: &str,
        reengage: bool,
    ) -> Result<(), DeskError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DeskError::Invalid("the message is empty".into()));
        }
        if text.chars().count() > 4096 {
            return Err(DeskError::Invalid("a WhatsApp text holds at most 4,096 characters".into()));
        }
        let case = self.case(id).await?;
        Self::must_hold(&case, agent, supervisor)?;
        let loaded = self.conversations.load(&case.info.user).await?.ok_or_else(|| {
            DeskError::Invalid(format!("the conversation {} is gone (erased)", case.info.conversation_id))
        })?;
        let (version, state) = (loaded.version, loaded.stored.state);
        let now = self.clock.now_secs();
        if !(state.window_open(now) || reengage && self.has_reengage_template) {
            return Err(DeskError::WindowClosed);
        }
        let key = JobKey::from_stored(request.to_owned());
        self.send_order.enter(&state.user, key.as_ref(), version).await?;
        let job = OutboundJob::Send {
            key: key.clone(),
            to: addressee(&state),
            conversation_id: state.conversation_id.clone(),
            replies: vec![Reply::Text { body: text.to_owned() }],
            attempt: 0,
            holds: 0,
            line: Some(LinePlace { user: state.user.clone(), seq: version, waiting_since: None, waits: 0 }),
        };
        let send_key = JobKey::reply(&key, 0).to_string();
        let mut entry = self.entry(request, agent, "message", text.to_owned(), now);
        entry.send_key = Some(send_key);
        self.cases.record(id, &entry).await?;
        if let Err(e) = self.queues.push(&[job.queued_under(key.clone(), 0)]).await {
            // Not queued: its place would only hold the bot's next replies back.
            let _ = self.send_order.leave(&state.user, key.as_ref()).await;
            return Err(e.into());
        }
        let characters = text.chars().count();
        self.audit(&case, agent, format!("agent message ({characters} characters)"), request, &state.step, now).await
    }

    /// An agent's decision, applied by the engine (which checks that the conversation still waits for one).
    pub async fn decide(
        &self,
        id: &str,
        agent: &str,
        supervisor: bool,
        decision: AgentDecision,
        request: &str,
    ) -> Result<(), DeskError> {
        let case = self.case(id).await?;
        Self::must_hold(&case, agent, supervisor)?;
        let now = self.clock.now_secs();
        let text = match &decision {
            AgentDecision::Approve => "approved".to_owned(),
            AgentDecision::Reject { reason } => format!("rejected: {}", reason.as_deref().unwrap_or("no reason given")),
            AgentDecision::Retake { slot, reason } => format!("asked for the {slot} photo again: {reason}"),
            AgentDecision::Return { step } => {
                format!("returned to the bot at {}", step.as_deref().unwrap_or("its step"))
            }
        };
        self.cases.record(id, &self.entry(request, agent, "decision", text, now)).await?;
        let kind = match &decision {
            AgentDecision::Approve => "approve",
            AgentDecision::Reject { .. } => "reject",
            AgentDecision::Retake { .. } => "retake",
            AgentDecision::Return { .. } => "return",
        };
        self.metrics.case_decisions.get_or_create(&crate::metrics::DecisionLabel { decision: kind }).inc();
        if kind != "retake"
            && let Some(assigned_at) = case.assigned_at
        {
            self.metrics.case_handling_time.observe(now.saturating_sub(assigned_at) as f64);
        }
        let key = JobKey::from_stored(request.to_owned());
        let event = Event::AgentOutcome { decision, agent: Some(agent.to_owned()) };
        let job = EventJob { user: case.info.user.clone(), key: key.clone(), event };
        self.queues.push(&[job.queued_under(key, 0)]).await?;
        Ok(())
    }

    /// Photo `which` (a slot: its newest photo; or a vault name from [`CaseView::photos`]) of the case, as a fresh
    /// JPEG of `size`; the view is written to the audit log and the timeline.
    pub async fn photo(&self, id: &str, which: &str, size: PhotoSize, agent: &str) -> Result<Vec<u8>, DeskError> {
        let case = self.case(id).await?;
        let conversation = &case.info.conversation_id;
        let vault_error = |e: crate::store::vault::VaultError| StoreError::Unavailable(format!("the photo vault: {e}"));
        let listed = self.vault.list(conversation).await.map_err(vault_error)?;
        let name = listed
            .iter()
            .filter(|(name, _)| name == which || name.split_once('-').is_some_and(|(slot, _)| slot == which))
            .max_by_key(|(_, meta)| meta.received_at_ms)
            .map(|(name, _)| name.clone())
            .ok_or_else(|| DeskError::NoPhoto(which.to_owned()))?;
        let stored =
            self.vault.get(conversation, &name).await.map_err(vault_error)?.ok_or(DeskError::NoPhoto(name.clone()))?;
        let rendered = tokio::task::spawn_blocking(move || render(&stored.bytes, size))
            .await
            .map_err(|e| DeskError::Invalid(format!("the photo could not be prepared: {e}")))?
            .map_err(|e| DeskError::Invalid(format!("the photo cannot be decoded: {e}")))?;
        self.photo_viewed(&case, agent, &name, size.as_str()).await?;
        Ok(rendered)
    }

    /// A photo viewed by an agent: every view is written to the conversation's audit log; a full-size view is
    /// also shown in the case's timeline (thumbnails are seen each time the page is opened: noise there).
    pub async fn photo_viewed(&self, case: &Case, agent: &str, name: &str, size: &str) -> Result<(), DeskError> {
        let now = self.clock.now_secs();
        let request = request_key(&case.info.id, "view", agent, &[name, size], None);
        let text = format!("viewed photo {name} ({size})");
        if size != PhotoSize::Thumb.as_str() {
            self.cases.record(&case.info.id, &self.entry(&request, agent, "photo_viewed", text.clone(), now)).await?;
        }
        self.audit(case, agent, text, &request, &case.info.step, now).await
    }

    fn entry(&self, key: &str, agent: &str, kind: &str, text: String, now: u64) -> CaseEntry {
        CaseEntry {
            key: key.to_owned(),
            at: now,
            actor: "agent".into(),
            agent: Some(agent.to_owned()),
            kind: kind.into(),
            text,
            media: None,
            send_key: None,
        }
    }

    async fn log(
        &self,
        case: &Case,
        agent: &str,
        kind: &str,
        text: String,
        key: Option<&str>,
        now: u64,
    ) -> Result<(), DeskError> {
        let key = key.map(str::to_owned).unwrap_or_else(|| request_key(&case.info.id, kind, agent, &[&text], None));
        self.cases.record(&case.info.id, &self.entry(&key, agent, kind, text.clone(), now)).await?;
        self.audit(case, agent, text, &key, &case.info.step, now).await
    }

    async fn audit(
        &self,
        case: &Case,
        agent: &str,
        event: String,
        key: &str,
        step: &str,
        now: u64,
    ) -> Result<(), DeskError> {
        let record = AuditRecord {
            at: now,
            conversation_id: case.info.conversation_id.clone(),
            actor: format!("agent:{agent}"),
            event,
            event_key: key.to_owned(),
            step_before: step.to_owned(),
            step_after: step.to_owned(),
            effects: Vec::new(),
            ..Default::default()
        };
        Ok(self.conversations.append_audit(&case.info.user, &[record]).await?)
    }
}
