//! Where conversation state, dedupe claims and jobs live: in memory, or on the Redis that `REDIS_URL` names.

use std::time::Duration;

use super::env::{ConfigError, Env};
use super::secret::Secret;

pub const DEFAULT_KEY_PREFIX: &str = "wa-onboard";

/// Where conversation state, dedupe claims and jobs live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// In this process only: for development, demos and tests. Lost on restart.
    Memory,
    /// A Redis server shared by every server and worker process.
    Redis {
        url: Secret,
        key_prefix: String,
        response_timeout: Duration,
        /// Partitions per queue (`QUEUE_PARTITIONS`): each its own Redis Cluster slot.
        queue_partitions: usize,
    },
}

/// `REDIS_URL` (unset: memory), `REDIS_KEY_PREFIX` and `REDIS_TIMEOUT_MS`.
pub(super) fn from_env(env: &Env) -> Result<StoreConfig, ConfigError> {
    let Some(url) = env.get("REDIS_URL") else {
        return Ok(StoreConfig::Memory);
    };
    if let Err(error) = crate::store::redis::RedisTarget::parse(url) {
        return Err(ConfigError::Invalid {
            name: "REDIS_URL",
            // The URL may carry a password: show only its scheme.
            value: url.split(':').next().unwrap_or_default().to_owned() + ":…",
            reason: error.to_string(),
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
    let queue_partitions: usize = env.parse("QUEUE_PARTITIONS", 1)?;
    if !(1..=crate::store::redis::queue::MAX_PARTITIONS).contains(&queue_partitions) {
        return Err(ConfigError::Invalid {
            name: "QUEUE_PARTITIONS",
            value: queue_partitions.to_string(),
            reason: format!("must be from 1 to {}", crate::store::redis::queue::MAX_PARTITIONS),
        });
    }
    Ok(StoreConfig::Redis {
        url: Secret::new(url),
        key_prefix,
        response_timeout: Duration::from_millis(timeout_ms.max(1)),
        queue_partitions,
    })
}
