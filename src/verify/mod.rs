//! Verification: photo quality, reading the document, providers, and the decision.

pub mod decision;
pub mod document;
pub mod job;
pub mod providers;
pub mod quality;
pub mod reason;
