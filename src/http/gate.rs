//! Middleware at the door: while the process drains, every request but the liveness probe (and the development
//! simulator, which the workers still talk to) gets `503` with `Connection: close`; and a request body must arrive
//! within the body timeout, else `408`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Set when a stop begins; shared by the server and the middleware.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Paths still served while draining.
fn served_while_draining(path: &str) -> bool {
    path == "/healthz" || path.starts_with(crate::sim::MOUNT_PATH)
}

fn closing(status: StatusCode, text: &'static str) -> Response {
    let mut response = (status, text).into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `503` and `Connection: close` while draining (a load balancer sends the request elsewhere).
pub async fn refuse_while_draining(draining: Draining, request: Request, next: Next) -> Response {
    if draining.is_draining() && !served_while_draining(request.uri().path()) {
        let mut response = closing(StatusCode::SERVICE_UNAVAILABLE, "shutting down: try another instance\n");
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    next.run(request).await
}

/// Reads the whole body within `timeout` (at most `limit` bytes) before the handler sees it: a client that trickles
/// its body gets `408` and its connection closed, one that sends too much `413`. The simulator's routes (dev only)
/// are passed through as they are.
pub async fn read_body_in_time(limit: usize, timeout: Duration, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(crate::sim::MOUNT_PATH) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => return closing(StatusCode::REQUEST_TIMEOUT, "the request body did not arrive in time\n"),
        Ok(Err(e)) if is_too_large(&e) => {
            return closing(StatusCode::PAYLOAD_TOO_LARGE, "the request body is larger than this endpoint accepts\n");
        }
        Ok(Err(_)) => return closing(StatusCode::BAD_REQUEST, "the request body could not be read\n"),
        Ok(Ok(bytes)) => bytes,
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn is_too_large(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}
