//! The order in which a user's messages leave. Each job of replies takes a place in its user's line when it is
//! queued, at the conversation version that produced it; it sends only when no job ahead of it is still in the
//! line, and leaves the line once its messages are sent or given up. A send deferred by a failover or a try in
//! doubt is then not overtaken by a later reply ("verified" before "checking your photos").

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;
use crate::flow::state::UserKey;

/// A line is forgotten this long after its last entry (a job that never left, e.g. dead after its retries), or
/// sooner when the conversation's own retention is shorter ([`line_ttl`]).
pub const LINE_TTL: Duration = Duration::from_secs(24 * 3600);

/// How long a line is kept: a day, never longer than an onboarding's data (`RETENTION_ONBOARDING_DAYS`), since its
/// jobs' keys hold the user's message ids.
pub fn line_ttl(retention: &super::retention::Retention) -> Duration {
    LINE_TTL.min(retention.onboarding)
}

#[async_trait]
pub trait SendOrder: Send + Sync + 'static {
    /// Puts `job` in `user`'s line at `seq`; a job already in the line keeps its place, and one that left stays out
    /// (a dispatch handed out again, whose job is a duplicate and will not run again).
    async fn enter(&self, user: &UserKey, job: &str, seq: u64) -> Result<(), StoreError>;

    /// The first job ahead of `job` in the line, if any (`None`: its turn, or it holds no place). Jobs at the same
    /// `seq` do not wait for each other.
    async fn ahead_of(&self, user: &UserKey, job: &str) -> Result<Option<String>, StoreError>;

    /// Takes `job` out of the line for good (nothing to do when it is not there).
    async fn leave(&self, user: &UserKey, job: &str) -> Result<(), StoreError>;

    /// Forgets the user's line; answers how many jobs were in it.
    async fn erase(&self, user: &UserKey) -> Result<usize, StoreError>;
}
