//! A queue on Redis in apalis-redis's format, so apalis workers run its jobs.

use std::marker::PhantomData;
use std::time::Duration;

use super::push_batcher::PushBatcher;
use crate::store::redis::RedisConn;
use apalis_core::task::builder::TaskBuilder;
use apalis_redis::{RedisStorage, RedisTask};
use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::queue::{Enqueued, Job, JobQueue, Queued, mentions};

pub struct RedisQueue<J> {
    conn: RedisConn,
    config: apalis_redis::Config,
    /// When set, pushes from concurrent callers share script calls ([`RedisQueue::batched`]).
    batcher: Option<PushBatcher>,
    job: PhantomData<fn() -> J>,
}

impl<J> Clone for RedisQueue<J> {
    fn clone(&self) -> Self {
        Self { conn: self.conn.clone(), config: self.config.clone(), batcher: self.batcher.clone(), job: PhantomData }
    }
}

/// The apalis configuration of queue `name` under `prefix`: keys `<prefix>:{<name>}:*`, one hash tag per queue.
pub fn queue_config(prefix: &str, name: &str, key_ttl: Duration) -> apalis_redis::Config {
    apalis_redis::Config::default()
        .queue(format!("{prefix}:{{{name}}}"))
        // Idempotency keys outlive any redelivery or retry.
        .idempotency_ttl(Some(key_ttl))
        // Workers poll on an interval; no pub/sub message per job.
        .emit_events(false)
        // A worker registers itself on its heartbeat: if that call fails (Redis slow or restarting), the worker
        // fetches nothing until the next beat. Five seconds keeps that gap short (apalis's default is 30 s).
        .heartbeat_interval(crate::jobs::redis_worker::HEARTBEAT)
        // A worker that missed this many beats is taken for dead: its jobs in flight go back to the queue.
        .missed_heartbeats(crate::jobs::redis_worker::MISSED_HEARTBEATS)
        // No registry outside the prefix (apalis's `core:apalis:queues:list`): every key stays in the queue's slot.
        .queue_registry(None)
        // A finished job is deleted with its payload: a queue holds only the work in flight, the scheduled and
        // the dead jobs (whose payloads an erasure removes).
        .remove_done(true)
        // Up to this many jobs per fetch (the worker takes the next batch at once when one is done).
        .batch_size(FETCH_BATCH)
}

/// Jobs one fetch takes from Redis: one round trip per batch instead of per job, few enough that a worker that
/// dies holds little in flight.
const FETCH_BATCH: usize = 32;

impl<J: Job> RedisQueue<J> {
    /// The ids of the jobs whose payload mentions one of `needles`; the payloads are scanned a page at a time
    /// (a backlog is not read in one call).
    async fn matching_ids(&self, needles: &[String]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut matched = Vec::new();
        loop {
            let (next, page): (u64, Vec<(String, Vec<u8>)>) = redis::cmd("HSCAN")
                .arg(self.config.job_data_hash())
                .arg(cursor)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
            matched.extend(page.into_iter().filter(|(_, payload)| mentions(payload, needles)).map(|(id, _)| id));
            if next == 0 {
                return Ok(matched);
            }
            cursor = next;
        }
    }

    pub fn new(conn: RedisConn, config: apalis_redis::Config) -> Self {
        Self { conn, config, batcher: None, job: PhantomData }
    }

    /// This queue with its pushes gathered into shared script calls (group commit): for a producer with many
    /// concurrent callers, the webhook. Starts the sending loops, so call it inside the Tokio runtime.
    pub fn batched(mut self) -> Self {
        self.batcher = Some(PushBatcher::start(self.conn.clone(), self.config.clone()));
        self
    }

    /// apalis-redis's storage of this queue, for a worker to take jobs from.
    pub fn storage(&self) -> RedisStorage<J, crate::store::redis::RedisConn> {
        RedisStorage::new(self.conn.clone()).with_config(self.config.clone())
    }
}

