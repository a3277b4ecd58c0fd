//! The case routes of `/api/v1`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error;
use crate::agent::desk::{CaseView, DeskError, request_key};
use crate::agent::photo::PhotoSize;
use crate::app::AppState;
use crate::flow::event::AgentDecision;
use crate::store::case::{Case, CaseStatus};
use crate::verify::reason::ReasonCode;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `waiting` (the default), `assigned`, `resolved`, `returned` or `withdrawn`.
    status: Option<String>,
    /// At most this many cases (default 100, at most 1000).
    limit: Option<usize>,
}

/// The cases of one state, oldest first, and how many cases each state holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CaseList {
    pub cases: Vec<Case>,
    pub counts: BTreeMap<String, usize>,
}

/// A request taken: it acts in the background (the timeline shows it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub queued: bool,
    /// The request's own key (the same `Idempotency-Key` gives the same key, and acts once).
    pub key: String,
}

/// Why a request was refused.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    pub error: String,
}

/// `GET /api/v1/cases?status=waiting|assigned|resolved|returned|withdrawn&limit=N`: oldest first, with the counts
/// per state.
#[utoipa::path(get, path = "/api/v1/cases", tag = "cases", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = CaseList), (status = 400, body = ApiError), (status = 401, body = ApiError)))]
pub async fn list(State(app): State<Arc<AppState>>, Query(query): Query<ListQuery>) -> Response {
    let status = match query.status.as_deref() {
        None => CaseStatus::Waiting,
        Some(text) => match CaseStatus::parse(text) {
            Some(status) => status,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("status `{text}` is not one of waiting, assigned, resolved, returned, withdrawn"),
                );
            }
        },
    };
    let limit = query.limit.unwrap_or(100).min(1000);
    let (cases, counts) = match (app.cases.list(status, limit).await, app.cases.counts().await) {
        (Ok(cases), Ok(counts)) => (cases, counts),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let counts = counts.into_iter().map(|(status, n)| (status.as_str().to_owned(), n)).collect();
    Json(CaseList { cases, counts }).into_response()
}

/// `GET /api/v1/cases/{id}`: the case, its timeline (with each agent message's delivery state), its photos.
#[utoipa::path(get, path = "/api/v1/cases/{id}", tag = "cases", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = CaseView), (status = 401, body = ApiError), (status = 404, body = ApiError)))]
pub async fn one(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match app.desk.view(&id).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => desk_error(e),
    }
}

/// A refused action as JSON: 404 (no such case or photo), 409 (someone else holds it, it is closed, the window
/// has closed), 400 (a bad request), 503 (the store cannot say).
pub fn desk_error(refused: DeskError) -> Response {
    error(desk_status(&refused), refused.to_string())
}

/// The HTTP status of a refused action, for the API and the console alike.
pub fn desk_status(refused: &DeskError) -> StatusCode {
    match refused {
        DeskError::NotFound(_) | DeskError::NoPhoto(_) => StatusCode::NOT_FOUND,
        DeskError::Change(_) | DeskError::WindowClosed => StatusCode::CONFLICT,
        DeskError::Invalid(_) => StatusCode::BAD_REQUEST,
        DeskError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Box<Response>> {
    serde_json::from_slice(body)
        .map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, format!("body: {e} (expected {expected})"))))
}

/// Who acts: the agent named in the request (who must hold the case), else the token itself, as a supervisor.
fn actor(agent: Option<String>, caller: &Caller) -> (String, bool) {
    match agent.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()) {
        Some(agent) => (agent, false),
        None => (format!("api:{}", caller.0), true),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Who takes it (an agent's email in the company's desk).
    agent: String,
}

/// `POST /api/v1/cases/{id}/claim` `{"agent": "email"}`: 200 with the case, 409 when someone else holds it or it
/// is closed, 404 when there is no such case.
#[utoipa::path(post, path = "/api/v1/cases/{id}/claim", tag = "cases", params(("id" = String, Path)),
    request_body = ClaimRequest, security(("bearer" = [])),
    responses((status = 200, body = Case), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 404, body = ApiError), (status = 409, description = "someone else holds it, or it is closed", body = ApiError)))]
