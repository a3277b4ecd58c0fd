//! Live agents: what they do with a case (`desk.rs`, shared by the console and `/api/v1`), the photos they see
//! (`photo.rs`), and, for external agent systems, signed handoff links and the outcome they send back.

pub mod desk;
pub mod link;
pub mod outcome;
pub mod photo;

/// Why a person may reject an application. The user never sees it (they get the flow's polite closing text); it
/// goes to the audit log and to the company's system as `reason`.
pub const REJECT_REASONS: &[&str] = &[
    "document_invalid",
    "document_expired",
    "document_unreadable",
    "face_mismatch",
    "data_mismatch",
    "underage",
    "suspected_fraud",
    "duplicate_application",
    "other",
];
