//! Delivers notify jobs to `COMPANY_WEBHOOK_URL`: JSON, signed like provider callbacks
//! (`X-WaOnboard-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), retried on any failure until the
//! worker's attempt limit.

use std::time::Duration;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::config::Secret;
use crate::jobs::notify::NotifyJob;
use crate::jobs::worker::{Handler, JobFailure};
use crate::signing::{self, SIGNATURE_HEADER};

/// Why a notification did not reach the company (retried).
#[derive(Debug, thiserror::Error)]
enum NotDelivered {
    #[error("company webhook answered {0}")]
    Refused(reqwest::StatusCode),
    #[error("company webhook unreachable: {0}")]
    Unreachable(#[source] reqwest::Error),
}

pub struct CompanyWebhook {
    pub url: String,
    pub secret: Secret,
    pub client: reqwest::Client,
    pub clock: SharedClock,
}

impl CompanyWebhook {
    pub fn new(url: String, secret: Secret, clock: SharedClock) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
        Ok(Self { url, secret, client, clock })
    }
}

#[async_trait]
impl Handler<NotifyJob> for CompanyWebhook {
    async fn handle(&self, job: NotifyJob, attempt: u32) -> Result<(), JobFailure> {
        let body = serde_json::to_vec(&job).map_err(JobFailure::abort)?;
        let signature = signing::sign(self.secret.expose().as_bytes(), self.clock.now_secs() as i64, &body);
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header("Idempotency-Key", &job.id)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                tracing::info!(event = %job.event, conversation = %job.conversation_id, "company notified");
                Ok(())
            }
            Ok(response) => {
                let status = response.status();
                tracing::warn!(%status, attempt, event = %job.event, "company webhook refused the notification");
                Err(JobFailure::retry(NotDelivered::Refused(status)))
            }
            Err(e) => Err(JobFailure::retry(NotDelivered::Unreachable(e))),
        }
    }
}

/// Without `COMPANY_WEBHOOK_URL`: the notification is logged (development), and nothing is sent.
pub struct LogNotify;

#[async_trait]
impl Handler<NotifyJob> for LogNotify {
    async fn handle(&self, job: NotifyJob, _attempt: u32) -> Result<(), JobFailure> {
        tracing::info!(
            event = %job.event,
            conversation = %job.conversation_id,
            fields = job.fields.len(),
            "no COMPANY_WEBHOOK_URL: outcome not delivered to a company system"
        );
        Ok(())
    }
}
