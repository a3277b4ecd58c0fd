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

use super::conversation::{AuditRecord, ConversationStore, Saved, Stored, Versioned};
use super::{Enqueued, IngressStore, KEPT_PAYLOADS_MAX, KeptKind, KeptPayload, StoreError};
use crate::flow::state::UserKey;
use crate::jobs::inbound::InboundJob;
use crate::jobs::queue::JobQueue;
use crate::jobs::queue::redis::{RedisQueue, queue_config};

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
        self.inbound.push(&super::queued_inbound(jobs)).await
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

/// Saves a conversation if its version is unchanged, and appends its audit records, in one atomic step.
/// KEYS: conversation hash, audit stream. ARGV: expected version, state document, audit cap, records...
const SAVE_SCRIPT: &str = r#"
local current = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if current ~= tonumber(ARGV[1]) then return -1 end
local next = current + 1
redis.call('HSET', KEYS[1], 'v', next, 'doc', ARGV[2])
for i = 4, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'r', ARGV[i])
end
return next
"#;

/// Drops one outbox entry if the version is unchanged. KEYS: conversation hash. ARGV: version, new document.
const CLEAR_OUTBOX_SCRIPT: &str = r#"
if tonumber(redis.call('HGET', KEYS[1], 'v') or '0') ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'doc', ARGV[2])
return 1
"#;

/// Audit records kept per user (the stream is trimmed beyond this).
const AUDIT_CAP: usize = 10_000;

/// Conversations in Redis: `<prefix>:conv:{<user>}` (hash: version and document) and `<prefix>:audit:{<user>}`
/// (stream). The user is the hash tag, so both keys of a user live on one Redis Cluster slot.
#[derive(Clone)]
pub struct RedisConversations {
    conn: ConnectionManager,
    prefix: String,
    save: std::sync::Arc<redis::Script>,
    clear: std::sync::Arc<redis::Script>,
}

impl RedisConversations {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            save: std::sync::Arc::new(redis::Script::new(SAVE_SCRIPT)),
            clear: std::sync::Arc::new(redis::Script::new(CLEAR_OUTBOX_SCRIPT)),
        }
    }

    fn doc_key(&self, user: &UserKey) -> String {
        format!("{}:conv:{{{}}}", self.prefix, user.as_string())
    }

    fn audit_key(&self, user: &UserKey) -> String {
        format!("{}:audit:{{{}}}", self.prefix, user.as_string())
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl ConversationStore for RedisConversations {
    async fn load(&self, user: &UserKey) -> Result<Option<Versioned>, StoreError> {
        let mut conn = self.conn.clone();
        let (version, doc): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(self.doc_key(user))
            .arg("v")
            .arg("doc")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        match (version, doc) {
            (Some(version), Some(doc)) => {
                let stored =
                    serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt(format!("conversation: {e}")))?;
                Ok(Some(Versioned { version, stored }))
            }
            _ => Ok(None),
        }
    }

    async fn save(
        &self,
        user: &UserKey,
        expected: u64,
        stored: &Stored,
        audit: &[AuditRecord],
    ) -> Result<Saved, StoreError> {
        let mut invocation = self.save.key(self.doc_key(user));
        invocation.key(self.audit_key(user)).arg(expected).arg(to_json(stored)?).arg(AUDIT_CAP);
        for record in audit {
            invocation.arg(to_json(record)?);
        }
        let mut conn = self.conn.clone();
        let result: i64 = invocation.invoke_async(&mut conn).await.map_err(unavailable)?;
        Ok(if result < 0 { Saved::Conflict } else { Saved::Ok(result as u64) })
    }

    async fn clear_outbox(&self, user: &UserKey, version: u64, event_key: &str) -> Result<(), StoreError> {
        // Read, drop the entry, write back only if nobody saved meanwhile (the script compares the version).
        let Some(mut current) = self.load(user).await? else { return Ok(()) };
        if current.version != version {
            return Ok(());
        }
        current.stored.outbox.retain(|e| e.event_key != event_key);
        let mut conn = self.conn.clone();
        let _: i64 = self
            .clear
            .key(self.doc_key(user))
            .arg(version)
            .arg(to_json(&current.stored)?)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn append_audit(&self, user: &UserKey, audit: &[AuditRecord]) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        for record in audit {
            pipe.cmd("XADD")
                .arg(self.audit_key(user))
                .arg("MAXLEN")
                .arg("~")
                .arg(AUDIT_CAP)
                .arg("*")
                .arg("r")
                .arg(to_json(record)?)
                .ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn audit(&self, user: &UserKey, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        type Entry = (String, Vec<(String, String)>);
        let mut conn = self.conn.clone();
        let mut entries: Vec<Entry> = redis::cmd("XREVRANGE")
            .arg(self.audit_key(user))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        entries.reverse();
        entries
            .into_iter()
            .flat_map(|(_, fields)| fields.into_iter().map(|(_, v)| v))
            .map(|json| serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(format!("audit record: {e}"))))
            .collect()
    }

    async fn keep_flow_source(&self, flow_id: &str, version: &str, source: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HSET")
            .arg(format!("{}:flows", self.prefix))
            .arg(format!("{flow_id}@{version}"))
            .arg(source)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn flow_source(&self, flow_id: &str, version: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HGET")
            .arg(format!("{}:flows", self.prefix))
            .arg(format!("{flow_id}@{version}"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn index_conversation(&self, conversation_id: &str, user: &UserKey) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}:convidx:{conversation_id}", self.prefix))
            .arg(to_json(user)?)
            .arg("EX")
            .arg(super::conversation::CONVERSATION_INDEX_TTL_SECS)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn put_value(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}:value:{key}", self.prefix))
            .arg(value)
            .arg("EX")
            .arg(ttl_secs.max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn take_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("GETDEL")
            .arg(format!("{}:value:{key}", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn user_of(&self, conversation_id: &str) -> Result<Option<UserKey>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(format!("{}:convidx:{conversation_id}", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(format!("conversation index: {e}"))))
            .transpose()
    }
}
