//! Veriff (devdocs.veriff.com, public API v1) behind the [`Provider`] contract. One Veriff session decides the
//! document, the face match and the liveness at once, asynchronously:
//!
//! 1. `POST {base}/v1/sessions` with `X-AUTH-CLIENT`: the session, with our correlation in `vendorData`
//!    (`<conversation_id>:<attempt>|<capability>`);
//! 2. `POST {base}/v1/sessions/{id}/media`, one per image, signed (`X-HMAC-SIGNATURE`);
//! 3. `PATCH {base}/v1/sessions/{id}` with `{"verification":{"status":"submitted"}}`, signed;
//! 4. the answer is `pending` with the session id as reference, and `covers` =
//!    `document,face_match,liveness`: Veriff's one decision answers all three, and the job may reuse it;
//! 5. Veriff posts the decision to [`webhook::veriff_router`]'s `POST /providers/veriff/decision`, which hands it
//!    to the [`super::callback::CallbackSink`] like any callback.
//!
//! Each request has a timeout per attempt and bounded retries on 5xx, 429, timeouts and connection errors only;
//! a [`CircuitBreaker`] in front counts whole checks. Registry checks are separate Veriff products (database
//! verification) and are not offered here: `check_registry` answers [`ProviderError::Unavailable`].

pub mod fake;
pub mod webhook;
pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;

use super::breaker::{self, BreakerConfig, CircuitBreaker};
use super::http::{ReadError, read_limited};
use super::{
    AnswerStatus, Capability, DocumentReader, FaceMatcher, ImageContent, ImageRole, LivenessChecker, Provider,
    ProviderAnswer, ProviderError, ProviderRequest, RegistryChecker,
};
use crate::clock::SharedClock;
use crate::config::Secret;
use crate::verify::document::DocumentType;
use wire::{
    AUTH_CLIENT_HEADER, DocumentData, HMAC_SIGNATURE_HEADER, MediaImage, MediaRequest, NewVerification, PatchRequest,
    PersonData, SessionRequest, SessionResponse,
};

pub use webhook::{DECISION_PATH, VeriffWebhookKeys, veriff_router};

/// Veriff's API host; an integration's own base URL (shown in Veriff's Customer Portal) may differ.
pub const DEFAULT_BASE_URL: &str = "https://stationapi.veriff.com";
/// The answer field listing the capabilities one Veriff decision answers.
pub const COVERS_FIELD: &str = "covers";
/// What one Veriff session decides.
pub const COVERS: &str = "document,face_match,liveness";

#[derive(Debug, Clone)]
pub struct VeriffConfig {
    /// Our configured provider name (in answers and callbacks).
    pub name: String,
    /// [`DEFAULT_BASE_URL`] unless the integration says otherwise (no trailing `/v1`).
    pub base_url: String,
    /// The integration's API key (`X-AUTH-CLIENT`).
    pub api_key: Secret,
    /// The integration's shared secret key (keys `X-HMAC-SIGNATURE`, both ways).
    pub shared_secret: Secret,
    /// Sent as `verification.callback`: where Veriff sends the end-user's *browser* after a hosted flow. Not the
    /// decision webhook (that URL is set in Veriff's Customer Portal). Left out when `None`.
    pub callback_url: Option<String>,
    /// Per attempt of each request.
    pub timeout: Duration,
    /// Further attempts of a request after the first, on retryable errors only.
    pub retries: u32,
    /// Wait before retry n is n times this.
    pub retry_backoff: Duration,
    pub breaker: BreakerConfig,
}

impl VeriffConfig {
    /// The defaults: Veriff's API host, 10 s per attempt, one retry after 200 ms, the default breaker.
    pub fn new(name: impl Into<String>, api_key: Secret, shared_secret: Secret) -> Self {
        Self {
            name: name.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key,
            shared_secret,
            callback_url: None,
            timeout: Duration::from_secs(10),
            retries: 1,
            retry_backoff: Duration::from_millis(200),
            breaker: BreakerConfig::default(),
        }
    }

    /// The keys [`veriff_router`] needs to check this integration's webhooks.
    pub fn webhook_keys(&self) -> VeriffWebhookKeys {
        VeriffWebhookKeys { api_key: self.api_key.clone(), shared_secret: self.shared_secret.clone() }
    }
}

pub struct VeriffProvider {
    config: VeriffConfig,
    client: reqwest::Client,
    breaker: CircuitBreaker,
}

impl std::fmt::Debug for VeriffProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VeriffProvider")
            .field("config", &self.config)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// One attempt's failure, and whether another attempt may help.
struct AttemptError {
    error: ProviderError,
    retryable: bool,
}

/// The three kinds of request, for logs and error details.
#[derive(Debug, Clone, Copy)]
enum Step {
    Create,
    Media,
    Submit,
}

impl Step {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create session",
            Self::Media => "upload media",
            Self::Submit => "submit session",
        }
    }
}

/// The bodies of one check, built before anything is sent.
struct Plan {
    session: Vec<u8>,
    media: Vec<Vec<u8>>,
    submit: Vec<u8>,
}

