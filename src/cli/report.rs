//! `report funnel`: the onboarding funnel of a period, from the store (Redis), as a table, CSV or JSON.

use std::process::ExitCode;

use anyhow::Context as _;

use wa_onboard::config::{Config, Env, StoreConfig};
use wa_onboard::funnel::render::{Format, render};
use wa_onboard::store::Backend;

pub(crate) async fn funnel(
    env: &Env,
    since: Option<&str>,
    until: Option<&str>,
    flow: Option<String>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!(
            "REDIS_URL is not set: the funnel lives inside the server process; ask it with \
             GET /api/v1/reports/funnel or open /console/funnel"
        );
    }
    let backend = Backend::for_config(&config).await?;
    let now = backend.clock().now_secs();
    let period = wa_onboard::funnel::period::period(since, until, flow, now)?;
    let report = wa_onboard::funnel::gather::funnel(&backend, period, now).await.context("cannot read the funnel")?;
    print!("{}", render(&report, format));
    Ok(ExitCode::SUCCESS)
}
