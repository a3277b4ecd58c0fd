//! Logging setup, and masking of personal data in log lines.
//!
//! Phone numbers, names and document numbers are personal data: above debug level they appear masked.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` filters (default `info`). Safe to call more than once.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Keeps the first 3 and last 2 characters of a phone number or user id: `521*******78`.
pub fn mask_phone(value: &str) -> String {
    mask(value, 3, 2)
}

/// Keeps the first letter of each word of a name: `M. J. N.`.
pub fn mask_name(name: &str) -> String {
    name.split_whitespace().filter_map(|w| w.chars().next()).map(|c| format!("{c}.")).collect::<Vec<_>>().join(" ")
}

fn mask(value: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - keep_start - keep_end;
    chars[..keep_start]
        .iter()
        .chain(std::iter::repeat_n(&'*', hidden))
        .chain(&chars[chars.len() - keep_end..])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_and_names_are_masked() {
        assert_eq!(mask_phone("5215512345678"), "521********78");
        assert_eq!(mask_phone("US.13491208655302741918"), "US.******************18");
        assert_eq!(mask_phone("1234"), "****");
        assert_eq!(mask_name("María José Núñez"), "M. J. N.");
        assert_eq!(mask_name(""), "");
    }
}
