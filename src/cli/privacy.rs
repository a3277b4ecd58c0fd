//! `erase`: removes everything held about a person and prints the receipt. `export`: prints everything held
//! about a person as one JSON document. See docs/privacy.md.

use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::Env;
use wa_onboard::privacy::Privacy;
use wa_onboard::store::vault::MediaCipher;

use super::audit::open_user;

async fn privacy(
    env: &Env,
    user: &str,
    phone_number_id: Option<String>,
) -> anyhow::Result<(Privacy, wa_onboard::flow::state::UserKey)> {
    let (config, backend, key) = open_user(env, user, phone_number_id, "the in-memory store").await?;
    let vault = backend.vault(MediaCipher::from_config(&config.media), config.media.retention);
    Ok((Privacy::new(backend, vault), key))
}

pub(crate) async fn erase(
    env: &Env,
    user: &str,
    phone_number_id: Option<String>,
    by: &str,
) -> anyhow::Result<ExitCode> {
    let (privacy, key) = privacy(env, user, phone_number_id).await?;
    let receipt = privacy.erase(&key, &format!("operator:{by}")).await.context("the erasure did not finish")?;
    println!("{}", serde_json::to_string_pretty(&receipt)?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn export(
    env: &Env,
    user: &str,
    phone_number_id: Option<String>,
    photos: bool,
) -> anyhow::Result<ExitCode> {
    let (privacy, key) = privacy(env, user, phone_number_id).await?;
    let export = privacy.export(&key, photos).await.context("cannot read the person's data")?;
    println!("{}", serde_json::to_string_pretty(&export)?);
    Ok(ExitCode::SUCCESS)
}
