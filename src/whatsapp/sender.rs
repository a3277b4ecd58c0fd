//! Delivering one outbound job: idempotent, rate limited, with the template fallback when the 24-hour window has
//! closed, and a retry decision for the job system.
//!
//! Idempotency: before sending, the job's key is looked up in the [`SentLog`]; when it is there, the recorded
//! outcome is returned and nothing is sent. Right after Meta accepts a message its wamid is recorded
//! (`SET key value NX EX ttl`). So a job that dies after the wamid was recorded is retried without a second
//! message. What remains is the short gap between Meta's answer and the record: a crash exactly there sends the
//! message again on retry (at least once, never silently lost). When the store cannot be written right after a
//! send (a Redis blip), the record is kept in this process until it can be: a retry here finds it and sends
//! nothing; only a retry in another process during the blip can still send twice.
//!
//! A send, once started, runs to its record on a task of its own: a worker that stops half-way (Redis failed its
//! poll, so apalis dropped the jobs it was running) does not cut a send between Meta's answer and the record.
//! While it runs, the same message is marked in flight in this process, and a run of the same job taken back by
//! the restarted worker waits for it instead of sending again.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::client::CloudApi;
use super::error::{GraphError, Permanent, Retry};
use super::message::{OutboundMessage, Recipient};
use crate::store::rate_limit::{LimitError, RateLimiter};
use crate::store::{StoreError, ValueStore, from_json, to_json};

/// One message to send, as it travels through the job queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendJob {
    /// Unique per message to send (e.g. the event id and the effect index): a retried job reuses it.
    pub idempotency_key: String,
    pub to: Recipient,
    pub message: OutboundMessage,
    /// Sent instead when the 24-hour window has closed (131047). Must be a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_template: Option<OutboundMessage>,
    /// How many attempts failed before this one (0 on the first run).
    #[serde(default)]
    pub attempt: u32,
    /// The business number to send from: the one the user wrote to (none: the configured number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl SendJob {
    /// The business number this message leaves from.
    pub fn from_number<'a>(&'a self, deps: &'a SenderDeps) -> &'a str {
        self.from.as_deref().filter(|f| !f.is_empty()).unwrap_or_else(|| deps.api.phone_number_id())
    }
}

/// What happened to a job's message, as recorded under its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SentRecord {
    Sent {
        wamid: String,
        /// True when the fallback template went out instead of the message.
        #[serde(default)]
        via_template: bool,
    },
    Undeliverable {
        reason: Permanent,
    },
}

/// Remembers what each job did, so that a retried job does not send twice: `SET key value NX EX ttl` under the
/// `sent` namespace of the backend's values (`<prefix>:sent:<key>` on Redis).
#[derive(Clone)]
pub struct SentLog {
    values: Arc<dyn ValueStore>,
    ttl: Duration,
    /// Records of messages that went out while the store could not be written: consulted first, written as soon
    /// as the store answers again.
    unwritten: Arc<std::sync::Mutex<std::collections::HashMap<String, SentRecord>>>,
    /// Keys of the messages this process is sending now.
    in_flight: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// A message marked in flight in this process until dropped.
struct InFlight {
    key: String,
    set: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.key);
    }
}

/// How long a try whose outcome is unknown (its process died mid-send, or Meta did not answer) holds back the next
/// one: Meta's status of an accepted message comes within seconds; past this, the message is taken as not sent.
pub const IN_DOUBT: Duration = Duration::from_secs(60);

fn claim_key(key: &str) -> String {
    format!("{key}:sending")
}

/// At most this many unwritten records are kept (a long outage stops the senders well before).
const UNWRITTEN_MAX: usize = 10_000;

/// The namespace of the sent log among the backend's values.
pub const SENT_LOG_NAMESPACE: &str = "sent";

/// Default: longer than any job retry schedule.
pub const DEFAULT_SENT_LOG_TTL: Duration = Duration::from_secs(8 * 24 * 3600);

impl SentLog {
    pub fn new(values: Arc<dyn ValueStore>, ttl: Duration) -> Self {
        Self { values, ttl, unwritten: Default::default(), in_flight: Default::default() }
    }