#[async_trait]
impl<J: Job> JobQueue<J> for RedisQueue<J> {
    async fn push(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError> {
        // One push-script call per job (its key claim and the job in one atomic step), sent PUSH_WINDOW at a time:
        // the multiplexed connection pipelines each window, and each answer says whether that job was new. A whole
        // batch at once (10,000 messages in one webhook) queued the last calls behind thousands of others, beyond
        // the Redis response timeout, so the batch was refused again on every redelivery.
        if let Some(batcher) = &self.batcher {
            let tasks = jobs.iter().map(task_of).collect::<Result<Vec<_>, _>>()?;
            let queued = batcher.push(tasks).await?;
            return Ok(queued.into_iter().map(|new| if new { Enqueued::New } else { Enqueued::Duplicate }).collect());
        }
        let mut answers = Vec::with_capacity(jobs.len());
        for window in jobs.chunks(PUSH_WINDOW) {
            answers.extend(self.push_window(window).await?);
        }
        Ok(answers)
    }

    async fn pending(&self, limit: usize) -> Result<Vec<J>, StoreError> {
        self.pending_jobs(limit).await
    }

    async fn erase_matching(&self, needles: &[String]) -> Result<usize, StoreError> {
        // Each match goes with its metadata and its place in the active list, the scheduled set and the dead set.
        let matched = self.matching_ids(needles).await?;
        let mut conn = self.conn.clone();
        for ids in matched.chunks(100) {
            let mut pipe = redis::pipe();
            for id in ids {
                pipe.cmd("HDEL").arg(self.config.job_data_hash()).arg(id).ignore();
                pipe.cmd("DEL").arg(format!("{}:{id}", self.config.job_meta_hash())).ignore();
                pipe.cmd("LREM").arg(self.config.active_jobs_list()).arg(0).arg(id).ignore();
                pipe.cmd("ZREM").arg(self.config.scheduled_jobs_set()).arg(id).ignore();
                pipe.cmd("SREM").arg(self.config.dead_jobs_set()).arg(id).ignore();
            }
            pipe.query_async::<()>(&mut conn).await.map_err(StoreError::unavailable)?;
        }
        Ok(matched.len())
    }

    async fn depth(&self) -> Result<crate::store::queue::QueueDepth, StoreError> {
        // Every key of a queue shares its hash tag: one pipeline, one slot. A scheduled job that came due is
        // counted as scheduled until a worker moves it to the active list (within a poll).
        let mut conn = self.conn.clone();
        let (due, scheduled, dead): (u64, u64, u64) = redis::pipe()
            .cmd("LLEN")
            .arg(self.config.active_jobs_list())
            .cmd("ZCARD")
            .arg(self.config.scheduled_jobs_set())
            .cmd("SCARD")
            .arg(self.config.dead_jobs_set())
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(crate::store::queue::QueueDepth { due, scheduled, dead })
    }

    async fn count_matching(&self, needles: &[String]) -> Result<usize, StoreError> {
        // Dead jobs will not run again: nothing waits for them.
        let ids = self.matching_ids(needles).await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.conn.clone();
        let dead: Vec<bool> = redis::cmd("SMISMEMBER")
            .arg(self.config.dead_jobs_set())
            .arg(&ids)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        Ok(dead.iter().filter(|dead| !**dead).count())
    }
}

/// The apalis task of a job: its JSON payload, its idempotency key, when it is due.
fn task_of<J: Job>(queued: &Queued<J>) -> Result<RedisTask, StoreError> {
    let bytes = serde_json::to_vec(&queued.job).map_err(StoreError::corrupt)?;
    let mut builder = TaskBuilder::new(bytes).idempotency_key(queued.key.as_str());
    if queued.run_at > 0 {
        builder = builder.run_at_timestamp(queued.run_at);
    }
    Ok(builder.build())
}

/// Push calls in flight at once on the shared connection.
const PUSH_WINDOW: usize = 256;

impl<J: Job> RedisQueue<J> {
    async fn push_window(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError> {
        let pushes = jobs.iter().map(|queued| async move {
            let task = task_of(queued)?;
            let mut conn = self.conn.clone();
            let (enqueued, scheduled) = apalis_redis::queries::push_tasks(&mut conn, &self.config, &[task])
                .await
                .map_err(StoreError::unavailable)?;
            Ok(if enqueued + scheduled > 0 { Enqueued::New } else { Enqueued::Duplicate })
        });
        futures::future::try_join_all(pushes).await
    }

    async fn pending_jobs(&self, limit: usize) -> Result<Vec<J>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A job due now goes to the active list, a later one to the scheduled set (workers move it to the active
        // list when due): pending is the active list, then the scheduled set.
        let mut conn = self.conn.clone();
        let (mut ids, scheduled): (Vec<String>, Vec<String>) = redis::pipe()
            .cmd("LRANGE")
            .arg(self.config.active_jobs_list())
            .arg(0)
            .arg(limit as i64 - 1)
            .cmd("ZRANGE")
            .arg(self.config.scheduled_jobs_set())
            .arg(0)
            .arg(limit as i64 - 1)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        ids.extend(scheduled);
        ids.truncate(limit);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let data: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
            .arg(self.config.job_data_hash())
            .arg(&ids)
            .query_async(&mut conn)
            .await
            .map_err(StoreError::unavailable)?;
        data.into_iter()
            .flatten()
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("queued job: {e}"))))
            .collect()
    }
}
