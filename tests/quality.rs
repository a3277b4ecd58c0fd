//! The local photo quality checks on synthetic phone photos and a real portrait, each verdict asserted both ways:
//! the good photo passes, and the bad one fails for the right reason.

#[path = "support/photos.rs"]
mod photos;

use std::sync::OnceLock;
use std::time::Instant;

use image::RgbImage;
use wa_onboard::verify::quality::{Kind, QualityReport, Thresholds, Verdict, check};
use wa_onboard::verify::reason::ReasonCode::{self, *};

use photos::Scene;

/// The sharp, well-lit 4000x3000 scene, drawn once for all tests (at 2000x1500 then scaled up: drawing 12
/// megapixels in a debug build takes seconds; the benchmark draws it natively).
fn phone_scene() -> &'static RgbImage {
    static SCENE: OnceLock<RgbImage> = OnceLock::new();
    SCENE.get_or_init(|| photos::render_upscaled(&Scene::phone(), 2))
}

/// The same at 2000x1500 (an older phone), cheaper to vary in debug builds.
fn small_scene() -> &'static RgbImage {
    static SCENE: OnceLock<RgbImage> = OnceLock::new();
    SCENE.get_or_init(|| photos::render_upscaled(&Scene::phone().sized(2000, 1500), 2))
}

fn check_document(bytes: &[u8]) -> QualityReport {
    check(bytes, Kind::Document, &Thresholds::default())
}

fn check_selfie(bytes: &[u8]) -> QualityReport {
    check(bytes, Kind::Selfie, &Thresholds::default())
}

fn explain(report: &QualityReport) -> String {
    serde_json::to_string_pretty(report).unwrap()
}

#[track_caller]
fn assert_ok(report: &QualityReport) {
    assert_eq!(report.verdict, Verdict::Ok, "{}", explain(report));
    assert!(report.reasons.is_empty(), "{}", explain(report));
}

#[track_caller]
fn assert_retake(report: &QualityReport, reason: ReasonCode) {
    assert_eq!(report.verdict, Verdict::Retake, "{}", explain(report));
    assert!(report.reasons.contains(&reason), "expected {reason}: {}", explain(report));
}

fn astronaut() -> RgbImage {
    image::load_from_memory(include_bytes!("data/astronaut.jpg")).unwrap().into_rgb8()
}

fn canvas(width: u32, height: u32) -> RgbImage {
    draw(&Scene { card: false, ..Scene::phone().sized(width, height) })
}

/// Scenes of 2000 px and more are drawn at half size and scaled up, to keep debug test runs short.
fn draw(scene: &Scene) -> RgbImage {
    if scene.width.max(scene.height) >= 2000 { photos::render_upscaled(scene, 2) } else { photos::render(scene) }
}

// ---- documents ----

#[test]
fn a_sharp_well_lit_tilted_card_on_a_wood_table_passes_and_its_blurred_twin_does_not() {
    let sharp = check_document(&photos::jpeg(phone_scene(), 90));
    assert_ok(&sharp);
    let doc = sharp.measurements.document.as_ref().unwrap();
    assert!(doc.found && doc.corners_in_frame == 4 && !doc.touches_edge, "{}", explain(&sharp));
    assert!((doc.aspect - 1.586).abs() < 0.08, "{}", explain(&sharp));
    assert!((doc.tilt_deg - 5.0).abs() < 1.5, "{}", explain(&sharp));
    assert!((doc.fill_ratio - 0.35).abs() < 0.05, "{}", explain(&sharp));
    assert!(doc.long_side_px > 2000, "{}", explain(&sharp));
    assert_eq!((sharp.measurements.width, sharp.measurements.height), (4000, 3000));
    assert_eq!(sharp.measurements.decoded_scale, 0.25);

    let blurry = check_document(&photos::jpeg(&photos::blurred(phone_scene(), 8.0), 90));
    assert_retake(&blurry, Blurry);
    assert!(blurry.measurements.blur_variance * 3.0 < sharp.measurements.blur_variance);
    for reason in [Glare, TooDark, Overexposed, NoDocument, Cropped, LowResolution] {
        assert!(!blurry.reasons.contains(&reason), "{reason}: {}", explain(&blurry));
    }
}

#[test]
fn good_photos_pass_across_fills_tilts_and_positions() {
    // (share of the frame, tilt in degrees, centre x, centre y): a false retake loses a real customer.
    for (fill, tilt, cx, cy) in
        [(0.33, -8.0, 0.5, 0.5), (0.5, 3.0, 0.45, 0.55), (0.7, 0.0, 0.5, 0.5), (0.4, 10.0, 0.55, 0.45)]
    {
        let scene =
            Scene { card_fill: fill, tilt_deg: tilt, card_cx: cx, card_cy: cy, ..Scene::phone() }.sized(2000, 1500);
        let report = check_document(&photos::jpeg(&draw(&scene), 88));
        assert_ok(&report);
        let doc = report.measurements.document.as_ref().unwrap();
        assert!((doc.tilt_deg - tilt).abs() < 1.5 && (doc.fill_ratio - fill).abs() < 0.06, "{}", explain(&report));
    }
}

