//! QR and PDF417 decoding from a grayscale photo, with `rxing` fed luma bytes (no image format code of its own).
//! Also the encoder used by tests, demos and the provider simulator to draw realistic barcodes.

use std::collections::{BTreeMap, HashSet};

use image::{GrayImage, Luma};
use rxing::multi::MultipleBarcodeReader;
use rxing::multi::qrcode::QRCodeMultiReader;
use rxing::pdf417::PDF417Reader;
use rxing::{BinaryBitmap, DecodeHints, EncodeHints, Luma8LuminanceSource, Writer};
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarcodeFormat {
    QrCode,
    Pdf417,
}

impl BarcodeFormat {
    fn to_rxing(self) -> rxing::BarcodeFormat {
        match self {
            Self::QrCode => rxing::BarcodeFormat::QR_CODE,
            Self::Pdf417 => rxing::BarcodeFormat::PDF_417,
        }
    }
}

/// One decoded barcode: its text, the public layout recognised (if any) and the fields parsed from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BarcodeField {
    pub format: BarcodeFormat,
    /// The decoded text, as is (it may hold NUL separators: Colombia's cédula does).
    pub text: String,
    /// The layout recognised, e.g. `ar_dni_2012`, `co_cedula_pdf417`, `cl_cedula_qr`; `None`: raw text only.
    pub layout: Option<String>,
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Error)]
pub enum BarcodeError {
    #[error("cannot encode this text as a barcode: {0}")]
    Encode(String),
}

fn hints() -> DecodeHints {
    DecodeHints { TryHarder: Some(true), ..Default::default() }
}

/// Every barcode of the given formats found in the image, as `(format, text)`, without duplicates. Nothing found
/// (or an empty image) is an empty list, never an error.
pub fn decode_all(luma: &GrayImage, formats: &[BarcodeFormat]) -> Vec<(BarcodeFormat, String)> {
    let (width, height) = luma.dimensions();
    if width == 0 || height == 0 {
        return vec![];
    }
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for &format in formats {
        let mut texts: Vec<String> = Vec::new();
        let Ok(source) = Luma8LuminanceSource::new(luma.as_raw().clone(), width, height) else { continue };
        let mut bitmap = BinaryBitmap::new(rxing::common::HybridBinarizer::new(source));
        let multi = match format {
            BarcodeFormat::QrCode => QRCodeMultiReader::default().decode_multiple_with_hints(&mut bitmap, &hints()),
            BarcodeFormat::Pdf417 => PDF417Reader.decode_multiple_with_hints(&mut bitmap, &hints()),
        };
        if let Ok(results) = multi {
            texts.extend(results.iter().map(|r| r.getText().to_owned()));
        }
        if texts.is_empty() {
            // The single-code reader tries harder (rotations, the other binarizer) than the multi readers.
            let mut h = hints();
            h.PossibleFormats = Some(HashSet::from([format.to_rxing()]));
            if let Ok(result) =
                rxing::helpers::detect_in_luma_slice_with_hints(luma.as_raw(), width, height, None, &mut h)
            {
                texts.push(result.getText().to_owned());
            }
        }
        for text in texts {
            if seen.insert((format, text.clone())) {
                found.push((format, text));
            }
        }
    }
    found
}

/// Draws `text` as a barcode, `module_px` pixels per module, with a quiet zone of white around it.
pub fn encode(format: BarcodeFormat, text: &str, module_px: u32) -> Result<GrayImage, BarcodeError> {
    let writer = rxing::MultiFormatWriter;
    let mut encode_hints = EncodeHints { Margin: Some("0".to_owned()), ..Default::default() };
    if !text.is_ascii() {
        encode_hints.CharacterSet = Some("ISO-8859-1".to_owned());
    }
    let matrix = writer
        .encode_with_hints(text, &format.to_rxing(), 0, 0, &encode_hints)
        .map_err(|e| BarcodeError::Encode(e.to_string()))?;
    let module_px = module_px.max(1);
    let quiet = 4 * module_px;
    let (w, h) = (matrix.width(), matrix.height());
    // PDF417 modules are drawn 3 times taller than wide, as printers do.
    let row_px = if format == BarcodeFormat::Pdf417 { module_px * 3 } else { module_px };
    let mut img = GrayImage::from_pixel(w * module_px + 2 * quiet, h * row_px + 2 * quiet, Luma([255]));
    for y in 0..h {
        for x in 0..w {
            if matrix.get(x, y) {
                for dy in 0..row_px {
                    for dx in 0..module_px {
                        img.put_pixel(quiet + x * module_px + dx, quiet + y * row_px + dy, Luma([0]));
                    }
                }
            }
        }
    }
    Ok(img)
}