    /// Marks `key` in flight, unless it is already (then `None`: another run of the same job is sending it).
    fn start(&self, key: &str) -> Option<InFlight> {
        let mut set = self.in_flight.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        set.insert(key.to_owned()).then(|| InFlight { key: key.to_owned(), set: self.in_flight.clone() })
    }

    fn unwritten(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, SentRecord>> {
        self.unwritten.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub async fn get(&self, key: &str) -> Result<Option<SentRecord>, StoreError> {
        let kept = self.unwritten().get(key).cloned();
        if let Some(record) = kept {
            // Written late, now that the store answers (or kept for the next try).
            if self.values.put_if_absent(key, &to_json(&record)?, self.ttl).await.is_ok() {
                self.unwritten().remove(key);
            }
            return Ok(Some(record));
        }
        let value = self.values.get(key).await?;
        value.map(|v| from_json("sent record", &v)).transpose()
    }

    /// Records the outcome unless one is recorded already (the first one wins); answers whether it was new.
    pub async fn record(&self, key: &str, record: &SentRecord) -> Result<bool, StoreError> {
        self.values.put_if_absent(key, &to_json(record)?, self.ttl).await
    }

    /// Claims the send of `key` before it goes to Meta; `false` when a claim is there already: an earlier try
    /// may have reached Meta and is *in doubt* until Meta's status for it (which carries the key back) confirms
    /// it, or the claim expires after [`IN_DOUBT`] with no status (then the message never reached Meta).
    pub async fn claim_send(&self, key: &str) -> Result<bool, StoreError> {
        // A token of this try: a claim that Redis applied although its answer was lost (a cluster client sends
        // the command again after a timeout) is recognised as this try's own, not taken for an earlier try's.
        let token = format!("sending:{:016x}", fastrand::u64(..));
        if self.values.put_if_absent(&claim_key(key), &token, IN_DOUBT).await? {
            return Ok(true);
        }
        Ok(self.values.get(&claim_key(key)).await?.as_deref() == Some(token.as_str()))
    }

    /// Lets a later try send at once: Meta answered that this try was not sent.
    pub async fn release_send(&self, key: &str) -> Result<(), StoreError> {
        self.values.remove(&claim_key(key)).await
    }

    /// Meta reported a status of the message sent under `key` (its `biz_opaque_callback_data`): it went out, as
    /// `wamid`. Answers whether that was news (a try in doubt, or a status faster than our own record).
    pub async fn confirm(&self, key: &str, wamid: &str) -> Result<bool, StoreError> {
        self.record(key, &SentRecord::Sent { wamid: wamid.to_owned(), via_template: false }).await
    }

    /// Keeps in this process a record that could not be written, for [`SentLog::get`] to find.
    pub fn keep_unwritten(&self, key: &str, record: &SentRecord) {
        let mut unwritten = self.unwritten();
        if unwritten.len() < UNWRITTEN_MAX {
            unwritten.insert(key.to_owned(), record.clone());
        }
    }
}

/// What [`deliver`] needs.
#[derive(Clone)]
pub struct SenderDeps {
    pub api: CloudApi,
    pub sent_log: SentLog,
    /// When set, every send first takes a token for the business number and the user.
    pub limiter: Option<Arc<dyn RateLimiter>>,
    /// How long a send may wait for the limiter in place before handing the job back with a delay.
    pub max_limiter_wait: Duration,
    /// Past this many attempts a retryable failure becomes [`DeliveryFailure::Undeliverable`].
    pub max_attempts: u32,
}

impl SenderDeps {
    pub fn new(api: CloudApi, sent_log: SentLog) -> Self {
        let max_attempts = crate::jobs::MAX_ATTEMPTS;
        Self { api, sent_log, limiter: None, max_limiter_wait: Duration::from_secs(2), max_attempts }
    }

    pub fn with_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }
}

/// The message went out (now or on an earlier attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub wamid: String,
    /// The fallback template was sent instead of the message (the window had closed).
    pub via_template: bool,
    /// It had gone out on an earlier attempt: nothing was sent this time.
    pub already_sent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliveryFailure {
    /// Run the job again after `after`, with `attempt + 1`.
    #[error("retry in {after:?}: {reason}")]
    Retry { after: Duration, reason: String },
    /// Will never go through (recorded: a retry answers the same without sending).
    #[error("undeliverable ({}): {}", reason.category, reason.message)]
    Undeliverable { reason: Permanent },
    /// The access token expired: stop sending, alert, keep the job for after the token is replaced.
    #[error("the WhatsApp access token has expired")]
    TokenExpired,
}

fn retry_after(after: Duration, reason: impl Into<String>) -> DeliveryFailure {
    DeliveryFailure::Retry { after, reason: reason.into() }
}

/// Short waits for the idempotency store: it is the one thing that stands between a retry and a duplicate.
const STORE_RETRY: Duration = Duration::from_secs(2);

async fn record_outcome(deps: &SenderDeps, key: &str, record: &SentRecord) -> Result<(), DeliveryFailure> {
    // The message is out: try hard to remember it before giving the job back.
    let mut last = None;
    for pause in [0u64, 50, 200] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        match deps.sent_log.record(key, record).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    let e = last.map(|e| e.to_string()).unwrap_or_default();
    deps.sent_log.keep_unwritten(key, record);
    tracing::error!(error = %e, "message sent but its idempotency record could not be written: kept in this process until it can be (a retry elsewhere may send it twice)");
    Err(retry_after(STORE_RETRY, format!("cannot record the sent message: {e}")))
}

/// Sends one job's message, at most once per idempotency key (see the module docs).
pub async fn deliver(job: &SendJob, deps: &SenderDeps) -> Result<Delivered, DeliveryFailure> {
    let Some(in_flight) = deps.sent_log.start(job.idempotency_key.as_str()) else {
        return Err(retry_after(IN_FLIGHT_RETRY, "the same message is being sent by this process"));
    };
    let (job, deps) = (job.clone(), deps.clone());
    // Not cut short if the caller goes away: the send runs to its record (or its kept record).
    let send = tokio::spawn(async move {
        let _in_flight = in_flight;
        deliver_now(&job, &deps).await
    });
    send.await.unwrap_or_else(|e| Err(retry_after(STORE_RETRY, format!("the send stopped: {e}"))))
}

/// Wait before a run of a job whose message this process is still sending looks again.
const IN_FLIGHT_RETRY: Duration = Duration::from_secs(1);
/// Wait before a try in doubt looks again (a status confirms it within seconds, or the doubt passes).
const IN_DOUBT_RETRY: Duration = Duration::from_secs(10);

async fn deliver_now(job: &SendJob, deps: &SenderDeps) -> Result<Delivered, DeliveryFailure> {
    let key = job.idempotency_key.as_str();
    match deps.sent_log.get(key).await {
        Ok(Some(SentRecord::Sent { wamid, via_template })) => {
            tracing::debug!(%wamid, "already sent: nothing to do");
            return Ok(Delivered { wamid, via_template, already_sent: true });
        }
        Ok(Some(SentRecord::Undeliverable { reason })) => return Err(DeliveryFailure::Undeliverable { reason }),
        Ok(None) => {}
        Err(e) => return Err(retry_after(STORE_RETRY, format!("cannot read the idempotency record: {e}"))),
    }
    if deps.api.for_number(job.from_number(deps)).token_expired() {
        return Err(DeliveryFailure::TokenExpired);
    }
    if let Some(limiter) = &deps.limiter {
        match limiter.acquire_within(job.from_number(deps), job.to.id(), deps.max_limiter_wait).await {
            Ok(()) => {}
            Err(LimitError::Wait(wait)) => return Err(retry_after(wait, "rate limited before sending")),
            // Without the shared limiter, Meta's own limits still protect the number: send anyway.
            Err(LimitError::Unavailable(e)) => tracing::warn!(error = %e, "rate limiter unavailable: sending anyway"),
        }
    }
    match deps.sent_log.claim_send(key).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(retry_after(
                IN_DOUBT_RETRY,
                "an earlier try may have reached Meta: waiting for its status, or for the doubt to pass",
            ));
        }
        Err(e) => return Err(retry_after(STORE_RETRY, format!("cannot claim the send: {e}"))),
    }
    // The key travels with the message and comes back in Meta's statuses of it: a try cut short after Meta
    // accepted it is confirmed by its status instead of being sent again.
    let error = match deps.api.send_tagged(job.from_number(deps), &job.to, &job.message, Some(key)).await {
        Ok(sent) => {
            record_outcome(deps, key, &SentRecord::Sent { wamid: sent.wamid.clone(), via_template: false }).await?;
            return Ok(Delivered { wamid: sent.wamid, via_template: false, already_sent: false });
        }
        Err(e) => e,
    };
    if !error.may_have_been_sent() {
        // Meta said no (or nothing left this process): a later try may send at once. Left in place when this
        // fails, it only holds the next try back for IN_DOUBT.
        let _ = deps.sent_log.release_send(key).await;
    }
    match decide(&error, job, deps) {
        Decision::WindowClosed => match &job.fallback_template {
            Some(template) if !job.message.is_template() => send_fallback(job, template, deps).await,
            _ => {
                let reason = Permanent {
                    code: Some(131047),
                    category: "window_closed".into(),
                    message: "outside the 24-hour window and no template to fall back on".into(),
                };
                undeliverable(deps, key, reason).await
            }
        },
        Decision::Done(failure) => match failure {
            DeliveryFailure::Undeliverable { reason } => undeliverable(deps, key, reason).await,
            other => Err(other),
        },
    }
}

