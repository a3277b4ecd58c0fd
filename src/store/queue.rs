//! Job queues: a job with an idempotency key and an optional time to run, on Redis (apalis-redis) or in memory.
//! The key is claimed in the same atomic step that enqueues the job, so a retried producer never queues twice.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::memory::queue::MemoryQueue;
use crate::jobs::key::JobKey;

/// What happened to one job pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Its key was new: claimed, and the job queued.
    New,
    /// Its key was already claimed: nothing was written.
    Duplicate,
}

/// A job ready to be queued.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued<J> {
    /// The idempotency key: a second push with the same key queues nothing.
    pub key: JobKey,
    pub job: J,
    /// Unix seconds; 0 (or the past) runs as soon as a worker is free.
    pub run_at: u64,
}

impl<J> Queued<J> {
    pub fn now(key: JobKey, job: J) -> Self {
        Self { key, job, run_at: 0 }
    }

    pub fn at(key: JobKey, job: J, run_at: u64) -> Self {
        Self { key, job, run_at }
    }
}

/// What a queue can carry: anything that travels as JSON.
pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static> Job for T {}

#[async_trait]
pub trait JobQueue<J: Job>: Send + Sync + 'static {
    /// Queues each job whose key is new; answers per job, in order.
    async fn push(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError>;

    /// Jobs waiting (due or scheduled), for inspection and tests.
    async fn pending(&self, limit: usize) -> Result<Vec<J>, StoreError>;
}

/// Where a worker takes its jobs from: the memory queue itself, or apalis-redis's storage of the queue.
pub enum WorkerSource<J> {
    Memory(Arc<MemoryQueue<J>>),
    Redis(Box<apalis_redis::RedisStorage<J>>),
}
