//! A fake Veriff on `127.0.0.1:<random port>` speaking the public API v1 wire format, for tests, demos and local
//! development. Like Veriff it refuses (401) a wrong `X-AUTH-CLIENT` anywhere and a missing or wrong
//! `X-HMAC-SIGNATURE` on media uploads and session updates; it records every request it receives (method, path,
//! headers, JSON body) for golden tests; it can be told to fail (500, 429...) or to stall; and once a session is
//! submitted it can post a signed decision webhook (status, code, reasonCode, person and document fields as
//! programmed) to a URL, as Veriff posts to the "Webhook decisions URL" of its Customer Portal.
//!
//! Fake, not a model of Veriff's decisions: what it answers is what it is told. Error bodies are its own.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post};
use base64::Engine as _;
use bytes::Bytes;
use serde_json::json;
use subtle::ConstantTimeEq as _;
use tokio::task::JoinHandle;

use super::wire::{
    self, AUTH_CLIENT_HEADER, Code, Decision, DecisionDocument, DecisionPerson, DecisionWebhook, HMAC_SIGNATURE_HEADER,
    MediaRequest, PatchRequest, SessionRequest,
};

/// A request as the fake received it (refused ones too).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Lowercase names.
    pub headers: BTreeMap<String, String>,
    /// `Null` when the body is not JSON.
    pub body: serde_json::Value,
    /// What the fake answered.
    pub status: u16,
}

/// How the fake answers every request (after recording it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FakeBehavior {
    #[default]
    Normal,
    /// This HTTP status, always.
    Status(u16),
    /// Waits this long, then answers normally.
    Stall(Duration),
}

/// The decision the fake posts once a session is submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeDecision {
    /// `approved`, `declined`, `resubmission_requested`, `review`, `expired`, `abandoned`.
    pub status: String,
    /// 9001, 9102...
    pub code: u32,
    pub reason_code: Option<u32>,
    pub reason: Option<String>,
    pub person: Option<DecisionPerson>,
    pub document: Option<DecisionDocument>,
    pub decision_score: Option<f64>,
}

impl FakeDecision {
    pub fn approved() -> Self {
        Self::new("approved", 9001, None, None)
    }

    pub fn declined(reason_code: u32, reason: &str) -> Self {
        Self::new("declined", 9102, Some(reason_code), Some(reason))
    }

    pub fn resubmission(reason_code: u32, reason: &str) -> Self {
        Self::new("resubmission_requested", 9103, Some(reason_code), Some(reason))
    }

    pub fn new(status: &str, code: u32, reason_code: Option<u32>, reason: Option<&str>) -> Self {
        Self {
            status: status.to_owned(),
            code,
            reason_code,
            reason: reason.map(str::to_owned),
            person: None,
            document: None,
            decision_score: None,
        }
    }

    pub fn with_person(mut self, person: DecisionPerson) -> Self {
        self.person = Some(person);
        self
    }

    pub fn with_document(mut self, document: DecisionDocument) -> Self {
        self.document = Some(document);
        self
    }

    pub fn with_score(mut self, score: f64) -> Self {
        self.decision_score = Some(score);
        self
    }

    /// The webhook body for session `id` created with `vendor_data`.
    pub fn webhook(&self, id: &str, vendor_data: &str) -> DecisionWebhook {
        let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        DecisionWebhook {
            status: Some("success".to_owned()),
            verification: Decision {
                id: id.to_owned(),
                code: Some(Code::Number(self.code)),
                status: Some(self.status.clone()),
                reason: self.reason.clone(),
                reason_code: self.reason_code.map(Code::Number),
                vendor_data: Some(vendor_data.to_owned()),
                decision_time: Some(now.clone()),
                acceptance_time: Some(now),
                decision_score: self.decision_score,
                person: self.person.clone(),
                document: self.document.clone(),
            },
        }
    }
}

/// A session the fake holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSession {
    pub id: String,
    pub vendor_data: String,
    /// The `context` of each uploaded image, in order.
    pub media: Vec<String>,
    pub submitted: bool,
}

#[derive(Default)]
struct FakeState {
    requests: Vec<RecordedRequest>,
    rejected: usize,
    behavior: FakeBehavior,
    /// Statuses for the next requests, before `behavior`.
    next_statuses: VecDeque<u16>,
    sessions: Vec<FakeSession>,
    decision: Option<(FakeDecision, String)>,
    webhooks: Vec<u16>,
}

