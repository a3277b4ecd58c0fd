//! The WhatsApp Cloud API webhook: signature check, envelope model, and durable ingest.

pub mod envelope;
pub mod ingest;
pub mod routes;
pub mod signature;
