//! Conversations in memory: the same compare-and-set, hash chain and lifetimes as the Redis scripts, for one
//! process, on the backend's clock (a test that moves a fixed clock past a retention period sees the data go).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::flow::state::UserKey;
use crate::store::StoreError;
use crate::store::audit_chain::{self, ChainHead, Link, StoredChain};
use crate::store::conversation::{
    AuditRecord, ConversationStore, Erased, LoggedMessage, MESSAGE_LOG_MAX, Saved, Stored, Tombstone, Versioned,
};
use crate::store::retention::{Lifetime, Retention};

/// Calls between two sweeps of every expired entry.
const SWEEP_EVERY: u32 = 1024;

pub struct MemoryConversations {
    clock: SharedClock,
    retention: Retention,
    inner: Mutex<Conversations>,
}

/// A value and when it expires (Unix ms; `None`: kept).
#[derive(Debug, Clone)]
struct Expiring<T> {
    value: T,
    expires: Option<u64>,
}

impl<T> Expiring<T> {
    fn new(value: T, lifetime: Lifetime, now: u64) -> Self {
        let expires = match lifetime {
            Lifetime::Held => None,
            Lifetime::For(d) => Some(now + d.as_millis() as u64),
        };
        Self { value, expires }
    }

    fn live(&self, now: u64) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

#[derive(Debug, Default)]
struct Trail {
    links: Vec<Link>,
    head: Option<ChainHead>,
}

#[derive(Debug, Default)]
struct Conversations {
    /// Calls since the last sweep of expired entries.
    since_sweep: u32,
    docs: HashMap<UserKey, Expiring<(u64, Stored)>>,
    audit: HashMap<UserKey, Expiring<Trail>>,
    messages: HashMap<UserKey, Vec<LoggedMessage>>,
    flows: HashMap<(String, String), String>,
    index: HashMap<String, Expiring<UserKey>>,
    tombstones: HashMap<String, Expiring<Tombstone>>,
    values: HashMap<String, Expiring<String>>,
}

impl Conversations {
    /// Forgets what has expired, as Redis does.
    fn expire(&mut self, now: u64) {
        self.docs.retain(|_, e| e.live(now));
        self.audit.retain(|_, e| e.live(now));
        let docs = &self.docs;
        self.messages.retain(|user, _| docs.contains_key(user));
        self.index.retain(|_, e| e.live(now));
        self.tombstones.retain(|_, e| e.live(now));
        self.values.retain(|_, e| e.live(now));
    }

    fn append(
        &mut self,
        user: &UserKey,
        audit: &[AuditRecord],
        lifetime: Lifetime,
        now: u64,
    ) -> Result<(), StoreError> {
        let trail = self.audit.entry(user.clone()).or_insert_with(|| Expiring::new(Trail::default(), lifetime, now));
        let (links, head) = audit_chain::link(&trail.value.head.clone().unwrap_or_default(), audit)?;
        trail.value.links.extend(links);
        trail.value.head = Some(head);
        trail.expires = Expiring::new((), lifetime, now).expires;
        Ok(())
    }
}

impl MemoryConversations {
    pub fn new(clock: SharedClock, retention: Retention) -> Self {
        Self { clock, retention, inner: Mutex::default() }
    }

    /// The store, its expired entries forgotten (all of them now and then, as Redis's active expiry does; the
    /// one asked for at every read, as Redis's passive expiry does).
    fn lock(&self) -> std::sync::MutexGuard<'_, Conversations> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.since_sweep += 1;
        if inner.since_sweep >= SWEEP_EVERY {
            inner.since_sweep = 0;
            inner.expire(self.clock.now_ms());
        }
        inner
    }

    /// The store with every expired entry forgotten.
    fn swept(&self) -> std::sync::MutexGuard<'_, Conversations> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.expire(self.clock.now_ms());
        inner
    }

    /// Everything held, as text, for tests that look for personal data in every byte kept.
    pub fn dump(&self) -> String {
        format!("{:?}", *self.swept())
    }

    /// How many entries are held (the memory counterpart of a key count).
    pub fn entries(&self) -> usize {
        let inner = self.swept();
        inner.docs.len()
            + inner.audit.len()
            + inner.messages.len()
            + inner.index.len()
            + inner.tombstones.len()
            + inner.values.len()
    }

    /// Lets a test change a stored audit record, as someone editing the store directly would.
    #[doc(hidden)]
    pub fn tamper_audit(&self, user: &UserKey, position: usize, change: impl FnOnce(&mut String)) {
        if let Some(link) = self.lock().audit.get_mut(user).and_then(|t| t.value.links.get_mut(position)) {
            change(&mut link.json);
        }
    }
}

/// Forgets a user's expired state and trail before they are written again.
fn drop_expired(inner: &mut Conversations, user: &UserKey, now: u64) {
    if inner.docs.get(user).is_some_and(|e| !e.live(now)) {
        inner.docs.remove(user);
    }
    if inner.audit.get(user).is_some_and(|e| !e.live(now)) {
        inner.audit.remove(user);
    }
    if !inner.docs.contains_key(user) {
        inner.messages.remove(user);
    }
}

impl<T> Expiring<T> {
    fn lifetime_of(&self, now: u64) -> Lifetime {
        match self.expires {
            None => Lifetime::Held,
            Some(at) => Lifetime::For(std::time::Duration::from_millis(at.saturating_sub(now))),
        }
    }
}

