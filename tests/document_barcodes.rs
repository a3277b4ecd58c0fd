//! Barcodes drawn with rxing's encoder, placed on a larger grey "card" (margin, scaling), then read back through
//! `read_document` as a photo would be.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};
use wa_onboard::verify::document::barcode::{BarcodeFormat, encode};
use wa_onboard::verify::document::{DocumentType, Side, read_document, read_document_with_mrz_text};
use wa_onboard::verify::reason::ReasonCode;

/// A light grey card with some darker print and the barcodes pasted at the given places, each scaled by `scale`
/// (non-integer: modules land between pixels) and, when `soft`, slightly blurred and noisy like a phone photo.
/// Only the barcode patches are resampled, which keeps the test fast in debug builds.
fn card_with(codes: &[(BarcodeFormat, &str, u32, u32)], scale: f32, soft: bool) -> GrayImage {
    let mut img = GrayImage::from_pixel(1400, 900, Luma([225]));
    for y in (40..120).step_by(8) {
        for x in 60..700 {
            img.put_pixel(x, y, Luma([90]));
        }
    }
    for (format, text, x, y) in codes {
        let mut code = encode(*format, text, 3).unwrap();
        if (scale - 1.0).abs() > f32::EPSILON {
            let (w, h) = code.dimensions();
            code = imageops::resize(&code, (w as f32 * scale) as u32, (h as f32 * scale) as u32, FilterType::Triangle);
        }
        if soft {
            code = soften(&code);
        }
        imageops::overlay(&mut img, &code, i64::from(*x), i64::from(*y));
    }
    img
}

fn card(codes: &[(BarcodeFormat, &str, u32, u32)], scale: f32) -> GrayImage {
    card_with(codes, scale, false)
}

/// A 3 x 3 box blur plus sensor noise.
fn soften(img: &GrayImage) -> GrayImage {
    let mut out = imageops::filter3x3(img, &[1.0 / 9.0; 9]);
    let mut seed: u32 = 12345;
    for p in out.pixels_mut() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let noise = ((seed >> 16) % 21) as i16 - 10;
        p.0[0] = (i16::from(p.0[0]) + noise).clamp(0, 255) as u8;
    }
    out
}

const AR_2012: &str = "00456789123@GOMEZ@MARIA JOSE@F@30123456@A@15/03/1985@20/07/2015@239";
const AR_2009: &str =
    "@23456789    @A@1@FERNÁNDEZ@JUAN PABLO@ARGENTINA@02/11/1979@M@14/05/2010@00312345678@7027@14/05/2025@280";

/// The older Colombian cédula PDF417: fixed-width fields padded with NUL characters.
fn co_cedula_text() -> String {
    fn field(s: &str, n: usize) -> String {
        let mut f: String = s.to_owned();
        while f.chars().count() < n {
            f.push('\0');
        }
        f
    }
    let mut t = String::new();
    t.push_str(&field("0123456789PubDSK_1", 24));
    t.push_str(&field("9876543210", 24)); // 48 characters of header (card serials)
    t.push_str("0001023456"); // 48..58 document number
    t.push_str(&field("RODRIGUEZ", 23)); // 58..81
    t.push_str(&field("PEÑA", 23)); // 81..104
    t.push_str(&field("ANA", 23)); // 104..127
    t.push_str(&field("LUCIA", 23)); // 127..150
    t.push('0'); // 150
    t.push('F'); // 151
    t.push_str("19900214"); // 152..160
    t.push_str("05001"); // 160..165 municipality
    t.push('1'); // 165
    t.push_str("O+"); // 166..168
    t.push_str(&field("", 8));
    t
}

#[test]
fn argentina_dni_front_both_pdf417_layouts() {
    let img = card(&[(BarcodeFormat::Pdf417, AR_2012, 700, 500)], 1.0);
    let r = read_document(&img, DocumentType::ArDni, Side::Front);
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    assert_eq!(r.barcodes.len(), 1);
    assert_eq!(r.barcodes[0].layout.as_deref(), Some("ar_dni_2012"));
    assert_eq!(r.fields["document_number"], "30123456");
    assert_eq!(r.fields["surname"], "GOMEZ");
    assert_eq!(r.fields["given_names"], "MARIA JOSE");
    assert_eq!(r.fields["sex"], "F");
    assert_eq!(r.fields["birth_date"], "1985-03-15");
    assert_eq!(r.fields["issue_date"], "2015-07-20");
    assert_eq!(r.fields["tramite_number"], "00456789123");
    assert_eq!(r.fields["ejemplar"], "A");

    let img = card(&[(BarcodeFormat::Pdf417, AR_2009, 300, 450)], 0.8);
    let r = read_document(&img, DocumentType::ArDni, Side::Front);
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    assert_eq!(r.barcodes[0].layout.as_deref(), Some("ar_dni_2009"));
    assert_eq!(r.fields["document_number"], "23456789");
    assert_eq!(r.fields["surname"], "FERNÁNDEZ");
    assert_eq!(r.fields["birth_date"], "1979-11-02");
    assert_eq!(r.fields["expiry_date"], "2025-05-14");
}

