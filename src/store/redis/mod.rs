//! The Redis implementations, shared by every server and worker process. One multiplexed connection
//! ([`ConnectionManager`], which reconnects in the background) serves every store of a process.
//!
//! Every key starts with `REDIS_KEY_PREFIX`; keys that a script touches together share a hash tag (`{...}`), so
//! they land on one Redis Cluster slot.

pub mod agents;
pub mod api_tokens;
pub mod cases;
pub mod conversations;
pub mod dead_jobs;
pub mod delivery;
pub mod ingress;
pub mod journeys;
pub mod queue;
pub mod rate_limit;
pub mod values;
pub mod vault;

use std::time::Duration;

use anyhow::Context as _;
use apalis_redis::ConnectionManager;
use redis::aio::ConnectionManagerConfig;

use crate::store::StoreError;

/// Connects, failing with a clear error when Redis does not answer. Later outages are survived: the connection
/// manager reconnects in the background and calls fail fast meanwhile (`response_timeout`).
pub async fn connect(url: &str, response_timeout: Duration) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(response_timeout.max(Duration::from_secs(1))))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    let conn = ConnectionManager::new_with_config(client, config)
        .await
        .context("cannot connect to Redis at REDIS_URL (is it running?)")?;
    ping(&conn).await.context("Redis at REDIS_URL does not answer PING")?;
    Ok(conn)
}

pub async fn ping(conn: &ConnectionManager) -> Result<(), StoreError> {
    let mut conn = conn.clone();
    redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop).map_err(StoreError::unavailable)
}
