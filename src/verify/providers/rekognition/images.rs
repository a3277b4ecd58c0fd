//! What is sent to Rekognition: the face cropped from the document's front (found with our own face detector,
//! so the ID's small portrait, not the whole card, is compared), and any photo shrunk to fit Rekognition's 5 MB
//! limit for image bytes.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GrayImage, ImageReader};

use crate::verify::quality::decode;
use crate::verify::quality::face;

/// Rekognition's limit for images passed as bytes.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Long side the face of a document is cut from.
const CROP_LONG_SIDE: u32 = 1600;
/// Long side the document's portrait is searched at: faces down to about 2.5% of the photo's long side.
const SEARCH_LONG_SIDE: u32 = 1200;
/// The detector's default minimum score (as for selfies).
const MIN_FACE_SCORE: f64 = 2.0;
/// Margin around the detected face, as a share of its box: Rekognition wants the whole head.
const MARGIN: f64 = 0.6;

/// The portrait on the document's front as a JPEG, or `None` when our detector finds no face (the whole photo
/// is then sent, and Rekognition uses its largest face).
pub fn document_face(front: &[u8]) -> Option<Vec<u8>> {
    let decoded = decode::decode_to(front, CROP_LONG_SIDE).ok()?;
    let faces = face::detect_small(&decoded.gray, MIN_FACE_SCORE, SEARCH_LONG_SIDE);
    let f = faces.first()?;
    let (w, h) = (f64::from(decoded.gray.width()), f64::from(decoded.gray.height()));
    let grow_x = f64::from(f.width) * MARGIN;
    let grow_y = f64::from(f.height) * MARGIN;
    let x0 = (f64::from(f.x) - grow_x).clamp(0.0, w - 1.0);
    let y0 = (f64::from(f.y) - grow_y).clamp(0.0, h - 1.0);
    let x1 = (f64::from(f.x) + f64::from(f.width) + grow_x).clamp(x0 + 1.0, w);
    let y1 = (f64::from(f.y) + f64::from(f.height) + grow_y).clamp(y0 + 1.0, h);
    let crop: GrayImage =
        image::imageops::crop_imm(&decoded.gray, x0 as u32, y0 as u32, (x1 - x0) as u32, (y1 - y0) as u32).to_image();
    jpeg(&DynamicImage::ImageLuma8(crop), 90)
}

/// `bytes` as they are when under `limit`, else decoded, shrunk and re-encoded as JPEG until they fit.
pub fn fit(bytes: &[u8], limit: usize) -> Option<Vec<u8>> {
    if bytes.len() <= limit {
        return Some(bytes.to_vec());
    }
    let image = ImageReader::new(Cursor::new(bytes)).with_guessed_format().ok()?.decode().ok()?;
    let mut long_side = image.width().max(image.height()).min(2400);
    while long_side >= 160 {
        let resized = image.resize(long_side, long_side, image::imageops::FilterType::Triangle);
        if let Some(out) = jpeg(&resized, 85).filter(|o| o.len() <= limit) {
            return Some(out);
        }
        long_side = long_side * 3 / 4;
    }
    None
}

fn jpeg(image: &DynamicImage, quality: u8) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let rgb = image.to_rgb8();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(&rgb).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_over_the_limit_is_shrunk_to_fit_and_one_under_it_is_kept() {
        let noisy = image::RgbImage::from_fn(1200, 900, |x, y| {
            let v = ((x * 7919 + y * 104_729) % 251) as u8;
            image::Rgb([v, v.wrapping_mul(3), v.wrapping_add(91)])
        });
        let big = jpeg(&DynamicImage::ImageRgb8(noisy), 100).unwrap();
        let limit = big.len() / 3;
        let small = fit(&big, limit).unwrap();
        assert!(small.len() <= limit, "{} > {limit}", small.len());
        assert!(image::load_from_memory(&small).is_ok());
        assert_eq!(fit(&small, limit).unwrap(), small);
    }
}
