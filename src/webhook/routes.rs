//! `GET /webhook` (the subscribe handshake) and `POST /webhook` (signed updates).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::envelope::Envelope;
use super::ingest::Batch;
use super::signature;
use crate::app::AppState;
use crate::jobs::inbound::InboundEvent;
use crate::metrics::{KindLabel, OutcomeLabel, ReasonLabel, StatusLabel, TypeLabel};
use crate::store::{Enqueued, KeptKind, KeptPayload};
use crate::telemetry::mask_phone;

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Echoes `hub.challenge` verbatim when the mode is `subscribe` and the token matches; 403 otherwise.
pub async fn handshake(State(app): State<Arc<AppState>>, Query(q): Query<Handshake>) -> Response {
    let token_ok = q
        .verify_token
        .as_deref()
        .is_some_and(|t| bool::from(t.as_bytes().ct_eq(app.config.verify_token.expose().as_bytes())));
    match (q.mode.as_deref(), token_ok, q.challenge) {
        (Some("subscribe"), true, Some(challenge)) => {
            tracing::info!("webhook subscription verified by Meta");
            ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response()
        }
        _ => {
            tracing::warn!("webhook handshake refused: wrong mode, token or missing challenge");
            (StatusCode::FORBIDDEN, "verification failed: wrong hub.mode or hub.verify_token\n").into_response()
        }
    }
}

/// Verifies, parses and durably records one webhook POST. 200 only once every message and status of the batch
/// is recorded; 503 when the store cannot be reached (Meta delivers again, and the dedupe claims make that safe).
pub async fn receive(State(app): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let outcome = |label| app.metrics.webhooks_received.get_or_create(&OutcomeLabel { outcome: label }).inc();
    let header_value = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = signature::verify(app.config.app_secret.expose().as_bytes(), header_value, &body) {
        outcome("bad_signature");
        app.metrics.signature_failures.get_or_create(&ReasonLabel { reason: e.label() }).inc();
        tracing::warn!(reason = e.label(), bytes = body.len(), "webhook refused: {e}");
        return (StatusCode::UNAUTHORIZED, format!("{e}\n")).into_response();
    }
    let received_at_ms = app.clock.now_ms();

    let envelope = match Envelope::parse(&body) {
        Ok(envelope) => envelope,
        Err(e) => {
            // Signed by Meta but unreadable: retrying cannot help, so keep it for an operator and acknowledge.
            let kept = KeptPayload {
                kind: KeptKind::InvalidEnvelope,
                reason: e.to_string(),
                body: String::from_utf8_lossy(&body).into_owned(),
                received_at_ms,
            };
            return match app.store.keep(&[kept], app.config.kept).await {
                Ok(()) => {
                    outcome("invalid_envelope");
                    app.metrics.payloads_kept.get_or_create(&KindLabel { kind: "invalid_envelope" }).inc();
                    tracing::warn!(error = %e, "signed webhook body is not an envelope; kept for inspection");
                    (StatusCode::OK, "kept for inspection: not a webhook envelope\n").into_response()
                }
                Err(store_error) => unavailable(&app, &store_error),
            };
        }
    };

    let batch = Batch::from_envelope(envelope, received_at_ms, &|number| app.config.numbers.serves(number));
    if !batch.kept.is_empty() {
        if let Err(e) = app.store.keep(&batch.kept, app.config.kept).await {
            return unavailable(&app, &e);
        }
        for kept in &batch.kept {
            let kind = match kept.kind {
                KeptKind::InvalidEnvelope => "invalid_envelope",
                KeptKind::InvalidItem => "invalid_item",
                KeptKind::OtherField => "other_field",
                KeptKind::UnknownNumber => "unknown_number",
            };
            app.metrics.payloads_kept.get_or_create(&KindLabel { kind }).inc();
        }
        tracing::info!(count = batch.kept.len(), "webhook items kept for inspection (other fields or unreadable)");
    }
    let results = match app.store.enqueue_inbound(&batch.jobs).await {
        Ok(results) => results,
        Err(e) => return unavailable(&app, &e),
    };
    for (job, result) in batch.jobs.iter().zip(results) {
        if result == Enqueued::Duplicate {
            app.metrics.duplicates.inc();
            tracing::debug!(key = %job.key, "duplicate delivery ignored");
            continue;
        }
        match &job.event {
            InboundEvent::Message { message_type, user_id, message, .. } => {
                app.metrics.messages_enqueued.get_or_create(&TypeLabel { r#type: message_type.clone() }).inc();
                let sender = user_id.as_deref().or(message.phone.as_deref()).unwrap_or("?");
                tracing::debug!(r#type = message_type.as_str(), from = %mask_phone(sender), "message queued");
            }
            InboundEvent::Status { status, .. } => {
                app.metrics
                    .statuses_recorded
                    .get_or_create(&StatusLabel { status: status.status.as_str().into() })
                    .inc();
            }
        }
    }
    outcome("accepted");
    StatusCode::OK.into_response()
}

fn unavailable(app: &AppState, error: &crate::store::StoreError) -> Response {
    app.metrics.webhooks_received.get_or_create(&OutcomeLabel { outcome: "unavailable" }).inc();
    tracing::error!(%error, "webhook not recorded; answering 503 so that Meta delivers it again");
    (StatusCode::SERVICE_UNAVAILABLE, "store unavailable, deliver again later\n").into_response()
}
