//! The HTTP side: where the service listens, what its webhook accepts and remembers, and how the outside world
//! reaches it.

use std::net::SocketAddr;
use std::time::Duration;

use super::env::{ConfigError, Env, require_http_url};

pub const DEFAULT_BIND_ADDR: &str = "127.0.0.1:8080";
/// Meta sends up to 3 MB; a little headroom, and nothing larger is ever buffered.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Meta redelivers for up to 7 days; one more day of margin.
pub const DEFAULT_DEDUPE_TTL_SECS: u64 = 8 * 24 * 3600;

/// `BIND_ADDR`; in development mode (`serve --dev`) a loopback address only.
pub(super) fn bind_addr(env: &Env, dev_mode: bool) -> Result<SocketAddr, ConfigError> {
    let bind_addr: SocketAddr = env.parse("BIND_ADDR", DEFAULT_BIND_ADDR.parse().expect("valid default"))?;
    if dev_mode && !bind_addr.ip().is_loopback() {
        return Err(ConfigError::Invalid {
            name: "BIND_ADDR",
            value: bind_addr.to_string(),
            reason: "development mode (--dev) serves on a loopback address only, e.g. 127.0.0.1:8080".into(),
        });
    }
    Ok(bind_addr)
}

/// `WEBHOOK_MAX_BODY_BYTES`.
pub(super) fn max_body_bytes(env: &Env) -> Result<usize, ConfigError> {
    env.parse("WEBHOOK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)
}

/// `DEDUPE_TTL_SECS`: at least the 7 days during which Meta redelivers.
pub(super) fn dedupe_ttl(env: &Env) -> Result<Duration, ConfigError> {
    let dedupe_ttl_secs: u64 = env.parse("DEDUPE_TTL_SECS", DEFAULT_DEDUPE_TTL_SECS)?;
    if dedupe_ttl_secs < 7 * 24 * 3600 {
        return Err(ConfigError::Invalid {
            name: "DEDUPE_TTL_SECS",
            value: dedupe_ttl_secs.to_string(),
            reason: "must be at least 604800 (7 days): Meta redelivers a webhook for up to 7 days".into(),
        });
    }
    Ok(Duration::from_secs(dedupe_ttl_secs))
}

/// `PUBLIC_BASE_URL`, without a trailing `/`.
pub(super) fn public_base_url(env: &Env) -> Result<Option<String>, ConfigError> {
    let public_base_url = env.get("PUBLIC_BASE_URL").map(|u| u.trim_end_matches('/').to_owned());
    if let Some(url) = &public_base_url {
        require_http_url("PUBLIC_BASE_URL", url)?;
    }
    Ok(public_base_url)
}

/// `KEPT_MAX_BYTES` (and the fixed count cap): how much the inspection log of kept payloads may hold.
pub(super) fn kept_cap(env: &Env) -> Result<crate::store::KeptCap, ConfigError> {
    let default = crate::store::KeptCap::default();
    let max_bytes: usize = env.parse("KEPT_MAX_BYTES", default.max_bytes)?;
    if max_bytes < 1024 {
        return Err(ConfigError::Invalid {
            name: "KEPT_MAX_BYTES",
            value: max_bytes.to_string(),
            reason: "must be at least 1024 bytes".into(),
        });
    }
    let days: u64 = env.parse("RETENTION_KEPT_PAYLOADS_DAYS", crate::store::ingress::KEPT_MAX_AGE_DAYS)?;
    if days == 0 || days > 36_500 {
        return Err(ConfigError::Invalid {
            name: "RETENTION_KEPT_PAYLOADS_DAYS",
            value: days.to_string(),
            reason: "must be a number of days from 1 to 36500".into(),
        });
    }
    let max_age = std::time::Duration::from_secs(days * 24 * 3600);
    Ok(crate::store::KeptCap { max_bytes, max_age, ..default })
}
