//! Verification: photo quality, reading the document, providers, and the decision.

pub mod reason;
pub mod quality;
