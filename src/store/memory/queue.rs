//! The in-memory queue: one process, same semantics as Redis (idempotency keys with a TTL, delayed jobs), on the
//! backend's clock, so a test that advances a fixed clock makes delayed jobs due and old claims expire.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use crate::clock::SharedClock;
use crate::jobs::key::JobKey;
use crate::store::StoreError;
use crate::store::queue::{Enqueued, Job, JobQueue, Queued};

pub struct MemoryQueue<J> {
    key_ttl: Duration,
    clock: SharedClock,
    inner: Mutex<Inner<J>>,
    notify: Notify,
}

struct Inner<J> {
    /// Key → when its claim expires (Unix ms).
    claims: HashMap<JobKey, u64>,
    /// (run_at in Unix seconds, attempt, job), kept in arrival order; due ones are taken first come first served.
    jobs: VecDeque<(u64, u32, J)>,
}

/// A job taken from the queue, with how many times it was tried before.
pub struct Taken<J> {
    pub job: J,
    pub attempt: u32,
}

impl<J: Job> MemoryQueue<J> {
    pub fn new(key_ttl: Duration, clock: SharedClock) -> Self {
        Self {
            key_ttl,
            clock,
            inner: Mutex::new(Inner { claims: HashMap::new(), jobs: VecDeque::new() }),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<J>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the oldest due job, if any.
    pub fn take(&self) -> Option<Taken<J>> {
        let now = self.clock.now_secs();
        let mut inner = self.lock();
        let index = inner.jobs.iter().position(|(run_at, _, _)| *run_at <= now)?;
        inner.jobs.remove(index).map(|(_, attempt, job)| Taken { job, attempt })
    }

    /// Waits until a job may be due: woken by a push, or after `poll` for delayed jobs.
    pub async fn wait(&self, poll: Duration) {
        let _ = tokio::time::timeout(poll, self.notify.notified()).await;
    }

    /// Puts a failed job back to run again `after` from now (no key check: it is the same job).
    pub fn retry(&self, job: J, attempt: u32, after: Duration) {
        let run_at = self.clock.now_secs() + after.as_secs();
        self.lock().jobs.push_back((run_at, attempt, job));
        self.notify.notify_one();
    }

    pub fn len(&self) -> usize {
        self.lock().jobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every job held, as JSON text, for tests that look for personal data in every byte kept.
    pub fn dump(&self) -> String {
        let inner = self.lock();
        let jobs: Vec<String> = inner.jobs.iter().filter_map(|(_, _, j)| serde_json::to_string(j).ok()).collect();
        let claims: Vec<&str> = inner.claims.keys().map(JobKey::as_str).collect();
        format!("jobs: {jobs:?}\nclaims: {claims:?}")
    }
}

#[async_trait]
impl<J: Job> JobQueue<J> for MemoryQueue<J> {
    async fn push(&self, jobs: &[Queued<J>]) -> Result<Vec<Enqueued>, StoreError> {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        let mut out = Vec::with_capacity(jobs.len());
        for queued in jobs {
            if inner.claims.get(&queued.key).is_some_and(|expiry| *expiry > now) {
                out.push(Enqueued::Duplicate);
                continue;
            }
            inner.claims.insert(queued.key.clone(), now + self.key_ttl.as_millis() as u64);
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

    async fn erase_matching(&self, needles: &[String]) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let before = inner.jobs.len();
        inner.jobs.retain(|(_, _, job)| {
            !serde_json::to_vec(job).is_ok_and(|bytes| crate::store::queue::mentions(&bytes, needles))
        });
        Ok(before - inner.jobs.len())
    }

    async fn depth(&self) -> Result<crate::store::queue::QueueDepth, StoreError> {
        let now = self.clock.now_secs();
        let inner = self.lock();
        let due = inner.jobs.iter().filter(|(run_at, _, _)| *run_at <= now).count() as u64;
        // A job that gives up here is logged and dropped: the memory queue keeps no dead jobs.
        Ok(crate::store::queue::QueueDepth { due, scheduled: inner.jobs.len() as u64 - due, dead: 0 })
    }

    async fn count_matching(&self, needles: &[String]) -> Result<usize, StoreError> {
        let inner = self.lock();
        Ok(inner
            .jobs
            .iter()
            .filter(|(_, _, job)| {
                serde_json::to_vec(job).is_ok_and(|bytes| crate::store::queue::mentions(&bytes, needles))
            })
            .count())
    }
}
