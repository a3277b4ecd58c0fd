//! The quick check of one photo, as soon as it arrives: download it (kept encrypted in the vault, where the
//! verification finds it later), check its quality, and report back to the conversation as an event.

use serde::{Deserialize, Serialize};

use crate::flow::state::{MediaRef, UserKey};
use crate::jobs::key::JobKey;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoJob {
    /// The effect that asked for it.
    pub key: JobKey,
    pub user: UserKey,
    pub conversation_id: String,
    pub flow_id: String,
    pub flow_version: String,
    /// The slot the photo is in (`front`, `back`, `selfie`): it says which checks apply.
    pub slot: String,
    #[serde(default)]
    pub document: Option<String>,
    pub media: MediaRef,
}
