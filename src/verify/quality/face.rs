//! Faces, with the SeetaFace frontal detector of the `rustface` crate (vendored in `vendor/rustface` with faster
//! kernels that give the same detections). Its model (BSD 2-Clause, from the published crate) is compiled into
//! the binary: nothing is fetched at run time.

use std::cell::RefCell;
use std::sync::OnceLock;

use image::GrayImage;
use rustface::{Detector, ImageData};
use serde::Serialize;

use super::measure::resize_area;

/// The model file as shipped in the `rustface` crate (`model/seeta_fd_frontal_v1.0.bin`).
static MODEL: &[u8] = include_bytes!("../../../assets/seeta_fd_frontal_v1.0.bin");

/// The detector's window, in pixels of the image it searches. `rustface` 0.1.7 ignores `set_min_face_size`: its
/// pyramid always starts at the image's own size, so the image size alone sets the smallest face found (a box of
/// about 30 px once refined, three quarters of the window).
const WINDOW: u32 = 40;
/// First pass: short side 288 px (long side at most 480). Faces down to about 10.5% of the short side are found
/// there, below the 12% a selfie's face needs by default; also searching smaller ones (short side 360) took 1.45
/// times as long on a 4:3 photo.
const FIRST_SHORT_SIDE: u32 = 288;
const FIRST_LONG_SIDE: u32 = 480;
/// When the first pass finds nothing: the wide search, faces down to about 6% of the long side, so that a small
/// face is reported too small rather than missing.
const SECOND_LONG_SIDE: u32 = 640;

/// The model parsed once per process; each thread's detector gets a copy.
static PARSED: OnceLock<rustface::Model> = OnceLock::new();

thread_local! {
    // The detector keeps scratch buffers and is not `Sync`: one per thread (the blocking pool reuses threads).
    static DETECTOR: RefCell<Option<Box<dyn Detector>>> = const { RefCell::new(None) };
}

/// A face, in the coordinates of the image it was searched on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Face {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub score: f64,
}

/// Faces found on the working grayscale, largest first, in working-image coordinates.
///
/// A second face is counted when the first pass finds it, i.e. when it is at least about 10.5% of the short
/// side; a smaller one, a distant bystander, is not looked for once a face is found.
pub fn detect(work: &GrayImage, min_score: f64) -> Vec<Face> {
    let (short, long) = (f64::from(work.width().min(work.height())), f64::from(work.width().max(work.height())));
    let first = (f64::from(FIRST_SHORT_SIDE) / short).min(f64::from(FIRST_LONG_SIDE) / long).min(1.0);
    let faces = detect_at(work, min_score, first);
    let second = (f64::from(SECOND_LONG_SIDE) / long).min(1.0);
    if faces.is_empty() && second > first {
        return detect_at(work, min_score, second);
    }
    faces
}

/// Faces found with the search scaled so the long side is at most `long_side`: a portrait printed on an ID card
/// is a few percent of the photo, far smaller than a selfie's face, and needs a finer search (slower: for the
/// face-match provider only, not for the quality checks).
pub fn detect_small(work: &GrayImage, min_score: f64, long_side: u32) -> Vec<Face> {
    let k = (f64::from(long_side) / f64::from(work.width().max(work.height()))).min(1.0);
    detect_at(work, min_score, k)
}

/// Faces found on `work` scaled by `k` (at most 1).
fn detect_at(work: &GrayImage, min_score: f64, k: f64) -> Vec<Face> {
    let (w, h) = (((f64::from(work.width()) * k).round() as u32), ((f64::from(work.height()) * k).round() as u32));
    if w.min(h) < WINDOW {
        return Vec::new();
    }
    let small = resize_area(work, w, h);
    let faces = DETECTOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let detector = match slot.as_mut() {
            Some(d) => d,
            None => {
                let model = PARSED.get_or_init(|| rustface::read_model(MODEL).expect("the compiled-in model is valid"));
                let mut d = rustface::create_detector_with_model(model.clone());
                // No effect in this version (see WINDOW); the size the pyramid should start at if that changes.
                d.set_min_face_size(WINDOW);
                d.set_pyramid_scale_factor(0.8);
                d.set_slide_window_step(4, 4);
                slot.insert(d)
            }
        };
        detector.set_score_thresh(min_score.max(0.01));
        detector.detect(&ImageData::new(small.as_raw(), w, h))
    });
    let back = 1.0 / k;
    let mut out: Vec<Face> = faces
        .iter()
        .map(|f| {
            let b = f.bbox();
            Face {
                x: (f64::from(b.x()) * back).round() as i32,
                y: (f64::from(b.y()) * back).round() as i32,
                width: (f64::from(b.width()) * back).round() as u32,
                height: (f64::from(b.height()) * back).round() as u32,
                score: f.score(),
            }
        })
        .collect();
    out.sort_by_key(|f| std::cmp::Reverse(u64::from(f.width) * u64::from(f.height)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_model_loads_and_a_flat_image_has_no_face() {
        let flat = GrayImage::from_pixel(300, 200, image::Luma([128]));
        assert!(detect(&flat, 2.0).is_empty());
        let tiny = GrayImage::from_pixel(10, 10, image::Luma([128]));
        assert!(detect(&tiny, 2.0).is_empty());
    }
}
