//! What each check is given and what counts as evidence: the capabilities a submission runs, the photos each one
//! needs (and no more: a registry check gets no photo, a document check no selfie), the document number for the
//! registry from whichever side carries it, and an MRZ a provider read, checked like a local one. Pure.

use std::collections::BTreeMap;

use crate::flow::model::Check;
use crate::verify::document::crosscheck::numbers_agree;
use crate::verify::document::mrz::parse_mrz;
use crate::verify::document::{DocumentReading, DocumentType};
use crate::verify::providers::{Capability, ImageRole, ProviderImage};
use crate::verify::reason::ReasonCode;

/// The capability a flow check asks a provider for (the local checks have none).
pub fn capability_of(check: Check) -> Option<Capability> {
    match check {
        Check::Ocr => Some(Capability::Document),
        Check::Liveness => Some(Capability::Liveness),
        Check::FaceMatch => Some(Capability::FaceMatch),
        Check::Registry => Some(Capability::Registry),
        Check::Quality | Check::Barcode | Check::Mrz => None,
    }
}

/// The checks listed plus the required ones, once each, document first and registry last (the registry needs
/// the number the document check may read).
pub fn capabilities_to_run(checks: &[Check], required: &[Capability]) -> Vec<Capability> {
    let mut all: Vec<Capability> =
        checks.iter().filter_map(|c| capability_of(*c)).chain(required.iter().copied()).collect();
    all.sort();
    all.dedup();
    all
}

/// The photos `capability` needs.
pub fn roles_for(capability: Capability) -> &'static [ImageRole] {
    match capability {
        Capability::Document => &[ImageRole::DocumentFront, ImageRole::DocumentBack],
        Capability::Liveness => &[ImageRole::Selfie],
        Capability::FaceMatch => &[ImageRole::DocumentFront, ImageRole::Selfie],
        Capability::Registry => &[],
    }
}

/// Only the photos `capabilities` need (one capability, or the several a provider decides together).
pub fn images_for_all(capabilities: &[Capability], images: &[ProviderImage]) -> Vec<ProviderImage> {
    images.iter().filter(|i| capabilities.iter().any(|c| roles_for(*c).contains(&i.role))).cloned().collect()
}

/// The document number for a registry: read locally from either side (INE and cédula carry it in the back's
/// barcodes), else what a document provider read.
pub fn document_number(fields: &BTreeMap<String, String>) -> Option<String> {
    ["front_document_number", "back_document_number", "front_run", "back_run", "document_number"]
        .iter()
        .find_map(|k| fields.get(*k))
        .filter(|n| !n.trim().is_empty())
        .cloned()
}

/// What a side's local reading proves about the document: a barcode in its known layout carrying a document
/// number, or a valid MRZ, with nothing contradicting it on that side.
pub fn evidence(slot: &str, reading: &DocumentReading) -> Vec<String> {
    if !reading.reasons.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<String> = reading
        .barcodes
        .iter()
        .filter(|b| b.layout.is_some() && b.fields.contains_key("document_number"))
        .map(|b| format!("{slot}: {:?} barcode ({})", b.format, b.layout.as_deref().unwrap_or("")))
        .collect();
    if let Some(mrz) = reading.mrz.as_ref().filter(|m| m.is_valid()) {
        found.push(format!("{slot}: {:?} MRZ with valid check digits", mrz.format));
    }
    found
}

/// An MRZ text a document provider returned (`mrz` field): parsed and checked like a local one. Its fields, the
/// evidence it gives when valid, and the reason when it is not.
pub struct ProviderMrz {
    pub fields: BTreeMap<String, String>,
    /// Where the MRZ may carry the number a barcode holds (the document number, or its optional data: Chile's
    /// RUN).
    pub numbers: Vec<String>,
    pub evidence: Option<String>,
    pub reason: Option<ReasonCode>,
}

impl ProviderMrz {
    /// Whether the MRZ contradicts a document number read locally (`front_document_number`, ...): the same
    /// `data_mismatch` as between a local MRZ and a barcode.
    pub fn contradicts(&self, local: &BTreeMap<String, String>, doc: DocumentType) -> bool {
        let ours: Vec<&String> = ["front_document_number", "back_document_number", "front_run", "back_run"]
            .iter()
            .filter_map(|k| local.get(*k))
            .collect();
        !ours.is_empty()
            && !self.numbers.is_empty()
            && !ours.iter().any(|a| self.numbers.iter().any(|b| numbers_agree(a, b, doc)))
    }
}

