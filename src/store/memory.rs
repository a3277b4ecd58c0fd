//! The in-memory store: same semantics as Redis, for one process. Everything is lost on restart.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Enqueued, IngressStore, KEPT_PAYLOADS_MAX, KeptPayload, StoreError};
use crate::jobs::inbound::InboundJob;

pub struct MemoryStore {
    dedupe_ttl: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Dedupe claims and when they expire.
    claims: HashMap<String, Instant>,
    inbound: VecDeque<InboundJob>,
    /// Newest last.
    kept: VecDeque<KeptPayload>,
}

impl MemoryStore {
    pub fn new(dedupe_ttl: Duration) -> Self {
        Self { dedupe_ttl, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written batch (each write is one push), so the data
        // is still consistent: keep serving instead of poisoning every later request.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl IngressStore for MemoryStore {
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError> {
        let now = Instant::now();
        let mut state = self.lock();
        let mut outcome = Vec::with_capacity(jobs.len());
        for job in jobs {
            let live = state.claims.get(&job.key).is_some_and(|expiry| *expiry > now);
            if live {
                outcome.push(Enqueued::Duplicate);
                continue;
            }
            state.claims.insert(job.key.clone(), now + self.dedupe_ttl);
            state.inbound.push_back(job.clone());
            outcome.push(Enqueued::New);
        }
        // Expired claims are dropped now and then so the map does not grow without bound.
        if state.claims.len() > 100_000 && state.claims.len().is_power_of_two() {
            state.claims.retain(|_, expiry| *expiry > now);
        }
        Ok(outcome)
    }

    async fn keep(&self, payloads: &[KeptPayload]) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.kept.extend(payloads.iter().cloned());
        while state.kept.len() > KEPT_PAYLOADS_MAX {
            state.kept.pop_front();
        }
        Ok(())
    }

    async fn kept(&self, limit: usize) -> Result<Vec<KeptPayload>, StoreError> {
        Ok(self.lock().kept.iter().rev().take(limit).cloned().collect())
    }

    async fn pending_inbound(&self, limit: usize) -> Result<Vec<InboundJob>, StoreError> {
        Ok(self.lock().inbound.iter().take(limit).cloned().collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}
