//! The outbound worker: the runner's replies become Cloud API messages, sent at most once each.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::outbound_log;
use crate::clock::SharedClock;
use crate::flow::event::Reply;
use crate::jobs::BackgroundJob as _;
use crate::jobs::key::JobKey;
use crate::jobs::outbound::{Addressee, LinePlace, OutboundJob};
use crate::jobs::worker::{Handler, JobFailure};
use crate::metrics::{Metrics, ReasonLabel, TypeLabel};
use crate::store::queue::JobQueue;
use crate::store::{SendOrder, StoreError};
use crate::whatsapp::message::{MessageLimitError, OutboundMessage, Recipient};
use crate::whatsapp::sender::{DeliveryFailure, SendJob, SenderDeps, deliver};

/// The WhatsApp message for a reply, with WhatsApp's limits checked.
pub fn to_message(reply: &Reply) -> Result<OutboundMessage, MessageLimitError> {
    match reply {
        Reply::Text { body } => OutboundMessage::text(body.clone()),
        Reply::Buttons { body, footer, buttons } => {
            let mut builder = OutboundMessage::buttons(body.clone());
            if let Some(footer) = footer {
                builder = builder.footer(footer.clone());
            }
            buttons.iter().fold(builder, |b, button| b.button(button.id.clone(), button.title.clone())).build()
        }
        Reply::List { body, footer, button, sections } => {
            let mut builder = OutboundMessage::list(body.clone(), button.clone());
            if let Some(footer) = footer {
                builder = builder.footer(footer.clone());
            }
            for section in sections {
                if let Some(title) = &section.title {
                    builder = builder.section(title.clone());
                }
                for row in &section.rows {
                    builder = builder.row(row.id.clone(), row.title.clone(), row.description.clone());
                }
            }
            builder.build()
        }
        Reply::Link { body, label, url } => OutboundMessage::cta_url(body.clone(), label.clone(), url.clone(), None),
    }
}

pub fn recipient(to: &Addressee) -> Option<Recipient> {
    match (&to.phone, &to.user_id) {
        (Some(phone), _) => Some(Recipient::Phone(phone.clone())),
        (None, Some(id)) => Some(Recipient::UserId(id.clone())),
        (None, None) => None,
    }
}

pub struct OutboundHandler {
    pub sender: SenderDeps,
    /// To put a message back with Meta's own backoff (e.g. 4^n seconds on the pair rate).
    pub queue: Arc<dyn JobQueue<OutboundJob>>,
    pub metrics: Arc<Metrics>,
    /// One lock per recipient: a user's messages leave this process one at a time, in the order they were taken.
    pub recipients: RecipientLocks,
    /// Each user's line of reply jobs: a reply waits for the ones queued before it (see [`LINE_WAIT_MAX`]).
    pub send_order: Arc<dyn SendOrder>,
    /// Sent instead when the 24-hour window has closed (WHATSAPP_REENGAGE_TEMPLATE).
    pub reengage_template: Option<OutboundMessage>,
    pub clock: SharedClock,
}

/// Serializes the sends to one recipient inside a process (entries are dropped when no one holds them).
#[derive(Default)]
pub struct RecipientLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl RecipientLocks {
    fn lock_for(&self, recipient: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, lock| Arc::strong_count(lock) > 1);
        }
        map.entry(recipient.to_owned()).or_default().clone()
    }
}

