//! Which provider serves which capability in which country, as written in a flow file:
//!
//! ```yaml
//! providers:
//!   acme:
//!     kind: http
//!     base_url: https://api.acme.example
//!     secret_env: PROVIDER_ACME_SECRET   # the secret itself lives in the environment, never in the flow file
//!     timeout_ms: 8000
//!     retries: 1
//!     breaker: { failure_threshold: 5, cooldown_ms: 30000 }
//!   dev:
//!     kind: local
//! routes:
//!   - { capability: registry, countries: [AR, CL], provider: acme }
//!   - { capability: document, countries: ["*"], provider: dev }
//! ```
//!
//! The first route matching the capability and country wins; `countries` empty or `"*"` matches any country.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::breaker::{self, BreakerConfig};
use super::http::{HttpProvider, HttpProviderConfig};
use super::local::LocalProvider;
use super::rekognition::{RekognitionConfig, RekognitionProvider};
use super::veriff::{VeriffConfig, VeriffProvider, VeriffWebhookKeys};
use super::{Capability, DocumentReader, FaceMatcher, LivenessChecker, Provider, RegistryChecker};
use crate::clock::SharedClock;
use crate::config::{Env, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// The HTTP contract of docs/providers.md.
    Http,
    /// Development only: checks nothing, and never satisfies `verification.require`.
    Local,
    /// AWS Rekognition (`face_match`), credentials and region from the standard AWS chain.
    Rekognition,
    /// Veriff (`document`, `face_match`, `liveness` in one session, decided by its webhook).
    Veriff,
}

/// How an `http` provider gets the photos.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageDelivery {
    /// In the request, as base64.
    #[default]
    Bytes,
    /// As one-time links it fetches within 5 minutes ([`super::media_link`]).
    Url,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the shared secret (requests and callbacks are signed with it).
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Per attempt.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Further attempts on 5xx, 429, timeouts and connection errors.
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_backoff_ms")]
    pub retry_backoff_ms: u64,
    #[serde(default)]
    pub breaker: BreakerConfig,
    /// `http`: send the photos in the request (`bytes`, default) or as one-time links (`url`).
    #[serde(default)]
    pub images: ImageDelivery,
    /// `rekognition`: the AWS region (else from the standard chain).
    #[serde(default)]
    pub region: Option<String>,
    /// `rekognition`: the CompareFaces similarity (0 to 100) needed to pass; default 90.
    #[serde(default)]
    pub similarity_threshold: Option<f32>,
    /// `veriff`: the environment variable holding the API key (`X-AUTH-CLIENT`).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// `veriff`: the environment variable holding the shared secret key (`X-HMAC-SIGNATURE`).
    #[serde(default)]
    pub shared_secret_env: Option<String>,
    /// `veriff`: where Veriff sends the user's browser after a web session (sent as `verification.callback`).
    #[serde(default)]
    pub callback_url: Option<String>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_retries() -> u32 {
    1
}

fn default_backoff_ms() -> u64 {
    200
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub capability: Capability,
    /// ISO 3166-1 alpha-2 codes; empty or `"*"`: any country.
    #[serde(default)]
    pub countries: Vec<String>,
    pub provider: String,
}

