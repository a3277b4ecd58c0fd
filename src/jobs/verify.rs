//! The verification job: download the photos of a submission, check them, and report back as an event.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::flow::state::{MediaRef, UserKey};
use crate::jobs::key::JobKey;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifyJob {
    /// Its idempotency key: the effect that asked for it, or the provider callback that resumed it.
    #[serde(default)]
    pub key: JobKey,
    pub user: UserKey,
    pub conversation_id: String,
    pub submission: String,
    pub flow_id: String,
    pub flow_version: String,
    #[serde(default)]
    pub document: Option<String>,
    pub media: BTreeMap<String, MediaRef>,
    pub attempt: u32,
    /// Provider answers already known, by capability (`registry`, ...): an asynchronous provider's callback
    /// resumes the job with its answer here, and the provider is not asked again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub known: BTreeMap<String, crate::verify::providers::ProviderAnswer>,
}
