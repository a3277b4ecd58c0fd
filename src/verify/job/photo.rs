//! The quick check of one photo ([`PhotoJob`]): downloaded and kept in the vault (where the verification finds
//! it), its quality checked (20 to 40 ms), and the verdict sent back to the conversation at once, so a blurry
//! front is asked for again before the next photo is.

use std::time::Instant;

use async_trait::async_trait;

use super::{Verifier, VerifyError, check_quality, quality_note, thresholds};
use crate::flow::event::{Event, PhotoCheck};
use crate::flow::model::Check;
use crate::jobs::BackgroundJob as _;
use crate::jobs::event::EventJob;
use crate::jobs::key::JobKey;
use crate::jobs::photo::PhotoJob;
use crate::jobs::worker::{Handler, JobFailure};
use crate::store::conversation::AuditRecord;
use crate::verify::quality::Verdict;
use crate::verify::slot::Slot;

impl Verifier {
    async fn check_one(&self, job: &PhotoJob, notes: &mut Vec<String>) -> Result<PhotoCheck, VerifyError> {
        let flow = self.flow(&job.flow_id, &job.flow_version).await?;
        let settings = &flow.file.verification;
        let slot = Slot::from(job.slot.as_str());
        let bytes = match self.bytes(&job.user.phone_number_id, &job.conversation_id, &slot, &job.media).await? {
            Ok(bytes) => bytes,
            Err(detail) => return Ok(PhotoCheck::Unavailable { detail }),
        };
        let checked = job.document.as_ref().and_then(|d| settings.documents.get(d)).map(|d| d.checks.clone());
        if checked.is_some_and(|c| !c.contains(&Check::Quality)) {
            notes.push(format!("photo {slot}: quality not checked by this flow"));
            return Ok(PhotoCheck::Passed);
        }
        let report = check_quality(&slot, bytes, thresholds(settings)?).await?;
        notes.push(quality_note("photo", &slot, &report));
        Ok(match (report.verdict, report.reasons.first()) {
            (Verdict::Retake, Some(reason)) => PhotoCheck::Retake { reason: *reason },
            _ => PhotoCheck::Passed,
        })
    }
}

#[async_trait]
impl Handler<PhotoJob> for Verifier {
    async fn handle(&self, job: PhotoJob, _attempt: u32) -> Result<(), JobFailure> {
        let started = Instant::now();
        let mut notes = Vec::new();
        let result = self.check_one(&job, &mut notes).await?;
        let record = AuditRecord {
            at: self.clock.now_secs(),
            conversation_id: job.conversation_id.clone(),
            actor: crate::store::conversation::VERIFIER_ACTOR.into(),
            event: format!("photo check {} ({} ms)", job.slot, started.elapsed().as_millis()),
            event_key: format!("{}:photo", job.key),
            step_before: String::new(),
            step_after: String::new(),
            effects: notes,
            ..Default::default()
        };
        if let Err(e) = self.conversations.append_audit(&job.user, &[record]).await {
            tracing::warn!(error = %e, "photo check not audited");
        }
        let event = Event::PhotoChecked { slot: job.slot.clone(), media_id: job.media.media_id.clone(), result };
        let key = JobKey::photo_result(&job.conversation_id, &job.media.media_id);
        self.events
            .push(&[EventJob { user: job.user.clone(), key, event }.queued()])
            .await
            .map_err(VerifyError::Store)?;
        Ok(())
    }
}
