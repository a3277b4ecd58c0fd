//! A queue on Redis in apalis-redis's format, so apalis workers run its jobs. A queue is one apalis queue, or
//! several (partitions, `QUEUE_PARTITIONS`): each job goes to the partition its route picks (the hash of its
//! user), and each partition has its own hash tag, so a Redis Cluster spreads one busy kind of job over several
//! slots, and so over several masters.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::push_batcher::PushBatcher;
use crate::store::redis::RedisConn;
use apalis_core::task::builder::TaskBuilder;
use apalis_redis::{RedisStorage, RedisTask};
use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::queue::{Enqueued, Job, JobQueue, QueueDepth, Queued, mentions};

pub struct RedisQueue<J> {
    conn: RedisConn,
    parts: Arc<[Partition]>,
    /// The key prefix and the queue's name, for an erasure that looks in every partition there could be.
    prefix: Arc<str>,
    name: Arc<str>,
    job: PhantomData<fn() -> J>,
}

/// One apalis queue of a (possibly partitioned) queue.
struct Partition {
    /// Its hash tag: the queue's name, with the partition's number after the first.
    name: String,
    config: apalis_redis::Config,
    /// When set, pushes from concurrent callers share script calls ([`RedisQueue::batched`]).
    batcher: Option<PushBatcher>,
}

impl<J> Clone for RedisQueue<J> {
    fn clone(&self) -> Self {
        Self {
            conn: self.conn.clone(),
            parts: self.parts.clone(),
            prefix: self.prefix.clone(),
            name: self.name.clone(),
            job: PhantomData,
        }
    }
}

/// Most partitions a queue may have (`QUEUE_PARTITIONS`): far more than a cluster has masters.
pub const MAX_PARTITIONS: usize = 64;

