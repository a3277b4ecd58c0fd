//! Wiring: from a [`Config`] to a running HTTP server and workers, with one shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::agent::link::LinkSigner;
use crate::clock::SharedClock;
use crate::cloud::Cloud;
use crate::config::{Config, StoreConfig};
use crate::conversation::dispatch::Dispatcher;
use crate::conversation::flows::FlowRegistry;
use crate::conversation::handlers::{EventHandler, InboundHandler};
use crate::conversation::outbound::OutboundHandler;
use crate::conversation::runner::Runner;
use crate::http::{Draining, Server, ServerHandle, gate};
use crate::jobs::Queues;
use crate::jobs::event::EventJob;
use crate::jobs::health::WorkerHealth;
use crate::jobs::notify::NotifyJob;
use crate::jobs::worker::Handler;
use crate::metrics::Metrics;
use crate::store::conversation::ConversationStore;
use crate::store::queue::JobQueue;
use crate::store::{Backend, IngressStore};
use crate::verify::job::Verifier;
use crate::workers::Handlers;
use crate::{ops, webhook};

pub struct AppState {
    pub config: Config,
    /// Every store (reports read across several).
    pub backend: Backend,
    pub clock: SharedClock,
    pub store: Arc<dyn IngressStore>,
    pub metrics: Arc<Metrics>,
    /// Set once Meta refused the access token (190): /readyz reports it.
    pub token_expired: Arc<AtomicBool>,
    pub links: LinkSigner,
    pub conversations: Arc<dyn ConversationStore>,
    pub events: Arc<dyn JobQueue<EventJob>>,
    /// Which queues have a live worker in this process (`/readyz` and metrics).
    pub workers: Arc<WorkerHealth>,
    /// Cases for people to take over, and the tokens of `/api/v1`.
    pub cases: Arc<dyn crate::store::CaseStore>,
    pub api_tokens: Arc<dyn crate::store::api_tokens::ApiTokenStore>,
    /// What agents do with cases (the console and `/api/v1`).
    pub desk: crate::agent::desk::Desk,
    /// Who is signed in to the console.
    pub console: crate::console::session::Sessions,
    /// The flows (the console offers their steps to return a case to).
    pub flows: Arc<FlowRegistry>,
    /// Erasure and export of one person's data.
    pub privacy: crate::privacy::Privacy,
}

pub fn router(state: Arc<AppState>) -> Router {
    // With METRICS_ADDR, /metrics is only on that internal address.
    let metrics_route = match state.config.metrics_addr {
        None => Router::new().route("/metrics", get(ops::metrics)),
        Some(_) => Router::new(),
    };
    Router::new()
        .route("/webhook", get(webhook::routes::handshake).post(webhook::routes::receive))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/agent/outcome", post(crate::agent::outcome::receive))
        .route(crate::verify::providers::media_link::ROUTE, get(crate::verify::providers::media_link::serve))
        .route("/agent/handoff", get(crate::agent::outcome::handoff_page))
        // route_layer: runs after routing, so the route template is known; 413s are counted too.
        .merge(metrics_route)
        .merge(crate::api::router(state.clone()))
        .merge(crate::console::router(state.clone()))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), ops::track_latency))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .with_state(state)
}

/// Whether this process runs the workers (the default) or only serves HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    Run,
    None,
}

/// A server bound to its address, not yet serving.
pub struct App {
    /// How providers reach this service: PUBLIC_BASE_URL, else the bound address.
    pub public_base: String,
    pub state: Arc<AppState>,
    pub backend: Backend,
    pub runner: Arc<Runner>,
    pub cloud: Arc<Cloud>,
    /// The handler of every kind of job (workers run them; tests can run them step by step).
    pub handlers: Arc<Handlers>,
    listener: tokio::net::TcpListener,
    workers: Workers,
    shutdown: CancellationToken,
}

/// Loads the flows, failing with every problem found.
pub fn load_flows(config: &Config) -> anyhow::Result<Arc<FlowRegistry>> {
    let registry = FlowRegistry::load(&config.flows_dir, &config.default_flow)
        .and_then(|registry| registry.with_numbers(&config.numbers))
        .map_err(|problems| {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("the flows in {} have problems:\n{}", config.flows_dir.display(), text.join("\n"))
        })?;
    Ok(Arc::new(registry))
}

impl App {
    /// Opens the store and binds the address (port 0 picks a free port).
    pub async fn build(config: Config, workers: Workers) -> anyhow::Result<Self> {
        let backend = Backend::for_config(&config).await?;
        Self::with_backend(config, backend, workers).await
    }

