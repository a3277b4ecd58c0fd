//! `POST /providers/veriff/decision`: Veriff's decision webhook. Veriff signs it like our requests to it:
//! `X-AUTH-CLIENT` is the integration's API key (it tells which configured provider is calling) and
//! `X-HMAC-SIGNATURE` the lowercase hex HMAC-SHA256 of the raw body with the shared secret key. Both are checked,
//! in constant time and on the raw bytes, before the body is parsed. The decision is then mapped to our
//! [`CallbackAnswer`] ([`decision_status`] is the table, documented in `docs/providers-veriff.md`) and handed to
//! the same [`CallbackSink`] as the generic callback, which resumes the verification job.
//!
//! Veriff redelivers a decision about once an hour for up to 7 days while we answer anything but 200 OK, so a
//! delivered (or duplicate, or ignored) webhook answers 200 with an empty body; the sink is idempotent on
//! `(provider, reference)`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use subtle::ConstantTimeEq as _;
use thiserror::Error;

use super::wire::{self, AUTH_CLIENT_HEADER, Code, Decision, DecisionWebhook, HMAC_SIGNATURE_HEADER};
use super::{COVERS, COVERS_FIELD};
use crate::config::Secret;
use crate::verify::providers::callback::{CallbackAnswer, CallbackSink};
use crate::verify::providers::{AnswerStatus, Capability, ProviderAnswer};
use crate::verify::reason::ReasonCode;

pub const DECISION_PATH: &str = "/providers/veriff/decision";
/// Decision payloads carry extracted data and check results, never images: 1 MiB is ample.
pub const MAX_DECISION_BYTES: usize = 1024 * 1024;
/// What a delivered webhook answers. Veriff's help centre: "When the HTTP response from your side is a
/// non-200-OK status code, then Veriff keeps trying to deliver the decision" — so 200, not 204.
pub const DELIVERED: StatusCode = StatusCode::OK;

/// The credentials of one configured Veriff provider, as the webhook needs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VeriffWebhookKeys {
    /// Expected in `X-AUTH-CLIENT`.
    pub api_key: Secret,
    /// Keys the `X-HMAC-SIGNATURE`.
    pub shared_secret: Secret,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WebhookError {
    #[error("X-AUTH-CLIENT is missing or names no configured Veriff integration")]
    UnknownClient,
    #[error("X-HMAC-SIGNATURE is missing")]
    MissingSignature,
    #[error("X-HMAC-SIGNATURE is not 64 hex digits")]
    MalformedSignature,
    #[error("X-HMAC-SIGNATURE does not match the body (wrong shared secret, or a changed body)")]
    BadSignature,
    #[error("the webhook body is not a Veriff decision: {0}")]
    BadBody(String),
}

impl WebhookError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnknownClient | Self::MissingSignature | Self::MalformedSignature | Self::BadSignature => {
                StatusCode::UNAUTHORIZED
            }
            Self::BadBody(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Checks `X-HMAC-SIGNATURE` against the raw `body`, in constant time.
pub fn verify_signature(shared_secret: &Secret, header: Option<&str>, body: &[u8]) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::MissingSignature)?.trim();
    let mut given = [0u8; 32];
    hex::decode_to_slice(header, &mut given).map_err(|_| WebhookError::MalformedSignature)?;
    let expected = wire::hmac_raw(shared_secret.expose().as_bytes(), body);
    if bool::from(given.ct_eq(&expected)) { Ok(()) } else { Err(WebhookError::BadSignature) }
}

/// The configured provider whose API key is in `X-AUTH-CLIENT`. Every key is compared (no early exit), each in
/// constant time.
pub fn provider_for_client<'a>(
    providers: &'a HashMap<String, VeriffWebhookKeys>,
    header: Option<&str>,
) -> Result<(&'a str, &'a VeriffWebhookKeys), WebhookError> {
    let mut found = None;
    for (name, keys) in providers {
        if client_matches(keys, header) {
            found = Some((name.as_str(), keys));
        }
    }
    found.ok_or(WebhookError::UnknownClient)
}

