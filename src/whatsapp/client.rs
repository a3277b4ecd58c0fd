//! The Cloud API client: sends messages, marks them read, and is the one place that holds the access token.
//!
//! A `190` (token expired) answer sets a flag shared by every clone of the client: from then on sends fail fast
//! with [`GraphError::TokenExpired`] without calling Meta, and [`CloudApi::token_expired`] reports it to
//! `/readyz` and metrics. The flag is cleared by [`CloudApi::reset_token_expired`] once the token is replaced.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::GraphError;
use super::message::{OutboundMessage, Recipient, log_line, mark_read_wire};
use crate::config::{Config, Secret};

/// Where and how to reach the Graph API.
#[derive(Debug, Clone)]
pub struct CloudApiSettings {
    /// e.g. `https://graph.facebook.com`, or a simulator's base URL.
    pub base_url: String,
    /// e.g. `v23.0`.
    pub version: String,
    pub phone_number_id: String,
    pub access_token: Secret,
    /// Tokens of business numbers that have their own (`WHATSAPP_ACCESS_TOKEN_<phone number id>`): used for what
    /// is sent from that number and the media it received; every other number uses `access_token`.
    pub number_tokens: std::collections::BTreeMap<String, Secret>,
    /// Whole-request timeout for sends and media lookups (media downloads set their own).
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl CloudApiSettings {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

    pub fn new(base_url: &str, version: &str, phone_number_id: &str, access_token: Secret) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            version: version.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            access_token,
            number_tokens: Default::default(),
            timeout: Self::DEFAULT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// From the service configuration: needs `WHATSAPP_ACCESS_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let token = config.access_token.clone().ok_or_else(|| {
            anyhow::anyhow!("WHATSAPP_ACCESS_TOKEN is not set: it is needed to send messages and download media")
        })?;
        let phone = config.phone_number_id.as_deref().ok_or_else(|| {
            anyhow::anyhow!("WHATSAPP_PHONE_NUMBER_ID is not set: the business phone number id that sends messages")
        })?;
        Ok(Self::new(&config.graph_api_url, &config.graph_api_version, phone, token).with_number_tokens(config))
    }

    /// With the numbers' own tokens of the configuration (`WHATSAPP_ACCESS_TOKEN_<number>`).
    pub fn with_number_tokens(mut self, config: &Config) -> Self {
        self.number_tokens =
            config.numbers.iter().filter_map(|(id, n)| Some((id.clone(), n.access_token.clone()?))).collect();
        self
    }
}

/// Meta accepted the message (not yet delivered: delivery arrives as status webhooks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub wamid: String,
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<MessageId>,
}

#[derive(Deserialize)]
struct MessageId {
    id: String,
}

#[derive(Clone)]
pub struct CloudApi {
    http: reqwest::Client,
    settings: Arc<CloudApiSettings>,
    token_expired: Arc<AtomicBool>,
    /// The access token in use: starts as the settings' one, replaced at run time ([`CloudApi::replace_token`]).
    token: Arc<std::sync::RwLock<Secret>>,
    /// The numbers with a token of their own, each with its expiry flag: a number whose token expired holds its
    /// own sends only.
    numbers: Arc<std::collections::BTreeMap<String, Credential>>,
    /// Which number's token this handle uses (`None`: the main token); for the log line when it expires.
    number: Option<String>,
}

/// A number's own token and whether Meta said it expired.
#[derive(Clone)]
struct Credential {
    token: Arc<std::sync::RwLock<Secret>>,
    expired: Arc<AtomicBool>,
}

impl std::fmt::Debug for CloudApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudApi")
            .field("settings", &self.settings)
            .field("token_expired", &self.token_expired())
            .finish()
    }
}