#[derive(Clone)]
struct Shared {
    api_key: Arc<String>,
    secret: Arc<Vec<u8>>,
    state: Arc<Mutex<FakeState>>,
    client: reqwest::Client,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake. Stops when dropped.
pub struct FakeVeriff {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl Drop for FakeVeriff {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeVeriff {
    /// Starts on `127.0.0.1:<random port>` for the integration with this API key and shared secret key.
    pub async fn start(api_key: &str, shared_secret: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            api_key: Arc::new(api_key.to_owned()),
            secret: Arc::new(shared_secret.as_bytes().to_vec()),
            state: Arc::new(Mutex::new(FakeState::default())),
            client: reqwest::Client::new(),
        };
        let app = Router::new()
            .route("/v1/sessions", post(create))
            .route("/v1/sessions/{id}/media", post(media))
            .route("/v1/sessions/{id}", patch(submit))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fake veriff stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How every following request is answered.
    pub fn set_behavior(&self, behavior: FakeBehavior) {
        self.shared.lock().behavior = behavior;
    }

    /// The next `count` requests get `status`; then the behaviour applies again.
    pub fn fail_next(&self, status: u16, count: usize) {
        self.shared.lock().next_statuses.extend(std::iter::repeat_n(status, count));
    }

    /// Once a session is submitted, post `decision` (signed) to `url`.
    pub fn decide(&self, decision: FakeDecision, url: &str) {
        self.shared.lock().decision = Some((decision, url.to_owned()));
    }

    /// Every request received, refused ones included.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Requests refused for their API key or signature (401).
    pub fn rejected(&self) -> usize {
        self.shared.lock().rejected
    }

    pub fn sessions(&self) -> Vec<FakeSession> {
        self.shared.lock().sessions.clone()
    }

    /// The HTTP status of each webhook posted (0: could not connect).
    pub fn webhook_statuses(&self) -> Vec<u16> {
        self.shared.lock().webhooks.clone()
    }
}

fn fail(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "status": "fail", "code": status.as_u16().to_string(), "message": message })))
        .into_response()
}

/// Records the request (its index in the record), then applies the programmed behaviour and the checks every
/// endpoint shares: `Ok` when the endpoint should go on, else the refusal to answer.
async fn admit(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
    signed: bool,
) -> (usize, Result<(), Response>) {
    let recorded = RecordedRequest {
        method: method.to_string(),
        path: path.to_owned(),
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned())))
            .collect(),
        body: serde_json::from_slice(body).unwrap_or(serde_json::Value::Null),
        status: 0,
    };
    let (index, programmed, behavior) = {
        let mut state = shared.lock();
        state.requests.push(recorded);
        let programmed = state.next_statuses.pop_front();
        (state.requests.len() - 1, programmed, state.behavior)
    };
    let refuse = |status: u16| {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        fail(status, "programmed failure")
    };
    if let Some(status) = programmed {
        return (index, Err(refuse(status)));
    }
    match behavior {
        FakeBehavior::Normal => {}
        FakeBehavior::Status(status) => return (index, Err(refuse(status))),
        FakeBehavior::Stall(delay) => tokio::time::sleep(delay).await,
    }
    let client = headers.get(AUTH_CLIENT_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !bool::from(client.ct_eq(shared.api_key.as_bytes())) {
        shared.lock().rejected += 1;
        return (index, Err(fail(StatusCode::UNAUTHORIZED, "X-AUTH-CLIENT does not name an integration")));
    }
    if signed {
        let given = headers.get(HMAC_SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let expected = wire::hmac_hex(&shared.secret, body);
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            shared.lock().rejected += 1;
            return (index, Err(fail(StatusCode::UNAUTHORIZED, "X-HMAC-SIGNATURE does not match the payload")));
        }
    }
    (index, Ok(()))
}

/// Writes the answer's status into the record, and answers it.
fn answer(shared: &Shared, index: usize, response: Response) -> Response {
    if let Some(r) = shared.lock().requests.get_mut(index) {
        r.status = response.status().as_u16();
    }
    response
}

fn session_json(session: &FakeSession, status: &str) -> serde_json::Value {
    json!({
        "status": "success",
        "verification": {
            "id": session.id,
            "url": format!("https://alchemy.veriff.com/v/fake-{}", session.id),
            "vendorData": session.vendor_data,
            "host": "https://alchemy.veriff.com",
            "status": status,
            "sessionToken": format!("fake-token-{}", session.id),
        }
    })
}

