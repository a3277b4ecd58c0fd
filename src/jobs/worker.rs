//! Workers: run a handler over a queue, on Redis (apalis) or in memory, with our own attempt count.
//!
//! apalis-redis re-schedules every failed job by itself and ignores `max_attempts`; a handler's transient failure
//! is retried until [`MAX_ATTEMPTS`], then aborted (apalis's dead set) and logged. Handlers are idempotent.
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
use apalis_redis::RedisStorage;
use async_trait::async_trait;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::queue::Job;
use super::queue::memory::MemoryQueue;
use super::queue::redis::RedisQueue;
use crate::store::now_ms;

/// Tries per job, the first included.
pub const MAX_ATTEMPTS: u32 = 12;

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

/// A concrete type around the handler: apalis's handler functions cannot take `dyn` types with elided lifetimes.
struct HandlerRef<J>(Arc<dyn Handler<J>>);

impl<J> Clone for HandlerRef<J> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

async fn apalis_entry<J: Job>(job: J, handler: Data<HandlerRef<J>>, attempt: Attempt) -> Result<(), BoxDynError> {
    let attempt = attempt.current() as u32 + 1;
    let HandlerRef(inner) = &*handler;
    match inner.handle(job, attempt).await {
        Ok(()) => Ok(()),
        Err(JobFailure::Retry(reason)) if attempt < MAX_ATTEMPTS => Err(reason),
        Err(failure) => {
            tracing::error!(%failure, attempt, "job given up: moved to the dead set");
            Err(AbortError::new(failure).into())
        }
    }
}

/// Runs jobs of a Redis queue until `shutdown`. `name` must be stable and unique per process, so that a restart
/// reclaims its own jobs in flight.
pub async fn run_redis<J: Job>(
    name: String,
    queue: RedisQueue<J>,
    handler: Arc<dyn Handler<J>>,
    concurrency: usize,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let storage: RedisStorage<J> = RedisStorage::new(queue.connection()).with_config(queue.config().clone());
    let worker = WorkerBuilder::new(name.clone())
        .backend(storage.poll_with_interval(poll))
        .concurrency(concurrency)
        .data(HandlerRef(handler))
        .build(apalis_entry::<J>);
    let stop = async move {
        shutdown.cancelled_owned().await;
        Ok::<(), std::io::Error>(())
    };
    if let Err(e) = worker.run_until(stop).await {
        tracing::error!(worker = %name, error = %e, "worker stopped with an error");
    }
}

/// Runs jobs of an in-memory queue until `shutdown`, `concurrency` at a time.
pub async fn run_memory<J: Job>(
    name: String,
    queue: Arc<MemoryQueue<J>>,
    handler: Arc<dyn Handler<J>>,
    concurrency: usize,
    poll: Duration,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
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
                _ = queue.wait(poll) => {}
                _ = shutdown.cancelled() => return,
            }
        };
        let (queue, handler, name) = (queue.clone(), handler.clone(), name.clone());
        tokio::spawn(async move {
            let attempt = taken.attempt + 1;
            match handler.handle(taken.job.clone(), attempt).await {
                Ok(()) => {}
                Err(JobFailure::Retry(reason)) if attempt < MAX_ATTEMPTS => {
                    tracing::warn!(worker = %name, attempt, %reason, "job failed; will retry");
                    queue.retry(taken.job, attempt, now_ms() / 1000 + backoff(attempt));
                }
                Err(failure) => tracing::error!(worker = %name, attempt, %failure, "job given up"),
            }
            drop(permit);
        });
    }
}
