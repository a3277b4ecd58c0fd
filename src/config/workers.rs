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
    /// A `worker` process exits non-zero when one of its queues has had no live worker for this long.
    pub down_exit_after: Duration,
}

/// `WORKER_NAME` (unset: `<HOSTNAME>-<port>`), `WORKER_CONCURRENCY` (at least 1) and `WORKER_POLL_MS` (10 to
/// 60000) and `WORKER_DOWN_EXIT_SECS`.
pub(super) fn from_env(env: &Env, port: u16) -> Result<WorkerConfig, ConfigError> {
    let name = match env.get("WORKER_NAME") {
        Some(name) => name.to_owned(),
        None => format!("{}-{port}", env.get("HOSTNAME").unwrap_or("wa-onboard")),
    };
    let concurrency: usize = env.parse("WORKER_CONCURRENCY", 32)?;
    let poll_ms: u64 = env.parse("WORKER_POLL_MS", 200)?;
    let down_exit_secs: u64 = env.parse("WORKER_DOWN_EXIT_SECS", 120)?;
    Ok(WorkerConfig {
        name,
        concurrency: concurrency.max(1),
        poll: Duration::from_millis(poll_ms.clamp(10, 60_000)),
        down_exit_after: Duration::from_secs(down_exit_secs.max(1)),
    })
}
