//! The one place that chooses where everything is kept: all on Redis or all in memory, from the configuration.
//! A [`Backend`] is built once per process and handed out; every store, queue and worker source comes from it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::store::redis::RedisConn;

use super::agents::AgentStore;
use super::api_tokens::ApiTokenStore;
use super::case::CaseStore;
use super::conversation::ConversationStore;
use super::delivery::DeliveryLog;
use super::ingress::IngressStore;
use super::journeys::JourneyStore;
use super::memory::MemoryQueues;
use super::memory::agents::MemoryAgents;
use super::memory::api_tokens::MemoryApiTokens;
use super::memory::cases::MemoryCases;
use super::memory::conversations::MemoryConversations;
use super::memory::delivery::MemoryDeliveryLog;
use super::memory::ingress::MemoryIngress;
use super::memory::journeys::MemoryJourneys;
use super::memory::queue::MemoryQueue;
use super::memory::rate_limit::MemoryLimiter;
use super::memory::send_order::MemorySendOrder;
use super::memory::values::MemoryValues;
use super::memory::vault::MemoryVault;
use super::queue::{Job, JobQueue, WorkerSource};
use super::rate_limit::{LimiterSettings, RateLimiter};
use super::redis::agents::RedisAgents;
use super::redis::api_tokens::RedisApiTokens;
use super::redis::cases::RedisCases;
use super::redis::conversations::RedisConversations;
use super::redis::delivery::RedisDeliveryLog;
use super::redis::ingress::RedisIngress;
use super::redis::journeys::RedisJourneys;
use super::redis::queue::RedisQueue;
use super::redis::rate_limit::RedisLimiter;
use super::redis::send_order::RedisSendOrder;
use super::redis::values::RedisValues;
use super::redis::vault::RedisVault;
use super::retention::Retention;
use super::send_order::SendOrder;
use super::values::ValueStore;
use super::vault::{MediaCipher, MediaVault};
use crate::clock::SharedClock;
use crate::config::StoreConfig;
use crate::jobs::inbound::{INBOUND_QUEUE, InboundJob};

/// Where a process keeps its state, claims, jobs and media. Cheap to clone.
#[derive(Clone)]
pub struct Backend {
    kind: Kind,
    clock: SharedClock,
    retention: Retention,
}

#[derive(Clone)]
enum Kind {
    Memory(Arc<InMemory>),
    Redis(Arc<OnRedis>),
}

struct InMemory {
    queues: MemoryQueues,
    ingress: Arc<MemoryIngress>,
    conversations: Arc<MemoryConversations>,
    cases: Arc<MemoryCases>,
    journeys: Arc<MemoryJourneys>,
    api_tokens: Arc<MemoryApiTokens>,
    agents: Arc<MemoryAgents>,
    send_order: Arc<MemorySendOrder>,
    values: Mutex<HashMap<&'static str, Arc<MemoryValues>>>,
}

struct OnRedis {
    conn: RedisConn,
    prefix: String,
    /// How long queue idempotency keys are kept.
    key_ttl: Duration,
    /// Partitions per queue (`QUEUE_PARTITIONS`).
    partitions: usize,
    ingress: Arc<RedisIngress>,
    conversations: Arc<RedisConversations>,
}

