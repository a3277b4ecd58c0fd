//! Media kept for a conversation (ID photos, selfies, document scans), encrypted at rest and deleted after the
//! configured retention: see [`vault`].

pub mod vault;