pub async fn claim(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: ClaimRequest = match parse(&body, r#"{"agent": "email"}"#) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    if request.agent.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "`agent` must name who takes the case");
    }
    match app.desk.claim(&id, request.agent.trim()).await {
        Ok(case) => {
            tracing::info!(case = %id, token = %caller.0, "case claimed through the API");
            Json(case).into_response()
        }
        Err(e) => desk_error(e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// Who gets the case.
    agent: String,
}

/// `POST /api/v1/cases/{id}/assign` `{"agent": "email"}`: a supervisor gives an open case to an agent, whoever
/// held it.
#[utoipa::path(post, path = "/api/v1/cases/{id}/assign", tag = "cases", params(("id" = String, Path)),
    request_body = AssignRequest, security(("bearer" = [])),
    responses((status = 200, body = Case), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn assign(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: AssignRequest = match parse(&body, r#"{"agent": "email"}"#) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    if request.agent.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "`agent` must name who gets the case");
    }
    match app.desk.reassign(&id, request.agent.trim(), &format!("api:{}", caller.0)).await {
        Ok(case) => Json(case).into_response(),
        Err(e) => desk_error(e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    text: String,
    /// The agent who writes (must hold the case); absent: the token, as a supervisor.
    #[serde(default)]
    agent: Option<String>,
    /// Outside the 24-hour window, send anyway: the user gets the re-engagement template instead.
    #[serde(default)]
    reengage: bool,
}

/// `POST /api/v1/cases/{id}/messages` `{"text": "..."}` → 202: the message goes to the user's WhatsApp through
/// the bot's sender. An `Idempotency-Key` header makes a retried request send once.
#[utoipa::path(post, path = "/api/v1/cases/{id}/messages", tag = "cases",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "the same key sends once")),
    request_body = MessageRequest, security(("bearer" = [])),
    responses((status = 202, body = Accepted), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 404, body = ApiError),
        (status = 409, description = "not held by this agent, closed, or WhatsApp's 24-hour window has closed", body = ApiError)))]
pub async fn message(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: MessageRequest = match parse(&body, r#"{"text": "...", "agent"?: "email"}"#) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let (agent, supervisor) = actor(request.agent, &caller);
    let nonce = idempotency_key(&headers);
    let key = request_key(&id, "message", &agent, &[&request.text], nonce.as_deref());
    match app.desk.message(&id, &agent, supervisor, &request.text, &key, request.reengage).await {
        Ok(()) => (StatusCode::ACCEPTED, Json(Accepted { queued: true, key })).into_response(),
        Err(e) => desk_error(e),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve`, `reject`, `retake` or `return`.
    decision: String,
    /// For `reject` (a reason from the list) and `retake` (the reason code whose advice the user gets).
    #[serde(default)]
    reason: Option<String>,
    /// For `retake`: `front`, `back` or `selfie`.
    #[serde(default)]
    slot: Option<String>,
    /// For `return`: the flow step the bot goes on from (absent: where the conversation is).
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    agent: Option<String>,
}

/// `POST /api/v1/cases/{id}/decision` `{"decision": "approve" | "reject" | "retake" | "return", ...}` → 202.
#[utoipa::path(post, path = "/api/v1/cases/{id}/decision", tag = "cases",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "the same key decides once")),
    request_body = DecisionRequest, security(("bearer" = [])),
    responses((status = 202, body = Accepted), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub async fn decision(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: DecisionRequest = match parse(&body, r#"{"decision": "approve|reject|retake|return", ...}"#) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let decision = match to_decision(&request.decision, request.slot, request.reason.as_deref(), request.step) {
        Ok(decision) => decision,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let (agent, supervisor) = actor(request.agent, &caller);
    let nonce = idempotency_key(&headers);
    let key = request_key(&id, "decision", &agent, &[&request.decision], nonce.as_deref());
    match app.desk.decide(&id, &agent, supervisor, decision, &key).await {
        Ok(()) => (StatusCode::ACCEPTED, Json(Accepted { queued: true, key })).into_response(),
        Err(e) => desk_error(e),
    }
}

/// A decision as the engine takes it, or what is wrong with the request.
pub fn to_decision(
    decision: &str,
    slot: Option<String>,
    reason: Option<&str>,
    step: Option<String>,
) -> Result<AgentDecision, String> {
    match decision {
        "approve" => Ok(AgentDecision::Approve),
        "reject" => match reason {
            Some(reason) if crate::agent::REJECT_REASONS.contains(&reason) => {
                Ok(AgentDecision::Reject { reason: Some(reason.to_owned()) })
            }
            _ => Err(format!("a rejection needs `reason`, one of {}", crate::agent::REJECT_REASONS.join(", "))),
        },
        "retake" => {
            let slot = slot.filter(|s| ["front", "back", "selfie"].contains(&s.as_str()));
            let reason = reason.and_then(|r| serde_json::from_value::<ReasonCode>(serde_json::json!(r)).ok());
            match (slot, reason) {
                (Some(slot), Some(reason)) => Ok(AgentDecision::Retake { slot, reason }),
                _ => {
                    Err("a retake needs `slot` (front, back, selfie) and `reason` (a reason code, e.g. blurry)".into())
                }
            }
        }
        "return" => Ok(AgentDecision::Return { step: step.filter(|s| !s.trim().is_empty()) }),
        other => Err(format!("decision `{other}` is not one of approve, reject, retake, return")),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PhotoQuery {
    /// `thumb` (320 px, the default) or `full` (1600 px).
    size: Option<String>,
    /// The agent who looks (kept in the audit log); absent: the token.
    #[serde(default)]
    agent: Option<String>,
}

/// `GET /api/v1/cases/{id}/photos/{slot}?size=thumb|full`: the newest photo of the slot (or a photo by its name),
/// re-encoded as JPEG without metadata; never cached; each view is audited.
#[utoipa::path(get, path = "/api/v1/cases/{id}/photos/{slot}", tag = "cases",
    params(("id" = String, Path), ("slot" = String, Path, description = "front, back, selfie, or a photo's name"), PhotoQuery),
    security(("bearer" = [])),
    responses((status = 200, content_type = "image/jpeg", body = Vec<u8>), (status = 401, body = ApiError),
        (status = 404, body = ApiError)))]
pub async fn photo(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path((id, slot)): Path<(String, String)>,
    Query(query): Query<PhotoQuery>,
) -> Response {
    let Some(size) = PhotoSize::parse(query.size.as_deref()) else {
        return error(StatusCode::BAD_REQUEST, "size is `thumb` (the default) or `full`");
    };
    let (agent, _) = actor(query.agent, &caller);
    match app.desk.photo(&id, &slot, size, &agent).await {
        Ok(jpeg) => photo_response(jpeg),
        Err(e) => desk_error(e),
    }
}

/// A photo answer: JPEG, never stored by a browser or a proxy.
pub fn photo_response(jpeg: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/jpeg"),
            (header::CACHE_CONTROL, "no-store, private"),
            (header::HeaderName::from_static("x-content-type-options"), "nosniff"),
        ],
        jpeg,
    )
        .into_response()
}