#[test]
fn slightly_soft_still_passes() {
    // A little softness (hand shake at 4000 px) must not cost a customer.
    assert_ok(&check_document(&photos::jpeg(&photos::blurred(small_scene(), 0.8), 85)));
}

#[test]
fn glare_on_the_card_is_refused_and_off_the_card_is_not() {
    let on_card = check_document(&photos::jpeg(&photos::with_glare(small_scene(), 0.6, 0.45, 0.06), 90));
    assert_retake(&on_card, Glare);
    let on_table = check_document(&photos::jpeg(&photos::with_glare(small_scene(), 0.05, 0.08, 0.02), 90));
    assert_ok(&on_table);
}

#[test]
fn dark_and_overexposed_photos_are_refused() {
    let dark = check_document(&photos::jpeg(&photos::relit(small_scene(), |v| v * 0.12), 90));
    assert_retake(&dark, TooDark);
    assert!(!dark.reasons.contains(&Overexposed));
    let bright = check_document(&photos::jpeg(&photos::relit(small_scene(), |v| v * 0.5 + 160.0), 90));
    assert_retake(&bright, Overexposed);
    assert!(!bright.reasons.contains(&TooDark));
    // A dim but usable room passes.
    assert_ok(&check_document(&photos::jpeg(&photos::relit(small_scene(), |v| v * 0.6), 90)));
}

#[test]
fn a_card_running_off_the_edge_is_cropped() {
    let scene = Scene { card_cx: 0.8, tilt_deg: 2.0, ..Scene::phone() }.sized(2000, 1500);
    let report = check_document(&photos::jpeg(&draw(&scene), 90));
    assert_retake(&report, Cropped);
    let doc = report.measurements.document.as_ref().unwrap();
    assert!(doc.touches_edge && doc.corners_in_frame < 4, "{}", explain(&report));
    // The same card, fully in the frame, passes.
    let inside = Scene { card_cx: 0.5, ..scene };
    assert_ok(&check_document(&photos::jpeg(&draw(&inside), 90)));
}

#[test]
fn a_card_spanning_too_few_pixels_is_low_resolution() {
    let small = check_document(&photos::jpeg(&draw(&Scene::phone().sized(1000, 750)), 92));
    assert_retake(&small, LowResolution);
    assert!(small.measurements.document.as_ref().unwrap().long_side_px < 1000, "{}", explain(&small));
    // A WhatsApp-sized photo (1600x1200) with the card filling half the frame is enough.
    let whatsapp = Scene { card_fill: 0.5, ..Scene::phone() }.sized(1600, 1200);
    assert_ok(&check_document(&photos::jpeg(&draw(&whatsapp), 85)));
}

#[test]
fn a_table_without_a_card_has_no_document() {
    let report = check_document(&photos::jpeg(&canvas(2000, 1500), 90));
    assert_retake(&report, NoDocument);
    assert!(!report.measurements.document.as_ref().unwrap().found);
}

#[test]
fn png_and_webp_photos_are_accepted() {
    let image = draw(&Scene::phone().sized(2000, 1500));
    let png = check_document(&photos::png(&image));
    assert_ok(&png);
    assert_eq!(png.measurements.format, Some("png"));
    let mut webp = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut webp), image::ImageFormat::WebP).unwrap();
    let webp = check_document(&webp);
    assert_ok(&webp);
    assert_eq!(webp.measurements.format, Some("webp"));
    // The same photo refused for the same reason whatever the format.
    let blurred = photos::blurred(&image, 4.0);
    assert_retake(&check_document(&photos::png(&blurred)), Blurry);
}

// ---- files that are not photos ----

#[test]
fn a_decompression_bomb_is_refused_in_milliseconds() {
    let bomb = photos::png_bomb(30_000);
    assert!(bomb.len() < 8_000_000, "{} bytes", bomb.len());
    let start = Instant::now();
    let report = check_document(&bomb);
    assert!(start.elapsed().as_millis() < 200, "{:?}", start.elapsed());
    assert_eq!(report.reasons, vec![UnreadableFile], "{}", explain(&report));
    assert!(report.measurements.error.as_deref().unwrap().contains("30000x30000"), "{}", explain(&report));
}

