//! Settings, read once at start from the environment (and a `.env` file when present).
//!
//! Every setting is documented in `.env.example`. A missing or invalid setting fails start-up with an error that
//! names the variable; secrets are wrapped in [`Secret`] so they never reach a log line or a `Debug` print.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// The app secret and verify token used by `serve --dev` and `replay` when none is configured.
/// Printed at start so that a newcomer can sign requests by hand.
pub const DEV_APP_SECRET: &str = "dev-app-secret-not-for-production";
pub const DEV_VERIFY_TOKEN: &str = "dev-verify-token";

/// A value that must never be printed. `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the few places that must use it (signing, bearer headers).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The 32-byte AES-256-GCM key that encrypts stored media. `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKey([u8; 32]);

impl MediaKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key written as base64 (44 characters) or hex (64 characters).
    pub fn parse(value: &str) -> Result<Self, String> {
        use base64::Engine as _;
        let value = value.trim();
        let bytes = if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(value).map_err(|e| e.to_string())?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| "must be 32 bytes written as base64 or as 64 hex digits".to_owned())?
        };
        let len = bytes.len();
        bytes.try_into().map(Self).map_err(|_| format!("must be 32 bytes, got {len}"))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// Media downloads and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// `None`: a random key per process (development; stored media is unreadable after a restart).
    pub encryption_key: Option<MediaKey>,
    pub retention: Duration,
    pub max_image_bytes: u64,
    pub max_document_bytes: u64,
}

/// Outbound send rates (see `store::rate_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRateConfig {
    pub per_number_per_second: u32,
    pub per_user_interval: Duration,
    pub per_user_burst: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is required but not set: {hint}")]
    Missing { name: &'static str, hint: &'static str },
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where conversation state, dedupe claims and jobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// In this process only: for development, demos and tests. Lost on restart.
    Memory,
    /// A Redis server shared by every server and worker process.
    Redis { url: Secret, key_prefix: String, response_timeout: Duration },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub access_token: Option<Secret>,
    pub phone_number_id: Option<String>,
    pub graph_api_url: String,
    pub graph_api_version: String,
    pub store: StoreConfig,
    pub max_body_bytes: usize,
    pub dedupe_ttl: Duration,
    pub log_format: LogFormat,
    pub media: MediaConfig,
    pub send_rate: SendRateConfig,
    /// True when started with `serve --dev`: loopback only, development secrets allowed.
    pub dev_mode: bool,
    pub flows_dir: std::path::PathBuf,
    pub default_flow: String,
    pub workers: WorkerConfig,
    pub agent_link: AgentLinkConfig,
    /// The approved template sent instead of a message when WhatsApp's 24-hour window has closed (131047):
    /// `(name, language)`. Unset: such a message is recorded as undeliverable.
    pub reengage_template: Option<(String, String)>,
    /// How the outside world reaches this service (provider callbacks); unset: `http://BIND_ADDR`.
    pub public_base_url: Option<String>,
    /// Where the company's system hears how onboardings end, and the secret that signs those requests.
    pub company_webhook: Option<(String, Secret)>,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Stable and unique per process, so a restarted worker reclaims its own jobs in flight.
    pub name: String,
    /// Jobs run at once per queue.
    pub concurrency: usize,
    /// How often a worker looks for due jobs (delayed and retried jobs wait for it).
    pub poll: Duration,
}

#[derive(Debug, Clone)]
pub struct AgentLinkConfig {
    /// Where handoff links point; unset: this service's own `/agent/handoff` (development).
    pub base_url: Option<String>,
    pub secret: Secret,
    pub ttl_secs: u64,
}

/// Reads variables from a map so that tests never touch the process environment.
pub struct Env(HashMap<String, String>);

