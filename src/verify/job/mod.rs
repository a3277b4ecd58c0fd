//! The verification job: download the submission's photos (kept encrypted in the vault), check their quality,
//! read the document, ask the configured providers, decide, and report back to the conversation as an event.
//! Idempotent: a retried job finds its photos in the vault, and its result event has a fixed key.
//!
//! The job names its photos' slots with the flow engine's strings; they become [`Slot`]s as the job is read, and
//! strings again in the event it reports.
//!
//! Wall-clock time (today's date for the document's dates, the audit record's time, the providers' signatures)
//! comes from the verifier's [`SharedClock`]; the timings in the audit log are measured with [`Instant`].
//!
//! The providers it asks are built once per flow version ([`provider_cache`]); a provider that answers `pending`
//! parks the job until its callback resumes it ([`resume`]). What stops a run is a [`VerifyError`], which says
//! whether the job is tried again.

pub mod checks;
pub mod error;
mod exchange;

use exchange::shown_fields;
pub mod photo;
pub mod provider_cache;
pub mod resume;

pub use error::VerifyError;
pub use provider_cache::ProviderCache;
pub use resume::{PendingCheck, ResumeOnCallback, pending_key};

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;

use crate::clock::SharedClock;
use crate::conversation::flows::FlowRegistry;
use crate::flow::event::{Event, VerificationResult};
use crate::flow::model::Check;
use crate::flow::state::MediaRef;
use crate::jobs::BackgroundJob as _;
use crate::jobs::event::EventJob;
use crate::jobs::key::JobKey;
use crate::jobs::verify::VerifyJob;
use crate::jobs::worker::{Handler, JobFailure};
use crate::store::conversation::{AuditRecord, ConversationStore};
use crate::store::queue::JobQueue;
use crate::store::vault::MediaVault;
use crate::verify::decision::{self, Findings, Policy, decide, retake};
use crate::verify::document::crosscheck::{CrossCheckPolicy, cross_check_fields};
use crate::verify::document::{DocumentType, read_document};
use crate::verify::providers::{
    AnswerStatus, Capability, Correlation, ImageContent, ProviderAnswer, ProviderError, ProviderImage, ProviderRequest,
    check,
};
use crate::verify::quality::{self, QualityReport, Thresholds, Verdict};
use crate::verify::reason::ReasonCode;
use crate::verify::slot::Slot;
use crate::whatsapp::client::CloudApi;
use crate::whatsapp::media::{MediaError, MediaKind, MediaLimits, fetch_media};

/// Longer side of the grayscale barcodes are read on.
const READING_LONG_SIDE: u32 = 2000;

pub struct Verifier {
    /// Where asynchronous providers post their answers: `<public base>/providers/callback`.
    pub callback_url: String,
    /// The service's public base URL, for the one-time photo links of providers that fetch photos.
    pub public_base: String,
    pub api: CloudApi,
    pub media_limits: MediaLimits,
    pub vault: Arc<dyn MediaVault>,
    pub flows: Arc<FlowRegistry>,
    pub conversations: Arc<dyn ConversationStore>,
    pub events: Arc<dyn JobQueue<EventJob>>,
    /// The providers of each flow version, built once: their HTTP clients and circuit breakers must outlive a
    /// single job, or a provider that is down would be called afresh for every submission.
    pub providers: ProviderCache,
    pub clock: SharedClock,
    /// Provider calls, latencies and circuits.
    pub metrics: Arc<crate::metrics::Metrics>,
}

enum Step {
    Result(VerificationResult),
    MediaUnavailable {
        slot: Slot,
        detail: String,
    },
    /// A provider answered `pending`: the job resumes on its callback.
    Pending {
        provider: String,
        reference: String,
        known: BTreeMap<String, ProviderAnswer>,
    },
}

/// The flow's photo quality thresholds: its `verification.quality` over the defaults.
fn thresholds(settings: &crate::flow::model::Verification) -> Result<Thresholds, VerifyError> {
    if settings.quality.is_null() {
        return Ok(Thresholds::default());
    }
    serde_json::from_value(settings.quality.clone()).map_err(VerifyError::Thresholds)
}

/// One photo's quality checks, on the blocking pool (decoding takes tens of milliseconds).
async fn check_quality(slot: &Slot, bytes: Bytes, thresholds: Thresholds) -> Result<QualityReport, VerifyError> {
    let kind = slot.kind();
    tokio::task::spawn_blocking(move || quality::check(&bytes, kind, &thresholds))
        .await
        .map_err(VerifyError::QualityCheck)
}

/// A quality check's line in the audit log (and the agent's timeline): `<label> <slot>: verdict, measurements`.
fn quality_note(label: &str, slot: &Slot, report: &QualityReport) -> String {
    let m = &report.measurements;
    format!(
        "{label} {slot}: {:?} {:?} (blur {:.0}, glare {:.3}, luma {:.0}, {:.0} ms)",
        report.verdict, report.reasons, m.blur_variance, m.glare_ratio, m.mean_luma, m.timings_ms.total
    )
}

