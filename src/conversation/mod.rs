//! The conversation runner: load the state, step the engine, compare-and-set, hand out the effects.

pub mod dispatch;
pub mod flows;
pub mod handlers;
pub mod notify;
pub mod outbound;
pub mod outbound_log;
pub mod runner;
