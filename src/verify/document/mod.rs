//! Reading identity documents locally: which document carries what ([`DocumentType`]), barcodes ([`barcode`]),
//! their public layouts ([`fields`]), machine-readable zones ([`mrz`]) and the cross-checks ([`crosscheck`]).
//!
//! | document      | country | back side | front carries   | back carries                              |
//! |---------------|---------|-----------|-----------------|-------------------------------------------|
//! | `mx_ine`      | MX      | yes       | -               | MRZ TD1 + QR codes                        |
//! | `co_cedula`   | CO      | yes       | -               | PDF417 (older yellow card) or QR (digital)|
//! | `pe_dni`      | PE      | yes       | -               | MRZ TD1 (electronic DNI)                  |
//! | `ar_dni`      | AR      | yes       | PDF417          | MRZ TD1 (newer card)                      |
//! | `cl_cedula`   | CL      | yes       | -               | MRZ TD1 + QR                              |
//! | `br_rg`       | BR      | yes       | -               | - (OCR only)                              |
//! | `br_cnh`      | BR      | yes       | -               | QR                                        |
//! | `passport`    | any     | no        | MRZ TD3         | -                                         |
//!
//! Barcodes are decoded here; an MRZ needs OCR, which a provider does: its text goes through [`mrz::parse_mrz`]
//! (see [`read_document_with_mrz_text`]).

pub mod barcode;
pub mod crosscheck;
pub mod fields;
pub mod mrz;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::verify::reason::ReasonCode;

pub use barcode::{BarcodeField, BarcodeFormat};
pub use mrz::{MrzFormat, MrzResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Mexico: INE (formerly IFE) voter card.
    MxIne,
    /// Colombia: cédula de ciudadanía (older yellow card with PDF417, or the digital cédula with a QR).
    CoCedula,
    /// Peru: DNI (the electronic DNI has a TD1 MRZ on the back).
    PeDni,
    /// Argentina: DNI (PDF417 on the front; the newer card also has a TD1 MRZ on the back).
    ArDni,
    /// Chile: cédula de identidad (RUN; TD1 MRZ and a QR on the back).
    ClCedula,
    /// Brazil: RG (registro geral), read by OCR only.
    BrRg,
    /// Brazil: CNH (driving licence), QR on the back.
    BrCnh,
    /// Any passport: the photo page with a TD3 MRZ.
    Passport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Front,
    Back,
}

/// A machine-readable element printed on a document side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    MrzTd1,
    MrzTd3,
    Qr,
    Pdf417,
}

