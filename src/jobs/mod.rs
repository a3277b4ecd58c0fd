//! Job types that cross process boundaries through the queues, and the queues themselves.

pub mod event;
pub mod inbound;
pub mod key;
pub mod notify;
pub mod outbound;
pub mod queue;
pub mod verify;
pub mod worker;
