//! A provider simulator speaking the HTTP contract (docs/providers.md) on a random local port, with answers
//! programmed per capability and per document number. It checks our signatures (a wrong secret gets 401) and
//! can answer `pending` and later post a signed callback. For tests, demos and local development. Its signatures
//! are stamped and checked with the [`SharedClock`] it is started with.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde::Serialize;
use tokio::task::JoinHandle;

use super::Capability;
use super::wire::{IDEMPOTENCY_HEADER, PROVIDER_HEADER, WireAnswer, WireCallback, WireRequest, WireStatus};
use crate::clock::SharedClock;
use crate::signing::{self, DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER};
use crate::verify::reason::ReasonCode;

/// What the registry reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryStatus {
    Lost,
    Stolen,
    Deceased,
}

impl RegistryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lost => "lost",
            Self::Stolen => "stolen",
            Self::Deceased => "deceased",
        }
    }
}

/// A programmed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum SimBehavior {
    /// `pass` with this confidence and these fields (plus `document_number` echoed for the document capability).
    Pass {
        confidence: f32,
        fields: BTreeMap<String, String>,
    },
    Retry(ReasonCode),
    Fail(ReasonCode),
    /// `fail` with `registry_hit` and `registry_detail` = lost, stolen or deceased.
    RegistryHit(RegistryStatus),
    /// Waits, then behaves as `then`.
    Slow {
        delay: Duration,
        then: Box<SimBehavior>,
    },
    /// HTTP 500.
    Down,
    /// Answers `pending`, then after `delay` posts the signed callback of `then` to the request's `callback_url`.
    Pending {
        delay: Duration,
        then: Box<SimBehavior>,
    },
}

impl SimBehavior {
    pub fn pass(confidence: f32) -> Self {
        Self::Pass { confidence, fields: BTreeMap::new() }
    }
}

/// A request the simulator received with a valid signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRequest {
    pub capability: Capability,
    pub body: WireRequest,
    pub idempotency_key: Option<String>,
}

#[derive(Default)]
struct SimState {
    behaviors: HashMap<(Capability, Option<String>), SimBehavior>,
    requests: Vec<SimRequest>,
    rejected: usize,
    callbacks: Vec<u16>,
    next_reference: u64,
    /// Answers already given, by idempotency key: a repeated request gets the same answer, the check is not run
    /// again (as the contract asks of providers).
    answered: HashMap<String, WireAnswer>,
}

#[derive(Clone)]
struct Shared {
    name: String,
    secret: Arc<Vec<u8>>,
    state: Arc<Mutex<SimState>>,
    client: reqwest::Client,
    clock: SharedClock,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Unix seconds, as signatures carry them.
    fn now_secs(&self) -> i64 {
        self.clock.now_secs() as i64
    }
}