impl DocumentType {
    pub const ALL: &'static [DocumentType] = &[
        Self::MxIne,
        Self::CoCedula,
        Self::PeDni,
        Self::ArDni,
        Self::ClCedula,
        Self::BrRg,
        Self::BrCnh,
        Self::Passport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MxIne => "mx_ine",
            Self::CoCedula => "co_cedula",
            Self::PeDni => "pe_dni",
            Self::ArDni => "ar_dni",
            Self::ClCedula => "cl_cedula",
            Self::BrRg => "br_rg",
            Self::BrCnh => "br_cnh",
            Self::Passport => "passport",
        }
    }

    /// ISO 3166-1 alpha-2 country of issue; `None` for a passport (any country).
    pub fn country(self) -> Option<&'static str> {
        match self {
            Self::MxIne => Some("MX"),
            Self::CoCedula => Some("CO"),
            Self::PeDni => Some("PE"),
            Self::ArDni => Some("AR"),
            Self::ClCedula => Some("CL"),
            Self::BrRg | Self::BrCnh => Some("BR"),
            Self::Passport => None,
        }
    }

    /// ISO 3166-1 alpha-3 code as written in an MRZ.
    pub fn mrz_country(self) -> Option<&'static str> {
        match self {
            Self::MxIne => Some("MEX"),
            Self::CoCedula => Some("COL"),
            Self::PeDni => Some("PER"),
            Self::ArDni => Some("ARG"),
            Self::ClCedula => Some("CHL"),
            Self::BrRg | Self::BrCnh => Some("BRA"),
            Self::Passport => None,
        }
    }

    /// Whether the user is asked for a photo of the back too.
    pub fn has_back(self) -> bool {
        !matches!(self, Self::Passport)
    }

    pub fn sides(self) -> &'static [Side] {
        if self.has_back() { &[Side::Front, Side::Back] } else { &[Side::Front] }
    }

    /// What a side may carry. Where card generations differ (Colombia's yellow card vs the digital cédula,
    /// Argentina's older card without MRZ), every possibility is listed: none of them is required alone.
    pub fn carriers(self, side: Side) -> &'static [Carrier] {
        use Carrier::*;
        match (self, side) {
            (Self::MxIne, Side::Back) => &[MrzTd1, Qr],
            (Self::CoCedula, Side::Back) => &[Pdf417, Qr],
            (Self::PeDni, Side::Back) => &[MrzTd1],
            (Self::ArDni, Side::Front) => &[Pdf417],
            (Self::ArDni, Side::Back) => &[MrzTd1],
            (Self::ClCedula, Side::Back) => &[MrzTd1, Qr],
            (Self::BrCnh, Side::Back) => &[Qr],
            (Self::Passport, Side::Front) => &[MrzTd3],
            _ => &[],
        }
    }

    /// The barcode formats worth looking for on a side.
    pub fn barcode_formats(self, side: Side) -> Vec<BarcodeFormat> {
        self.carriers(side)
            .iter()
            .filter_map(|c| match c {
                Carrier::Qr => Some(BarcodeFormat::QrCode),
                Carrier::Pdf417 => Some(BarcodeFormat::Pdf417),
                _ => None,
            })
            .collect()
    }

    /// The MRZ format expected on a side, if any.
    pub fn mrz_format(self, side: Side) -> Option<MrzFormat> {
        self.carriers(side).iter().find_map(|c| match c {
            Carrier::MrzTd1 => Some(MrzFormat::Td1),
            Carrier::MrzTd3 => Some(MrzFormat::Td3),
            _ => None,
        })
    }

    /// Whether the document number is all digits, so leading zeros carry no meaning.
    pub fn numeric_number(self) -> bool {
        matches!(self, Self::CoCedula | Self::PeDni | Self::ArDni | Self::BrRg | Self::BrCnh)
    }
}

impl std::fmt::Display for DocumentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DocumentType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.iter().copied().find(|d| d.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|d| d.as_str()).collect();
            format!("unknown document type `{s}`; known types: {}", known.join(", "))
        })
    }
}

/// What was read from one photo of one side, locally.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentReading {
    /// Every barcode decoded, with its parsed fields.
    pub barcodes: Vec<BarcodeField>,
    /// The MRZ, when OCR text was given (see [`read_document_with_mrz_text`]).
    pub mrz: Option<MrzResult>,
    /// The fields of all sources merged (barcodes first, then MRZ): `document_number`, `surname`, `given_names`,
    /// `sex`, `birth_date` (ISO `YYYY-MM-DD` where known), `expiry_date`, ...
    pub fields: BTreeMap<String, String>,
    /// Why this side cannot be accepted as it is (empty when nothing is wrong).
    pub reasons: Vec<ReasonCode>,
    /// What this side was expected to carry, to explain an empty reading.
    pub expected: Vec<Carrier>,
}

impl DocumentReading {
    fn add_reason(&mut self, reason: ReasonCode) {
        if !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }
}

/// Decodes the barcodes a side carries and parses them. Pure: no I/O, no clock. Run it on the blocking pool
/// (decoding a large photo takes tens of milliseconds).
///
/// Reasons: `document_unreadable` when the side should carry a barcode and none could be decoded;
/// `wrong_document_type` when a barcode decoded is recognisably another document's.
pub fn read_document(luma: &image::GrayImage, doc: DocumentType, side: Side) -> DocumentReading {
    read_document_with_mrz_text(luma, doc, side, None)
}

