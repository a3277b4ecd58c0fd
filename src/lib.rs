//! wa-onboard: identity verification (KYC) inside a WhatsApp chat.
//!
//! Data flows from the webhook ([`webhook`]) into durable inbound jobs ([`jobs`], [`store`]); the Cloud API side
//! (sending, media, rate limits, delivery state) is in [`whatsapp`], stored media in [`media`], and a local Graph
//! API for development and tests in [`sim`]. Verification (photo checks, document reading, identity providers) is in
//! [`verify`]; the HMAC signature shared by provider calls, callbacks, company webhooks and agent outcomes is in
//! [`signing`].

pub mod agent;
pub mod app;
pub mod backend;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod conversation;
pub mod demo;
pub mod flow;
pub mod jobs;
pub mod media;
pub mod metrics;
pub mod ops;
pub mod replay;
pub mod signing;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod verify;
pub mod webhook;
pub mod whatsapp;
pub mod workers;
