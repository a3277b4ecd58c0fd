//! Resuming a verification an asynchronous provider answered `pending`: the job is kept in the store under
//! [`pending_key`] with the answers known so far ([`PendingCheck`]), and [`ResumeOnCallback`] queues it again
//! when the provider posts its final answer to `POST /providers/callback`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::jobs::BackgroundJob as _;
use crate::jobs::key::JobKey;
use crate::jobs::verify::VerifyJob;
use crate::store::conversation::ConversationStore;
use crate::store::queue::JobQueue;
use crate::verify::providers::callback::{CallbackAnswer, CallbackSink};

/// How long a verification waits for a provider's callback before the record is dropped (the conversation's own
/// timeout hands the user to an agent well before).
pub const PENDING_TTL_SECS: u64 = 24 * 3600;

/// The store key of a verification waiting for `provider`'s callback about `reference`.
pub fn pending_key(provider: &str, reference: &str) -> String {
    format!("pending:{provider}:{reference}")
}

/// The store key of `provider`'s final answer about `reference` that came before the verification stored its
/// [`PendingCheck`] (a provider that decides at once can post while the job is still saving its record).
pub fn early_key(provider: &str, reference: &str) -> String {
    format!("early:{provider}:{reference}")
}

/// The job a provider's final answer resumes: the waiting job, with the answer added, under the callback's key.
pub fn resumed(record: &str, callback: &CallbackAnswer) -> serde_json::Result<VerifyJob> {
    let PendingCheck { mut job } = serde_json::from_str(record)?;
    job.known.insert(callback.capability.as_str().to_owned(), callback.answer.clone());
    job.key = JobKey::provider_callback(&job.submission, &callback.reference);
    Ok(job)
}

/// What is kept while a provider works: the job to resume, with the answers known so far.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PendingCheck {
    pub job: VerifyJob,
}

/// Resumes a verification when an asynchronous provider posts its answer to `POST /providers/callback`.
pub struct ResumeOnCallback {
    pub conversations: Arc<dyn ConversationStore>,
    pub verify: Arc<dyn JobQueue<VerifyJob>>,
}

#[async_trait]
impl CallbackSink for ResumeOnCallback {
    async fn deliver(&self, callback: CallbackAnswer) -> anyhow::Result<()> {
        // The answer is kept first, then the waiting job is looked for; the job stores its record first, then looks
        // for a kept answer. Whichever comes second finds the other, so an answer that overtakes the job's record
        // is not lost. Should both find each other, the two resumptions share one idempotency key: one runs.
        let early = early_key(&callback.provider, &callback.reference);
        self.conversations.put_value(&early, &serde_json::to_string(&callback)?, PENDING_TTL_SECS).await?;
        let key = pending_key(&callback.provider, &callback.reference);
        let Some(record) = self.conversations.take_value(&key).await? else {
            // Before the verification waits for it (it finds the answer then), delivered twice, or after the
            // conversation moved on.
            tracing::info!(provider = %callback.provider, reference = %callback.reference,
                "callback with no verification waiting yet: kept for it");
            return Ok(());
        };
        let queued = resumed(&record, &callback)?.queued();
        if let Err(e) = self.verify.push(&[queued]).await {
            // Put the record back, so the provider's retry finds it.
            self.conversations.put_value(&key, &record, PENDING_TTL_SECS).await?;
            return Err(e.into());
        }
        self.conversations.take_value(&early).await?;
        Ok(())
    }
}
