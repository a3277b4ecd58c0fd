//! The agent console at `/console/`: server-rendered pages (maud) where people take over stuck onboardings. Every
//! page but the sign-in needs a signed-in agent; every state change must come from the console's own pages.
//!
//! - `password.rs`: argon2id hashes.
//! - `session.rs`: sign-in (with lockout), sessions on the backend, cookies.
//! - `auth.rs`: the gates (signed in, same origin, CSRF token).
//! - `reports.rs`: the supervisor's funnel page and its CSV.
//! - `routes.rs`: the handlers; they act through [`crate::agent::desk::Desk`], as `/api/v1` does.
//! - `pages/`: the HTML; `text.rs`: the console's words in es, pt, en.
//! - `assets/console/` (in the repository root): the stylesheet and the small live-update script, compiled in.

pub mod auth;
pub mod pages;
pub mod password;
pub mod reports;
pub mod routes;
pub mod session;
pub mod text;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

use crate::app::AppState;

pub fn router(state: Arc<AppState>) -> Router<Arc<AppState>> {
    let signed_in = Router::new()
        .route("/console/", get(routes::queue))
        .route("/console/queue/live", get(routes::queue_live))
        .route("/console/take-next", post(routes::take_next))
        .route("/console/sign-out", post(routes::sign_out))
        .route("/console/funnel", get(reports::page))
        .route("/console/funnel.csv", get(reports::csv))
        .route("/console/cases/{id}", get(routes::case))
        .route("/console/cases/{id}/live", get(routes::case_live))
        .route("/console/cases/{id}/claim", post(routes::claim))
        .route("/console/cases/{id}/assign", post(routes::assign))
        .route("/console/cases/{id}/messages", post(routes::message))
        .route("/console/cases/{id}/decision", post(routes::decision))
        .route("/console/cases/{id}/photos/{name}", get(routes::photo))
        .route_layer(axum::middleware::from_fn_with_state(state, auth::require_agent));
    Router::new()
        .route("/console", get(|| async { axum::response::Redirect::permanent("/console/") }))
        .route("/console/sign-in", get(routes::sign_in_page).post(routes::sign_in))
        .route("/console/assets/{file}", get(routes::asset))
        .merge(signed_in)
        .route_layer(axum::middleware::from_fn(auth::same_origin))
        .route_layer(axum::middleware::from_fn(routes::security_headers))
}

/// The development agent `serve --dev` signs in with.
pub const DEV_AGENT_EMAIL: &str = "dev@wa-onboard.local";

/// Makes (or, in development, gives a new password to) the development supervisor; answers its password.
pub async fn dev_agent(agents: &dyn crate::store::agents::AgentStore, now: u64) -> anyhow::Result<String> {
    use crate::store::agents::{AgentAccount, Role};
    let password = crate::signing::random_hex(10);
    let hash = password::hash(&password)?;
    let account = AgentAccount {
        email: DEV_AGENT_EMAIL.into(),
        name: "Dev Agent".into(),
        role: Role::Supervisor,
        password_hash: hash,
        disabled: false,
        created_at: now,
    };
    if !agents.add(&account).await? {
        agents.update(&account).await?;
    }
    Ok(password)
}
