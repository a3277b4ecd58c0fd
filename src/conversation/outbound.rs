//! The outbound worker: the runner's replies become Cloud API messages, sent at most once each.

use std::sync::Arc;

use async_trait::async_trait;

use super::outbound_log;
use crate::flow::event::Reply;
use crate::jobs::outbound::{Addressee, OutboundJob};
use crate::jobs::queue::{JobQueue, Queued};
use crate::jobs::worker::{Handler, JobFailure};
use crate::metrics::{Metrics, ReasonLabel, TypeLabel};
use crate::store::now_ms;
use crate::whatsapp::message::{MessageLimitError, OutboundMessage, Recipient};
use crate::whatsapp::sender::{DeliveryFailure, SendJob, SenderDeps, deliver};

/// Beyond this many tries a message is given up (recorded as undeliverable).
const MAX_SEND_ATTEMPTS: u32 = 12;

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
}

#[async_trait]
impl Handler<OutboundJob> for OutboundHandler {
    async fn handle(&self, job: OutboundJob, _attempt: u32) -> Result<(), JobFailure> {
        match &job {
            OutboundJob::MarkRead { message_id, .. } => {
                // A read receipt is a courtesy: a failure is logged, never retried into a storm.
                if let Err(e) = self.sender.api.mark_read(message_id, true).await {
                    tracing::debug!(error = %e, "mark-as-read failed");
                }
                Ok(())
            }
            OutboundJob::Send { key, to, reply, attempt, .. } => {
                let message = to_message(reply).map_err(|e| {
                    JobFailure::Abort(format!("the flow produced a message WhatsApp would refuse: {e}"))
                })?;
                let Some(to_recipient) = recipient(to) else {
                    return Err(JobFailure::Abort("the conversation has neither a phone nor a user id".into()));
                };
                let send = SendJob {
                    idempotency_key: key.clone(),
                    to: to_recipient,
                    message,
                    fallback_template: None,
                    attempt: *attempt,
                };
                match deliver(&send, &self.sender).await {
                    Ok(delivered) => {
                        if !delivered.already_sent {
                            let kind = reply_kind(reply);
                            self.metrics.messages_sent.get_or_create(&TypeLabel { r#type: kind.into() }).inc();
                            tracing::info!(wamid = %delivered.wamid, "{}", outbound_log::describe(&job));
                        }
                        Ok(())
                    }
                    Err(DeliveryFailure::Retry { after, reason }) if *attempt + 1 < MAX_SEND_ATTEMPTS => {
                        // Put it back at the time Meta's policy asks for; the same key keeps it single.
                        let mut again = job.clone();
                        if let OutboundJob::Send { attempt, .. } = &mut again {
                            *attempt += 1;
                        }
                        let run_at = now_ms() / 1000 + after.as_secs().max(1);
                        let queued = Queued { key: format!("{key}:retry{}", attempt + 1), job: again, run_at };
                        self.queue.push(&[queued]).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
                        tracing::warn!(%reason, ?after, "send deferred");
                        Ok(())
                    }
                    Err(DeliveryFailure::Retry { reason, .. }) => {
                        self.undeliverable("gave_up", &reason);
                        Ok(())
                    }
                    Err(DeliveryFailure::Undeliverable { reason }) => {
                        self.undeliverable("permanent", &format!("{}: {}", reason.category, reason.message));
                        Ok(())
                    }
                    // Stop sending: the job stays queued for after the token is replaced.
                    Err(DeliveryFailure::TokenExpired) => {
                        Err(JobFailure::Retry("the WhatsApp access token expired".into()))
                    }
                }
            }
        }
    }
}

impl OutboundHandler {
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