#[test]
fn a_soft_noisy_photo_still_reads() {
    // Slight blur, sensor noise and a lower resolution, as from a phone camera.
    let img = card_with(&[(BarcodeFormat::Pdf417, AR_2012, 500, 420)], 0.9, true);
    let r = read_document(&img, DocumentType::ArDni, Side::Front);
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    assert_eq!(r.fields["document_number"], "30123456");

    let qr = "https://portal.sidiv.registrocivil.cl/docstatus?RUN=11111111-1&type=CEDULA&serial=100200300";
    let img = card_with(&[(BarcodeFormat::QrCode, qr, 900, 300)], 0.8, true);
    let r = read_document(&img, DocumentType::ClCedula, Side::Back);
    assert_eq!(r.fields["document_number"], "11111111");
}

#[test]
fn colombia_cedula_back_pdf417() {
    let text = co_cedula_text();
    let img = card(&[(BarcodeFormat::Pdf417, &text, 150, 350)], 1.0);
    let r = read_document(&img, DocumentType::CoCedula, Side::Back);
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    assert_eq!(r.barcodes[0].layout.as_deref(), Some("co_cedula_pdf417"));
    assert_eq!(r.fields["document_number"], "1023456");
    assert_eq!(r.fields["surname"], "RODRIGUEZ PEÑA");
    assert_eq!(r.fields["given_names"], "ANA LUCIA");
    assert_eq!(r.fields["sex"], "F");
    assert_eq!(r.fields["birth_date"], "1990-02-14");
    assert_eq!(r.fields["blood_type"], "O+");
}

#[test]
fn chile_cedula_back_qr_with_run() {
    let url = "https://portal.sidiv.registrocivil.cl/docstatus?RUN=12345678-5&type=CEDULA&serial=A123456784&mrz=A123456784100107129010750";
    let img = card(&[(BarcodeFormat::QrCode, url, 900, 300)], 1.0);
    let r = read_document(&img, DocumentType::ClCedula, Side::Back);
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    assert_eq!(r.barcodes[0].layout.as_deref(), Some("cl_cedula_qr"));
    assert_eq!(r.fields["run"], "12345678-5");
    assert_eq!(r.fields["document_number"], "12345678");
    assert_eq!(r.fields["run_check_digit_valid"], "true");
    assert_eq!(r.fields["serial"], "A123456784");
    assert_eq!(r.fields["document_kind"], "CEDULA");

    // With the back's MRZ (serial as document number, RUN in the optional data): they agree.
    let mrz = "INCHLA123456784123456785<<<<<<\n1001071M2901075CHL<<<<<<<<<<<1\nMUNOZ<SOTO<<BENJAMIN<<<<<<<<<<";
    let r = read_document_with_mrz_text(&img, DocumentType::ClCedula, Side::Back, Some(mrz));
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    // Another person's RUN in the MRZ does not.
    let other = mrz.replace("A123456784123456785", "A123456784111111111");
    let r = read_document_with_mrz_text(&img, DocumentType::ClCedula, Side::Back, Some(&other));
    assert!(r.reasons.contains(&ReasonCode::DataMismatch), "{:?}", r.reasons);
}

#[test]
fn mexico_ine_back_two_qr_codes_and_mrz_text() {
    let a = "http://qr.ine.mx/ev/1876543217/0451234567890/HELJ880521HDFRPN09";
    let b = "https://listanominal.ine.mx/scpln/?cic=187654321&ocr=0451234567890";
    let img = card(&[(BarcodeFormat::QrCode, a, 100, 300), (BarcodeFormat::QrCode, b, 800, 300)], 1.0);
    let mrz = "IDMEX1876543217<<0451234567890\n8805212M3012316MEX<<<<<<<<<<<0\nHERNANDEZ<LOPEZ<<JUAN<CARLOS<<";
    let r = read_document_with_mrz_text(&img, DocumentType::MxIne, Side::Back, Some(mrz));
    assert!(r.reasons.is_empty(), "{:?}", r.reasons);
    let mut texts: Vec<&str> = r.barcodes.iter().map(|b| b.text.as_str()).collect();
    texts.sort();
    assert_eq!(texts, vec![a, b]);
    assert!(r.barcodes.iter().all(|b| b.fields.contains_key("url")));
    assert_eq!(r.mrz.as_ref().unwrap().document_number, "187654321");
    assert_eq!(r.fields["surname"], "HERNANDEZ LOPEZ");
}

