//! A provider reached over HTTP with the contract of docs/providers.md: `POST {base_url}/v1/{capability}`, a
//! signed JSON body, a timeout per attempt, bounded retries on 5xx / 429 / timeouts / connection errors only,
//! and a circuit breaker in front.
//!
//! Two clocks: the wall clock ([`SharedClock`]) stamps each request's signature; the breaker's monotonic clock
//! ([`breaker::Monotonic`]) times its cooldown, and latencies are measured with [`Instant`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::breaker::{self, BreakerConfig, CircuitBreaker};
use super::wire::{CORRELATION_HEADER, IDEMPOTENCY_HEADER, WireAnswer, WireRequest};
use super::{
    Capability, DocumentReader, FaceMatcher, LivenessChecker, Provider, ProviderAnswer, ProviderError, ProviderRequest,
    RegistryChecker,
};
use crate::clock::SharedClock;
use crate::config::Secret;
use crate::signing::{self, SIGNATURE_HEADER};

/// Largest answer body read from a provider.
pub(super) const MAX_ANSWER_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct HttpProviderConfig {
    pub name: String,
    /// e.g. `https://api.vendor.example` (no trailing `/v1`).
    pub base_url: String,
    pub secret: Secret,
    /// Per attempt.
    pub timeout: Duration,
    /// Further attempts after the first, on retryable errors only.
    pub retries: u32,
    /// Wait before retry n is n times this.
    pub retry_backoff: Duration,
    pub breaker: BreakerConfig,
}

pub struct HttpProvider {
    config: HttpProviderConfig,
    client: reqwest::Client,
    breaker: CircuitBreaker,
    /// Stamps the signatures.
    clock: SharedClock,
}

impl std::fmt::Debug for HttpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpProvider")
            .field("config", &self.config)
            .field("client", &self.client)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// One attempt's failure, and whether another attempt may help.
struct AttemptError {
    error: ProviderError,
    retryable: bool,
}

impl HttpProvider {
    /// Signatures stamped by `clock`.
    pub fn new(config: HttpProviderConfig, clock: SharedClock) -> Result<Self, reqwest::Error> {
        Self::with_breaker_clock(config, clock, Arc::new(breaker::SystemMonotonic))
    }

    /// With the breaker's monotonic clock injected too (tests).
    pub fn with_breaker_clock(
        config: HttpProviderConfig,
        clock: SharedClock,
        breaker_clock: Arc<dyn breaker::Monotonic>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder().connect_timeout(config.timeout).build()?;
        let breaker = CircuitBreaker::new(config.breaker, breaker_clock);
        Ok(Self { config, client, breaker, clock })
    }

    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    fn endpoint(&self, capability: Capability) -> String {
        format!("{}/v1/{}", self.config.base_url.trim_end_matches('/'), capability.as_str())
    }

    /// Runs one check: breaker, then attempts with retries.
    pub async fn call(
        &self,
        capability: Capability,
        request: &ProviderRequest,
    ) -> Result<ProviderAnswer, ProviderError> {
        let name = &self.config.name;
        let Ok(permit) = self.breaker.acquire() else {
            tracing::warn!(provider = %name, %capability, "circuit open: provider not called");
            return Err(ProviderError::CircuitOpen { provider: name.clone() });
        };
        let wire = WireRequest::new(capability, request);
        let body = match serde_json::to_vec(&wire) {
            Ok(body) => body,
            Err(e) => {
                // Our own bug, not the provider's: do not count it against the provider.
                permit.success();
                return Err(ProviderError::BadAnswer { provider: name.clone(), detail: format!("request: {e}") });
            }
        };
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match self.attempt(capability, &wire, &body, started).await {
                Ok(answer) => {
                    permit.success();
                    return Ok(answer);
                }
                Err(AttemptError { error, retryable }) if retryable && attempt < self.config.retries => {
                    attempt += 1;
                    tracing::info!(provider = %name, %capability, attempt, error = %error, "retrying provider call");
                    tokio::time::sleep(self.config.retry_backoff * attempt).await;
                }
                Err(AttemptError { error, .. }) => {
                    permit.failure();
                    tracing::warn!(provider = %name, %capability, error = %error, "provider call failed");
                    return Err(error);
                }
            }
        }
    }

    async fn attempt(
        &self,
        capability: Capability,
        wire: &WireRequest,
        body: &[u8],
        started: Instant,
    ) -> Result<ProviderAnswer, AttemptError> {
        let provider = self.config.name.clone();
        let signature = signing::sign(self.config.secret.expose().as_bytes(), self.clock.now_secs() as i64, body);
        let sent = self
            .client
            .post(self.endpoint(capability))
            .timeout(self.config.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(IDEMPOTENCY_HEADER, wire.idempotency_key())
            .header(CORRELATION_HEADER, &wire.correlation_id)
            .body(body.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                let after_ms = self.config.timeout.as_millis() as u64;
                return Err(AttemptError { error: ProviderError::Timeout { provider, after_ms }, retryable: true });
            }
            Err(e) => {
                let detail = if e.is_connect() { "cannot connect".to_owned() } else { e.to_string() };
                return Err(AttemptError { error: ProviderError::Unavailable { provider, detail }, retryable: true });
            }
        };
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let detail = format!("HTTP {status}");
            return Err(AttemptError { error: ProviderError::Unavailable { provider, detail }, retryable: true });
        }
        if !status.is_success() {
            let detail = format!("HTTP {status} (rejected our request: check the secret and the contract version)");
            return Err(AttemptError { error: ProviderError::BadAnswer { provider, detail }, retryable: false });
        }
        let bytes = match read_limited(response).await {
            Ok(bytes) => bytes,
            Err(ReadError::Timeout) => {
                let after_ms = self.config.timeout.as_millis() as u64;
                return Err(AttemptError { error: ProviderError::Timeout { provider, after_ms }, retryable: true });
            }
            Err(ReadError::Other(detail)) => {
                return Err(AttemptError { error: ProviderError::BadAnswer { provider, detail }, retryable: false });
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        serde_json::from_slice::<WireAnswer>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|w| w.into_answer(&self.config.name, elapsed_ms))
            .map_err(|detail| AttemptError { error: ProviderError::BadAnswer { provider, detail }, retryable: false })
    }
}

/// Why an answer body could not be read.
pub(super) enum ReadError {
    Timeout,
    Other(String),
}

/// A provider's answer body, refused past [`MAX_ANSWER_BYTES`] (shared by every HTTP-speaking adapter).
pub(super) async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ReadError::Other(format!("answer larger than {MAX_ANSWER_BYTES} bytes")));
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) if e.is_timeout() => return Err(ReadError::Timeout),
            Err(e) => return Err(ReadError::Other(e.to_string())),
        }
    }
}

#[async_trait]
impl DocumentReader for HttpProvider {
    async fn read_document(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.call(Capability::Document, request).await
    }
}

#[async_trait]
impl LivenessChecker for HttpProvider {
    async fn check_liveness(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.call(Capability::Liveness, request).await
    }
}

#[async_trait]
impl FaceMatcher for HttpProvider {
    async fn match_faces(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.call(Capability::FaceMatch, request).await
    }
}

#[async_trait]
impl RegistryChecker for HttpProvider {
    async fn check_registry(&self, request: &ProviderRequest) -> Result<ProviderAnswer, ProviderError> {
        self.call(Capability::Registry, request).await
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn circuit(&self) -> Option<super::breaker::BreakerState> {
        Some(self.breaker().state())
    }
}
