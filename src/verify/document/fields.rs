//! Named fields from barcodes whose layout is public. Anything else keeps its raw text only.
//!
//! Field names are shared with the MRZ and the providers: `document_number`, `surname`, `given_names`, `sex`
//! (`M`/`F`), `birth_date`, `issue_date`, `expiry_date` (ISO `YYYY-MM-DD`), plus document-specific ones.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::DocumentType;
use super::barcode::BarcodeFormat;

/// What a barcode's text says, as far as its layout is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedBarcode {
    /// The layout recognised; `None` when the text is kept raw.
    pub layout: Option<&'static str>,
    /// The document the layout belongs to, when the text is recognisably one document's (used to catch a photo of
    /// the wrong document).
    pub identified_as: Option<DocumentType>,
    pub fields: BTreeMap<String, String>,
}

/// Parses a decoded barcode of a document that is expected to be `doc`. Layouts of other documents are recognised
/// too (and reported in `identified_as`), so a wrong document is caught.
pub fn parse(doc: DocumentType, format: BarcodeFormat, text: &str) -> ParsedBarcode {
    let parsed = match format {
        BarcodeFormat::Pdf417 => parse_ar_dni(text).or_else(|| parse_co_cedula(text)),
        BarcodeFormat::QrCode => parse_cl_cedula_qr(text),
    };
    if let Some(parsed) = parsed {
        return parsed;
    }
    let mut fields = BTreeMap::new();
    match (doc, format) {
        (DocumentType::MxIne, BarcodeFormat::QrCode) if looks_like_url(text) => {
            fields.insert("url".to_owned(), text.trim().to_owned());
            ParsedBarcode { layout: Some("mx_ine_qr_url"), identified_as: None, fields }
        }
        _ => ParsedBarcode::default(),
    }
}

fn looks_like_url(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    t.starts_with("http://") || t.starts_with("https://")
}

/// `DD/MM/YYYY`, `YYYYMMDD` or `YYYY-MM-DD` → `YYYY-MM-DD`.
pub fn iso_date(text: &str) -> Option<String> {
    let t = text.trim();
    let formats: &[&str] = if t.len() == 8 && is_digits(t) { &["%Y%m%d"] } else { &["%d/%m/%Y", "%Y-%m-%d"] };
    let date = formats.iter().find_map(|f| NaiveDate::parse_from_str(t, f).ok())?;
    Some(date.format("%Y-%m-%d").to_string())
}

fn put(fields: &mut BTreeMap<String, String>, key: &str, value: &str) {
    let v = value.trim();
    if !v.is_empty() {
        fields.insert(key.to_owned(), v.to_owned());
    }
}

