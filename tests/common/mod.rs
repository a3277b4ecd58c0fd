//! The test harness: a real app on a random port, on either backend, and a client that signs like Meta.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use wa_onboard::app::{App, Workers};
use wa_onboard::clock::{FixedClock, SharedClock};
use wa_onboard::config::{Config, Env};
use wa_onboard::store::IngressStore;
use wa_onboard::webhook::signature;

/// Runs an async test body once per backend: `mod name { memory, redis }`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn memory() {
                ($body)(Backend::Memory, concat!(stringify!($name), "-memory")).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn redis() {
                ($body)(Backend::Redis, concat!(stringify!($name), "-redis")).await;
            }
        }
    };
}

pub const APP_SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const DEDUPE_TTL: Duration = Duration::from_secs(8 * 24 * 3600);

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Memory,
    Redis,
}

/// A key prefix no other test (or test run) uses: tests share one Redis politely.
pub fn unique_prefix(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("test:{name}:{}:{nanos}:{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Deletes every key under a prefix when dropped (KEYS on the test's own prefix, then UNLINK; never FLUSHDB).
pub struct RedisKeys {
    pub prefix: String,
}

impl RedisKeys {
    pub fn count(&self) -> usize {
        self.keys().len()
    }

    pub fn keys(&self) -> Vec<String> {
        let Some(mut conn) = sync_conn() else { return vec![] };
        let pattern = format!("{}*", self.prefix);
        // On a cluster, KEYS goes to every master and the answers are joined.
        redis::cmd("KEYS").arg(&pattern).query::<Vec<String>>(conn.as_mut()).unwrap_or_default()
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Some(mut conn) = sync_conn() {
            // On a cluster, one UNLINK per key: each goes to its own slot's master.
            for key in keys {
                let _: Result<(), _> = redis::cmd("UNLINK").arg(&key).query(conn.as_mut());
            }
        }
    }
}

/// A blocking connection to the tests' Redis (a cluster when `TEST_REDIS_URL` names one), for set-up and clean-up.
pub fn sync_conn() -> Option<Box<dyn redis::ConnectionLike>> {
    match wa_onboard::store::redis::RedisTarget::parse(&redis_url()).ok()? {
        wa_onboard::store::redis::RedisTarget::Cluster { nodes } => {
            let client = redis::cluster::ClusterClient::new(nodes).ok()?;
            Some(Box::new(client.get_connection().ok()?))
        }
        _ => Some(Box::new(redis::Client::open(redis_url()).ok()?.get_connection().ok()?)),
    }
}

/// Whether the tests run against a Redis Cluster (`TEST_REDIS_URL=redis+cluster://...`).
pub fn on_cluster() -> bool {
    redis_url().starts_with("redis+cluster://")
}

/// Partitions per queue of the tests' Redis backends (`TEST_QUEUE_PARTITIONS`, default 1): set it to 3 to run the
/// end-to-end tests with partitions. A process a test starts gets the same as `QUEUE_PARTITIONS`.
pub fn queue_partitions() -> usize {
    std::env::var("TEST_QUEUE_PARTITIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1)
}

pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![
        ("WHATSAPP_APP_SECRET", APP_SECRET),
        ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
        ("BIND_ADDR", "127.0.0.1:0"),
    ];
    pairs.extend_from_slice(extra);
    // Development mode: the in-app Graph API simulator is mounted (no access token is set in tests).
    Config::from_env(&Env::from_pairs(pairs), true).expect("test config is valid")
}

pub async fn open_backend(backend: Backend, name: &str) -> (wa_onboard::store::Backend, Option<RedisKeys>) {
    open_backend_at(backend, name, &redis_url()).await
}

pub async fn open_backend_at(
    backend: Backend,
    name: &str,
    url: &str,
) -> (wa_onboard::store::Backend, Option<RedisKeys>) {
    open_backend_with_clock(backend, name, url, wa_onboard::clock::system()).await
}

pub async fn open_backend_with_clock(
    backend: Backend,
    name: &str,
    url: &str,
    clock: SharedClock,
) -> (wa_onboard::store::Backend, Option<RedisKeys>) {
    match backend {
        Backend::Memory => (wa_onboard::store::Backend::memory(DEDUPE_TTL, clock), None),
        Backend::Redis => {
            let prefix = unique_prefix(name);
            // Generous: CI runs many apps on two busy cores; a timeout here would only retry a job later.
            let backend = wa_onboard::store::Backend::redis(url, &prefix, Duration::from_secs(2), DEDUPE_TTL, clock)
                .await
                .expect("Redis must be running for the tests (see README)")
                .with_queue_partitions(queue_partitions());
            (backend, Some(RedisKeys { prefix }))
        }
    }
}

/// The memory backend and a Redis backend (with its keys, deleted when dropped), for suites that run on both.
pub async fn both_backends(name: &str) -> Vec<(wa_onboard::store::Backend, Option<RedisKeys>)> {
    vec![open_backend(Backend::Memory, name).await, open_backend(Backend::Redis, name).await]
}

/// A running app and what a test needs to talk to it and look inside.
pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn IngressStore>,
    pub backend: wa_onboard::store::Backend,
    pub runner: Arc<wa_onboard::conversation::runner::Runner>,
    /// The handler of every kind of job, to run pending jobs step by step ([`TestApp::run_pending_jobs`]).
    pub handlers: Arc<wa_onboard::workers::Handlers>,
    /// Set when the app runs on a fixed clock ([`spawn_stepped_app`]).
    pub clock: Option<Arc<FixedClock>>,
    pub client: reqwest::Client,
    pub redis: Option<RedisKeys>,
    /// The in-app Graph API simulator (no access token is configured in tests).
    pub sim: Option<Arc<wa_onboard::sim::SimState>>,
    /// The in-app simulator's access token (new at every start), needed on its routes.
    pub sim_token: String,
    server: JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The HTTP side only: inbound jobs stay queued for the test to inspect.
pub async fn spawn_app(backend: Backend, name: &str) -> TestApp {
    let (backend, redis) = open_backend(backend, name).await;
    spawn_app_with(backend, redis, &[], Workers::None).await
}

/// HTTP and workers: the whole bot.
pub async fn spawn_running_app(backend: Backend, name: &str) -> TestApp {
    let (backend, redis) = open_backend(backend, name).await;
    spawn_app_with(backend, redis, &[("WORKER_POLL_MS", "20")], Workers::Run).await
}

/// The whole bot in memory with no workers running and a fixed clock: the test runs the jobs
/// ([`TestApp::run_pending_jobs`]) and moves time ([`TestApp::advance`]), so nothing waits or polls.
pub async fn spawn_stepped_app(extra: &[(&str, &str)]) -> TestApp {
    let clock = FixedClock::starting_now();
    let backend = wa_onboard::store::Backend::memory(DEDUPE_TTL, clock.clone());
    let mut app = spawn_app_with(backend, None, extra, Workers::None).await;
    app.clock = Some(clock);
    app
}

pub async fn spawn_app_with(
    backend: wa_onboard::store::Backend,
    redis: Option<RedisKeys>,
    extra: &[(&str, &str)],
    workers: Workers,
) -> TestApp {
    let mut pairs = vec![("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))];
    pairs.extend_from_slice(extra);
    let app = App::with_backend(config(&pairs), backend.clone(), workers).await.expect("app builds");
    let addr = app.local_addr().expect("bound");
    let runner = app.runner.clone();
    let handlers = app.handlers.clone();
    let sim = app.cloud.sim.as_ref().map(|s| s.state.clone());
    let sim_token = app.cloud.sim.as_ref().map(|s| s.access_token.expose().to_owned()).unwrap_or_default();
    let server = tokio::spawn(async move {
        let _ = app.run(std::future::pending()).await;
    });
    TestApp {
        base: format!("http://{addr}"),
        store: backend.ingress(),
        backend,
        runner,
        handlers,
        clock: None,
        client: reqwest::Client::new(),
        redis,
        sim,
        sim_token,
        server,
    }
}

impl TestApp {
    /// Runs every job that is due, and what they queue in turn, until nothing is due (memory backend only);
    /// answers how many ran.
    pub async fn run_pending_jobs(&self) -> usize {
        self.handlers.run_pending(&self.backend).await
    }

    /// Moves the fixed clock on (see [`spawn_stepped_app`]).
    pub fn advance(&self, by: Duration) {
        self.clock.as_ref().expect("the app runs on a fixed clock (spawn_stepped_app)").advance(by);
    }

    /// POSTs a body signed with the app secret, as Meta would.
    pub async fn post_signed(&self, body: impl Into<Vec<u8>>) -> reqwest::Response {
        let body = body.into();
        let header = signature::sign(APP_SECRET.as_bytes(), &body);
        self.post_with_header(body, Some(&header)).await
    }

    pub async fn post_with_header(&self, body: Vec<u8>, header: Option<&str>) -> reqwest::Response {
        let mut request = self.client.post(format!("{}/webhook", self.base)).header("content-type", "application/json");
        if let Some(h) = header {
            request = request.header("X-Hub-Signature-256", h);
        }
        request.body(body).send().await.expect("request reaches the app")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("request reaches the app")
    }

    /// GETs a route of the in-app simulator (`/_sim...`) with its token.
    pub async fn sim_get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{}{path}", self.base, wa_onboard::sim::MOUNT_PATH);
        self.client.get(url).bearer_auth(&self.sim_token).send().await.expect("request reaches the app")
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.unwrap()
    }
}

/// The value of one metric line (name with labels, exactly as rendered), or 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/webhooks")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A one-message text webhook with the given message id.
pub fn text_webhook(message_id: &str, body: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5215512345678", "user_id": "MX.1"}],
            "messages": [{"from": "5215512345678", "from_user_id": "MX.1", "id": message_id,
                          "timestamp": "1795000000", "type": "text", "text": {"body": body}}]}}]}]
    }))
    .unwrap()
}

