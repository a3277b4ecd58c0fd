//! The `wa-onboard` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use wa_onboard::app::{App, shutdown_signal};
use wa_onboard::config::{self, Config, Env, StoreConfig};
use wa_onboard::verify::quality::{self, Kind, Thresholds};
use wa_onboard::{replay, store, telemetry};

#[derive(Parser)]
#[command(name = "wa-onboard", version, about = "Identity verification (KYC) inside a WhatsApp chat")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service (webhook, health, metrics).
    Serve {
        /// Development mode: loopback only, with a fixed development app secret and verify token when none is set.
        #[arg(long)]
        dev: bool,
    },
    /// Sign webhook fixtures with WHATSAPP_APP_SECRET (or the development secret) and POST them to a server.
    Replay {
        /// A JSON file, or a folder of them.
        path: PathBuf,
        /// The webhook URL [default: http://BIND_ADDR/webhook].
        #[arg(long)]
        url: Option<String>,
    },
    /// Print the payloads kept for inspection (signed but unreadable bodies, other fields), newest first.
    Kept {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Run the local photo quality checks on a file and print one JSON object: verdict, reasons, measurements.
    /// Exits 0 whenever the check ran, whatever the verdict.
    CheckImage {
        /// A photo (JPEG, PNG or WebP; anything else is reported as `unreadable_file`).
        file: PathBuf,
        /// What the photo should show.
        #[arg(long, value_enum, default_value_t = KindArg::Document)]
        kind: KindArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Document,
    Selfie,
}

#[tokio::main]
async fn main() -> ExitCode {
    let env = Env::from_process();
    telemetry::init(Config::log_format_from(&env));
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { dev } => serve(&env, dev).await,
        Command::Replay { path, url } => replay_fixtures(&env, &path, url).await,
        Command::Kept { limit } => print_kept(&env, limit).await,
        Command::CheckImage { file, kind } => check_image(&file, kind).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(env: &Env, dev: bool) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(env, dev)?;
    if dev {
        tracing::warn!(
            app_secret = config.app_secret.expose(),
            verify_token = config.verify_token.expose(),
            "development mode: loopback only; sign webhooks with this app secret (`wa-onboard replay` does)"
        );
    }
    let app = App::build(config).await?;
    app.run(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn replay_fixtures(env: &Env, path: &std::path::Path, url: Option<String>) -> anyhow::Result<ExitCode> {
    let secret = match env.get("WHATSAPP_APP_SECRET") {
        Some(secret) => secret.to_owned(),
        None => {
            eprintln!("WHATSAPP_APP_SECRET is not set: signing with the development secret of `serve --dev`");
            config::DEV_APP_SECRET.to_owned()
        }
    };
    let url = match url {
        Some(url) => url,
        None => format!("http://{}/webhook", env.get("BIND_ADDR").unwrap_or(config::DEFAULT_BIND_ADDR)),
    };
    let files = replay::fixture_files(path)?;
    let results = replay::replay(&files, &url, secret.as_bytes()).await?;
    let mut failures = 0;
    for r in &results {
        let status = r.status.map_or("---".to_owned(), |s| s.to_string());
        if r.status != Some(200) {
            failures += 1;
        }
        let detail = if r.detail.is_empty() { String::new() } else { format!("  ({})", r.detail) };
        println!("{status}  {}{detail}", r.file.display());
    }
    println!("{} sent to {url}, {} answered 200, {failures} did not", results.len(), results.len() - failures);
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn print_kept(env: &Env, limit: usize) -> anyhow::Result<ExitCode> {
    // Only the store settings matter here: secrets are not needed to read.
    let config = Config::from_env(env, true).or_else(|_| Config::from_env(env, false))?;
    if config.store == StoreConfig::Memory {
        anyhow::bail!("REDIS_URL is not set: the in-memory store lives inside the server process and cannot be read");
    }
    let store = store::open(&config.store, config.dedupe_ttl).await?;
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

async fn check_image(file: &std::path::Path, kind: KindArg) -> anyhow::Result<ExitCode> {
    let bytes = tokio::fs::read(file).await.with_context(|| format!("cannot read {}", file.display()))?;
    let kind = match kind {
        KindArg::Document => Kind::Document,
        KindArg::Selfie => Kind::Selfie,
    };
    // The calibrated defaults; a flow's own thresholds go here.
    let thresholds = Thresholds::default();
    let report = tokio::task::spawn_blocking(move || quality::check(&bytes, kind, &thresholds)).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
