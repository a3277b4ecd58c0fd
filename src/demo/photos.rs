//! Synthetic phone photos for the quality tests and the benchmark: an ID-1 card (aspect 1.586, light, with a header
//! band, a photo box, lines of "text" and a fine guilloche) lying on a wood-like table, with sensor noise and a
//! light falloff; and the ways such photos go wrong (blur, glare, darkness, cropping, bombs, truncation).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    /// Share of the frame the card covers (0 to 1).
    pub card_fill: f64,
    /// Card centre as a share of the frame's width and height.
    pub card_cx: f64,
    pub card_cy: f64,
    pub tilt_deg: f64,
    /// Whether to draw a card at all.
    pub card: bool,
}

impl Scene {
    /// A sharp, well-lit card covering about a third of a 4000x3000 frame, tilted 5 degrees.
    pub fn phone() -> Scene {
        Scene { width: 4000, height: 3000, card_fill: 0.35, card_cx: 0.5, card_cy: 0.52, tilt_deg: 5.0, card: true }
    }

    pub fn sized(self, width: u32, height: u32) -> Scene {
        Scene { width, height, ..self }
    }
}

/// A cheap deterministic per-pixel noise in -1..1.
fn noise(x: u32, y: u32, seed: u32) -> f64 {
    let mut h = x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263) ^ seed.wrapping_mul(2_246_822_519);
    h = (h ^ (h >> 13)).wrapping_mul(1_274_126_177);
    h ^= h >> 16;
    f64::from(h & 0xffff) / 32_767.5 - 1.0
}

pub fn render(scene: &Scene) -> RgbImage {
    let (w, h) = (f64::from(scene.width), f64::from(scene.height));
    let card_h = (scene.card_fill * w * h / 1.586).sqrt();
    let card_w = card_h * 1.586;
    let (cx, cy) = (scene.card_cx * w, scene.card_cy * h);
    let (c, s) = (scene.tilt_deg.to_radians().cos(), scene.tilt_deg.to_radians().sin());
    let scale = w.max(h) / 4000.0; // texture sizes follow the frame
    let mut image = RgbImage::new(scene.width, scene.height);
    for (x, y, px) in image.enumerate_pixels_mut() {
        let (fx, fy) = (f64::from(x), f64::from(y));
        let (dx, dy) = (fx - cx, fy - cy);
        let (u, v) = (dx * c + dy * s + card_w / 2.0, -dx * s + dy * c + card_h / 2.0);
        let falloff = 1.0 - 0.15 * ((dx / w).powi(2) + (dy / h).powi(2)) * 2.0;
        let sensor = 4.0 * noise(x, y, 7);
        let rgb = if scene.card && (0.0..card_w).contains(&u) && (0.0..card_h).contains(&v) {
            let l = card_luma(u / card_h, v / card_h, card_w / card_h);
            [l * 0.97, l, l * 1.02]
        } else {
            let grain =
                18.0 * (std::f64::consts::TAU * (fy + 40.0 * (fx / (350.0 * scale)).sin()) / (95.0 * scale)).sin();
            let base = 125.0 + grain + 10.0 * noise(x / 3, y / 3, 3);
            [base * 1.12, base * 0.86, base * 0.62]
        };
        *px = Rgb(rgb.map(|ch| (ch * falloff + sensor).round().clamp(0.0, 255.0) as u8));
    }
    image
}

/// Luma of the card at (u, v) in units of the card's height; `aspect` is its width over height.
fn card_luma(u: f64, v: f64, aspect: f64) -> f64 {
    let guilloche = 6.0 * (std::f64::consts::TAU * (u + 0.5 * v) / 0.03).sin();
    // Header band with light lettering.
    if (0.05..0.15).contains(&v) && (0.05..aspect - 0.05).contains(&u) {
        let letter = ((u - 0.08) / 0.035).fract() < 0.55 && (0.075..0.125).contains(&v) && u < aspect * 0.7;
        return if letter { 230.0 } else { 95.0 };
    }
    // Photo box with a darker head and shoulders.
    if (0.06..0.46).contains(&u) && (0.22..0.85).contains(&v) {
        let head = ((u - 0.26) / 0.1).powi(2) + ((v - 0.45) / 0.13).powi(2) < 1.0;
        let shoulders = v > 0.68 && ((u - 0.26) / 0.18).abs() < 1.0;
        return if head || shoulders { 70.0 } else { 165.0 };
    }
    // Lines of text: blocks of "characters" of varying width.
    let line = ((v - 0.25) / 0.09).floor();
    if (0.0..7.0).contains(&line) && ((v - 0.25) / 0.09).fract() < 0.5 {
        let len = aspect - 0.6 - 0.12 * ((line * 1.7).sin().abs() * 3.0);
        if (0.55..0.55 + len).contains(&u) {
            let k = ((u - 0.55) / 0.028).floor();
            let width = 0.45 + 0.35 * (k * 2.3 + line).sin().abs();
            if ((u - 0.55) / 0.028).fract() < width && (k * 0.7 + line * 1.3).sin() > -0.85 {
                return 35.0;
            }
        }
    }
    222.0 + guilloche
}

