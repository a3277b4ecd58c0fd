//! The delivery state of each message we sent, from status webhooks.
//!
//! Statuses arrive out of order (a `read` before its `delivered`, or no `delivered` at all) and more than once.
//! Each status seen is recorded with its time, and the state is computed from the set, so the order of arrival
//! does not matter: `read` stays `read` when `delivered` comes later, and `failed` keeps its error code.
//! The Redis log keeps a small hash per wamid (`<prefix>:delivery:<wamid>`) with a TTL; the memory log does the
//! same in one process. A status reaches this room as a [`StatusUpdate`] (the webhook's own type stays at the
//! edge).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// How far a message got, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    Sent,
    Delivered,
    Read,
    /// A voice message was played (implies read).
    Played,
    /// Final: the message will not be delivered.
    Failed,
}

impl Progress {
    fn field(self) -> &'static str {
        match self {
            Self::Sent => "sent_at",
            Self::Delivered => "delivered_at",
            Self::Read => "read_at",
            Self::Played => "played_at",
            Self::Failed => "failed_at",
        }
    }

    const ALL: [Self; 5] = [Self::Sent, Self::Delivered, Self::Read, Self::Played, Self::Failed];
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeliveryState {
    pub wamid: String,
    /// The furthest status seen (`None` when only unknown statuses arrived).
    pub status: Option<Progress>,
    /// Unix seconds of each status seen (the first time it was seen).
    pub sent_at: Option<u64>,
    pub delivered_at: Option<u64>,
    pub read_at: Option<u64>,
    pub played_at: Option<u64>,
    pub failed_at: Option<u64>,
    /// Meta's error code when failed (e.g. 131047, 131026).
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
}

impl DeliveryState {
    pub(crate) fn from_fields(wamid: &str, fields: &HashMap<String, String>) -> Self {
        let at = |p: Progress| fields.get(p.field()).and_then(|v| v.parse().ok());
        let status = Progress::ALL.into_iter().rev().find(|p| at(*p).is_some());
        Self {
            wamid: wamid.to_owned(),
            status,
            sent_at: at(Progress::Sent),
            delivered_at: at(Progress::Delivered),
            read_at: at(Progress::Read),
            played_at: at(Progress::Played),
            failed_at: at(Progress::Failed),
            error_code: fields.get("error_code").and_then(|v| v.parse().ok()),
            error_title: fields.get("error_title").cloned(),
        }
    }
}

/// One status webhook, as this log needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    /// The wamid of our message.
    pub wamid: String,
    /// `None` for a status kind this version does not know (recorded as seen, changes nothing).
    pub progress: Option<Progress>,
    /// Unix seconds.
    pub timestamp: u64,
    /// Meta's error code and title, when the message failed.
    pub error: Option<(i64, String)>,
}

impl StatusUpdate {
    /// The fields this status adds (each set only if absent: the first time wins).
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = Vec::new();
        if let Some(p) = self.progress {
            fields.push((p.field(), self.timestamp.to_string()));
        }
        if self.progress == Some(Progress::Failed)
            && let Some((code, title)) = &self.error
        {
            fields.push(("error_code", code.to_string()));
            fields.push(("error_title", title.clone()));
        }
        fields
    }
}

#[async_trait]
pub trait DeliveryLog: Send + Sync + 'static {
    /// Records one status webhook and answers the message's state after it.
    async fn apply(&self, status: &StatusUpdate) -> Result<DeliveryState, StoreError>;

    async fn get(&self, wamid: &str) -> Result<Option<DeliveryState>, StoreError>;
}

/// Default retention of delivery states: Meta reports statuses for up to 30 days.
pub const DEFAULT_DELIVERY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
