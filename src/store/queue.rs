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
    /// Which partition of a partitioned queue takes it: the hash of the user it is about ([`route_of`]), or of
    /// its key. A function of the job alone, so that a job pushed twice meets its own key's claim.
    pub route: u64,
}

impl<J> Queued<J> {
    pub fn now(key: JobKey, job: J) -> Self {
        Self::at(key, job, 0)
    }

    pub fn at(key: JobKey, job: J, run_at: u64) -> Self {
        let route = route_of(key.as_str());
        Self { key, job, run_at, route }
    }

    /// The same job, in the partition of `owner` (a user key): one user's jobs of a kind share a partition.
    pub fn owned_by(mut self, owner: &str) -> Self {
        self.route = route_of(owner);
        self
    }
}

/// A stable 64-bit hash (FNV-1a) of `text`: the same in every process and every version, since it says where a
/// job is stored.
pub fn route_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
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

    /// Removes every job held (waiting, scheduled or dead) whose payload contains one of `needles` (a user's
    /// id, phone number, conversation ids): an erasure. Answers how many went.
    async fn erase_matching(&self, needles: &[String]) -> Result<usize, StoreError>;

    /// How many jobs still to run (waiting, running or scheduled: not dead) mention one of `needles`: an erasure waits
    /// for the last messages to a user to go out before it removes what is left.
    async fn count_matching(&self, needles: &[String]) -> Result<usize, StoreError>;

    /// How many jobs wait, as the store holds them (every process sees the same).
    async fn depth(&self) -> Result<QueueDepth, StoreError>;
}

/// A queue's backlog: what an operator watches to size the workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Due now, waiting for a free worker.
    pub due: u64,
    /// To run later (delayed jobs, retries, reminders).
    pub scheduled: u64,
    /// Gave up after their tries (kept for inspection: `wa-onboard jobs dead`).
    pub dead: u64,
}

/// Whether a job's payload mentions one of `needles` (empty needles never match).
pub fn mentions(payload: &[u8], needles: &[String]) -> bool {
    needles.iter().filter(|n| !n.is_empty()).any(|n| payload.windows(n.len()).any(|w| w == n.as_bytes()))
}

/// Where a worker takes its jobs from: the memory queue itself, or apalis-redis's storage of each partition of
/// the queue (one, unless `QUEUE_PARTITIONS` says more), named as its keys' hash tag.
pub enum WorkerSource<J> {
    Memory(Arc<MemoryQueue<J>>),
    Redis(Vec<(String, apalis_redis::RedisStorage<J, crate::store::redis::RedisConn>)>),
}