impl VeriffProvider {
    /// `clock` is the wall clock, taken like the other providers' constructors; Veriff's signatures carry no
    /// timestamp, so nothing is stamped with it today.
    pub fn new(config: VeriffConfig, clock: SharedClock) -> Result<Self, reqwest::Error> {
        Self::with_breaker_clock(config, clock, Arc::new(breaker::SystemMonotonic))
    }

    /// With the breaker's monotonic clock injected too (tests).
    pub fn with_breaker_clock(
        config: VeriffConfig,
        _clock: SharedClock,
        breaker_clock: Arc<dyn breaker::Monotonic>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().connect_timeout(config.timeout).build()?;
        let breaker = CircuitBreaker::new(config.breaker, breaker_clock);
        Ok(Self { config, client, breaker })
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    pub fn config(&self) -> &VeriffConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    fn our_error(&self, detail: String) -> ProviderError {
        ProviderError::BadAnswer { provider: self.config.name.clone(), detail }
    }

    /// The bodies to send; `Err` for a request Veriff cannot take (our side: nothing is sent, the breaker is not
    /// touched).
    fn plan(&self, capability: Capability, request: &ProviderRequest) -> Result<Plan, ProviderError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut media = Vec::with_capacity(request.images.len());
        for image in &request.images {
            let ImageContent::Bytes { mime, bytes } = &image.content else {
                return Err(self.our_error(format!("request: Veriff takes image bytes, not URLs ({:?})", image.role)));
            };
            let body = MediaRequest {
                image: MediaImage {
                    context: context(image.role).to_owned(),
                    content: format!("data:{mime};base64,{}", b64.encode(bytes)),
                },
            };
            media.push(serde_json::to_vec(&body).map_err(|e| self.our_error(format!("request: {e}")))?);
        }
        if media.is_empty() {
            return Err(self.our_error(format!("request: no image to send for {capability}")));
        }
        let session = SessionRequest {
            verification: NewVerification {
                callback: self.config.callback_url.clone(),
                person: Some(person(&request.fields)).filter(|p| !p.is_empty()),
                document: Some(document(request)).filter(|d| !d.is_empty()),
                vendor_data: format!("{}|{}", request.correlation.id(), capability.as_str()),
            },
        };
        let session = serde_json::to_vec(&session).map_err(|e| self.our_error(format!("request: {e}")))?;
        let submit =
            serde_json::to_vec(&PatchRequest::submitted()).map_err(|e| self.our_error(format!("request: {e}")))?;
        Ok(Plan { session, media, submit })
    }

    /// Runs one check: the breaker, then create, upload and submit, each with its retries.
    pub async fn call(
        &self,
        capability: Capability,
        request: &ProviderRequest,
    ) -> Result<ProviderAnswer, ProviderError> {
        let name = &self.config.name;
        let plan = self.plan(capability, request)?;
        let Ok(permit) = self.breaker.acquire() else {
            tracing::warn!(provider = %name, %capability, "circuit open: veriff not called");
            return Err(ProviderError::CircuitOpen { provider: name.clone() });
        };
        let started = Instant::now();
        match self.session(&plan).await {
            Ok(session_id) => {
                permit.success();
                let elapsed_ms = started.elapsed().as_millis() as u64;
                tracing::info!(provider = %name, %capability, session = %session_id, elapsed_ms, "veriff session submitted");
                Ok(ProviderAnswer {
                    status: AnswerStatus::Pending { reference: session_id.clone() },
                    confidence: 0.0,
                    fields: BTreeMap::from([(COVERS_FIELD.to_owned(), COVERS.to_owned())]),
                    provider: name.clone(),
                    reference: Some(session_id),
                    elapsed_ms,
                })
            }
            Err(error) => {
                permit.failure();
                tracing::warn!(provider = %name, %capability, error = %error, "veriff call failed");
                Err(error)
            }
        }
    }

