//! MRZ parsing: ICAO specimens, Latin American cards computed with the ICAO rules, OCR noise, corruption.

use chrono::NaiveDate;
use wa_onboard::verify::document::mrz::{MrzFormat, parse_mrz};
use wa_onboard::verify::reason::ReasonCode;

const ICAO_TD3: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
const ICAO_TD1: &str = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";
const SMITH_TD1: &str =
    "I<UTOX4RTBPFW46<<<<<<<<<<<<<<<\n8501019M3001019UTO<<<<<<<<<<<0\nSMITH<<JOHN<<<<<<<<<<<<<<<<<<<";
const PE_DNI: &str = "I<PER45678912<4<<<<<<<<<<<<<<<\n9002144F3012316PER<<<<<<<<<<<4\nQUISPE<MAMANI<<ROSA<ELENA<<<<<";
const MX_INE: &str = "IDMEX1876543217<<0451234567890\n8805212M3012316MEX<<<<<<<<<<<0\nHERNANDEZ<LOPEZ<<JUAN<CARLOS<<";
const AR_DNI: &str = "IDARG30123456<2<<<<<<<<<<<<<<<\n8503150F3211201ARG<<<<<<<<<<<6\nGOMEZ<<MARIA<JOSE<<<<<<<<<<<<<";
const CL_CEDULA: &str =
    "INCHLA123456784123456785<<<<<<\n1001071M2901075CHL<<<<<<<<<<<1\nMUNOZ<SOTO<<BENJAMIN<<<<<<<<<<";
const CO_PASSPORT: &str = "P<COLGARCIA<MARQUEZ<<GABRIEL<JOSE<<<<<<<<<<<\nAB12345671COL0203041M31091551020304050<<<<18";
const LONG_NUMBER_TD1: &str =
    "I<UTOD23145890<7349<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<";

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn icao_td3_specimen() {
    let mrz = parse_mrz(ICAO_TD3).unwrap();
    assert_eq!(mrz.format, MrzFormat::Td3);
    assert_eq!(mrz.document_code, "P");
    assert_eq!(mrz.issuing_country, "UTO");
    assert_eq!(mrz.surname, "ERIKSSON");
    assert_eq!(mrz.given_names, "ANNA MARIA");
    assert_eq!(mrz.document_number, "L898902C3");
    assert_eq!(mrz.nationality, "UTO");
    assert_eq!(mrz.birth_date, "740812");
    assert_eq!(mrz.sex, "F");
    assert_eq!(mrz.expiry_date, "120415");
    assert_eq!(mrz.optional_data, "ZE184226B");
    assert!(mrz.is_valid(), "{:?}", mrz.checks);
    assert_eq!(mrz.checks.optional_data, Some(true));
    assert!(mrz.reasons().is_empty());
}

#[test]
fn icao_td1_specimens_including_a_long_document_number() {
    let mrz = parse_mrz(ICAO_TD1).unwrap();
    assert_eq!(mrz.format, MrzFormat::Td1);
    assert_eq!(mrz.document_number, "D23145890");
    assert_eq!((mrz.surname.as_str(), mrz.given_names.as_str()), ("ERIKSSON", "ANNA MARIA"));
    assert!(mrz.is_valid(), "{:?}", mrz.checks);

    let long = parse_mrz(LONG_NUMBER_TD1).unwrap();
    assert_eq!(long.document_number, "D23145890734");
    assert!(long.checks.document_number);

    let smith = parse_mrz(SMITH_TD1).unwrap();
    assert_eq!((smith.surname.as_str(), smith.given_names.as_str()), ("SMITH", "JOHN"));
    assert_eq!(smith.sex, "M");
    assert!(smith.is_valid());
}

#[test]
fn latin_american_cards_and_passport() {
    let cases = [
        (PE_DNI, "PER", "45678912", "QUISPE MAMANI", "ROSA ELENA"),
        (MX_INE, "MEX", "187654321", "HERNANDEZ LOPEZ", "JUAN CARLOS"),
        (AR_DNI, "ARG", "30123456", "GOMEZ", "MARIA JOSE"),
        (CL_CEDULA, "CHL", "A12345678", "MUNOZ SOTO", "BENJAMIN"),
        (CO_PASSPORT, "COL", "AB1234567", "GARCIA MARQUEZ", "GABRIEL JOSE"),
    ];
    for (text, country, number, surname, given) in cases {
        let mrz = parse_mrz(text).unwrap();
        assert!(mrz.is_valid(), "{text}: {:?}", mrz.checks);
        assert_eq!(mrz.issuing_country, country);
        assert_eq!(mrz.document_number, number);
        assert_eq!(mrz.surname, surname);
        assert_eq!(mrz.given_names, given);
    }
    let ine = parse_mrz(MX_INE).unwrap();
    assert_eq!(ine.document_code, "ID");
    assert_eq!(ine.optional_data, "0451234567890");
    let chile = parse_mrz(CL_CEDULA).unwrap();
    assert_eq!(chile.optional_data, "123456785");
    let passport = parse_mrz(CO_PASSPORT).unwrap();
    assert_eq!(passport.birth_date_on(day(2026, 11, 22)), Some(day(2002, 3, 4)));
    assert_eq!(passport.expiry_date_on(day(2026, 11, 22)), Some(day(2031, 9, 15)));
    assert_eq!(passport.optional_data, "1020304050");
}

