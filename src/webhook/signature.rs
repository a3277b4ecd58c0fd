//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw request body, keyed with the Meta app secret.
//!
//! Checked on the raw bytes before anything is parsed. Meta's documentation says the signature is computed over
//! an escaped-unicode form of the payload; raw bytes are what Meta sends and normally match, so the escaped form
//! is tried only when the raw bytes fail and contain non-ASCII characters.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

pub const HEADER: &str = "x-hub-signature-256";
const PREFIX: &str = "sha256=";

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not `sha256=` followed by 64 hex digits")]
    Malformed,
    #[error("the X-Hub-Signature-256 header does not match the body (wrong app secret, or a changed body)")]
    Mismatch,
}

impl SignatureError {
    /// A short label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Mismatch => "mismatch",
        }
    }
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length")
}

/// The header value Meta would send for `body`: `sha256=<lowercase hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a header value against the body, in constant time.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = header
        .get(..PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(PREFIX))
        .map(|_| &header[PREFIX.len()..])
        .ok_or(SignatureError::Malformed)?;
    let mut expected = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut expected).map_err(|_| SignatureError::Malformed)?;

    let mut plain = mac(secret);
    plain.update(body);
    if plain.verify_slice(&expected).is_ok() {
        return Ok(());
    }
    if !body.is_ascii() {
        let mut escaped = Vec::with_capacity(body.len() + body.len() / 2);
        if escape_non_ascii(body, &mut escaped) {
            let mut mac = mac(secret);
            mac.update(&escaped);
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Appends the body with every non-ASCII character written as lowercase `\uXXXX` UTF-16 units, as Meta
/// describes it; `false` when the body is not UTF-8 (then no escaped form exists). ASCII is skipped eight bytes at
/// a time and copied in whole runs, so the fallback costs little more than hashing the escaped bytes (see
/// `benches/signature_check.rs`).
fn escape_non_ascii(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    let mut at = 0;
    while at < bytes.len() {
        let run_start = at;
        while let Some(chunk) = bytes.get(at..at + 8) {
            let word =
                u64::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7]]);
            if word & HIGH_BITS != 0 {
                break;
            }
            at += 8;
        }
        while at < bytes.len() && bytes[at].is_ascii() {
            at += 1;
        }
        out.extend_from_slice(&bytes[run_start..at]);
        if at == bytes.len() {
            break;
        }
        let Some((point, len)) = decode_utf8(&bytes[at..]) else { return false };
        match u16::try_from(point) {
            Ok(unit) => push_escape(out, unit),
            Err(_) => {
                // A surrogate pair, as JSON writes characters beyond the Basic Multilingual Plane.
                let above = point - 0x10000;
                push_escape(out, 0xd800 | (above >> 10) as u16);
                push_escape(out, 0xdc00 | (above & 0x3ff) as u16);
            }
        }
        at += len;
    }
    true
}

/// The code point at the start of `bytes` (which starts with a non-ASCII byte) and its length in bytes; `None`
/// when the bytes are not UTF-8 there. Decoded by hand: this runs once per accented letter of a Spanish message.
fn decode_utf8(bytes: &[u8]) -> Option<(u32, usize)> {
    let continuation = |at: usize| bytes.get(at).filter(|b| *b & 0xc0 == 0x80).map(|b| u32::from(b & 0x3f));
    let lead = u32::from(*bytes.first()?);
    let (point, len) = match lead {
        0xc2..=0xdf => (((lead & 0x1f) << 6) | continuation(1)?, 2),
        0xe0..=0xef => (((lead & 0x0f) << 12) | (continuation(1)? << 6) | continuation(2)?, 3),
        0xf0..=0xf4 => {
            (((lead & 0x07) << 18) | (continuation(1)? << 12) | (continuation(2)? << 6) | continuation(3)?, 4)
        }
        _ => return None,
    };
    // Overlong forms, surrogates and points beyond U+10FFFF are not UTF-8.
    let shortest = match len {
        2 => point >= 0x80,
        3 => point >= 0x800 && !(0xd800..=0xdfff).contains(&point),
        _ => (0x10000..=0x10ffff).contains(&point),
    };
    shortest.then_some((point, len))
}

