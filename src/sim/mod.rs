//! A local Graph API: serves media, records the messages sent, and fails on demand. For development, demos,
//! tests and benchmarks; it speaks Meta's wire format (bearer token, request shapes, error objects).
//!
//! - As a server of its own: [`Simulator::start`] (random loopback port) or `wa-onboard sim --bind ADDR`.
//! - Inside the main app: [`in_app`] gives a router to mount under `/_sim` when no access token is configured.
//!
//! Endpoints (relative to the base URL):
//! - `POST /{version}/{phone_number_id}/messages`: send or mark read, like Meta.
//! - `GET /{version}/{media_id}`: media lookup; `GET /_media/{token}`: download (URLs expire).
//! - `GET /messages`: the messages sent so far (JSON), in the order received; `?since=N` skips the first N (a
//!   poller reads only what is new); `GET /_admin/reads`: the mark-as-read requests.
//! - `POST /_admin/media` `{id, bytes (base64), mime_type}`: register media.
//! - `POST /_admin/failures` `{kind, on?, count?, ...}`: queue a failure (see [`Failure`]).
//! - `POST /_admin/reset`: forget messages, reads and queued failures.
//!
//! With [`SimConfig::status_webhook`] set, each accepted message is followed by its signed `sent` status webhook.

mod routes;
mod statuses;
mod validate;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::config::{Config, Secret};

pub use routes::router;
pub use statuses::StatusWebhook;

/// The access token the simulator accepts when none is configured.
pub const SIM_ACCESS_TOKEN: &str = "sim-access-token";
/// The phone number id used when none is configured.
pub const SIM_PHONE_NUMBER_ID: &str = "100000000000001";

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The bearer token every request must carry.
    pub access_token: String,
    /// The business phone number id that may send; `None` accepts any.
    pub phone_number_id: Option<String>,
    /// How long a media download URL is valid (Meta: 5 minutes).
    pub media_url_ttl: Duration,
    /// Where a `sent` status of each accepted message goes, as Meta's webhooks; `None`: no statuses.
    pub status_webhook: Option<StatusWebhook>,
    /// Numbers reached only by a token of their own (another WhatsApp Business Account's system user): number id
    /// → token. Sending from such a number with any other token is refused, as Meta refuses a token without
    /// permission on it.
    pub number_tokens: std::collections::BTreeMap<String, String>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            access_token: SIM_ACCESS_TOKEN.into(),
            phone_number_id: None,
            media_url_ttl: Duration::from_secs(300),
            status_webhook: None,
            number_tokens: Default::default(),
        }
    }
}

/// Which kind of request a queued failure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// Sending a message.
    Messages,
    /// Marking a message read (same URL as sending).
    Read,
    MediaLookup,
    MediaDownload,
}

/// A failure to play on the next matching request. Each applies once, in the order queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// 429, code 130429: throughput limit.
    Throttled,
    /// 400, code 131056: too many messages to one user.
    PairRate,
    /// 500, code 131000: something went wrong.
    ServerError,
    /// Wait this long, then answer normally.
    Slow { delay_ms: u64 },
    /// 400, code 131047: outside the 24-hour window.
    WindowClosed,
    /// 401, code 190: the access token expired.
    TokenExpired,
    /// The download URL is answered 404 as if expired.
    ExpiredMediaUrl,
    /// The media lookup answers 404 (code 100, subcode 33).
    MediaNotFound,
    /// The download streams bytes without end (and without a length): a client must cap it.
    EndlessMedia,
    /// Any error answer.
    Error { status: u16, code: i64, message: String },
}

impl Failure {
    /// The endpoint a failure applies to unless told otherwise.
    pub fn default_endpoint(&self) -> Endpoint {
        match self {
            Self::ExpiredMediaUrl | Self::EndlessMedia => Endpoint::MediaDownload,
            Self::MediaNotFound => Endpoint::MediaLookup,
            _ => Endpoint::Messages,
        }
    }
}

/// A message the simulator accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedMessage {
    pub wamid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    /// `text`, `interactive`, `template`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The request body as received.
    pub body: Value,
    pub phone_number_id: String,
    pub received_at_ms: u64,
}

/// A mark-as-read request the simulator accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRead {
    pub message_id: String,
    pub typing_indicator: bool,
}

#[derive(Debug, Clone)]
struct Media {
    bytes: Bytes,
    mime_type: String,
    sha256_b64: String,
}

