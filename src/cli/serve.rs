//! `serve` (the HTTP service, with its workers unless `--no-workers`) and `worker` (the workers alone).

use std::process::ExitCode;

use wa_onboard::app::{App, Workers, shutdown_signal_then_force};
use wa_onboard::config::{Config, Env, StoreConfig};

/// Refuses a production start that lacks a setting it needs, naming each.
fn refuse_unsafe(config: &Config, allow_memory_store: bool) -> anyhow::Result<()> {
    let gaps = config.production_gaps(allow_memory_store);
    if gaps.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = gaps.iter().map(|gap| format!("  - {gap}")).collect();
    anyhow::bail!(
        "refusing to start in production mode with unsafe settings; set:\n{}\n(to try the service locally, run \
         `wa-onboard serve --dev`: in-memory store, built-in Graph API simulator, development secrets)",
        list.join("\n")
    )
}

pub(crate) async fn serve(
    env: &Env,
    dev: bool,
    no_workers: bool,
    allow_memory_store: bool,
) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(env, dev)?;
    if !dev {
        refuse_unsafe(&config, allow_memory_store)?;
        if config.store == StoreConfig::Memory {
            tracing::warn!(
                "--allow-memory-store: conversations and jobs live in this process only and are lost on restart"
            );
        }
    }
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
    if dev {
        let agents = app.state.console.agents.clone();
        let password = wa_onboard::console::dev_agent(agents.as_ref(), app.state.clock.now_secs()).await?;
        let url = format!("http://{}/console/", app.local_addr()?);
        tracing::warn!(
            %url,
            email = wa_onboard::console::DEV_AGENT_EMAIL,
            password = %password,
            "development agent console: sign in with this email and password"
        );
    }
    app.run(shutdown_signal_then_force()).await?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn worker(env: &Env) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(env, false)?;
    // A separate worker needs the shared Redis, and sends through the real Cloud API (the built-in simulator
    // lives inside `serve --dev`).
    refuse_unsafe(&config, false)?;
    let config = Config { bind_addr: "127.0.0.1:0".parse()?, ..config };
    let app = App::build(config, Workers::Run).await?;
    tracing::info!(name = %app.state.config.workers.name, "worker running; SIGHUP reloads the flows; Ctrl-C stops");
    let metrics_server = app.spawn_metrics_server().await?;
    let handles = app.spawn_workers().await;
    app.reload_flows_on_hangup();
    let down_limit = app.state.config.workers.down_exit_after;
    let health = app.state.workers.clone();
    // A worker process whose queues cannot be served exits non-zero, so that its supervisor restarts it.
    let gave_up = async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            if let Some(down) = health.down_longer_than(down_limit) {
                return down;
            }
        }
    };
    let outcome = tokio::select! {
        () = shutdown_signal_then_force() => None,
        down = gave_up => Some(down),
    };
    let deadline = tokio::time::Instant::now() + app.state.config.shutdown_grace;
    app.stop_workers(handles, deadline).await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.close(deadline).await;
    }
    match outcome {
        None => Ok(ExitCode::SUCCESS),
        Some(down) => {
            tracing::error!(
                queue = down.queue,
                down_secs = down.down_for.as_secs(),
                "no live worker for this queue for longer than WORKER_DOWN_EXIT_SECS: exiting so that the supervisor restarts the process"
            );
            Ok(ExitCode::from(3))
        }
    }
}