/// The name (and hash tag) of partition `index` of queue `name`: the first keeps the queue's own name, so that a
/// queue that grows from one partition to several keeps serving the jobs it holds.
pub fn partition_name(name: &str, index: usize) -> String {
    if index == 0 { name.to_owned() } else { format!("{name}.{index}") }
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
    /// Queue `name` under `prefix`, in `partitions` partitions (at least one, at most [`MAX_PARTITIONS`]); its
    /// idempotency keys are kept `key_ttl`.
    pub fn new(conn: RedisConn, prefix: &str, name: &str, key_ttl: Duration, partitions: usize) -> Self {
        let parts = (0..partitions.clamp(1, MAX_PARTITIONS))
            .map(|index| {
                let name = partition_name(name, index);
                Partition { config: queue_config(prefix, &name, key_ttl), name, batcher: None }
            })
            .collect();
        Self { conn, parts, prefix: prefix.into(), name: name.into(), job: PhantomData }
    }

    /// This queue with its pushes gathered into shared script calls (group commit): for a producer with many
    /// concurrent callers, the webhook. Starts the sending loops, so call it inside the Tokio runtime.
    pub fn batched(self) -> Self {
        let parts = self
            .parts
            .iter()
            .map(|part| Partition {
                name: part.name.clone(),
                config: part.config.clone(),
                batcher: Some(PushBatcher::start(self.conn.clone(), part.config.clone())),
            })
            .collect();
        Self { parts, ..self }
    }

    /// apalis-redis's storage of each partition, named as its hash tag, for workers to take jobs from.
    pub fn storages(&self) -> Vec<(String, RedisStorage<J, RedisConn>)> {
        self.parts
            .iter()
            .map(|part| (part.name.clone(), RedisStorage::new(self.conn.clone()).with_config(part.config.clone())))
            .collect()
    }

    /// The partition that takes a job routed `route`.
    fn part_of(&self, route: u64) -> usize {
        (route % self.parts.len() as u64) as usize
    }

    /// The ids of the jobs of one partition whose payload mentions one of `needles`; the payloads are scanned a
    /// page at a time (a backlog is not read in one call).
    async fn matching_ids(&self, config: &apalis_redis::Config, needles: &[String]) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut matched = Vec::new();
        loop {
            let (next, page): (u64, Vec<(String, Vec<u8>)>) = redis::cmd("HSCAN")
                .arg(config.job_data_hash())
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

    /// Pushes jobs that all go to partition `part`.
    async fn push_to(&self, part: &Partition, jobs: &[&Queued<J>]) -> Result<Vec<Enqueued>, StoreError> {
        if let Some(batcher) = &part.batcher {
            let tasks = jobs.iter().map(|queued| task_of(queued)).collect::<Result<Vec<_>, _>>()?;
            let queued = batcher.push(tasks).await?;
            return Ok(queued.into_iter().map(|new| if new { Enqueued::New } else { Enqueued::Duplicate }).collect());
        }
        // One push-script call per job (its key claim and the job in one atomic step), sent PUSH_WINDOW at a
        // time: the multiplexed connection pipelines each window, and each answer says whether that job was new.
        // A whole batch at once (10,000 messages in one webhook) queued the last calls behind thousands of
        // others, beyond the Redis response timeout, so the batch was refused again on every redelivery.
        let mut answers = Vec::with_capacity(jobs.len());
        for window in jobs.chunks(PUSH_WINDOW) {
            let pushes = window.iter().map(|queued| async move {
                let task = task_of(queued)?;
                let mut conn = self.conn.clone();
                let (enqueued, scheduled) = apalis_redis::queries::push_tasks(&mut conn, &part.config, &[task])
                    .await
                    .map_err(StoreError::unavailable)?;
                Ok(if enqueued + scheduled > 0 { Enqueued::New } else { Enqueued::Duplicate })
            });
            answers.extend(futures::future::try_join_all(pushes).await?);
        }
        Ok(answers)
    }
}

#[async_trait]
impl<J: Job> JobQueue<J> for RedisQueue<J> {
    async fn push(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError> {
        if let [part] = &self.parts[..] {
            return self.push_to(part, &jobs.iter().collect::<Vec<_>>()).await;
        }
        // Each partition's share goes in its own calls, all partitions at once; the answers come back in the
        // order of `jobs`.
        let mut shares: Vec<Vec<(usize, &Queued<J>)>> = vec![Vec::new(); self.parts.len()];
        for (index, queued) in jobs.iter().enumerate() {
            shares[self.part_of(queued.route)].push((index, queued));
        }
        let pushes = shares.iter().zip(self.parts.iter()).filter(|(share, _)| !share.is_empty()).map(
            |(share, part)| async move {
                let jobs: Vec<&Queued<J>> = share.iter().map(|(_, queued)| *queued).collect();
                let answers = self.push_to(part, &jobs).await?;
                Ok::<_, StoreError>(share.iter().map(|(index, _)| *index).zip(answers).collect::<Vec<_>>())
            },
        );
        let mut answers = vec![Enqueued::Duplicate; jobs.len()];
        for (index, answer) in futures::future::try_join_all(pushes).await?.into_iter().flatten() {
            answers[index] = answer;
        }
        Ok(answers)
    }

    async fn pending(&self, limit: usize) -> Result<Vec<J>, StoreError> {
        let mut pending = Vec::new();
        for part in self.parts.iter() {
            if pending.len() >= limit {
                break;
            }
            pending.extend(self.pending_jobs(&part.config, limit - pending.len()).await?);
        }
        Ok(pending)
    }

    async fn erase_matching(&self, needles: &[String]) -> Result<usize, StoreError> {
        // Every partition there could be, not only the configured ones: a process run with fewer partitions than
        // the others (or after `QUEUE_PARTITIONS` was lowered) still erases what the others queued. A partition
        // that does not exist costs one empty scan. Each match goes with its metadata and its place in the
        // active list, the scheduled set and the dead set.
        let mut erased = 0;
        let mut conn = self.conn.clone();
        // The idempotency TTL plays no part in reading and deleting jobs.
        let ttl = Duration::from_secs(1);
        for index in 0..MAX_PARTITIONS {
            let config = &queue_config(&self.prefix, &partition_name(&self.name, index), ttl);
            let matched = self.matching_ids(config, needles).await?;
            for ids in matched.chunks(100) {
                let mut pipe = redis::pipe();
                for id in ids {
                    pipe.cmd("HDEL").arg(config.job_data_hash()).arg(id).ignore();
                    pipe.cmd("DEL").arg(format!("{}:{id}", config.job_meta_hash())).ignore();
                    pipe.cmd("LREM").arg(config.active_jobs_list()).arg(0).arg(id).ignore();
                    pipe.cmd("ZREM").arg(config.scheduled_jobs_set()).arg(id).ignore();
                    pipe.cmd("SREM").arg(config.dead_jobs_set()).arg(id).ignore();
                }
                pipe.query_async::<()>(&mut conn).await.map_err(StoreError::unavailable)?;
            }
            erased += matched.len();
        }
        Ok(erased)
    }

    async fn depth(&self) -> Result<QueueDepth, StoreError> {
        // Every key of a partition shares its hash tag: one pipeline, one slot, per partition. A scheduled job
        // that came due is counted as scheduled until a worker moves it to the active list (within a poll).
        let mut total = QueueDepth::default();
        let mut conn = self.conn.clone();
        for part in self.parts.iter() {
            let (due, scheduled, dead): (u64, u64, u64) = redis::pipe()
                .cmd("LLEN")
                .arg(part.config.active_jobs_list())
                .cmd("ZCARD")
                .arg(part.config.scheduled_jobs_set())
                .cmd("SCARD")
                .arg(part.config.dead_jobs_set())
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
            total.due += due;
            total.scheduled += scheduled;
            total.dead += dead;
        }
        Ok(total)
    }

    async fn count_matching(&self, needles: &[String]) -> Result<usize, StoreError> {
        // Dead jobs will not run again: nothing waits for them.
        let mut waiting = 0;
        let mut conn = self.conn.clone();
        for part in self.parts.iter() {
            let ids = self.matching_ids(&part.config, needles).await?;
            if ids.is_empty() {
                continue;
            }
            let dead: Vec<bool> = redis::cmd("SMISMEMBER")
                .arg(part.config.dead_jobs_set())
                .arg(&ids)
                .query_async(&mut conn)
                .await
                .map_err(StoreError::unavailable)?;
            waiting += dead.iter().filter(|dead| !**dead).count();
        }
        Ok(waiting)
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
    async fn pending_jobs(&self, config: &apalis_redis::Config, limit: usize) -> Result<Vec<J>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A job due now goes to the active list, a later one to the scheduled set (workers move it to the active
        // list when due): pending is the active list, then the scheduled set.
        let mut conn = self.conn.clone();
        let (mut ids, scheduled): (Vec<String>, Vec<String>) = redis::pipe()
            .cmd("LRANGE")
            .arg(config.active_jobs_list())
            .arg(0)
            .arg(limit as i64 - 1)
            .cmd("ZRANGE")
            .arg(config.scheduled_jobs_set())
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
            .arg(config.job_data_hash())
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
