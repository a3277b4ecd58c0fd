//! Verification: photo quality, reading the document, providers, and the decision.

pub mod quality;
pub mod reason;
