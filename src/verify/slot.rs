//! Photo slots: which photo of a submission a check is about.
//!
//! The flow engine ([`crate::flow`]) and the job it queues ([`crate::jobs::verify::VerifyJob`]) name slots with
//! strings: `front`, `back`, `selfie`, or whatever name a flow file gives a photo step. Verification works with
//! [`Slot`] and converts at its edges: when it reads a job's photos, and when it writes a slot into a `Retake` or
//! `MediaUnavailable` event. A slot serialises as the same lowercase string, so stored JSON does not change.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::document::Side;
use super::providers::ImageRole;
use super::quality::Kind;

/// A photo slot. The variants are declared in the order photos are checked in (the user fixes the first problem
/// first), and `Ord` follows it: front, back, selfie, then other slots by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Slot {
    Front,
    Back,
    Selfie,
    /// A slot the flow names beyond the three: checked as the front of a document, after the others. Never holds
    /// `front`, `back` or `selfie` when made with [`Slot::from`].
    Other(String),
}

impl Slot {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Front => "front",
            Self::Back => "back",
            Self::Selfie => "selfie",
            Self::Other(name) => name,
        }
    }

    /// How its photo quality is checked.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Selfie => Kind::Selfie,
            Self::Front | Self::Back | Self::Other(_) => Kind::Document,
        }
    }

    /// The document side its photo shows; `None` for the selfie.
    pub fn side(&self) -> Option<Side> {
        match self {
            Self::Selfie => None,
            Self::Back => Some(Side::Back),
            Self::Front | Self::Other(_) => Some(Side::Front),
        }
    }

    /// What its photo is to a provider.
    pub fn image_role(&self) -> ImageRole {
        match self {
            Self::Selfie => ImageRole::Selfie,
            Self::Back => ImageRole::DocumentBack,
            Self::Front | Self::Other(_) => ImageRole::DocumentFront,
        }
    }
}

impl From<&str> for Slot {
    fn from(name: &str) -> Self {
        match name {
            "front" => Self::Front,
            "back" => Self::Back,
            "selfie" => Self::Selfie,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl From<String> for Slot {
    fn from(name: String) -> Self {
        match Self::from(name.as_str()) {
            Self::Other(_) => Self::Other(name),
            known => known,
        }
    }
}

/// The flow engine's name of the slot.
impl From<Slot> for String {
    fn from(slot: Slot) -> Self {
        match slot {
            Slot::Other(name) => name,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_the_flow_engines_strings() {
        for (name, slot) in [
            ("front", Slot::Front),
            ("back", Slot::Back),
            ("selfie", Slot::Selfie),
            ("passport", Slot::Other("passport".into())),
        ] {
            assert_eq!(Slot::from(name), slot);
            assert_eq!(Slot::from(name.to_owned()), slot);
            assert_eq!(String::from(slot.clone()), name);
            assert_eq!(slot.to_string(), name);
            let json = serde_json::to_string(&slot).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Slot>(&json).unwrap(), slot);
        }
    }

    #[test]
    fn checked_front_back_selfie_then_others_by_name() {
        let mut slots: Vec<Slot> = ["selfie", "zz", "back", "aa", "front"].into_iter().map(Slot::from).collect();
        slots.sort();
        let names: Vec<&str> = slots.iter().map(Slot::as_str).collect();
        assert_eq!(names, ["front", "back", "selfie", "aa", "zz"]);
    }

    #[test]
    fn other_slots_are_checked_as_a_document_front() {
        let other = Slot::from("passport");
        assert_eq!(other.kind(), Kind::Document);
        assert_eq!(other.side(), Some(Side::Front));
        assert_eq!(other.image_role(), ImageRole::DocumentFront);
        assert_eq!(Slot::Selfie.side(), None);
        assert_eq!(Slot::Selfie.kind(), Kind::Selfie);
        assert_eq!(Slot::Back.image_role(), ImageRole::DocumentBack);
    }
}
