//! API tokens of `/api/v1`: only a SHA-256 of each token is kept, under the name an operator gave it. Tokens are
//! 256 random bits, so a plain hash is enough (a password hash is for guessable secrets).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub name: String,
    /// Hex SHA-256 of the token.
    pub hash: String,
    pub created_at: u64,
}

#[async_trait]
pub trait ApiTokenStore: Send + Sync + 'static {
    /// Adds a token; `false` when the name is taken (nothing changed).
    async fn add(&self, token: &ApiToken) -> Result<bool, StoreError>;
    /// Every token, by name.
    async fn list(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Removes a token; `false` when there is none of that name.
    async fn revoke(&self, name: &str) -> Result<bool, StoreError>;
}
