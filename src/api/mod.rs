//! `/api/v1`: what the agent console does, for companies that run their own agent desk. Every call needs a bearer
//! token made with `wa-onboard api-tokens add NAME` (only its hash is stored); see docs/console.md.
//!
//! - `auth.rs`: tokens, their hashes, the middleware that checks them.
//! - `cases.rs`: the cases (list, one with its timeline and photos, claim, assign, messages, decision, photos).
//! - `privacy.rs`: a person's rights: erase (`DELETE /users/{user}`), export, a conversation's audit trail.
//! - `reports.rs`: the funnel report (`GET /reports/funnel`).
//! - `openapi.rs`: the OpenAPI 3.1 description, from the handlers' annotations, at `/api/v1/openapi.json`.

pub mod auth;
pub mod cases;
pub mod openapi;
pub mod privacy;
pub mod reports;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::app::AppState;

/// The `/api/v1` routes, every one behind a token.
pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/cases", get(cases::list))
        .route("/api/v1/cases/{id}", get(cases::one))
        .route("/api/v1/cases/{id}/claim", post(cases::claim))
        .route("/api/v1/cases/{id}/assign", post(cases::assign))
        .route("/api/v1/cases/{id}/messages", post(cases::message))
        .route("/api/v1/cases/{id}/decision", post(cases::decision))
        .route("/api/v1/cases/{id}/photos/{slot}", get(cases::photo))
        .route("/api/v1/users/{user}", delete(privacy::erase))
        .route("/api/v1/users/{user}/export", get(privacy::export))
        .route("/api/v1/conversations/{id}/audit", get(privacy::audit))
        .route("/api/v1/reports/funnel", get(reports::funnel))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route_layer(axum::middleware::from_fn_with_state(state, auth::require_token))
}

/// A JSON error answer: `{"error": "..."}`.
fn error(status: axum::http::StatusCode, message: impl Into<String>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (status, axum::Json(serde_json::json!({ "error": message.into() }))).into_response()
}
