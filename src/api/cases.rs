//! The case routes of `/api/v1`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Caller;
use super::error;
use crate::app::AppState;
use crate::store::case::{CaseChangeError, CaseError, CaseStatus};

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/cases?status=waiting|assigned|resolved|returned|withdrawn&limit=N`: oldest first, with the counts
/// per state.
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
    let counts: serde_json::Map<String, serde_json::Value> =
        counts.into_iter().map(|(status, n)| (status.as_str().to_owned(), n.into())).collect();
    Json(serde_json::json!({ "cases": cases, "counts": counts })).into_response()
}

/// `GET /api/v1/cases/{id}`.
pub async fn one(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    match app.cases.get(&id).await {
        Ok(Some(case)) => Json(case).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no case {id}")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    /// Who takes it (an agent's email in the company's desk).
    agent: String,
}

/// `POST /api/v1/cases/{id}/claim` `{"agent": "email"}`: 200 with the case, 409 when someone else holds it or it
/// is closed, 404 when there is no such case.
pub async fn claim(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: ClaimRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body: {e} (expected {{\"agent\": \"email\"}})")),
    };
    if request.agent.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "`agent` must name who takes the case");
    }
    match app.cases.claim(&id, request.agent.trim(), app.clock.now_secs()).await {
        Ok(case) => {
            tracing::info!(case = %id, token = %caller.0, "case claimed through the API");
            Json(case).into_response()
        }
        Err(CaseError::Change(CaseChangeError::NotFound(_))) => error(StatusCode::NOT_FOUND, format!("no case {id}")),
        Err(CaseError::Change(change)) => error(StatusCode::CONFLICT, change.to_string()),
        Err(CaseError::Store(e)) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
