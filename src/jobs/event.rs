//! The event job: an engine event for one user's conversation, often scheduled for later (reminders, expiry,
//! verification timeouts) or produced by another worker (verification results, agent outcomes).

use serde::{Deserialize, Serialize};

use crate::flow::event::Event;
use crate::flow::state::UserKey;
use crate::jobs::key::JobKey;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventJob {
    pub user: UserKey,
    /// Unique per event: the idempotency key of the job and of the effects it causes.
    pub key: JobKey,
    pub event: Event,
}
