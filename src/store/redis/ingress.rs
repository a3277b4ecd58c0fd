//! The ingress on Redis. Inbound jobs go into an apalis-redis queue so that apalis workers can run them; its push
//! script claims each job's idempotency key (`SETNX`) and enqueues the job in one Lua call, which gives
//! invariant 1 (a claim and its job are written together) for the whole batch at once.
//!
//! Keys: `<prefix>:{inbound}:*` for the queue (one hash tag, so one Redis Cluster slot), `<prefix>:webhook:kept`
//! for the inspection log (a capped stream).

use apalis_redis::ConnectionManager;
use async_trait::async_trait;

use super::queue::RedisQueue;
use crate::jobs::inbound::InboundJob;
use crate::store::StoreError;
use crate::store::ingress::{IngressStore, KEPT_PAYLOADS_MAX, KeptKind, KeptPayload};
use crate::store::queue::{Enqueued, JobQueue, Queued};

#[derive(Clone)]
pub struct RedisIngress {
    conn: ConnectionManager,
    inbound: RedisQueue<InboundJob>,
    kept_key: String,
}

impl RedisIngress {
    pub fn new(conn: ConnectionManager, prefix: &str, inbound: RedisQueue<InboundJob>) -> Self {
        Self { conn, inbound, kept_key: format!("{prefix}:webhook:kept") }
    }
}

#[async_trait]
impl IngressStore for RedisIngress {
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError> {
        let queued: Vec<_> = jobs.iter().map(|j| Queued::now(j.key.clone(), j.clone())).collect();
        self.inbound.push(&queued).await
    }

    async fn keep(&self, payloads: &[KeptPayload]) -> Result<(), StoreError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for p in payloads {
            let kind = serde_json::to_value(p.kind).map_err(StoreError::corrupt)?;
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
        pipe.query_async::<()>(&mut conn).await.map_err(StoreError::unavailable)
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
            .map_err(StoreError::unavailable)?;
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
        super::ping(&self.conn).await
    }

    fn backend_name(&self) -> &'static str {
        "redis"
    }
}
