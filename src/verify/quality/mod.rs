//! Local photo quality checks: is this photo good enough to send on, or should the user take it again?
//!
//! [`check`] decodes with limits ([`decode`]), measures exposure, blur and glare ([`measure`]), looks for the
//! document ([`document`]) or the faces ([`face`]), and turns the measurements into reason codes with
//! [`Thresholds`]. It never panics and never allocates without bound, whatever the bytes.
//!
//! `check` is synchronous and CPU-bound (a 12 MP JPEG takes tens of milliseconds): async callers must run it on
//! the blocking pool, `tokio::task::spawn_blocking(move || check(&bytes, kind, &thresholds))`.

pub mod decode;
pub mod document;
pub mod face;
pub mod measure;
pub mod thresholds;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::verify::reason::ReasonCode;
pub use document::DocumentMeasurements;
use measure::{Region, laplacian_variance, mean_luma, saturated_ratio};
pub use thresholds::{DocumentThresholds, SelfieThresholds, Thresholds};

/// What the photo should show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Document,
    Selfie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Good enough to send on.
    Ok,
    /// Ask the user for a new photo; `reasons` says why.
    Retake,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityReport {
    pub verdict: Verdict,
    /// Why a retake, most important first (exposure, then presence and framing, then sharpness and glare).
    pub reasons: Vec<ReasonCode>,
    pub measurements: Measurements,
}

/// Everything measured, for logs, tuning and the `check-image` command. Sizes are in pixels of the original
/// photo (upright), ratios 0 to 1, luma 0 to 255.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measurements {
    /// `jpeg`, `png` or `webp`; absent when unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    pub width: u32,
    pub height: u32,
    /// Working pixels per original pixel (0.25: measured on a 1000 px grayscale of a 4000 px photo).
    pub decoded_scale: f64,
    /// Variance of the Laplacian at 1000 px long side, inside the document (or face) when found, else the
    /// whole photo.
    pub blur_variance: f64,
    /// Share of saturated pixels (luma >= 245) inside the document when found, else the whole photo.
    pub glare_ratio: f64,
    /// Mean luma of the whole photo (document) or of the face (selfie; the whole photo when no face).
    pub mean_luma: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentMeasurements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces: Option<FaceMeasurements>,
    /// Why the file could not be read (with `unreadable_file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub timings_ms: Timings,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FaceMeasurements {
    pub count: usize,
    /// Side of the largest face box over the shorter side of the photo, 0 to 1.
    pub largest_ratio: f64,
    /// The largest face, `[x, y, width, height]` in original pixels.
    pub largest_bbox: Option<[i64; 4]>,
    /// Whether the largest face touches the frame edge.
    pub cropped: bool,
    /// Detector scores, largest face first.
    pub scores: Vec<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timings {
    pub decode: f64,
    pub measure: f64,
    pub total: f64,
}

