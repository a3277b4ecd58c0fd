//! Decoding with limits: sniff the type from the bytes, read the dimensions from the header before decoding, cap
//! the memory, decode straight to grayscale (a JPEG's luma plane only), honour EXIF orientation, and bring the
//! result to the fixed working size on which every measurement is taken.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Longest side of the working grayscale. The blur metric depends strongly on resolution, so every photo is
/// measured at this size (smaller photos are measured as they are, and are flagged `low_resolution` anyway).
pub const WORK_LONG_SIDE: u32 = 1000;
/// Largest photo accepted, in pixels (width x height). Phones take 12 to 50 megapixels; past that is refused
/// before anything is decoded.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Largest side accepted, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Memory cap for one PNG or WebP decode, in bytes (decoder buffers included). A JPEG decode is bounded by
/// [`MAX_PIXELS`]: one byte per pixel of luma plus the decoder's per-row buffers.
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// The accepted photo formats, sniffed from the first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    WebP,
}

impl Format {
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Format::WebP)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::WebP => "webp",
        }
    }
}

/// A decoded photo, at working size.
#[derive(Debug)]
pub struct Decoded {
    pub format: Format,
    /// The working grayscale, upright (EXIF orientation applied), long side at most [`WORK_LONG_SIDE`].
    pub gray: GrayImage,
    /// Size of the original photo, upright.
    pub width: u32,
    pub height: u32,
    /// Working pixels per original pixel (0.25 for a 4000 px photo).
    pub scale: f64,
}

/// Why a file cannot be read. Every variant becomes `unreadable_file`; the text goes to the measurements.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a JPEG, PNG or WebP photo")]
    UnknownFormat,
    #[error("{width}x{height} pixels is more than this service accepts")]
    TooLarge { width: u64, height: u64 },
    #[error("empty image")]
    Empty,
    #[error("cannot decode: {0}")]
    Corrupt(String),
}

pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_to(bytes, WORK_LONG_SIDE)
}

/// Like [`decode`], to a grayscale whose longer side is at most `long_side` (reading barcodes wants more pixels
/// than the quality metrics).
pub fn decode_to(bytes: &[u8], long_side: u32) -> Result<Decoded, DecodeError> {
    let format = Format::sniff(bytes).ok_or(DecodeError::UnknownFormat)?;
    let (gray, width, height, orientation) = match format {
        Format::Jpeg => decode_jpeg(bytes, long_side)?,
        Format::Png => decode_with_image(bytes, ImageFormat::Png)?,
        Format::WebP => decode_with_image(bytes, ImageFormat::WebP)?,
    };
    let gray = to_work_size(gray, long_side);
    let gray = orient(gray, orientation);
    let (width, height) = match orientation {
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH => {
            (height, width)
        }
        _ => (width, height),
    };
    let scale = f64::from(gray.width().max(gray.height())) / f64::from(width.max(height));
    Ok(Decoded { format, gray, width, height, scale })
}

fn check_size(width: u64, height: u64) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::Empty);
    }
    if width > u64::from(MAX_SIDE) || height > u64::from(MAX_SIDE) || width * height > MAX_PIXELS {
        return Err(DecodeError::TooLarge { width, height });
    }
    Ok(())
}

/// JPEG. Baseline photos (what phones and WhatsApp send) go through `jpeg-luma`, which decodes only the luma
/// component and goes from each block's DCT coefficients straight to the means of its 4x4 (or 8x8) cells: the
/// box average of a full decode at a fraction of the work (12 MP phone photo: see docs/benchmarks.md). Anything
/// it does not read (progressive, CMYK, a photo too small to scale down, or damage it reports) gets the full
/// decoder, which has the last word on what is unreadable.
fn decode_jpeg(bytes: &[u8], long_side: u32) -> Result<(GrayImage, u32, u32, Orientation), DecodeError> {
    match jpeg_luma::Decoder::new(bytes) {
        Ok(decoder) => {
            let (w, h) = (decoder.width(), decoder.height());
            check_size(w.into(), h.into())?;
            let k = w.max(h) / long_side.max(1);
            let scale = match k {
                8.. => Some(jpeg_luma::Scale::Eighth),
                4..=7 => Some(jpeg_luma::Scale::Quarter),
                _ => None,
            };
            if let Some(scale) = scale {
                match decoder.decode(scale) {
                    Ok(luma) => {
                        let orientation =
                            decoder.exif().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
                        let gray =
                            GrayImage::from_raw(luma.width, luma.height, luma.pixels).ok_or(DecodeError::Empty)?;
                        return Ok((box_shrink(gray, long_side), w, h, orientation));
                    }
                    Err(e) => tracing::debug!(error = %e, "scaled JPEG decode failed; trying the full decoder"),
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "JPEG not read by the scaled decoder; using the full decoder"),
    }
    decode_jpeg_full(bytes, long_side)
}

/// JPEG with `zune-jpeg`: header first (size checked before anything is decoded), then only the luma plane, in
/// strict mode (a truncated or corrupt file is an error, not a grey-filled picture), then k x k box averages down
/// to about the working size.
fn decode_jpeg_full(bytes: &[u8], long_side: u32) -> Result<(GrayImage, u32, u32, Orientation), DecodeError> {
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let corrupt = |e: zune_jpeg::errors::DecodeErrors| DecodeError::Corrupt(e.to_string());
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::Luma)
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize)
        .set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(Cursor::new(bytes), options);
    decoder.decode_headers().map_err(corrupt)?;
    let (w, h) = decoder.dimensions().ok_or(DecodeError::Empty)?;
    check_size(w as u64, h as u64)?;
    let orientation = decoder.exif().and_then(|e| Orientation::from_exif_chunk(e)).unwrap_or(Orientation::NoTransforms);
    let pixels = decoder.decode().map_err(corrupt)?;
    if pixels.len() != w * h {
        return Err(DecodeError::Corrupt("short pixel data".into()));
    }
    let gray = GrayImage::from_raw(w as u32, h as u32, pixels).ok_or(DecodeError::Empty)?;
    Ok((box_shrink(gray, long_side), w as u32, h as u32, orientation))
}

