//! Settings, read once at start from the environment (and a `.env` file when present).
//!
//! Every setting is documented in `.env.example`. A missing or invalid setting fails start-up with an error that
//! names the variable; secrets are wrapped in [`Secret`] so they never reach a log line or a `Debug` print.
//!
//! [`Config::from_env`] reads one section after the other, each in its own file: `env.rs` (where values come
//! from, parsing, [`ConfigError`]), `secret.rs` ([`Secret`], [`MediaKey`]), `server.rs` (listen address, webhook
//! limits, public URL), `whatsapp.rs` (webhook secrets, Graph API, send rates), `store.rs`, `logs.rs`,
//! `workers.rs`, `media.rs` and `links.rs` (agent links, company webhook).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

mod console;
mod env;
mod http;
mod links;
mod logs;
mod media;
mod numbers;
mod production;
mod retention;
mod secret;
mod server;
mod store;
mod whatsapp;
mod workers;

pub use console::ConsoleConfig;
pub use env::{ConfigError, Env};
pub use http::{DEFAULT_SHUTDOWN_GRACE_SECS, HttpLimits};
pub use links::AgentLinkConfig;
pub use logs::LogFormat;
pub use media::{
    DEFAULT_MEDIA_MAX_DOCUMENT_BYTES, DEFAULT_MEDIA_MAX_IMAGE_BYTES, DEFAULT_MEDIA_RETENTION_HOURS, MediaConfig,
};
pub use numbers::{BusinessNumber, BusinessNumbers, own_token_name};
pub use production::MissingSetting;
pub use secret::{MediaKey, Secret};
pub use server::{DEFAULT_BIND_ADDR, DEFAULT_DEDUPE_TTL_SECS, DEFAULT_MAX_BODY_BYTES};
pub use store::{DEFAULT_KEY_PREFIX, StoreConfig};
pub use whatsapp::{
    DEFAULT_GRAPH_API_URL, DEFAULT_GRAPH_API_VERSION, DEV_APP_SECRET, DEV_VERIFY_TOKEN, SendRateConfig, read_token_file,
};
pub use workers::WorkerConfig;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub access_token: Option<Secret>,
    /// `WHATSAPP_ACCESS_TOKEN_FILE`: watched, and re-read on SIGHUP, so a new token needs no restart.
    pub access_token_file: Option<PathBuf>,
    pub phone_number_id: Option<String>,
    pub graph_api_url: String,
    pub graph_api_version: String,
    pub store: StoreConfig,
    pub max_body_bytes: usize,
    /// What the inspection log of kept payloads may hold (count and bytes).
    pub kept: crate::store::KeptCap,
    pub dedupe_ttl: Duration,
    pub log_format: LogFormat,
    pub media: MediaConfig,
    pub send_rate: SendRateConfig,
    /// True when started with `serve --dev`: loopback only, development secrets allowed.
    pub dev_mode: bool,
    pub flows_dir: PathBuf,
    pub default_flow: String,
    /// `WHATSAPP_NUMBERS`: the business numbers served, each with its flow (empty: every number, on the default).
    pub numbers: BusinessNumbers,
    pub workers: WorkerConfig,
    pub agent_link: AgentLinkConfig,
    /// The approved template sent instead of a message when WhatsApp's 24-hour window has closed (131047):
    /// `(name, language)`. Unset: such a message is recorded as undeliverable.
    pub reengage_template: Option<(String, String)>,
    /// How the outside world reaches this service (provider callbacks); unset: `http://BIND_ADDR`.
    pub public_base_url: Option<String>,
    /// Where the company's system hears how onboardings end, and the secret that signs those requests.
    pub company_webhook: Option<(String, Secret)>,
    /// Read and idle timeouts and the connection cap of the HTTP server.
    pub http: HttpLimits,
    /// How long a stop may take, from SIGTERM to the exit.
    pub shutdown_grace: Duration,
    /// Where `/metrics` is served instead of `BIND_ADDR` (an internal address).
    pub metrics_addr: Option<SocketAddr>,
    /// The agent console: session lifetime and sign-in lockout.
    pub console: console::ConsoleConfig,
    /// How long each kind of data about a person is kept (`RETENTION_*`).
    pub retention: crate::store::retention::Retention,
}