#[test]
fn a_100_megapixel_header_is_refused_before_decoding() {
    let small = photos::jpeg(&canvas(64, 48), 80);
    assert_eq!(check_document(&small).measurements.format, Some("jpeg"));
    let start = Instant::now();
    let report = check_document(&photos::with_claimed_size(&small, 12_000, 8_400));
    assert!(start.elapsed().as_millis() < 200, "{:?}", start.elapsed());
    assert_eq!(report.reasons, vec![UnreadableFile], "{}", explain(&report));
    assert!(report.measurements.error.as_deref().unwrap().contains("12000x8400"), "{}", explain(&report));
}

#[test]
fn truncated_jpegs_pdfs_heic_and_text_are_unreadable_but_a_whole_jpeg_is_not() {
    let whole = photos::jpeg(&draw(&Scene::phone().sized(1600, 1200)), 90);
    assert_ne!(check_document(&whole).reasons, vec![UnreadableFile]);
    let truncated = &whole[..whole.len() * 6 / 10];
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    for bytes in [
        truncated,
        &whole[..600],
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".as_slice(),
        &heic,
        b"hello, this is my ID".as_slice(),
        b"",
        &[0xFF, 0xD8, 0xFF],
    ] {
        for kind in [Kind::Document, Kind::Selfie] {
            let report = check(bytes, kind, &Thresholds::default());
            assert_eq!(report.reasons, vec![UnreadableFile], "{}", explain(&report));
            assert_eq!(report.verdict, Verdict::Retake);
        }
    }
}

#[test]
fn garbage_never_panics() {
    let whole = photos::jpeg(&canvas(160, 120), 80);
    let png = photos::png(&canvas(64, 48));
    let mut seed = 12345u32;
    for i in 0..300 {
        let base = if i % 2 == 0 { &whole } else { &png };
        let mut bytes = base.clone();
        for _ in 0..1 + i % 7 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let at = 2 + (seed as usize >> 4) % (bytes.len() - 2);
            bytes[at] = (seed >> 24) as u8;
        }
        let report = check(&bytes, if i % 3 == 0 { Kind::Selfie } else { Kind::Document }, &Thresholds::default());
        assert!(report.verdict == Verdict::Ok || !report.reasons.is_empty());
    }
}

// ---- orientation ----

#[test]
fn exif_orientation_is_honoured() {
    // Stored rotated a quarter turn, with orientation 6 ("rotate 90 clockwise to view").
    let stored = image::imageops::rotate270(&astronaut());
    let bytes = photos::jpeg(&image::RgbImage::from_raw(512, 512, stored.into_raw()).unwrap(), 92);
    let sideways = check_selfie(&bytes);
    assert_retake(&sideways, NoFace);
    let upright = check_selfie(&photos::with_exif_orientation(&bytes, 6));
    assert_ok(&upright);

    // Width and height come out upright too.
    let wide = photos::jpeg(&canvas(400, 240), 85);
    let report = check_document(&photos::with_exif_orientation(&wide, 6));
    assert_eq!((report.measurements.width, report.measurements.height), (240, 400), "{}", explain(&report));
    let report = check_document(&wide);
    assert_eq!((report.measurements.width, report.measurements.height), (400, 240));
}

// ---- selfies ----

#[test]
fn one_face_passes_and_two_faces_do_not() {
    let one = check_selfie(include_bytes!("data/astronaut.jpg"));
    assert_ok(&one);
    assert_eq!(one.measurements.faces.as_ref().unwrap().count, 1);

    let face = astronaut();
    let mut two = RgbImage::new(1024, 512);
    image::imageops::replace(&mut two, &face, 0, 0);
    image::imageops::replace(&mut two, &face, 512, 0);
    let report = check_selfie(&photos::jpeg(&two, 90));
    assert_retake(&report, MultipleFaces);
    assert_eq!(report.measurements.faces.as_ref().unwrap().count, 2, "{}", explain(&report));
}

#[test]
fn a_tiny_face_is_too_small() {
    let mut frame = canvas(2400, 1800);
    image::imageops::replace(&mut frame, &astronaut(), 900, 600);
    let report = check_selfie(&photos::jpeg(&frame, 90));
    assert_retake(&report, FaceTooSmall);
    assert!(!report.reasons.contains(&NoFace), "{}", explain(&report));
}

/// Pastes the astronaut's face, cropped with a margin and scaled to `side` px, at (x, y): its face box is a little
/// over half of `side`.
fn paste_face(frame: &mut RgbImage, side: u32, x: i64, y: i64) {
    let crop = image::imageops::crop_imm(&astronaut(), 135, 28, 178, 178).to_image();
    let face = image::DynamicImage::ImageRgb8(crop).resize_exact(side, side, image::imageops::FilterType::Triangle);
    image::imageops::replace(frame, &face.into_rgb8(), x, y);
}

