//! The jobs a queue gave up on (apalis-redis's dead set, `<queue>:dead`), for an operator to list and put back.
//! A job put back keeps its id and payload, starts again from its first try, and is run by the next free worker.
//!
//! Keys per queue (one hash tag each): `:dead` (set of ids), `:data` (payload by id), `:meta:<id>` (status,
//! attempts, the last error as `result`, `done_at`), `:active` (the list workers take from), `:signal`.

use crate::store::redis::RedisConn;
use serde::Serialize;

use super::queue::{MAX_PARTITIONS, partition_name, queue_config};
use crate::store::StoreError;

/// One job given up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadJob {
    pub queue: String,
    pub id: String,
    pub attempts: u32,
    /// When it was given up, unix seconds (as apalis recorded it).
    pub died_at: Option<i64>,
    /// What the last try answered.
    pub error: String,
    /// The size of its payload (the payload may hold personal data: it is not printed).
    pub payload_bytes: usize,
}

/// Moves one dead job back to its queue: KEYS = dead set, meta prefix, active list, signal list; ARGV[1] = id.
/// Answers 1 when it was dead and is queued again.
const RETRY_SCRIPT: &str = r"
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2] .. ':' .. ARGV[1], 'status', 'Pending', 'attempts', 0)
redis.call('HDEL', KEYS[2] .. ':' .. ARGV[1], 'result', 'done_at')
redis.call('RPUSH', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[4])
return 1
";

#[derive(Clone)]
pub struct RedisDeadJobs {
    conn: RedisConn,
    prefix: String,
    /// Partitions per queue (`QUEUE_PARTITIONS`): each has its own dead set.
    partitions: usize,
}

impl RedisDeadJobs {
    pub fn new(conn: RedisConn, prefix: &str, partitions: usize) -> Self {
        Self { conn, prefix: prefix.to_owned(), partitions: partitions.clamp(1, MAX_PARTITIONS) }
    }

    /// The apalis configuration of each partition of `queue`.
    fn configs(&self, queue: &str) -> Vec<apalis_redis::Config> {
        // The TTL does not matter for reading and moving jobs.
        let ttl = std::time::Duration::from_secs(1);
        (0..self.partitions).map(|index| queue_config(&self.prefix, &partition_name(queue, index), ttl)).collect()
    }

    /// Up to `limit` dead jobs of `queue` (of all its partitions), by id.
    pub async fn list(&self, queue: &str, limit: usize) -> Result<Vec<DeadJob>, StoreError> {
        let mut conn = self.conn.clone();
        let mut ids: Vec<(String, apalis_redis::Config)> = Vec::new();
        for config in self.configs(queue) {
            let dead: Vec<String> = redis::cmd("SMEMBERS")
                .arg(config.dead_jobs_set())
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
            ids.extend(dead.into_iter().map(|id| (id, config.clone())));
        }
        ids.sort_by(|a, b| a.0.cmp(&b.0));
        ids.truncate(limit);
        let mut jobs = Vec::with_capacity(ids.len());
        for (id, config) in ids {
            let meta: std::collections::HashMap<String, String> = redis::cmd("HGETALL")
                .arg(format!("{}:{id}", config.job_meta_hash()))
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
            let payload_bytes: usize = redis::cmd("HSTRLEN")
                .arg(config.job_data_hash())
                .arg(&id)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
            jobs.push(DeadJob {
                queue: queue.to_owned(),
                attempts: meta.get("attempts").and_then(|a| a.parse().ok()).unwrap_or_default(),
                died_at: meta.get("done_at").and_then(|t| t.parse().ok()),
                error: meta.get("result").cloned().unwrap_or_default(),
                payload_bytes,
                id,
            });
        }
        Ok(jobs)
    }

    /// Puts one dead job of `queue` back (in the partition that holds it); `false` when `id` is not dead there.
    pub async fn retry(&self, queue: &str, id: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        for config in self.configs(queue) {
            let moved: i64 = redis::Script::new(RETRY_SCRIPT)
                .key(config.dead_jobs_set())
                .key(config.job_meta_hash())
                .key(config.active_jobs_list())
                .key(config.signal_list())
                .arg(id)
                .invoke_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
            if moved == 1 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Puts every dead job of `queue` back; answers how many.
    pub async fn retry_all(&self, queue: &str) -> Result<usize, StoreError> {
        let mut moved = 0;
        loop {
            let batch = self.list(queue, 500).await?;
            if batch.is_empty() {
                return Ok(moved);
            }
            for job in batch {
                moved += usize::from(self.retry(queue, &job.id).await?);
            }
        }
    }
}
