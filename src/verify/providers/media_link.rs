//! Short-lived links that serve one photo, once, to a provider that fetches images instead of receiving them in
//! the request (`images: url` on an `http` provider). A link is `GET {public base}/media/{token}`: the token is
//! 32 random bytes (hex) naming a record kept in the store for [`LINK_TTL_SECS`]; the first `GET` takes the
//! record (atomically, so a second `GET`, or one after the lifetime, answers 404) and serves the photo from the
//! encrypted vault, never cached, and the view is written to the conversation's audit log.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::flow::state::UserKey;
use crate::store::StoreError;
use crate::store::conversation::{AuditRecord, ConversationStore};

/// How long a link may be used: long enough for a provider to fetch it while it answers the check.
pub const LINK_TTL_SECS: u64 = 300;
pub const ROUTE: &str = "/media/{token}";

/// What a link serves, and to whom it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaLink {
    pub user: UserKey,
    pub conversation_id: String,
    /// The vault's name of the photo (`<slot>-<media id>`).
    pub name: String,
    /// The provider the link was made for (for the audit log).
    pub provider: String,
}

fn key(token: &str) -> String {
    format!("media-link:{token}")
}

/// Makes a link to one photo; answers its URL under `base` (the service's public base URL).
pub async fn issue(conversations: &dyn ConversationStore, base: &str, link: &MediaLink) -> Result<String, StoreError> {
    let token = crate::signing::random_hex(32);
    let record = serde_json::to_string(link).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conversations.put_value(&key(&token), &record, LINK_TTL_SECS).await?;
    Ok(format!("{}/media/{token}", base.trim_end_matches('/')))
}

/// `GET /media/{token}`: 200 with the photo the first time within its lifetime; 404 otherwise (unknown, used or
/// expired: the same answer, so a link reveals nothing); 503 when the store cannot be read.
pub async fn serve(State(state): State<Arc<AppState>>, Path(token): Path<String>) -> Response {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return gone();
    }
    let record = match state.conversations.take_value(&key(&token)).await {
        Ok(Some(record)) => record,
        Ok(None) => return gone(),
        Err(e) => {
            tracing::warn!(error = %e, "media link not served: the store is unavailable");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Ok(link) = serde_json::from_str::<MediaLink>(&record) else { return gone() };
    let stored = match state.desk.vault.get(&link.conversation_id, &link.name).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return gone(),
        Err(e) => {
            tracing::warn!(error = %e, "media link not served: the vault is unavailable");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let record = AuditRecord {
        at: state.clock.now_secs(),
        conversation_id: link.conversation_id.clone(),
        actor: format!("provider:{}", link.provider),
        event: format!("photo {} fetched by {} through a one-time link", link.name, link.provider),
        event_key: format!("media-link:{}", &token[..16]),
        step_before: String::new(),
        step_after: String::new(),
        effects: Vec::new(),
        ..Default::default()
    };
    if let Err(e) = state.conversations.append_audit(&link.user, &[record]).await {
        tracing::warn!(error = %e, "media link view not audited");
    }
    let mime = HeaderValue::from_str(&stored.meta.mime_type).unwrap_or(HeaderValue::from_static("image/jpeg"));
    let mut response = (StatusCode::OK, stored.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, mime);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn gone() -> Response {
    (StatusCode::NOT_FOUND, "this link is unknown, was already used, or has expired\n").into_response()
}
