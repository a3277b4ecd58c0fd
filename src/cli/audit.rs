//! `audit`: a user's conversation audit log, oldest first, one JSON object a line.

use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::{Config, Env, StoreConfig};

pub(crate) async fn run(
    env: &Env,
    user: &str,
    phone_number_id: Option<String>,
    limit: usize,
) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!("REDIS_URL is not set: the in-memory audit log lives inside the server process");
    }
    let phone_number_id = phone_number_id
        .or(config.phone_number_id.clone())
        .context("give --phone-number-id or set WHATSAPP_PHONE_NUMBER_ID")?;
    let backend =
        wa_onboard::store::Backend::open(&config.store, config.dedupe_ttl, wa_onboard::clock::system()).await?;
    let key = wa_onboard::flow::state::UserKey { phone_number_id, user: user.to_owned() };
    let records = backend.conversations().audit(&key, limit).await.context("cannot read the audit log")?;
    if records.is_empty() {
        eprintln!("no audit records for {key}");
    }
    for record in records {
        println!("{}", serde_json::to_string(&record)?);
    }
    Ok(ExitCode::SUCCESS)
}
