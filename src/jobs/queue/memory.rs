//! The in-memory queue: one process, same semantics as Redis (idempotency keys with a TTL, delayed jobs).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{Job, JobQueue, Queued};
use crate::jobs::key::JobKey;
use crate::store::{Enqueued, StoreError, now_ms};

pub struct MemoryQueue<J> {
    key_ttl: Duration,
    inner: Mutex<Inner<J>>,
    notify: Notify,
}

struct Inner<J> {
    claims: HashMap<JobKey, Instant>,
    /// (run_at in Unix seconds, attempt, job), kept in arrival order; due ones are taken first come first served.
    jobs: VecDeque<(u64, u32, J)>,
}

/// A job taken from the queue, with how many times it was tried before.
pub struct Taken<J> {
    pub job: J,
    pub attempt: u32,
}

impl<J: Job> MemoryQueue<J> {
    pub fn new(key_ttl: Duration) -> Self {
        Self {
            key_ttl,
            inner: Mutex::new(Inner { claims: HashMap::new(), jobs: VecDeque::new() }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<J>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the oldest due job, if any.
    pub fn take(&self) -> Option<Taken<J>> {
        let now = now_ms() / 1000;
        let mut inner = self.lock();
        let index = inner.jobs.iter().position(|(run_at, _, _)| *run_at <= now)?;
        inner.jobs.remove(index).map(|(_, attempt, job)| Taken { job, attempt })
    }

    /// Waits until a job may be due: woken by a push, or after `poll` for delayed jobs.
    pub async fn wait(&self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.notify.notified()).await;
    }

    /// Puts a failed job back to run again at `run_at` (no key check: it is the same job).
    pub fn retry(&self, job: J, attempt: u32, run_at: u64) {
        self.lock().jobs.push_back((run_at, attempt, job));
        self.notify.notify_one();
    }

    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<J: Job> JobQueue<J> for MemoryQueue<J> {
    async fn push(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        let mut out = Vec::with_capacity(jobs.len());
        for queued in jobs {
            if inner.claims.get(&queued.key).is_some_and(|expiry| *expiry > now) {
                out.push(Enqueued::Duplicate);
                continue;
            }
            inner.claims.insert(queued.key.clone(), now + self.key_ttl);
            inner.jobs.push_back((queued.run_at, 0, queued.job.clone()));
            out.push(Enqueued::New);
        }
        if inner.claims.len() > 100_000 && inner.claims.len().is_power_of_two() {
            inner.claims.retain(|_, expiry| *expiry > now);
        }
        drop(inner);
        for _ in 0..jobs.len() {
            self.notify.notify_one();
        }
        Ok(out)
    }

    async fn pending(&self, limit: usize) -> Result<Vec<J>, StoreError> {
        Ok(self.lock().jobs.iter().take(limit).map(|(_, _, j)| j.clone()).collect())
    }
}
