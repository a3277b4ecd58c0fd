//! Verification: photo quality ([`quality`]), reading the document ([`document`]), identity providers
//! ([`providers`]), and the decision ([`decision`]). [`job`] runs them for one submission, keeps each flow
//! version's providers, and resumes a check an asynchronous provider answers later.

pub mod decision;
pub mod document;
pub mod job;
pub mod providers;
pub mod quality;
pub mod reason;
pub mod slot;
