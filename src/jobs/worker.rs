//! Workers: run a handler over a queue, on Redis (apalis, supervised: [`super::redis_worker`]) or in memory,
//! with our own attempt count. A handler that panics fails its try like an error (retried), not the worker.
//!
//! apalis-redis re-schedules every failed job by itself and ignores `max_attempts`; a handler's transient failure
//! is retried until the job's attempt cap, then aborted (apalis's dead set) and logged. Handlers are idempotent.
//! Tests run the memory queues step by step instead ([`run_pending`]).
//!
//! A handler's [`JobFailure`] keeps the error that stopped the job, with its causes; the logs show its message.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::FutureExt as _;
use thiserror::Error;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::health::WorkerHealth;
use crate::store::memory::queue::MemoryQueue;
use crate::store::queue::{Job, WorkerSource};

/// The error that stopped a job: any error (its causes kept), or a message.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a job did not complete, and whether to try it again. Displays as its cause (and `source` is the cause's).
#[derive(Debug, Error)]
pub enum JobFailure {
    /// Worth trying again later (store or network trouble).
    #[error(transparent)]
    Retry(Cause),
    /// Trying again cannot help: recorded, never retried.
    #[error(transparent)]
    Abort(Cause),
}

impl JobFailure {
    /// Worth trying again: `cause` is an error or a message (`String`, `&str`).
    pub fn retry(cause: impl Into<Cause>) -> Self {
        Self::Retry(cause.into())
    }

    /// Trying again cannot help: `cause` is an error or a message (`String`, `&str`).
    pub fn abort(cause: impl Into<Cause>) -> Self {
        Self::Abort(cause.into())
    }

    /// The error that stopped the job.
    pub fn cause(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        match self {
            Self::Retry(cause) | Self::Abort(cause) => cause.as_ref(),
        }
    }
}

#[async_trait]
pub trait Handler<J>: Send + Sync + 'static {
    /// `attempt` starts at 1.
    async fn handle(&self, job: J, attempt: u32) -> Result<(), JobFailure>;
}

/// Seconds to wait before try `attempt + 1`: 1, 2, 4, ... capped at 5 minutes.
pub fn backoff(attempt: u32) -> u64 {
    (1u64 << attempt.min(9)).min(300)
}

/// How one worker runs.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// Stable and unique per process, so that a restart reclaims its own jobs in flight.
    pub name: String,
    /// The queue, or the partition of a queue, it serves (`inbound`, `inbound.1`): how health and logs name it.
    pub queue: String,
    pub concurrency: usize,
    /// How often a Redis worker looks for due jobs (and a memory worker for delayed ones).
    pub poll: Duration,
    /// Tries per job, the first included.
    pub max_attempts: u32,
    /// On shutdown, how long jobs in flight may run on before they are handed back to the queue.
    pub grace: Duration,
}

/// What to do after one try.
pub(super) enum Next {
    Done,
    Retry(Cause),
    GiveUp(JobFailure),
}

pub(super) async fn attempt<J, H: Handler<J> + ?Sized>(handler: &H, job: J, attempt: u32, max_attempts: u32) -> Next {
    let outcome = std::panic::AssertUnwindSafe(handler.handle(job, attempt)).catch_unwind().await;
    let outcome = outcome.unwrap_or_else(|panic| {
        Err(JobFailure::retry(format!("the job's handler panicked: {}", panic_message(panic.as_ref()))))
    });
    match outcome {
        Ok(()) => Next::Done,
        Err(JobFailure::Retry(reason)) if attempt < max_attempts => Next::Retry(reason),
        Err(failure) => Next::GiveUp(failure),
    }
}

