//! Reason codes: why a submission cannot be accepted as it is. Flow files map each code to a retake text and a
//! route (retake, agent), so the names are part of the flow-file format: add codes, never rename them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    // Photo quality, checked locally.
    /// Not a photo we can read: not JPEG/PNG/WebP, truncated, too many pixels, a decompression bomb.
    UnreadableFile,
    Blurry,
    Glare,
    TooDark,
    Overexposed,
    /// The document spans too few pixels to be read.
    LowResolution,
    /// Part of the document is outside the frame.
    Cropped,
    /// No document found in the photo.
    NoDocument,
    NoFace,
    MultipleFaces,
    FaceTooSmall,
    /// The face is cut off by the frame edge.
    FaceCropped,
    /// Eyes closed, or something covers the face (sunglasses, a mask, a hand): seen by a face-match provider.
    FaceObscured,

    // Reading the document.
    /// A machine-readable zone was found but a check digit is wrong.
    MrzCheckDigit,
    /// A barcode or MRZ was expected but could not be read.
    DocumentUnreadable,
    DocumentExpired,
    Underage,
    /// Two sources disagree (typed number vs barcode vs OCR).
    DataMismatch,
    /// The document type read is not the one the user chose.
    WrongDocumentType,

    // Provider answers.
    LivenessFailed,
    FaceMismatch,
    /// The registry reports the document lost, stolen, cancelled or its holder deceased.
    RegistryHit,
    /// The check could not run (provider down, timed out): never the user's fault.
    ProviderUnavailable,
    /// The result is under the flow's confidence threshold.
    LowConfidence,
    /// A check the flow requires has no provider configured for it (or only one that checks nothing): a person
    /// confirms the identity instead. Never a verified result.
    ReviewRequired,
}

impl ReasonCode {
    pub const ALL: &'static [ReasonCode] = &[
        Self::UnreadableFile,
        Self::Blurry,
        Self::Glare,
        Self::TooDark,
        Self::Overexposed,
        Self::LowResolution,
        Self::Cropped,
        Self::NoDocument,
        Self::NoFace,
        Self::MultipleFaces,
        Self::FaceTooSmall,
        Self::FaceCropped,
        Self::FaceObscured,
        Self::MrzCheckDigit,
        Self::DocumentUnreadable,
        Self::DocumentExpired,
        Self::Underage,
        Self::DataMismatch,
        Self::WrongDocumentType,
        Self::LivenessFailed,
        Self::FaceMismatch,
        Self::RegistryHit,
        Self::ProviderUnavailable,
        Self::LowConfidence,
        Self::ReviewRequired,
    ];

    /// The code as written in flow files and JSON: `blurry`, `too_dark`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnreadableFile => "unreadable_file",
            Self::Blurry => "blurry",
            Self::Glare => "glare",
            Self::TooDark => "too_dark",
            Self::Overexposed => "overexposed",
            Self::LowResolution => "low_resolution",
            Self::Cropped => "cropped",
            Self::NoDocument => "no_document",
            Self::NoFace => "no_face",
            Self::MultipleFaces => "multiple_faces",
            Self::FaceTooSmall => "face_too_small",
            Self::FaceCropped => "face_cropped",
            Self::FaceObscured => "face_obscured",
            Self::MrzCheckDigit => "mrz_check_digit",
            Self::DocumentUnreadable => "document_unreadable",
            Self::DocumentExpired => "document_expired",
            Self::Underage => "underage",
            Self::DataMismatch => "data_mismatch",
            Self::WrongDocumentType => "wrong_document_type",
            Self::LivenessFailed => "liveness_failed",
            Self::FaceMismatch => "face_mismatch",
            Self::RegistryHit => "registry_hit",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::LowConfidence => "low_confidence",
            Self::ReviewRequired => "review_required",
        }
    }

    /// Whether a new photo from the user can fix it (a retake), as opposed to a matter for a person to review.
    pub fn is_retakeable(self) -> bool {
        !matches!(
            self,
            Self::DocumentExpired
                | Self::Underage
                | Self::RegistryHit
                | Self::FaceMismatch
                | Self::ProviderUnavailable
                | Self::LowConfidence
                | Self::ReviewRequired
        )
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ReasonCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|r| r.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
            format!("unknown reason code `{s}`; known codes: {}", known.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde_and_from_str() {
        for code in ReasonCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(code.as_str().parse::<ReasonCode>().unwrap(), *code);
        }
        assert!("blury".parse::<ReasonCode>().unwrap_err().contains("blurry"));
    }
}
