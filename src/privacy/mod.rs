//! A person's rights over their data: erasure (when they confirm stop, or when an operator asks) and access (an
//! export of everything held about them). Both go through every room of the store: the conversation (state,
//! audit trail, message log), cases, photos, queued jobs and payloads kept for inspection. See docs/privacy.md.
//!
//! - `erase.rs`: the eraser, its receipt, and the erasure job queued when a user confirms stop.
//! - `export.rs`: the export document.

pub mod erase;
pub mod export;

use std::sync::Arc;

use thiserror::Error;

use crate::flow::state::UserKey;
use crate::jobs::Queues;
use crate::store::vault::{MediaVault, VaultError};
use crate::store::{Backend, StoreError};

pub use erase::{EraseJob, ErasureReceipt, Removed};
pub use export::Export;

#[derive(Debug, Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the photo vault: {0}")]
    Vault(#[from] VaultError),
}

/// What erasure and export reach: every store of a backend, and the photo vault.
#[derive(Clone)]
pub struct Privacy {
    pub backend: Backend,
    pub queues: Queues,
    pub vault: Arc<dyn MediaVault>,
    /// Where an erasure before the end is counted (`onboardings_finished{outcome="erased"}`); none in the CLI.
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Privacy {
    pub fn new(backend: Backend, vault: Arc<dyn MediaVault>) -> Self {
        Self { queues: Queues::new(backend.clone()), backend, vault, metrics: None }
    }

    pub fn with_metrics(self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        Self { metrics: Some(metrics), ..self }
    }

    /// The conversation ids held about a user: the current one, and those its audit trail and message log name
    /// (a user who wrote again after an ended conversation has several). Oldest first, each once.
    async fn conversation_ids(
        &self,
        user: &UserKey,
    ) -> Result<(Option<crate::flow::state::ConversationState>, Vec<String>), PrivacyError> {
        let conversations = self.backend.conversations();
        let state = conversations.load(user).await?.map(|v| v.stored.state);
        let chain = conversations.audit_chain(user).await?;
        let mut ids: Vec<String> = Vec::new();
        let mut add = |id: &str| {
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_owned());
            }
        };
        for link in &chain.links {
            if let Ok(record) = serde_json::from_str::<crate::store::conversation::AuditRecord>(&link.json) {
                add(&record.conversation_id);
            }
        }
        for message in conversations.messages(user).await? {
            add(&message.conversation_id);
        }
        if let Some(state) = &state {
            add(&state.conversation_id);
        }
        Ok((state, ids))
    }
}

/// `*********0001`: who a receipt or log line is about, without their number.
pub fn masked(user: &str) -> String {
    let chars: Vec<char> = user.chars().collect();
    let shown = chars.len().min(4);
    "*".repeat(chars.len() - shown) + &chars[chars.len() - shown..].iter().collect::<String>()
}
