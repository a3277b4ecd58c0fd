//! Agent accounts, sessions and sign-in failures in this process's memory; lifetimes follow the backend's clock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::store::StoreError;
use crate::store::agents::{AgentAccount, AgentStore, SessionRecord};

pub struct MemoryAgents {
    clock: SharedClock,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    accounts: BTreeMap<String, AgentAccount>,
    /// id hash → (session, gone at, unix seconds).
    sessions: HashMap<String, (SessionRecord, u64)>,
    /// key → (failures, window ends at).
    failures: HashMap<String, (u64, u64)>,
}

impl MemoryAgents {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock, inner: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl AgentStore for MemoryAgents {
    async fn add(&self, account: &AgentAccount) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        if inner.accounts.contains_key(&account.email) {
            return Ok(false);
        }
        inner.accounts.insert(account.email.clone(), account.clone());
        Ok(true)
    }

    async fn get(&self, email: &str) -> Result<Option<AgentAccount>, StoreError> {
        Ok(self.lock().accounts.get(email).cloned())
    }

    async fn list(&self) -> Result<Vec<AgentAccount>, StoreError> {
        Ok(self.lock().accounts.values().cloned().collect())
    }

    async fn update(&self, account: &AgentAccount) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        match inner.accounts.get_mut(&account.email) {
            Some(stored) => {
                *stored = account.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn put_session(&self, session: &SessionRecord, idle_secs: u64) -> Result<(), StoreError> {
        let now = self.clock.now_secs();
        let mut inner = self.lock();
        inner.sessions.retain(|_, (_, gone_at)| *gone_at > now);
        inner.sessions.insert(session.id_hash.clone(), (session.clone(), now + idle_secs));
        Ok(())
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let now = self.clock.now_secs();
        let inner = self.lock();
        Ok(inner.sessions.get(id_hash).filter(|(_, gone_at)| *gone_at > now).map(|(s, _)| s.clone()))
    }

    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.lock().sessions.remove(id_hash);
        Ok(())
    }

    async fn add_failure(&self, key: &str, window_secs: u64) -> Result<u64, StoreError> {
        let now = self.clock.now_secs();
        let mut inner = self.lock();
        inner.failures.retain(|_, (_, ends_at)| *ends_at > now);
        let entry = inner.failures.entry(key.to_owned()).or_insert((0, now + window_secs));
        entry.0 += 1;
        Ok(entry.0)
    }

    async fn failures(&self, key: &str) -> Result<u64, StoreError> {
        let now = self.clock.now_secs();
        Ok(self.lock().failures.get(key).filter(|(_, ends_at)| *ends_at > now).map_or(0, |(n, _)| *n))
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        self.lock().failures.remove(key);
        Ok(())
    }
}
