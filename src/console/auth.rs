//! The console's two gates: a signed-in agent for every page but the sign-in, and no state change from another
//! site (the browser's `Sec-Fetch-Site`, else `Origin`, must say the request comes from this console; each form
//! also carries the session's CSRF token, checked by the handler).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq as _;

use super::session::{COOKIE, SignedIn};
use crate::app::AppState;

/// The session id in the request's cookies.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

/// Pages redirect to the sign-in; anything else gets 401.
pub async fn require_agent(State(app): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let signed_in = match session_cookie(request.headers()) {
        Some(id) => match app.console.current(id).await {
            Ok(found) => found,
            Err(e) => {
                return (StatusCode::SERVICE_UNAVAILABLE, format!("the store cannot say who you are: {e}"))
                    .into_response();
            }
        },
        None => None,
    };
    match signed_in {
        Some(signed_in) => {
            request.extensions_mut().insert(signed_in);
            next.run(request).await
        }
        None if request.method() == Method::GET && !is_fetch(request.headers()) => {
            Redirect::to("/console/sign-in").into_response()
        }
        None => (StatusCode::UNAUTHORIZED, "sign in at /console/sign-in").into_response(),
    }
}

/// A request made by the console's script (live updates): it gets 401, not a redirect to a page.
fn is_fetch(headers: &HeaderMap) -> bool {
    headers.get("x-console-live").is_some()
}

/// Refuses a state-changing request another site made the browser send.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) || from_this_site(request.headers()) {
        return next.run(request).await;
    }
    (StatusCode::FORBIDDEN, "refused: this request did not come from the console's own pages").into_response()
}

fn from_this_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (host, origin) {
        (Some(host), Some(origin)) => {
            origin.split_once("://").is_some_and(|(_, rest)| rest.trim_end_matches('/').eq_ignore_ascii_case(host))
        }
        // Neither header: not a browser form of this century; refused.
        _ => false,
    }
}

/// Whether a form's CSRF token is the session's.
pub fn csrf_ok(signed_in: &SignedIn, presented: &str) -> bool {
    bool::from(signed_in.session.csrf.as_bytes().ct_eq(presented.as_bytes()))
}
