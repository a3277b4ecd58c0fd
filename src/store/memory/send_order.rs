//! Send lines in memory, expiring on the backend's clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::flow::state::UserKey;
use crate::store::StoreError;
use crate::store::send_order::SendOrder;

/// Each user's line: job → seq (`None` once it left), and when the line expires (Unix ms).
type Lines = HashMap<UserKey, (BTreeMap<String, Option<u64>>, u64)>;

pub struct MemorySendOrder {
    clock: SharedClock,
    /// How long a line is kept after its last entry.
    ttl: std::time::Duration,
    lines: Mutex<Lines>,
}

impl MemorySendOrder {
    pub fn new(clock: SharedClock, ttl: std::time::Duration) -> Self {
        Self { clock, ttl, lines: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lines> {
        let now = self.clock.now_ms();
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.retain(|_, (jobs, expires)| *expires > now && !jobs.is_empty());
        lines
    }
}

#[async_trait]
impl SendOrder for MemorySendOrder {
    async fn enter(&self, user: &UserKey, job: &str, seq: u64) -> Result<(), StoreError> {
        let expires = self.clock.now_ms() + self.ttl.as_millis() as u64;
        let mut lines = self.lock();
        let line = lines.entry(user.clone()).or_default();
        line.0.entry(job.to_owned()).or_insert(Some(seq));
        line.1 = expires;
        Ok(())
    }

    async fn ahead_of(&self, user: &UserKey, job: &str) -> Result<Option<String>, StoreError> {
        let lines = self.lock();
        let Some((jobs, _)) = lines.get(user) else { return Ok(None) };
        let Some(&Some(mine)) = jobs.get(job) else { return Ok(None) };
        let waiting = jobs.iter().filter_map(|(name, seq)| seq.filter(|seq| *seq < mine).map(|seq| (seq, name)));
        Ok(waiting.min().map(|(_, name)| name.clone()))
    }

    async fn leave(&self, user: &UserKey, job: &str) -> Result<(), StoreError> {
        // Kept as left, so that entering again changes nothing.
        if let Some(seq) = self.lock().get_mut(user).and_then(|(jobs, _)| jobs.get_mut(job)) {
            *seq = None;
        }
        Ok(())
    }

    async fn erase(&self, user: &UserKey) -> Result<usize, StoreError> {
        Ok(self.lock().remove(user).map_or(0, |(jobs, _)| jobs.len()))
    }
}
