//! The thresholds that turn measurements into reason codes. Every field has a unit and a calibrated default; flow
//! files override them per flow (`#[serde(default)]`: a flow names only what it changes).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// All thresholds of the local photo checks, one set per kind of photo.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    pub document: DocumentThresholds,
    pub selfie: SelfieThresholds,
}

/// Thresholds for a photo of an identity document (ID card, passport page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DocumentThresholds {
    /// Minimum length of the document's long side, in pixels of the original photo (`low_resolution` below).
    /// 1000 for an ID card; about 1450 for a passport page.
    pub min_document_px: u32,
    /// Minimum variance of the Laplacian inside the document, measured on the grayscale scaled to a long side of
    /// 1000 px (`blurry` below). Unit: luma levels squared.
    pub min_blur_variance: f64,
    /// Maximum share (0 to 1) of saturated pixels (luma >= 245) inside the document (`glare` above).
    pub max_glare_ratio: f64,
    /// Minimum mean luma (0 to 255) of the whole photo (`too_dark` below).
    pub min_mean_luma: f64,
    /// Maximum mean luma (0 to 255) of the whole photo (`overexposed` above).
    pub max_mean_luma: f64,
    /// A document is looked for only if it covers at least this share (0 to 1) of the frame; smaller than that
    /// counts as `no_document`.
    pub min_fill_ratio: f64,
    /// Accepted range of the document's aspect ratio (long side / short side) for a document that lies entirely
    /// inside the frame. An ID-1 card is 1.586, a passport page about 1.42.
    pub min_aspect: f64,
    pub max_aspect: f64,
    /// A document closer than this share (0 to 1) of the frame's width or height to an edge counts as touching
    /// it, hence cut off (`cropped`).
    pub edge_margin_ratio: f64,
}

impl Default for DocumentThresholds {
    fn default() -> Self {
        Self {
            min_document_px: 1000,
            min_blur_variance: 120.0,
            max_glare_ratio: 0.03,
            min_mean_luma: 40.0,
            max_mean_luma: 215.0,
            min_fill_ratio: 0.08,
            min_aspect: 1.25,
            max_aspect: 2.0,
            edge_margin_ratio: 0.004,
        }
    }
}

/// Thresholds for a selfie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SelfieThresholds {
    /// Minimum size of the largest face: the side of its box over the shorter side of the photo, 0 to 1
    /// (`face_too_small` below).
    pub min_face_ratio: f64,
    /// Minimum detector score for a face to count (SeetaFace score; higher means fewer false faces).
    pub min_face_score: f64,
    /// Minimum variance of the Laplacian inside the face box, measured at 1000 px long side (`blurry` below).
    pub min_blur_variance: f64,
    /// Minimum mean luma (0 to 255) inside the face box, or of the photo when no face is found (`too_dark`).
    pub min_mean_luma: f64,
    /// Maximum mean luma (0 to 255), as above (`overexposed`).
    pub max_mean_luma: f64,
    /// A face box closer than this share (0 to 1) of the photo's width or height to an edge is cut off
    /// (`face_cropped`).
    pub edge_margin_ratio: f64,
}

impl Default for SelfieThresholds {
    fn default() -> Self {
        Self {
            min_face_ratio: 0.12,
            min_face_score: 2.0,
            min_blur_variance: 20.0,
            min_mean_luma: 40.0,
            max_mean_luma: 220.0,
            edge_margin_ratio: 0.01,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_names_only_what_it_changes_and_typos_are_refused() {
        let t: Thresholds = serde_json::from_str(r#"{"document": {"max_glare_ratio": 0.05}}"#).unwrap();
        assert_eq!(t.document.max_glare_ratio, 0.05);
        assert_eq!(t.document.min_document_px, DocumentThresholds::default().min_document_px);
        assert_eq!(t.selfie, SelfieThresholds::default());
        assert!(serde_json::from_str::<Thresholds>(r#"{"document": {"max_glare": 0.05}}"#).is_err());
        assert!(serde_json::from_str::<Thresholds>(r#"{"documents": {}}"#).is_err());
    }

    #[test]
    fn the_schema_documents_every_field() {
        let schema = serde_json::to_value(schemars::schema_for!(Thresholds)).unwrap().to_string();
        for field in ["min_document_px", "max_glare_ratio", "min_face_ratio", "edge_margin_ratio"] {
            assert!(schema.contains(field), "{field} missing from {schema}");
        }
        assert!(schema.contains("pixels of the original photo"), "doc comments become descriptions: {schema}");
    }
}
