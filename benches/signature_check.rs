//! What it costs to refuse a forged request, measured against the plain HMAC of the same body in the same run.
//!
//! - Signed endpoints (`X-WaOnboard-Signature`, agent outcomes and provider callbacks): a 4 MiB body with a header
//!   of 6,000 `v1=` entries, and one with a stale timestamp, against one HMAC of the body.
//! - The webhook (`X-Hub-Signature-256`): a wrong signature on a 1 MiB Spanish (non-ASCII) body, which is hashed
//!   raw and then in Meta's escaped-unicode form, against a wrong signature on an ASCII body of the same size.
//!
//! Run: `cargo bench --bench signature_check`. Env: BENCH_RUNS (20).

use std::time::Instant;

use wa_onboard::signing;
use wa_onboard::webhook::signature;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The fallback as it was before (a `format!` per character), to compare in the same run.
fn escape_before(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(text.len() + 64);
    let mut units = [0u16; 2];
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            for unit in ch.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Some(out)
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let secret = b"whsec_bench";
    let now = 1_763_800_000;

    let body = vec![b'a'; 4 * 1024 * 1024];
    let entry = format!("v1={}", "ab".repeat(32));
    let many = format!("t={now},{}", vec![entry.as_str(); 6000].join(","));
    let stale = format!("t={},{entry}", now - 3600);
    let one = format!("t={now},{entry}");
    let reference = median_ms(runs, || {
        let _ = signing::sign(secret, now, &body);
    });
    let wrong = median_ms(runs, || assert!(signing::verify(secret, Some(&one), &body, now, 300).is_err()));
    let many_ms = median_ms(runs, || assert!(signing::verify(secret, Some(&many), &body, now, 300).is_err()));
    let stale_ms = median_ms(runs, || assert!(signing::verify(secret, Some(&stale), &body, now, 300).is_err()));
    println!("signed endpoints, 4 MiB body (median of {runs} runs)");
    println!("| case | ms | × one HMAC |");
    println!("|---|---|---|");
    for (name, ms) in [
        ("reference: one HMAC of the body", reference),
        ("wrong v1, fresh timestamp", wrong),
        ("6,000 v1 entries", many_ms),
        ("stale timestamp", stale_ms),
    ] {
        println!("| {name} | {ms:.3} | {:.2} |", ms / reference);
    }

    let sentence = "{\"text\":{\"body\":\"Hola, mi cédula es la número 30123456, vivo en Bogotá, ¿qué sigue? 👍\"}},";
    let spanish = sentence.repeat(1024 * 1024 / sentence.len());
    let ascii = "a".repeat(spanish.len());
    let accented = "ñ".repeat(spanish.len() / 2);
    let forged = signature::sign(b"other", b"x");
    let plain = median_ms(runs, || assert!(signature::verify(secret, Some(&forged), ascii.as_bytes()).is_err()));
    println!();
    println!("webhook, wrong X-Hub-Signature-256 on a {} KiB body (median of {runs} runs)", spanish.len() / 1024);
    println!(
        "| body | refusal, ms | × ASCII refusal | escaped fallback alone, ms | fallback × HMAC of the body | \
         before: refusal, ms (× ASCII) |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, text) in
        [("ASCII (reference)", &ascii), ("Spanish chat JSON", &spanish), ("all 'ñ' (worst case)", &accented)]
    {
        let ms = median_ms(runs, || assert!(signature::verify(secret, Some(&forged), text.as_bytes()).is_err()));
        // A non-ASCII refusal is the plain HMAC of the raw bytes, then the fallback on the escaped form.
        let raw_hmac = median_ms(runs, || {
            let _ = signature::sign(secret, text.as_bytes());
        });
        let fallback = (ms - raw_hmac).max(0.0);
        let before = median_ms(runs, || {
            let _ = signature::sign(secret, text.as_bytes());
            if !text.is_ascii()
                && let Some(escaped) = escape_before(text.as_bytes())
            {
                let _ = signature::sign(secret, escaped.as_bytes());
            }
        });
        println!(
            "| {name} | {ms:.3} | {:.2} | {fallback:.3} | {:.2} | {before:.3} ({:.2}) |",
            ms / plain,
            fallback / raw_hmac,
            before / plain
        );
    }
}
