//! `X-WaOnboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, both ways: on our requests
//! to providers and on their callbacks to us ([`crate::verify::providers`]), on the company webhook's
//! notifications ([`crate::conversation::notify`]) and on agent outcomes ([`crate::agent::outcome`]). The
//! timestamp is inside the signed text, so an old request cannot be replayed past the tolerance window. Several
//! `v1=` entries may be present (secret rotation): one match is enough.
//!
//! Also the signed media URLs a provider may fetch images from ([`media_url`], [`verify_media_url`]).
//!
//! Pure: the caller passes the time (unix seconds) from its clock.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

pub const SIGNATURE_HEADER: &str = "x-waonboard-signature";
/// How far a signature's timestamp may be from our clock, either way.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the X-WaOnboard-Signature header is missing")]
    Missing,
    #[error("the X-WaOnboard-Signature header is not `t=<unix seconds>,v1=<64 hex digits>`")]
    Malformed,
    #[error("the signature does not match the body (wrong secret, or a changed body)")]
    Mismatch,
    #[error("the signature timestamp is {age_secs} s away from now, outside the replay window")]
    Stale { age_secs: i64 },
}

fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    match <HmacSha256 as KeyInit>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

fn digest(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(digest(secret, timestamp, body).finalize().into_bytes()))
}

/// At most this many `v1=` entries are looked at: enough for a secret rotation, never a cost to an attacker.
pub const MAX_SIGNATURES: usize = 5;
/// Headers longer than this are refused before they are parsed (5 entries of 67 bytes and a timestamp fit).
const MAX_HEADER_LEN: usize = 512;

/// Checks a header against the body and the clock (`now`, unix seconds), in constant time. Returns the signed
/// timestamp.
///
/// Cheap to refuse: the header's size, its form and the timestamp are checked before the body is touched, and
/// the HMAC over the body is computed once whatever the number of `v1=` entries (at most [`MAX_SIGNATURES`]).
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    if header.len() > MAX_HEADER_LEN {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut candidates: Vec<[u8; 32]> = Vec::with_capacity(2);
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            "v1" => {
                if candidates.len() == MAX_SIGNATURES {
                    return Err(SignatureError::Malformed);
                }
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(value, &mut bytes).map_err(|_| SignatureError::Malformed)?;
                candidates.push(bytes);
            }
            _ => {} // other schemes: ignored, as Stripe does
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let age = now.saturating_sub(timestamp);
    if age.abs() > tolerance_secs {
        return Err(SignatureError::Stale { age_secs: age });
    }
    let expected = digest(secret, timestamp, body).finalize().into_bytes();
    // Every candidate is compared (no early exit), each in constant time.
    let matches = candidates.iter().fold(false, |found, c| found | bool::from(c.as_slice().ct_eq(expected.as_slice())));
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    Ok(timestamp)
}

