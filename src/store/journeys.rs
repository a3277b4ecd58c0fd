//! The funnel's record of each conversation ([`JourneySummary`]): written at every change of a conversation,
//! read by the funnel report. It holds no personal data, so it outlives the conversation for the funnel
//! retention (`RETENTION_FUNNEL_DAYS`) and survives an erasure, marked as erased.

use async_trait::async_trait;

use super::StoreError;
use crate::funnel::JourneySummary;

const DAY: u64 = 24 * 3600;

#[async_trait]
pub trait JourneyStore: Send + Sync + 'static {
    /// Keeps the summary, replacing the conversation's earlier one.
    async fn record(&self, summary: &JourneySummary) -> Result<(), StoreError>;

    /// The summaries of the conversations started from `since` (included) to `until` (excluded), Unix seconds,
    /// oldest first.
    async fn started_between(&self, since: u64, until: u64) -> Result<Vec<JourneySummary>, StoreError>;

    /// Marks the conversation started at `started_at` as erased at `at` (see [`JourneySummary::erased_at`]);
    /// answers its summary as it was before, if it had one.
    async fn mark_erased(
        &self,
        conversation_id: &str,
        started_at: u64,
        at: u64,
    ) -> Result<Option<JourneySummary>, StoreError>;
}

/// The day (since the Unix epoch) a conversation started on: summaries are kept in one bucket per day.
pub fn day_of(started_at: u64) -> u64 {
    started_at / DAY
}

/// The days from `since` to `until` (excluded), at most `max_days` of them (the newest).
pub fn days_between(since: u64, until: u64, max_days: u64) -> std::ops::RangeInclusive<u64> {
    let last = day_of(until.saturating_sub(1).max(since));
    let first = day_of(since).max(last.saturating_sub(max_days));
    first..=last
}

/// When a day's bucket can go: the retention after the day's end.
pub fn bucket_expires_at(day: u64, retention: std::time::Duration) -> u64 {
    (day + 1) * DAY + retention.as_secs()
}
