//! Reports: `GET /api/v1/reports/funnel`, the same report as `wa-onboard report funnel` and the supervisor page.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::cases::ApiError;
use super::error;
use crate::app::AppState;
use crate::funnel::render::{Format, render};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FunnelQuery {
    /// The period's start: a duration ago (`7d`, `24h`, `90m`), a date (`2026-11-01`), a date and time
    /// (RFC 3339) or Unix seconds [default: 7d].
    pub since: Option<String>,
    /// The period's end (excluded), written the same way [default: now].
    pub until: Option<String>,
    /// Only this flow's conversations.
    pub flow: Option<String>,
    /// `json` (default), `csv` or `table`.
    #[param(value_type = Option<String>)]
    pub format: Option<Format>,
}

/// `GET /api/v1/reports/funnel`: per step how many reached it and left there, outcomes, time to outcome
/// (wall and active), retakes per reason and document, handoffs, the queue and each agent's decisions
/// (docs/metrics.md).
#[utoipa::path(get, path = "/api/v1/reports/funnel", tag = "reports", params(FunnelQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The report (JSON, CSV or a text table)", body = Object),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 503, body = ApiError)))]
pub async fn funnel(State(app): State<Arc<AppState>>, Query(query): Query<FunnelQuery>) -> Response {
    let now = app.clock.now_secs();
    let period = match crate::funnel::period::period(query.since.as_deref(), query.until.as_deref(), query.flow, now) {
        Ok(period) => period,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let report = match crate::funnel::gather::funnel(&app.backend, period, now).await {
        Ok(report) => report,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let format = query.format.unwrap_or(Format::Json);
    let kind = match format {
        Format::Json => "application/json",
        Format::Csv => "text/csv; charset=utf-8",
        Format::Table => "text/plain; charset=utf-8",
    };
    ([(header::CONTENT_TYPE, kind)], render(&report, format)).into_response()
}