/// A TCP proxy in front of Redis that a test can cut, to see what the app does when Redis goes away.
pub struct CuttableProxy {
    pub url: String,
    accept: JoinHandle<()>,
    connections: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl CuttableProxy {
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let target = target.to_owned();
        let connections: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(task);
            }
        });
        Self { url, accept, connections }
    }

    /// Closes the listening socket and every open connection: Redis is now unreachable through the proxy.
    pub fn cut(&self) {
        self.accept.abort();
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// A Redis connection for the stores that take one (to the cluster when `TEST_REDIS_URL` names one).
pub async fn redis_conn() -> wa_onboard::store::redis::RedisConn {
    wa_onboard::store::redis::connect(&redis_url(), Duration::from_secs(2))
        .await
        .expect("Redis must be running for the tests (see README)")
}

/// A Cloud API client pointed at a simulator.
pub fn sim_api(sim: &wa_onboard::sim::SimHandle) -> wa_onboard::whatsapp::CloudApi {
    let mut settings = wa_onboard::whatsapp::CloudApiSettings::new(
        &sim.base_url,
        "v23.0",
        "106540352242922",
        wa_onboard::config::Secret::new(wa_onboard::sim::SIM_ACCESS_TOKEN),
    );
    settings.timeout = Duration::from_secs(5);
    wa_onboard::whatsapp::CloudApi::new(settings).expect("client builds")
}

/// A client that does not follow redirects (a sign-in answers 303 with the session cookie).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Signs in to the console at `base` as a browser would (same-origin form POST); answers the response.
pub async fn console_sign_in(base: &str, email: &str, password: &str) -> reqwest::Response {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("email", email), ("password", password)])
        .finish();
    no_redirects()
        .post(format!("{base}/console/sign-in"))
        .header("origin", base)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
}

/// The `name=value` of the session cookie a sign-in set.
pub fn session_of(response: &reqwest::Response) -> String {
    let set = response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}
