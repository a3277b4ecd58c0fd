//! Values in memory, expiring on the backend's clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::store::StoreError;
use crate::store::values::ValueStore;

pub struct MemoryValues {
    clock: SharedClock,
    /// Key → (value, expiry in Unix ms).
    values: Mutex<HashMap<String, (String, u64)>>,
}

impl MemoryValues {
    pub fn new(clock: SharedClock) -> Self {
        Self { clock, values: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, u64)>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ValueStore for MemoryValues {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let now = self.clock.now_ms();
        Ok(self.lock().get(key).filter(|(_, expires)| *expires > now).map(|(v, _)| v.clone()))
    }

    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        let mut values = self.lock();
        values.retain(|_, (_, expires)| *expires > now);
        if values.contains_key(key) {
            return Ok(false);
        }
        values.insert(key.to_owned(), (value.to_owned(), now + ttl.as_millis() as u64));
        Ok(true)
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
}
