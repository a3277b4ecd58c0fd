//! Small values with a lifetime, in a namespace: what each send did (so a retried job never sends twice), and
//! similar records that are written once and read back by key.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait ValueStore: Send + Sync + 'static {
    /// The value under `key`, unless absent or expired.
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Writes `value` unless one is there already (the first writer wins); answers whether it was written.
    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Removes the value under `key` (nothing to do when there is none).
    async fn remove(&self, key: &str) -> Result<(), StoreError>;
}