#[derive(Default)]
struct Inner {
    media: HashMap<String, Media>,
    /// Download token → (media id, expiry).
    urls: HashMap<String, (String, Instant)>,
    failures: VecDeque<(Endpoint, Failure)>,
    messages: Vec<RecordedMessage>,
    reads: Vec<RecordedRead>,
    counter: u64,
}

/// The simulator's state, shared by its routes and the Rust API.
pub struct SimState {
    config: Mutex<SimConfig>,
    public_base: Mutex<String>,
    inner: Mutex<Inner>,
    /// Sends the status webhooks.
    http: reqwest::Client,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SimState {
    /// `public_base` is the URL the simulator is reached at (download URLs are built from it).
    pub fn new(config: SimConfig, public_base: &str) -> Arc<Self> {
        Arc::new(Self {
            config: Mutex::new(config),
            public_base: Mutex::new(public_base.trim_end_matches('/').to_owned()),
            inner: Mutex::new(Inner::default()),
            http: reqwest::Client::new(),
        })
    }

    /// Starts (or stops, with `None`) sending a `sent` status webhook for each accepted message.
    pub fn set_status_webhook(&self, webhook: Option<StatusWebhook>) {
        lock(&self.config).status_webhook = webhook;
    }

    pub fn set_public_base(&self, base: &str) {
        *lock(&self.public_base) = base.trim_end_matches('/').to_owned();
    }

    pub fn public_base(&self) -> String {
        lock(&self.public_base).clone()
    }

    pub fn access_token(&self) -> String {
        lock(&self.config).access_token.clone()
    }

    /// Changes the accepted token (e.g. to play a rotated token).
    pub fn set_access_token(&self, token: &str) {
        lock(&self.config).access_token = token.to_owned();
    }

    /// Makes `phone_number_id` reachable only with `token` (see [`SimConfig::number_tokens`]).
    pub fn set_number_token(&self, phone_number_id: &str, token: &str) {
        lock(&self.config).number_tokens.insert(phone_number_id.to_owned(), token.to_owned());
    }

    pub fn set_media_url_ttl(&self, ttl: Duration) {
        lock(&self.config).media_url_ttl = ttl;
    }

    pub(crate) fn config(&self) -> SimConfig {
        lock(&self.config).clone()
    }

    /// Serves `bytes` as media `id`; the lookup reports `mime_type` and the bytes' SHA-256 (base64).
    pub fn register_media(&self, id: &str, bytes: impl Into<Bytes>, mime_type: &str) {
        let bytes = bytes.into();
        let sha256_b64 = base64_std(&Sha256::digest(&bytes));
        lock(&self.inner).media.insert(id.to_owned(), Media { bytes, mime_type: mime_type.to_owned(), sha256_b64 });
    }

    /// Queues a failure on its default endpoint.
    pub fn fail(&self, failure: Failure) {
        let on = failure.default_endpoint();
        self.fail_on(on, failure);
    }

    pub fn fail_on(&self, on: Endpoint, failure: Failure) {
        lock(&self.inner).failures.push_back((on, failure));
    }

    /// Failures still queued.
    pub fn pending_failures(&self) -> usize {
        lock(&self.inner).failures.len()
    }

    pub fn messages(&self) -> Vec<RecordedMessage> {
        lock(&self.inner).messages.clone()
    }

    /// The messages after the first `since` (none when there are not that many): what a poller has not read yet.
    pub fn messages_since(&self, since: usize) -> Vec<RecordedMessage> {
        let inner = lock(&self.inner);
        inner.messages.get(since..).map(<[RecordedMessage]>::to_vec).unwrap_or_default()
    }

    pub fn reads(&self) -> Vec<RecordedRead> {
        lock(&self.inner).reads.clone()
    }

    /// Forgets messages, reads and queued failures (media stays registered).
    pub fn reset(&self) {
        let mut inner = lock(&self.inner);
        inner.messages.clear();
        inner.reads.clear();
        inner.failures.clear();
    }

    pub(crate) fn next_failure(&self, on: Endpoint) -> Option<Failure> {
        let mut inner = lock(&self.inner);
        let index = inner.failures.iter().position(|(e, _)| *e == on)?;
        inner.failures.remove(index).map(|(_, f)| f)
    }

    fn next_id(&self) -> u64 {
        let mut inner = lock(&self.inner);
        inner.counter += 1;
        inner.counter
    }
}

pub(crate) fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A simulator serving on its own port.
pub struct SimHandle {
    /// e.g. `http://127.0.0.1:41234`: use it as `GRAPH_API_URL`.
    pub base_url: String,
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    task: JoinHandle<()>,
}

impl std::ops::Deref for SimHandle {
    type Target = SimState;
    fn deref(&self) -> &SimState {
        &self.state
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SimHandle {
    /// Stops serving (also done on drop).
    pub fn stop(self) {
        self.task.abort();
    }
}

pub struct Simulator;

impl Simulator {
    /// Starts on a random loopback port with the default settings (token [`SIM_ACCESS_TOKEN`]).
    pub async fn start() -> std::io::Result<SimHandle> {
        Self::start_with(SimConfig::default(), "127.0.0.1:0".parse().map_err(std::io::Error::other)?).await
    }

    pub async fn start_with(config: SimConfig, bind: SocketAddr) -> std::io::Result<SimHandle> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let state = SimState::new(config, &base_url);
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the simulator stopped");
            }
        });
        Ok(SimHandle { base_url, addr, state, task })
    }
}

