//! `kept`: the payloads kept for inspection, newest first, one JSON object a line.

use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::{Config, Env, StoreConfig};
use wa_onboard::store;

pub(crate) async fn run(env: &Env, limit: usize) -> anyhow::Result<ExitCode> {
    // Only the store settings matter here: secrets are not needed to read.
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!("REDIS_URL is not set: the in-memory store lives inside the server process and cannot be read");
    }
    let store = store::Backend::for_config(&config).await?.ingress();
    for kept in store.kept(limit).await.context("cannot read kept payloads")? {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "kind": kept.kind, "reason": kept.reason, "received_at_ms": kept.received_at_ms, "body": kept.body,
            }))?
        );
    }
    Ok(ExitCode::SUCCESS)
}
