//! Access: everything held about one person, as one JSON document (their conversation and the fields read, the
//! messages they sent, the audit trail with its decisions, their cases with the agents' notes, their photos).

use base64::Engine as _;
use serde::Serialize;

use super::{Privacy, PrivacyError};
use crate::store::audit_chain::Verification;
use crate::store::case::{Case, CaseEntry};
use crate::store::conversation::{AuditRecord, LoggedMessage};

/// What an export holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Export {
    pub user: String,
    pub phone_number_id: String,
    /// Unix seconds.
    pub exported_at: u64,
    /// The conversation state as stored (step, outcome, language, the fields read, photo references), if any.
    #[schema(value_type = Option<Object>)]
    pub conversation: Option<serde_json::Value>,
    /// What they sent, oldest first.
    pub messages: Vec<LoggedMessage>,
    /// The audit trail, oldest first, and whether its chain holds.
    #[schema(value_type = Vec<Object>)]
    pub audit: Vec<AuditRecord>,
    #[schema(value_type = Object)]
    pub audit_verification: Verification,
    pub cases: Vec<ExportedCase>,
    pub photos: Vec<ExportedPhoto>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedCase {
    pub case: Case,
    pub timeline: Vec<CaseEntry>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportedPhoto {
    pub conversation_id: String,
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    pub sha256: String,
    pub received_at_ms: u64,
    /// The photo itself, base64, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

impl Privacy {
    /// Everything held about `user`; the photos' bytes too when `with_photos`.
    pub async fn export(&self, user: &crate::flow::state::UserKey, with_photos: bool) -> Result<Export, PrivacyError> {
        let conversations = self.backend.conversations();
        let (state, ids) = self.conversation_ids(user).await?;
        let chain = conversations.audit_chain(user).await?;
        let audit_verification = crate::store::audit_chain::verify(&chain);
        let audit = chain.links.iter().filter_map(|l| serde_json::from_str(&l.json).ok()).collect();
        let mut cases = Vec::new();
        let mut photos = Vec::new();
        for id in &ids {
            for case in self.backend.cases().cases_of(id).await? {
                let timeline = self.backend.cases().timeline(&case.info.id).await?;
                cases.push(ExportedCase { case, timeline });
            }
            for (name, meta) in self.vault.list(id).await? {
                let base64 = match with_photos {
                    true => self
                        .vault
                        .get(id, &name)
                        .await?
                        .map(|m| base64::engine::general_purpose::STANDARD.encode(m.bytes)),
                    false => None,
                };
                photos.push(ExportedPhoto {
                    conversation_id: id.clone(),
                    name,
                    mime_type: meta.mime_type,
                    size: meta.size,
                    sha256: meta.sha256,
                    received_at_ms: meta.received_at_ms,
                    base64,
                });
            }
        }
        Ok(Export {
            user: user.user.clone(),
            phone_number_id: user.phone_number_id.clone(),
            exported_at: self.backend.clock().now_secs(),
            conversation: state.map(|s| serde_json::to_value(s).unwrap_or_default()),
            messages: conversations.messages(user).await?,
            audit,
            audit_verification,
            cases,
            photos,
        })
    }
}