#[test]
fn ocr_noise_is_tolerated() {
    // Lowercase, spaces, blank lines, `«`, and trailing fillers lost on the names line.
    let noisy = "  i<per45678912<4<<<<<<< <<<<<<<<\n\n 9002144f3012316per<<<<<<<<<<<4 \nQUISPE<MAMANI«ROSA<ELENA<<\n";
    let mrz = parse_mrz(noisy).unwrap();
    assert!(mrz.is_valid(), "{:?}", mrz.checks);
    assert_eq!(mrz.given_names, "ROSA ELENA");
    // One run of text without line breaks (as typed by a user).
    let joined = ICAO_TD3.replace('\n', "");
    assert!(parse_mrz(&joined).unwrap().is_valid());
    // Letters read in numeric places (O for 0 in the birth date).
    let letters = ICAO_TD3.replace("7408122F", "74O8122F");
    assert!(parse_mrz(&letters).unwrap().is_valid());
    // Text around the zone (other OCR lines).
    let around = format!("REPUBLICA DEL PERU\nDocumento Nacional de Identidad\n{PE_DNI}\n");
    assert_eq!(parse_mrz(&around).unwrap().document_number, "45678912");
}

#[test]
fn corrupted_zones_fail_their_check_digits_never_panic() {
    // One digit of the document number changed.
    let mrz = parse_mrz(&ICAO_TD3.replace("L898902C3", "L898902C4")).unwrap();
    assert!(!mrz.checks.document_number);
    assert!(!mrz.checks.composite);
    assert_eq!(mrz.reasons(), vec![ReasonCode::MrzCheckDigit]);
    assert!(mrz.checks.failed().contains(&"document_number"));

    // Birth date changed on a TD1 card.
    let mrz = parse_mrz(&PE_DNI.replace("9002144F", "9002154F")).unwrap();
    assert!(!mrz.checks.birth_date);
    assert_eq!(mrz.reasons(), vec![ReasonCode::MrzCheckDigit]);

    // Expiry check digit changed.
    let mrz = parse_mrz(&AR_DNI.replace("3211201ARG", "3211203ARG")).unwrap();
    assert!(!mrz.checks.expiry_date);

    // Composite only (optional data changed on line 1 of the INE).
    let mrz = parse_mrz(&MX_INE.replace("0451234567890", "0451234567891")).unwrap();
    assert!(mrz.checks.document_number && !mrz.checks.composite);

    // Not an MRZ, too short, garbage, non-ASCII: an error with a reason, or a failed check.
    for text in ["", "hello", "P<UTO", "ÀÉÎ\u{0}\u{FFFF}", &"<".repeat(88), &"9".repeat(90)] {
        match parse_mrz(text) {
            Ok(mrz) => assert!(!mrz.is_valid() || text.chars().all(|c| c == '<')),
            Err(e) => assert_eq!(e.reason(), ReasonCode::DocumentUnreadable),
        }
    }
}

/// Random text in and around the MRZ alphabet, of MRZ-like lengths: never a panic.
#[test]
fn random_text_never_panics() {
    use wa_onboard::verify::document::barcode::BarcodeFormat;
    use wa_onboard::verify::document::{DocumentType, fields};

    let alphabet: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<<<<<<<<\n «@/é\u{0}-".chars().collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let len = [30, 44, 60, 88, 90, 92, 200][(next() % 7) as usize];
        let text: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
        if let Ok(mrz) = parse_mrz(&text) {
            let _ = mrz.birth_date_on(day(2026, 1, 1));
            let _ = mrz.expiry_date_on(day(2026, 1, 1));
        }
        // A valid zone with a few characters changed (same length): parsed, checked, never a panic.
        let base = [ICAO_TD3, LONG_NUMBER_TD1, PE_DNI, MX_INE][(next() % 4) as usize];
        let mut chars: Vec<char> = base.chars().collect();
        for _ in 0..(next() % 6) {
            let i = (next() % chars.len() as u64) as usize;
            if chars[i] != '\n' {
                chars[i] = "ABCXYZ0189<"[(next() % 11) as usize..].chars().next().unwrap_or('<');
            }
        }
        let mutated: String = chars.into_iter().collect();
        let _ = parse_mrz(&mutated).map(|m| m.is_valid());
        for doc in DocumentType::ALL {
            let _ = fields::parse(*doc, BarcodeFormat::Pdf417, &text);
            let _ = fields::parse(*doc, BarcodeFormat::QrCode, &text);
        }
    }
}
