//! Bearer tokens of `/api/v1`: `wao_` and 64 hex digits (256 random bits); the store keeps their SHA-256 only, and
//! a presented token's hash is compared with each in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::app::AppState;
use crate::store::api_tokens::ApiTokenStore;

/// A new token (shown once) and its hash (stored).
pub fn new_token() -> (String, String) {
    let token = format!("wao_{}", crate::signing::random_hex(32));
    let hash = hash(&token);
    (token, hash)
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The name of the token `presented` is, if it is one.
pub async fn token_name(
    store: &dyn ApiTokenStore,
    presented: &str,
) -> Result<Option<String>, crate::store::StoreError> {
    let presented = hash(presented);
    let mut found = None;
    for token in store.list().await? {
        if bool::from(token.hash.as_bytes().ct_eq(presented.as_bytes())) {
            found = Some(token.name);
        }
    }
    Ok(found)
}

/// The token's name, kept in the request for the handlers (and the audit).
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// 401 without a valid `Authorization: Bearer <token>`; 503 when the store cannot say.
pub async fn require_token(State(app): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(presented) = presented else {
        return super::error(StatusCode::UNAUTHORIZED, "an API token is required: Authorization: Bearer <token>");
    };
    match token_name(app.api_tokens.as_ref(), presented).await {
        Ok(Some(name)) => {
            request.extensions_mut().insert(Caller(name));
            next.run(request).await
        }
        Ok(None) => super::error(StatusCode::UNAUTHORIZED, "this API token is not valid (revoked, or never made)"),
        Err(e) => super::error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}
