//! The in-memory store: same semantics as Redis, for one process. Everything is lost on restart.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{Enqueued, IngressStore, KEPT_PAYLOADS_MAX, KeptPayload, StoreError};
use crate::jobs::inbound::InboundJob;
use crate::jobs::queue::memory::MemoryQueue;
use crate::jobs::queue::{JobQueue, Queued};

pub struct MemoryStore {
    inbound: Arc<MemoryQueue<InboundJob>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Newest last.
    kept: VecDeque<KeptPayload>,
}

impl MemoryStore {
    pub fn new(dedupe_ttl: Duration) -> Self {
        Self { inbound: Arc::new(MemoryQueue::new(dedupe_ttl)), state: Mutex::new(State::default()) }
    }

    /// The inbound queue, for the in-process workers.
    pub fn inbound(&self) -> Arc<MemoryQueue<InboundJob>> {
        self.inbound.clone()
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
        let queued: Vec<Queued<InboundJob>> = jobs.iter().map(|j| Queued::now(j.key.clone(), j.clone())).collect();
        self.inbound.push(&queued).await
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
        self.inbound.pending(limit).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}
