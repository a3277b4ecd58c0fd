//! The Redis implementations, shared by every server and worker process. One multiplexed connection
//! ([`RedisConn`]: one server, a Redis Cluster or a Sentinel-watched master, reconnecting in the background)
//! serves every store of a process.
//!
//! Every key starts with `REDIS_KEY_PREFIX`; keys that a script or pipeline touches together share a hash tag
//! (`{...}`), so they land on one Redis Cluster slot.

pub mod agents;
pub mod api_tokens;
pub mod cases;
pub mod connection;
pub mod conversations;
pub mod dead_jobs;
pub mod delivery;
pub mod ingress;
pub mod journeys;
mod push_batcher;
pub mod queue;
pub mod rate_limit;
pub mod send_order;
pub mod target;
pub mod values;
pub mod vault;

use std::time::Duration;

use anyhow::Context as _;
pub use connection::RedisConn;
pub use target::RedisTarget;

use crate::store::StoreError;

/// Connects, failing with a clear error when Redis does not answer. Later outages are survived: the connection
/// reconnects in the background and calls fail fast meanwhile (`response_timeout`).
pub async fn connect(url: &str, response_timeout: Duration) -> anyhow::Result<RedisConn> {
    let target = RedisTarget::parse(url).context("REDIS_URL is not usable")?;
    let conn = RedisConn::open(&target, response_timeout)
        .await
        .with_context(|| format!("cannot connect to the Redis {} at REDIS_URL (is it running?)", target.kind()))?;
    ping(&conn).await.context("Redis at REDIS_URL does not answer PING")?;
    Ok(conn)
}

pub async fn ping(conn: &RedisConn) -> Result<(), StoreError> {
    let mut conn = conn.clone();
    redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop).map_err(StoreError::unavailable)
}
