//! The console's handlers. Pages answer HTML; actions are plain form POSTs that redirect back (so a reload does
//! not repeat them) or show the page again with why the action did not happen.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::auth::csrf_ok;
use super::pages;
use super::session::{SignInError, SignedIn};
use super::text;
use crate::agent::desk::{DeskError, request_key};
use crate::agent::photo::PhotoSize;
use crate::api::cases::{desk_status, photo_response, to_decision};
use crate::app::AppState;
use crate::store::agents::Role;
use crate::store::case::CaseStatus;

const CSS: &str = include_str!("../../assets/console/console.css");
const JS: &str = include_str!("../../assets/console/console.js");

/// Every console answer: no framing, no other origin's scripts or styles, nothing cached but the assets.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/console/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; \
             form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[derive(Debug, Default, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// The agent's language: `?lang=` (remembered in a cookie), else the cookie, else Spanish.
pub(super) fn language(headers: &HeaderMap, query: &LangQuery) -> (&'static str, Option<String>) {
    match query.lang.as_deref().and_then(|l| text::LANGUAGES.iter().find(|c| **c == l)) {
        Some(lang) => {
            let cookie = format!("wao_lang={lang}; Path=/console; SameSite=Strict; Max-Age=31536000");
            (lang, Some(cookie))
        }
        None => (text::from_headers(headers), None),
    }
}

pub(super) fn html_with(status: StatusCode, markup: maud::Markup, cookie: Option<String>) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

fn expired_form() -> Response {
    (StatusCode::FORBIDDEN, "this form has expired: reload the page and try again").into_response()
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    email: String,
    password: String,
}

pub async fn sign_in_page(headers: HeaderMap, Query(query): Query<LangQuery>) -> Response {
    let (lang, cookie) = language(&headers, &query);
    html_with(StatusCode::OK, pages::sign_in::render(lang, None, ""), cookie)
}

pub async fn sign_in(
    State(app): State<Arc<AppState>>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = text::from_headers(&headers);
    let addr = extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    match app.console.sign_in(&form.email, &form.password, addr).await {
        Ok((id, session)) => {
            tracing::info!(agent = %session.email, "signed in to the console");
            let mut response = see_other("/console/");
            if let Ok(cookie) = HeaderValue::from_str(&app.console.cookie(&id)) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(refused) => {
            let status = match &refused {
                SignInError::Wrong => StatusCode::UNAUTHORIZED,
                SignInError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
                SignInError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            tracing::warn!(reason = %refused, "console sign-in refused");
            let page = pages::sign_in::render(lang, Some(&refused.to_string()), form.email.trim());
            html_with(status, page, None)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn sign_out(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&signed_in, &form.csrf) {
        return expired_form();
    }
    if let Err(e) = app.console.sign_out(&signed_in.session).await {
        return (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response();
    }
    let mut response = see_other("/console/sign-in");
    if let Ok(cookie) = HeaderValue::from_str(&app.console.cleared_cookie()) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

/// Everything the queue page shows.
struct QueueData {
    waiting: Vec<crate::store::case::Case>,
    assigned: Vec<crate::store::case::Case>,
    counts: std::collections::BTreeMap<CaseStatus, usize>,
    agents: Vec<crate::store::agents::AgentAccount>,
}

impl QueueData {
    fn view(&self, now: u64) -> pages::queue::QueueView<'_> {
        pages::queue::QueueView {
            waiting: &self.waiting,
            assigned: &self.assigned,
            counts: &self.counts,
            agents: &self.agents,
            now,
        }
    }
}

async fn queue_data(app: &AppState, signed_in: &SignedIn) -> Result<QueueData, crate::store::StoreError> {
    let agents = if signed_in.account.role == Role::Supervisor { app.console.agents.list().await? } else { Vec::new() };
    Ok(QueueData {
        waiting: app.cases.list(CaseStatus::Waiting, 200).await?,
        assigned: app.cases.list(CaseStatus::Assigned, 500).await?,
        counts: app.cases.counts().await?,
        agents,
    })
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, format!("the store cannot answer now: {e}")).into_response()
}

pub async fn queue(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let (lang, cookie) = language(&headers, &query);
    let data = match queue_data(&app, &signed_in).await {
        Ok(data) => data,
        Err(e) => return unavailable(e),
    };
    let view = data.view(app.clock.now_secs());
    html_with(StatusCode::OK, pages::queue::render(lang, &signed_in, &view, None), cookie)
}

pub async fn queue_live(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
) -> Response {
    let lang = text::from_headers(&headers);
    let data = match queue_data(&app, &signed_in).await {
        Ok(data) => data,
        Err(e) => return unavailable(e),
    };
    let view = data.view(app.clock.now_secs());
    Html(pages::queue::live(lang, &signed_in, &view).into_string()).into_response()
}

pub async fn take_next(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&signed_in, &form.csrf) {
        return expired_form();
    }
    match app.desk.take_next(&signed_in.account.email).await {
        Ok(Some(case)) => see_other(&format!("/console/cases/{}", case.info.id)),
        Ok(None) => see_other("/console/"),
        Err(e) => unavailable(e),
    }
}

/// The case page, with `error` at the top when an action did not happen.
async fn case_page(
    app: &AppState,
    signed_in: &SignedIn,
    lang: &'static str,
    id: &str,
    error: Option<(StatusCode, String)>,
    cookie: Option<String>,
) -> Response {
    let view = match app.desk.view(id).await {
        Ok(view) => view,
        Err(e) => return (desk_status(&e), e.to_string()).into_response(),
    };
    let flow = view.flow.as_deref().and_then(|f| app.flows.current().into_iter().find(|flow| flow.id() == f));
    let steps: Vec<String> = flow.map(|f| f.file.steps.keys().cloned().collect()).unwrap_or_default();
    let data =
        pages::case::CasePage { view: &view, steps: &steps, has_template: app.config.reengage_template.is_some() };
    let (status, message) = match &error {
        Some((status, message)) => (*status, Some(message.as_str())),
        None => (StatusCode::OK, None),
    };
    html_with(status, pages::case::render(lang, signed_in, &data, message), cookie)
}

pub async fn case(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LangQuery>,
) -> Response {
    let (lang, cookie) = language(&headers, &query);
    case_page(&app, &signed_in, lang, &id, None, cookie).await
}

#[derive(Debug, Deserialize)]
pub struct PartQuery {
    part: Option<String>,
}

/// `?part=photos` or `?part=timeline` of a case, for the page's live updates.
pub async fn case_live(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<PartQuery>,
) -> Response {
    let lang = text::from_headers(&headers);
    match app.desk.view(&id).await {
        Ok(view) => match query.part.as_deref() {
            Some("photos") => Html(pages::case::photos(lang, &view).into_string()).into_response(),
            Some("timeline") => Html(pages::case::timeline(lang, &view).into_string()).into_response(),
            _ => (StatusCode::BAD_REQUEST, "part is `photos` or `timeline`").into_response(),
        },
        Err(e) => (desk_status(&e), e.to_string()).into_response(),
    }
}

/// After an action: back to the case page, or the page again with why it did not happen.
async fn after(
    app: &AppState,
    signed_in: &SignedIn,
    headers: &HeaderMap,
    id: &str,
    result: Result<(), DeskError>,
) -> Response {
    match result {
        Ok(()) => see_other(&format!("/console/cases/{id}")),
        Err(e) => {
            let lang = text::from_headers(headers);
            case_page(app, signed_in, lang, id, Some((desk_status(&e), e.to_string())), None).await
        }
    }
}

pub async fn claim(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !csrf_ok(&signed_in, &form.csrf) {
        return expired_form();
    }
    let result = app.desk.claim(&id, &signed_in.account.email).await.map(|_| ());
    after(&app, &signed_in, &headers, &id, result).await
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    csrf: String,
    agent: String,
}

pub async fn assign(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    Path(id): Path<String>,
    Form(form): Form<AssignForm>,
) -> Response {
    if !csrf_ok(&signed_in, &form.csrf) {
        return expired_form();
    }
    if signed_in.account.role != Role::Supervisor {
        return (StatusCode::FORBIDDEN, "only a supervisor reassigns cases").into_response();
    }
    match app.desk.reassign(&id, form.agent.trim(), &signed_in.account.email).await {
        Ok(_) => see_other("/console/"),
        Err(e) => (desk_status(&e), e.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct MessageForm {
    csrf: String,
    text: String,
    #[serde(default)]
    reengage: Option<String>,
}

pub async fn message(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<MessageForm>,
) -> Response {
    if !csrf_ok(&signed_in, &form.csrf) {
        return expired_form();
    }
    let agent = &signed_in.account.email;
    let supervisor = signed_in.account.role == Role::Supervisor;
    let reengage = form.reengage.as_deref() == Some("true");
    let key = request_key(&id, "message", agent, &[&form.text], None);
    let result = app.desk.message(&id, agent, supervisor, &form.text, &key, reengage).await;
    after(&app, &signed_in, &headers, &id, result).await
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    slot: Option<String>,
    #[serde(default)]
    step: Option<String>,
}

pub async fn decision(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    if !csrf_ok(&signed_in, &form.csrf) {
        return expired_form();
    }
    let decision = match to_decision(&form.decision, form.slot, form.reason.as_deref(), form.step) {
        Ok(decision) => decision,
        Err(message) => return after(&app, &signed_in, &headers, &id, Err(DeskError::Invalid(message))).await,
    };
    let agent = &signed_in.account.email;
    let supervisor = signed_in.account.role == Role::Supervisor;
    let key = request_key(&id, "decision", agent, &[&form.decision], None);
    let result = app.desk.decide(&id, agent, supervisor, decision, &key).await;
    after(&app, &signed_in, &headers, &id, result).await
}

#[derive(Debug, Deserialize)]
pub struct PhotoQuery {
    size: Option<String>,
}

pub async fn photo(
    State(app): State<Arc<AppState>>,
    Extension(signed_in): Extension<SignedIn>,
    Path((id, name)): Path<(String, String)>,
    Query(query): Query<PhotoQuery>,
) -> Response {
    let Some(size) = PhotoSize::parse(query.size.as_deref()) else {
        return (StatusCode::BAD_REQUEST, "size is `thumb` or `full`").into_response();
    };
    match app.desk.photo(&id, &name, size, &signed_in.account.email).await {
        Ok(jpeg) => photo_response(jpeg),
        Err(e) => (desk_status(&e), e.to_string()).into_response(),
    }
}
