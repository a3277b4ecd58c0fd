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

    let matches = |bytes: &[u8]| {
        let mut mac = mac(secret);
        mac.update(bytes);
        mac.verify_slice(&expected).is_ok()
    };
    if matches(body) {
        return Ok(());
    }
    if !body.is_ascii()
        && let Some(escaped) = escape_non_ascii(body)
        && matches(escaped.as_bytes())
    {
        return Ok(());
    }
    Err(SignatureError::Mismatch)
}

/// The body with every non-ASCII character written as lowercase `\uXXXX` UTF-16 units, as Meta describes it.
/// `None` when the body is not UTF-8 (then no escaped form exists).
fn escape_non_ascii(body: &[u8]) -> Option<String> {
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
        assert_eq!(escape_non_ascii(raw.as_bytes()).as_deref(), Some(escaped));
        let header = sign(SECRET, escaped.as_bytes());
        assert_eq!(verify(SECRET, Some(&header), raw.as_bytes()), Ok(()));
    }
}