/// A reply of the flow that WhatsApp would refuse: a flow bug, never retried.
#[derive(Debug, thiserror::Error)]
#[error("the flow produced a message WhatsApp would refuse: {0}")]
struct Unsendable(#[source] MessageLimitError);

enum Sent {
    All,
    /// Put back to run at this time (Meta asked to wait); the messages already sent are skipped next time.
    Deferred(u64, String),
    /// The access token is invalid: put back as it is (no attempt used) until a new token is in place.
    Held,
}

/// How long a reply waits for a job queued before it in the user's line before it goes anyway: longer than a
/// send in doubt waits for Meta's status ([`IN_DOUBT`](crate::whatsapp::sender::IN_DOUBT)) and a failover.
pub const LINE_WAIT_MAX: std::time::Duration = std::time::Duration::from_secs(180);
/// A reply whose turn has not come looks again this often in place, [`LINE_POLLS`] times, before it is put back.
const LINE_POLL: std::time::Duration = std::time::Duration::from_millis(100);
const LINE_POLLS: u32 = 20;

/// The job with its line place changed by `change`.
fn with_line(job: &OutboundJob, change: impl FnOnce(&mut LinePlace)) -> OutboundJob {
    let mut job = job.clone();
    if let OutboundJob::Send { line: Some(place), .. } = &mut job {
        change(place);
    }
    job
}

/// How often a held send looks whether the token was replaced.
pub const HOLD_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

#[async_trait]
impl Handler<OutboundJob> for OutboundHandler {
    async fn handle(&self, job: OutboundJob, _attempt: u32) -> Result<(), JobFailure> {
        match &job {
            OutboundJob::MarkRead { message_id, phone_number_id, .. } => {
                // A read receipt is a courtesy: a failure is logged, never retried into a storm.
                if let Err(e) = self.sender.api.mark_read_at(phone_number_id, message_id, true).await {
                    tracing::debug!(error = %e, "mark-as-read failed");
                }
                Ok(())
            }
            OutboundJob::Send { key, to, replies, attempt, line, .. } => {
                let outcome = self.send(&job, key, to, replies, *attempt, line.as_ref()).await;
                // Done (sent, given up, or never sendable): the next job in the user's line may go.
                let done = matches!(outcome, Ok(Progress::Done) | Err(JobFailure::Abort(_)));
                if done && let Some(place) = line {
                    self.send_order.leave(&place.user, key.as_ref()).await.map_err(JobFailure::retry)?;
                }
                outcome.map(drop)
            }
        }
    }
}

/// What became of a send job's run.
enum Progress {
    /// Every message is sent or given up.
    Done,
    /// Put back to run later (deferred, held, or waiting for its turn).
    Later,
}

impl OutboundHandler {
    async fn send(
        &self,
        job: &OutboundJob,
        key: &JobKey,
        to: &Addressee,
        replies: &[Reply],
        attempt: u32,
        line: Option<&LinePlace>,
    ) -> Result<Progress, JobFailure> {
        let Some(recipient) = recipient(to) else {
            return Err(JobFailure::abort("the conversation has neither a phone nor a user id"));
        };
        if let Some(place) = line
            && let Some(ahead) = self.wait_turn(place, key).await.map_err(JobFailure::retry)?
        {
            let now = self.clock.now_secs();
            let since = place.waiting_since.unwrap_or(now);
            if now.saturating_sub(since) < LINE_WAIT_MAX.as_secs() {
                let again = with_line(job, |p| {
                    p.waiting_since = Some(since);
                    p.waits += 1;
                });
                let waits = place.waits + 1;
                let queued = again.queued_under(JobKey::send_waiting(key, attempt, waits), now + 1);
                self.queue.push(&[queued]).await.map_err(JobFailure::retry)?;
                tracing::debug!(%ahead, waits, "a reply waits for the one queued before it");
                return Ok(Progress::Later);
            }
            // The job ahead never finished (dead after its retries): waiting longer would lose this one too.
            tracing::warn!(%ahead, waited_secs = now - since, "a reply sent without waiting longer for the one queued before it");
        }
        let lock = self.recipients.lock_for(recipient.id());
        let _turn = lock.lock().await;
        // Its turn is over once it is put back: a later run waits afresh (from `waiting_since` none).
        let fresh = |job: &OutboundJob| {
            with_line(job, |p| {
                p.waiting_since = None;
            })
        };
        match self.send_all(key, &recipient, to, replies, attempt).await? {
            Sent::All => Ok(Progress::Done),
            Sent::Deferred(run_at, reason) => {
                let mut again = fresh(job);
                if let OutboundJob::Send { attempt, .. } = &mut again {
                    *attempt += 1;
                }
                let queued = again.queued_under(JobKey::send_retry(key, attempt + 1), run_at);
                self.queue.push(&[queued]).await.map_err(JobFailure::retry)?;
                tracing::warn!(%reason, "send deferred");
                Ok(Progress::Later)
            }
            Sent::Held => {
                let mut again = fresh(job);
                if let OutboundJob::Send { holds, .. } = &mut again {
                    *holds += 1;
                }
                let holds = match &again {
                    OutboundJob::Send { holds, .. } => *holds,
                    OutboundJob::MarkRead { .. } => 0,
                };
                let run_at = self.clock.now_secs() + HOLD_RECHECK.as_secs();
                let queued = again.queued_under(JobKey::send_held(key, attempt, holds), run_at);
                self.queue.push(&[queued]).await.map_err(JobFailure::retry)?;
                self.metrics.sends_held.inc();
                tracing::debug!(holds, "send held until the access token is replaced");
                Ok(Progress::Later)
            }
        }
    }

    /// Waits a little in place for the jobs ahead of this one in its user's line; answers the one still ahead.
    async fn wait_turn(&self, place: &LinePlace, key: &JobKey) -> Result<Option<String>, StoreError> {
        for _ in 0..LINE_POLLS {
            let Some(ahead) = self.send_order.ahead_of(&place.user, key.as_ref()).await? else { return Ok(None) };
            tracing::trace!(%ahead, "waiting for the reply queued before");
            tokio::time::sleep(LINE_POLL).await;
        }
        self.send_order.ahead_of(&place.user, key.as_ref()).await
    }

    /// Sends each reply in order, each at most once (its own idempotency key).
    async fn send_all(
        &self,
        key: &JobKey,
        recipient: &Recipient,
        to: &Addressee,
        replies: &[Reply],
        attempt: u32,
    ) -> Result<Sent, JobFailure> {
        for (index, reply) in replies.iter().enumerate() {
            let message = to_message(reply).map_err(|e| JobFailure::abort(Unsendable(e)))?;
            let send = SendJob {
                idempotency_key: JobKey::reply(key, index).into(),
                to: recipient.clone(),
                message,
                fallback_template: self.reengage_template.clone(),
                attempt,
                from: Some(to.phone_number_id.clone()),
            };
            match deliver(&send, &self.sender).await {
                Ok(delivered) => {
                    if !delivered.already_sent {
                        self.metrics.messages_sent.get_or_create(&TypeLabel { r#type: reply_kind(reply).into() }).inc();
                        tracing::info!(wamid = %delivered.wamid, "{}", outbound_log::describe_reply(to, reply));
                    }
                }
                Err(DeliveryFailure::Retry { after, reason }) if attempt + 1 < crate::jobs::MAX_ATTEMPTS => {
                    // The rest waits too, so the user still reads the messages in order.
                    return Ok(Sent::Deferred(self.clock.now_secs() + after.as_secs().max(1), reason));
                }
                Err(DeliveryFailure::Retry { reason, .. }) => self.undeliverable("gave_up", &reason),
                Err(DeliveryFailure::Undeliverable { reason }) => {
                    self.undeliverable("permanent", &format!("{}: {}", reason.category, reason.message))
                }
                // Stop sending: the job (with the replies not yet sent) waits for a new token, no attempt used.
                Err(DeliveryFailure::TokenExpired) => return Ok(Sent::Held),
            }
        }
        Ok(Sent::All)
    }

    fn undeliverable(&self, reason: &'static str, detail: &str) {
        self.metrics.messages_undeliverable.get_or_create(&ReasonLabel { reason }).inc();
        tracing::warn!(%detail, "message undeliverable; recorded");
    }
}

fn reply_kind(reply: &Reply) -> &'static str {
    match reply {
        Reply::Text { .. } => "text",
        Reply::Buttons { .. } => "buttons",
        Reply::List { .. } => "list",
        Reply::Link { .. } => "link",
    }
}