fn push_escape(out: &mut Vec<u8>, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let unit = usize::from(unit);
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[unit >> 12],
        HEX[(unit >> 8) & 0xf],
        HEX[(unit >> 4) & 0xf],
        HEX[unit & 0xf],
    ]);
}

/// The escaped form as a string (tests and benchmarks).
#[doc(hidden)]
pub fn escaped_form(body: &str) -> String {
    let mut out = Vec::with_capacity(body.len() + 64);
    escape_non_ascii(body.as_bytes(), &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret";

    #[test]
    fn a_signature_made_by_sign_verifies() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        assert_eq!(verify(SECRET, Some(&sign(SECRET, body)), body), Ok(()));
    }

    #[test]
    fn a_known_vector_matches() {
        // printf '%s' 'hello' | openssl dgst -sha256 -hmac 'app-secret'
        assert_eq!(sign(SECRET, b"hello"), "sha256=ad5c6aa52b4bf4d1955ccd07b1393163fa5aa461e01cedabf58a512035063c49");
    }

    #[test]
    fn bad_headers_are_told_apart() {
        let body = b"{}";
        let good = sign(SECRET, body);
        assert_eq!(verify(SECRET, None, body), Err(SignatureError::Missing));
        assert_eq!(verify(SECRET, Some("md5=abc"), body), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some("sha256=zz"), body), Err(SignatureError::Malformed));
        assert_eq!(verify(SECRET, Some(&good[..good.len() - 2]), body), Err(SignatureError::Malformed));
        assert_eq!(verify(b"other-secret", Some(&good), body), Err(SignatureError::Mismatch));
        assert_eq!(verify(SECRET, Some(&good), b"{ }"), Err(SignatureError::Mismatch));
    }

    #[test]
    fn upper_case_hex_and_prefix_are_accepted() {
        let body = b"{}";
        let good = sign(SECRET, body).replace("sha256=", "SHA256=").to_uppercase();
        assert_eq!(verify(SECRET, Some(&good), body), Ok(()));
    }

    #[test]
    fn escaped_unicode_form_is_accepted_as_fallback() {
        let raw = "{\"body\":\"Olá äöå 🎉\"}";
        let escaped = "{\"body\":\"Ol\\u00e1 \\u00e4\\u00f6\\u00e5 \\ud83c\\udf89\"}";
        assert_eq!(escaped_form(raw), escaped);
        assert_eq!(escaped_form("plain"), "plain");
        assert_eq!(escaped_form("ñ"), "\\u00f1");
        let header = sign(SECRET, escaped.as_bytes());
        assert_eq!(verify(SECRET, Some(&header), raw.as_bytes()), Ok(()));
    }

    #[test]
    fn the_escaped_form_matches_a_character_by_character_reference() {
        let reference = |text: &str| -> String {
            text.chars()
                .map(|ch| {
                    if ch.is_ascii() {
                        ch.to_string()
                    } else {
                        ch.encode_utf16(&mut [0u16; 2]).iter().map(|u| format!("\\u{u:04x}")).collect()
                    }
                })
                .collect()
        };
        for text in [
            "",
            "a",
            "ñ",
            "añb",
            "0123456789abcdefñ",
            "ñ0123456789abcdef",
            "🎉🎉 x 中文 ¿qué? €",
            "ascii only, longer than eight",
        ] {
            assert_eq!(escaped_form(text), reference(text), "{text}");
        }
        let mut out = Vec::new();
        assert!(!escape_non_ascii(b"ok \xff not utf-8", &mut out), "no escaped form for bytes that are not UTF-8");
        assert!(!escape_non_ascii(b"cut \xc3", &mut out));
        assert!(!escape_non_ascii(b"overlong \xc0\xaf", &mut out));
        assert!(!escape_non_ascii(b"surrogate \xed\xa0\x80", &mut out));
    }
}