    /// Creates, fills and submits the session; its id.
    async fn session(&self, plan: &Plan) -> Result<String, ProviderError> {
        let created =
            self.send(Step::Create, reqwest::Method::POST, &self.url("/v1/sessions"), &plan.session, false).await?;
        let session: SessionResponse = serde_json::from_slice(&created).map_err(|e| ProviderError::BadAnswer {
            provider: self.config.name.clone(),
            detail: format!("{}: {e}", Step::Create.as_str()),
        })?;
        let id = session.verification.id;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(self.our_error(format!("{}: session id `{id}` is not a UUID", Step::Create.as_str())));
        }
        let media_url = self.url(&format!("/v1/sessions/{id}/media"));
        for body in &plan.media {
            self.send(Step::Media, reqwest::Method::POST, &media_url, body, true).await?;
        }
        let session_url = self.url(&format!("/v1/sessions/{id}"));
        self.send(Step::Submit, reqwest::Method::PATCH, &session_url, &plan.submit, true).await?;
        Ok(id)
    }

    /// One request with its retries; the answer's body.
    async fn send(
        &self,
        step: Step,
        method: reqwest::Method,
        url: &str,
        body: &[u8],
        signed: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        let mut attempt = 0;
        loop {
            match self.attempt(step, method.clone(), url, body, signed).await {
                Ok(bytes) => return Ok(bytes),
                Err(AttemptError { error, retryable }) if retryable && attempt < self.config.retries => {
                    attempt += 1;
                    tracing::info!(provider = %self.config.name, step = step.as_str(), attempt, error = %error, "retrying veriff request");
                    tokio::time::sleep(self.config.retry_backoff * attempt).await;
                }
                Err(AttemptError { error, .. }) => return Err(error),
            }
        }
    }

    async fn attempt(
        &self,
        step: Step,
        method: reqwest::Method,
        url: &str,
        body: &[u8],
        signed: bool,
    ) -> Result<Vec<u8>, AttemptError> {
        let provider = self.config.name.clone();
        let mut builder = self
            .client
            .request(method, url)
            .timeout(self.config.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(AUTH_CLIENT_HEADER, self.config.api_key.expose());
        if signed {
            builder = builder
                .header(HMAC_SIGNATURE_HEADER, wire::hmac_hex(self.config.shared_secret.expose().as_bytes(), body));
        }
        let timeout = || AttemptError {
            error: ProviderError::Timeout {
                provider: provider.clone(),
                after_ms: self.config.timeout.as_millis() as u64,
            },
            retryable: true,
        };
        let response = match builder.body(body.to_vec()).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(timeout()),
            Err(e) => {
                let detail = format!(
                    "{}: {}",
                    step.as_str(),
                    if e.is_connect() { "cannot connect".to_owned() } else { e.to_string() }
                );
                return Err(AttemptError { error: ProviderError::Unavailable { provider, detail }, retryable: true });
            }
        };
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let detail = format!("{}: HTTP {status}", step.as_str());
            return Err(AttemptError { error: ProviderError::Unavailable { provider, detail }, retryable: true });
        }
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 => " (check the API key and the shared secret key)",
                409 => " (the session was already submitted)",
                _ => "",
            };
            let detail = format!("{}: HTTP {status}, Veriff refused our request{hint}", step.as_str());
            return Err(AttemptError { error: ProviderError::BadAnswer { provider, detail }, retryable: false });
        }
        match read_limited(response).await {
            Ok(bytes) => Ok(bytes),
            Err(ReadError::Timeout) => Err(timeout()),
            Err(ReadError::Other(detail)) => Err(AttemptError {
                error: ProviderError::BadAnswer { provider, detail: format!("{}: {detail}", step.as_str()) },
                retryable: false,
            }),
        }
    }
}

/// Veriff's `context` for an image.
pub fn context(role: ImageRole) -> &'static str {
    match role {
        ImageRole::DocumentFront => wire::CONTEXT_DOCUMENT_FRONT,
        ImageRole::DocumentBack => wire::CONTEXT_DOCUMENT_BACK,
        ImageRole::Selfie => wire::CONTEXT_FACE,
    }
}

/// Veriff's document type for ours.
pub fn document_kind(doc: DocumentType) -> &'static str {
    match doc {
        DocumentType::Passport => "PASSPORT",
        DocumentType::BrCnh => "DRIVERS_LICENSE",
        DocumentType::MxIne
        | DocumentType::CoCedula
        | DocumentType::PeDni
        | DocumentType::ArDni
        | DocumentType::ClCedula
        | DocumentType::BrRg => "ID_CARD",
    }
}

/// What the flow collected about the person, in Veriff's names (our field names are those of the answers).
fn person(fields: &BTreeMap<String, String>) -> PersonData {
    let get = |k: &str| fields.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_owned);
    PersonData {
        first_name: get("given_names"),
        last_name: get("surname"),
        id_number: get("id_number"),
        date_of_birth: get("birth_date"),
    }
}

fn document(request: &ProviderRequest) -> DocumentData {
    let number = request
        .document_number
        .as_deref()
        .map(|n| n.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
        .filter(|n| !n.is_empty());
    let country = Some(request.country.trim().to_ascii_uppercase())
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
    DocumentData { number, kind: request.document_type.map(|d| document_kind(d).to_owned()), country }
}

#[async_trait]
impl DocumentReader for VeriffProvider {
    async fn read_document(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.call(Capability::Document, request).await
    }
}

#[async_trait]
impl LivenessChecker for VeriffProvider {
    async fn check_liveness(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.call(Capability::Liveness, request).await
    }
}

#[async_trait]
impl FaceMatcher for VeriffProvider {
    async fn match_faces(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.call(Capability::FaceMatch, request).await
    }
}

#[async_trait]
impl RegistryChecker for VeriffProvider {
    async fn check_registry(&self, _request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        Err(ProviderError::Unavailable {
            provider: self.config.name.clone(),
            detail: "Veriff sells registry (database) checks as separate products with their own API; this \
                     adapter does not call them: route `registry` to another provider"
                .to_owned(),
        })
    }
}

impl Provider for VeriffProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn circuit(&self) -> Option<breaker::BreakerState> {
        Some(self.breaker().state())
    }

    /// One Veriff session decides the document, the face match and the liveness together.
    fn covers(&self) -> &[Capability] {
        &[Capability::Document, Capability::Liveness, Capability::FaceMatch]
    }
}
