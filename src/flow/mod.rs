//! Flows: the files product teams edit, their checks, and the pure engine that runs them.

pub mod check;
pub mod engine;
pub mod event;
pub mod graph;
pub mod i18n;
pub mod input;
pub mod journey;
pub mod load;
pub mod model;
pub mod reply;
pub mod scenario;
pub mod state;
