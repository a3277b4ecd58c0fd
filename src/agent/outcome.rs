//! `POST /agent/outcome`: the agent system tells the bot what a live agent decided. Signed like provider
//! callbacks (`X-WaOnboard-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with AGENT_LINK_SECRET);
//! the body names the conversation by the token of the link the agent received. See docs/agents.md.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::flow::event::{AgentDecision, Event};
use crate::jobs::BackgroundJob as _;
use crate::jobs::event::EventJob;
use crate::jobs::key::JobKey;
use crate::signing::{self, DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER};
use crate::verify::reason::ReasonCode;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRequest {
    /// The `t` parameter of the handoff link.
    pub token: String,
    pub decision: Decision,
    /// For `retake`: the photo to take again (`front`, `back`, `selfie`).
    #[serde(default)]
    pub slot: Option<String>,
    /// For `retake`: the reason code whose advice the user gets.
    #[serde(default)]
    pub reason: Option<ReasonCode>,
    /// Who decided (kept in the audit log).
    #[serde(default)]
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
    Retake,
}

fn answer(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}

pub async fn receive(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = app.clock.now_secs() as i64;
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let secret = app.config.agent_link.secret.expose().as_bytes();
    if let Err(e) = signing::verify(secret, header, &body, now, DEFAULT_TOLERANCE_SECS) {
        return answer(StatusCode::UNAUTHORIZED, format!("signature: {e}"));
    }
    let request: OutcomeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return answer(StatusCode::BAD_REQUEST, format!("body: {e}")),
    };
    let decision = match (request.decision, request.slot, request.reason) {
        (Decision::Approve, _, _) => AgentDecision::Approve,
        (Decision::Reject, _, reason) => AgentDecision::Reject { reason: reason.map(|r| r.to_string()) },
        (Decision::Retake, Some(slot), Some(reason)) => AgentDecision::Retake { slot, reason },
        (Decision::Retake, _, _) => {
            return answer(StatusCode::BAD_REQUEST, "a retake needs `slot` (front, back, selfie) and `reason`");
        }
    };
    let conversation = match app.links.conversation_of(&request.token) {
        Ok(c) => c,
        Err(e) => return answer(StatusCode::UNAUTHORIZED, format!("token: {e}")),
    };
    let user = match app.conversations.user_of(&conversation).await {
        Ok(Some(user)) => user,
        Ok(None) => return answer(StatusCode::NOT_FOUND, format!("no conversation {conversation}")),
        Err(e) => return answer(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    // The same signed request sent twice is one outcome.
    let key = JobKey::agent_outcome(&conversation, &hex::encode(&Sha256::digest(&body)[..8]));
    let agent = request.agent.clone().filter(|a| !a.trim().is_empty());
    let job = EventJob { user, key: key.clone(), event: Event::AgentOutcome { decision, agent } };
    match app.events.push(&[job.queued_under(key, 0)]).await {
        Ok(_) => {
            tracing::info!(%conversation, agent = request.agent.as_deref().unwrap_or("?"), "agent outcome received");
            (StatusCode::ACCEPTED, axum::Json(serde_json::json!({ "conversation_id": conversation, "queued": true })))
                .into_response()
        }
        Err(e) => answer(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct HandoffQuery {
    t: Option<String>,
}

/// `GET /agent/handoff?t=...`: where the link points when `AGENT_LINK_BASE_URL` is not set (development). It
/// checks the token and says what the agent system would do; production sets the base URL to the agent system.
pub async fn handoff_page(
    State(app): State<Arc<AppState>>,
    axum::extract::Query(query): axum::extract::Query<HandoffQuery>,
) -> Response {
    let now = app.clock.now_secs();
    match query.t.as_deref().map(|t| app.links.verify(t, now)) {
        Some(Ok(conversation)) => (
            StatusCode::OK,
            format!(
                "Live-agent handoff for conversation {conversation}: the link is valid.\n\
                 Set AGENT_LINK_BASE_URL to your agent system; it reports decisions to POST /agent/outcome \
                 (see docs/agents.md).\n"
            ),
        )
            .into_response(),
        Some(Err(e)) => (StatusCode::FORBIDDEN, format!("this link cannot be used: {e}\n")).into_response(),
        None => (StatusCode::BAD_REQUEST, "missing the `t` parameter of the link\n").into_response(),
    }
}