impl Config {
    /// Builds the configuration. `dev_mode` allows the development secrets and insists on a loopback address.
    ///
    /// The settings are checked in the order below, and the first one at fault is the one reported.
    pub fn from_env(env: &Env, dev_mode: bool) -> Result<Self, ConfigError> {
        let bind_addr = server::bind_addr(env, dev_mode)?;
        let (app_secret, verify_token) = whatsapp::webhook_secrets(env, dev_mode)?;
        let graph_api_url = whatsapp::graph_api_url(env)?;
        let (access_token, access_token_file) = whatsapp::access_token(env)?;
        let store = store::from_env(env)?;
        let max_body_bytes = server::max_body_bytes(env)?;
        let kept = server::kept_cap(env)?;
        let dedupe_ttl = server::dedupe_ttl(env)?;
        let log_format = logs::log_format(env)?;
        let agent_base_url = links::agent_base_url(env)?;
        let workers = workers::from_env(env, bind_addr.port())?;
        let media = media::from_env(env)?;
        let send_rate = whatsapp::send_rate(env)?;
        let reengage_template = whatsapp::reengage_template(env);
        let public_base_url = server::public_base_url(env)?;
        let company_webhook = links::company_webhook(env)?;
        let agent_link = links::agent_link(env, agent_base_url, &app_secret)?;
        let http = http::limits(env)?;
        let shutdown_grace = http::shutdown_grace(env)?;
        let metrics_addr = http::metrics_addr(env)?;
        let console = console::from_env(env, public_base_url.as_deref())?;
        let retention = retention::from_env(env)?;
        let default_flow = env.get("DEFAULT_FLOW").unwrap_or("kyc_latam").to_owned();
        let numbers = numbers::from_env(env, &default_flow)?;
        Ok(Self {
            bind_addr,
            app_secret,
            verify_token,
            access_token,
            access_token_file,
            phone_number_id: env.get("WHATSAPP_PHONE_NUMBER_ID").map(str::to_owned),
            graph_api_url,
            graph_api_version: env.get("GRAPH_API_VERSION").unwrap_or(DEFAULT_GRAPH_API_VERSION).to_owned(),
            store,
            max_body_bytes,
            kept,
            dedupe_ttl,
            log_format,
            media,
            send_rate,
            dev_mode,
            flows_dir: env.get("FLOWS_DIR").unwrap_or("flows").into(),
            default_flow: default_flow.clone(),
            numbers,
            workers,
            agent_link,
            reengage_template,
            public_base_url,
            company_webhook,
            http,
            shutdown_grace,
            metrics_addr,
            console,
            retention,
        })
    }

    /// The log format alone, for setting up logging before the rest of the configuration is checked.
    pub fn log_format_from(env: &Env) -> LogFormat {
        logs::log_format_lenient(env)
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
            ("HTTP_HEADER_TIMEOUT_SECS", "0"),
            ("HTTP_MAX_CONNECTIONS", "0"),
            ("SHUTDOWN_GRACE_SECS", "soon"),
            ("METRICS_ADDR", "9090"),
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
            StoreConfig::Redis { key_prefix, queue_partitions, .. } => {
                assert_eq!(key_prefix, "acme");
                assert_eq!(queue_partitions, 1, "one partition per queue unless told");
            }
            other => panic!("expected redis, got {other:?}"),
        }
    }

    #[test]
    fn queue_partitions_are_from_1_to_64() {
        let with = |value: &str| {
            let mut pairs = base();
            pairs.push(("REDIS_URL", "redis://127.0.0.1:6379"));
            pairs.push(("QUEUE_PARTITIONS", value));
            Config::from_env(&Env::from_pairs(pairs), false)
        };
        match with("8").unwrap().store {
            StoreConfig::Redis { queue_partitions, .. } => assert_eq!(queue_partitions, 8),
            other => panic!("expected redis, got {other:?}"),
        }
        for bad in ["0", "65", "three"] {
            let err = with(bad).unwrap_err().to_string();
            assert!(err.starts_with("QUEUE_PARTITIONS"), "{bad}: {err}");
        }
    }
}
