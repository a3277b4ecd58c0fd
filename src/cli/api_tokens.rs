//! `api-tokens add NAME | list | revoke NAME`: the bearer tokens of `/api/v1`. A new token is printed once; only
//! its hash is stored.

use std::process::ExitCode;

use wa_onboard::config::{Config, Env, StoreConfig};
use wa_onboard::store::api_tokens::ApiToken;

async fn store(env: &Env) -> anyhow::Result<std::sync::Arc<dyn wa_onboard::store::api_tokens::ApiTokenStore>> {
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!("REDIS_URL is not set: tokens must be kept where every server process can check them");
    }
    let backend = wa_onboard::store::Backend::for_config(&config).await?;
    Ok(backend.api_tokens())
}

pub(crate) async fn add(env: &Env, name: &str) -> anyhow::Result<ExitCode> {
    if name.trim().is_empty() || name.contains(char::is_whitespace) {
        anyhow::bail!("give the token a name without spaces, e.g. `chatwoot`");
    }
    let (token, hash) = wa_onboard::api::auth::new_token();
    let record = ApiToken { name: name.to_owned(), hash, created_at: wa_onboard::clock::system().now_secs() };
    if !store(env).await?.add(&record).await? {
        anyhow::bail!("a token named `{name}` exists already: revoke it first, or choose another name");
    }
    eprintln!("token `{name}` made; it is shown only now:");
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list(env: &Env) -> anyhow::Result<ExitCode> {
    for token in store(env).await?.list().await? {
        println!("{}\tcreated_at={}", token.name, token.created_at);
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn revoke(env: &Env, name: &str) -> anyhow::Result<ExitCode> {
    if store(env).await?.revoke(name).await? {
        println!("token `{name}` revoked");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("no token named `{name}` (see `wa-onboard api-tokens list`)");
        Ok(ExitCode::FAILURE)
    }
}
