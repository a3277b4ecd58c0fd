//! Downloading media a user sent: look the id up, download with the bearer token, streamed under a size cap,
//! check the type from the bytes themselves and the SHA-256, and fetch a fresh URL when the old one expired.
//!
//! Every failure is a [`MediaError`] the conversation can turn into "please send it again".

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::client::{CloudApi, network};
use super::error::{GraphError, Retry};

/// What kind of file is expected, which decides the cap and the accepted types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// JPEG, PNG or WebP.
    Image,
    /// PDF, or an image sent as a document.
    Document,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    pub max_image_bytes: u64,
    pub max_document_bytes: u64,
    /// How many times a download is tried in all (fresh URL on expiry, transient errors).
    pub attempts: u32,
    /// Pause between two tries after a transient error.
    pub retry_pause: Duration,
    /// Whole-download timeout.
    pub download_timeout: Duration,
}

impl Default for MediaLimits {
    fn default() -> Self {
        Self {
            max_image_bytes: 10 * 1024 * 1024,
            max_document_bytes: 20 * 1024 * 1024,
            attempts: 3,
            retry_pause: Duration::from_millis(300),
            download_timeout: Duration::from_secs(60),
        }
    }
}

impl MediaLimits {
    /// The caps from `MEDIA_MAX_IMAGE_BYTES` / `MEDIA_MAX_DOCUMENT_BYTES`, the rest by default.
    pub fn from_config(config: &crate::config::MediaConfig) -> Self {
        Self {
            max_image_bytes: config.max_image_bytes,
            max_document_bytes: config.max_document_bytes,
            ..Self::default()
        }
    }

    pub fn cap(&self, kind: MediaKind) -> u64 {
        match kind {
            MediaKind::Image => self.max_image_bytes,
            MediaKind::Document => self.max_document_bytes,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MediaError {
    /// The media id is unknown (or older than Meta's 7 days).
    #[error("the media does not exist (or is older than 7 days)")]
    NotFound,
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the file was declared {declared} but its bytes are {sniffed}")]
    WrongType { declared: String, sniffed: String },
    #[error("the file's SHA-256 does not match the one Meta reported")]
    ChecksumMismatch,
    /// The download URL kept expiring within the retry budget.
    #[error("the download URL expired, also after fetching fresh ones")]
    Expired,
    /// Meta or the network failed within the retry budget.
    #[error("the media could not be downloaded: {0}")]
    Unavailable(String),
    #[error("the WhatsApp access token has expired")]
    TokenExpired,
}

/// A downloaded, checked file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMedia {
    pub id: String,
    pub bytes: Bytes,
    /// From the bytes: `image/jpeg`, `image/png`, `image/webp`, `application/pdf`.
    pub mime_type: String,
    /// What Meta's lookup said.
    pub declared_mime_type: String,
    /// Lowercase hex.
    pub sha256_hex: String,
}

#[derive(Debug, Deserialize)]
struct Lookup {
    url: String,
    #[serde(default)]
    mime_type: String,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    file_size: Option<u64>,
}

/// The type from the first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        [b'%', b'P', b'D', b'F', b'-', ..] => Some("application/pdf"),
        _ => None,
    }
}

/// A SHA-256 as Meta writes it, base64 (current) or hex (older payloads), as raw bytes.
pub fn parse_sha256(value: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    let value = value.trim();
    let bytes = if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(value).ok()?
    } else {
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        engines.iter().find_map(|e| e.decode(value).ok())?
    };
    bytes.try_into().ok()
}

fn accepted(kind: MediaKind, sniffed: &str) -> bool {
    match kind {
        MediaKind::Image => matches!(sniffed, "image/jpeg" | "image/png" | "image/webp"),
        MediaKind::Document => matches!(sniffed, "application/pdf" | "image/jpeg" | "image/png" | "image/webp"),
    }
}

/// What went wrong in one try, and whether another one may help.
enum Attempt {
    /// Look the media up again (the URL expired) and retry.
    Refresh,
    /// Retry after a pause (transient).
    Transient(String),
    Final(MediaError),
}

fn from_graph(error: GraphError) -> Attempt {
    match error.retry_policy(0) {
        Retry::TokenExpired => Attempt::Final(MediaError::TokenExpired),
        Retry::After(_) => Attempt::Transient(error.to_string()),
        _ if matches!(error.code(), Some(100)) || error.http_status() == Some(404) => {
            Attempt::Final(MediaError::NotFound)
        }
        _ => Attempt::Final(MediaError::Unavailable(error.to_string())),
    }
}

/// Downloads media `media_id`, checks it, and answers the bytes. `expected_sha256` (from the webhook, base64 or
/// hex) wins over the lookup's when both are present.
pub async fn fetch_media(
    api: &CloudApi,
    limits: &MediaLimits,
    media_id: &str,
    expected_sha256: Option<&str>,
    kind: MediaKind,
) -> Result<FetchedMedia, MediaError> {
    if api.token_expired() {
        return Err(MediaError::TokenExpired);
    }
    let mut last_transient = String::new();
    let mut expired = false;
    for attempt in 0..limits.attempts.max(1) {
        if attempt > 0 && !expired {
            tokio::time::sleep(limits.retry_pause).await;
        }
        match try_fetch(api, limits, media_id, expected_sha256, kind).await {
            Ok(media) => return Ok(media),
            Err(Attempt::Final(e)) => return Err(e),
            Err(Attempt::Refresh) => {
                tracing::debug!(attempt, "media URL expired: looking it up again");
                expired = true;
            }
            Err(Attempt::Transient(e)) => {
                expired = false;
                last_transient = e;
            }
        }
    }
    Err(if expired { MediaError::Expired } else { MediaError::Unavailable(last_transient) })
}