enum Decision {
    WindowClosed,
    Done(DeliveryFailure),
}

fn decide(error: &GraphError, job: &SendJob, deps: &SenderDeps) -> Decision {
    Decision::Done(match error.retry_policy(job.attempt) {
        Retry::WindowClosed => return Decision::WindowClosed,
        Retry::TokenExpired => DeliveryFailure::TokenExpired,
        Retry::Never(reason) => DeliveryFailure::Undeliverable { reason },
        Retry::After(_) if job.attempt + 1 >= deps.max_attempts => DeliveryFailure::Undeliverable {
            reason: Permanent {
                code: error.code(),
                category: "gave_up".into(),
                message: format!("gave up after {} attempts: {error}", job.attempt + 1),
            },
        },
        Retry::After(after) => retry_after(after, error.to_string()),
    })
}

async fn send_fallback(
    job: &SendJob,
    template: &OutboundMessage,
    deps: &SenderDeps,
) -> Result<Delivered, DeliveryFailure> {
    tracing::info!("outside the 24-hour window: sending the fallback template");
    match deps.api.send_from(job.from_number(deps), &job.to, template).await {
        Ok(sent) => {
            let record = SentRecord::Sent { wamid: sent.wamid.clone(), via_template: true };
            record_outcome(deps, &job.idempotency_key, &record).await?;
            Ok(Delivered { wamid: sent.wamid, via_template: true, already_sent: false })
        }
        Err(error) => match decide(&error, job, deps) {
            Decision::WindowClosed => {
                let reason = Permanent {
                    code: Some(131047),
                    category: "window_closed".into(),
                    message: "the fallback template was refused as outside the window".into(),
                };
                undeliverable(deps, &job.idempotency_key, reason).await
            }
            Decision::Done(DeliveryFailure::Undeliverable { reason }) => {
                undeliverable(deps, &job.idempotency_key, reason).await
            }
            Decision::Done(other) => Err(other),
        },
    }
}

async fn undeliverable(deps: &SenderDeps, key: &str, reason: Permanent) -> Result<Delivered, DeliveryFailure> {
    tracing::warn!(code = ?reason.code, category = %reason.category, "message undeliverable: {}", reason.message);
    let record = SentRecord::Undeliverable { reason: reason.clone() };
    if let Err(e) = deps.sent_log.record(key, &record).await {
        // Nothing was sent, so a retry that does not find the record only tries again: safe.
        tracing::warn!(error = %e, "cannot record an undeliverable message");
    }
    Err(DeliveryFailure::Undeliverable { reason })
}
