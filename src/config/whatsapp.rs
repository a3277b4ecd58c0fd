//! The Meta side: the secrets of the webhook, the Graph API's location, outbound send rates and the template that
//! reopens a closed 24-hour window.

use std::time::Duration;

use super::env::{ConfigError, Env, require_http_url};
use super::secret::Secret;

/// The app secret and verify token used by `serve --dev` and `replay` when none is configured.
/// Printed at start so that a newcomer can sign requests by hand.
pub const DEV_APP_SECRET: &str = "dev-app-secret-not-for-production";
pub const DEV_VERIFY_TOKEN: &str = "dev-verify-token";

pub const DEFAULT_GRAPH_API_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_GRAPH_API_VERSION: &str = "v23.0";

/// Outbound send rates (see `store::rate_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendRateConfig {
    pub per_number_per_second: u32,
    pub per_user_interval: Duration,
    pub per_user_burst: u32,
}

/// `WHATSAPP_APP_SECRET` and `WHATSAPP_VERIFY_TOKEN`: `(app_secret, verify_token)`. Required, except in development
/// mode, where the development values stand in.
pub(super) fn webhook_secrets(env: &Env, dev_mode: bool) -> Result<(Secret, Secret), ConfigError> {
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
    Ok((app_secret, verify_token))
}

/// `GRAPH_API_URL`, without a trailing `/`.
pub(super) fn graph_api_url(env: &Env) -> Result<String, ConfigError> {
    let graph_api_url = env.get("GRAPH_API_URL").unwrap_or(DEFAULT_GRAPH_API_URL).trim_end_matches('/');
    require_http_url("GRAPH_API_URL", graph_api_url)?;
    Ok(graph_api_url.to_owned())
}

/// `WHATSAPP_SEND_RATE`, `WHATSAPP_USER_INTERVAL_MS` and `WHATSAPP_USER_BURST`, each at least 1.
pub(super) fn send_rate(env: &Env) -> Result<SendRateConfig, ConfigError> {
    let per_number_per_second: u32 = env.parse("WHATSAPP_SEND_RATE", 80)?;
    let per_user_interval_ms: u64 = env.parse("WHATSAPP_USER_INTERVAL_MS", 6000)?;
    let per_user_burst: u32 = env.parse("WHATSAPP_USER_BURST", 20)?;
    if per_number_per_second == 0 || per_user_burst == 0 || per_user_interval_ms == 0 {
        return Err(ConfigError::Invalid {
            name: "WHATSAPP_SEND_RATE",
            value: format!("{per_number_per_second}/{per_user_interval_ms}/{per_user_burst}"),
            reason: "WHATSAPP_SEND_RATE, WHATSAPP_USER_INTERVAL_MS and WHATSAPP_USER_BURST must be at least 1".into(),
        });
    }
    Ok(SendRateConfig {
        per_number_per_second,
        per_user_interval: Duration::from_millis(per_user_interval_ms),
        per_user_burst,
    })
}

/// `WHATSAPP_REENGAGE_TEMPLATE` as `name` or `name:language`: `(name, language)`, language `es` by default.
pub(super) fn reengage_template(env: &Env) -> Option<(String, String)> {
    env.get("WHATSAPP_REENGAGE_TEMPLATE").map(|raw| match raw.split_once(':') {
        Some((name, language)) => (name.trim().to_owned(), language.trim().to_owned()),
        None => (raw.to_owned(), "es".to_owned()),
    })
}

/// Reads an access token file: its content, trimmed; an empty or unreadable file is an error.
pub fn read_token_file(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(Secret::new(token))
}

/// `WHATSAPP_ACCESS_TOKEN_FILE` (read now, and again whenever it changes) or `WHATSAPP_ACCESS_TOKEN`:
/// `(token, file)`.
pub(super) fn access_token(env: &Env) -> Result<(Option<Secret>, Option<std::path::PathBuf>), ConfigError> {
    let Some(file) = env.get("WHATSAPP_ACCESS_TOKEN_FILE") else {
        return Ok((env.get("WHATSAPP_ACCESS_TOKEN").map(Secret::new), None));
    };
    let path = std::path::PathBuf::from(file);
    let token = read_token_file(&path).map_err(|reason| ConfigError::Invalid {
        name: "WHATSAPP_ACCESS_TOKEN_FILE",
        value: file.to_owned(),
        reason,
    })?;
    Ok((Some(token), Some(path)))
}
