//! The storage and queues a process uses, from the configuration: all in memory, or all on Redis.

use std::sync::Arc;
use std::time::Duration;

use apalis_redis::ConnectionManager;

use crate::config::StoreConfig;
use crate::conversation::dispatch::Queues;
use crate::jobs::event::EventJob;
use crate::jobs::inbound::InboundJob;
use crate::jobs::notify::NotifyJob;
use crate::jobs::outbound::OutboundJob;
use crate::jobs::queue::memory::MemoryQueue;
use crate::jobs::queue::redis::{RedisQueue, queue_config};
use crate::jobs::verify::VerifyJob;
use crate::store::IngressStore;
use crate::store::conversation::ConversationStore;
use crate::store::memory::{MemoryConversations, MemoryStore};
use crate::store::redis::{RedisConversations, RedisStore};

/// How long effect idempotency keys are kept: longer than any job retries.
const EFFECT_KEY_TTL: Duration = Duration::from_secs(8 * 24 * 3600);

/// The concrete queues, which the workers need.
#[derive(Clone)]
pub enum QueueSet {
    Memory {
        inbound: Arc<MemoryQueue<InboundJob>>,
        outbound: Arc<MemoryQueue<OutboundJob>>,
        verify: Arc<MemoryQueue<VerifyJob>>,
        events: Arc<MemoryQueue<EventJob>>,
        notify: Arc<MemoryQueue<NotifyJob>>,
    },
    Redis(Box<RedisQueues>),
}

#[derive(Clone)]
pub struct RedisQueues {
    pub inbound: RedisQueue<InboundJob>,
    pub outbound: RedisQueue<OutboundJob>,
    pub verify: RedisQueue<VerifyJob>,
    pub events: RedisQueue<EventJob>,
    pub notify: RedisQueue<NotifyJob>,
}

#[derive(Clone)]
pub struct Backend {
    pub ingress: Arc<dyn IngressStore>,
    pub conversations: Arc<dyn ConversationStore>,
    pub queues: QueueSet,
    /// The Redis connection and key prefix, for the parts that pick a Redis or memory implementation.
    pub redis: Option<(ConnectionManager, String)>,
}

impl Backend {
    pub async fn open(config: &StoreConfig, dedupe_ttl: Duration) -> anyhow::Result<Self> {
        Ok(match config {
            StoreConfig::Memory => Self::memory(dedupe_ttl),
            StoreConfig::Redis { url, key_prefix, response_timeout } => {
                let store = RedisStore::connect(url.expose(), key_prefix, *response_timeout, dedupe_ttl).await?;
                Self::redis(store)
            }
        })
    }

    pub fn memory(dedupe_ttl: Duration) -> Self {
        let store = MemoryStore::new(dedupe_ttl);
        let queues = QueueSet::Memory {
            inbound: store.inbound(),
            outbound: Arc::new(MemoryQueue::new(EFFECT_KEY_TTL)),
            verify: Arc::new(MemoryQueue::new(EFFECT_KEY_TTL)),
            events: Arc::new(MemoryQueue::new(EFFECT_KEY_TTL)),
            notify: Arc::new(MemoryQueue::new(EFFECT_KEY_TTL)),
        };
        Self { ingress: Arc::new(store), conversations: Arc::new(MemoryConversations::default()), queues, redis: None }
    }

    pub fn redis(store: RedisStore) -> Self {
        let conn = store.connection();
        let prefix = store.prefix().to_owned();
        let queue = |name: &str| queue_config(&prefix, name, EFFECT_KEY_TTL);
        let queues = QueueSet::Redis(Box::new(RedisQueues {
            inbound: store.inbound().clone(),
            outbound: RedisQueue::new(conn.clone(), queue("outbound")),
            verify: RedisQueue::new(conn.clone(), queue("verify")),
            events: RedisQueue::new(conn.clone(), queue("events")),
            notify: RedisQueue::new(conn.clone(), queue("notify")),
        }));
        Self {
            conversations: Arc::new(RedisConversations::new(conn.clone(), &prefix)),
            ingress: Arc::new(store),
            queues,
            redis: Some((conn, prefix)),
        }
    }

    /// The queues as the dispatcher sees them.
    pub fn dispatch_queues(&self) -> Queues {
        match &self.queues {
            QueueSet::Memory { outbound, verify, events, notify, .. } => Queues {
                outbound: outbound.clone(),
                verify: verify.clone(),
                events: events.clone(),
                notify: notify.clone(),
            },
            QueueSet::Redis(q) => Queues {
                outbound: Arc::new(q.outbound.clone()),
                verify: Arc::new(q.verify.clone()),
                events: Arc::new(q.events.clone()),
                notify: Arc::new(q.notify.clone()),
            },
        }
    }
}
