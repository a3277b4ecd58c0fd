//! Job types that cross process boundaries through the queue.

pub mod inbound;
pub mod queue;
