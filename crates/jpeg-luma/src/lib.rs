//! Baseline JPEG to grayscale at 1/4 or 1/8 scale, straight from the DCT coefficients.
//!
//! A photo check measures a 12-megapixel phone photo at about 1000 pixels across. A full decode computes 12
//! million pixels (and their colour) to throw most of them away. This crate decodes only the luma component,
//! and turns each 8x8 block's coefficients directly into the means of its 4x4 cells (scale 1/4, from 25 of the
//! 64 coefficients) or of the whole block (scale 1/8, from the DC coefficient): exactly the box average of the
//! full decode, at a fraction of the work. What remains is the Huffman decoding, which the bit stream does not
//! let anyone skip.
//!
//! It reads baseline and extended sequential (8-bit, Huffman) JPEGs with one component, or three YCbCr
//! components in one interleaved scan, with any sampling factors and restart intervals: what phone cameras and
//! WhatsApp produce. Progressive, lossless, arithmetic-coded, 12-bit, CMYK, RGB and multi-scan files get
//! [`Error::Unsupported`], so that the caller can hand them to a full decoder.

mod bits;
mod header;
mod huffman;
mod reduce;
mod scan;

/// Why a file cannot be decoded here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A valid kind of JPEG this decoder does not read (use a full decoder).
    #[error("{0} is not read by the scaled decoder")]
    Unsupported(&'static str),
    #[error("corrupt JPEG: {0}")]
    Corrupt(&'static str),
    #[error("the JPEG data is cut short")]
    Truncated,
}

/// The output scale: one pixel per 4x4 or per 8x8 pixels of the photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Quarter,
    Eighth,
}

impl Scale {
    /// Photo pixels per output pixel, along each side.
    pub fn factor(self) -> u32 {
        match self {
            Scale::Quarter => 4,
            Scale::Eighth => 8,
        }
    }
}

/// An 8-bit grayscale image, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Luma {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// A JPEG whose headers have been read and found decodable here.
pub struct Decoder<'a> {
    header: header::Header<'a>,
}

impl<'a> Decoder<'a> {
    /// Reads the headers up to the first scan. Cheap: no image data is touched, so the caller can check the
    /// dimensions before [`Decoder::decode`] allocates anything.
    pub fn new(data: &'a [u8]) -> Result<Decoder<'a>, Error> {
        let header = header::parse(data)?;
        match header.components.len() {
            1 => {}
            3 => {
                let ids: Vec<u8> = header.components.iter().map(|c| c.id).collect();
                if header.adobe_transform == Some(0) || ids == b"RGB" {
                    return Err(Error::Unsupported("an RGB JPEG"));
                }
            }
            _ => return Err(Error::Unsupported("a CMYK or two-component JPEG")),
        }
        let luma = &header.components[0];
        if header.components.iter().any(|c| c.h > luma.h || c.v > luma.v) {
            return Err(Error::Unsupported("chroma sampled more finely than luma"));
        }
        if header.scan.len() != header.components.len() {
            return Err(Error::Unsupported("a JPEG with one scan per component"));
        }
        Ok(Decoder { header })
    }

    pub fn width(&self) -> u32 {
        self.header.width
    }

    pub fn height(&self) -> u32 {
        self.header.height
    }

    /// The Exif data (from its TIFF header on), for the orientation.
    pub fn exif(&self) -> Option<&'a [u8]> {
        self.header.exif
    }

    /// Decodes the luma plane at `scale`: `width / factor` by `height / factor` pixels (rounded down), each the
    /// mean of its cell of the full-size luma.
    pub fn decode(&self, scale: Scale) -> Result<Luma, Error> {
        scan::decode(&self.header, scale)
    }
}
