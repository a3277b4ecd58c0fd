//! The runner as job handlers: inbound messages and statuses, and engine events (scheduled or from workers).

use std::sync::Arc;

use async_trait::async_trait;

use super::runner::{RunError, Runner};
use crate::flow::event::Event;
use crate::jobs::event::EventJob;
use crate::jobs::inbound::{InboundEvent, InboundJob};
use crate::jobs::worker::{Handler, JobFailure};
use crate::metrics::{Metrics, StatusLabel};
use crate::store::delivery::DeliveryLog;
use crate::webhook::envelope::StatusKind;
use crate::whatsapp::sender::SentLog;

fn failure(error: RunError) -> JobFailure {
    match error {
        RunError::Store(_) | RunError::Contention => JobFailure::retry(error),
        RunError::FlowMissing(..) => JobFailure::abort(error),
    }
}

pub struct InboundHandler {
    pub runner: Arc<Runner>,
    /// Delivery states of our messages, from status webhooks.
    pub delivery: Arc<dyn DeliveryLog>,
    /// What each send did: a status carrying a send's key confirms a try that was in doubt.
    pub sent_log: SentLog,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl Handler<InboundJob> for InboundHandler {
    async fn handle(&self, job: InboundJob, _attempt: u32) -> Result<(), JobFailure> {
        if let InboundEvent::Status { status, .. } = &job.event {
            self.delivery.apply(&status.delivery_update()).await.map_err(JobFailure::retry)?;
            if let Some(key) = &status.biz_opaque_callback_data
                && status.status != StatusKind::Failed
                && self.sent_log.confirm(key, &status.id).await.map_err(JobFailure::retry)?
            {
                tracing::info!(wamid = %status.id, "send recorded from Meta's status (its own record was not written yet)");
            }
            if let Some(error) = status.errors.first() {
                self.metrics.delivery_failures.get_or_create(&StatusLabel { status: error.code.to_string() }).inc();
                tracing::warn!(code = error.code, title = %error.title, "a message of ours failed to deliver");
            }
        }
        let applied = self.runner.inbound(&job).await.map_err(failure)?;
        tracing::debug!(key = %job.key, ?applied, "inbound job done");
        Ok(())
    }
}

pub struct EventHandler(pub Arc<Runner>);

#[async_trait]
impl Handler<EventJob> for EventHandler {
    async fn handle(&self, job: EventJob, _attempt: u32) -> Result<(), JobFailure> {
        // The audit log says who acted: the agent by name, the verifier, or the service's own timers.
        let actor = match &job.event {
            Event::AgentOutcome { agent: Some(agent), .. } => format!("agent:{agent}"),
            // The external agent system, through its signed link: it names no agent.
            Event::AgentOutcome { agent: None, .. } => "agent:external".to_owned(),
            Event::VerificationFinished { .. } | Event::MediaUnavailable { .. } => {
                crate::store::conversation::VERIFIER_ACTOR.to_owned()
            }
            _ => "system".to_owned(),
        };
        let applied = self.0.event(&job, &actor).await.map_err(failure)?;
        tracing::debug!(key = %job.key, ?applied, "event job done");
        Ok(())
    }
}
