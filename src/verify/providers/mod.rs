//! Identity providers: one trait per capability (document OCR, liveness, face match, registry), one answer type,
//! one error type. Implementations: [`local`] (development only, checks nothing), [`http`] (the contract in
//! `docs/providers.md`), and [`sim`] (a programmable provider on a random port, for tests and demos).
//! [`config`] says which provider serves which capability in which country; [`callback`] receives the answers of
//! asynchronous providers; [`breaker`] stops calling a provider that is down.

pub mod breaker;
pub mod callback;
pub mod config;
pub mod http;
pub mod local;
pub mod media_link;
pub mod rekognition;
pub mod sim;
pub mod veriff;
pub mod wire;

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::verify::document::DocumentType;
use crate::verify::reason::ReasonCode;

/// What a provider is asked to check. The name is also the last segment of the HTTP endpoint, and what a flow's
/// `verification.require` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Read the document (OCR of the printed text and MRZ), and say whether it looks genuine.
    Document,
    /// The selfie (or its frames) shows a live person, not a photo of a photo or a mask.
    Liveness,
    /// The selfie and the document photo show the same person.
    FaceMatch,
    /// The document is not reported lost, stolen or cancelled, and its holder is not reported deceased.
    Registry,
}

impl Capability {
    pub const ALL: &'static [Capability] = &[Self::Document, Self::Liveness, Self::FaceMatch, Self::Registry];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Document => "document",
            Self::Liveness => "liveness",
            Self::FaceMatch => "face_match",
            Self::Registry => "registry",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AnswerStatus {
    Pass,
    /// The user can fix it with a new photo (blurry, glare, no face...).
    Retry {
        reason: ReasonCode,
    },
    /// The check failed for a reason a new photo cannot fix (registry hit, face mismatch...).
    Fail {
        reason: ReasonCode,
    },
    /// The provider answers later through the callback; `reference` is its id for this check.
    Pending {
        reference: String,
    },
}

/// A provider's answer to one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderAnswer {
    /// Flattened in JSON: `"status": "retry", "reason": "glare"`, as on the wire.
    #[serde(flatten)]
    pub status: AnswerStatus,
    /// How sure the provider is of its verdict, 0 to 1. Compare it with the flow's threshold
    /// ([`ProviderAnswer::with_min_confidence`]).
    pub confidence: f32,
    /// What the provider extracted or wants to tell (OCR fields, `registry_detail`, `note`...).
    pub fields: BTreeMap<String, String>,
    /// The configured provider name.
    pub provider: String,
    /// The provider's reference for this check, when it gives one.
    pub reference: Option<String>,
    /// Time from the first request to the answer, retries included.
    pub elapsed_ms: u64,
}

impl ProviderAnswer {
    /// A `pass` under `threshold` becomes `fail` with `low_confidence` (which the flow sends to a person: a new
    /// photo is not the fix).
    pub fn with_min_confidence(mut self, threshold: f32) -> Self {
        if self.status == AnswerStatus::Pass && self.confidence < threshold {
            self.status = AnswerStatus::Fail { reason: ReasonCode::LowConfidence };
        }
        self
    }

    /// Whether this answer comes from a real identity check (the `local` development provider's do not: they
    /// never satisfy a flow's `verification.require`).
    pub fn is_identity_check(&self) -> bool {
        self.fields.get("note").is_none_or(|n| n != local::NOTE)
    }

    /// The reason, for retry and fail.
    pub fn reason(&self) -> Option<ReasonCode> {
        match &self.status {
            AnswerStatus::Retry { reason } | AnswerStatus::Fail { reason } => Some(*reason),
            _ => None,
        }
    }
}

/// A check could not be done. Never the user's fault: a person looks instead (`provider_unavailable`, or
/// `review_required` when no provider is configured at all).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProviderError {
    #[error("provider {provider} is unavailable: {detail}")]
    Unavailable { provider: String, detail: String },
    #[error("provider {provider} did not answer within {after_ms} ms")]
    Timeout { provider: String, after_ms: u64 },
    #[error("provider {provider} gave an answer that cannot be used: {detail}")]
    BadAnswer { provider: String, detail: String },
    #[error("provider {provider} is failing: circuit open, not called")]
    CircuitOpen { provider: String },
    /// The flow routes no provider to this capability in this country: nothing was asked.
    #[error("no provider is configured for {capability} in {country}")]
    NotConfigured { capability: Capability, country: String },
}

impl ProviderError {
    pub fn reason(&self) -> ReasonCode {
        match self {
            Self::NotConfigured { .. } => ReasonCode::ReviewRequired,
            _ => ReasonCode::ProviderUnavailable,
        }
    }

    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::BadAnswer { .. } => "bad_answer",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::NotConfigured { .. } => "not_configured",
        }
    }
}

/// Which photo an image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageRole {
    DocumentFront,
    DocumentBack,
    Selfie,
}

/// An image sent to a provider: its bytes, or a short-lived signed URL where the provider fetches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageContent {
    Bytes { mime: String, bytes: Bytes },
    Url { mime: String, url: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderImage {
    pub role: ImageRole,
    pub content: ImageContent,
}

/// Ties a request to a conversation and a verification attempt. `conversation_id:attempt` is the correlation
/// id sent to providers, and the idempotency key with the capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Correlation {
    pub conversation_id: String,
    pub attempt: u32,
}

impl Correlation {
    pub fn id(&self) -> String {
        format!("{}:{}", self.conversation_id, self.attempt)
    }
}

/// One check to run. The same request shape serves every capability; each uses what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    pub correlation: Correlation,
    /// ISO 3166-1 alpha-2 (`AR`, `MX`...).
    pub country: String,
    pub document_type: Option<DocumentType>,
    /// The number the user typed or the barcode holds (registry checks need it).
    pub document_number: Option<String>,
    pub images: Vec<ProviderImage>,
    /// Other facts the flow collected (names, birth date), sent as they are.
    pub fields: BTreeMap<String, String>,
    /// Where an asynchronous provider posts its final answer.
    pub callback_url: Option<String>,
}

#[async_trait]
pub trait DocumentReader: Send + Sync {
    async fn read_document(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError>;
}

#[async_trait]
pub trait LivenessChecker: Send + Sync {
    async fn check_liveness(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError>;
}

#[async_trait]
pub trait FaceMatcher: Send + Sync {
    async fn match_faces(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError>;
}

#[async_trait]
pub trait RegistryChecker: Send + Sync {
    async fn check_registry(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError>;
}

/// A provider that can serve every capability (both built-in kinds do); the configuration decides which it
/// actually serves. Upcasts to each capability trait (`Arc<dyn Provider>` → `Arc<dyn DocumentReader>`).
pub trait Provider: DocumentReader + LivenessChecker + FaceMatcher + RegistryChecker {
    fn name(&self) -> &str;

    /// Capabilities one answer of this provider decides together (a vendor session that checks the document and
    /// the face at once): it is sent every photo they need, asked once, and its answer counts for each.
    fn covers(&self) -> &[Capability] {
        &[]
    }

    /// Its circuit breaker's state, for the metrics (none: it has no breaker).
    fn circuit(&self) -> Option<breaker::BreakerState> {
        None
    }
}

/// Runs the check of `capability` on `provider`.
pub async fn check(
    provider: &dyn Provider,
    capability: Capability,
    request: &ProviderRequest,
) -> Result<ProviderAnswer, ProviderError> {
    match capability {
        Capability::Document => provider.read_document(request).await,
        Capability::Liveness => provider.check_liveness(request).await,
        Capability::FaceMatch => provider.match_faces(request).await,
        Capability::Registry => provider.check_registry(request).await,
    }
}
