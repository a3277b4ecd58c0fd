//! The WhatsApp Cloud API side: outbound messages within WhatsApp's limits ([`message`]), errors and their retry
//! policy ([`error`]), the HTTP client ([`client`]), idempotent delivery of send jobs ([`sender`]), send rate
//! limits ([`limiter`]), delivery state from status webhooks ([`delivery`]) and media downloads ([`media`]).

pub mod client;
pub mod error;
pub mod media;
pub mod message;
pub mod sender;
pub mod token_reload;

pub use client::{CloudApi, CloudApiSettings, Sent};
pub use error::{GraphError, Permanent, Retry};
pub use message::{MessageLimitError, OutboundMessage, Recipient};
