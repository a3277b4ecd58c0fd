//! How the HTTP server treats its clients and how the process stops: read and idle timeouts, the connection cap,
//! the shutdown grace period, and the internal address for `/metrics`.

use std::net::SocketAddr;
use std::time::Duration;

use super::env::{ConfigError, Env};

pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 20;

/// What one client may hold of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// From the first byte of a request to the end of its headers.
    pub header_timeout: Duration,
    /// From the end of the headers to the end of the body.
    pub body_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Connections open at once; beyond it a new one gets `503` and is closed.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

fn seconds(env: &Env, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    let secs: u64 = env.parse(name, default)?;
    if secs == 0 {
        return Err(ConfigError::Invalid { name, value: "0".into(), reason: "must be at least 1 second".into() });
    }
    Ok(Duration::from_secs(secs))
}

/// `HTTP_HEADER_TIMEOUT_SECS`, `HTTP_BODY_TIMEOUT_SECS`, `HTTP_IDLE_TIMEOUT_SECS` and `HTTP_MAX_CONNECTIONS`.
pub(super) fn limits(env: &Env) -> Result<HttpLimits, ConfigError> {
    let max_connections: usize = env.parse("HTTP_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS)?;
    if max_connections == 0 {
        return Err(ConfigError::Invalid {
            name: "HTTP_MAX_CONNECTIONS",
            value: "0".into(),
            reason: "must be at least 1 (keep it below `ulimit -n` minus what Redis and the Graph API use)".into(),
        });
    }
    Ok(HttpLimits {
        header_timeout: seconds(env, "HTTP_HEADER_TIMEOUT_SECS", DEFAULT_HEADER_TIMEOUT_SECS)?,
        body_timeout: seconds(env, "HTTP_BODY_TIMEOUT_SECS", DEFAULT_BODY_TIMEOUT_SECS)?,
        idle_timeout: seconds(env, "HTTP_IDLE_TIMEOUT_SECS", DEFAULT_IDLE_TIMEOUT_SECS)?,
        max_connections,
    })
}

/// `SHUTDOWN_GRACE_SECS`: how long a stop may take, from the signal to the exit.
pub(super) fn shutdown_grace(env: &Env) -> Result<Duration, ConfigError> {
    seconds(env, "SHUTDOWN_GRACE_SECS", DEFAULT_SHUTDOWN_GRACE_SECS)
}

/// `METRICS_ADDR`: when set, `/metrics` (with `/healthz` and `/readyz`) is served there and not on `BIND_ADDR`.
pub(super) fn metrics_addr(env: &Env) -> Result<Option<SocketAddr>, ConfigError> {
    match env.get("METRICS_ADDR") {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| ConfigError::Invalid {
            name: "METRICS_ADDR",
            value: raw.to_owned(),
            reason: "must be an address and port, e.g. 127.0.0.1:9090".into(),
        }),
    }
}
