//! The funnel: how many people start, how far they get, how they end, how long it takes, and why they are
//! asked again or handed to a person (docs/metrics.md).
//!
//! - `summary.rs`: one conversation as the funnel sees it ([`JourneySummary`], no personal data), written at
//!   every change by the runner ([`crate::store::journeys::JourneyStore`]).
//! - `report.rs`: the report of a period, pure; `render.rs`: as a table, CSV or JSON; `gather.rs`: reads what
//!   a report needs from the store.
//! - `metrics.rs`: the same events as Prometheus metrics, counted by the process that applies them.

pub mod gather;
pub mod metrics;
pub mod period;
pub mod render;
pub mod report;
pub mod summary;

pub use summary::JourneySummary;