impl Backend {
    /// The backend the configuration names, on the system clock, with its retention periods.
    pub async fn for_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        let backend = Self::open(&config.store, config.dedupe_ttl, crate::clock::system()).await?;
        Ok(backend.with_retention(config.retention))
    }

    /// The backend the configuration names. `key_ttl` is how long idempotency keys (message dedupe claims and
    /// effect keys) are remembered: at least Meta's 7 days of redelivery.
    pub async fn open(config: &StoreConfig, key_ttl: Duration, clock: SharedClock) -> anyhow::Result<Self> {
        match config {
            StoreConfig::Memory => Ok(Self::memory(key_ttl, clock)),
            StoreConfig::Redis { url, key_prefix, response_timeout, queue_partitions } => {
                let backend = Self::redis(url.expose(), key_prefix, *response_timeout, key_ttl, clock).await?;
                Ok(backend.with_queue_partitions(*queue_partitions))
            }
        }
    }

    /// The same stores, keeping data for `retention` (the default periods otherwise). Call before handing
    /// out any store.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        match &mut self.kind {
            Kind::Memory(m) => {
                if let Some(m) = Arc::get_mut(m) {
                    m.conversations = Arc::new(MemoryConversations::new(self.clock.clone(), retention));
                    m.cases = Arc::new(MemoryCases::new(self.clock.clone(), retention));
                    m.journeys = Arc::new(MemoryJourneys::new(self.clock.clone(), retention.funnel));
                    let line_ttl = super::send_order::line_ttl(&retention);
                    m.send_order = Arc::new(MemorySendOrder::new(self.clock.clone(), line_ttl));
                } else {
                    tracing::error!("retention set on a memory backend already shared: its stores keep the defaults");
                }
            }
            Kind::Redis(r) => {
                if let Some(r) = Arc::get_mut(r) {
                    r.conversations = Arc::new(RedisConversations::new(r.conn.clone(), &r.prefix, retention));
                } else {
                    tracing::error!(
                        "retention set on a Redis backend already shared: its conversations keep the defaults"
                    );
                }
            }
        }
        self
    }

    /// The same stores, with each queue on Redis split into `partitions` partitions by user (`QUEUE_PARTITIONS`;
    /// see docs/scaling.md). Nothing changes in memory. Call before handing out any store, inside the runtime.
    pub fn with_queue_partitions(mut self, partitions: usize) -> Self {
        if let Kind::Redis(r) = &mut self.kind {
            if let Some(r) = Arc::get_mut(r) {
                r.partitions = partitions.clamp(1, super::redis::queue::MAX_PARTITIONS);
                let inbound = r.queue::<InboundJob>(INBOUND_QUEUE).batched();
                r.ingress = Arc::new(RedisIngress::new(r.conn.clone(), &r.prefix, inbound, self.clock.clone()));
            } else {
                tracing::error!("queue partitions set on a Redis backend already shared: its queues keep one");
            }
        }
        self
    }

    /// How many partitions each queue has (always one in memory).
    pub fn queue_partitions(&self) -> usize {
        match &self.kind {
            Kind::Memory(_) => 1,
            Kind::Redis(r) => r.partitions,
        }
    }

    /// How long each kind of data is kept.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Everything in this process's memory.
    pub fn memory(key_ttl: Duration, clock: SharedClock) -> Self {
        let queues = MemoryQueues::new(key_ttl, clock.clone());
        let ingress = Arc::new(MemoryIngress::new(queues.get::<InboundJob>(INBOUND_QUEUE), clock.clone()));
        let memory = InMemory {
            queues,
            ingress,
            conversations: Arc::new(MemoryConversations::new(clock.clone(), Retention::default())),
            cases: Arc::new(MemoryCases::new(clock.clone(), Retention::default())),
            journeys: Arc::new(MemoryJourneys::new(clock.clone(), Retention::default().funnel)),
            api_tokens: Arc::default(),
            agents: Arc::new(MemoryAgents::new(clock.clone())),
            send_order: Arc::new(MemorySendOrder::new(
                clock.clone(),
                super::send_order::line_ttl(&Retention::default()),
            )),
            values: Mutex::default(),
        };
        Self { kind: Kind::Memory(Arc::new(memory)), clock, retention: Retention::default() }
    }

    /// Everything on the Redis at `url`, every key under `prefix`. Fails with a clear error when Redis does not
    /// answer; later outages are survived (calls fail fast, the connection comes back by itself).
    pub async fn redis(
        url: &str,
        prefix: &str,
        response_timeout: Duration,
        key_ttl: Duration,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let conn = super::redis::connect(url, response_timeout).await?;
        // The webhook's pushes: concurrent requests share script calls (group commit).
        let inbound = RedisQueue::new(conn.clone(), prefix, INBOUND_QUEUE, key_ttl, 1).batched();
        let redis = OnRedis {
            ingress: Arc::new(RedisIngress::new(conn.clone(), prefix, inbound, clock.clone())),
            conversations: Arc::new(RedisConversations::new(conn.clone(), prefix, Retention::default())),
            conn,
            prefix: prefix.to_owned(),
            key_ttl,
            partitions: 1,
        };
        Ok(Self { kind: Kind::Redis(Arc::new(redis)), clock, retention: Retention::default() })
    }

    /// Everything the memory backend holds about people (conversations, cases, queues, kept payloads), as text:
    /// what tests search for personal data, as a scan of every key does on Redis. `None` on Redis.
    pub fn memory_dump(&self) -> Option<String> {
        match &self.kind {
            Kind::Memory(m) => Some(format!(
                "{}\n{}\n{}\n{}\n{}",
                m.conversations.dump(),
                m.cases.dump(),
                m.journeys.dump(),
                m.queues.dump(),
                m.ingress.dump()
            )),
            Kind::Redis(_) => None,
        }
    }

    /// How many entries the memory backend's conversations and cases hold (the memory counterpart of a key
    /// count). `None` on Redis.
    pub fn memory_entries(&self) -> Option<usize> {
        match &self.kind {
            Kind::Memory(m) => Some(m.conversations.entries() + m.cases.entries()),
            Kind::Redis(_) => None,
        }
    }

    /// Lets a test change a stored audit record of the memory backend, as someone editing the store would
    /// (does nothing on Redis, where a test rewrites the stream itself).
    #[doc(hidden)]
    pub fn tamper_audit(&self, user: &crate::flow::state::UserKey, position: usize, change: impl FnOnce(&mut String)) {
        if let Kind::Memory(m) = &self.kind {
            m.conversations.tamper_audit(user, position, change);
        }
    }

    /// `memory` or `redis`, for logs.
    pub fn name(&self) -> &'static str {
        match self.kind {
            Kind::Memory(_) => "memory",
            Kind::Redis(_) => "redis",
        }
    }

    /// The jobs the queues gave up on (Redis only: in memory they live and die with the process).
    pub fn dead_jobs(&self) -> Option<super::redis::dead_jobs::RedisDeadJobs> {
        match &self.kind {
            Kind::Memory(_) => None,
            Kind::Redis(r) => {
                Some(super::redis::dead_jobs::RedisDeadJobs::new(r.conn.clone(), &r.prefix, r.partitions))
            }
        }
    }

    /// The Redis key prefix (none in memory).
    pub fn redis_prefix(&self) -> Option<&str> {
        match &self.kind {
            Kind::Memory(_) => None,
            Kind::Redis(r) => Some(&r.prefix),
        }
    }

    /// The clock every part of this process reads.
    pub fn clock(&self) -> SharedClock {
        self.clock.clone()
    }

    pub fn ingress(&self) -> Arc<dyn IngressStore> {
        match &self.kind {
            Kind::Memory(m) => m.ingress.clone(),
            Kind::Redis(r) => r.ingress.clone(),
        }
    }

    /// Cases: people taking over onboardings.
    pub fn cases(&self) -> Arc<dyn CaseStore> {
        match &self.kind {
            Kind::Memory(m) => m.cases.clone(),
            Kind::Redis(r) => Arc::new(RedisCases::new(r.conn.clone(), &r.prefix, self.retention)),
        }
    }

    /// The funnel's summaries of conversations.
    pub fn journeys(&self) -> Arc<dyn JourneyStore> {
        match &self.kind {
            Kind::Memory(m) => m.journeys.clone(),
            Kind::Redis(r) => Arc::new(RedisJourneys::new(r.conn.clone(), &r.prefix, self.retention.funnel)),
        }
    }

    /// The hashes of the `/api/v1` tokens.
    pub fn api_tokens(&self) -> Arc<dyn ApiTokenStore> {
        match &self.kind {
            Kind::Memory(m) => m.api_tokens.clone(),
            Kind::Redis(r) => Arc::new(RedisApiTokens::new(r.conn.clone(), &r.prefix)),
        }
    }

    /// Console accounts, their sessions and failed sign-ins.
    pub fn agents(&self) -> Arc<dyn AgentStore> {
        match &self.kind {
            Kind::Memory(m) => m.agents.clone(),
            Kind::Redis(r) => Arc::new(RedisAgents::new(r.conn.clone(), &r.prefix)),
        }
    }

    pub fn conversations(&self) -> Arc<dyn ConversationStore> {
        match &self.kind {
            Kind::Memory(m) => m.conversations.clone(),
            Kind::Redis(r) => r.conversations.clone(),
        }
    }

    /// The queue `name` (its Redis keys are `<prefix>:{<name>}:*`, and `<prefix>:{<name>.<i>}:*` for its other
    /// partitions).
    pub fn queue<J: Job>(&self, name: &'static str) -> Arc<dyn JobQueue<J>> {
        match &self.kind {
            Kind::Memory(m) => m.queues.get::<J>(name),
            Kind::Redis(r) => Arc::new(r.queue::<J>(name)),
        }
    }

    /// Where a worker of queue `name` takes its jobs from.
    pub fn worker_source<J: Job>(&self, name: &'static str) -> WorkerSource<J> {
        match &self.kind {
            Kind::Memory(m) => WorkerSource::Memory(m.queues.get::<J>(name)),
            Kind::Redis(r) => WorkerSource::Redis(r.queue::<J>(name).storages()),
        }
    }

    /// The in-memory queue `name`, for a test to run its jobs step by step (none on Redis).
    pub fn memory_queue<J: Job>(&self, name: &'static str) -> Option<Arc<MemoryQueue<J>>> {
        match &self.kind {
            Kind::Memory(m) => Some(m.queues.get::<J>(name)),
            Kind::Redis(_) => None,
        }
    }

    /// Each user's line of reply jobs (their messages leave in the order the conversation queued them).
    pub fn send_order(&self) -> Arc<dyn SendOrder> {
        match &self.kind {
            Kind::Memory(m) => m.send_order.clone(),
            Kind::Redis(r) => {
                Arc::new(RedisSendOrder::new(r.conn.clone(), &r.prefix, super::send_order::line_ttl(&self.retention)))
            }
        }
    }

    /// Small values with a lifetime under `namespace` (Redis keys `<prefix>:<namespace>:<key>`).
    pub fn values(&self, namespace: &'static str) -> Arc<dyn ValueStore> {
        match &self.kind {
            Kind::Memory(m) => {
                let mut values = m.values.lock().unwrap_or_else(|p| p.into_inner());
                values.entry(namespace).or_insert_with(|| Arc::new(MemoryValues::new(self.clock.clone()))).clone()
            }
            Kind::Redis(r) => Arc::new(RedisValues::new(r.conn.clone(), &r.prefix, namespace)),
        }
    }

    /// The delivery states of our messages, each kept for `ttl` after its last status. In memory, each call
    /// makes a new log: make one per process.
    pub fn delivery_log(&self, ttl: Duration) -> Arc<dyn DeliveryLog> {
        match &self.kind {
            Kind::Memory(_) => Arc::new(MemoryDeliveryLog::new(ttl, self.clock.clone())),
            Kind::Redis(r) => Arc::new(RedisDeliveryLog::new(r.conn.clone(), &r.prefix, ttl)),
        }
    }

    /// The send-rate limiter (on Redis, shared by every process). In memory, make one per process.
    pub fn rate_limiter(&self, settings: LimiterSettings) -> Arc<dyn RateLimiter> {
        match &self.kind {
            Kind::Memory(_) => Arc::new(MemoryLimiter::new(settings)),
            Kind::Redis(r) => Arc::new(RedisLimiter::new(r.conn.clone(), &r.prefix, settings)),
        }
    }

    /// The media vault, sealing with `cipher` and keeping files for `retention`. In memory, make one per process.
    pub fn vault(&self, cipher: MediaCipher, retention: Duration) -> Arc<dyn MediaVault> {
        match &self.kind {
            Kind::Memory(_) => Arc::new(MemoryVault::new(cipher, retention, self.clock.clone())),
            Kind::Redis(r) => {
                Arc::new(RedisVault::new(r.conn.clone(), &r.prefix, cipher, retention, self.clock.clone()))
            }
        }
    }
}

impl OnRedis {
    fn queue<J: Job>(&self, name: &'static str) -> RedisQueue<J> {
        RedisQueue::new(self.conn.clone(), &self.prefix, name, self.key_ttl, self.partitions)
    }
}
