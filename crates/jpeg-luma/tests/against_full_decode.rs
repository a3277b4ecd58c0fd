//! Every supported layout, decoded at 1/4 and 1/8 scale, against the box average of zune-jpeg's full-size luma
//! decode of the same file; plus the files that must be refused or handed on.

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use jpeg_luma::{Decoder, Error, Luma, Scale};

/// A photo-like RGB picture: gradients, fine stripes, hard edges, saturated and black patches, sensor noise.
fn picture(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491u32;
    let mut out = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 21) as f32 - 10.0;
            let (fx, fy) = (x as f32, y as f32);
            let mut r = 60.0 + 120.0 * fx / width as f32 + 30.0 * (fx / 3.0).sin();
            let mut g = 90.0 + 80.0 * fy / height as f32 + 25.0 * (fy / 5.0 + fx / 7.0).cos();
            let mut b = 140.0 - 60.0 * (fx + fy) / (width + height) as f32;
            let in_card = x > width / 4 && x < width / 2 && y > height / 3 && y < 2 * height / 3;
            if in_card {
                (r, g, b) = (250.0, 250.0, 245.0);
                if (x / 6 + y / 9) % 5 == 0 {
                    (r, g, b) = (10.0, 10.0, 20.0);
                }
            }
            for c in [r, g, b] {
                out.push((c + noise).clamp(0.0, 255.0) as u8);
            }
        }
    }
    out
}

fn encode(width: u32, height: u32, color: ColorType, setup: impl FnOnce(&mut Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let rgb = picture(width, height);
    let data = match color {
        ColorType::Luma => rgb.chunks_exact(3).map(|p| p[1]).collect(),
        _ => rgb,
    };
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 88);
    setup(&mut encoder);
    encoder.encode(&data, width as u16, height as u16, color).unwrap();
    out
}

/// zune-jpeg's full-size luma, box-averaged by `factor` (the reference this crate must match).
fn reference(jpeg: &[u8], factor: u32) -> Luma {
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(jpeg), options);
    let full = decoder.decode().unwrap();
    let (w, h) = decoder.dimensions().unwrap();
    let (ow, oh) = (w as u32 / factor, h as u32 / factor);
    let mut pixels = Vec::with_capacity((ow * oh) as usize);
    for oy in 0..oh {
        for ox in 0..ow {
            let mut sum = 0u32;
            for y in oy * factor..(oy + 1) * factor {
                for x in ox * factor..(ox + 1) * factor {
                    sum += u32::from(full[(y as usize) * w + x as usize]);
                }
            }
            pixels.push(((sum as f32) / (factor * factor) as f32).round() as u8);
        }
    }
    Luma { width: ow, height: oh, pixels }
}

/// Mean and largest absolute difference. The two differ only by rounding (zune's integer IDCT rounds each
/// pixel) and by clamping (the full decode clamps each pixel to 0..255 before averaging).
fn compare(got: &Luma, want: &Luma) -> (f64, u8) {
    assert_eq!((got.width, got.height), (want.width, want.height), "size");
    let diffs: Vec<u8> = got.pixels.iter().zip(&want.pixels).map(|(a, b)| a.abs_diff(*b)).collect();
    let mean = diffs.iter().map(|&d| f64::from(d)).sum::<f64>() / diffs.len() as f64;
    (mean, diffs.iter().copied().max().unwrap_or(0))
}

fn assert_matches(jpeg: &[u8], what: &str) {
    let decoder = Decoder::new(jpeg).unwrap_or_else(|e| panic!("{what}: {e}"));
    for scale in [Scale::Quarter, Scale::Eighth] {
        let got = decoder.decode(scale).unwrap_or_else(|e| panic!("{what} {scale:?}: {e}"));
        let (mean, max) = compare(&got, &reference(jpeg, scale.factor()));
        assert!(mean < 0.3 && max <= 4, "{what} at {scale:?}: mean difference {mean:.3}, largest {max}");
    }
}

