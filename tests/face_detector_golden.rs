//! The vendored `rustface` (faster kernels, `vendor/rustface`) must give exactly the published 0.1.7's
//! detections: same boxes, same scores to the bit. `tests/data/face_detector_golden.txt` holds the published
//! crate's output on the images of `support/face_golden.rs`; to regenerate it, see `vendor/rustface/README.md`.

#[path = "support/face_golden.rs"]
mod face_golden;

use std::collections::BTreeMap;

static MODEL: &[u8] = include_bytes!("../assets/seeta_fd_frontal_v1.0.bin");
static PORTRAIT: &[u8] = include_bytes!("data/astronaut.jpg");
static GOLDEN: &str = include_str!("data/face_detector_golden.txt");

/// The golden file's blocks by image name, each as `render` prints it.
fn golden_blocks() -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in GOLDEN.lines().filter(|l| !l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("image ") {
            blocks.push((rest.split(' ').next().unwrap().to_string(), String::new()));
        }
        let block = &mut blocks.last_mut().expect("the golden file starts with an image line").1;
        block.push_str(line);
        block.push('\n');
    }
    blocks
}

#[test]
fn vendored_detector_matches_the_published_crate_to_the_bit() {
    // The header states the settings: a settings change must come with a regenerated file.
    assert!(GOLDEN.starts_with(face_golden::HEADER), "the golden file's header differs: regenerate it");
    let golden = golden_blocks();
    let mut detector = face_golden::detector(MODEL);
    let mut actual = BTreeMap::new();
    let mut names = Vec::new();
    for (name, img) in face_golden::images(PORTRAIT) {
        names.push(name.to_string());
        actual.insert(name.to_string(), face_golden::render(detector.as_mut(), name, &img));
    }
    let golden_names: Vec<String> = golden.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        names, golden_names,
        "the images differ from the golden file's: regenerate it (vendor/rustface/README.md)"
    );

    let mismatches: Vec<String> = golden
        .iter()
        .filter(|(name, expected)| actual[name] != *expected)
        .map(|(name, expected)| format!("image {name}\n  published:\n{expected}  vendored:\n{}", actual[name]))
        .collect();
    assert!(
        mismatches.is_empty(),
        "the vendored rustface differs from the published 0.1.7 on {} of {} images:\n{}",
        mismatches.len(),
        golden.len(),
        mismatches.join("\n")
    );
    // The comparison covers real detections, not only empty lists.
    assert!(golden.iter().map(|(_, b)| b.lines().count() - 1).sum::<usize>() >= 20);
}
