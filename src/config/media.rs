//! Media downloads and the media vault: the encryption key, how long media is kept, the largest download.

use std::time::Duration;

use super::env::{ConfigError, Env};
use super::secret::MediaKey;

pub const DEFAULT_MEDIA_RETENTION_HOURS: u64 = 72;
pub const DEFAULT_MEDIA_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
pub const DEFAULT_MEDIA_MAX_DOCUMENT_BYTES: u64 = 20 * 1024 * 1024;

/// Media downloads and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// `None`: a random key per process (development; stored media is unreadable after a restart).
    pub encryption_key: Option<MediaKey>,
    pub retention: Duration,
    pub max_image_bytes: u64,
    pub max_document_bytes: u64,
}

/// `MEDIA_ENCRYPTION_KEY` (never shown in an error), `MEDIA_RETENTION_HOURS` (at least 1),
/// `MEDIA_MAX_IMAGE_BYTES` and `MEDIA_MAX_DOCUMENT_BYTES`.
pub(super) fn from_env(env: &Env) -> Result<MediaConfig, ConfigError> {
    let encryption_key = match env.get("MEDIA_ENCRYPTION_KEY") {
        None => None,
        Some(raw) => Some(MediaKey::parse(raw).map_err(|reason| ConfigError::Invalid {
            name: "MEDIA_ENCRYPTION_KEY",
            value: "***".into(),
            reason,
        })?),
    };
    let retention_hours: u64 = env.parse("MEDIA_RETENTION_HOURS", DEFAULT_MEDIA_RETENTION_HOURS)?;
    if retention_hours == 0 {
        return Err(ConfigError::Invalid {
            name: "MEDIA_RETENTION_HOURS",
            value: "0".into(),
            reason: "must be at least 1".into(),
        });
    }
    Ok(MediaConfig {
        encryption_key,
        retention: Duration::from_secs(retention_hours * 3600),
        max_image_bytes: env.parse("MEDIA_MAX_IMAGE_BYTES", DEFAULT_MEDIA_MAX_IMAGE_BYTES)?,
        max_document_bytes: env.parse("MEDIA_MAX_DOCUMENT_BYTES", DEFAULT_MEDIA_MAX_DOCUMENT_BYTES)?,
    })
}
