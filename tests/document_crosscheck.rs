//! Cross-checks: document numbers, expiry and age, with "today" passed in.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use wa_onboard::verify::document::DocumentType;
use wa_onboard::verify::document::crosscheck::{
    CrossCheckInput, CrossCheckPolicy, age_on, cross_check, cross_check_fields, normalize_document_number,
    numbers_agree, reasons,
};
use wa_onboard::verify::reason::ReasonCode;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn numbers_are_normalized_before_comparing() {
    assert_eq!(normalize_document_number(" 30.123.456 ", DocumentType::ArDni), "30123456");
    assert_eq!(normalize_document_number("0030123456", DocumentType::ArDni), "30123456");
    assert!(numbers_agree("1.023.456", "0001023456", DocumentType::CoCedula));
    // Letters count, case does not; leading zeros count for alphanumeric numbers.
    assert!(numbers_agree("ab1234567", "AB1234567", DocumentType::Passport));
    assert!(!numbers_agree("0AB123", "AB123", DocumentType::Passport));
    assert!(!numbers_agree("", "", DocumentType::PeDni));
}

#[test]
fn ages_count_whole_years() {
    assert_eq!(age_on(day(2008, 11, 22), day(2026, 11, 22)), 18);
    assert_eq!(age_on(day(2008, 11, 23), day(2026, 11, 22)), 17);
    assert_eq!(age_on(day(2008, 2, 29), day(2026, 2, 28)), 17);
    assert_eq!(age_on(day(2008, 2, 29), day(2026, 3, 1)), 18);
}

#[test]
fn each_disagreement_has_its_reason() {
    let today = day(2026, 11, 22);
    let policy = CrossCheckPolicy::default();
    let ok = CrossCheckInput {
        typed_number: Some("30.123.456"),
        document_number: Some("30123456"),
        ocr_number: Some("030123456"),
        birth_date: Some(day(1985, 3, 15)),
        expiry_date: Some(day(2026, 11, 22)), // valid through its expiry day
    };
    assert!(cross_check(DocumentType::ArDni, &ok, today, &policy).is_empty());

    let typed_wrong = CrossCheckInput { typed_number: Some("30123465"), ..ok.clone() };
    let findings = cross_check(DocumentType::ArDni, &typed_wrong, today, &policy);
    assert_eq!(reasons(&findings), vec![ReasonCode::DataMismatch]);
    assert_eq!(findings.len(), 2, "typed differs from both the barcode and the OCR: {findings:?}");

    let expired = CrossCheckInput { expiry_date: Some(day(2026, 11, 21)), ..ok.clone() };
    assert_eq!(reasons(&cross_check(DocumentType::ArDni, &expired, today, &policy)), vec![ReasonCode::DocumentExpired]);

    let minor = CrossCheckInput { birth_date: Some(day(2009, 1, 1)), ..ok.clone() };
    assert_eq!(reasons(&cross_check(DocumentType::ArDni, &minor, today, &policy)), vec![ReasonCode::Underage]);
    // The age threshold is the flow's: 16 lets the same person through.
    let sixteen = CrossCheckPolicy { min_age_years: 16 };
    assert!(cross_check(DocumentType::ArDni, &minor, today, &sixteen).is_empty());

    // Missing facts skip their checks.
    assert!(cross_check(DocumentType::ArDni, &CrossCheckInput::default(), today, &policy).is_empty());
}

#[test]
fn fields_maps_from_reading_and_provider() {
    let local: BTreeMap<String, String> =
        [("document_number", "1023456"), ("birth_date", "1990-02-14")].map(|(k, v)| (k.into(), v.into())).into();
    let ocr: BTreeMap<String, String> =
        [("document_number", "1023457"), ("expiry_date", "2020-01-01")].map(|(k, v)| (k.into(), v.into())).into();
    let findings = cross_check_fields(
        DocumentType::CoCedula,
        Some("1.023.456"),
        &local,
        &ocr,
        day(2026, 11, 22),
        &CrossCheckPolicy::default(),
    );
    assert_eq!(reasons(&findings), vec![ReasonCode::DataMismatch, ReasonCode::DocumentExpired]);
    assert!(findings.iter().all(|f| !f.detail.contains("1023")), "no document numbers in details");
}
