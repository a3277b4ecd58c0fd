//! API tokens in this process's memory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::api_tokens::{ApiToken, ApiTokenStore};

#[derive(Default)]
pub struct MemoryApiTokens(Mutex<BTreeMap<String, ApiToken>>);

impl MemoryApiTokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ApiToken>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ApiTokenStore for MemoryApiTokens {
    async fn add(&self, token: &ApiToken) -> Result<bool, StoreError> {
        let mut tokens = self.lock();
        if tokens.contains_key(&token.name) {
            return Ok(false);
        }
        tokens.insert(token.name.clone(), token.clone());
        Ok(true)
    }

    async fn list(&self) -> Result<Vec<ApiToken>, StoreError> {
        Ok(self.lock().values().cloned().collect())
    }

    async fn revoke(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(name).is_some())
    }
}
