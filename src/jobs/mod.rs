//! Background jobs: the contract each kind declares ([`contract::BackgroundJob`]), their idempotency keys
//! ([`key::JobKey`]), the job types that cross process boundaries through the queues, and the worker loop.

pub mod contract;
pub mod event;
pub mod health;
pub mod inbound;
pub mod key;
pub mod notify;
pub mod outbound;
pub mod photo;
pub mod redis_worker;
pub mod verify;
pub mod worker;

pub use contract::{BackgroundJob, Concurrency, MAX_ATTEMPTS, Queues};
pub use key::JobKey;
