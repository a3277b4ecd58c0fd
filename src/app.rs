//! Wiring: from a [`Config`] to a running HTTP server, with one shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::config::{Config, StoreConfig};
use crate::metrics::Metrics;
use crate::store::{self, IngressStore};
use crate::{ops, webhook};

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn IngressStore>,
    pub metrics: Metrics,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/webhook", get(webhook::routes::handshake).post(webhook::routes::receive))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        // route_layer: runs after routing, so the route template is known; 413s are counted too.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), ops::track_latency))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state)
}

/// A server bound to its address, not yet serving.
pub struct App {
    pub state: Arc<AppState>,
    listener: tokio::net::TcpListener,
}

impl App {
    /// Opens the store and binds the address (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = store::open(&config.store, config.dedupe_ttl).await?;
        Self::with_store(config, store).await
    }

    /// Like [`App::build`] with a store made by the caller (tests share one store between apps).
    pub async fn with_store(config: Config, store: Arc<dyn IngressStore>) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(config.bind_addr)
            .await
            .with_context(|| format!("cannot listen on BIND_ADDR={}", config.bind_addr))?;
        let state = Arc::new(AppState { config, store, metrics: Metrics::new() });
        Ok(Self { state, listener })
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        let config = &self.state.config;
        match &config.store {
            StoreConfig::Memory => tracing::warn!(
                "no REDIS_URL: running on the in-memory store and job queue (one process only, lost on restart)"
            ),
            StoreConfig::Redis { key_prefix, .. } => tracing::info!(%key_prefix, "using Redis for state and jobs"),
        }
        tracing::info!(%addr, "listening: POST/GET /webhook, GET /healthz /readyz /metrics");
        axum::serve(self.listener, router(self.state.clone()))
            .with_graceful_shutdown(shutdown)
            .await
            .context("the HTTP server stopped with an error")
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
