//! `POST /providers/callback`: the final answer of a check a provider first answered `pending`. Signed like our
//! requests (`X-WaOnboard-Signature`, with the secret of the provider named in `X-WaOnboard-Provider`), checked
//! on the raw bytes before parsing, with a replay window.
//!
//! [`verify_callback`] is the pure check; [`callback_router`] is the axum route the app mounts, handing each
//! parsed answer to a [`CallbackSink`] (an mpsc sender works). The sink must be idempotent on
//! `(provider, reference)`: a provider may deliver the same callback again until it gets a 2xx. The replay window
//! is measured against the router's [`SharedClock`].

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::wire::{PROVIDER_HEADER, WireCallback, WireStatus};
use super::{Capability, ProviderAnswer};
use crate::clock::SharedClock;
use crate::config::Secret;
use crate::signing::{self, DEFAULT_TOLERANCE_SECS, SIGNATURE_HEADER, SignatureError};

pub const CALLBACK_PATH: &str = "/providers/callback";
const MAX_CALLBACK_BYTES: usize = 256 * 1024;

/// A verified, parsed final answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackAnswer {
    pub provider: String,
    pub capability: Capability,
    /// `conversation_id:attempt`, as sent in the request.
    pub correlation_id: String,
    /// The provider's reference, as given with `pending`.
    pub reference: String,
    pub answer: ProviderAnswer,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CallbackError {
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("unknown provider `{0}` (no secret configured for it)")]
    UnknownProvider(String),
    #[error("the callback body is not a valid final answer: {0}")]
    BadBody(String),
}

impl CallbackError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Signature(_) | Self::UnknownProvider(_) => StatusCode::UNAUTHORIZED,
            Self::BadBody(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// Checks the signature on the raw body (at `now`, unix seconds), then parses it. A callback must be final:
/// `pending` is refused. `provider` in the body must match `X-WaOnboard-Provider` when that header is present.
pub fn verify_callback(
    secret: &Secret,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<CallbackAnswer, CallbackError> {
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    signing::verify(secret.expose().as_bytes(), header, body, now, DEFAULT_TOLERANCE_SECS)?;
    let wire: WireCallback = serde_json::from_slice(body).map_err(|e| CallbackError::BadBody(e.to_string()))?;
    if let Some(named) = headers.get(PROVIDER_HEADER).and_then(|v| v.to_str().ok())
        && named != wire.provider
    {
        return Err(CallbackError::BadBody(format!(
            "provider `{}` in the body, `{named}` in the header",
            wire.provider
        )));
    }
    if wire.answer.status == WireStatus::Pending {
        return Err(CallbackError::BadBody("a callback must carry a final status, not pending".to_owned()));
    }
    let reference = match &wire.answer.reference {
        Some(r) if !r.is_empty() => r.clone(),
        _ => return Err(CallbackError::BadBody("reference is missing".to_owned())),
    };
    let answer = wire.answer.into_answer(&wire.provider, 0).map_err(CallbackError::BadBody)?;
    Ok(CallbackAnswer {
        provider: wire.provider,
        capability: wire.capability,
        correlation_id: wire.correlation_id,
        reference,
        answer,
    })
}

/// Where verified callbacks go (the verification job's resume path).
#[async_trait]
pub trait CallbackSink: Send + Sync + 'static {
    /// `Err` answers 503, so the provider delivers again later.
    async fn deliver(&self, answer: CallbackAnswer) -> anyhow::Result<()>;
}

#[async_trait]
impl CallbackSink for tokio::sync::mpsc::Sender<CallbackAnswer> {
    async fn deliver(&self, answer: CallbackAnswer) -> anyhow::Result<()> {
        self.send(answer).await.map_err(|_| anyhow::anyhow!("callback receiver closed"))
    }
}

#[derive(Clone)]
struct CallbackState {
    secrets: Arc<HashMap<String, Secret>>,
    sink: Arc<dyn CallbackSink>,
    clock: SharedClock,
}

/// The route `POST /providers/callback`. `secrets` maps each configured provider name to its secret; signature
/// timestamps are checked against `clock`.
/// Answers: 204 delivered; 401 unknown provider or bad/stale signature; 400 a signed body that is not a final
/// answer; 413 over 256 KiB; 503 the sink failed (the provider retries).
pub fn callback_router(secrets: HashMap<String, Secret>, sink: Arc<dyn CallbackSink>, clock: SharedClock) -> Router {
    let state = CallbackState { secrets: Arc::new(secrets), sink, clock };
    Router::new().route(CALLBACK_PATH, post(handle)).layer(DefaultBodyLimit::max(MAX_CALLBACK_BYTES)).with_state(state)
}

async fn handle(State(state): State<CallbackState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let named = headers.get(PROVIDER_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let secret = match &named {
        Some(name) => state.secrets.get(name),
        // Without the header, only an unambiguous configuration can tell the secret.
        None if state.secrets.len() == 1 => state.secrets.values().next(),
        None => None,
    };
    let Some(secret) = secret else {
        let error = CallbackError::UnknownProvider(named.unwrap_or_default());
        tracing::warn!(%error, "provider callback refused");
        return error.status();
    };
    match verify_callback(secret, &headers, &body, state.clock.now_secs() as i64) {
        Ok(answer) => {
            let (provider, reference) = (answer.provider.clone(), answer.reference.clone());
            match state.sink.deliver(answer).await {
                Ok(()) => StatusCode::NO_CONTENT,
                Err(e) => {
                    tracing::error!(%provider, %reference, error = %e, "provider callback not delivered");
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "provider callback refused");
            error.status()
        }
    }
}
