//! `LOG_FORMAT`: text for people, JSON for log pipelines.

use super::env::{ConfigError, Env};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// `LOG_FORMAT`, `text` or `json` in any case.
pub(super) fn log_format(env: &Env) -> Result<LogFormat, ConfigError> {
    match env.get("LOG_FORMAT").map(str::to_ascii_lowercase).as_deref() {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(ConfigError::Invalid {
            name: "LOG_FORMAT",
            value: other.to_owned(),
            reason: "must be `text` or `json`".into(),
        }),
    }
}

/// `LOG_FORMAT` without failing: anything but `json` is text (for logging before the rest is checked).
pub(super) fn log_format_lenient(env: &Env) -> LogFormat {
    match env.get("LOG_FORMAT") {
        Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
        _ => LogFormat::Text,
    }
}