    /// Like [`App::build`] with a backend made by the caller (tests look inside it).
    pub async fn with_backend(config: Config, backend: Backend, workers: Workers) -> anyhow::Result<Self> {
        let flows = load_flows(&config)?;
        let conversations = backend.conversations();
        flows.publish(conversations.as_ref()).await.context("cannot keep the flow versions in the store")?;
        let listener = tokio::net::TcpListener::bind(config.bind_addr)
            .await
            .with_context(|| format!("cannot listen on BIND_ADDR={}", config.bind_addr))?;
        let public_base = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", listener.local_addr().unwrap_or(config.bind_addr)));
        let own_handoff = format!("{public_base}/agent/handoff");
        let links = LinkSigner::new(
            config.agent_link.base_url.clone().unwrap_or(own_handoff),
            config.agent_link.secret.clone(),
            config.agent_link.ttl_secs,
        );
        let cloud = Arc::new(Cloud::new(&config, &backend, listener.local_addr()?)?);
        let queues = Queues::new(backend.clone());
        let metrics = Arc::new(Metrics::new());
        let runner = Arc::new(Runner {
            flows,
            store: conversations.clone(),
            dispatcher: Dispatcher {
                queues: queues.clone(),
                links: links.clone(),
                vault: Some(cloud.vault.clone()),
                cases: Some(backend.cases()),
                external_agents: config.agent_link.base_url.is_some(),
                send_order: backend.send_order(),
            },
            clock: backend.clock(),
            retention: backend.retention(),
            journeys: backend.journeys(),
            metrics: metrics.clone(),
        });
        let has_reengage_template = config.reengage_template.is_some();
        let console_config = config.console.clone();
        let state = Arc::new(AppState {
            config,
            backend: backend.clone(),
            clock: backend.clock(),
            store: backend.ingress(),
            workers: metrics.workers.clone(),
            metrics: metrics.clone(),
            token_expired: cloud.api.token_expired_flag(),
            links,
            conversations,
            events: queues.of::<EventJob>(),
            cases: backend.cases(),
            api_tokens: backend.api_tokens(),
            console: crate::console::session::Sessions {
                agents: backend.agents(),
                config: console_config,
                clock: backend.clock(),
            },
            flows: runner.flows.clone(),
            privacy: crate::privacy::Privacy::new(backend.clone(), cloud.vault.clone()).with_metrics(metrics.clone()),
            desk: crate::agent::desk::Desk {
                cases: backend.cases(),
                conversations: backend.conversations(),
                queues: queues.clone(),
                vault: cloud.vault.clone(),
                sent: backend.values(crate::whatsapp::sender::SENT_LOG_NAMESPACE),
                delivery: cloud.delivery.clone(),
                clock: backend.clock(),
                has_reengage_template,
                metrics: metrics.clone(),
                send_order: backend.send_order(),
            },
        });
        let handlers = Arc::new(handlers(&state, &backend, &runner, &cloud, &public_base, &queues));
        Ok(Self {
            public_base,
            state,
            backend,
            runner,
            cloud,
            handlers,
            listener,
            workers,
            shutdown: CancellationToken::new(),
        })
    }

    /// On SIGHUP, reloads the flows (see [`spawn_flow_reload`]) and the access token; watches the token file.
    pub fn reload_flows_on_hangup(&self) {
        spawn_flow_reload(self.runner.flows.clone(), self.backend.clone(), self.shutdown.clone());
        if self.cloud.sim.is_none() {
            let file = self.state.config.access_token_file.clone();
            crate::whatsapp::token_reload::spawn(self.cloud.api.clone(), file, self.shutdown.clone());
        }
    }

