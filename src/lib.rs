//! wa-onboard: identity verification (KYC) inside a WhatsApp chat.
//!
//! # Map, in the order data flows
//!
//! - [`config`]: settings from the environment (and `.env`) to a typed `Config`; secrets print as `***`.
//! - [`telemetry`]: logging setup, masking of phone numbers and names.
//! - [`app`]: wiring from a `Config` to a running HTTP server and its workers, flow reload, shutdown.
//! - [`clock`]: the one clock (`SystemClock`, `FixedClock` for tests and replays).
//! - [`store`]: every byte kept: the traits and their memory and Redis implementations (dedupe claims and queues,
//!   conversation state with its outbox and audit log, kept payloads, sent log, delivery states, rate limits,
//!   the encrypted media vault), and the one `Backend` that chooses memory or Redis.
//! - [`webhook`]: Meta's webhook: signature check, envelope model, ingest into durable inbound jobs, routes.
//! - [`jobs`]: the job contract (`BackgroundJob`), idempotency keys, the job types that travel through the
//!   queues, the worker loop.
//! - [`workers`]: the catalog of job kinds (queue, concurrency, attempts, key, handler); starts one worker per
//!   kind, or steps them in tests.
//! - [`conversation`]: the runner (load the state, step the engine, compare-and-set, dispatch the effects), its
//!   job handlers, the outbound worker and the company notifications.
//! - [`flow`]: flow files (format, checks, loading), the pure engine, graphs and scenarios.
//! - [`verify`]: the verification job (pipeline, provider cache, callback resume), photo slots, photo quality,
//!   reading the document (barcodes, MRZ), identity providers, the decision.
//! - [`signing`]: the timestamped HMAC signature shared by provider calls, callbacks, company webhooks and agent
//!   outcomes.
//! - [`cloud`]: what a process uses to talk to Meta: client (or built-in simulator), sender, limiter, delivery
//!   log, media vault, taken from the backend.
//! - [`whatsapp`]: the Cloud API: messages within limits, errors and retry policy, client, idempotent sender,
//!   media downloads.
//! - [`agent`]: signed live-agent handoff links and `POST /agent/outcome`.
//! - [`privacy`]: a person's rights: erasure (on stop, or asked by an operator) with its receipt and tombstones, and
//!   the export of everything held about them.
//! - [`funnel`]: the onboarding funnel: each conversation's summary, the report (`report funnel`, the
//!   supervisor page) and the funnel metrics.
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics` and latency tracking.
//! - [`metrics`]: the Prometheus registry.
//! - [`sim`]: a local Graph API simulator (development, demo, tests, benchmarks).
//! - [`demo`]: `wa-onboard demo`, a scripted user and synthetic ID photos.
//! - [`replay`]: `wa-onboard replay`, signs recorded webhook payloads and POSTs them.
//!
//! The command line itself (`src/main.rs`, and `src/cli/` with one file per command) is the binary's, not this
//! library's.
//!
//! # Errors
//!
//! - A typed error (`thiserror`) wherever a caller decides what to do with it (retry, answer 503, give up, tell
//!   the user): `StoreError`, `RunError`, `DeliveryFailure`, `JobFailure`, `VaultError`, `ConfigError`...
//! - `anyhow`, with a `.context(...)` that says what was being done, only at the edges, where an error is only
//!   reported: `main` and the command bodies, the wiring in [`app`], start-up constructors (opening the
//!   backend, building the Cloud API client), and the development tools ([`demo`], [`replay`], flow scenarios).
//! - No `unwrap` or `expect` on anything from outside the process (requests, payloads, files, the environment,
//!   Redis, provider answers): those are errors. `expect` is kept for what the code itself guarantees (a
//!   constant that parses), with a message that says so.

pub mod agent;
pub mod api;
pub mod app;
pub mod clock;
pub mod cloud;
pub mod config;
pub mod console;
pub mod conversation;
pub mod demo;
pub mod flow;
pub mod funnel;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod ops;
pub mod privacy;
pub mod replay;
pub mod signing;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod verify;
pub mod webhook;
pub mod whatsapp;
pub mod workers;
