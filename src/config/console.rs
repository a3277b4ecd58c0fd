//! The agent console's sessions and sign-in lockout.

use std::time::Duration;

use super::env::{ConfigError, Env};

#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// A session unused this long is gone (`CONSOLE_SESSION_IDLE_SECS`).
    pub session_idle: Duration,
    /// Failed sign-ins for one account before it is locked for the window (`CONSOLE_SIGNIN_MAX_FAILURES`);
    /// an address may fail four times as often (several agents behind one office address).
    pub max_failures: u64,
    /// How long a lockout lasts, from the first failure (`CONSOLE_SIGNIN_LOCKOUT_SECS`).
    pub lockout: Duration,
    /// Cookies carry `Secure` (set when `PUBLIC_BASE_URL` is https).
    pub secure_cookies: bool,
}

pub(super) fn from_env(env: &Env, public_base_url: Option<&str>) -> Result<ConsoleConfig, ConfigError> {
    let idle: u64 = env.parse("CONSOLE_SESSION_IDLE_SECS", 30 * 60)?;
    let max_failures: u64 = env.parse("CONSOLE_SIGNIN_MAX_FAILURES", 5)?;
    let lockout: u64 = env.parse("CONSOLE_SIGNIN_LOCKOUT_SECS", 15 * 60)?;
    Ok(ConsoleConfig {
        session_idle: Duration::from_secs(idle.max(60)),
        max_failures: max_failures.max(1),
        lockout: Duration::from_secs(lockout.max(1)),
        secure_cookies: public_base_url.is_some_and(|u| u.starts_with("https://")),
    })
}