/// The scene drawn at 1/`factor` of its size, then scaled up (bilinear): much cheaper to draw in unoptimised
/// test builds, and still sharp once the checks decode it at 1000 px.
pub fn render_upscaled(scene: &Scene, factor: u32) -> RgbImage {
    let small = render(&Scene { width: scene.width / factor, height: scene.height / factor, ..*scene });
    // Through `DynamicImage`: its methods are compiled (optimised) in `image`, where the generic functions would be
    // instantiated here, unoptimised in debug builds.
    image::DynamicImage::ImageRgb8(small)
        .resize_exact(scene.width, scene.height, image::imageops::FilterType::Triangle)
        .into_rgb8()
}

pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(Cursor::new(&mut out), quality).encode_image(image).expect("encode JPEG");
    out
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png).expect("encode PNG");
    out
}

/// A blurred copy (Gaussian-like, sigma in pixels of the frame).
pub fn blurred(image: &RgbImage, sigma: f32) -> RgbImage {
    image::DynamicImage::ImageRgb8(image.clone()).fast_blur(sigma).into_rgb8()
}

/// A saturated blob of light, as from a lamp or the sun on a laminated card.
pub fn with_glare(image: &RgbImage, cx: f64, cy: f64, radius: f64) -> RgbImage {
    let mut out = image.clone();
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let (cx, cy, r) = (cx * w, cy * h, radius * w);
    for (x, y, px) in out.enumerate_pixels_mut() {
        let d = ((f64::from(x) - cx).powi(2) + (f64::from(y) - cy).powi(2)).sqrt() / r;
        if d < 1.6 {
            let boost = if d < 1.0 { 255.0 } else { 255.0 * (1.6 - d) / 0.6 };
            *px = Rgb(px.0.map(|ch| (f64::from(ch) + boost).min(255.0) as u8));
        }
    }
    out
}

/// Every channel mapped through `f`.
pub fn relit(image: &RgbImage, f: impl Fn(f64) -> f64) -> RgbImage {
    let mut out = image.clone();
    for px in out.pixels_mut() {
        *px = Rgb(px.0.map(|ch| f(f64::from(ch)).round().clamp(0.0, 255.0) as u8));
    }
    out
}

/// A JPEG with an EXIF APP1 segment carrying `orientation` inserted right after the SOI marker.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The same JPEG with its frame header claiming another size (the data still being the small image's).
pub fn with_claimed_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = out.windows(2).position(|m| m[0] == 0xFF && (m[1] == 0xC0 || m[1] == 0xC2)).expect("a frame header");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// A valid grayscale PNG of `side` x `side` black pixels, compressed to about a thousandth of its pixel count:
/// a decompression bomb. Written by hand (a fixed-Huffman deflate stream of maximal back-references), so making
/// it costs nothing like decoding it would.
pub fn png_bomb(side: u32) -> Vec<u8> {
    let raw_len = u64::from(side) * (u64::from(side) + 1); // each row: filter byte + pixels, all zero
    let mut bits = BitWriter::default();
    bits.put(1, 1); // final block
    bits.put(1, 2); // fixed Huffman
    bits.put_code(0b0011_0000, 8); // literal 0
    let mut left = raw_len - 1;
    while left >= 258 {
        bits.put_code(0b1100_0101, 8); // length 258
        bits.put_code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.put_code(0b0011_0000, 8);
    }
    bits.put_code(0, 7); // end of block
    let mut zlib = vec![0x78, 0x01];
    zlib.extend_from_slice(&bits.finish());
    let adler = ((raw_len % 65_521) as u32) << 16 | 1;
    zlib.extend_from_slice(&adler.to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grayscale
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", &ihdr), (b"IDAT", &zlib), (b"IEND", &Vec::new())] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    /// `count` bits of `value`, least significant first (deflate's header fields and extra bits).
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.bit((value >> i) & 1);
        }
    }

    /// A Huffman code, most significant bit first.
    fn put_code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.bit((code >> i) & 1);
        }
    }

    fn bit(&mut self, b: u32) {
        self.acc |= b << self.n;
        self.n += 1;
        if self.n == 8 {
            self.bytes.push(self.acc as u8);
            (self.acc, self.n) = (0, 0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.bytes.push(self.acc as u8);
        }
        self.bytes
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
