//! Operator endpoints: `GET /healthz` (the process is up), `GET /readyz` (the store answers), `GET /metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::metrics::RequestLabels;

pub async fn healthz() -> &'static str {
    "ok\n"
}

pub async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let token_expired = app.token_expired.load(std::sync::atomic::Ordering::Relaxed);
    app.metrics.token_expired.set(i64::from(token_expired));
    if token_expired {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the WhatsApp access token expired (Meta error 190); sends are held: write a new token to \
             WHATSAPP_ACCESS_TOKEN_FILE, or update .env and send SIGHUP\n",
        )
            .into_response();
    }
    if let Some(down) = app.workers.down_queues().first() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: no live worker for the {} queue (down for {} s; it is being restarted)\n",
                down.queue,
                down.down_for.as_secs()
            ),
        )
            .into_response();
    }
    match app.store.ping().await {
        Ok(()) => {
            app.metrics.store_up.set(1);
            (StatusCode::OK, format!("ready: {} store answers\n", app.store.backend_name())).into_response()
        }
        Err(e) => {
            app.metrics.store_up.set(0);
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response()
        }
    }
}

pub async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    app.metrics.token_expired.set(i64::from(app.token_expired.load(std::sync::atomic::Ordering::Relaxed)));
    // The queue as the store has it; a store that cannot answer leaves the last values.
    if let Ok(counts) = app.cases.counts().await {
        for (status, n) in counts {
            let label = crate::metrics::StatusLabel { status: status.as_str().to_owned() };
            app.metrics.cases.get_or_create(&label).set(n as i64);
        }
    }
    if let Ok(oldest) = app.cases.list(crate::store::case::CaseStatus::Waiting, 1).await {
        let waited = oldest.first().map_or(0, |c| app.clock.now_secs().saturating_sub(c.info.opened_at));
        app.metrics.case_oldest_waiting.set(waited as i64);
    }
    for (queue, depth) in crate::workers::queue_depths(&app.backend).await {
        let Ok(depth) = depth else { continue };
        for (state, n) in [("due", depth.due), ("scheduled", depth.scheduled), ("dead", depth.dead)] {
            let labels = crate::metrics::QueueStateLabels { queue, state };
            app.metrics.queue_jobs.get_or_create(&labels).set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], app.metrics.render()).into_response()
}

/// Records every request's latency by method, route template and status.
pub async fn track_latency(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let response = next.run(request).await;
    let labels = RequestLabels { method, route, status: response.status().as_u16() };
    app.metrics.request_duration.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    response
}
