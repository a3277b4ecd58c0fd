//! `audit show`: a user's audit trail, oldest first, one JSON object a line. `audit verify`: whether the trail's
//! hash chain holds (exit 1 when a record was changed, reordered or removed). Also the store opening shared by
//! the commands that read one person's data (`erase`, `export`).

use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::{Config, Env, StoreConfig};
use wa_onboard::flow::state::UserKey;
use wa_onboard::store::Backend;

/// The configuration and the Redis backend, and the key of `user` (at `phone_number_id`, or the configured
/// business number). `what` says what cannot be reached in memory.
pub(crate) async fn open_user(
    env: &Env,
    user: &str,
    phone_number_id: Option<String>,
    what: &str,
) -> anyhow::Result<(Config, Backend, UserKey)> {
    // Only the store settings matter here: secrets are not needed.
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!("REDIS_URL is not set: {what} lives inside the server process (use the API there)");
    }
    let phone_number_id = phone_number_id
        .or(config.phone_number_id.clone())
        .context("give --phone-number-id or set WHATSAPP_PHONE_NUMBER_ID")?;
    let backend = Backend::for_config(&config).await?;
    Ok((config, backend, UserKey { phone_number_id, user: user.to_owned() }))
}

pub(crate) async fn show(
    env: &Env,
    user: &str,
    phone_number_id: Option<String>,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let (_, backend, key) = open_user(env, user, phone_number_id, "the in-memory audit trail").await?;
    let records = backend.conversations().audit(&key, limit).await.context("cannot read the audit trail")?;
    if records.is_empty() {
        eprintln!("no audit records for {key}");
    }
    for record in records {
        println!("{}", serde_json::to_string(&record)?);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn verify(env: &Env, user: &str, phone_number_id: Option<String>) -> anyhow::Result<ExitCode> {
    let (_, backend, key) = open_user(env, user, phone_number_id, "the in-memory audit trail").await?;
    let chain = backend.conversations().audit_chain(&key).await.context("cannot read the audit trail")?;
    let verification = wa_onboard::store::audit_chain::verify(&chain);
    println!("{}", serde_json::to_string_pretty(&verification)?);
    if verification.breaks.is_empty() {
        eprintln!("the audit trail of {key} holds: {} records, each linked to the one before", verification.records);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("the audit trail of {key} was altered: {} breaks", verification.breaks.len());
        Ok(ExitCode::FAILURE)
    }
}