#[test]
fn brazil_cnh_qr_and_colombia_digital_cedula_keep_raw_text() {
    let cnh = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAx<ASSINATURA>3fa9c1";
    let img = card(&[(BarcodeFormat::QrCode, cnh, 500, 300)], 1.0);
    let r = read_document(&img, DocumentType::BrCnh, Side::Back);
    assert!(r.reasons.is_empty());
    assert_eq!(r.barcodes[0].text, cnh);
    assert_eq!(r.barcodes[0].layout, None);

    let co_digital = "CO|CC|1023456|RODRIGUEZ PEÑA ANA LUCIA|sig=9b2f";
    let img = card(&[(BarcodeFormat::QrCode, co_digital, 500, 300)], 1.0);
    let r = read_document(&img, DocumentType::CoCedula, Side::Back);
    assert!(r.reasons.is_empty());
    assert_eq!(r.barcodes[0].text, co_digital);
}

#[test]
fn missing_barcode_and_wrong_document() {
    let blank = card(&[], 1.0);
    let r = read_document(&blank, DocumentType::ArDni, Side::Front);
    assert_eq!(r.reasons, vec![ReasonCode::DocumentUnreadable]);
    // A side that carries nothing locally readable gives no reason.
    assert!(read_document(&blank, DocumentType::BrRg, Side::Front).reasons.is_empty());
    assert!(read_document(&GrayImage::new(0, 0), DocumentType::ArDni, Side::Front).reasons.len() == 1);

    // An Argentine DNI shown where a Colombian cédula was expected.
    let img = card(&[(BarcodeFormat::Pdf417, AR_2012, 700, 500)], 1.0);
    let r = read_document(&img, DocumentType::CoCedula, Side::Back);
    assert_eq!(r.reasons, vec![ReasonCode::WrongDocumentType]);

    // A barcode number that disagrees with the MRZ's.
    let mrz = "IDARG30123457<3<<<<<<<<<<<<<<<\n8503150F3211201ARG<<<<<<<<<<<6\nGOMEZ<<MARIA<JOSE<<<<<<<<<<<<<";
    let r = read_document_with_mrz_text(&img, DocumentType::ArDni, Side::Front, Some(mrz));
    assert!(r.reasons.contains(&ReasonCode::DataMismatch), "{:?}", r.reasons);
}

#[test]
fn reading_serializes_for_check_image() {
    let img = card(&[(BarcodeFormat::Pdf417, AR_2012, 700, 500)], 1.0);
    let reading = read_document(&img, DocumentType::ArDni, Side::Front);
    let json = serde_json::to_value(&reading).unwrap();
    // Stored in jobs and events: it comes back the same.
    assert_eq!(serde_json::from_value::<wa_onboard::verify::document::DocumentReading>(json.clone()).unwrap(), reading);
    assert_eq!(json["barcodes"][0]["format"], "pdf417");
    assert_eq!(json["fields"]["document_number"], "30123456");
    assert_eq!(json["reasons"], serde_json::json!([]));
}

#[test]
fn check_image_prints_the_barcode_fields_of_a_document_photo() {
    let img = card(&[(BarcodeFormat::Pdf417, AR_2012, 700, 500)], 1.0);
    let path = std::env::temp_dir().join(format!("dni-front-{}.png", std::process::id()));
    img.save(&path).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .args(["check-image", path.to_str().unwrap(), "--kind", "document", "--document", "ar_dni", "--side", "front"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["verdict"].is_string(), "{json}");
    assert_eq!(json["document"]["fields"]["document_number"], "30123456", "{json}");
    assert_eq!(json["document"]["barcodes"][0]["layout"], "ar_dni_2012");

    // A passport photo page with its MRZ given as text (from an OCR): the MRZ fields and check digits are reported.
    let mrz = "P<COLGARCIA<MARQUEZ<<GABRIEL<JOSE<<<<<<<<<<<\nAB12345671COL0203041M31091551020304050<<<<18";
    let page = card(&[], 1.0);
    let path = std::env::temp_dir().join(format!("passport-{}.png", std::process::id()));
    page.save(&path).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .args(["check-image", path.to_str().unwrap(), "--document", "passport", "--mrz-text", mrz])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["document"]["mrz"]["document_number"], "AB1234567", "{json}");
    assert!(json["document"]["reasons"].as_array().unwrap().is_empty(), "{json}");

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .args(["check-image", "Cargo.toml", "--document", "xx_card"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--document xx_card"));
}
