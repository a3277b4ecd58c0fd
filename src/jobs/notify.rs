//! The notify job: tells the company's system how a conversation ended (verified, with the fields read, so the
//! account can be opened; or declined, stopped, expired, rejected), through its webhook. See docs/company-webhook.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyJob {
    /// Unique per notification: the company's system can use it to ignore a redelivery.
    pub id: String,
    /// `onboarding.verified`, `onboarding.declined`, `onboarding.stopped`, `onboarding.expired`, ...
    pub event: String,
    pub conversation_id: String,
    /// The business phone number id the user wrote to.
    pub phone_number_id: String,
    /// The user's phone (absent for users of usernames) and WhatsApp user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    /// What was read from the document and the providers (verified only).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// The agent who approved or rejected, when a person decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Why a person rejected (one of the console's rejection reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix seconds.
    pub at: u64,
}
