//! The routes of `/api/v1` for a person's rights (see docs/privacy.md): erase everything held about them, export
//! it, and read a conversation's audit trail with the proof that its chain holds.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::cases::ApiError;
use super::error;
use crate::app::AppState;
use crate::flow::state::UserKey;
use crate::privacy::erase::ErasureReceipt;
use crate::privacy::{Export, PrivacyError};
use crate::store::audit_chain::Verification;
use crate::store::conversation::AuditRecord;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// The business phone number id the user wrote to [default: `WHATSAPP_PHONE_NUMBER_ID`, or the built-in
    /// simulator's in development mode].
    phone_number_id: Option<String>,
    /// Export only: include the photos themselves, base64.
    #[serde(default)]
    photos: bool,
}

fn user_key(app: &AppState, user: String, query: &UserQuery) -> Result<UserKey, Box<Response>> {
    // Development mode without a token talks to the built-in simulator's number.
    let configured = match (&app.config.phone_number_id, app.config.dev_mode && app.config.access_token.is_none()) {
        (Some(id), _) => Some(id.clone()),
        (None, true) => Some(crate::sim::SIM_PHONE_NUMBER_ID.to_owned()),
        (None, false) => None,
    };
    let phone_number_id = query.phone_number_id.clone().or(configured);
    match phone_number_id {
        Some(phone_number_id) if !user.trim().is_empty() => Ok(UserKey { phone_number_id, user }),
        Some(_) => Err(Box::new(error(StatusCode::BAD_REQUEST, "the user is empty"))),
        None => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "give ?phone_number_id= (WHATSAPP_PHONE_NUMBER_ID is not set)",
        ))),
    }
}

fn unavailable(e: PrivacyError) -> Response {
    error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

/// `DELETE /api/v1/users/{user}`: erases everything held about the user and answers the receipt. Erasing again
/// answers 200 with zero counts.
#[utoipa::path(delete, path = "/api/v1/users/{user}", tag = "privacy", params(("user" = String, Path), UserQuery),
    security(("bearer" = [])),
    responses((status = 200, body = ErasureReceipt), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 503, body = ApiError)))]
pub async fn erase(
    State(app): State<Arc<AppState>>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(user): Path<String>,
    Query(query): Query<UserQuery>,
) -> Response {
    let key = match user_key(&app, user, &query) {
        Ok(key) => key,
        Err(answer) => return *answer,
    };
    match app.privacy.erase(&key, &format!("api:{caller}")).await {
        Ok(receipt) => Json(receipt).into_response(),
        Err(e) => unavailable(e),
    }
}

/// `GET /api/v1/users/{user}/export`: everything held about the user as one JSON document (`?photos=true` for
/// the photos themselves).
#[utoipa::path(get, path = "/api/v1/users/{user}/export", tag = "privacy", params(("user" = String, Path), UserQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Export), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 503, body = ApiError)))]
pub async fn export(
    State(app): State<Arc<AppState>>,
    Extension(Caller(caller)): Extension<Caller>,
    Path(user): Path<String>,
    Query(query): Query<UserQuery>,
) -> Response {
    let key = match user_key(&app, user, &query) {
        Ok(key) => key,
        Err(answer) => return *answer,
    };
    tracing::info!(caller, user = %crate::privacy::masked(&key.user), photos = query.photos, "export");
    match app.privacy.export(&key, query.photos).await {
        Ok(export) => Json(export).into_response(),
        Err(e) => unavailable(e),
    }
}

/// A conversation's audit trail and whether its hash chain holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditTrail {
    pub conversation_id: String,
    /// Oldest first: the records of this conversation.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<AuditRecord>,
    /// The check of the user's whole trail (every conversation of theirs is in one chain).
    #[schema(value_type = Object)]
    pub verification: Verification,
}

/// `GET /api/v1/conversations/{id}/audit`: the conversation's audit records, oldest first, with the check of
/// their hash chain.
#[utoipa::path(get, path = "/api/v1/conversations/{id}/audit", tag = "privacy", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = AuditTrail), (status = 401, body = ApiError), (status = 404, body = ApiError),
        (status = 503, body = ApiError)))]
pub async fn audit(State(app): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let conversations = &app.conversations;
    let user = match conversations.user_of(&id).await {
        Ok(Some(user)) => user,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no conversation {id} (unknown, expired or erased)")),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let chain = match conversations.audit_chain(&user).await {
        Ok(chain) => chain,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let verification = crate::store::audit_chain::verify(&chain);
    let records = chain
        .links
        .iter()
        .filter_map(|l| serde_json::from_str::<AuditRecord>(&l.json).ok())
        .filter(|r| r.conversation_id == id)
        .collect();
    Json(AuditTrail { conversation_id: id, records, verification }).into_response()
}