#[test]
fn every_sampling_layout_matches_the_full_decode() {
    for (factor, name) in [
        (SamplingFactor::F_2_2, "4:2:0"),
        (SamplingFactor::F_2_1, "4:2:2"),
        (SamplingFactor::F_1_1, "4:4:4"),
        (SamplingFactor::F_1_2, "4:4:0"),
    ] {
        let jpeg = encode(640, 480, ColorType::Rgb, |e| e.set_sampling_factor(factor));
        assert_matches(&jpeg, name);
    }
}

#[test]
fn files_with_one_scan_per_component_are_handed_on() {
    // The encoder writes 4:1:1 as three non-interleaved scans.
    let jpeg = encode(320, 240, ColorType::Rgb, |e| e.set_sampling_factor(SamplingFactor::F_4_1));
    assert_eq!(jpeg.windows(2).filter(|w| *w == [0xFF, 0xDA]).count(), 3);
    assert!(matches!(Decoder::new(&jpeg), Err(Error::Unsupported(_))));
}

#[test]
fn sizes_that_are_not_whole_blocks_are_cropped_like_the_box_average() {
    for (w, h) in [(641, 479), (1003, 757), (35, 17), (8, 8)] {
        let jpeg = encode(w, h, ColorType::Rgb, |e| e.set_sampling_factor(SamplingFactor::F_2_2));
        let decoder = Decoder::new(&jpeg).unwrap();
        assert_eq!((decoder.width(), decoder.height()), (w, h));
        let got = decoder.decode(Scale::Quarter).unwrap();
        assert_eq!((got.width, got.height), (w / 4, h / 4));
        let (mean, max) = compare(&got, &reference(&jpeg, 4));
        assert!(mean < 0.3 && max <= 4, "{w}x{h}: mean {mean:.3}, max {max}");
    }
}

#[test]
fn grayscale_files_decode() {
    let jpeg = encode(500, 333, ColorType::Luma, |_| {});
    assert_matches(&jpeg, "grayscale");
}

#[test]
fn restart_intervals_are_followed() {
    for interval in [1u16, 3, 40] {
        let jpeg = encode(400, 300, ColorType::Rgb, |e| {
            e.set_sampling_factor(SamplingFactor::F_2_2);
            e.set_restart_interval(interval);
        });
        assert!(jpeg.windows(2).any(|w| w == [0xFF, 0xD0]), "the encoder wrote restart markers");
        assert_matches(&jpeg, &format!("restart interval {interval}"));
    }
}

#[test]
fn progressive_files_are_handed_on() {
    let jpeg = encode(320, 240, ColorType::Rgb, |e| e.set_progressive(true));
    assert!(matches!(Decoder::new(&jpeg), Err(Error::Unsupported(_))));
}

#[test]
fn a_cut_off_file_is_truncated_not_decoded_from_nothing() {
    let jpeg = encode(640, 480, ColorType::Rgb, |e| e.set_sampling_factor(SamplingFactor::F_2_2));
    for keep in [jpeg.len() / 2, jpeg.len() - 200] {
        let cut = &jpeg[..keep];
        let decoder = Decoder::new(cut).unwrap();
        assert_eq!(decoder.decode(Scale::Quarter), Err(Error::Truncated), "kept {keep} of {} bytes", jpeg.len());
        assert_eq!(decoder.decode(Scale::Eighth), Err(Error::Truncated));
    }
    // Cut inside the headers.
    assert!(Decoder::new(&jpeg[..100]).is_err());
    // Only the end-of-image marker missing: the picture is complete.
    assert!(Decoder::new(&jpeg[..jpeg.len() - 2]).unwrap().decode(Scale::Quarter).is_ok());
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let jpeg = encode(200, 150, ColorType::Rgb, |e| e.set_restart_interval(4));
    let mut seed = 99u32;
    for _ in 0..400 {
        let mut damaged = jpeg.clone();
        for _ in 0..4 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let at = (seed >> 8) as usize % damaged.len();
            damaged[at] = (seed >> 3) as u8;
        }
        if let Ok(decoder) = Decoder::new(&damaged) {
            let _ = decoder.decode(Scale::Quarter);
            let _ = decoder.decode(Scale::Eighth);
        }
    }
    for bytes in [&b""[..], b"\xFF\xD8", b"\xFF\xD8\xFF", b"GIF89a", b"\xFF\xD8\xFF\xD9"] {
        assert!(Decoder::new(bytes).is_err());
    }
}
