//! Delivery states in memory, expiring on the backend's clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::SharedClock;
use crate::store::StoreError;
use crate::store::delivery::{DeliveryLog, DeliveryState, StatusUpdate};

/// wamid → (fields, expiry in Unix ms).
type States = HashMap<String, (HashMap<String, String>, u64)>;

pub struct MemoryDeliveryLog {
    ttl: Duration,
    clock: SharedClock,
    states: Mutex<States>,
}

impl MemoryDeliveryLog {
    pub fn new(ttl: Duration, clock: SharedClock) -> Self {
        Self { ttl, clock, states: Mutex::new(HashMap::new()) }
    }
}

#[async_trait]
impl DeliveryLog for MemoryDeliveryLog {
    async fn apply(&self, status: &StatusUpdate) -> Result<DeliveryState, StoreError> {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
        states.retain(|_, (_, expires)| *expires > now);
        let (fields, expires) = states.entry(status.wamid.clone()).or_insert_with(|| (HashMap::new(), now));
        for (k, v) in status.fields() {
            fields.entry(k.to_owned()).or_insert(v);
        }
        *expires = now + self.ttl.as_millis() as u64;
        Ok(DeliveryState::from_fields(&status.wamid, fields))
    }

    async fn get(&self, wamid: &str) -> Result<Option<DeliveryState>, StoreError> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
        Ok(states
            .get(wamid)
            .filter(|(_, expires)| *expires > now)
            .map(|(fields, _)| DeliveryState::from_fields(wamid, fields)))
    }
}
