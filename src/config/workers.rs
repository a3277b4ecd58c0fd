//! The workers of a process: their name, how many jobs they run at once, how often they look for due jobs.

use std::time::Duration;

use super::env::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Stable and unique per process, so a restarted worker reclaims its own jobs in flight.
    pub name: String,
    /// Jobs run at once per queue.
    pub concurrency: usize,
    /// How often a worker looks for due jobs (delayed and retried jobs wait for it).
    pub poll: Duration,
}

/// `WORKER_NAME` (unset: `<HOSTNAME>-<port>`), `WORKER_CONCURRENCY` (at least 1) and `WORKER_POLL_MS` (10 to
/// 60000).
pub(super) fn from_env(env: &Env, port: u16) -> Result<WorkerConfig, ConfigError> {
    let name = match env.get("WORKER_NAME") {
        Some(name) => name.to_owned(),
        None => format!("{}-{port}", env.get("HOSTNAME").unwrap_or("wa-onboard")),
    };
    let concurrency: usize = env.parse("WORKER_CONCURRENCY", 32)?;
    let poll_ms: u64 = env.parse("WORKER_POLL_MS", 200)?;
    Ok(WorkerConfig { name, concurrency: concurrency.max(1), poll: Duration::from_millis(poll_ms.clamp(10, 60_000)) })
}