/// [`read_document`], plus the MRZ text a provider's OCR (or the user) supplied for this side. A wrong MRZ check
/// digit gives `mrz_check_digit`; an MRZ document number that disagrees with a barcode's gives `data_mismatch`.
pub fn read_document_with_mrz_text(
    luma: &image::GrayImage,
    doc: DocumentType,
    side: Side,
    mrz_text: Option<&str>,
) -> DocumentReading {
    let mut reading = DocumentReading { expected: doc.carriers(side).to_vec(), ..Default::default() };
    let formats = doc.barcode_formats(side);
    if !formats.is_empty() {
        let found = barcode::decode_all(luma, &formats);
        for (format, text) in found {
            let parsed = fields::parse(doc, format, &text);
            if let Some(other) = parsed.identified_as
                && other != doc
            {
                reading.add_reason(ReasonCode::WrongDocumentType);
            }
            for (k, v) in &parsed.fields {
                reading.fields.entry(k.clone()).or_insert_with(|| v.clone());
            }
            reading.barcodes.push(BarcodeField {
                format,
                text,
                layout: parsed.layout.map(str::to_owned),
                fields: parsed.fields,
            });
        }
        // A side that may carry only an MRZ besides its barcodes is judged by the MRZ when it was given.
        if reading.barcodes.is_empty() && (mrz_text.is_none() || doc.mrz_format(side).is_none()) {
            reading.add_reason(ReasonCode::DocumentUnreadable);
        }
    }
    if let Some(text) = mrz_text {
        apply_mrz(&mut reading, doc, side, text);
    }
    reading
}

fn apply_mrz(reading: &mut DocumentReading, doc: DocumentType, side: Side, text: &str) {
    match mrz::parse_mrz(text) {
        Ok(mrz) => {
            if !mrz.is_valid() {
                reading.add_reason(ReasonCode::MrzCheckDigit);
            }
            if let Some(expected) = doc.mrz_format(side)
                && expected != mrz.format
            {
                reading.add_reason(ReasonCode::WrongDocumentType);
            }
            if let (Some(country), false) = (doc.mrz_country(), mrz.issuing_country.is_empty())
                && mrz.issuing_country != country
            {
                reading.add_reason(ReasonCode::WrongDocumentType);
            }
            // The barcode's number may be the MRZ's document number or sit in its optional data (Chile's RUN,
            // with its verifier digit, is in the TD1 optional data while the document number is the serial).
            let ours: Vec<&String> = ["document_number", "run"].iter().filter_map(|k| reading.fields.get(*k)).collect();
            let theirs = [&mrz.document_number, &mrz.optional_data, &mrz.optional_data_2];
            if !ours.is_empty() && !ours.iter().any(|a| theirs.iter().any(|b| crosscheck::numbers_agree(a, b, doc))) {
                reading.add_reason(ReasonCode::DataMismatch);
            }
            for (k, v) in [
                ("document_number", &mrz.document_number),
                ("surname", &mrz.surname),
                ("given_names", &mrz.given_names),
                ("sex", &mrz.sex),
                ("nationality", &mrz.nationality),
                ("mrz_birth_date", &mrz.birth_date),
                ("mrz_expiry_date", &mrz.expiry_date),
            ] {
                if !v.is_empty() {
                    reading.fields.entry(k.to_owned()).or_insert_with(|| v.clone());
                }
            }
            reading.mrz = Some(mrz);
        }
        Err(e) => reading.add_reason(e.reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_table_holds() {
        for doc in DocumentType::ALL {
            let json = serde_json::to_string(doc).unwrap();
            assert_eq!(json, format!("\"{}\"", doc.as_str()));
            assert_eq!(doc.as_str().parse::<DocumentType>().unwrap(), *doc);
            assert_eq!(doc.has_back(), doc.sides().len() == 2);
            // Nothing is expected on a side the document does not have.
            if !doc.has_back() {
                assert!(doc.carriers(Side::Back).is_empty());
            }
        }
        assert!("dni".parse::<DocumentType>().unwrap_err().contains("ar_dni"));
        assert_eq!(DocumentType::Passport.mrz_format(Side::Front), Some(MrzFormat::Td3));
        assert_eq!(DocumentType::MxIne.mrz_format(Side::Back), Some(MrzFormat::Td1));
        assert_eq!(DocumentType::MxIne.barcode_formats(Side::Back), vec![BarcodeFormat::QrCode]);
        assert_eq!(DocumentType::ArDni.barcode_formats(Side::Front), vec![BarcodeFormat::Pdf417]);
        assert_eq!(
            DocumentType::CoCedula.barcode_formats(Side::Back),
            vec![BarcodeFormat::Pdf417, BarcodeFormat::QrCode]
        );
        assert_eq!(DocumentType::PeDni.country(), Some("PE"));
        assert_eq!(DocumentType::Passport.country(), None);
    }
}