/// Whether `header` (`X-AUTH-CLIENT`) is this integration's API key, compared in constant time.
fn client_matches(keys: &VeriffWebhookKeys, header: Option<&str>) -> bool {
    let header = header.map(str::trim).unwrap_or_default();
    !header.is_empty() && bool::from(keys.api_key.expose().as_bytes().ct_eq(header.as_bytes()))
}

/// What a webhook body turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A decision, as our final answer.
    Decision(Box<CallbackAnswer>),
    /// An event webhook (`started`, `submitted`) sent to this URL: nothing to decide, acknowledged.
    Event { action: String },
}

/// Checks the headers and signature on the raw body, then parses and maps it. `provider` is the configured
/// name of the provider whose keys are `keys`.
pub fn verify_decision(
    provider: &str,
    keys: &VeriffWebhookKeys,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Received, WebhookError> {
    if !client_matches(keys, headers.get(AUTH_CLIENT_HEADER).and_then(|v| v.to_str().ok())) {
        return Err(WebhookError::UnknownClient);
    }
    verify_signature(&keys.shared_secret, headers.get(HMAC_SIGNATURE_HEADER).and_then(|v| v.to_str().ok()), body)?;
    parse_decision(provider, body)
}

/// Parses a body whose signature was checked.
pub fn parse_decision(provider: &str, body: &[u8]) -> Result<Received, WebhookError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| WebhookError::BadBody(e.to_string()))?;
    if value.get("verification").is_none()
        && let Some(action) = value.get("action").and_then(|a| a.as_str())
    {
        return Ok(Received::Event { action: action.to_owned() });
    }
    let webhook: DecisionWebhook = serde_json::from_value(value).map_err(|e| WebhookError::BadBody(e.to_string()))?;
    map_decision(provider, &webhook.verification).map(|a| Received::Decision(Box::new(a)))
}

/// Splits our `vendorData` (`<conversation_id>:<attempt>|<capability>`) into the correlation id and capability.
pub fn parse_vendor_data(vendor_data: &str) -> Option<(String, Capability)> {
    let (correlation, capability) = vendor_data.rsplit_once('|')?;
    let capability = Capability::parse(capability)?;
    let (conversation, attempt) = correlation.rsplit_once(':')?;
    if conversation.is_empty() || attempt.parse::<u32>().is_err() {
        return None;
    }
    Some((correlation.to_owned(), capability))
}

/// The decision's status name: `status`, or else the one `code` stands for.
pub fn status_name(decision: &Decision) -> String {
    if let Some(status) = decision.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        return status.to_ascii_lowercase();
    }
    match decision.code.map(Code::value) {
        Some(9001) => "approved",
        Some(9102) => "declined",
        Some(9103) => "resubmission_requested",
        // 9104 is expired or abandoned; 9121 is review in the status table (abandoned on another page). Both
        // pairs map alike, so the ambiguity changes nothing.
        Some(9104) => "expired",
        Some(9121) => "review",
        _ => "",
    }
    .to_owned()
}

