//! The WhatsApp Cloud API webhook: signature check, envelope model, the conversion of Meta's messages into the
//! conversation's domain messages, and durable ingest.

pub mod envelope;
pub mod ingest;
pub mod routes;
pub mod signature;
pub mod to_domain;