/// Checks one photo. Never panics: any failure to read the bytes is `unreadable_file`.
///
/// CPU-bound and synchronous: from async code call it inside `tokio::task::spawn_blocking`.
pub fn check(bytes: &[u8], kind: Kind, thresholds: &Thresholds) -> QualityReport {
    let start = Instant::now();
    let mut report = catch_unwind(AssertUnwindSafe(|| run(bytes, kind, thresholds, start))).unwrap_or_else(|_| {
        unreadable(Measurements { error: Some("internal error while reading the photo".into()), ..Default::default() })
    });
    report.measurements.timings_ms.total = ms(start);
    report
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

fn unreadable(measurements: Measurements) -> QualityReport {
    QualityReport { verdict: Verdict::Retake, reasons: vec![ReasonCode::UnreadableFile], measurements }
}

fn run(bytes: &[u8], kind: Kind, thresholds: &Thresholds, start: Instant) -> QualityReport {
    let decoded = match decode::decode(bytes) {
        Ok(d) => d,
        Err(e) => {
            let mut m = Measurements { error: Some(e.to_string()), ..Default::default() };
            m.timings_ms.decode = ms(start);
            return unreadable(m);
        }
    };
    let mut m = Measurements {
        format: Some(decoded.format.as_str()),
        width: decoded.width,
        height: decoded.height,
        decoded_scale: decoded.scale,
        ..Default::default()
    };
    m.timings_ms.decode = ms(start);
    let measure_start = Instant::now();
    let reasons = match kind {
        Kind::Document => document_reasons(&decoded, &thresholds.document, &mut m),
        Kind::Selfie => selfie_reasons(&decoded, &thresholds.selfie, &mut m),
    };
    m.timings_ms.measure = ms(measure_start);
    let verdict = if reasons.is_empty() { Verdict::Ok } else { Verdict::Retake };
    QualityReport { verdict, reasons, measurements: m }
}

fn document_reasons(d: &decode::Decoded, t: &DocumentThresholds, m: &mut Measurements) -> Vec<ReasonCode> {
    let gray = &d.gray;
    let whole = Region::whole(gray);
    m.mean_luma = mean_luma(gray, &whole);
    let found = document::find(gray, d.scale, t);
    // Inside the document, clear of its outline (the card's own edge is sharp even in a blurred photo).
    let region = found.rect.map(|r| Region::of_rect(gray, r.inset(0.06))).unwrap_or(whole);
    m.blur_variance = laplacian_variance(gray, &region);
    m.glare_ratio = saturated_ratio(gray, &region);
    let doc = found.measurements;

    let mut reasons = Vec::new();
    let too_dark = m.mean_luma < t.min_mean_luma;
    let overexposed = m.mean_luma > t.max_mean_luma;
    if too_dark {
        reasons.push(ReasonCode::TooDark);
    }
    if overexposed {
        reasons.push(ReasonCode::Overexposed);
    }
    if !doc.found {
        // In a photo too dark or too bright the document cannot be told apart: the exposure is the reason.
        if !too_dark && !overexposed {
            reasons.push(ReasonCode::NoDocument);
        }
    } else {
        if doc.touches_edge || doc.corners_in_frame < 4 {
            reasons.push(ReasonCode::Cropped);
        }
        if doc.long_side_px < t.min_document_px {
            reasons.push(ReasonCode::LowResolution);
        }
        if m.blur_variance < t.min_blur_variance {
            reasons.push(ReasonCode::Blurry);
        }
        if m.glare_ratio > t.max_glare_ratio {
            reasons.push(ReasonCode::Glare);
        }
    }
    m.document = Some(doc);
    reasons
}

fn selfie_reasons(d: &decode::Decoded, t: &SelfieThresholds, m: &mut Measurements) -> Vec<ReasonCode> {
    let gray = &d.gray;
    let faces = face::detect(gray, t.min_face_score);
    let (gw, gh) = (f64::from(gray.width()), f64::from(gray.height()));
    let mut fm =
        FaceMeasurements { count: faces.len(), scores: faces.iter().map(|f| f.score).collect(), ..Default::default() };
    let region = match faces.first() {
        Some(f) => {
            let back = 1.0 / d.scale;
            let side = f64::from(f.width.max(f.height));
            fm.largest_ratio = side / gw.min(gh);
            fm.largest_bbox = Some([
                (f64::from(f.x) * back).round() as i64,
                (f64::from(f.y) * back).round() as i64,
                (f64::from(f.width) * back).round() as i64,
                (f64::from(f.height) * back).round() as i64,
            ]);
            let (mx, my) = (t.edge_margin_ratio * gw, t.edge_margin_ratio * gh);
            fm.cropped = f64::from(f.x) < mx
                || f64::from(f.y) < my
                || f64::from(f.x) + f64::from(f.width) > gw - mx
                || f64::from(f.y) + f64::from(f.height) > gh - my;
            Region::of_box(gray, f.x.into(), f.y.into(), f.width.into(), f.height.into())
        }
        None => Region::whole(gray),
    };
    m.mean_luma = mean_luma(gray, &region);
    m.blur_variance = laplacian_variance(gray, &region);
    m.glare_ratio = saturated_ratio(gray, &region);

    let mut reasons = Vec::new();
    if m.mean_luma < t.min_mean_luma {
        reasons.push(ReasonCode::TooDark);
    }
    if m.mean_luma > t.max_mean_luma {
        reasons.push(ReasonCode::Overexposed);
    }
    match fm.count {
        0 => reasons.push(ReasonCode::NoFace),
        1 => {}
        _ => reasons.push(ReasonCode::MultipleFaces),
    }
    if fm.count > 0 {
        if fm.cropped {
            reasons.push(ReasonCode::FaceCropped);
        }
        if fm.largest_ratio < t.min_face_ratio {
            reasons.push(ReasonCode::FaceTooSmall);
        }
        if m.blur_variance < t.min_blur_variance {
            reasons.push(ReasonCode::Blurry);
        }
    }
    m.faces = Some(fm);
    reasons
}
