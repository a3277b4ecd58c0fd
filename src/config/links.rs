//! Links to systems outside the service: the live agents' handoff links, and the company's webhook that hears how
//! each onboarding ended.

use super::env::{ConfigError, Env, require_http_url};
use super::secret::Secret;

#[derive(Debug, Clone)]
pub struct AgentLinkConfig {
    /// Where handoff links point; unset: this service's own `/agent/handoff` (development).
    pub base_url: Option<String>,
    pub secret: Secret,
    pub ttl_secs: u64,
}

/// `AGENT_LINK_BASE_URL`. Read apart from the rest of [`AgentLinkConfig`]: it is checked before the workers'
/// settings, `AGENT_LINK_TTL_SECS` after every other setting (see [`super::Config::from_env`]).
pub(super) fn agent_base_url(env: &Env) -> Result<Option<String>, ConfigError> {
    let agent_base = env.get("AGENT_LINK_BASE_URL").map(str::to_owned);
    if let Some(base) = &agent_base {
        require_http_url("AGENT_LINK_BASE_URL", base)?;
    }
    Ok(agent_base)
}

/// The handoff links: `base_url` from [`agent_base_url`], `AGENT_LINK_SECRET` (unset: derived from the app
/// secret) and `AGENT_LINK_TTL_SECS`.
pub(super) fn agent_link(
    env: &Env,
    base_url: Option<String>,
    app_secret: &Secret,
) -> Result<AgentLinkConfig, ConfigError> {
    let secret = match env.get("AGENT_LINK_SECRET") {
        Some(s) => Secret::new(s),
        // Derived from the app secret, so links work out of the box; set AGENT_LINK_SECRET to share it with
        // the agent system without sharing the Meta app secret.
        None => Secret::new(format!("agent-link:{}", app_secret.expose())),
    };
    Ok(AgentLinkConfig { base_url, secret, ttl_secs: env.parse("AGENT_LINK_TTL_SECS", 24 * 3600)? })
}

/// `COMPANY_WEBHOOK_URL` and, when it is set, the `COMPANY_WEBHOOK_SECRET` that signs its requests.
pub(super) fn company_webhook(env: &Env) -> Result<Option<(String, Secret)>, ConfigError> {
    match (env.get("COMPANY_WEBHOOK_URL"), env.get("COMPANY_WEBHOOK_SECRET")) {
        (None, _) => Ok(None),
        (Some(url), secret) => {
            require_http_url("COMPANY_WEBHOOK_URL", url)?;
            let secret = secret.ok_or(ConfigError::Missing {
                name: "COMPANY_WEBHOOK_SECRET",
                hint: "the secret that signs requests to COMPANY_WEBHOOK_URL (shared with the company's system)",
            })?;
            Ok(Some((url.to_owned(), Secret::new(secret))))
        }
    }
}
