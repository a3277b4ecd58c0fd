//! The HTTP server under the routers: its own accept loop on hyper, because a service on the open internet needs
//! what `axum::serve` leaves out: header, body and idle timeouts, a cap on connections, and a stop with a deadline.
//!
//! - `connection.rs`: one connection, watched for the header and idle timeouts.
//! - `gate.rs`: the middleware that answers 503 while draining and times the reading of bodies.
//! - `serve.rs`: the accept loop, the connection cap and the stop.

mod connection;
pub mod gate;
mod serve;

pub use gate::Draining;
pub use serve::{Server, ServerHandle};
