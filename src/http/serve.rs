//! The accept loop: a connection beyond the cap is answered `503` and closed at once (the listener keeps
//! answering, so `/healthz` never hangs behind a full accept queue); each accepted connection is served by hyper
//! under the watchdog of `connection.rs`; [`ServerHandle::close`] ends them all by a deadline.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

use super::connection::{Phase, Watched, overstay};
use crate::config::HttpLimits;
use crate::metrics::{Metrics, ReasonLabel};

const AT_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\n\
content-type: text/plain\r\ncontent-length: 41\r\n\r\ntoo many connections open: try again soon\n";

pub struct Server {
    pub listener: TcpListener,
    pub limits: HttpLimits,
    pub metrics: Arc<Metrics>,
}

/// A running server; [`ServerHandle::close`] stops it.
pub struct ServerHandle {
    close: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `router` until [`ServerHandle::close`].
    pub fn spawn(self, router: Router) -> ServerHandle {
        let close = CancellationToken::new();
        let task = tokio::spawn(accept_loop(self, router, close.clone()));
        ServerHandle { close, task }
    }
}

impl ServerHandle {
    /// Stops accepting, lets each connection finish its request in flight (idle ones close at once), and at
    /// `deadline` drops whatever is left.
    pub async fn close(mut self, deadline: Instant) {
        self.close.cancel();
        if tokio::time::timeout_at(deadline, &mut self.task).await.is_err() {
            tracing::warn!("connections still open at the end of the grace period: closed");
            self.task.abort();
        }
    }
}

async fn accept_loop(server: Server, router: Router, close: CancellationToken) {
    let Server { listener, limits, metrics } = server;
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut last_accept_error: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = close.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: wait a little instead of spinning; say so at most once a minute.
                if last_accept_error.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::error!(error = %e, "cannot accept connections (file descriptors exhausted?)");
                    last_accept_error = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            metrics.http_connections_refused.inc();
            connections.spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, metrics, close) = (router.clone(), metrics.clone(), close.clone());
        connections.spawn(async move {
            metrics.http_connections_open.inc();
            serve_connection(stream, router, limits, &metrics, close).await;
            metrics.http_connections_open.dec();
            drop(permit);
        });
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(AT_CAPACITY)).await;
    let _ = stream.shutdown().await;
}

/// Marks the request finished when its handler is done or dropped.
struct Finished(Arc<Phase>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    limits: HttpLimits,
    metrics: &Metrics,
    close: CancellationToken,
) {
    let phase = Phase::new();
    // The client's address, for handlers that count by it (the console's sign-in lockout).
    let peer = stream.peer_addr().ok();
    let watched = Watched { inner: stream, phase: phase.clone() };
    let in_service = phase.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        in_service.request_started();
        let finished = Finished(in_service.clone());
        let mut router = router.clone();
        async move {
            let mut request = request.map(Body::new);
            if let Some(peer) = peer {
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            }
            let response = router.call(request).await;
            drop(finished);
            Ok::<_, Infallible>(match response {
                Ok(response) => response,
                Err(never) => match never {},
            })
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The watchdog times headers (hyper's timer would also run while idle); keep-alive is on.
    builder.timer(TokioTimer::new()).header_read_timeout(None).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(watched), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        why = overstay(phase, limits) => {
            metrics.http_connections_timed_out.get_or_create(&ReasonLabel { reason: why }).inc();
            tracing::debug!(why, "connection closed by the server");
            return;
        }
        () = close.cancelled() => {}
    }
    // Stopping: answer the request in flight, then close (an idle connection closes at once).
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}
