//! Job queues: a job with an idempotency key and an optional time to run, on Redis (apalis-redis) or in memory.
//! The key is claimed in the same atomic step that enqueues the job, so a retried producer never queues twice.

pub mod memory;
pub mod redis;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::jobs::key::JobKey;
use crate::store::{Enqueued, StoreError};

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
}

pub trait Job: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static {}
impl<T: Serialize + DeserializeOwned + Clone + Send + Sync + Unpin + 'static> Job for T {}

#[async_trait]
pub trait JobQueue<J: Job>: Send + Sync + 'static {
    /// Queues each job whose key is new; answers per job, in order.
    async fn push(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError>;

    /// Jobs waiting (due or scheduled), for inspection and tests.
    async fn pending(&self, limit: usize) -> Result<Vec<J>, StoreError>;
}