#[async_trait]
impl ConversationStore for MemoryConversations {
    async fn load(&self, user: &UserKey) -> Result<Option<Versioned>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self
            .lock()
            .docs
            .get(user)
            .filter(|e| e.live(now))
            .map(|e| Versioned { version: e.value.0, stored: e.value.1.clone() }))
    }

    async fn save(
        &self,
        user: &UserKey,
        expected: u64,
        stored: &Stored,
        audit: &[AuditRecord],
    ) -> Result<Saved, StoreError> {
        let now = self.clock.now_ms();
        let lifetime = self.retention.of(&stored.state);
        let mut inner = self.lock();
        drop_expired(&mut inner, user, now);
        let current = inner.docs.get(user).map_or(0, |e| e.value.0);
        if current != expected {
            return Ok(Saved::Conflict);
        }
        inner.docs.insert(user.clone(), Expiring::new((expected + 1, stored.clone()), lifetime, now));
        inner.append(user, audit, lifetime, now)?;
        Ok(Saved::Ok(expected + 1))
    }

    async fn clear_outbox(&self, user: &UserKey, version: u64, event_key: &str) -> Result<(), StoreError> {
        if let Some(e) = self.lock().docs.get_mut(user)
            && e.value.0 == version
        {
            e.value.1.outbox.retain(|e| e.event_key != event_key);
        }
        Ok(())
    }

    async fn append_audit(&self, user: &UserKey, audit: &[AuditRecord]) -> Result<(), StoreError> {
        if audit.is_empty() {
            return Ok(());
        }
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        drop_expired(&mut inner, user, now);
        // The trail keeps the conversation's lifetime; a user with no conversation gets no trail back.
        let Some(lifetime) = inner.docs.get(user).map(|e| e.lifetime_of(now)) else { return Ok(()) };
        inner.append(user, audit, lifetime, now)
    }

    async fn audit(&self, user: &UserKey, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let inner = self.swept();
        let links = inner.audit.get(user).map(|t| t.value.links.as_slice()).unwrap_or_default();
        links[links.len().saturating_sub(limit)..]
            .iter()
            .map(|link| crate::store::from_json("audit record", &link.json))
            .collect()
    }

    async fn audit_chain(&self, user: &UserKey) -> Result<StoredChain, StoreError> {
        let inner = self.swept();
        Ok(inner
            .audit
            .get(user)
            .map(|t| StoredChain { links: t.value.links.clone(), head: t.value.head.clone() })
            .unwrap_or_default())
    }

    async fn erase(&self, user: &UserKey, tombstones: &[Tombstone]) -> Result<Erased, StoreError> {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        for tombstone in tombstones {
            inner.index.remove(&tombstone.conversation_id);
            let kept = Expiring::new(tombstone.clone(), Lifetime::For(self.retention.erasure_record), now);
            inner.tombstones.insert(tombstone.conversation_id.clone(), kept);
        }
        Ok(Erased {
            states: usize::from(inner.docs.remove(user).is_some()),
            audit_records: inner.audit.remove(user).map_or(0, |t| t.value.links.len()),
            messages: inner.messages.remove(user).map_or(0, |m| m.len()),
        })
    }

    async fn log_message(&self, user: &UserKey, message: &LoggedMessage) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let mut inner = self.lock();
        drop_expired(&mut inner, user, now);
        if !inner.docs.contains_key(user) {
            return Ok(());
        }
        let log = inner.messages.entry(user.clone()).or_default();
        log.push(message.clone());
        if log.len() > MESSAGE_LOG_MAX {
            log.remove(0);
        }
        Ok(())
    }

    async fn messages(&self, user: &UserKey) -> Result<Vec<LoggedMessage>, StoreError> {
        Ok(self.swept().messages.get(user).cloned().unwrap_or_default())
    }

    async fn tombstone(&self, conversation_id: &str) -> Result<Option<Tombstone>, StoreError> {
        Ok(self.swept().tombstones.get(conversation_id).map(|e| e.value.clone()))
    }

    async fn keep_flow_source(&self, flow_id: &str, version: &str, source: &str) -> Result<(), StoreError> {
        self.lock().flows.insert((flow_id.to_owned(), version.to_owned()), source.to_owned());
        Ok(())
    }

    async fn flow_source(&self, flow_id: &str, version: &str) -> Result<Option<String>, StoreError> {
        Ok(self.lock().flows.get(&(flow_id.to_owned(), version.to_owned())).cloned())
    }

    async fn index_conversation(
        &self,
        conversation_id: &str,
        user: &UserKey,
        lifetime: Lifetime,
    ) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        self.lock().index.insert(conversation_id.to_owned(), Expiring::new(user.clone(), lifetime, now));
        Ok(())
    }

    async fn user_of(&self, conversation_id: &str) -> Result<Option<UserKey>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self.lock().index.get(conversation_id).filter(|e| e.live(now)).map(|e| e.value.clone()))
    }

    async fn put_value(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), StoreError> {
        let now = self.clock.now_ms();
        let lifetime = Lifetime::For(std::time::Duration::from_secs(ttl_secs.max(1)));
        self.lock().values.insert(key.to_owned(), Expiring::new(value.to_owned(), lifetime, now));
        Ok(())
    }

    async fn take_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self.lock().values.remove(key).filter(|e| e.live(now)).map(|e| e.value))
    }
}