async fn try_fetch(
    api: &CloudApi,
    limits: &MediaLimits,
    media_id: &str,
    expected_sha256: Option<&str>,
    kind: MediaKind,
) -> Result<FetchedMedia, Attempt> {
    let cap = limits.cap(kind);
    let lookup = lookup(api, media_id).await?;
    if lookup.file_size.is_some_and(|size| size > cap) {
        return Err(Attempt::Final(MediaError::TooLarge { limit: cap }));
    }
    let expected = match expected_sha256.or(lookup.sha256.as_deref()) {
        Some(value) => Some(
            parse_sha256(value)
                .ok_or_else(|| Attempt::Final(MediaError::Unavailable("the reported SHA-256 is unreadable".into())))?,
        ),
        None => None,
    };

    let response = api
        .http()
        .get(&lookup.url)
        .header(reqwest::header::AUTHORIZATION, api.bearer())
        .timeout(limits.download_timeout)
        .send()
        .await
        .map_err(|e| Attempt::Transient(network(e).to_string()))?;
    let status = response.status();
    if matches!(status.as_u16(), 404 | 410 | 403) {
        return Err(Attempt::Refresh);
    }
    if !status.is_success() {
        let body = response.bytes().await.unwrap_or_default();
        let error = GraphError::from_response(status.as_u16(), &body);
        if error.is_token_expired() {
            api.note_error(&error);
        }
        return Err(from_graph(error));
    }
    if response.content_length().is_some_and(|len| len > cap) {
        return Err(Attempt::Final(MediaError::TooLarge { limit: cap }));
    }

    // Streamed: never more than `cap` bytes (plus one chunk) are held.
    let mut hasher = Sha256::new();
    let mut buffer = BytesMut::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Attempt::Transient(network(e).to_string()))?;
        if buffer.len() as u64 + chunk.len() as u64 > cap {
            return Err(Attempt::Final(MediaError::TooLarge { limit: cap }));
        }
        hasher.update(&chunk);
        buffer.extend_from_slice(&chunk);
    }
    let bytes = buffer.freeze();

    let sniffed = sniff(&bytes);
    let declared = lookup.mime_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let declared_known = sniff_names().contains(&declared.as_str());
    match sniffed {
        Some(s) if accepted(kind, s) && (!declared_known || declared == s) => {}
        other => {
            return Err(Attempt::Final(MediaError::WrongType {
                declared: if declared.is_empty() { "unknown".into() } else { declared },
                sniffed: other.unwrap_or("unknown").to_owned(),
            }));
        }
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if let Some(expected) = expected
        && expected != digest
    {
        return Err(Attempt::Final(MediaError::ChecksumMismatch));
    }
    Ok(FetchedMedia {
        id: media_id.to_owned(),
        mime_type: sniffed.unwrap_or_default().to_owned(),
        declared_mime_type: lookup.mime_type,
        sha256_hex: hex::encode(digest),
        bytes,
    })
}

fn sniff_names() -> [&'static str; 4] {
    ["image/jpeg", "image/png", "image/webp", "application/pdf"]
}

async fn lookup(api: &CloudApi, media_id: &str) -> Result<Lookup, Attempt> {
    // Media ids are digits in practice; anything that could change the request path is refused as unknown.
    let id = media_id;
    if id.is_empty()
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        || id.starts_with('.')
    {
        return Err(Attempt::Final(MediaError::NotFound));
    }
    let response = api
        .http()
        .get(api.url(id))
        .header(reqwest::header::AUTHORIZATION, api.bearer())
        .send()
        .await
        .map_err(|e| Attempt::Transient(network(e).to_string()))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| Attempt::Transient(network(e).to_string()))?;
    if !status.is_success() {
        let error = GraphError::from_response(status.as_u16(), &body);
        api.note_error(&error);
        return Err(from_graph(error));
    }
    serde_json::from_slice(&body)
        .map_err(|e| Attempt::Final(MediaError::Unavailable(format!("unexpected media lookup answer: {e}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_types_we_accept() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0]), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn sha256_in_hex_or_base64() {
        let digest: [u8; 32] = Sha256::digest(b"hola").into();
        let hex = hex::encode(digest);
        let b64 = crate::sim::base64_std(&digest);
        assert_eq!(parse_sha256(&hex), Some(digest));
        assert_eq!(parse_sha256(&hex.to_uppercase()), Some(digest));
        assert_eq!(parse_sha256(&b64), Some(digest));
        assert_eq!(parse_sha256(b64.trim_end_matches('=')), Some(digest));
        assert_eq!(parse_sha256("nope"), None);
    }
}
