//! The ingress on Redis. Inbound jobs go into an apalis-redis queue so that apalis workers can run them; its push
//! script claims each job's idempotency key (`SETNX`) and enqueues the job in one Lua call, which gives
//! invariant 1 (a claim and its job are written together) for the whole batch at once.
//!
//! Keys: `<prefix>:{inbound}:*` for the queue (one hash tag, so one Redis Cluster slot), `<prefix>:{kept}:webhook`
//! for the inspection log (a stream capped in entries and in bytes, counted in `<prefix>:{kept}:bytes`).

use crate::store::redis::RedisConn;
use async_trait::async_trait;

use super::queue::RedisQueue;
use crate::clock::SharedClock;
use crate::jobs::BackgroundJob as _;
use crate::jobs::inbound::InboundJob;
use crate::store::StoreError;
use crate::store::ingress::{IngressStore, KeptCap, KeptKind, KeptPayload};
use crate::store::queue::{Enqueued, JobQueue};

/// Appends each payload (ARGV from 4, four fields each) with the size of its body, then removes the oldest
/// entries while the stream holds more than ARGV[1] entries or ARGV[2] bytes of bodies (counted in KEYS[2]), or
/// they were received before ARGV[3] (Unix ms, their `received_at_ms`).
static KEEP_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local max_count = tonumber(ARGV[1])
local max_bytes = tonumber(ARGV[2])
local oldest_kept = tonumber(ARGV[3])
local bytes = tonumber(redis.call('GET', KEYS[2]) or '0')
for i = 4, #ARGV, 4 do
  local size = string.len(ARGV[i + 2])
  redis.call('XADD', KEYS[1], '*', 'kind', ARGV[i], 'reason', ARGV[i + 1], 'body', ARGV[i + 2],
    'received_at_ms', ARGV[i + 3], 'size', size)
  bytes = bytes + size
end
local count = redis.call('XLEN', KEYS[1])
while count > 0 do
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  local fields = oldest[2]
  local size = 0
  local received = 0
  for j = 1, #fields, 2 do
    if fields[j] == 'size' then size = tonumber(fields[j + 1]) end
    if fields[j] == 'received_at_ms' then received = tonumber(fields[j + 1]) or 0 end
  end
  if count <= max_count and bytes <= max_bytes and received >= oldest_kept then break end
  redis.call('XDEL', KEYS[1], oldest[1])
  bytes = bytes - size
  count = count - 1
end
if count == 0 then bytes = 0 end
redis.call('SET', KEYS[2], bytes)
",
    )
});

/// Removes the kept payloads whose body contains one of ARGV (plain text), keeping the byte count (KEYS[2]) true.
/// The stream is bounded (`KEPT_PAYLOADS_MAX`), so one pass over it is short. Answers how many went.
static ERASE_KEPT_SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local removed = 0
local freed = 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local body, size = '', 0
  local fields = entry[2]
  for j = 1, #fields, 2 do
    if fields[j] == 'body' then body = fields[j + 1] end
    if fields[j] == 'size' then size = tonumber(fields[j + 1]) end
  end
  for _, needle in ipairs(ARGV) do
    if string.find(body, needle, 1, true) then
      redis.call('XDEL', KEYS[1], entry[1])
      removed = removed + 1
      freed = freed + size
      break
    end
  end
end
if removed > 0 then
  local bytes = tonumber(redis.call('GET', KEYS[2]) or '0') - freed
  if bytes < 0 then bytes = 0 end
  redis.call('SET', KEYS[2], bytes)
end
return removed
",
    )
});

#[derive(Clone)]
pub struct RedisIngress {
    conn: RedisConn,
    inbound: RedisQueue<InboundJob>,
    kept_key: String,
    kept_bytes_key: String,
    clock: SharedClock,
}

impl RedisIngress {
    pub fn new(conn: RedisConn, prefix: &str, inbound: RedisQueue<InboundJob>, clock: SharedClock) -> Self {
        // One hash tag: the script touches both keys (one Redis Cluster slot).
        Self {
            conn,
            clock,
            inbound,
            kept_key: format!("{prefix}:{{kept}}:webhook"),
            kept_bytes_key: format!("{prefix}:{{kept}}:bytes"),
        }
    }
}

#[async_trait]
impl IngressStore for RedisIngress {
    async fn enqueue_inbound(&self, jobs: &[InboundJob]) -> Result<Vec<Enqueued>, StoreError> {
        let queued: Vec<_> = jobs.iter().map(|j| j.clone().queued()).collect();
        self.inbound.push(&queued).await
    }

    async fn keep(&self, payloads: &[KeptPayload], cap: KeptCap) -> Result<(), StoreError> {
        if payloads.is_empty() {
            return Ok(());
        }
        let mut invocation = KEEP_SCRIPT.key(&self.kept_key);
        let oldest_kept = self.clock.now_ms().saturating_sub(cap.max_age.as_millis() as u64);
        invocation.key(&self.kept_bytes_key).arg(cap.max_count).arg(cap.max_bytes).arg(oldest_kept);
        for payload in payloads {
            let payload = cap.fit(payload);
            let kind = serde_json::to_value(payload.kind).map_err(StoreError::corrupt)?;
            invocation
                .arg(kind.as_str().unwrap_or_default().to_owned())
                .arg(payload.reason)
                .arg(payload.body)
                .arg(payload.received_at_ms);
        }
        let mut conn = self.conn.clone();
        invocation.invoke_async::<()>(&mut conn).await.map_err(StoreError::unavailable)
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

    async fn erase_kept(&self, needles: &[String]) -> Result<usize, StoreError> {
        let needles: Vec<&String> = needles.iter().filter(|n| !n.is_empty()).collect();
        if needles.is_empty() {
            return Ok(0);
        }
        let mut invocation = ERASE_KEPT_SCRIPT.key(&self.kept_key);
        invocation.key(&self.kept_bytes_key);
        for needle in needles {
            invocation.arg(needle.as_str());
        }
        let mut conn = self.conn.clone();
        invocation.invoke_async(&mut conn).await.map_err(StoreError::unavailable)
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
