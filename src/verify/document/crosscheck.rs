//! Cross-checks between what the user typed, what the barcode or MRZ holds and what a provider's OCR read, plus
//! expiry and age. No clock inside: "today" is passed in. Each disagreement is a [`ReasonCode`] with a detail.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::DocumentType;
use crate::verify::reason::ReasonCode;

/// Per-flow settings of the cross-checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCheckPolicy {
    /// The age (in whole years, on the day of the check) from which a person may be onboarded.
    #[serde(default = "default_min_age")]
    pub min_age_years: u32,
}

fn default_min_age() -> u32 {
    18
}

impl Default for CrossCheckPolicy {
    fn default() -> Self {
        Self { min_age_years: default_min_age() }
    }
}

/// Uppercase letters and digits only; for all-digit document types, leading zeros dropped too.
pub fn normalize_document_number(number: &str, doc: DocumentType) -> String {
    let cleaned: String =
        number.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    if doc.numeric_number() && !cleaned.is_empty() && cleaned.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = cleaned.trim_start_matches('0');
        if trimmed.is_empty() { "0".to_owned() } else { trimmed.to_owned() }
    } else {
        cleaned
    }
}

/// Whether two writings of a document number are the same number. Empty numbers never agree.
pub fn numbers_agree(a: &str, b: &str, doc: DocumentType) -> bool {
    let (a, b) = (normalize_document_number(a, doc), normalize_document_number(b, doc));
    !a.is_empty() && a == b
}

/// Whole years between `birth` and `today` (the birthday counts on the day itself; 29 February counts on
/// 1 March in common years).
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let mut age = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

/// A document is valid through its expiry date (inclusive).
pub fn is_expired(expiry: NaiveDate, today: NaiveDate) -> bool {
    expiry < today
}

/// The facts to compare; any of them may be missing (then its checks are skipped).
#[derive(Debug, Clone, Default)]
pub struct CrossCheckInput<'a> {
    /// What the user typed in the chat.
    pub typed_number: Option<&'a str>,
    /// What a barcode or the MRZ holds (read locally).
    pub document_number: Option<&'a str>,
    /// What the provider's OCR read.
    pub ocr_number: Option<&'a str>,
    pub birth_date: Option<NaiveDate>,
    pub expiry_date: Option<NaiveDate>,
}

/// One failed check: its reason and a short detail for reviewers (no personal data in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub reason: ReasonCode,
    pub detail: String,
}

/// Runs every check whose facts are present. Empty: everything present agrees.
pub fn cross_check(
    doc: DocumentType,
    input: &CrossCheckInput<'_>,
    today: NaiveDate,
    policy: &CrossCheckPolicy,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let numbers = [("typed", input.typed_number), ("document", input.document_number), ("ocr", input.ocr_number)];
    let present: Vec<(&str, &str)> = numbers.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
    for (i, (name_a, a)) in present.iter().enumerate() {
        for (name_b, b) in &present[i + 1..] {
            if !numbers_agree(a, b, doc) {
                findings.push(Finding {
                    reason: ReasonCode::DataMismatch,
                    detail: format!("document number: {name_a} and {name_b} differ"),
                });
            }
        }
    }
    if let Some(expiry) = input.expiry_date
        && is_expired(expiry, today)
    {
        findings.push(Finding { reason: ReasonCode::DocumentExpired, detail: format!("expired on {expiry}") });
    }
    if let Some(birth) = input.birth_date {
        let age = age_on(birth, today);
        if age < policy.min_age_years as i32 {
            findings.push(Finding {
                reason: ReasonCode::Underage,
                detail: format!("under {} years of age", policy.min_age_years),
            });
        }
    }
    findings
}

/// The same checks on fields maps: `local` from [`super::DocumentReading::fields`] and `ocr` from a provider's
/// answer, using `document_number`, `birth_date` and `expiry_date` (ISO dates). Local facts win over OCR ones
/// for dates.
pub fn cross_check_fields(
    doc: DocumentType,
    typed_number: Option<&str>,
    local: &BTreeMap<String, String>,
    ocr: &BTreeMap<String, String>,
    today: NaiveDate,
    policy: &CrossCheckPolicy,
) -> Vec<Finding> {
    let date = |key: &str| {
        [local, ocr].iter().find_map(|m| m.get(key).and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()))
    };
    let input = CrossCheckInput {
        typed_number,
        document_number: local.get("document_number").map(String::as_str),
        ocr_number: ocr.get("document_number").map(String::as_str),
        birth_date: date("birth_date"),
        expiry_date: date("expiry_date"),
    };
    cross_check(doc, &input, today, policy)
}

/// The distinct reasons of a list of findings, in order.
pub fn reasons(findings: &[Finding]) -> Vec<ReasonCode> {
    let mut out: Vec<ReasonCode> = Vec::new();
    for f in findings {
        if !out.contains(&f.reason) {
            out.push(f.reason);
        }
    }
    out
}
