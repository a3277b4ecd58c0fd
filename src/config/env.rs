//! Where settings are read from ([`Env`]: the process environment and `.env`, or given pairs in tests), the typed
//! parsing helpers every section uses, and [`ConfigError`], which names the variable at fault.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name} is required but not set: {hint}")]
    Missing { name: &'static str, hint: &'static str },
    #[error("{name}={value:?} is invalid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
}

/// Reads variables from a map so that tests never touch the process environment.
pub struct Env(HashMap<String, String>);

impl Env {
    /// The process environment, after loading `.env` when one exists (variables already set win).
    pub fn from_process() -> Self {
        // A missing .env is normal; a malformed one is reported when a setting it should hold is missing.
        let _ = dotenvy::dotenv();
        Self(std::env::vars().collect())
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }

    /// A set, non-empty variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A set variable parsed as `T`, or `default` when unset; a value that does not parse names the variable.
    pub(super) fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                value: raw.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}

/// Fails unless `value` (the setting `name`) starts with `http://` or `https://`.
pub(super) fn require_http_url(name: &'static str, value: &str) -> Result<(), ConfigError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            name,
            value: value.to_owned(),
            reason: "must start with http:// or https://".into(),
        })
    }
}
