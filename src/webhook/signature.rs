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
    if !body.is_ascii()
        && let Ok(text) = std::str::from_utf8(body)
    {
        let mut escaped = mac(secret);
        escape_non_ascii(text, |chunk| escaped.update(chunk));
        if escaped.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// Feeds `sink` the text with every non-ASCII character written as lowercase `\uXXXX` UTF-16 units, as Meta
/// describes it: ASCII runs are passed through as they are, escapes are written into a small buffer (no
/// allocation per character), so the fallback costs little more than hashing the escaped bytes.
fn escape_non_ascii(text: &str, mut sink: impl FnMut(&[u8])) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut buffer = [0u8; 1024];
    let mut filled = 0;
    let mut units = [0u16; 2];
    let mut run_start = 0;
    for (at, ch) in text.char_indices() {
        if ch.is_ascii() {
            continue;
        }
        if filled > 0 && run_start < at {
            sink(&buffer[..filled]);
            filled = 0;
        }
        if run_start < at {
            sink(&bytes[run_start..at]);
        }
        for unit in ch.encode_utf16(&mut units) {
            if filled + 6 > buffer.len() {
                sink(&buffer[..filled]);
                filled = 0;
            }
            let unit = *unit;
            buffer[filled..filled + 6].copy_from_slice(&[
                b'\\',
                b'u',
                HEX[usize::from(unit >> 12)],
                HEX[usize::from((unit >> 8) & 0xf)],
                HEX[usize::from((unit >> 4) & 0xf)],
                HEX[usize::from(unit & 0xf)],
            ]);
            filled += 6;
        }
        run_start = at + ch.len_utf8();
    }
    if filled > 0 {
        sink(&buffer[..filled]);
    }
    sink(&bytes[run_start..]);
}

/// The escaped form as a string (tests and benchmarks).
#[doc(hidden)]
pub fn escaped_form(body: &str) -> String {
    let mut out = Vec::with_capacity(body.len() + 64);
    escape_non_ascii(body, |chunk| out.extend_from_slice(chunk));
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
}