/// Averages k x k boxes, k the largest integer keeping the long side at or above the working size.
fn box_shrink(gray: GrayImage, long_side: u32) -> GrayImage {
    let long = gray.width().max(gray.height());
    let k = (long / long_side.max(1)).max(1) as usize;
    if k == 1 {
        return gray;
    }
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let (ow, oh) = (w / k, h / k);
    let src = gray.as_raw();
    let mut out = vec![0u8; ow * oh];
    let mut acc = vec![0u32; ow];
    let area = (k * k) as u32;
    for oy in 0..oh {
        acc.iter_mut().for_each(|a| *a = 0);
        for y in oy * k..oy * k + k {
            let row = &src[y * w..y * w + ow * k];
            for (a, chunk) in acc.iter_mut().zip(row.chunks_exact(k)) {
                *a += chunk.iter().map(|&p| u32::from(p)).sum::<u32>();
            }
        }
        for (o, &a) in out[oy * ow..(oy + 1) * ow].iter_mut().zip(&acc) {
            *o = ((a + area / 2) / area) as u8;
        }
    }
    GrayImage::from_raw(ow as u32, oh as u32, out).expect("buffer of the right size")
}

/// PNG and WebP through `image`, with its limits: the dimensions are checked when the header is read, the
/// allocation cap during the decode.
fn decode_with_image(bytes: &[u8], format: ImageFormat) -> Result<(GrayImage, u32, u32, Orientation), DecodeError> {
    let corrupt = |e: image::ImageError| DecodeError::Corrupt(e.to_string());
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    // The header alone first, so that an oversized photo is refused with its size and before any allocation.
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.no_limits();
    let (width, height) = header.into_dimensions().map_err(corrupt)?;
    check_size(width.into(), height.into())?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    Ok((image.into_luma8(), width, height, orientation))
}

/// Scales down to `long_side` by averaging boxes of pixels (never up).
fn to_work_size(gray: GrayImage, long_side: u32) -> GrayImage {
    let long = gray.width().max(gray.height());
    if long <= long_side {
        return gray;
    }
    let ratio = f64::from(long_side) / f64::from(long);
    let w = ((f64::from(gray.width()) * ratio).round() as u32).max(1);
    let h = ((f64::from(gray.height()) * ratio).round() as u32).max(1);
    crate::verify::quality::measure::resize_area(&gray, w, h)
}

fn orient(gray: GrayImage, orientation: Orientation) -> GrayImage {
    if orientation == Orientation::NoTransforms {
        return gray;
    }
    let mut image = DynamicImage::ImageLuma8(gray);
    image.apply_orientation(orientation);
    image.into_luma8()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_from_bytes_not_names() {
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(Format::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(Format::WebP));
        assert_eq!(Format::sniff(b"%PDF-1.7\n"), None);
        assert_eq!(Format::sniff(b"\0\0\0\x18ftypheic"), None);
        assert_eq!(Format::sniff(b""), None);
        assert_eq!(Format::sniff(b"RIFF"), None);
    }

    /// A 4000 px wide phone-like JPEG, for the reduced-scale path (1/4 scale from 4000 px).
    fn wide_photo() -> Vec<u8> {
        use crate::demo::photos::{Scene, jpeg, render};
        jpeg(&render(&Scene::phone().sized(4000, 600)), 90)
    }

    #[test]
    fn the_reduced_scale_decode_matches_the_full_decode() {
        let bytes = wide_photo();
        let fast = decode(&bytes).unwrap();
        let (full, w, h, _) = decode_jpeg_full(&bytes, WORK_LONG_SIDE).unwrap();
        assert_eq!((fast.width, fast.height), (w, h));
        assert_eq!(fast.gray.dimensions(), full.dimensions());
        let diffs: Vec<u8> = fast.gray.as_raw().iter().zip(full.as_raw()).map(|(a, b)| a.abs_diff(*b)).collect();
        let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
        assert!(mean < 0.3, "mean difference {mean}");
        assert!(diffs.iter().all(|&d| d <= 3), "largest difference {:?}", diffs.iter().max());
    }

    #[test]
    fn the_reduced_scale_decode_honours_exif_orientation() {
        let bytes = crate::demo::photos::with_exif_orientation(&wide_photo(), 6);
        let decoded = decode(&bytes).unwrap();
        assert_eq!((decoded.width, decoded.height), (600, 4000));
        assert_eq!(decoded.gray.dimensions(), (150, 1000));
    }

    #[test]
    fn size_limits() {
        assert!(check_size(4000, 3000).is_ok());
        assert!(matches!(check_size(0, 10), Err(DecodeError::Empty)));
        assert!(matches!(check_size(30_000, 30_000), Err(DecodeError::TooLarge { .. })));
        assert!(matches!(check_size(12_000, 9_000), Err(DecodeError::TooLarge { .. })));
    }
}