/// A bare table, 3000x4000 like a 12-megapixel phone portrait.
fn table_12mp() -> RgbImage {
    static TABLE: OnceLock<RgbImage> = OnceLock::new();
    TABLE.get_or_init(|| draw(&Scene { card: false, ..Scene::phone().sized(3000, 4000) })).clone()
}

#[test]
fn a_small_face_in_a_12_megapixel_selfie_is_too_small_not_missing() {
    // About 9% of the short side: smaller than the quick first search looks for, found by the wide one.
    let mut frame = table_12mp();
    paste_face(&mut frame, 490, 800, 1200);
    let report = check_selfie(&photos::jpeg(&frame, 90));
    assert_retake(&report, FaceTooSmall);
    assert!(!report.reasons.contains(&NoFace), "{}", explain(&report));
    let faces = report.measurements.faces.as_ref().unwrap();
    assert_eq!(faces.count, 1, "{}", explain(&report));
    assert!(faces.largest_ratio > 0.07 && faces.largest_ratio < 0.11, "{}", explain(&report));
}

#[test]
fn a_second_face_big_enough_to_pass_is_counted_in_a_12_megapixel_selfie() {
    // The user's face (about 25% of the short side) and someone behind them (about 13%).
    let mut frame = table_12mp();
    paste_face(&mut frame, 1360, 200, 1200);
    paste_face(&mut frame, 710, 1900, 400);
    let report = check_selfie(&photos::jpeg(&frame, 90));
    assert_retake(&report, MultipleFaces);
    assert_eq!(report.measurements.faces.as_ref().unwrap().count, 2, "{}", explain(&report));
    assert!(!report.reasons.contains(&FaceTooSmall), "{}", explain(&report));
}

#[test]
fn a_card_or_a_table_has_no_face() {
    assert_retake(&check_selfie(&photos::jpeg(&canvas(1600, 1200), 85)), NoFace);
    let card = draw(&Scene::phone().sized(1600, 1200));
    assert_retake(&check_selfie(&photos::jpeg(&card, 85)), NoFace);
}

#[test]
fn half_a_face_is_cropped_or_not_found() {
    let face = astronaut();
    let half = image::imageops::crop_imm(&face, 225, 0, 287, 512).to_image();
    let report = check_selfie(&photos::jpeg(&half, 90));
    assert_eq!(report.verdict, Verdict::Retake, "{}", explain(&report));
    assert!(report.reasons.contains(&FaceCropped) || report.reasons.contains(&NoFace), "{}", explain(&report));
}

#[test]
fn a_blurred_or_dark_selfie_is_refused() {
    let face = astronaut();
    assert_retake(&check_selfie(&photos::jpeg(&photos::blurred(&face, 6.0), 90)), Blurry);
    assert_retake(&check_selfie(&photos::jpeg(&photos::relit(&face, |v| v * 0.12), 90)), TooDark);
}

#[test]
fn thresholds_are_the_callers() {
    let bytes = include_bytes!("data/astronaut.jpg");
    let mut strict = Thresholds::default();
    strict.selfie.min_face_ratio = 0.5;
    assert_retake(&check(bytes, Kind::Selfie, &strict), FaceTooSmall);
    let mut lenient = Thresholds::default();
    lenient.document.min_document_px = 100;
    let small = photos::jpeg(&draw(&Scene::phone().sized(1000, 750)), 92);
    assert_ok(&check(&small, Kind::Document, &lenient));
}

// ---- the command line ----

#[test]
fn check_image_prints_one_json_object_and_exits_0_whatever_the_verdict() {
    let dir = std::env::temp_dir().join(format!("wa-onboard-check-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let selfie = dir.join("selfie.jpg");
    std::fs::write(&selfie, include_bytes!("data/astronaut.jpg")).unwrap();
    let not_a_photo = dir.join("id.jpg");
    std::fs::write(&not_a_photo, b"%PDF-1.4\n").unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard")).arg("check-image").args(args).output().unwrap()
    };

    let out = run(&[selfie.as_os_str(), "--kind".as_ref(), "selfie".as_ref()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "ok", "{json}");
    assert_eq!(json["measurements"]["faces"]["count"], 1, "{json}");

    let out = run(&[selfie.as_os_str()]); // a document by default: a portrait is no document
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "retake");
    assert_eq!(json["reasons"], serde_json::json!(["no_document"]), "{json}");

    let out = run(&[not_a_photo.as_os_str()]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["reasons"], serde_json::json!(["unreadable_file"]), "{json}");

    let out = run(&[dir.join("missing.jpg").as_os_str()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();
}
