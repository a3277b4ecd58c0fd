//! Workers: run a handler over a queue, on Redis (apalis) or in memory, with our own attempt count.
//!
//! apalis-redis re-schedules every failed job by itself and ignores `max_attempts`; a handler's transient failure
//! is retried until the job's attempt cap, then aborted (apalis's dead set) and logged. Handlers are idempotent.
//! Tests run the memory queues step by step instead ([`run_pending`]).
//!
//! A handler's [`JobFailure`] keeps the error that stopped the job, with its causes; the logs show its message.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::WorkerBuilderExt;
use apalis_core::backend::ext::BackendExt;
use apalis_core::error::{AbortError, BoxDynError};
use apalis_core::task::attempt::Attempt;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use async_trait::async_trait;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

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
    pub concurrency: usize,
    /// How often a Redis worker looks for due jobs (and a memory worker for delayed ones).
    pub poll: Duration,
    /// Tries per job, the first included.
    pub max_attempts: u32,
}

/// What to do after one try.
enum Next {
    Done,
    Retry(Cause),
    GiveUp(JobFailure),
}

async fn attempt<J, H: Handler<J> + ?Sized>(handler: &H, job: J, attempt: u32, max_attempts: u32) -> Next {
    match handler.handle(job, attempt).await {
        Ok(()) => Next::Done,
        Err(JobFailure::Retry(reason)) if attempt < max_attempts => Next::Retry(reason),
        Err(failure) => Next::GiveUp(failure),
    }
}

/// Runs the jobs of `source` until `shutdown`.
pub async fn run<J: Job, H: Handler<J> + ?Sized>(
    spec: WorkerSpec,
    source: WorkerSource<J>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    match source {
        WorkerSource::Memory(queue) => run_memory(spec, queue, handler, shutdown).await,
        WorkerSource::Redis(storage) => run_redis(spec, *storage, handler, shutdown).await,
    }
}

/// A concrete type around the handler: apalis's handler functions cannot take `dyn` types with elided lifetimes.
struct HandlerRef<H: ?Sized> {
    handler: Arc<H>,
    max_attempts: u32,
}

impl<H: ?Sized> Clone for HandlerRef<H> {
    fn clone(&self) -> Self {
        Self { handler: self.handler.clone(), max_attempts: self.max_attempts }
    }
}

async fn apalis_entry<J: Job, H: Handler<J> + ?Sized>(
    job: J,
    handler: Data<HandlerRef<H>>,
    tries: Attempt,
) -> Result<(), BoxDynError> {
    let current = tries.current() as u32 + 1;
    match attempt(handler.handler.as_ref(), job, current, handler.max_attempts).await {
        Next::Done => Ok(()),
        Next::Retry(reason) => Err(reason),
        Next::GiveUp(failure) => {
            tracing::error!(%failure, attempt = current, "job given up: moved to the dead set");
            Err(AbortError::new(failure).into())
        }
    }
}

async fn run_redis<J: Job, H: Handler<J> + ?Sized>(
    spec: WorkerSpec,
    storage: apalis_redis::RedisStorage<J>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let worker = WorkerBuilder::new(spec.name.clone())
        .backend(storage.poll_with_interval(spec.poll))
        .concurrency(spec.concurrency)
        .data(HandlerRef { handler, max_attempts: spec.max_attempts })
        .build(apalis_entry::<J, H>);
    let stop = async move {
        shutdown.cancelled_owned().await;
        Ok::<(), std::io::Error>(())
    };
    if let Err(e) = worker.run_until(stop).await {
        tracing::error!(worker = %spec.name, error = %e, "worker stopped with an error");
    }
}

async fn run_memory<J: Job, H: Handler<J> + ?Sized>(
    spec: WorkerSpec,
    queue: Arc<MemoryQueue<J>>,
    handler: Arc<H>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(spec.concurrency.max(1)));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let taken = loop {
            if shutdown.is_cancelled() {
                return;
            }
            if let Some(taken) = queue.take() {
                break taken;
            }
            tokio::select! {
                _ = queue.wait(spec.poll) => {}
                _ = shutdown.cancelled() => return,
            }
        };
        let (queue, handler, spec) = (queue.clone(), handler.clone(), spec.clone());
        tokio::spawn(async move {
            let _permit = permit;
            run_taken(&spec.name, &queue, handler.as_ref(), taken, spec.max_attempts).await;
        });
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