async fn create(State(shared): State<Shared>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let admitted = admit(&shared, &method, "/v1/sessions", &headers, &body, false).await;
    let (index, admitted) = admitted;
    let response = match admitted {
        Err(refused) => refused,
        Ok(()) => match serde_json::from_slice::<SessionRequest>(&body) {
            Err(e) => fail(StatusCode::BAD_REQUEST, &e.to_string()),
            Ok(request) => {
                let session = {
                    let mut state = shared.lock();
                    let session = FakeSession {
                        id: format!("00000000-0000-4000-8000-{:012x}", state.sessions.len() + 1),
                        vendor_data: request.verification.vendor_data,
                        media: Vec::new(),
                        submitted: false,
                    };
                    state.sessions.push(session.clone());
                    session
                };
                (StatusCode::CREATED, axum::Json(session_json(&session, "created"))).into_response()
            }
        },
    };
    answer(&shared, index, response)
}

async fn media(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let admitted = admit(&shared, &method, &format!("/v1/sessions/{id}/media"), &headers, &body, true).await;
    let (index, admitted) = admitted;
    let response = match admitted {
        Err(refused) => refused,
        Ok(()) => match serde_json::from_slice::<MediaRequest>(&body) {
            Err(e) => fail(StatusCode::BAD_REQUEST, &e.to_string()),
            Ok(request) => upload(&shared, &id, request),
        },
    };
    answer(&shared, index, response)
}

fn upload(shared: &Shared, id: &str, request: MediaRequest) -> Response {
    let image = request.image;
    if ![wire::CONTEXT_DOCUMENT_FRONT, wire::CONTEXT_DOCUMENT_BACK, wire::CONTEXT_FACE]
        .contains(&image.context.as_str())
    {
        return fail(StatusCode::BAD_REQUEST, "unknown context");
    }
    let decoded = image
        .content
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .and_then(|(mime, data)| base64::engine::general_purpose::STANDARD.decode(data).ok().map(|b| (mime, b)));
    let Some((mime, bytes)) = decoded else {
        return fail(StatusCode::BAD_REQUEST, "content is not a base64 data URI");
    };
    let mut state = shared.lock();
    let Some(session) = state.sessions.iter_mut().find(|s| s.id == id) else {
        return fail(StatusCode::NOT_FOUND, "session not found");
    };
    if session.submitted {
        return fail(StatusCode::CONFLICT, "session already submitted");
    }
    session.media.push(image.context.clone());
    let media_id = format!("{id}-m{}", session.media.len());
    let body = json!({
        "status": "success",
        "image": {
            "id": media_id,
            "name": image.context,
            "context": image.context,
            "timestamp": null,
            "size": bytes.len(),
            "mimetype": mime,
            "url": format!("https://stationapi.veriff.com/v1/media/{media_id}"),
            "sessionId": id,
        }
    });
    axum::Json(body).into_response()
}

async fn submit(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let admitted = admit(&shared, &method, &format!("/v1/sessions/{id}"), &headers, &body, true).await;
    let (index, admitted) = admitted;
    let response = match admitted {
        Err(refused) => refused,
        Ok(()) => match serde_json::from_slice::<PatchRequest>(&body) {
            Err(e) => fail(StatusCode::BAD_REQUEST, &e.to_string()),
            Ok(request) if request.verification.status != wire::STATUS_SUBMITTED => {
                fail(StatusCode::BAD_REQUEST, "status must be submitted")
            }
            Ok(_) => mark_submitted(&shared, &id),
        },
    };
    answer(&shared, index, response)
}

fn mark_submitted(shared: &Shared, id: &str) -> Response {
    let (session, decision) = {
        let mut state = shared.lock();
        let decision = state.decision.clone();
        let Some(session) = state.sessions.iter_mut().find(|s| s.id == id) else {
            return fail(StatusCode::NOT_FOUND, "session not found");
        };
        if session.submitted {
            return fail(StatusCode::CONFLICT, "session already submitted");
        }
        session.submitted = true;
        (session.clone(), decision)
    };
    if let Some((decision, url)) = decision {
        let (shared, session) = (shared.clone(), session.clone());
        tokio::spawn(async move { post_webhook(&shared, &decision, &session, &url).await });
    }
    axum::Json(session_json(&session, "submitted")).into_response()
}

async fn post_webhook(shared: &Shared, decision: &FakeDecision, session: &FakeSession, url: &str) {
    let status = match serde_json::to_vec(&decision.webhook(&session.id, &session.vendor_data)) {
        Ok(body) => {
            let sent = shared
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(AUTH_CLIENT_HEADER, shared.api_key.as_str())
                .header(HMAC_SIGNATURE_HEADER, wire::hmac_hex(&shared.secret, &body))
                .body(body)
                .send()
                .await;
            sent.map(|r| r.status().as_u16()).unwrap_or(0)
        }
        Err(_) => 0,
    };
    shared.lock().webhooks.push(status);
}