pub fn provider_mrz(provider: &str, fields: &BTreeMap<String, String>) -> Option<ProviderMrz> {
    let text = fields.get("mrz").filter(|t| !t.trim().is_empty())?;
    Some(match parse_mrz(text) {
        Ok(mrz) => {
            let mut read = BTreeMap::new();
            for (k, v) in [
                ("document_number", &mrz.document_number),
                ("surname", &mrz.surname),
                ("given_names", &mrz.given_names),
                ("nationality", &mrz.nationality),
            ] {
                if !v.is_empty() {
                    read.insert(k.to_owned(), v.clone());
                }
            }
            let valid = mrz.is_valid();
            let numbers = [&mrz.document_number, &mrz.optional_data, &mrz.optional_data_2]
                .into_iter()
                .filter(|n| !n.is_empty())
                .cloned()
                .collect();
            ProviderMrz {
                fields: read,
                numbers,
                evidence: valid.then(|| format!("{provider}: {:?} MRZ with valid check digits", mrz.format)),
                reason: (!valid).then_some(ReasonCode::MrzCheckDigit),
            }
        }
        Err(e) => {
            ProviderMrz { fields: BTreeMap::new(), numbers: Vec::new(), evidence: None, reason: Some(e.reason()) }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::providers::ImageContent;

    fn image(role: ImageRole) -> ProviderImage {
        ProviderImage { role, content: ImageContent::Url { mime: "image/jpeg".into(), url: "x".into() } }
    }

    #[test]
    fn each_capability_gets_only_the_photos_it_needs() {
        let all = [image(ImageRole::DocumentFront), image(ImageRole::DocumentBack), image(ImageRole::Selfie)];
        let roles = |c| images_for_all(&[c], &all).iter().map(|i| i.role).collect::<Vec<_>>();
        assert_eq!(roles(Capability::Registry), vec![]);
        assert_eq!(roles(Capability::Document), vec![ImageRole::DocumentFront, ImageRole::DocumentBack]);
        assert_eq!(roles(Capability::FaceMatch), vec![ImageRole::DocumentFront, ImageRole::Selfie]);
        assert_eq!(roles(Capability::Liveness), vec![ImageRole::Selfie]);
    }

    #[test]
    fn required_checks_run_even_when_not_listed_and_registry_runs_last() {
        let run = capabilities_to_run(&[Check::Quality, Check::Registry, Check::Ocr], &[Capability::FaceMatch]);
        assert_eq!(run, vec![Capability::Document, Capability::FaceMatch, Capability::Registry]);
    }

    #[test]
    fn the_registry_gets_the_number_from_the_back_barcode() {
        let fields = BTreeMap::from([("back_document_number".to_owned(), "1234567890".to_owned())]);
        assert_eq!(document_number(&fields).as_deref(), Some("1234567890"));
        assert_eq!(document_number(&BTreeMap::new()), None);
    }

    #[test]
    fn a_provider_mrz_is_checked_like_a_local_one() {
        let good = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
        let read = provider_mrz("acme", &BTreeMap::from([("mrz".to_owned(), good.to_owned())])).unwrap();
        assert_eq!(read.fields["document_number"], "L898902C3");
        assert!(read.evidence.is_some() && read.reason.is_none());
        let bad = good.replace("L898902C36", "L898902C37");
        let read = provider_mrz("acme", &BTreeMap::from([("mrz".to_owned(), bad)])).unwrap();
        assert_eq!(read.reason, Some(ReasonCode::MrzCheckDigit));
        assert!(read.evidence.is_none());
        assert!(provider_mrz("acme", &BTreeMap::new()).is_none());
        // Cross-checked with the number a barcode gave, like a local MRZ.
        let read = provider_mrz("acme", &BTreeMap::from([("mrz".to_owned(), good.to_owned())])).unwrap();
        let barcode = |n: &str| BTreeMap::from([("back_document_number".to_owned(), n.to_owned())]);
        assert!(!read.contradicts(&barcode("L898902C3"), DocumentType::Passport));
        assert!(read.contradicts(&barcode("X1234567"), DocumentType::Passport));
        assert!(!read.contradicts(&BTreeMap::new(), DocumentType::Passport), "nothing to contradict");
    }
}