/// The simulator mounted inside the main app, for `serve --dev` without a WhatsApp account.
pub struct InAppSim {
    /// Mount it with `app_router.nest(MOUNT_PATH, sim.router)`.
    pub router: Router,
    pub state: Arc<SimState>,
    /// What the Cloud API client should use as `GRAPH_API_URL`.
    pub graph_api_url: String,
    pub access_token: Secret,
    pub phone_number_id: String,
}

/// Where [`in_app`] expects to be mounted.
pub const MOUNT_PATH: &str = "/_sim";

/// In development mode (`serve --dev`) without `WHATSAPP_ACCESS_TOKEN`: a simulator to mount under [`MOUNT_PATH`],
/// and the client settings that point at it. Its access token is new at every start (printed in the start-up log)
/// and needed on every route, the inspection and admin ones included. `None` outside development mode or when a
/// real token is configured. If the app binds port 0, call `state.set_public_base(...)` with the real address.
pub fn in_app(config: &Config) -> Option<InAppSim> {
    if config.access_token.is_some() || !config.dev_mode {
        return None;
    }
    let token = format!("sim-{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let graph_api_url = format!("http://{}{MOUNT_PATH}", config.bind_addr);
    let phone_number_id = config.phone_number_id.clone().unwrap_or_else(|| SIM_PHONE_NUMBER_ID.to_owned());
    // A number given a token of its own is reached only with it, as at Meta.
    let number_tokens =
        config.numbers.iter().filter_map(|(id, n)| Some((id.clone(), n.access_token.as_ref()?.expose().to_owned())));
    let sim_config =
        SimConfig { access_token: token.clone(), number_tokens: number_tokens.collect(), ..SimConfig::default() };
    let state = SimState::new(sim_config, &graph_api_url);
    tracing::warn!(
        %graph_api_url,
        sim_token = %token,
        "no WHATSAPP_ACCESS_TOKEN: messages go to the built-in simulator; list them with \
         `curl -H 'Authorization: Bearer <sim_token>' {graph_api_url}/messages`"
    );
    Some(InAppSim {
        router: router(state.clone()),
        state,
        graph_api_url,
        access_token: Secret::new(token),
        phone_number_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_since_lists_only_what_came_after() {
        let sim = Simulator::start().await.expect("the simulator starts");
        let client = reqwest::Client::new();
        let mut wamids = Vec::new();
        for n in 0..3 {
            let body = serde_json::json!({
                "messaging_product": "whatsapp", "to": format!("52155000000{n}"), "type": "text",
                "text": {"body": format!("message {n}")}
            });
            let sent: Value = client
                .post(format!("{}/v23.0/100000000000001/messages", sim.base_url))
                .bearer_auth(SIM_ACCESS_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("the send is answered")
                .json()
                .await
                .expect("the answer is JSON");
            wamids.push(sent["messages"][0]["id"].as_str().expect("a wamid").to_owned());
        }
        let list = |since: Option<usize>| {
            let url = match since {
                Some(n) => format!("{}/messages?since={n}", sim.base_url),
                None => format!("{}/messages", sim.base_url),
            };
            let request = client.get(url).bearer_auth(SIM_ACCESS_TOKEN);
            async move {
                let listed: Vec<RecordedMessage> =
                    request.send().await.expect("listed").json().await.expect("a list of messages");
                listed.into_iter().map(|m| m.wamid).collect::<Vec<_>>()
            }
        };
        assert_eq!(list(None).await, wamids);
        assert_eq!(list(Some(0)).await, wamids);
        assert_eq!(list(Some(1)).await, wamids[1..]);
        assert!(list(Some(3)).await.is_empty());
        assert!(list(Some(10)).await.is_empty(), "past the end: nothing, not an error");
        assert_eq!(sim.messages_since(2).len(), 1);
    }
}
