//! Funnel summaries in memory, expiring on the backend's clock.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::funnel::JourneySummary;
use crate::store::StoreError;
use crate::store::journeys::{JourneyStore, bucket_expires_at, day_of};

pub struct MemoryJourneys {
    clock: SharedClock,
    retention: Duration,
    /// (started_at, conversation id) → summary.
    summaries: Mutex<BTreeMap<(u64, String), JourneySummary>>,
}

impl MemoryJourneys {
    pub fn new(clock: SharedClock, retention: Duration) -> Self {
        Self { clock, retention, summaries: Mutex::default() }
    }

    fn live(&self) -> std::sync::MutexGuard<'_, BTreeMap<(u64, String), JourneySummary>> {
        let now = self.clock.now_secs();
        let mut summaries = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
        summaries.retain(|(started, _), _| bucket_expires_at(day_of(*started), self.retention) > now);
        summaries
    }

    /// Everything kept, as text (tests look for personal data in it).
    pub fn dump(&self) -> String {
        self.live().values().map(|s| serde_json::to_string(s).unwrap_or_default()).collect::<Vec<_>>().join("\n")
    }
}

#[async_trait]
impl JourneyStore for MemoryJourneys {
    async fn record(&self, summary: &JourneySummary) -> Result<(), StoreError> {
        self.live().insert((summary.started_at, summary.conversation_id.clone()), summary.clone());
        Ok(())
    }

    async fn started_between(&self, since: u64, until: u64) -> Result<Vec<JourneySummary>, StoreError> {
        let summaries = self.live();
        let range = summaries.range((since, String::new())..(until, String::new()));
        Ok(range.map(|(_, s)| s.clone()).collect())
    }

    async fn mark_erased(
        &self,
        conversation_id: &str,
        started_at: u64,
        at: u64,
    ) -> Result<Option<JourneySummary>, StoreError> {
        let mut summaries = self.live();
        let Some(summary) = summaries.get_mut(&(started_at, conversation_id.to_owned())) else { return Ok(None) };
        let before = summary.clone();
        *summary = before.clone().erased_at(at);
        Ok(Some(before))
    }
}