fn put_date(fields: &mut BTreeMap<String, String>, key: &str, value: &str) {
    match iso_date(value) {
        Some(iso) => {
            fields.insert(key.to_owned(), iso);
        }
        None => put(fields, &format!("{key}_raw"), value),
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Argentina DNI, PDF417 on the front, `@`-separated. Two layouts are in circulation:
///
/// * since 2012 (tarjeta DNI): `tramite@SURNAME@NAMES@SEX@DNI@EJEMPLAR@BIRTH@ISSUE[@CUIL-code...]`, e.g.
///   `00456789123@GOMEZ@MARIA JOSE@F@30123456@A@15/03/1985@20/07/2015@239`;
/// * 2009 to 2012: starts with `@`: `@DNI@EJEMPLAR@?@SURNAME@NAMES@NATIONALITY@BIRTH@SEX@ISSUE@TRAMITE@
///   OFFICE@EXPIRY...`.
fn parse_ar_dni(text: &str) -> Option<ParsedBarcode> {
    let parts: Vec<&str> = text.trim_end_matches(['\r', '\n']).split('@').collect();
    let mut fields = BTreeMap::new();
    if parts.len() >= 10 && parts[0].is_empty() && is_digits(parts[1].trim()) {
        put(&mut fields, "document_number", parts[1]);
        put(&mut fields, "ejemplar", parts[2]);
        put(&mut fields, "surname", parts[4]);
        put(&mut fields, "given_names", parts[5]);
        put(&mut fields, "nationality", parts[6]);
        put_date(&mut fields, "birth_date", parts[7]);
        put(&mut fields, "sex", parts[8]);
        put_date(&mut fields, "issue_date", parts[9]);
        if let Some(tramite) = parts.get(10) {
            put(&mut fields, "tramite_number", tramite);
        }
        if let Some(expiry) = parts.get(12) {
            put_date(&mut fields, "expiry_date", expiry);
        }
        return Some(ParsedBarcode { layout: Some("ar_dni_2009"), identified_as: Some(DocumentType::ArDni), fields });
    }
    if parts.len() >= 8
        && is_digits(parts[0].trim())
        && is_digits(parts[4].trim())
        && matches!(parts[3].trim(), "M" | "F" | "X")
    {
        put(&mut fields, "tramite_number", parts[0]);
        put(&mut fields, "surname", parts[1]);
        put(&mut fields, "given_names", parts[2]);
        put(&mut fields, "sex", parts[3]);
        put(&mut fields, "document_number", parts[4]);
        put(&mut fields, "ejemplar", parts[5]);
        put_date(&mut fields, "birth_date", parts[6]);
        put_date(&mut fields, "issue_date", parts[7]);
        if let Some(extra) = parts.get(8) {
            put(&mut fields, "extra", extra);
        }
        return Some(ParsedBarcode { layout: Some("ar_dni_2012"), identified_as: Some(DocumentType::ArDni), fields });
    }
    None
}

/// Colombia cédula de ciudadanía (older yellow card), PDF417 on the back: fixed-width fields separated and
/// padded by NUL characters. The widely used offsets (in characters): document number 48..58 (zero-padded),
/// first surname 58..81, second surname 81..104, first name 104..127, second name 127..150, sex at 151, birth
/// date 152..160 (`YYYYMMDD`), blood type 166..168. Recognised only when the number field is digits and the
/// birth date parses; otherwise the raw text is kept.
fn parse_co_cedula(text: &str) -> Option<ParsedBarcode> {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() < 168 {
        return None;
    }
    let field = |a: usize, b: usize| -> String {
        chars[a..b].iter().map(|c| if c.is_control() { ' ' } else { *c }).collect::<String>().trim().to_owned()
    };
    let number = field(48, 58);
    let birth = field(152, 160);
    if !is_digits(&number) || iso_date(&birth).is_none() {
        return None;
    }
    let mut fields = BTreeMap::new();
    put(&mut fields, "document_number", number.trim_start_matches('0'));
    let surname = format!("{} {}", field(58, 81), field(81, 104));
    let given = format!("{} {}", field(104, 127), field(127, 150));
    put(&mut fields, "surname", &surname);
    put(&mut fields, "given_names", &given);
    put(&mut fields, "sex", &field(151, 152));
    put_date(&mut fields, "birth_date", &birth);
    put(&mut fields, "blood_type", &field(166, 168));
    Some(ParsedBarcode { layout: Some("co_cedula_pdf417"), identified_as: Some(DocumentType::CoCedula), fields })
}

/// Chile cédula QR: `https://portal.sidiv.registrocivil.cl/docstatus?RUN=12345678-5&type=CEDULA&serial=...`.
/// The RUN's verifier digit (modulo 11, `K` for 10) is checked and reported in `run_check_digit_valid`.
fn parse_cl_cedula_qr(text: &str) -> Option<ParsedBarcode> {
    let url = url::Url::parse(text.trim()).ok()?;
    if !url.host_str().is_some_and(|h| h.ends_with("registrocivil.cl")) {
        return None;
    }
    let mut fields = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        match k.to_ascii_lowercase().as_str() {
            "run" => {
                put(&mut fields, "run", &v);
                let cleaned: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                if cleaned.len() >= 2 {
                    let (body, dv) = cleaned.split_at(cleaned.len() - 1);
                    put(&mut fields, "document_number", body);
                    let valid =
                        run_verifier(body).is_some_and(|expected| dv.eq_ignore_ascii_case(&expected.to_string()));
                    put(&mut fields, "run_check_digit_valid", if valid { "true" } else { "false" });
                }
            }
            "type" => put(&mut fields, "document_kind", &v),
            "serial" => put(&mut fields, "serial", &v),
            "mrz" => put(&mut fields, "mrz", &v),
            _ => {}
        }
    }
    Some(ParsedBarcode { layout: Some("cl_cedula_qr"), identified_as: Some(DocumentType::ClCedula), fields })
}

/// The verifier character of a Chilean RUN body: modulo 11 with weights 2..7 from the right; `K` for 10.
pub fn run_verifier(body: &str) -> Option<char> {
    if !is_digits(body) {
        return None;
    }
    let mut sum = 0u32;
    for (i, b) in body.bytes().rev().enumerate() {
        sum += u32::from(b - b'0') * (2 + (i as u32 % 6));
    }
    match 11 - (sum % 11) {
        11 => Some('0'),
        10 => Some('K'),
        d => char::from_digit(d, 10),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_verifier_of_known_runs() {
        assert_eq!(run_verifier("12345678"), Some('5'));
        assert_eq!(run_verifier("11111111"), Some('1'));
        assert_eq!(run_verifier("x"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(iso_date("15/03/1985").as_deref(), Some("1985-03-15"));
        assert_eq!(iso_date("19850315").as_deref(), Some("1985-03-15"));
        assert_eq!(iso_date("31/02/1985"), None);
    }
}
