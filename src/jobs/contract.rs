//! The job contract: what every kind of background job declares about itself, in one `impl` (the catalog of the
//! service's jobs is [`crate::workers`]). Modelled on crates.io's `BackgroundJob`.

use std::sync::Arc;

use super::key::JobKey;
use super::worker::Handler;
use crate::store::queue::{Job, JobQueue, Queued};
use crate::store::{Backend, Enqueued, StoreError};

/// Tries per job, the first included, unless a job says otherwise. apalis-redis would retry up to 25 times by
/// itself; the workers count attempts and give up past this.
pub const MAX_ATTEMPTS: u32 = 12;

/// How many jobs of one kind a process runs at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// `WORKER_CONCURRENCY`.
    Configured,
    /// `WORKER_CONCURRENCY`, but never more than this (heavy jobs: image decoding).
    AtMost(usize),
    /// Always this many.
    Fixed(usize),
}

impl Concurrency {
    pub fn resolve(self, configured: usize) -> usize {
        match self {
            Self::Configured => configured,
            Self::AtMost(n) => configured.min(n),
            Self::Fixed(n) => n,
        }
        .max(1)
    }
}

pub trait BackgroundJob: Job {
    /// The queue's name: its Redis keys are `<prefix>:{<QUEUE>}:*`, its workers `<WORKER_NAME>-<QUEUE>`.
    const QUEUE: &'static str;
    const CONCURRENCY: Concurrency = Concurrency::Configured;
    /// Tries, the first included; a job that still fails goes to the dead set and is logged.
    const MAX_ATTEMPTS: u32 = MAX_ATTEMPTS;
    /// What runs it.
    type Handler: Handler<Self> + ?Sized;

    /// The idempotency key this job is queued under (see [`JobKey`]'s constructors).
    fn key(&self) -> JobKey;

    /// The user this job is about, when it is about one: a partitioned queue keeps each user's jobs of a kind
    /// in one partition. Jobs about no one are spread by their key.
    fn owner(&self) -> Option<String> {
        None
    }

    /// This job, to run as soon as a worker is free.
    fn queued(self) -> Queued<Self> {
        let key = self.key();
        self.queued_under(key, 0)
    }

    /// This job, to run at `run_at` (Unix seconds).
    fn queued_at(self, run_at: u64) -> Queued<Self> {
        let key = self.key();
        self.queued_under(key, run_at)
    }

    /// This job under another key than its own (a retry, a job put back), to run at `run_at` (0: now).
    fn queued_under(self, key: JobKey, run_at: u64) -> Queued<Self> {
        match self.owner() {
            Some(owner) => Queued::at(key, self, run_at).owned_by(&owner),
            None => Queued::at(key, self, run_at),
        }
    }
}

/// Every queue of a backend, by job type: `queues.of::<OutboundJob>()`.
#[derive(Clone)]
pub struct Queues {
    backend: Backend,
}

impl Queues {
    pub fn new(backend: Backend) -> Self {
        Self { backend }
    }

    pub fn of<J: BackgroundJob>(&self) -> Arc<dyn JobQueue<J>> {
        self.backend.queue::<J>(J::QUEUE)
    }

    /// Queues each job whose key is new (nothing to do for none).
    pub async fn push<J: BackgroundJob>(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        self.of::<J>().push(jobs).await
    }
}
