//! wa-onboard: identity verification (KYC) inside a WhatsApp chat.
//!
//! Data flows from the webhook ([`webhook`]) into durable inbound jobs ([`jobs`], [`store`]).

pub mod agent;
pub mod app;
pub mod backend;
pub mod config;
pub mod conversation;
pub mod flow;
pub mod jobs;
pub mod metrics;
pub mod ops;
pub mod replay;
pub mod store;
pub mod telemetry;
pub mod verify;
pub mod webhook;
pub mod workers;
