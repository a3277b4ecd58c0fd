//! The supervisor's funnel page (`/console/funnel`) and its CSV (`/console/funnel.csv`): the report of
//! [`crate::funnel`], for supervisors only.

use std::sync::Arc;

use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages;
use super::routes::{LangQuery, html_with, language, unavailable};
use super::session::SignedIn;
use super::text::t;
use crate::app::AppState;
use crate::funnel::render::{Format, render};
use crate::funnel::report::FunnelReport;
use crate::store::agents::Role;

#[derive(Debug, Default, Deserialize)]
pub struct FunnelQuery {
    since: Option<String>,
    until: Option<String>,
    flow: Option<String>,
    #[serde(flatten)]
    lang: LangQuery,
}

/// The report the query asks for, or the answer to give instead (not a supervisor, a bad period, no store).
async fn report(
    app: &AppState,
    signed_in: &SignedIn,
    query: &FunnelQuery,
    lang: &str,
) -> Result<FunnelReport, Response> {
    if signed_in.account.role != Role::Supervisor {
        return Err((StatusCode::FORBIDDEN, t(lang, "supervisors_only")).into_response());
    }
    let now = app.clock.now_secs();
    let since = query.since.as_deref().unwrap_or("7d");
    let period = crate::funnel::period::period(Some(since), query.until.as_deref(), query.flow.clone(), now)
        .map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()).into_response())?;
    crate::funnel::gather::funnel(&app.backend, period, now).await.map_err(unavailable)
}

pub async fn page(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Query(query): Query<FunnelQuery>,
) -> Response {
    let (lang, cookie) = language(&headers, &query.lang);
    let report = match report(&app, &signed_in, &query, lang).await {
        Ok(report) => report,
        Err(answer) => return answer,
    };
    let flows: Vec<String> = app.flows.current().iter().map(|f| f.id().to_owned()).collect();
    let since = query.since.as_deref().unwrap_or("7d");
    let view = pages::funnel::FunnelView { report: &report, since, flows: &flows };
    html_with(StatusCode::OK, pages::funnel::render(lang, &signed_in, &view), cookie)
}

pub async fn csv(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Query(query): Query<FunnelQuery>,
) -> Response {
    let (lang, _) = language(&headers, &query.lang);
    let report = match report(&app, &signed_in, &query, lang).await {
        Ok(report) => report,
        Err(answer) => return answer,
    };
    let name = format!("attachment; filename=\"funnel-{}-{}.csv\"", report.period.since, report.period.until);
    let mut response = render(&report, Format::Csv).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
