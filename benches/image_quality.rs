//! Photo quality benchmark: writes a few realistic 12-megapixel phone photos (a card on a wood table, sharp and
//! blurred; a bare table; a selfie-like portrait) to a temporary folder, times `quality::check` on each (single
//! thread, median and p90), then runs OpenCV's equivalent (`benches/opencv_quality.py`) on the same files and
//! prints both side by side.
//!
//! Run: `cargo bench --bench image_quality`. Env: BENCH_RUNS (30).

#[path = "../tests/support/photos.rs"]
mod photos;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image::RgbImage;
use photos::Scene;
use wa_onboard::verify::quality::{Kind, QualityReport, Thresholds, check};

struct Sample {
    name: &'static str,
    kind: Kind,
    path: PathBuf,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn selfie_like() -> RgbImage {
    let face = image::load_from_memory(include_bytes!("../tests/data/astronaut.jpg")).unwrap().into_rgb8();
    let big = image::imageops::resize(&face, 2600, 2600, image::imageops::FilterType::Triangle);
    let mut frame = photos::render(&Scene { card: false, ..Scene::phone().sized(3000, 4000) });
    image::imageops::replace(&mut frame, &big, 200, 700);
    frame
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let dir = std::env::temp_dir().join(format!("wa-onboard-image-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("writing sample photos to {}", dir.display());
    let card = photos::render(&Scene::phone());
    let images: Vec<(&'static str, Kind, RgbImage)> = vec![
        ("card_sharp", Kind::Document, card.clone()),
        ("card_blurred", Kind::Document, photos::blurred(&card, 8.0)),
        ("table_no_card", Kind::Document, photos::render(&Scene { card: false, ..Scene::phone() })),
        ("selfie", Kind::Selfie, selfie_like()),
    ];
    let samples: Vec<Sample> = images
        .into_iter()
        .map(|(name, kind, image)| {
            let path = dir.join(format!("{name}.jpg"));
            std::fs::write(&path, photos::jpeg(&image, 90)).unwrap();
            Sample { name, kind, path }
        })
        .collect();

    let thresholds = Thresholds::default();
    let mut rust: HashMap<&str, (f64, f64, f64, f64, QualityReport, u64)> = HashMap::new();
    for s in &samples {
        let bytes = std::fs::read(&s.path).unwrap();
        let _ = check(&bytes, s.kind, &thresholds); // warm up (face model load)
        let (mut totals, mut decodes, mut measures) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = None;
        for _ in 0..runs {
            let start = Instant::now();
            let report = check(&bytes, s.kind, &thresholds);
            totals.push(start.elapsed().as_secs_f64() * 1000.0);
            decodes.push(report.measurements.timings_ms.decode);
            measures.push(report.measurements.timings_ms.measure);
            last = Some(report);
        }
        for v in [&mut totals, &mut decodes, &mut measures] {
            v.sort_by(f64::total_cmp);
        }
        rust.insert(
            s.name,
            (
                percentile(&totals, 0.5),
                percentile(&totals, 0.9),
                percentile(&decodes, 0.5),
                percentile(&measures, 0.5),
                last.unwrap(),
                bytes.len() as u64,
            ),
        );
    }

    let opencv = run_opencv(&samples, runs);

    println!("\nImage quality checks, {runs} runs per file, one thread (times in ms)\n");
    println!(
        "| file (4000x3000 JPEG q90) | size | Rust median | Rust p90 | decode | measure | OpenCV median | OpenCV p90 | verdict | Rust blur / glare / luma | OpenCV blur / glare / luma |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for s in &samples {
        let (median, p90, decode, measure, report, size) = &rust[s.name];
        let m = &report.measurements;
        let (cv_median, cv_p90, cv_metrics) = match opencv.as_ref().and_then(|o| o.get(s.name)) {
            Some(o) => (
                format!("{:.1}", o["median_ms"].as_f64().unwrap_or(0.0)),
                format!("{:.1}", o["p90_ms"].as_f64().unwrap_or(0.0)),
                format!(
                    "{:.0} / {:.3} / {:.0}",
                    o["blur"].as_f64().unwrap_or(0.0),
                    o["glare"].as_f64().unwrap_or(0.0),
                    o["mean_luma"].as_f64().unwrap_or(0.0)
                ),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let reasons: Vec<&str> = report.reasons.iter().map(|r| r.as_str()).collect();
        let verdict = if reasons.is_empty() { "ok".to_owned() } else { format!("retake: {}", reasons.join(", ")) };
        println!(
            "| {} | {:.1} MB | {median:.1} | {p90:.1} | {decode:.1} | {measure:.1} | {cv_median} | {cv_p90} | {verdict} | {:.0} / {:.3} / {:.0} | {cv_metrics} |",
            s.name,
            *size as f64 / 1e6,
            m.blur_variance,
            m.glare_ratio,
            m.mean_luma,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs the OpenCV script; `None` (with instructions) when python3 or cv2 is missing.
fn run_opencv(samples: &[Sample], runs: usize) -> Option<HashMap<&'static str, serde_json::Value>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/opencv_quality.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg("--runs").arg(runs.to_string());
    for s in samples {
        cmd.arg(format!("{}={}", s.name, s.path.display()));
    }
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("\nOpenCV comparison skipped: cannot run python3 ({e}). Install Python 3 and then");
            eprintln!("`pip install opencv-python-headless` to compare.");
            return None;
        }
    };
    if !output.status.success() {
        eprintln!("\nOpenCV comparison skipped: {}", String::from_utf8_lossy(&output.stderr).trim());
        eprintln!("Install it with `pip install opencv-python-headless`.");
        return None;
    }
    let mut out = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if let Some(s) = samples.iter().find(|s| v["name"] == s.name) {
            out.insert(s.name, v);
        }
    }
    Some(out)
}
