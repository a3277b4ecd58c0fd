//! The delivery state of each message we sent, from status webhooks.
//!
//! Statuses arrive out of order (a `read` before its `delivered`, or no `delivered` at all) and more than once.
//! Each status seen is recorded with its time, and the state is computed from the set, so the order of arrival
//! does not matter: `read` stays `read` when `delivered` comes later, and `failed` keeps its error code.
//! [`RedisDeliveryLog`] keeps a small hash per wamid (`<prefix>:delivery:<wamid>`) with a TTL;
//! [`MemoryDeliveryLog`] does the same in one process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::webhook::envelope::{Status, StatusKind};

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
    fn from_kind(kind: &StatusKind) -> Option<Self> {
        match kind {
            StatusKind::Sent => Some(Self::Sent),
            StatusKind::Delivered => Some(Self::Delivered),
            StatusKind::Read => Some(Self::Read),
            StatusKind::Played => Some(Self::Played),
            StatusKind::Failed => Some(Self::Failed),
            StatusKind::Other(_) => None,
        }
    }

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
    fn from_fields(wamid: &str, fields: &HashMap<String, String>) -> Self {
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

/// The fields one status adds (each set only if absent: the first time wins).
fn fields_of(status: &Status) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(p) = Progress::from_kind(&status.status) {
        fields.push((p.field(), status.timestamp.to_string()));
    }
    if status.status == StatusKind::Failed
        && let Some(e) = status.errors.first()
    {
        fields.push(("error_code", e.code.to_string()));
        fields.push(("error_title", e.title.clone()));
    }
    fields
}

#[async_trait]
pub trait DeliveryLog: Send + Sync + 'static {
    /// Records one status webhook and answers the message's state after it.
    async fn apply(&self, status: &Status) -> Result<DeliveryState, StoreError>;

    async fn get(&self, wamid: &str) -> Result<Option<DeliveryState>, StoreError>;
}

/// Default retention of delivery states: Meta reports statuses for up to 30 days.
pub const DEFAULT_DELIVERY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// wamid → (fields, expiry).
type States = HashMap<String, (HashMap<String, String>, Instant)>;

pub struct MemoryDeliveryLog {
    ttl: Duration,
    states: Mutex<States>,
}

impl MemoryDeliveryLog {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, states: Mutex::new(HashMap::new()) }
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn apply(&self, status: &Status) -> Result<DeliveryState, StoreError> {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        states.retain(|_, (_, expires)| *expires > now);
        let (fields, expires) = states.entry(status.id.clone()).or_insert_with(|| (HashMap::new(), now));
        for (k, v) in fields_of(status) {
            fields.entry(k.to_owned()).or_insert(v);
        }
        *expires = now + self.ttl;
        Ok(DeliveryState::from_fields(&status.id, fields))
    }

    async fn get(&self, wamid: &str) -> Result<Option<DeliveryState>, StoreError> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        Ok(states
            .get(wamid)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(fields, _)| DeliveryState::from_fields(wamid, fields)))
    }
}

#[derive(Clone)]
pub struct RedisDeliveryLog {
    conn: ConnectionManager,
    prefix: String,
    ttl: Duration,
}

impl RedisDeliveryLog {
    pub fn new(conn: ConnectionManager, key_prefix: &str, ttl: Duration) -> Self {
        Self { conn, prefix: key_prefix.to_owned(), ttl }
    }

    fn key(&self, wamid: &str) -> String {
        format!("{}:delivery:{wamid}", self.prefix)
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait]
impl DeliveryLog for RedisDeliveryLog {
    async fn apply(&self, status: &Status) -> Result<DeliveryState, StoreError> {
        let key = self.key(&status.id);
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (field, value) in fields_of(status) {
            pipe.cmd("HSETNX").arg(&key).arg(field).arg(value).ignore();
        }
        pipe.cmd("HSET").arg(&key).arg("wamid").arg(&status.id).ignore();
        pipe.cmd("EXPIRE").arg(&key).arg(self.ttl.as_secs().max(1)).ignore();
        pipe.cmd("HGETALL").arg(&key);
        let mut conn = self.conn.clone();
        let (fields,): (HashMap<String, String>,) = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(DeliveryState::from_fields(&status.id, &fields))
    }

    async fn get(&self, wamid: &str) -> Result<Option<DeliveryState>, StoreError> {
        let mut conn = self.conn.clone();
        let fields: HashMap<String, String> =
            redis::cmd("HGETALL").arg(self.key(wamid)).query_async(&mut conn).await.map_err(unavailable)?;
        Ok(if fields.is_empty() { None } else { Some(DeliveryState::from_fields(wamid, &fields)) })
    }
}