impl Env {
    /// The process environment, after loading `.env` when one exists (variables already set win).
    pub fn from_process() -> Self {
        // A missing .env is normal; a malformed one is reported when a setting it should hold is missing.
        let _ = dotenvy::dotenv();
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// A set, non-empty variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                value: raw.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}

pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_GRAPH_API_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_API_VERSION: &str = "v23.0";
pub const DEFAULT_KEY_PREFIX: &str = "wa-onboard";
/// Meta sends up to 3 MB; a little headroom, and nothing larger is ever buffered.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Meta redelivers for up to 7 days; one more day of margin.
pub const DEFAULT_DEDUPE_TTL_SECS: u64 = 8 * 24 * 3600;
pub const DEFAULT_MEDIA_RETENTION_HOURS: u64 = 72;
pub const DEFAULT_MEDIA_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
pub const DEFAULT_MEDIA_MAX_DOCUMENT_BYTES: u64 = 20 * 1024 * 1024;

impl Config {
    /// Builds the configuration. `dev_mode` allows the development secrets and insists on a loopback address.
    pub fn from_env(env: &Env, dev_mode: bool) -> Result<Self, ConfigError> {
        let bind_addr: SocketAddr = env.parse("BIND_ADDR", DEFAULT_BIND_ADDR.parse().expect("valid default"))?;
        if dev_mode && !bind_addr.ip().is_loopback() {
            return Err(ConfigError::Invalid {
                name: "BIND_ADDR",
                value: bind_addr.to_string(),
                reason: "development mode (--dev) serves on a loopback address only, e.g. 127.0.0.1:8080".into(),
            });
        }
        let app_secret = match (env.get("WHATSAPP_APP_SECRET"), dev_mode) {
            (Some(s), _) => Secret::new(s),
            (None, true) => Secret::new(DEV_APP_SECRET),
            (None, false) => {
                return Err(ConfigError::Missing {
                    name: "WHATSAPP_APP_SECRET",
                    hint: "the Meta app secret that signs webhooks (App settings > Basic); \
                           or run `wa-onboard serve --dev` to try the service locally",
                });
            }
        };
        let verify_token = match (env.get("WHATSAPP_VERIFY_TOKEN"), dev_mode) {
            (Some(s), _) => Secret::new(s),
            (None, true) => Secret::new(DEV_VERIFY_TOKEN),
            (None, false) => {
                return Err(ConfigError::Missing {
                    name: "WHATSAPP_VERIFY_TOKEN",
                    hint: "the token you typed in Meta's webhook settings for the subscribe handshake",
                });
            }
        };
        let graph_api_url = env.get("GRAPH_API_URL").unwrap_or(DEFAULT_GRAPH_API_URL).trim_end_matches('/');
        if !(graph_api_url.starts_with("http://") || graph_api_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                name: "GRAPH_API_URL",
                value: graph_api_url.to_owned(),
                reason: "must start with http:// or https://".into(),
            });
        }
        let store = match env.get("REDIS_URL") {
            None => StoreConfig::Memory,
            Some(url) => {
                if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://")) {
                    return Err(ConfigError::Invalid {
                        name: "REDIS_URL",
                        // The URL may carry a password: show only its scheme.
                        value: url.split(':').next().unwrap_or_default().to_owned() + ":…",
                        reason: "must start with redis://, rediss:// or unix://".into(),
                    });
                }
                let key_prefix = env.get("REDIS_KEY_PREFIX").unwrap_or(DEFAULT_KEY_PREFIX).to_owned();
                if key_prefix.contains(['{', '}', ' ']) {
                    return Err(ConfigError::Invalid {
                        name: "REDIS_KEY_PREFIX",
                        value: key_prefix,
                        reason: "must not contain braces or spaces (braces are Redis Cluster hash tags)".into(),
                    });
                }
                let timeout_ms: u64 = env.parse("REDIS_TIMEOUT_MS", 500)?;
                StoreConfig::Redis {
                    url: Secret::new(url),
                    key_prefix,
                    response_timeout: Duration::from_millis(timeout_ms.max(1)),
                }
            }
        };
        let max_body_bytes = env.parse("WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        let dedupe_ttl_secs: u64 = env.parse("DEDUPE_TTL_SECS", DEFAULT_DEDUPE_TTL_SECS)?;
        if dedupe_ttl_secs < 7 * 24 * 3600 {
            return Err(ConfigError::Invalid {
                name: "DEDUPE_TTL_SECS",
                value: dedupe_ttl_secs.to_string(),
                reason: "must be at least 604800 (7 days): Meta redelivers a webhook for up to 7 days".into(),
            });
        }
        let log_format = match env.get("LOG_FORMAT").map(str::to_ascii_lowercase).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "LOG_FORMAT",
                    value: other.to_owned(),
                    reason: "must be `text` or `json`".into(),
                });
            }
        };
        let worker_name = match env.get("WORKER_NAME") {
            Some(name) => name.to_owned(),
            None => format!("{}-{}", env.get("HOSTNAME").unwrap_or("wa-onboard"), bind_addr.port()),
        };
        let agent_secret = match env.get("AGENT_LINK_SECRET") {
            Some(s) => Secret::new(s),
            // Derived from the app secret, so links work out of the box; set AGENT_LINK_SECRET to share it with
            // the agent system without sharing the Meta app secret.
            None => Secret::new(format!("agent-link:{}", app_secret.expose())),
        };
        let agent_base = env.get("AGENT_LINK_BASE_URL").map(str::to_owned);
        if let Some(base) = &agent_base
            && !(base.starts_with("http://") || base.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: "AGENT_LINK_BASE_URL",
                value: base.clone(),
                reason: "must start with http:// or https://".into(),
            });
        }
        let concurrency: usize = env.parse("WORKER_CONCURRENCY", 32)?;
        let poll_ms: u64 = env.parse("WORKER_POLL_MS", 200)?;
        let encryption_key = match env.get("MEDIA_ENCRYPTION_KEY") {
            None => None,
            Some(raw) => Some(MediaKey::parse(raw).map_err(|reason| ConfigError::Invalid {
                name: "MEDIA_ENCRYPTION_KEY",
                value: "***".into(),
                reason,
            })?),
        };
        let retention_hours: u64 = env.parse("MEDIA_RETENTION_HOURS", DEFAULT_MEDIA_RETENTION_HOURS)?;
        if retention_hours == 0 {
            return Err(ConfigError::Invalid {
                name: "MEDIA_RETENTION_HOURS",
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        let media = MediaConfig {
            encryption_key,
            retention: Duration::from_secs(retention_hours * 3600),
            max_image_bytes: env.parse("MEDIA_MAX_IMAGE_BYTES", DEFAULT_MEDIA_MAX_IMAGE_BYTES)?,
            max_document_bytes: env.parse("MEDIA_MAX_DOCUMENT_BYTES", DEFAULT_MEDIA_MAX_DOCUMENT_BYTES)?,
        };
        let per_number_per_second: u32 = env.parse("WHATSAPP_SEND_RATE", 80)?;
        let per_user_interval_ms: u64 = env.parse("WHATSAPP_USER_INTERVAL_MS", 6000)?;
        let per_user_burst: u32 = env.parse("WHATSAPP_USER_BURST", 20)?;
        if per_number_per_second == 0 || per_user_burst == 0 || per_user_interval_ms == 0 {
            return Err(ConfigError::Invalid {
                name: "WHATSAPP_SEND_RATE",
                value: format!("{per_number_per_second}/{per_user_interval_ms}/{per_user_burst}"),
                reason: "WHATSAPP_SEND_RATE, WHATSAPP_USER_INTERVAL_MS and WHATSAPP_USER_BURST must be at least 1"
                    .into(),
            });
        }
        let send_rate = SendRateConfig {
            per_number_per_second,
            per_user_interval: Duration::from_millis(per_user_interval_ms),
            per_user_burst,
        };
        let reengage_template = env.get("WHATSAPP_REENGAGE_TEMPLATE").map(|raw| match raw.split_once(':') {
            Some((name, language)) => (name.trim().to_owned(), language.trim().to_owned()),
            None => (raw.to_owned(), "es".to_owned()),
        });
        let public_base_url = env.get("PUBLIC_BASE_URL").map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &public_base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: "PUBLIC_BASE_URL",
                value: url.clone(),
                reason: "must start with http:// or https://".into(),
            });
        }
        let company_webhook = match (env.get("COMPANY_WEBHOOK_URL"), env.get("COMPANY_WEBHOOK_SECRET")) {
            (None, _) => None,
            (Some(url), _) if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(ConfigError::Invalid {
                    name: "COMPANY_WEBHOOK_URL",
                    value: url.to_owned(),
                    reason: "must start with http:// or https://".into(),
                });
            }
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    name: "COMPANY_WEBHOOK_SECRET",
                    hint: "the secret that signs requests to COMPANY_WEBHOOK_URL (shared with the company's system)",
                });
            }
            (Some(url), Some(secret)) => Some((url.to_owned(), Secret::new(secret))),
        };
        Ok(Self {
            company_webhook,
            public_base_url,
            reengage_template,
            flows_dir: env.get("FLOWS_DIR").unwrap_or("flows").into(),
            default_flow: env.get("DEFAULT_FLOW").unwrap_or("kyc_latam").to_owned(),
            workers: WorkerConfig {
                name: worker_name,
                concurrency: concurrency.max(1),
                poll: Duration::from_millis(poll_ms.clamp(10, 60_000)),
            },
            agent_link: AgentLinkConfig {
                base_url: agent_base,
                secret: agent_secret,
                ttl_secs: env.parse("AGENT_LINK_TTL_SECS", 24 * 3600)?,
            },
            bind_addr,
            app_secret,
            verify_token,
            access_token: env.get("WHATSAPP_ACCESS_TOKEN").map(Secret::new),
            phone_number_id: env.get("WHATSAPP_PHONE_NUMBER_ID").map(str::to_owned),
            graph_api_url: graph_api_url.to_owned(),
            graph_api_version: env.get("GRAPH_API_VERSION").unwrap_or(DEFAULT_GRAPH_API_VERSION).to_owned(),
            store,
            max_body_bytes,
            dedupe_ttl: Duration::from_secs(dedupe_ttl_secs),
            log_format,
            media,
            send_rate,
            dev_mode,
        })
    }

    /// The log format alone, for setting up logging before the rest of the configuration is checked.
    pub fn log_format_from(env: &Env) -> LogFormat {
        match env.get("LOG_FORMAT") {
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("WHATSAPP_APP_SECRET", "s3cret-value"), ("WHATSAPP_VERIFY_TOKEN", "tok")]
    }

    #[test]
    fn defaults_apply_when_only_secrets_are_set() {
        let config = Config::from_env(&Env::from_pairs(base()), false).unwrap();
        assert_eq!(config.bind_addr.to_string(), DEFAULT_BIND_ADDR);
        assert_eq!(config.store, StoreConfig::Memory);
        assert_eq!(config.max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(config.graph_api_url, DEFAULT_GRAPH_API_URL);
        assert!(!config.dev_mode);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut pairs = base();
        pairs.push(("WHATSAPP_ACCESS_TOKEN", "EAAG-very-secret"));
        pairs.push(("REDIS_URL", "redis://:hunter2@127.0.0.1:6379"));
        let config = Config::from_env(&Env::from_pairs(pairs), false).unwrap();
        let printed = format!("{config:?}");
        for secret in ["s3cret-value", "tok\"", "EAAG-very-secret", "hunter2"] {
            assert!(!printed.contains(secret), "{secret} leaked in {printed}");
        }
        assert!(printed.contains("***"));
    }

    #[test]
    fn a_missing_secret_names_the_variable() {
        let err = Config::from_env(&Env::from_pairs([("WHATSAPP_VERIFY_TOKEN", "t")]), false).unwrap_err();
        assert!(err.to_string().starts_with("WHATSAPP_APP_SECRET is required"), "{err}");
        assert!(err.to_string().contains("--dev"));
    }

    #[test]
    fn invalid_values_name_the_variable() {
        let cases = [
            ("BIND_ADDR", "localhost-8080"),
            ("LOG_FORMAT", "xml"),
            ("WEBHOOK_MAX_BODY_BYTES", "lots"),
            ("DEDUPE_TTL_SECS", "60"),
            ("GRAPH_API_URL", "graph.facebook.com"),
            ("REDIS_URL", "localhost:6379"),
            ("MEDIA_RETENTION_HOURS", "0"),
            ("MEDIA_MAX_IMAGE_BYTES", "big"),
        ];
        for (name, value) in cases {
            let mut pairs = base();
            pairs.push((name, value));
            let err = Config::from_env(&Env::from_pairs(pairs), false).unwrap_err();
            assert!(err.to_string().starts_with(name), "{name}: {err}");
        }
    }

    #[test]
    fn dev_mode_uses_development_secrets_on_loopback_only() {
        let config = Config::from_env(&Env::from_pairs([]), true).unwrap();
        assert_eq!(config.app_secret.expose(), DEV_APP_SECRET);
        assert_eq!(config.verify_token.expose(), DEV_VERIFY_TOKEN);
        let err = Config::from_env(&Env::from_pairs([("BIND_ADDR", "0.0.0.0:8080")]), true).unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn media_key_in_base64_or_hex_never_printed() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let b64_key = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";
        for key in [hex_key, b64_key] {
            let mut pairs = base();
            pairs.push(("MEDIA_ENCRYPTION_KEY", key));
            let config = Config::from_env(&Env::from_pairs(pairs), false).unwrap();
            let parsed = config.media.encryption_key.clone().unwrap();
            assert_eq!(hex::encode(parsed.expose()), hex_key);
            assert!(!format!("{config:?}").contains(&key[..20]));
        }
        let mut pairs = base();
        pairs.push(("MEDIA_ENCRYPTION_KEY", "c2hvcnQ="));
        let err = Config::from_env(&Env::from_pairs(pairs), false).unwrap_err();
        assert!(err.to_string().starts_with("MEDIA_ENCRYPTION_KEY"), "{err}");
        assert!(!err.to_string().contains("c2hvcnQ"), "{err}");
        let config = Config::from_env(&Env::from_pairs(base()), false).unwrap();
        assert_eq!(config.media.encryption_key, None);
        assert_eq!(config.media.retention, Duration::from_secs(72 * 3600));
        assert_eq!(config.send_rate.per_number_per_second, 80);
    }

    #[test]
    fn redis_url_selects_the_redis_store_with_prefix() {
        let mut pairs = base();
        pairs.push(("REDIS_URL", "redis://127.0.0.1:6379"));
        pairs.push(("REDIS_KEY_PREFIX", "acme"));
        let config = Config::from_env(&Env::from_pairs(pairs), false).unwrap();
        match config.store {
            StoreConfig::Redis { key_prefix, .. } => assert_eq!(key_prefix, "acme"),
            other => panic!("expected redis, got {other:?}"),
        }
    }
}