    /// Stops the workers started with [`App::spawn_workers`].
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    pub fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Starts the workers of this process. On stop they get the grace period less a margin for handing back
    /// what is still running and closing the connections.
    pub async fn spawn_workers(&self) -> Vec<JoinHandle<()>> {
        let grace = worker_grace(self.state.config.shutdown_grace);
        self.handlers.spawn(&self.backend, &self.state.config.workers, &self.shutdown, &self.state.workers, grace).await
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on `METRICS_ADDR` when it is set.
    pub async fn spawn_metrics_server(&self) -> anyhow::Result<Option<ServerHandle>> {
        let Some(addr) = self.state.config.metrics_addr else { return Ok(None) };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on METRICS_ADDR={addr}"))?;
        tracing::info!(%addr, "metrics: GET /metrics /healthz /readyz");
        let server = Server { listener, limits: self.state.config.http, metrics: self.state.metrics.clone() };
        Ok(Some(server.spawn(ops_router(self.state.clone()))))
    }

    /// Stops the workers by `deadline`: those still running then are aborted (a Redis worker has handed its
    /// jobs back to the queue before that).
    pub async fn stop_workers(&self, workers: Vec<JoinHandle<()>>, deadline: Instant) {
        Self::stop_workers_of(&self.shutdown, workers, deadline).await;
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and stops the workers.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        let config = &self.state.config;
        match &config.store {
            StoreConfig::Memory => tracing::warn!(
                "no REDIS_URL: running on the in-memory store and job queues (one process only, lost on restart)"
            ),
            StoreConfig::Redis { key_prefix, .. } => tracing::info!(%key_prefix, "using Redis for state and jobs"),
        }
        for flow in self.runner.flows.current() {
            tracing::info!(flow = flow.id(), version = %flow.version, "flow loaded");
        }
        let workers = if self.workers == Workers::Run { self.spawn_workers().await } else { Vec::new() };
        self.reload_flows_on_hangup();
        tracing::info!(%addr, workers = workers.len(), "listening: POST/GET /webhook, GET /healthz /readyz /metrics");
        let mut app = router(self.state.clone());
        let (secrets, veriff) = provider_callback_secrets(&self.runner.flows);
        let sink = Arc::new(crate::verify::job::ResumeOnCallback {
            conversations: self.backend.conversations(),
            verify: Queues::new(self.backend.clone()).of(),
        });
        if !secrets.is_empty() {
            let clock = self.backend.clock();
            app = app.merge(crate::verify::providers::callback::callback_router(secrets, sink.clone(), clock));
        }
        if !veriff.is_empty() {
            app = app.merge(crate::verify::providers::veriff::veriff_router(veriff, sink));
        }
        if let Some(sim) = &self.cloud.sim {
            app = app.nest(crate::sim::MOUNT_PATH, sim.router.clone());
        }
        let draining = Draining::default();
        let limits = config.http;
        let (body_limit, body_timeout) = (config.max_body_bytes, limits.body_timeout);
        let drain = draining.clone();
        let app = app
            .layer(axum::middleware::from_fn(move |request, next| {
                gate::read_body_in_time(body_limit, body_timeout, request, next)
            }))
            .layer(axum::middleware::from_fn(move |request, next| {
                gate::refuse_while_draining(drain.clone(), request, next)
            }));
        let metrics_server = self.spawn_metrics_server().await?;
        let grace = config.shutdown_grace;
        let server = Server { listener: self.listener, limits, metrics: self.state.metrics.clone() }.spawn(app);
        shutdown.await;
        // The stop: 503 to new requests, the workers finish or hand back their jobs, then the connections close.
        let deadline = Instant::now() + grace;
        draining.start();
        tracing::info!(grace_secs = grace.as_secs(), "draining: new requests get 503; workers finish their jobs");
        let connections_margin = (grace / 10).min(Duration::from_secs(1));
        let stopping = Self::stop_workers_of(&self.shutdown, workers, deadline - connections_margin);
        stopping.await;
        server.close(deadline).await;
        if let Some(metrics_server) = metrics_server {
            metrics_server.close(deadline).await;
        }
        tracing::info!("stopped");
        Ok(())
    }

    async fn stop_workers_of(shutdown: &CancellationToken, workers: Vec<JoinHandle<()>>, deadline: Instant) {
        shutdown.cancel();
        for mut worker in workers {
            if tokio::time::timeout_at(deadline, &mut worker).await.is_err() {
                tracing::warn!("a worker was still running at the end of the grace period: aborted");
                worker.abort();
            }
        }
    }
}

/// What a worker may spend finishing its jobs on stop: the grace period less what handing back and closing take.
pub fn worker_grace(grace: Duration) -> Duration {
    grace.saturating_sub(Duration::from_secs(2)).max(grace / 2)
}

/// `/healthz`, `/readyz` and `/metrics` alone (the internal address of `METRICS_ADDR`).
pub fn ops_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}

fn reengage_template(config: &Config) -> Option<crate::whatsapp::message::OutboundMessage> {
    let (name, language) = config.reengage_template.clone()?;
    match crate::whatsapp::message::OutboundMessage::template(name, language, Vec::new()) {
        Ok(template) => Some(template),
        Err(e) => {
            tracing::error!(error = %e, "WHATSAPP_REENGAGE_TEMPLATE is not a valid template: not used");
            None
        }
    }
}

