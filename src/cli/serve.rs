//! `serve` (the HTTP service, with its workers unless `--no-workers`) and `worker` (the workers alone).

use std::process::ExitCode;

use wa_onboard::app::{App, Workers, shutdown_signal};
use wa_onboard::config::{Config, Env, StoreConfig};

pub(crate) async fn serve(env: &Env, dev: bool, no_workers: bool) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(env, dev)?;
    if no_workers && config.store == StoreConfig::Memory {
        anyhow::bail!("--no-workers needs REDIS_URL: in memory, jobs can only be run by the process that queued them");
    }
    if dev {
        tracing::warn!(
            app_secret = config.app_secret.expose(),
            verify_token = config.verify_token.expose(),
            "development mode: loopback only; sign webhooks with this app secret (`wa-onboard replay` does)"
        );
    }
    let workers = if no_workers { Workers::None } else { Workers::Run };
    let app = App::build(config, workers).await?;
    app.run(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn worker(env: &Env) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(env, false)?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!(
            "REDIS_URL is not set: a separate worker needs the shared Redis (in memory, `serve` runs the workers)"
        );
    }
    if config.access_token.is_none() {
        anyhow::bail!(
            "WHATSAPP_ACCESS_TOKEN is not set: a separate worker sends through the real Cloud API (the built-in \
             simulator lives inside `serve`)"
        );
    }
    let config = Config { bind_addr: "127.0.0.1:0".parse()?, ..config };
    let app = App::build(config, Workers::Run).await?;
    tracing::info!(name = %app.state.config.workers.name, "worker running; SIGHUP reloads the flows; Ctrl-C stops");
    let handles = app.spawn_workers().await;
    app.reload_flows_on_hangup();
    shutdown_signal().await;
    app.stop();
    for handle in handles {
        let _ = handle.await;
    }
    Ok(ExitCode::SUCCESS)
}
