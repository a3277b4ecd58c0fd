//! Values that must never be printed: [`Secret`] (tokens, app secrets, a Redis URL with its password) and
//! [`MediaKey`] (the media vault's key). Their `Debug` shows `***`.

use std::fmt;

/// A value that must never be printed. `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the few places that must use it (signing, bearer headers).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The 32-byte AES-256-GCM key that encrypts stored media. `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKey([u8; 32]);

impl MediaKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key written as base64 (44 characters) or hex (64 characters).
    pub fn parse(value: &str) -> Result<Self, String> {
        use base64::Engine as _;
        let value = value.trim();
        let bytes = if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(value).map_err(|e| e.to_string())?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|_| "must be 32 bytes written as base64 or as 64 hex digits".to_owned())?
        };
        let len = bytes.len();
        bytes.try_into().map(Self).map_err(|_| format!("must be 32 bytes, got {len}"))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}
