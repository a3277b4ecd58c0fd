//! The people who work in the console: their accounts (argon2id password hashes, role, disabled), their sessions
//! (kept on the backend so any server process serves any agent) and the failed sign-ins counted per account and
//! per address (for the lockout). Sessions are stored under a SHA-256 of their id: a copy of the store does not
//! hold usable cookies.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes cases, talks with users, decides.
    Agent,
    /// An agent who can also reassign cases and see every agent's work.
    Supervisor,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "agent" => Some(Self::Agent),
            "supervisor" => Some(Self::Supervisor),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Supervisor => "supervisor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentAccount {
    /// Lower-case; the account's identity in cases and the audit log.
    pub email: String,
    pub name: String,
    pub role: Role,
    /// PHC string of an argon2id hash.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Hex SHA-256 of the session id the cookie carries.
    pub id_hash: String,
    pub email: String,
    /// Sent back with each form: a second check against cross-site requests.
    pub csrf: String,
    pub created_at: u64,
    pub last_seen_at: u64,
}

#[async_trait]
pub trait AgentStore: Send + Sync + 'static {
    /// Adds an account; `false` when the email is taken (nothing changed).
    async fn add(&self, account: &AgentAccount) -> Result<bool, StoreError>;
    async fn get(&self, email: &str) -> Result<Option<AgentAccount>, StoreError>;
    /// Every account, by email.
    async fn list(&self) -> Result<Vec<AgentAccount>, StoreError>;
    /// Replaces an existing account (disable, new password); `false` when there is none.
    async fn update(&self, account: &AgentAccount) -> Result<bool, StoreError>;

    /// Writes a session; it is gone `idle_secs` after this write unless written again.
    async fn put_session(&self, session: &SessionRecord, idle_secs: u64) -> Result<(), StoreError>;
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    async fn end_session(&self, id_hash: &str) -> Result<(), StoreError>;

    /// Counts one failed sign-in for `key` (an account or an address) in a window of `window_secs` that starts
    /// at the first failure; answers the failures in the window so far.
    async fn add_failure(&self, key: &str, window_secs: u64) -> Result<u64, StoreError>;
    async fn failures(&self, key: &str) -> Result<u64, StoreError>;
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
}