impl Verifier {
    /// The flow version a job was made for (kept in the store, so any process can load it).
    async fn flow(&self, flow_id: &str, version: &str) -> Result<Arc<crate::flow::load::Flow>, VerifyError> {
        self.flows
            .version(flow_id, version, self.conversations.as_ref())
            .await?
            .ok_or_else(|| VerifyError::FlowMissing { flow_id: flow_id.to_owned(), version: version.to_owned() })
    }

    /// The job's photos by slot, in the order they are checked in (the order of [`Slot`]).
    fn ordered(job: &VerifyJob) -> BTreeMap<Slot, MediaRef> {
        job.media.iter().map(|(name, media)| (Slot::from(name.as_str()), media.clone())).collect()
    }

    /// The photo's bytes: from the vault when an earlier try kept them, else downloaded from Meta (with the token
    /// of the business `number` that received it) and kept.
    async fn bytes(
        &self,
        number: &str,
        conversation_id: &str,
        slot: &Slot,
        media: &MediaRef,
    ) -> Result<Result<Bytes, String>, VerifyError> {
        let name = format!("{slot}-{}", media.media_id);
        if let Ok(Some(stored)) = self.vault.get(conversation_id, &name).await {
            return Ok(Ok(Bytes::from(stored.bytes)));
        }
        let kind = if media.mime_type.starts_with("image/") { MediaKind::Image } else { MediaKind::Document };
        let api = self.api.for_number(number);
        match fetch_media(&api, &self.media_limits, &media.media_id, media.sha256.as_deref(), kind).await {
            Ok(fetched) => {
                if let Err(e) = self.vault.put(conversation_id, &name, &fetched.bytes, &fetched.mime_type).await {
                    return Err(VerifyError::Vault(e));
                }
                Ok(Ok(fetched.bytes))
            }
            Err(MediaError::TokenExpired) => Err(VerifyError::TokenExpired),
            Err(e) => Ok(Err(e.to_string())),
        }
    }

