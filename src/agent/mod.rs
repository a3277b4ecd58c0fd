//! Live agents: what they do with a case (`desk.rs`, shared by the console and `/api/v1`), the photos they see
//! (`photo.rs`), and, for external agent systems, signed handoff links and the outcome they send back.

pub mod desk;
pub mod link;
pub mod outcome;
pub mod photo;
