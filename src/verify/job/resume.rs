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
        let key = pending_key(&callback.provider, &callback.reference);
        let Some(record) = self.conversations.take_value(&key).await? else {
            // Delivered twice, or after the conversation moved on: nothing waits for it.
            tracing::info!(provider = %callback.provider, reference = %callback.reference, "callback for nothing pending");
            return Ok(());
        };
        let PendingCheck { mut job } = serde_json::from_str(&record)?;
        job.known.insert(callback.capability.as_str().to_owned(), callback.answer);
        job.key = JobKey::provider_callback(&job.submission, &callback.reference);
        let queued = job.queued();
        if let Err(e) = self.verify.push(&[queued]).await {
            // Put the record back, so the provider's retry finds it.
            self.conversations.put_value(&key, &record, PENDING_TTL_SECS).await?;
            return Err(e.into());
        }
        Ok(())
    }
}
