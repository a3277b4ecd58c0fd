//! The simulator's HTTP routes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::validate::{SimError, validate_send};
use super::{Endpoint, Failure, Media, RecordedMessage, RecordedRead, SimState, base64_std, lock};
use crate::whatsapp::message::{OutboundMessage, Recipient, log_line};

/// The simulator's routes, to serve alone or to mount (`nest`) inside another router.
pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/messages", get(list_messages))
        .route("/_admin/reads", get(list_reads))
        .route("/_admin/media", post(admin_media))
        .route("/_admin/failures", post(admin_failures))
        .route("/_admin/reset", post(admin_reset))
        .route("/_media/{token}", get(download))
        .route("/{version}/{media_id}", get(lookup))
        .route("/{version}/{phone_number_id}/messages", post(send))
        .with_state(state)
}

fn error(status: u16, code: i64, message: &str, details: Option<&str>) -> Response {
    let mut error = json!({
        "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Sim0trace0id",
    });
    if let Some(d) = details {
        error["error_data"] = json!({"messaging_product": "whatsapp", "details": d});
    }
    (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), axum::Json(json!({ "error": error })))
        .into_response()
}

impl SimError {
    fn into_response(self) -> Response {
        error(self.status, self.code, &self.message, self.details.as_deref())
    }
}

/// The refusal when the bearer token is missing or wrong.
fn unauthorized(state: &SimState, headers: &HeaderMap) -> Option<Response> {
    let config = state.config();
    let known = |v: &str| {
        let token = v.strip_prefix("Bearer ").unwrap_or_default();
        token == config.access_token || config.number_tokens.values().any(|t| t == token)
    };
    match headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        Some(v) if known(v) => None,
        Some(_) => Some(error(401, 190, "Invalid OAuth access token - Cannot parse access token", None)),
        None => Some(error(
            401,
            2500,
            "An active access token must be used to query information about the current user.",
            None,
        )),
    }
}