    async fn run(&self, job: &VerifyJob, audit: &mut Vec<String>) -> Result<Step, VerifyError> {
        let flow = self.flow(&job.flow_id, &job.flow_version).await?;
        let settings = &flow.file.verification;
        let thresholds = thresholds(settings)?;
        let doc_type: Option<DocumentType> = job.document.as_deref().and_then(|d| d.parse().ok());
        let checks = job
            .document
            .as_ref()
            .and_then(|d| settings.documents.get(d))
            .map(|d| d.checks.clone())
            .unwrap_or_else(|| vec![Check::Quality]);

        let mut photos = Vec::new();
        for (slot, media) in Self::ordered(job) {
            match self.bytes(&job.user.phone_number_id, &job.conversation_id, &slot, &media).await? {
                Ok(bytes) => photos.push((slot, media, bytes)),
                Err(detail) => return Ok(Step::MediaUnavailable { slot, detail }),
            }
        }

        let mut findings = Findings::default();
        for (slot, _, bytes) in &photos {
            if !checks.contains(&Check::Quality) {
                break;
            }
            let report = check_quality(slot, bytes.clone(), thresholds.clone()).await?;
            audit.push(quality_note("quality", slot, &report));
            if report.verdict == Verdict::Retake
                && let Some(reason) = report.reasons.first()
            {
                findings.quality.push((slot.clone(), *reason));
            }
        }
        if let Some((slot, reason)) = findings.quality.first() {
            return Ok(Step::Result(retake(slot, *reason)));
        }

        if let Some(doc) = doc_type.filter(|_| checks.contains(&Check::Barcode) || checks.contains(&Check::Mrz)) {
            for (slot, _, bytes) in &photos {
                let Some(side) = slot.side() else { continue };
                let bytes = bytes.clone();
                let reading = tokio::task::spawn_blocking(move || {
                    quality::decode::decode_to(&bytes, READING_LONG_SIDE).map(|d| read_document(&d.gray, doc, side))
                })
                .await
                .map_err(VerifyError::Reading)?;
                let Ok(reading) = reading else { continue };
                audit.push(format!(
                    "document {slot}: {} barcode(s), fields {:?}, reasons {:?}",
                    reading.barcodes.len(),
                    reading.fields.keys().collect::<Vec<_>>(),
                    reading.reasons
                ));
                findings.document_evidence.extend(checks::evidence(slot.as_str(), &reading));
                for reason in &reading.reasons {
                    // An unread barcode alone is no reason to bother the user: photos that pass the quality checks
                    // are often fine for a person or a provider. Contradictions are.
                    if *reason != crate::verify::reason::ReasonCode::DocumentUnreadable {
                        findings.document.push((slot.clone(), *reason));
                    }
                }
                findings.fields.extend(reading.fields.into_iter().map(|(k, v)| (format!("{slot}_{k}"), v)));
            }
        }

        let providers = match self.providers.get(&job.flow_id, &job.flow_version, settings, &self.clock) {
            Ok(providers) => providers,
            Err(problem) => {
                // Never pass a check silently because its provider cannot be built: a person looks instead.
                audit.push(format!("providers unavailable: {problem}"));
                return Ok(Step::Result(VerificationResult::Agent { reason: ReasonCode::ProviderUnavailable }));
            }
        };
        let policy = Policy {
            required: settings.required_for(job.document.as_deref()).to_vec(),
            allow_unverified: settings.allow_unverified,
            agent_below_confidence: settings.agent_below_confidence,
        };
        let country = doc_type.and_then(|d| d.country()).unwrap_or("*").to_owned();
        let images: Vec<ProviderImage> = photos
            .iter()
            .map(|(slot, media, bytes)| ProviderImage {
                role: slot.image_role(),
                content: ImageContent::Bytes { mime: media.mime_type.clone(), bytes: bytes.clone() },
            })
            .collect();
        for capability in checks::capabilities_to_run(&checks, &policy.required) {
            let request = ProviderRequest {
                correlation: Correlation { conversation_id: job.conversation_id.clone(), attempt: job.attempt },
                country: country.clone(),
                document_type: doc_type,
                document_number: checks::document_number(&findings.fields),
                images: checks::images_for_all(&[capability], &images),
                fields: BTreeMap::new(),
                callback_url: Some(self.callback_url.clone()),
            };
            let started = Instant::now();
            if let Some(answer) = job.known.get(capability.as_str()) {
                audit.push(format!(
                    "provider {} {}: {:?} (by callback)",
                    answer.provider,
                    capability.as_str(),
                    answer.status
                ));
                self.take_fields(&mut findings, capability, answer, doc_type, audit);
                findings.providers.push((capability, Ok(answer.clone())));
                continue;
            }
            let routed = providers.as_ref().and_then(|p| p.provider_for(capability, &country));
            let outcome = match routed.clone() {
                Some(provider) if provider.covers().contains(&capability) => {
                    // A session that decides several capabilities at once: asked once, with every photo they need.
                    let decided = findings.providers.iter().find_map(|(c, o)| {
                        o.as_ref().ok().filter(|a| a.provider == provider.name() && provider.covers().contains(c))
                    });
                    if let Some(answer) = decided.cloned() {
                        audit.push(format!("provider {} {capability}: decided with the same session", answer.provider));
                        findings.providers.push((capability, Ok(answer)));
                        continue;
                    }
                    let request =
                        ProviderRequest { images: checks::images_for_all(provider.covers(), &images), ..request };
                    check(provider.as_ref(), capability, &request).await
                }
                Some(provider) if providers.as_ref().is_some_and(|p| p.wants_links(provider.name())) => {
                    let images = self.as_links(job, provider.name(), &request.images, &photos).await?;
                    check(provider.as_ref(), capability, &ProviderRequest { images, ..request }).await
                }
                Some(provider) => check(provider.as_ref(), capability, &request).await,
                None => Err(ProviderError::NotConfigured { capability, country: country.clone() }),
            };
            if let Some(provider) = routed {
                self.metrics.provider_call(provider.as_ref(), capability, &outcome, started.elapsed());
            }
            audit.push(match &outcome {
                Ok(a) => format!(
                    "provider {} {}: {:?}, confidence {:.2}, {} ms{}",
                    a.provider,
                    capability.as_str(),
                    a.status,
                    a.confidence,
                    started.elapsed().as_millis(),
                    shown_fields(&a.fields)
                ),
                Err(e) => format!("provider {}: {e} ({} ms)", capability.as_str(), started.elapsed().as_millis()),
            });
            if let Ok(answer) = &outcome {
                self.take_fields(&mut findings, capability, answer, doc_type, audit);
                if let AnswerStatus::Pending { reference } = &answer.status {
                    // Earlier answers are kept so the resumed job does not ask again.
                    let known = findings
                        .providers
                        .iter()
                        .filter_map(|(c, o)| o.as_ref().ok().map(|a| (c.as_str().to_owned(), a.clone())))
                        .collect();
                    return Ok(Step::Pending {
                        provider: answer.provider.clone(),
                        reference: reference.clone(),
                        known,
                    });
                }
            }
            findings.providers.push((capability, outcome));
        }
        if let Some(doc) = doc_type {
            // The barcode and MRZ (read here) against what the OCR provider read, and the dates against the
            // flow's rules.
            let policy = CrossCheckPolicy { min_age_years: settings.min_age };
            let today = self.today();
            let local: BTreeMap<String, String> = findings
                .fields
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("front_").or_else(|| k.strip_prefix("back_")).map(|f| (f.to_owned(), v.clone()))
                })
                .collect();
            let ocr: BTreeMap<String, String> = findings
                .providers
                .iter()
                .filter(|(c, _)| *c == Capability::Document)
                .filter_map(|(_, o)| o.as_ref().ok())
                .flat_map(|a| a.fields.clone())
                .collect();
            for finding in cross_check_fields(doc, None, &local, &ocr, today, &policy) {
                audit.push(format!("cross-check: {} ({})", finding.reason, finding.detail));
                findings.document.push((Slot::Front, finding.reason));
            }
        }
        let unmet = decision::unmet(&findings, &policy);
        audit.push(format!(
            "required {:?}: {}; document evidence {:?}",
            policy.required.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            if unmet.is_empty() {
                "all passed".to_owned()
            } else {
                format!("not satisfied: {}", unmet.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "))
            },
            findings.document_evidence
        ));
        if !unmet.is_empty() {
            // Said in the log too: an operator who expected automatic verification sees why people review.
            let unmet: Vec<&str> = unmet.iter().map(|c| c.as_str()).collect();
            tracing::info!(
                conversation = %job.conversation_id,
                submission = %job.submission,
                unmet = %unmet.join(", "),
                "required checks not satisfied (no provider, or no pass): a person confirms this submission"
            );
        }
        let decided = decide(&findings, &policy);
        Ok(decided.map_or_else(
            || Step::Result(VerificationResult::Agent { reason: ReasonCode::ProviderUnavailable }),
            Step::Result,
        ))
    }
}

