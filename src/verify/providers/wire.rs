//! The JSON bodies of the HTTP contract (docs/providers.md), shared by the client, the callback receiver and the
//! simulator.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::{AnswerStatus, Capability, ImageContent, ImageRole, ProviderAnswer, ProviderRequest};
use crate::verify::document::DocumentType;
use crate::verify::reason::ReasonCode;

pub const CORRELATION_HEADER: &str = "x-waonboard-correlation-id";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// On callbacks: which configured provider is calling (selects the secret to check the signature with).
pub const PROVIDER_HEADER: &str = "x-waonboard-provider";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireImage {
    pub role: ImageRole,
    pub mime: String,
    /// Standard base64 of the image bytes; or `url` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// A signed, short-lived URL to fetch the image from; or `data_base64` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireRequest {
    pub capability: Capability,
    pub correlation_id: String,
    pub conversation_id: String,
    pub attempt: u32,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_type: Option<DocumentType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    #[serde(default)]
    pub images: Vec<WireImage>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

impl WireRequest {
    pub fn new(capability: Capability, request: &ProviderRequest) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        Self {
            capability,
            correlation_id: request.correlation.id(),
            conversation_id: request.correlation.conversation_id.clone(),
            attempt: request.correlation.attempt,
            country: request.country.clone(),
            document_type: request.document_type,
            document_number: request.document_number.clone(),
            images: request
                .images
                .iter()
                .map(|img| match &img.content {
                    ImageContent::Bytes { mime, bytes } => WireImage {
                        role: img.role,
                        mime: mime.clone(),
                        data_base64: Some(b64.encode(bytes)),
                        url: None,
                    },
                    ImageContent::Url { mime, url } => {
                        WireImage { role: img.role, mime: mime.clone(), data_base64: None, url: Some(url.clone()) }
                    }
                })
                .collect(),
            fields: request.fields.clone(),
            callback_url: request.callback_url.clone(),
        }
    }

    /// The idempotency key: the same check of the same attempt is the same request, however often it is sent.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.correlation_id, self.capability)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireStatus {
    Pass,
    Retry,
    Fail,
    Pending,
}

/// A provider's answer (HTTP response body, and the body of a callback with `provider`, `capability` and
/// `correlation_id` added).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireAnswer {
    pub status: WireStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl WireAnswer {
    /// Checks the answer's rules and makes it a [`ProviderAnswer`]; `Err` says what is wrong.
    pub fn into_answer(self, provider: &str, elapsed_ms: u64) -> Result<ProviderAnswer, String> {
        let reason = match self.reason.as_deref() {
            Some(r) => Some(r.parse::<ReasonCode>()?),
            None => None,
        };
        let confidence = match self.confidence {
            Some(c) if c.is_finite() && (0.0..=1.0).contains(&c) => c,
            Some(c) => return Err(format!("confidence {c} is not between 0 and 1")),
            None if self.status == WireStatus::Pass => return Err("a pass needs a confidence".to_owned()),
            None => 0.0,
        };
        let status = match (self.status, reason) {
            (WireStatus::Pass, _) => AnswerStatus::Pass,
            (WireStatus::Retry, Some(reason)) => AnswerStatus::Retry { reason },
            (WireStatus::Fail, Some(reason)) => AnswerStatus::Fail { reason },
            (WireStatus::Retry | WireStatus::Fail, None) => return Err("retry and fail need a reason".to_owned()),
            (WireStatus::Pending, _) => match &self.reference {
                Some(reference) if !reference.is_empty() => AnswerStatus::Pending { reference: reference.clone() },
                _ => return Err("pending needs a reference".to_owned()),
            },
        };
        Ok(ProviderAnswer {
            status,
            confidence,
            fields: self.fields,
            provider: provider.to_owned(),
            reference: self.reference,
            elapsed_ms,
        })
    }
}

/// The body of `POST /providers/callback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireCallback {
    pub provider: String,
    pub capability: Capability,
    pub correlation_id: String,
    #[serde(flatten)]
    pub answer: WireAnswer,
}
