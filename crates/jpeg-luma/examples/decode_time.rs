//! Times the scaled decode of a JPEG file against zune-jpeg's full luma decode, on one thread.
//!
//! Run: `cargo run --release -p jpeg-luma --example decode_time -- PHOTO.jpg [RUNS] [quarter|eighth|zune]`.

use std::time::Instant;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: decode_time PHOTO.jpg [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let only = args.next();
    let bytes = std::fs::read(&path)?;
    let time = |f: &dyn Fn()| {
        median(
            (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        )
    };
    let decoder = jpeg_luma::Decoder::new(&bytes)?;
    println!("{path}: {}x{}, {:.1} MB", decoder.width(), decoder.height(), bytes.len() as f64 / 1e6);
    for scale in [jpeg_luma::Scale::Quarter, jpeg_luma::Scale::Eighth] {
        if only.as_deref().is_some_and(|o| o != format!("{scale:?}").to_lowercase()) {
            continue;
        }
        let ms = time(&|| {
            decoder.decode(scale).expect("decodes");
        });
        println!("jpeg-luma {scale:?}: {ms:.1} ms");
    }
    if only.as_deref().is_some_and(|o| o != "zune") {
        return Ok(());
    }
    let ms = time(&|| {
        use zune_core::{colorspace::ColorSpace, options::DecoderOptions};
        let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::Luma);
        zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(&bytes), options).decode().expect("decodes");
    });
    println!("zune-jpeg full luma: {ms:.1} ms");
    Ok(())
}