#[async_trait]
impl Handler<VerifyJob> for Verifier {
    async fn handle(&self, job: VerifyJob, attempt: u32) -> Result<(), JobFailure> {
        let started = Instant::now();
        let mut notes = Vec::new();
        let step = self.run(&job, &mut notes).await?;
        let event = match step {
            Step::Result(result) => Event::VerificationFinished { submission: job.submission.clone(), result },
            Step::MediaUnavailable { slot, detail } => {
                Event::MediaUnavailable { submission: job.submission.clone(), slot: slot.into(), detail }
            }
            Step::Pending { provider, reference, known } => {
                let mut resume = job.clone();
                resume.known.extend(known);
                let record =
                    serde_json::to_string(&PendingCheck { job: resume }).map_err(VerifyError::PendingRecord)?;
                let pending = pending_key(&provider, &reference);
                self.conversations
                    .put_value(&pending, &record, resume::PENDING_TTL_SECS)
                    .await
                    .map_err(VerifyError::Store)?;
                // A provider that decides at once may have answered while the record was being stored.
                let early = self.conversations.take_value(&resume::early_key(&provider, &reference)).await;
                if let Some(answer) = early.map_err(VerifyError::Store)?
                    && let Some(record) = self.conversations.take_value(&pending).await.map_err(VerifyError::Store)?
                {
                    let callback = serde_json::from_str(&answer).map_err(VerifyError::PendingRecord)?;
                    let resumed = resume::resumed(&record, &callback).map_err(VerifyError::PendingRecord)?;
                    notes.push(format!("{provider} answered about {reference} before its callback was awaited"));
                    self.audit(&job, notes, started).await;
                    return self.handle(resumed, attempt).await;
                }
                notes.push(format!("waiting for {provider}'s callback about {reference}"));
                self.audit(&job, notes, started).await;
                return Ok(());
            }
        };
        self.audit(&job, notes, started).await;
        let queued =
            EventJob { user: job.user.clone(), key: JobKey::verification_result(&job.submission), event }.queued();
        self.events.push(&[queued]).await.map_err(VerifyError::Store)?;
        Ok(())
    }
}

impl Verifier {
    /// Today's date (UTC) by the verifier's clock.
    fn today(&self) -> chrono::NaiveDate {
        let now = i64::try_from(self.clock.now_ms()).ok().and_then(chrono::DateTime::from_timestamp_millis);
        now.unwrap_or_default().date_naive()
    }

    /// Every check and provider call, with timing and without image bytes, in the conversation's audit log.
    async fn audit(&self, job: &VerifyJob, notes: Vec<String>, started: Instant) {
        let record = AuditRecord {
            at: self.clock.now_secs(),
            conversation_id: job.conversation_id.clone(),
            actor: crate::store::conversation::VERIFIER_ACTOR.into(),
            event: format!("verification {} ({} ms)", job.submission, started.elapsed().as_millis()),
            event_key: JobKey::verification_run(&job.submission).into(),
            step_before: String::new(),
            step_after: String::new(),
            effects: notes,
            ..Default::default()
        };
        if let Err(e) = self.conversations.append_audit(&job.user, &[record]).await {
            tracing::warn!(error = %e, "verification not audited");
        }
    }
}
