//! Decoding with limits: sniff the type from the bytes, read the dimensions from the header before decoding, cap
//! the memory, decode straight to grayscale (JPEG at a reduced scale in the DCT domain), honour EXIF orientation,
//! and bring the result to the fixed working size on which every measurement is taken.

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
/// Memory cap for one decode, in bytes (decoder buffers included).
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

/// JPEG: header first, then a decode at 1/2, 1/4 or 1/8 scale in the DCT domain (the inverse DCT computes only
/// the low frequencies), then luma.
fn decode_jpeg(bytes: &[u8], long_side: u32) -> Result<(GrayImage, u32, u32, Orientation), DecodeError> {
    use jpeg_decoder::{Decoder, PixelFormat};
    let corrupt = |e: jpeg_decoder::Error| DecodeError::Corrupt(e.to_string());
    let mut decoder = Decoder::new(Cursor::new(bytes));
    decoder.read_info().map_err(corrupt)?;
    let info = decoder.info().ok_or_else(|| DecodeError::Corrupt("no frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_size(width.into(), height.into())?;
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    // The smallest DCT scale whose output still covers the working size.
    let long = width.max(height);
    let ratio = f64::from(long_side) / f64::from(long);
    let req = |side: u32| ((f64::from(side) * ratio).ceil() as u32).clamp(1, u32::from(u16::MAX)) as u16;
    decoder.scale(req(width), req(height)).map_err(corrupt)?;
    decoder.set_max_decoding_buffer_size(MAX_ALLOC as usize);
    let pixels = decoder.decode().map_err(corrupt)?;
    let out = decoder.info().ok_or_else(|| DecodeError::Corrupt("no frame header".into()))?;
    let (w, h) = (u32::from(out.width), u32::from(out.height));
    let n = (w as usize) * (h as usize);
    let luma: Vec<u8> = match out.pixel_format {
        PixelFormat::L8 => pixels,
        PixelFormat::L16 => pixels.chunks_exact(2).map(|p| p[0]).collect(),
        // ITU-R BT.601 luma, as `image` computes it. (Asking the decoder for the raw Y plane would save this
        // step, but its no-conversion path is broken in jpeg-decoder 0.3.2.)
        PixelFormat::RGB24 => pixels
            .chunks_exact(3)
            .map(|p| ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8)
            .collect(),
        // CMYK (rare in phone photos): an approximate luma, good enough for the quality metrics.
        PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .map(|p| {
                let k = 255 - u16::from(p[3]);
                let avg = (3 * 255 - u16::from(p[0]) - u16::from(p[1]) - u16::from(p[2])) / 3;
                (avg * k / 255) as u8
            })
            .collect(),
    };
    if luma.len() < n {
        return Err(DecodeError::Corrupt("short pixel data".into()));
    }
    let gray = GrayImage::from_raw(w, h, luma[..n].to_vec()).ok_or(DecodeError::Empty)?;
    Ok((gray, width, height, orientation))
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

    #[test]
    fn size_limits() {
        assert!(check_size(4000, 3000).is_ok());
        assert!(matches!(check_size(0, 10), Err(DecodeError::Empty)));
        assert!(matches!(check_size(30_000, 30_000), Err(DecodeError::TooLarge { .. })));
        assert!(matches!(check_size(12_000, 9_000), Err(DecodeError::TooLarge { .. })));
    }
}
