//! Live agents: signed handoff links, and the outcome an agent sends back.

pub mod link;
pub mod outcome;
