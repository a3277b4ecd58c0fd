//! The photo generator lives in the library (`wa_onboard::demo::photos`) so that `wa-onboard demo` can use it.

#![allow(unused_imports)]

pub use wa_onboard::demo::photos::*;
