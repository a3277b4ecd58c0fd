//! The ingress in memory: inbound jobs go straight into the in-process inbound queue; kept payloads in a ring.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::queue::MemoryQueue;
use crate::clock::SharedClock;
use crate::jobs::BackgroundJob as _;
use crate::jobs::inbound::InboundJob;
use crate::store::StoreError;
use crate::store::ingress::{IngressStore, KeptCap, KeptPayload};
use crate::store::queue::{Enqueued, JobQueue};

pub struct MemoryIngress {
    inbound: Arc<MemoryQueue<InboundJob>>,
    clock: SharedClock,
    /// Newest last, with the bytes of their bodies.
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    payloads: VecDeque<KeptPayload>,
    bytes: usize,
}

impl MemoryIngress {
    pub fn new(inbound: Arc<MemoryQueue<InboundJob>>, clock: SharedClock) -> Self {
        Self { inbound, clock, kept: Mutex::default() }
    }

    /// Everything kept, as text, for tests that look for personal data in every byte kept.
    pub fn dump(&self) -> String {
        format!("{:?}", self.kept_lock().payloads)
    }

    fn kept_lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding the lock cannot leave a half-written batch (each write is one push), so the data
        // is still consistent: keep serving instead of poisoning every later request.
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl IngressStore for MemoryIngress {
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError> {
        let queued: Vec<_> = jobs.iter().map(|j| j.clone().queued()).collect();
        self.inbound.push(&queued).await
    }

    async fn keep(&self, payloads: &[KeptPayload], cap: KeptCap) -> Result<(), StoreError> {
        let mut kept = self.kept_lock();
        for payload in payloads {
            let payload = cap.fit(payload);
            kept.bytes += payload.body.len();
            kept.payloads.push_back(payload);
        }
        let oldest_kept = self.clock.now_ms().saturating_sub(cap.max_age.as_millis() as u64);
        while kept.payloads.len() > cap.max_count
            || kept.bytes > cap.max_bytes
            || kept.payloads.front().is_some_and(|p| p.received_at_ms < oldest_kept)
        {
            let Some(oldest) = kept.payloads.pop_front() else { break };
            kept.bytes -= oldest.body.len();
        }
        Ok(())
    }

    async fn kept(&self, limit: usize) -> Result<Vec<KeptPayload>, StoreError> {
        Ok(self.kept_lock().payloads.iter().rev().take(limit).cloned().collect())
    }

    async fn erase_kept(&self, needles: &[String]) -> Result<usize, StoreError> {
        let mut kept = self.kept_lock();
        let before = kept.payloads.len();
        kept.payloads.retain(|p| !crate::store::queue::mentions(p.body.as_bytes(), needles));
        kept.bytes = kept.payloads.iter().map(|p| p.body.len()).sum();
        Ok(before - kept.payloads.len())
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