impl RouteSpec {
    fn matches(&self, capability: Capability, country: &str) -> bool {
        self.capability == capability
            && (self.countries.is_empty() || self.countries.iter().any(|c| c == "*" || c.eq_ignore_ascii_case(country)))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersConfig {
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderSpec>,
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProvidersConfigError {
    #[error("route {index} ({capability}) names provider `{provider}`, which is not defined under `providers`")]
    UnknownProvider { index: usize, capability: Capability, provider: String },
    #[error("provider `{provider}`: {problem}")]
    Invalid { provider: String, problem: String },
    #[error("provider `{provider}`: environment variable {var} (its secret) is not set")]
    MissingSecret { provider: String, var: String },
}

impl ProvidersConfig {
    /// Every problem a flow file can have on its own (secrets are checked by [`ProvidersConfig::build`]).
    pub fn validate(&self) -> Vec<ProvidersConfigError> {
        let mut problems = Vec::new();
        for (name, spec) in &self.providers {
            let invalid =
                |problem: &str| ProvidersConfigError::Invalid { provider: name.clone(), problem: problem.to_owned() };
            if spec.kind == ProviderKind::Rekognition {
                if spec.similarity_threshold.is_some_and(|t| !(0.0..=100.0).contains(&t)) {
                    problems.push(invalid("similarity_threshold must be between 0 and 100"));
                }
                if let Some(Err(_)) = spec.base_url.as_deref().map(url::Url::parse) {
                    problems.push(invalid("base_url (the endpoint override) is not a URL"));
                }
            }
            if spec.kind == ProviderKind::Veriff {
                for (field, value) in
                    [("api_key_env", &spec.api_key_env), ("shared_secret_env", &spec.shared_secret_env)]
                {
                    if value.as_deref().is_none_or(str::is_empty) {
                        problems.push(invalid(&format!("a veriff provider needs {field} (an environment variable)")));
                    }
                }
                if let Some(Err(_)) = spec.base_url.as_deref().map(url::Url::parse) {
                    problems.push(invalid("base_url is not a URL"));
                }
            }
            if spec.kind == ProviderKind::Http {
                match spec.base_url.as_deref().map(url::Url::parse) {
                    None => problems.push(invalid("an http provider needs base_url")),
                    Some(Err(_)) => problems.push(invalid("base_url is not a URL")),
                    Some(Ok(u)) if !matches!(u.scheme(), "http" | "https") => {
                        problems.push(invalid("base_url must be http or https"))
                    }
                    Some(Ok(_)) => {}
                }
                if spec.secret_env.as_deref().is_none_or(str::is_empty) {
                    problems.push(invalid("an http provider needs secret_env (the name of an environment variable)"));
                }
                if spec.timeout_ms == 0 {
                    problems.push(invalid("timeout_ms must be above 0"));
                }
            }
        }
        for (index, route) in self.routes.iter().enumerate() {
            if let Some(spec) = self.providers.get(&route.provider)
                && spec.kind == ProviderKind::Rekognition
                && !super::rekognition::CAPABILITIES.contains(&route.capability)
            {
                problems.push(ProvidersConfigError::Invalid {
                    provider: route.provider.clone(),
                    problem: format!("Rekognition serves face_match only, not {}", route.capability),
                });
            }
            if !self.providers.contains_key(&route.provider) {
                problems.push(ProvidersConfigError::UnknownProvider {
                    index,
                    capability: route.capability,
                    provider: route.provider.clone(),
                });
            }
        }
        problems
    }

    /// The name of the provider serving `capability` in `country`: the first matching route.
    pub fn provider_name_for(&self, capability: Capability, country: &str) -> Option<&str> {
        self.routes.iter().find(|r| r.matches(capability, country)).map(|r| r.provider.as_str())
    }

    /// Builds every provider, reading secrets from `env`; the http providers stamp their signatures with `clock`.
    pub fn build(&self, env: &Env, clock: SharedClock) -> Result<Providers, Vec<ProvidersConfigError>> {
        self.build_with_breaker_clock(env, clock, Arc::new(breaker::SystemMonotonic))
    }

    /// With the breakers' monotonic clock injected too (tests).
    pub fn build_with_breaker_clock(
        &self,
        env: &Env,
        clock: SharedClock,
        breaker_clock: Arc<dyn breaker::Monotonic>,
    ) -> Result<Providers, Vec<ProvidersConfigError>> {
        let mut problems = self.validate();
        let mut by_name: BTreeMap<String, Arc<dyn Provider>> = BTreeMap::new();
        let mut secrets = HashMap::new();
        let mut veriff = HashMap::new();
        for (name, spec) in &self.providers {
            match spec.kind {
                ProviderKind::Local => {
                    by_name.insert(name.clone(), Arc::new(LocalProvider::new(name.clone())));
                }
                ProviderKind::Veriff => {
                    let read = |var: &Option<String>| var.as_deref().and_then(|v| env.get(v)).filter(|s| !s.is_empty());
                    let (Some(api_key), Some(shared)) = (read(&spec.api_key_env), read(&spec.shared_secret_env)) else {
                        let var = [&spec.api_key_env, &spec.shared_secret_env]
                            .into_iter()
                            .flatten()
                            .find(|v| env.get(v).is_none_or(str::is_empty))
                            .cloned()
                            .unwrap_or_default();
                        problems.push(ProvidersConfigError::MissingSecret { provider: name.clone(), var });
                        continue;
                    };
                    let mut config = VeriffConfig::new(name.clone(), Secret::new(api_key), Secret::new(shared));
                    if let Some(base) = &spec.base_url {
                        config.base_url = base.clone();
                    }
                    config.callback_url = spec.callback_url.clone();
                    config.timeout = Duration::from_millis(spec.timeout_ms);
                    config.retries = spec.retries;
                    config.retry_backoff = Duration::from_millis(spec.retry_backoff_ms);
                    config.breaker = spec.breaker;
                    veriff.insert(name.clone(), config.webhook_keys());
                    match VeriffProvider::with_breaker_clock(config, clock.clone(), breaker_clock.clone()) {
                        Ok(p) => {
                            by_name.insert(name.clone(), Arc::new(p));
                        }
                        Err(e) => problems.push(ProvidersConfigError::Invalid {
                            provider: name.clone(),
                            problem: format!("HTTP client: {e}"),
                        }),
                    }
                }
                ProviderKind::Rekognition => {
                    let mut config = RekognitionConfig::new(name.clone());
                    config.region = spec.region.clone();
                    config.endpoint_url = spec.base_url.clone();
                    config.similarity_threshold = spec.similarity_threshold.unwrap_or(config.similarity_threshold);
                    config.timeout = Duration::from_millis(spec.timeout_ms);
                    config.retries = spec.retries;
                    config.retry_backoff = Duration::from_millis(spec.retry_backoff_ms);
                    config.breaker = spec.breaker;
                    by_name.insert(name.clone(), Arc::new(RekognitionProvider::new(config, breaker_clock.clone())));
                }
                ProviderKind::Http => {
                    let (Some(base_url), Some(var)) = (&spec.base_url, &spec.secret_env) else { continue };
                    let Some(secret) = env.get(var).filter(|s| !s.is_empty()) else {
                        problems.push(ProvidersConfigError::MissingSecret { provider: name.clone(), var: var.clone() });
                        continue;
                    };
                    let secret = Secret::new(secret);
                    let config = HttpProviderConfig {
                        name: name.clone(),
                        base_url: base_url.clone(),
                        secret: secret.clone(),
                        timeout: Duration::from_millis(spec.timeout_ms),
                        retries: spec.retries,
                        retry_backoff: Duration::from_millis(spec.retry_backoff_ms),
                        breaker: spec.breaker,
                    };
                    match HttpProvider::with_breaker_clock(config, clock.clone(), breaker_clock.clone()) {
                        Ok(p) => {
                            by_name.insert(name.clone(), Arc::new(p));
                            secrets.insert(name.clone(), secret);
                        }
                        Err(e) => problems.push(ProvidersConfigError::Invalid {
                            provider: name.clone(),
                            problem: format!("HTTP client: {e}"),
                        }),
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Providers { config: self.clone(), by_name, secrets, veriff })
    }
}

/// The built providers and their routes.
#[derive(Clone)]
pub struct Providers {
    config: ProvidersConfig,
    by_name: BTreeMap<String, Arc<dyn Provider>>,
    secrets: HashMap<String, Secret>,
    veriff: HashMap<String, VeriffWebhookKeys>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").field("names", &self.by_name.keys().collect::<Vec<_>>()).finish()
    }
}

impl Providers {
    /// The provider serving `capability` in `country`, `None` when no route matches (the flow should then
    /// route to a person, or skip the check if it is optional).
    pub fn provider_for(&self, capability: Capability, country: &str) -> Option<Arc<dyn Provider>> {
        self.config.provider_name_for(capability, country).and_then(|name| self.by_name.get(name).cloned())
    }

    pub fn document_reader(&self, country: &str) -> Option<Arc<dyn DocumentReader>> {
        self.provider_for(Capability::Document, country).map(|p| p as Arc<dyn DocumentReader>)
    }

    pub fn liveness_checker(&self, country: &str) -> Option<Arc<dyn LivenessChecker>> {
        self.provider_for(Capability::Liveness, country).map(|p| p as Arc<dyn LivenessChecker>)
    }

    pub fn face_matcher(&self, country: &str) -> Option<Arc<dyn FaceMatcher>> {
        self.provider_for(Capability::FaceMatch, country).map(|p| p as Arc<dyn FaceMatcher>)
    }

    pub fn registry_checker(&self, country: &str) -> Option<Arc<dyn RegistryChecker>> {
        self.provider_for(Capability::Registry, country).map(|p| p as Arc<dyn RegistryChecker>)
    }

    /// Whether the provider `name` fetches the photos through one-time links.
    pub fn wants_links(&self, name: &str) -> bool {
        self.config.providers.get(name).is_some_and(|s| s.kind == ProviderKind::Http && s.images == ImageDelivery::Url)
    }

    /// Secrets of the http providers by name, for [`super::callback::callback_router`].
    pub fn callback_secrets(&self) -> HashMap<String, Secret> {
        self.secrets.clone()
    }

    /// The keys of the Veriff providers by name, for [`super::veriff::veriff_router`].
    pub fn veriff_keys(&self) -> HashMap<String, VeriffWebhookKeys> {
        self.veriff.clone()
    }
}
