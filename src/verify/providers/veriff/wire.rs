//! The JSON bodies of Veriff's public API v1 (devdocs.veriff.com), shared by the adapter, the decision webhook
//! and the fake server. Field names are Veriff's (camelCase). Bodies read from Veriff ignore unknown fields:
//! Veriff adds fields without notice ("backwards compatible changes").
//!
//! Signatures: `X-HMAC-SIGNATURE` is the lowercase hex HMAC-SHA256 of the exact request body bytes, keyed with
//! the integration's shared secret key ([`hmac_hex`]); `X-AUTH-CLIENT` carries the integration's API key. Both
//! ways: on our media upload and session update, and on Veriff's webhooks to us.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The integration's API key.
pub const AUTH_CLIENT_HEADER: &str = "x-auth-client";
/// Lowercase hex HMAC-SHA256 of the body with the shared secret key.
pub const HMAC_SIGNATURE_HEADER: &str = "x-hmac-signature";

/// `context` of an uploaded image.
pub const CONTEXT_DOCUMENT_FRONT: &str = "document-front";
pub const CONTEXT_DOCUMENT_BACK: &str = "document-back";
/// The selfie.
pub const CONTEXT_FACE: &str = "face";

/// The only status `PATCH /v1/sessions/{id}` accepts.
pub const STATUS_SUBMITTED: &str = "submitted";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8]) -> HmacSha256 {
    match <HmacSha256 as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// The raw HMAC-SHA256 of `body` keyed with `secret`.
pub fn hmac_raw(secret: &[u8], body: &[u8]) -> [u8; 32] {
    let mut mac = mac(secret);
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `X-HMAC-SIGNATURE` value for `body`: lowercase hex HMAC-SHA256 keyed with the shared secret key.
pub fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    hex::encode(hmac_raw(secret, body))
}

// ---------------------------------------------------------------------------------------------------------------
// POST /v1/sessions

/// The body of `POST /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRequest {
    pub verification: NewVerification,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewVerification {
    /// Where Veriff sends the *end-user's browser* after a hosted flow (not the decision webhook, which is set
    /// in Veriff's Customer Portal). Unused by API-only sessions; sent only when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentData>,
    /// Our correlation: `<conversation_id>:<attempt>|<capability>` (non-semantic, at most 1,000 characters;
    /// Veriff returns it unchanged in the decision webhook).
    pub vendor_data: String,
}

/// What we already know about the person (sent so Veriff can compare; each field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_number: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
}

impl PersonData {
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.id_number.is_none()
            && self.date_of_birth.is_none()
    }
}

/// The document the user says they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentData {
    /// `[a-zA-Z0-9]` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// `PASSPORT`, `ID_CARD`, `DRIVERS_LICENSE`, `RESIDENCE_PERMIT` or `VISA`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// ISO 3166-1 alpha-2 issuing country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl DocumentData {
    pub fn is_empty(&self) -> bool {
        self.number.is_none() && self.kind.is_none() && self.country.is_none()
    }
}

/// The answer to `POST /v1/sessions` (and to `PATCH /v1/sessions/{id}`): only the session id is relied upon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionResponse {
    #[serde(default)]
    pub status: Option<String>,
    pub verification: SessionInfo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The session id (a UUID).
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// POST /v1/sessions/{id}/media and PATCH /v1/sessions/{id}

/// The body of `POST /v1/sessions/{id}/media`: one image per request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRequest {
    pub image: MediaImage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaImage {
    /// [`CONTEXT_DOCUMENT_FRONT`], [`CONTEXT_DOCUMENT_BACK`] or [`CONTEXT_FACE`].
    pub context: String,
    /// `data:<mime>;base64,<standard base64>`.
    pub content: String,
}

/// The body of `PATCH /v1/sessions/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchRequest {
    pub verification: PatchVerification,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchVerification {
    /// Always [`STATUS_SUBMITTED`].
    pub status: String,
}

impl PatchRequest {
    pub fn submitted() -> Self {
        Self { verification: PatchVerification { status: STATUS_SUBMITTED.to_owned() } }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The decision webhook

/// A code Veriff writes as a number (`9001`, `102`); accepted as a string of digits too, as some payloads and
/// the docs' prose call `reasonCode` a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Code {
    Number(u32),
    #[serde(deserialize_with = "digits")]
    Text(u32),
}

fn digits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    s.trim().parse().map_err(serde::de::Error::custom)
}

impl Code {
    pub fn value(self) -> u32 {
        match self {
            Self::Number(n) | Self::Text(n) => n,
        }
    }
}

/// The body of the decision webhook (also of `GET /v1/sessions/{id}/decision`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionWebhook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub verification: Decision,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The session id.
    pub id: String,
    /// 9001 approved, 9102 declined, 9103 resubmission requested, 9104 expired or abandoned, 9121 review (the
    /// status codes table; the decision endpoint's page calls 9121 abandoned).
    #[serde(default)]
    pub code: Option<Code>,
    /// `approved`, `declined`, `resubmission_requested`, `review`, `expired`, `abandoned`.
    #[serde(default)]
    pub status: Option<String>,
    /// Veriff's text for `reasonCode`.
    #[serde(default)]
    pub reason: Option<String>,
    /// For `declined` (1xx, 5xx) and `resubmission_requested` (2xx).
    #[serde(default)]
    pub reason_code: Option<Code>,
    /// What we sent in `vendorData`.
    #[serde(default)]
    pub vendor_data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acceptance_time: Option<String>,
    /// 0 to 1, present only for some integrations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_score: Option<f64>,
    #[serde(default)]
    pub person: Option<DecisionPerson>,
    #[serde(default)]
    pub document: Option<DecisionDocument>,
}

/// What Veriff read about the person (every field nullable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionPerson {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<String>,
}

/// What Veriff read about the document (every field nullable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionDocument {
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub valid_until: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_as_numbers_or_digit_strings() {
        let d: Decision =
            serde_json::from_str(r#"{"id":"s","code":9102,"status":"declined","reasonCode":"103"}"#).unwrap();
        assert_eq!(d.code.map(Code::value), Some(9102));
        assert_eq!(d.reason_code.map(Code::value), Some(103));
        let d: Decision = serde_json::from_str(r#"{"id":"s","reasonCode":null,"unknownField":{"x":1}}"#).unwrap();
        assert_eq!(d.reason_code, None);
        assert!(serde_json::from_str::<Decision>(r#"{"id":"s","reasonCode":"abc"}"#).is_err());
    }

    #[test]
    fn bodies_are_camel_case_and_skip_what_is_unknown() {
        let body = SessionRequest {
            verification: NewVerification {
                callback: None,
                person: Some(PersonData { first_name: Some("Ana".into()), ..Default::default() }),
                document: Some(DocumentData { kind: Some("ID_CARD".into()), ..Default::default() }),
                vendor_data: "c-1:1|document".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"verification":{"person":{"firstName":"Ana"},"document":{"type":"ID_CARD"},"vendorData":"c-1:1|document"}}"#
        );
        assert_eq!(
            serde_json::to_string(&PatchRequest::submitted()).unwrap(),
            r#"{"verification":{"status":"submitted"}}"#
        );
    }

    /// RFC 4231 test case 2 (key "Jefe"), so the HMAC is the standard one.
    #[test]
    fn hmac_is_standard_hmac_sha256_in_lowercase_hex() {
        assert_eq!(
            hmac_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
