//! The console's HTML, one file per page; `layout.rs` is the frame they share.

pub mod case;
pub mod funnel;
pub mod layout;
pub mod queue;
pub mod sign_in;
