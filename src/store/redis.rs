//! The Redis store, shared by every server and worker process.
//!
//! Inbound jobs go into an apalis-redis queue so that apalis workers can run them. Its push script claims each
//! job's idempotency key (`SETNX`) and enqueues the job in one Lua call, which gives invariant 1 (a claim and its
//! job are written together) for the whole batch at once.
//!
//! Keys: `<prefix>:{inbound}:*` for the queue (one hash tag, so one Redis Cluster slot), `<prefix>:webhook:kept`
//! for the inspection log.

use std::time::Duration;

use anyhow::Context as _;
use apalis_redis::ConnectionManager;
use async_trait::async_trait;
use redis::aio::ConnectionManagerConfig;

use super::{Enqueued, IngressStore, KEPT_PAYLOADS_MAX, KeptKind, KeptPayload, StoreError};
use crate::jobs::inbound::InboundJob;
use crate::jobs::queue::redis::{RedisQueue, queue_config};
use crate::jobs::queue::{JobQueue, Queued};

#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    inbound: RedisQueue<InboundJob>,
    kept_key: String,
    prefix: String,
}

impl RedisStore {
    /// Connects, failing with a clear error when Redis does not answer. Later outages are survived:
    /// the connection manager reconnects in the background and calls fail fast meanwhile.
    pub async fn connect(
        url: &str,
        key_prefix: &str,
        response_timeout: Duration,
        dedupe_ttl: Duration,
    ) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("REDIS_URL is not a valid Redis URL")?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(response_timeout))
            .set_connection_timeout(Some(response_timeout.max(Duration::from_secs(1))))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .context("cannot connect to Redis at REDIS_URL (is it running?)")?;
        let store = Self {
            inbound: RedisQueue::new(conn.clone(), queue_config(key_prefix, "inbound", dedupe_ttl)),
            conn,
            kept_key: format!("{key_prefix}:webhook:kept"),
            prefix: key_prefix.to_owned(),
        };
        store.ping().await.context("Redis at REDIS_URL does not answer PING")?;
        Ok(store)
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    pub fn inbound(&self) -> &RedisQueue<InboundJob> {
        &self.inbound
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait]
impl IngressStore for RedisStore {
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError> {
        let queued: Vec<Queued<InboundJob>> = jobs.iter().map(|j| Queued::now(j.key.clone(), j.clone())).collect();
        self.inbound.push(&queued).await
    }

    async fn keep(&self, payloads: &[KeptPayload]) -> Result<(), StoreError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for p in payloads {
            let kind = serde_json::to_value(p.kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            pipe.cmd("XADD")
                .arg(&self.kept_key)
                .arg("MAXLEN")
                .arg("~")
                .arg(KEPT_PAYLOADS_MAX)
                .arg("*")
                .arg("kind")
                .arg(kind.as_str().unwrap_or_default())
                .arg("reason")
                .arg(&p.reason)
                .arg("body")
                .arg(&p.body)
                .arg("received_at_ms")
                .arg(p.received_at_ms)
                .ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn kept(&self, limit: usize) -> Result<Vec<KeptPayload>, StoreError> {
        type Entry = (String, Vec<(String, String)>);
        let mut conn = self.conn.clone();
        let entries: Vec<Entry> = redis::cmd("XREVRANGE")
            .arg(&self.kept_key)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        entries
            .into_iter()
            .map(|(_, fields)| {
                let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
                let kind: KeptKind =
                    serde_json::from_value(serde_json::Value::String(field("kind").unwrap_or_default()))
                        .map_err(|e| StoreError::Corrupt(format!("kept payload kind: {e}")))?;
                Ok(KeptPayload {
                    kind,
                    reason: field("reason").unwrap_or_default(),
                    body: field("body").unwrap_or_default(),
                    received_at_ms: field("received_at_ms").and_then(|v| v.parse().ok()).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn pending_inbound(&self, limit: usize) -> Result<Vec<InboundJob>, StoreError> {
        self.inbound.pending(limit).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop).map_err(unavailable)
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}