/// The company webhook's client, or only a log line per outcome when none is configured (or it cannot be built).
fn notify_handler(config: &Config, clock: &SharedClock) -> Arc<dyn Handler<NotifyJob>> {
    let Some((url, secret)) = &config.company_webhook else {
        return Arc::new(crate::conversation::notify::LogNotify);
    };
    match crate::conversation::notify::CompanyWebhook::new(url.clone(), secret.clone(), clock.clone()) {
        Ok(webhook) => Arc::new(webhook),
        Err(e) => {
            tracing::error!(error = %e, "the company webhook client cannot be built: outcomes are only logged");
            Arc::new(crate::conversation::notify::LogNotify)
        }
    }
}

/// The handler of every kind of job.
fn handlers(
    state: &AppState,
    backend: &Backend,
    runner: &Arc<Runner>,
    cloud: &Cloud,
    public_base: &str,
    queues: &Queues,
) -> Handlers {
    Handlers {
        notify: notify_handler(&state.config, &state.clock),
        inbound: Arc::new(InboundHandler {
            runner: runner.clone(),
            delivery: cloud.delivery.clone(),
            sent_log: cloud.sender.sent_log.clone(),
            metrics: state.metrics.clone(),
        }),
        events: Arc::new(EventHandler(runner.clone())),
        outbound: Arc::new(OutboundHandler {
            sender: cloud.sender.clone(),
            queue: queues.of(),
            metrics: state.metrics.clone(),
            recipients: Default::default(),
            send_order: backend.send_order(),
            reengage_template: reengage_template(&state.config),
            clock: state.clock.clone(),
        }),
        verify: Arc::new(Verifier {
            callback_url: format!("{public_base}{}", crate::verify::providers::callback::CALLBACK_PATH),
            public_base: public_base.to_owned(),
            api: cloud.api.clone(),
            media_limits: cloud.media_limits,
            vault: cloud.vault.clone(),
            flows: runner.flows.clone(),
            conversations: backend.conversations(),
            events: queues.of(),
            providers: Default::default(),
            clock: state.clock.clone(),
            metrics: state.metrics.clone(),
        }),
        erase: Arc::new(state.privacy.clone()),
    }
}

/// The callback secrets of every provider the current flows name, and the keys of their Veriff providers
/// (providers that cannot be built are reported by the verification job when it needs them).
fn provider_callback_secrets(
    flows: &FlowRegistry,
) -> (
    std::collections::HashMap<String, crate::config::Secret>,
    std::collections::HashMap<String, crate::verify::providers::veriff::VeriffWebhookKeys>,
) {
    let env = crate::config::Env::from_process();
    let mut secrets = std::collections::HashMap::new();
    let mut veriff = std::collections::HashMap::new();
    for flow in flows.current() {
        let providers = &flow.file.verification.providers;
        if providers.is_null() {
            continue;
        }
        let Ok(config) = serde_json::from_value::<crate::verify::providers::config::ProvidersConfig>(providers.clone())
        else {
            continue;
        };
        match config.build(&env, crate::clock::system()) {
            Ok(built) => {
                secrets.extend(built.callback_secrets());
                veriff.extend(built.veriff_keys());
            }
            Err(problems) => tracing::error!(flow = flow.id(), ?problems, "providers of this flow cannot be built"),
        }
    }
    (secrets, veriff)
}

/// On SIGHUP, reloads the flows; invalid new flows are reported and the running ones kept.
fn spawn_flow_reload(flows: Arc<FlowRegistry>, backend: Backend, shutdown: CancellationToken) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        loop {
            tokio::select! {
                _ = hangup.recv() => {}
                _ = shutdown.cancelled() => return,
            }
            match flows.reload() {
                Ok(loaded) => {
                    if let Err(e) = flows.publish(backend.conversations().as_ref()).await {
                        tracing::error!(error = %e, "flows reloaded but not kept in the store");
                    }
                    tracing::info!(?loaded, "flows reloaded; conversations in progress keep their version");
                }
                Err(problems) => {
                    for problem in problems {
                        tracing::error!("{problem}");
                    }
                    tracing::error!("flows NOT reloaded: the files have problems; the running flows are kept");
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (flows, backend, shutdown);
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
    tracing::info!("shutting down: finishing requests in flight (a second signal stops at once)");
}

/// Completes on the first Ctrl-C or SIGTERM; a second one exits the process at once (status 130).
pub async fn shutdown_signal_then_force() {
    shutdown_signal().await;
    tokio::spawn(async {
        shutdown_signal().await;
        eprintln!("second stop signal: exiting now, without waiting for jobs and requests in flight");
        std::process::exit(130);
    });
}