/// The text a panic was raised with.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Runs the jobs of `source` until `shutdown`.
pub async fn run<J: Job, H: Handler<J> + ?Sized>(
    spec: WorkerSpec,
    source: WorkerSource<J>,
    handler: Arc<H>,
    shutdown: CancellationToken,
    health: Arc<WorkerHealth>,
) {
    match source {
        WorkerSource::Memory(queue) => {
            health.up(&spec.queue);
            run_memory(spec.clone(), queue, handler, shutdown).await;
            health.down(&spec.queue, false);
        }
        WorkerSource::Redis(mut partitions) if partitions.len() == 1 => {
            let (_, storage) = partitions.remove(0);
            super::redis_worker::run(spec, storage, handler, shutdown, health).await
        }
        WorkerSource::Redis(partitions) => {
            // One worker per partition, all sharing the kind's concurrency: `WORKER_CONCURRENCY` (and a heavy
            // job's cap) stays what one process runs at once, however many partitions there are.
            let shared = Arc::new(Shared { inner: handler, permits: Arc::new(Semaphore::new(spec.concurrency)) });
            let workers = partitions.into_iter().map(|(partition, storage)| {
                let suffix = partition.strip_prefix(spec.queue.as_str()).unwrap_or_default();
                let spec = WorkerSpec { name: format!("{}{suffix}", spec.name), queue: partition, ..spec.clone() };
                super::redis_worker::run(spec, storage, shared.clone(), shutdown.clone(), health.clone())
            });
            futures::future::join_all(workers).await;
        }
    }
}

/// A handler whose runs, from however many workers, take one of `permits` each.
struct Shared<H: ?Sized> {
    inner: Arc<H>,
    permits: Arc<Semaphore>,
}

#[async_trait]
impl<J: Job, H: Handler<J> + ?Sized> Handler<J> for Shared<H> {
    async fn handle(&self, job: J, attempt: u32) -> Result<(), JobFailure> {
        let _permit = self.permits.acquire().await.map_err(|e| JobFailure::retry(e.to_string()))?;
        self.inner.handle(job, attempt).await
    }
}

async fn run_memory<J: Job, H: Handler<J> + ?Sized>(
    spec: WorkerSpec,
    queue: Arc<MemoryQueue<J>>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(spec.concurrency.max(1)));
    let mut running = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit,
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = permit else { break };
        let taken = loop {
            if shutdown.is_cancelled() {
                break None;
            }
            if let Some(taken) = queue.take() {
                break Some(taken);
            }
            tokio::select! {
                _ = queue.wait(spec.poll) => {}
                _ = shutdown.cancelled() => {}
            }
        };
        let Some(taken) = taken else { break };
        while running.try_join_next().is_some() {}
        let (queue, handler, spec) = (queue.clone(), handler.clone(), spec.clone());
        running.spawn(async move {
            let _permit = permit;
            run_taken(&spec.name, &queue, handler.as_ref(), taken, spec.max_attempts).await;
        });
    }
    // Jobs in flight finish within the grace period; in memory, what is still running then is lost with the
    // process anyway.
    let finished = tokio::time::timeout(spec.grace, async { while running.join_next().await.is_some() {} }).await;
    if finished.is_err() {
        tracing::warn!(worker = %spec.name, left = running.len(), "jobs still running at the end of the grace period");
        running.abort_all();
    }
}

async fn run_taken<J: Job, H: Handler<J> + ?Sized>(
    name: &str,
    queue: &MemoryQueue<J>,
    handler: &H,
    taken: crate::store::memory::queue::Taken<J>,
    max_attempts: u32,
) {
    let tries = taken.attempt + 1;
    match attempt(handler, taken.job.clone(), tries, max_attempts).await {
        Next::Done => {}
        Next::Retry(reason) => {
            tracing::warn!(worker = %name, attempt = tries, %reason, "job failed; will retry");
            queue.retry(taken.job, tries, Duration::from_secs(backoff(tries)));
        }
        Next::GiveUp(failure) => tracing::error!(worker = %name, attempt = tries, %failure, "job given up"),
    }
}

/// Runs every job of a memory queue that is due now, one after the other, and answers how many ran. A job that
/// fails is put back with its back-off (due once the clock has moved on). For tests and the demo: no polling,
/// no sleeping.
pub async fn run_pending<J: Job, H: Handler<J> + ?Sized>(
    name: &str,
    queue: &MemoryQueue<J>,
    handler: &H,
    max_attempts: u32,
) -> usize {
    let mut ran = 0;
    while let Some(taken) = queue.take() {
        run_taken(name, queue, handler, taken, max_attempts).await;
        ran += 1;
    }
    ran
}