/// A running simulator. Stops when dropped.
pub struct ProviderSim {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl Drop for ProviderSim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ProviderSim {
    /// Starts on `127.0.0.1:<random port>`. `name` is the provider name it puts in callbacks; `secret` signs
    /// both ways, with timestamps from `clock`.
    pub async fn start(name: &str, secret: &str, clock: SharedClock) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Shared {
            name: name.to_owned(),
            secret: Arc::new(secret.as_bytes().to_vec()),
            state: Arc::new(Mutex::new(SimState::default())),
            client: reqwest::Client::new(),
            clock,
        };
        let app = Router::new().route("/v1/{capability}", post(handle)).with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "provider simulator stopped");
            }
        });
        Ok(Self { addr, shared, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The answer for a capability, whatever the document number (unless programmed for that number).
    pub fn set(&self, capability: Capability, behavior: SimBehavior) {
        self.shared.lock().behaviors.insert((capability, None), behavior);
    }

    /// The answer for a capability and one document number.
    pub fn set_for_document(&self, capability: Capability, document_number: &str, behavior: SimBehavior) {
        self.shared.lock().behaviors.insert((capability, Some(document_number.to_owned())), behavior);
    }

    /// Requests received with a valid signature.
    pub fn requests(&self) -> Vec<SimRequest> {
        self.shared.lock().requests.clone()
    }

    /// Requests refused for their signature (401).
    pub fn rejected(&self) -> usize {
        self.shared.lock().rejected
    }

    /// HTTP status of each callback posted (0: could not connect).
    pub fn callback_statuses(&self) -> Vec<u16> {
        self.shared.lock().callbacks.clone()
    }
}

async fn handle(
    State(shared): State<Shared>,
    Path(capability): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if signing::verify(&shared.secret, header, &body, shared.now_secs(), DEFAULT_TOLERANCE_SECS).is_err() {
        shared.lock().rejected += 1;
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    let Some(capability) = Capability::parse(&capability) else {
        return (StatusCode::NOT_FOUND, "unknown capability").into_response();
    };
    let request: WireRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let idempotency_key = headers.get(IDEMPOTENCY_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let behavior = {
        let mut state = shared.lock();
        state.requests.push(SimRequest { capability, body: request.clone(), idempotency_key: idempotency_key.clone() });
        if let Some(answer) = idempotency_key.as_ref().and_then(|k| state.answered.get(k)) {
            return axum::Json(answer.clone()).into_response();
        }
        let by_number = request.document_number.clone().map(|n| (capability, Some(n)));
        by_number
            .and_then(|k| state.behaviors.get(&k).cloned())
            .or_else(|| state.behaviors.get(&(capability, None)).cloned())
            .unwrap_or_else(|| SimBehavior::pass(0.98))
    };
    match respond(&shared, capability, &request, behavior).await {
        Some(answer) => {
            if let Some(key) = idempotency_key {
                shared.lock().answered.insert(key, answer.clone());
            }
            axum::Json(answer).into_response()
        }
        None => (StatusCode::INTERNAL_SERVER_ERROR, "simulated outage").into_response(),
    }
}

/// The answer to give; `None` for a simulated outage (HTTP 500).
async fn respond(
    shared: &Shared,
    capability: Capability,
    request: &WireRequest,
    mut behavior: SimBehavior,
) -> Option<WireAnswer> {
    while let SimBehavior::Slow { delay, then } = behavior {
        tokio::time::sleep(delay).await;
        behavior = *then;
    }
    match behavior {
        SimBehavior::Down => None,
        SimBehavior::Pending { delay, then } => {
            let reference = {
                let mut state = shared.lock();
                state.next_reference += 1;
                format!("sim-{}", state.next_reference)
            };
            if let Some(url) = request.callback_url.clone() {
                let (shared, request, reference) = (shared.clone(), request.clone(), reference.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    post_callback(&shared, capability, &request, &reference, &then, &url).await;
                });
            }
            Some(WireAnswer {
                status: WireStatus::Pending,
                reason: None,
                confidence: None,
                fields: BTreeMap::new(),
                reference: Some(reference),
            })
        }
        final_behavior => {
            let reference = {
                let mut state = shared.lock();
                state.next_reference += 1;
                format!("sim-{}", state.next_reference)
            };
            Some(final_answer(capability, request, &final_behavior, Some(&reference)))
        }
    }
}

fn final_answer(
    capability: Capability,
    request: &WireRequest,
    behavior: &SimBehavior,
    reference: Option<&str>,
) -> WireAnswer {
    let mut answer = WireAnswer {
        status: WireStatus::Pass,
        reason: None,
        confidence: Some(0.95),
        fields: BTreeMap::new(),
        reference: reference.map(str::to_owned),
    };
    match behavior {
        SimBehavior::Pass { confidence, fields } => {
            answer.confidence = Some(*confidence);
            answer.fields = fields.clone();
            if capability == Capability::Document
                && let Some(number) = &request.document_number
            {
                answer.fields.entry("document_number".to_owned()).or_insert_with(|| number.clone());
            }
        }
        SimBehavior::Retry(reason) => {
            answer.status = WireStatus::Retry;
            answer.reason = Some(reason.as_str().to_owned());
        }
        SimBehavior::Fail(reason) => {
            answer.status = WireStatus::Fail;
            answer.reason = Some(reason.as_str().to_owned());
        }
        SimBehavior::RegistryHit(status) => {
            answer.status = WireStatus::Fail;
            answer.reason = Some(ReasonCode::RegistryHit.as_str().to_owned());
            answer.confidence = Some(0.99);
            answer.fields.insert("registry_detail".to_owned(), status.as_str().to_owned());
        }
        // Nested timing behaviours in a callback: answered as a plain pass.
        SimBehavior::Slow { .. } | SimBehavior::Pending { .. } | SimBehavior::Down => {}
    }
    answer
}

async fn post_callback(
    shared: &Shared,
    capability: Capability,
    request: &WireRequest,
    reference: &str,
    behavior: &SimBehavior,
    url: &str,
) {
    let callback = WireCallback {
        provider: shared.name.clone(),
        capability,
        correlation_id: request.correlation_id.clone(),
        answer: final_answer(capability, request, behavior, Some(reference)),
    };
    let status = match serde_json::to_vec(&callback) {
        Ok(body) => {
            let signature = signing::sign(&shared.secret, shared.now_secs(), &body);
            let sent = shared
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signature)
                .header(PROVIDER_HEADER, &shared.name)
                .body(body)
                .send()
                .await;
            sent.map(|r| r.status().as_u16()).unwrap_or(0)
        }
        Err(_) => 0,
    };
    shared.lock().callbacks.push(status);
}