/// The table: Veriff's `status` and `reasonCode` to our verdict. A retry always carries a reason a new photo can
/// fix ([`ReasonCode::is_retakeable`]); everything else goes to a person.
pub fn decision_status(status: &str, reason_code: Option<u32>) -> AnswerStatus {
    use ReasonCode as R;
    let fail = |reason| AnswerStatus::Fail { reason };
    let retry = |reason| AnswerStatus::Retry { reason };
    match status {
        "approved" => AnswerStatus::Pass,
        "resubmission_requested" => match reason_code {
            Some(201) | Some(209) => retry(R::NoDocument),
            Some(202) | Some(208) => retry(R::NoFace),
            Some(203) => retry(R::Cropped),
            Some(204) => retry(R::Blurry),
            Some(205) => retry(R::DocumentUnreadable),
            Some(206) => retry(R::WrongDocumentType),
            // Not a photo problem: a new photo of the same document cannot fix it.
            Some(207) => fail(R::DocumentExpired),
            // A resubmission we cannot explain to the user: a person reads Veriff's reason.
            _ => fail(R::LowConfidence),
        },
        "declined" => match reason_code {
            Some(103) | Some(120) | Some(509) => fail(R::FaceMismatch),
            Some(104) | Some(128) => fail(R::DataMismatch),
            Some(510) => fail(R::WrongDocumentType),
            Some(511) => fail(R::DocumentExpired),
            Some(530..=536) => fail(R::Underage),
            // Fraud, tampering, presentation attacks, abuse, blocklists and registries.
            Some(101 | 102 | 105..=111 | 113 | 123 | 124 | 127 | 501..=508 | 515 | 526) => fail(R::RegistryHit),
            // Policy (112 restricted IP location, 126 potential PEP match), configuration (121, 122, 129),
            // 539 resubmission limit exceeded, and codes we do not know: a person reads Veriff's reason.
            _ => fail(R::LowConfidence),
        },
        // A person at Veriff looks; so does one of ours (the answer comes later, if ever, as a new decision).
        "review" => fail(R::LowConfidence),
        // Veriff never decided (the session was not submitted in time, or was left): the check did not run. A
        // callback cannot carry a provider error, so this is the answer a provider error yields.
        "expired" | "abandoned" => fail(R::ProviderUnavailable),
        _ => fail(R::LowConfidence),
    }
}

/// A decision as our final answer for the capability encoded in its `vendorData`.
pub fn map_decision(provider: &str, decision: &Decision) -> Result<CallbackAnswer, WebhookError> {
    if decision.id.trim().is_empty() {
        return Err(WebhookError::BadBody("verification.id (the session id) is missing".to_owned()));
    }
    let vendor_data = decision.vendor_data.as_deref().unwrap_or_default();
    let Some((correlation_id, capability)) = parse_vendor_data(vendor_data) else {
        return Err(WebhookError::BadBody(format!(
            "vendorData `{vendor_data}` is not `<conversation_id>:<attempt>|<capability>` (not a session we created)"
        )));
    };
    let status_name = status_name(decision);
    let reason_code = decision.reason_code.map(Code::value);
    let status = decision_status(&status_name, reason_code);
    let score = decision.decision_score.filter(|s| s.is_finite() && (0.0..=1.0).contains(s)).map(|s| s as f32);
    let confidence = match status_name.as_str() {
        "approved" | "declined" | "resubmission_requested" => score.unwrap_or(1.0),
        _ => 0.0,
    };
    let answer = ProviderAnswer {
        status,
        confidence,
        fields: fields(decision, &status_name),
        provider: provider.to_owned(),
        reference: Some(decision.id.clone()),
        elapsed_ms: 0,
    };
    Ok(CallbackAnswer {
        provider: provider.to_owned(),
        capability,
        correlation_id,
        reference: decision.id.clone(),
        answer,
    })
}

/// What Veriff read and said, in our field names.
fn fields(decision: &Decision, status_name: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            fields.insert(key.to_owned(), v.to_owned());
        }
    };
    if let Some(p) = &decision.person {
        put("given_names", p.first_name.as_deref());
        put("surname", p.last_name.as_deref());
        put("id_number", p.id_number.as_deref());
        put("birth_date", p.date_of_birth.as_deref());
    }
    if let Some(d) = &decision.document {
        put("document_number", d.number.as_deref());
        put("document_type", d.kind.as_deref());
        put("document_country", d.country.as_deref());
        put("expiry_date", d.valid_until.as_deref());
    }
    put("veriff_status", Some(status_name));
    put("veriff_code", decision.code.map(|c| c.value().to_string()).as_deref());
    put("veriff_reason_code", decision.reason_code.map(|c| c.value().to_string()).as_deref());
    put("veriff_reason", decision.reason.as_deref());
    put("veriff_decision_score", decision.decision_score.map(|s| s.to_string()).as_deref());
    put(COVERS_FIELD, Some(COVERS));
    fields
}