impl CloudApi {
    pub fn new(settings: CloudApiSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("wa-onboard/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let token = Arc::new(std::sync::RwLock::new(settings.access_token.clone()));
        let numbers = settings
            .number_tokens
            .iter()
            .map(|(id, token)| {
                let token = Arc::new(std::sync::RwLock::new(token.clone()));
                (id.clone(), Credential { token, expired: Arc::new(AtomicBool::new(false)) })
            })
            .collect();
        Ok(Self {
            http,
            settings: Arc::new(settings),
            token_expired: Arc::new(AtomicBool::new(false)),
            token,
            numbers: Arc::new(numbers),
            number: None,
        })
    }

    /// This client as the business number `phone_number_id` uses it: with the number's own token when it has
    /// one (and that token's expiry), else this one.
    pub fn for_number(&self, phone_number_id: &str) -> CloudApi {
        match self.numbers.get(phone_number_id) {
            Some(own) if self.number.as_deref() != Some(phone_number_id) => CloudApi {
                token: own.token.clone(),
                token_expired: own.expired.clone(),
                number: Some(phone_number_id.to_owned()),
                ..self.clone()
            },
            _ => self.clone(),
        }
    }

    /// Puts a new token in place for a number that has its own; answers whether it changed (false also for a
    /// number without its own token: those use the main one).
    pub fn replace_number_token(&self, phone_number_id: &str, token: Secret) -> bool {
        if !self.numbers.contains_key(phone_number_id) {
            return false;
        }
        self.for_number(phone_number_id).replace_token(token)
    }

    /// The numbers that have a token of their own.
    pub fn numbers_with_own_token(&self) -> impl Iterator<Item = &String> {
        self.numbers.keys()
    }

    pub fn settings(&self) -> &CloudApiSettings {
        &self.settings
    }

    pub fn phone_number_id(&self) -> &str {
        &self.settings.phone_number_id
    }

    /// True once Meta answered 190: no message is sent until the token is replaced.
    pub fn token_expired(&self) -> bool {
        self.token_expired.load(Ordering::Relaxed)
    }

    /// The shared flag itself, for health checks and metrics that outlive this handle.
    pub fn token_expired_flag(&self) -> Arc<AtomicBool> {
        self.token_expired.clone()
    }

    /// After the token was replaced (and the process restarted or the client rebuilt): allow sends again.
    pub fn reset_token_expired(&self) {
        self.token_expired.store(false, Ordering::Relaxed);
    }

    /// Puts a new access token in place for every clone of this client; when it differs from the one in use,
    /// sending resumes (the held sends go out). Answers whether it changed.
    pub fn replace_token(&self, token: Secret) -> bool {
        let mut current = self.token.write().unwrap_or_else(|p| p.into_inner());
        if current.expose() == token.expose() {
            return false;
        }
        *current = token;
        drop(current);
        let was_expired = self.token_expired.swap(false, Ordering::Relaxed);
        let number = self.number.as_deref().unwrap_or("every number without its own token");
        tracing::warn!(was_expired, number, "WhatsApp access token replaced: sending resumes");
        true
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn bearer(&self) -> String {
        format!("Bearer {}", self.token.read().unwrap_or_else(|p| p.into_inner()).expose())
    }

    /// `{base}/{version}/{path}`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/{}/{}", self.settings.base_url, self.settings.version, path.trim_start_matches('/'))
    }

    /// Fails fast when the token is known to be expired.
    pub(crate) fn check_token(&self) -> Result<(), GraphError> {
        if self.token_expired() { Err(GraphError::TokenExpired) } else { Ok(()) }
    }

    /// Looks at an error answer: a 190 raises the shared flag and an error-level log line.
    pub(crate) fn note_error(&self, error: &GraphError) {
        if error.is_token_expired() && !matches!(error, GraphError::TokenExpired) {
            let first = !self.token_expired.swap(true, Ordering::Relaxed);
            if first {
                let number = self.number.as_deref().unwrap_or("every number without its own token");
                tracing::error!(
                    code = ?error.code(),
                    http_status = ?error.http_status(),
                    %error,
                    number,
                    "WHATSAPP ACCESS TOKEN EXPIRED OR INVALID: sending is HELD (nothing is lost) until a new token \
                     is in place: write it to WHATSAPP_ACCESS_TOKEN_FILE, or update .env (WHATSAPP_ACCESS_TOKEN, or \
                     WHATSAPP_ACCESS_TOKEN_<number> for a number with its own) and send SIGHUP"
                );
            }
        }
    }

    /// Sends a message from the configured business number. The message is checked against WhatsApp's limits
    /// first.
    pub async fn send(&self, to: &Recipient, message: &OutboundMessage) -> Result<Sent, GraphError> {
        self.send_from(&self.settings.phone_number_id, to, message).await
    }

    /// Sends a message from the business number `from` (the one the user wrote to; the access token must
    /// reach it, as a system user's token reaches every number of its WhatsApp Business Account).
    pub async fn send_from(&self, from: &str, to: &Recipient, message: &OutboundMessage) -> Result<Sent, GraphError> {
        self.send_tagged(from, to, message, None).await
    }

    /// [`CloudApi::send_from`] with `tag` as the message's `biz_opaque_callback_data`: Meta returns it in every
    /// status webhook of the message.
    pub async fn send_tagged(
        &self,
        from: &str,
        to: &Recipient,
        message: &OutboundMessage,
        tag: Option<&str>,
    ) -> Result<Sent, GraphError> {
        let api = self.for_number(from);
        api.check_token()?;
        message.validate()?;
        // Debug level: the text may carry personal data (a name); the recipient is masked.
        tracing::debug!(kind = message.label(), "{}", log_line(to, message));
        let mut wire = message.to_wire(to);
        if let (Some(tag), Some(map)) = (tag, wire.as_object_mut()) {
            map.insert("biz_opaque_callback_data".into(), Value::String(tag.chars().take(512).collect()));
        }
        let body = api.post_messages(from, &wire).await?;
        let parsed: SendResponse = serde_json::from_slice(&body)
            .map_err(|e| GraphError::UnexpectedResponse(format!("send answer is not the expected JSON: {e}")))?;
        match parsed.messages.into_iter().next() {
            Some(MessageId { id }) if !id.is_empty() => Ok(Sent { wamid: id }),
            _ => Err(GraphError::UnexpectedResponse("send answer has no message id".into())),
        }
    }

    /// Marks a received message as read, optionally showing a typing indicator to the user.
    pub async fn mark_read(&self, wamid: &str, typing: bool) -> Result<(), GraphError> {
        self.mark_read_at(&self.settings.phone_number_id, wamid, typing).await
    }

    /// Marks as read a message received on the business number `at`.
    pub async fn mark_read_at(&self, at: &str, wamid: &str, typing: bool) -> Result<(), GraphError> {
        let api = self.for_number(at);
        api.check_token()?;
        api.post_messages(at, &mark_read_wire(wamid, typing)).await.map(drop)
    }

    /// The number to send from in the URL: `from` when it is a phone number id (digits only: a value from a
    /// webhook can never change the path), else the configured number.
    fn sender_id<'a>(&'a self, from: &'a str) -> &'a str {
        if !from.is_empty() && from.bytes().all(|b| b.is_ascii_digit()) { from } else { &self.settings.phone_number_id }
    }

    async fn post_messages(&self, from: &str, body: &Value) -> Result<bytes::Bytes, GraphError> {
        let url = self.url(&format!("{}/messages", self.sender_id(from)));
        let response = self
            .http
            .post(url)
            .header(reqwest::header::AUTHORIZATION, self.bearer())
            .json(body)
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(network)?;
        if status.is_success() {
            return Ok(bytes);
        }
        let error = GraphError::from_response(status.as_u16(), &bytes);
        self.note_error(&error);
        tracing::warn!(%error, "send failed");
        Err(error)
    }
}

pub(crate) fn network(e: reqwest::Error) -> GraphError {
    // Without the URL: it may carry a signed media link.
    if e.is_connect() {
        GraphError::Unreached(e.without_url().to_string())
    } else {
        GraphError::Network(e.without_url().to_string())
    }
}