/// `{base}/media/{media_id}?exp={expires}&sig={hex HMAC-SHA256 of "{media_id}.{expires}"}`: a URL a provider
/// may fetch one image from until `expires` (unix seconds).
pub fn media_url(base: &str, media_id: &str, expires: i64, secret: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(format!("{media_id}.{expires}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    format!("{}/media/{media_id}?exp={expires}&sig={sig}", base.trim_end_matches('/'))
}

/// Checks the `exp` and `sig` of a media URL for `media_id` at `now`.
pub fn verify_media_url(media_id: &str, expires: i64, sig: &str, now: i64, secret: &[u8]) -> bool {
    let mut bytes = [0u8; 32];
    if now > expires || hex::decode_to_slice(sig, &mut bytes).is_err() {
        return false;
    }
    let mut mac = mac(secret);
    mac.update(format!("{media_id}.{expires}").as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// `bytes` bytes from the operating system's secure generator, as hex: session ids, API tokens, CSRF tokens.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS generator does not fail on the systems we run on; if it ever did, refusing to start a session is
    // better than a guessable id.
    if let Err(e) = getrandom::fill(&mut buf) {
        panic!("the operating system's random generator failed: {e}");
    }
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of docs/providers.md.
    #[test]
    fn documented_example() {
        let body = br#"{"capability":"registry","correlation_id":"conv-8f3a:1","conversation_id":"conv-8f3a","attempt":1,"country":"AR","document_type":"ar_dni","document_number":"30123456","images":[],"fields":{}}"#;
        let header = sign(b"whsec_test_123", 1_763_800_000, body);
        assert_eq!(header, "t=1763800000,v1=ed2b0deca33594b50440b7194da3deabacea548fe5d0b6645f63d1881e23493b");
    }

    /// The callback and media URL examples of docs/providers.md.
    #[test]
    fn documented_callback_and_media_url() {
        let body = br#"{"provider":"acme","capability":"registry","correlation_id":"conv-8f3a:1","status":"fail","reason":"registry_hit","confidence":0.99,"fields":{"registry_detail":"stolen"},"reference":"acme-77"}"#;
        assert_eq!(
            sign(b"whsec_test_123", 1_763_800_042, body),
            "t=1763800042,v1=46afac7f5a6654b5318b95b48817fe60654e9a1c3f45988385c041e53d3a566d"
        );
        assert_eq!(
            media_url("https://onboard.example.com", "m-7c1e", 1_763_800_300, b"media-url-secret"),
            "https://onboard.example.com/media/m-7c1e?exp=1763800300\
             &sig=cd747dbf935e603b5d474c6c3be1f8d1d41a5150c47bd7243a57a1ce0fad559f"
        );
    }

    #[test]
    fn verify_accepts_rotation_and_rejects_the_rest() {
        let body = b"{}";
        let good = sign(b"new", 1000, body);
        let old = sign(b"old", 1000, body);
        let both = format!("{},{}", good, old.split_once(',').unwrap().1);
        assert_eq!(verify(b"new", Some(&both), body, 1000, 300), Ok(1000));
        assert_eq!(verify(b"old", Some(&both), body, 1000, 300), Ok(1000));
        assert_eq!(verify(b"other", Some(&good), body, 1000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"new", Some(&good), b"{ }", 1000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"new", Some(&good), body, 1400, 300), Err(SignatureError::Stale { age_secs: 400 }));
        assert_eq!(verify(b"new", None, body, 1000, 300), Err(SignatureError::Missing));
        assert_eq!(verify(b"new", Some("t=1000"), body, 1000, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(b"new", Some("garbage"), body, 1000, 300), Err(SignatureError::Malformed));
    }

    #[test]
    fn refusals_are_cheap_and_bounded() {
        let body = b"{}";
        let good = sign(b"k", 1000, body);
        let entry = good.split_once(',').unwrap().1;
        // A stale timestamp is refused as stale even with a wrong signature: the body is never hashed.
        let forged = format!("t=1,{entry}");
        assert_eq!(verify(b"other", Some(&forged), body, 1000, 300), Err(SignatureError::Stale { age_secs: 999 }));
        // Five entries (a rotation) are fine, a sixth is refused before any HMAC.
        let five = format!("{good}{}", format!(",{entry}").repeat(4));
        assert_eq!(verify(b"k", Some(&five), body, 1000, 300), Ok(1000));
        let six = format!("{five},{entry}");
        assert_eq!(verify(b"k", Some(&six), body, 1000, 300), Err(SignatureError::Malformed));
        let long = format!("t=1000,{}", "x=y,".repeat(200));
        assert_eq!(verify(b"k", Some(&long), body, 1000, 300), Err(SignatureError::Malformed));
    }

    #[test]
    fn media_urls() {
        let url = media_url("https://onboard.example.com/", "m-1", 2000, b"k");
        let sig = url.rsplit_once("sig=").unwrap().1;
        assert!(url.starts_with("https://onboard.example.com/media/m-1?exp=2000&sig="));
        assert!(verify_media_url("m-1", 2000, sig, 1999, b"k"));
        assert!(!verify_media_url("m-1", 2000, sig, 2001, b"k"));
        assert!(!verify_media_url("m-2", 2000, sig, 1999, b"k"));
    }
}