/// The refusal when the (valid) token has no permission on the business number: a number with a token of its own
/// takes only that one, and a number's own token reaches no other number. Meta answers 400, code 100, subcode 33.
fn no_permission(state: &SimState, headers: &HeaderMap, phone_number_id: &str) -> Option<Response> {
    let config = state.config();
    let used = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match config.number_tokens.get(phone_number_id) {
        Some(own) => used == Some(own.as_str()),
        None => used == Some(config.access_token.as_str()),
    };
    (!allowed).then(|| {
        let message = format!(
            "Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to \
             missing permissions, or does not support this operation."
        );
        let body = json!({"error": {"message": message, "type": "GraphMethodException", "code": 100,
            "error_subcode": 33, "fbtrace_id": "Sim0trace0id"}});
        (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
    })
}

/// Plays the next queued failure of this endpoint: `Some(response)` to answer with, or `None` to go on
/// (after a delay for `Slow`). `EndlessMedia` is handled by the download route itself.
async fn play_failure(state: &SimState, on: Endpoint) -> Result<Option<Failure>, Response> {
    let Some(failure) = state.next_failure(on) else { return Ok(None) };
    Err(match failure {
        Failure::Slow { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            return Ok(None);
        }
        Failure::EndlessMedia | Failure::ExpiredMediaUrl => return Ok(Some(failure)),
        Failure::Throttled => {
            error(429, 130429, "(#130429) Rate limit hit", Some("Cloud API message throughput has been reached."))
        }
        Failure::PairRate => error(
            400,
            131056,
            "(#131056) (Business Account, Consumer Account) pair rate limit hit",
            Some(
                "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
            ),
        ),
        Failure::ServerError => error(500, 131000, "Something went wrong", Some("Something went wrong.")),
        Failure::WindowClosed => error(
            400,
            131047,
            "Re-engagement message",
            Some(
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            ),
        ),
        Failure::TokenExpired => error(
            401,
            190,
            "Error validating access token: Session has expired on Sunday, 22-Nov-26 03:00:00 PST.",
            None,
        ),
        Failure::MediaNotFound => not_found_object(),
        Failure::Error { status, code, message } => error(status, code, &message, None),
    })
}

fn not_found_object() -> Response {
    let body = json!({"error": {
        "message": "Unsupported get request. Object with ID does not exist, cannot be loaded due to missing \
                    permissions, or does not support this operation.",
        "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "Sim0trace0id"}});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

async fn send(
    State(state): State<Arc<SimState>>,
    Path((version, phone_number_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers).or_else(|| no_permission(&state, &headers, &phone_number_id)) {
        return r;
    }
    // Read receipts and sends are told apart, so that "fail the next send" does not hit a read receipt.
    let is_read = serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.get("status").is_some());
    if let Err(r) = play_failure(&state, if is_read { Endpoint::Read } else { Endpoint::Messages }).await {
        return r;
    }
    if !version.starts_with('v') {
        return error(400, 2500, "Unknown path components", None);
    }
    if let Some(expected) = state.config().phone_number_id
        && expected != phone_number_id
    {
        return error(
            400,
            100,
            &format!("Unsupported post request. Object with ID '{phone_number_id}' does not exist"),
            None,
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(400, 100, "(#100) Invalid parameter", Some("The request body is not valid JSON."));
    };
    if request.get("status").is_some() {
        return mark_read(&state, &request);
    }
    if let Err(e) = validate_send(&request) {
        return e.into_response();
    }
    let n = state.next_id();
    let wamid = format!("wamid.HBgNSIM{n:012X}{:08X}", fastrand::u32(..));
    let to = request.get("to").and_then(Value::as_str).map(str::to_owned);
    let recipient = request.get("recipient").and_then(Value::as_str).map(str::to_owned);
    let contact = match (&to, &recipient) {
        (Some(to), _) => json!({"input": to, "wa_id": to.trim_start_matches('+')}),
        (None, Some(user)) => json!({"input": user, "user_id": user}),
        (None, None) => json!({}),
    };
    let recorded = RecordedMessage {
        wamid: wamid.clone(),
        to,
        recipient,
        kind: request.get("type").and_then(Value::as_str).unwrap_or_default().to_owned(),
        body: request,
        phone_number_id,
        received_at_ms: crate::clock::Clock::now_ms(&crate::clock::SystemClock),
    };
    if let Ok(message) = serde_json::from_value::<OutboundMessage>(recorded.body.clone()) {
        let to = match (&recorded.to, &recorded.recipient) {
            (Some(to), _) => Recipient::Phone(to.clone()),
            (None, user) => Recipient::UserId(user.clone().unwrap_or_default()),
        };
        tracing::info!(target: "wa_onboard::sim", "{}", log_line(&to, &message));
    }
    if let Some(webhook) = state.config().status_webhook {
        let now = crate::clock::Clock::now_secs(&crate::clock::SystemClock);
        let payload = super::statuses::sent_status(&recorded.phone_number_id, &wamid, &recorded.body, now);
        let client = state.http.clone();
        tokio::spawn(async move { super::statuses::deliver(&client, &webhook, &payload).await });
    }
    lock(&state.inner).messages.push(recorded);
    axum::Json(json!({"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}))
        .into_response()
}

fn mark_read(state: &SimState, request: &Value) -> Response {
    if request.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return error(400, 100, "(#100) The parameter messaging_product is required.", None);
    }
    if request.get("status").and_then(Value::as_str) != Some("read") {
        return error(400, 100, "(#100) Param status must be one of {READ}", None);
    }
    let Some(message_id) = request.get("message_id").and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return error(400, 100, "(#100) The parameter message_id is required.", None);
    };
    let typing = match request.get("typing_indicator") {
        None => false,
        Some(t) if t.get("type").and_then(Value::as_str) == Some("text") => true,
        Some(_) => return error(400, 100, "(#100) Param typing_indicator[type] must be one of {TEXT}", None),
    };
    lock(&state.inner).reads.push(RecordedRead { message_id: message_id.to_owned(), typing_indicator: typing });
    axum::Json(json!({"success": true})).into_response()
}

async fn lookup(
    State(state): State<Arc<SimState>>,
    Path((_version, media_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = unauthorized(&state, &headers) {
        return r;
    }
    if let Err(r) = play_failure(&state, Endpoint::MediaLookup).await {
        return r;
    }
    let ttl = state.config().media_url_ttl;
    let base = state.public_base();
    let mut inner = lock(&state.inner);
    let Some(media) = inner.media.get(&media_id).cloned() else {
        drop(inner);
        return not_found_object();
    };
    let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    inner.urls.insert(token.clone(), (media_id.clone(), Instant::now() + ttl));
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "url": format!("{base}/_media/{token}?mid={media_id}"),
        "mime_type": media.mime_type,
        "sha256": media.sha256_b64,
        "file_size": media.bytes.len(),
        "id": media_id,
    }))
    .into_response()
}

async fn download(State(state): State<Arc<SimState>>, Path(token): Path<String>, headers: HeaderMap) -> Response {
    if let Some(r) = unauthorized(&state, &headers) {
        return r;
    }
    let failure = match play_failure(&state, Endpoint::MediaDownload).await {
        Err(r) => return r,
        Ok(f) => f,
    };
    let media: Option<Media> = {
        let inner = lock(&state.inner);
        inner
            .urls
            .get(&token)
            .filter(|(_, expires)| *expires > Instant::now())
            .and_then(|(id, _)| inner.media.get(id).cloned())
    };
    let expired = (StatusCode::NOT_FOUND, "URL signature expired").into_response();
    match (failure, media) {
        (Some(Failure::ExpiredMediaUrl), _) | (_, None) => expired,
        (Some(Failure::EndlessMedia), Some(media)) => {
            // Starts like the real media, then never ends (bounded at 1 GiB so that a broken client stops too).
            let head = media.bytes.slice(..media.bytes.len().min(64));
            let filler = Bytes::from(vec![0u8; 64 * 1024]);
            let chunks = std::iter::once(head)
                .chain(std::iter::repeat_n(filler, 16 * 1024))
                .map(Ok::<Bytes, std::convert::Infallible>);
            Response::builder()
                .header(header::CONTENT_TYPE, media.mime_type.as_str())
                .body(Body::from_stream(futures::stream::iter(chunks)))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        (_, Some(media)) => ([(header::CONTENT_TYPE, media.mime_type.clone())], media.bytes).into_response(),
    }
}

// The inspection and admin routes need the access token too: what was sent holds phone numbers, and a queued
// failure stops all sending.

#[derive(Deserialize)]
struct ListQuery {
    /// Skip the first `since` messages: a poller passes how many it has already read.
    #[serde(default)]
    since: usize,
}

async fn list_messages(
    State(state): State<Arc<SimState>>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthorized(&state, &headers) {
        return refused;
    }
    axum::Json(state.messages_since(query.since)).into_response()
}

async fn list_reads(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = unauthorized(&state, &headers) {
        return refused;
    }
    axum::Json(state.reads()).into_response()
}

#[derive(Deserialize)]
struct MediaRequest {
    id: String,
    /// Base64 (standard alphabet).
    bytes: String,
    mime_type: String,
}

async fn admin_media(State(state): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    use base64::Engine as _;
    if let Some(refused) = unauthorized(&state, &headers) {
        return refused;
    }
    let request: MediaRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("expected {{id, bytes (base64), mime_type}}: {e}\n"))
                .into_response();
        }
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(request.bytes.trim()) else {
        return (StatusCode::BAD_REQUEST, "bytes must be base64\n").into_response();
    };
    let sha256 = base64_std(&<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    state.register_media(&request.id, bytes, &request.mime_type);
    axum::Json(json!({"id": request.id, "sha256": sha256})).into_response()
}

#[derive(Deserialize)]
struct FailureRequest {
    #[serde(flatten)]
    failure: Failure,
    #[serde(default)]
    on: Option<Endpoint>,
    #[serde(default)]
    count: Option<u32>,
}

async fn admin_failures(State(state): State<Arc<SimState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = unauthorized(&state, &headers) {
        return refused;
    }
    let request: FailureRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not a failure: {e}\n")).into_response(),
    };
    let on = request.on.unwrap_or_else(|| request.failure.default_endpoint());
    let count = request.count.unwrap_or(1).min(10_000);
    for _ in 0..count {
        state.fail_on(on, request.failure.clone());
    }
    axum::Json(json!({"queued": count, "pending": state.pending_failures()})).into_response()
}

async fn admin_reset(State(state): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    if let Some(refused) = unauthorized(&state, &headers) {
        return refused;
    }
    state.reset();
    StatusCode::NO_CONTENT.into_response()
}
