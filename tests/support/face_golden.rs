//! The face detector golden images and their rendering, shared by `tests/face_detector_golden.rs` (against the
//! vendored `rustface`) and `vendor/rustface/golden-probe` (against the published crate), so that both run the
//! exact same pixels through the exact same settings. Only `image` decoding and integer arithmetic: nothing here
//! may depend on floating point, or the two builds could see different images.

use rustface::{Detector, ImageData};

/// The settings of `src/verify/quality/face.rs`, with the lowest score threshold it uses so that many boxes,
/// weak ones included, are compared.
pub const MIN_FACE_SIZE: u32 = 40;
pub const PYRAMID_SCALE_FACTOR: f32 = 0.8;
pub const SLIDE_WINDOW_STEP: (u32, u32) = (4, 4);
pub const SCORE_THRESH: f64 = 0.01;

/// An 8-bit grayscale image, row-major.
#[derive(Clone)]
pub struct Gray {
    pub w: u32,
    pub h: u32,
    pub px: Vec<u8>,
}

impl Gray {
    fn filled(w: u32, h: u32, v: u8) -> Gray {
        Gray { w, h, px: vec![v; (w * h) as usize] }
    }

    fn at(&self, x: u32, y: u32) -> u8 {
        self.px[(y * self.w + x) as usize]
    }

    fn from_fn(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Gray {
        let mut px = Vec::with_capacity((w * h) as usize);
        for y in 0..h {
            for x in 0..w {
                px.push(f(x, y));
            }
        }
        Gray { w, h, px }
    }

    fn crop(&self, x0: u32, y0: u32, w: u32, h: u32) -> Gray {
        Gray::from_fn(w, h, |x, y| self.at(x0 + x, y0 + y))
    }

    /// Nearest neighbour: destination pixel x takes source pixel x * src_w / dst_w.
    fn scale(&self, w: u32, h: u32) -> Gray {
        Gray::from_fn(w, h, |x, y| self.at(x * self.w / w, y * self.h / h))
    }

    fn mirror(&self) -> Gray {
        Gray::from_fn(self.w, self.h, |x, y| self.at(self.w - 1 - x, y))
    }

    fn map(&self, f: impl Fn(u8) -> u8) -> Gray {
        Gray { w: self.w, h: self.h, px: self.px.iter().map(|&p| f(p)).collect() }
    }

    fn paste(mut self, src: &Gray, x0: u32, y0: u32) -> Gray {
        for y in 0..src.h {
            for x in 0..src.w {
                self.px[((y0 + y) * self.w + x0 + x) as usize] = src.at(x, y);
            }
        }
        self
    }
}

/// Grayscale with integer BT.601 weights (77 + 150 + 29 = 256), rounded.
fn to_gray(jpeg: &[u8]) -> Gray {
    let rgb = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).unwrap().to_rgb8();
    let px = rgb
        .pixels()
        .map(|p| ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]) + 128) >> 8) as u8)
        .collect();
    Gray { w: rgb.width(), h: rgb.height(), px }
}

/// The named images, all derived from the 512x512 portrait `jpeg` except the face-free ones.
pub fn images(jpeg: &[u8]) -> Vec<(&'static str, Gray)> {
    let g = to_gray(jpeg);
    let darken = |p: u8| (u32::from(p) * 3 / 5) as u8;
    let stretch = |p: u8| (i32::from(p) - 64).clamp(0, 127) as u8 * 2;
    // A small portrait in the lower left corner of a flat 640x480, and the portrait twice side by side.
    let corner = Gray::filled(640, 480, 140).paste(&g.scale(150, 150), 12, 318);
    let pair = Gray::filled(480, 240, 90).paste(&g.scale(240, 240), 0, 0).paste(&g.scale(240, 240).mirror(), 240, 0);
    let q = g.scale(256, 256);
    let grid = Gray::filled(512, 512, 0)
        .paste(&q, 0, 0)
        .paste(&q.mirror(), 256, 0)
        .paste(&q.map(darken), 0, 256)
        .paste(&q.map(stretch), 256, 256);
    // No face: a diagonal gradient, and flat grey with deterministic noise (a 32-bit LCG).
    let gradient = Gray::from_fn(320, 240, |x, y| ((x * 255 / 319 + y * 255 / 239) / 2) as u8);
    let noise = Gray::from_fn(300, 200, |x, y| {
        let s = (y * 300 + x).wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (96 + (s >> 24) % 64) as u8
    });
    vec![
        ("full_512", g.clone()),
        ("crop_37_23_400x400", g.crop(37, 23, 400, 400)),
        ("crop_101_5_333x257", g.crop(101, 5, 333, 257)),
        ("crop_13_41_480x300", g.crop(13, 41, 480, 300)),
        ("scale_480x360", g.scale(480, 360)),
        ("scale_288x384", g.scale(288, 384)),
        ("scale_200x200", g.scale(200, 200)),
        ("scale_160x160", g.scale(160, 160)),
        ("scale_640x320", g.scale(640, 320)),
        ("crop_scale_330x250", g.crop(61, 17, 401, 303).scale(330, 250)),
        ("corner_640x480", corner),
        ("pair_480x240", pair),
        ("grid_512", grid),
        ("mirror_512", g.mirror()),
        ("mirror_scale_360x480", g.mirror().scale(360, 480)),
        ("dark_512", g.map(darken)),
        ("dark_scale_288x384", g.scale(288, 384).map(darken)),
        ("stretch_480x360", g.scale(480, 360).map(stretch)),
        ("gradient_320x240", gradient),
        ("noise_300x200", noise),
    ]
}

/// The detector with the settings above.
pub fn detector(model: &[u8]) -> Box<dyn Detector> {
    let mut d = rustface::create_detector_with_model(rustface::read_model(model).unwrap());
    d.set_min_face_size(MIN_FACE_SIZE);
    d.set_pyramid_scale_factor(PYRAMID_SCALE_FACTOR);
    d.set_slide_window_step(SLIDE_WINDOW_STEP.0, SLIDE_WINDOW_STEP.1);
    d.set_score_thresh(SCORE_THRESH);
    d
}

/// One image's block in the golden file: `image <name> <w>x<h> <count>`, then one line per detection in the
/// detector's order, `<x> <y> <w> <h> <score as the hex bits of the f64>`.
pub fn render(detector: &mut dyn Detector, name: &str, img: &Gray) -> String {
    let faces = detector.detect(&ImageData::new(&img.px, img.w, img.h));
    let mut out = format!("image {name} {}x{} {}\n", img.w, img.h, faces.len());
    for f in &faces {
        let b = f.bbox();
        out += &format!("{} {} {} {} {:016x}\n", b.x(), b.y(), b.width(), b.height(), f.score().to_bits());
    }
    out
}

/// The header of the golden file.
pub const HEADER: &str = "\
# Face detector golden detections: the published rustface 0.1.7 (crates.io, default-features = false) on the
# images of tests/support/face_golden.rs, with min face size 40, pyramid scale factor 0.8, slide window step 4,4
# and score threshold 0.01. Scores are the bits of the f64, in hex. Produced by vendor/rustface/golden-probe
# (see vendor/rustface/README.md); checked against the vendored crate by tests/face_detector_golden.rs.
";
