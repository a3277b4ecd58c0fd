//! A bench's settings from its environment.

use anyhow::Context as _;

/// `name` parsed, or `default` when unset; a value that does not parse is an error that names it.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("invalid {name}={v:?}")),
        Err(_) => Ok(default),
    }
}
