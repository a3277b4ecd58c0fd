//! A photo for an agent's eyes: decoded from the vault's plaintext in memory, downscaled, and re-encoded as JPEG,
//! so that nothing of the original file (EXIF: place, device, time) leaves the service.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoSize {
    /// For the case page: at most 320 px on the long side.
    Thumb,
    /// Click to see: at most 1600 px.
    Full,
}

impl PhotoSize {
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text {
            None | Some("thumb") => Some(Self::Thumb),
            Some("full") => Some(Self::Full),
            Some(_) => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Thumb => "thumb",
            Self::Full => "full",
        }
    }

    fn max_side(self) -> u32 {
        match self {
            Self::Thumb => 320,
            Self::Full => 1600,
        }
    }
}

/// The photo as a fresh JPEG of at most `size`.
pub fn render(bytes: &[u8], size: PhotoSize) -> Result<Vec<u8>, image::ImageError> {
    let decoded = image::load_from_memory(bytes)?;
    let max = size.max_side();
    let fitted = if decoded.width() > max || decoded.height() > max { decoded.thumbnail(max, max) } else { decoded };
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut out), 85).encode_image(&fitted.to_rgb8())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_is_downscaled_and_re_encoded_without_its_metadata() {
        let mut original = Vec::new();
        let big = image::RgbImage::from_pixel(2000, 1200, image::Rgb([200, 120, 40]));
        JpegEncoder::new_with_quality(Cursor::new(&mut original), 90).encode_image(&big).unwrap();
        // An APP1 (EXIF) segment right after SOI, as phones write it.
        let exif = b"Exif\0\0GPS:-34.6037,-58.3816";
        let mut with_exif = original[..2].to_vec();
        with_exif.extend_from_slice(&[0xFF, 0xE1, 0, (exif.len() + 2) as u8]);
        with_exif.extend_from_slice(exif);
        with_exif.extend_from_slice(&original[2..]);

        let thumb = render(&with_exif, PhotoSize::Thumb).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (320, 192));
        assert!(!thumb.windows(4).any(|w| w == b"Exif"), "no EXIF in what is served");
        let full = image::load_from_memory(&render(&with_exif, PhotoSize::Full).unwrap()).unwrap();
        assert_eq!(full.width(), 1600);
        assert!(render(b"not an image", PhotoSize::Thumb).is_err());
    }
}