#[derive(Clone)]
struct WebhookState {
    providers: Arc<HashMap<String, VeriffWebhookKeys>>,
    sink: Arc<dyn CallbackSink>,
}

/// The route `POST /providers/veriff/decision`. `providers` maps each configured Veriff provider's name to its
/// keys; the caller is told apart by `X-AUTH-CLIENT`.
/// Answers: 200 delivered, a duplicate, or an event webhook acknowledged; 401 unknown client or bad signature;
/// 400 a signed body that is not a decision of a session we created; 413 over 1 MiB; 503 the sink failed (Veriff
/// delivers again).
pub fn veriff_router(providers: HashMap<String, VeriffWebhookKeys>, sink: Arc<dyn CallbackSink>) -> Router {
    let state = WebhookState { providers: Arc::new(providers), sink };
    Router::new().route(DECISION_PATH, post(handle)).layer(DefaultBodyLimit::max(MAX_DECISION_BYTES)).with_state(state)
}

async fn handle(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let client = headers.get(AUTH_CLIENT_HEADER).and_then(|v| v.to_str().ok());
    let (provider, keys) = match provider_for_client(&state.providers, client) {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "veriff webhook refused");
            return error.status();
        }
    };
    let received = verify_decision(provider, keys, &headers, &body);
    match received {
        Ok(Received::Decision(answer)) => {
            let (reference, capability) = (answer.reference.clone(), answer.capability);
            match state.sink.deliver(*answer).await {
                Ok(()) => {
                    tracing::info!(%provider, %reference, %capability, "veriff decision delivered");
                    DELIVERED
                }
                Err(e) => {
                    tracing::error!(%provider, %reference, error = %e, "veriff decision not delivered");
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }
        Ok(Received::Event { action }) => {
            tracing::info!(%provider, %action, "veriff event webhook ignored (only decisions resume a check)");
            DELIVERED
        }
        Err(error) => {
            tracing::warn!(%provider, %error, "veriff webhook refused");
            error.status()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_data_round_trip() {
        assert_eq!(parse_vendor_data("c-1a2b:3|face_match"), Some(("c-1a2b:3".to_owned(), Capability::FaceMatch)));
        assert_eq!(parse_vendor_data("c-1a2b:3"), None);
        assert_eq!(parse_vendor_data("c-1a2b:x|document"), None);
        assert_eq!(parse_vendor_data(":3|document"), None);
        assert_eq!(parse_vendor_data("c-1:3|selfie"), None);
    }

    #[test]
    fn retries_are_always_retakeable() {
        for status in ["approved", "declined", "resubmission_requested", "review", "expired", "abandoned", "?"] {
            for code in (100..=140).chain(200..=215).chain(500..=545).map(Some).chain([None]) {
                if let AnswerStatus::Retry { reason } = decision_status(status, code) {
                    assert!(reason.is_retakeable(), "{status} {code:?} → {reason}");
                }
            }
        }
    }

    #[test]
    fn signature_checks() {
        let secret = Secret::new("shared");
        let body = br#"{"status":"success"}"#;
        let good = wire::hmac_hex(b"shared", body);
        assert_eq!(verify_signature(&secret, Some(&good), body), Ok(()));
        assert_eq!(verify_signature(&secret, Some(&good.to_ascii_uppercase()), body), Ok(()));
        assert_eq!(verify_signature(&secret, Some(&good), b"{}"), Err(WebhookError::BadSignature));
        assert_eq!(verify_signature(&secret, None, body), Err(WebhookError::MissingSignature));
        assert_eq!(verify_signature(&secret, Some("abc"), body), Err(WebhookError::MalformedSignature));
    }
}
