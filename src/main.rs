//! The `wa-onboard` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use wa_onboard::app::{App, Workers, shutdown_signal};
use wa_onboard::config::{self, Config, Env, StoreConfig};
use wa_onboard::verify::quality::{self, Kind, Thresholds};
use wa_onboard::{replay, sim, store, telemetry};

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
        /// Serve HTTP only; run the workers in separate `wa-onboard worker` processes (Redis only).
        #[arg(long)]
        no_workers: bool,
    },
    /// Run the workers only (conversation runner, sends, verifications, scheduled events). Needs REDIS_URL.
    Worker,
    /// Print the audit log of a user's conversations, oldest first.
    Audit {
        /// The user: phone number or business-scoped user id.
        user: String,
        /// The business phone number id [default: WHATSAPP_PHONE_NUMBER_ID].
        #[arg(long)]
        phone_number_id: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: usize,
    },
    /// Sign webhook fixtures with WHATSAPP_APP_SECRET (or the development secret) and POST them to a server.
    Replay {
        /// A JSON file, or a folder of them.
        path: PathBuf,
        /// The webhook URL [default: http://BIND_ADDR/webhook].
        #[arg(long)]
        url: Option<String>,
    },
    /// Check, draw, describe and test flow files.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
    /// Print the payloads kept for inspection (signed but unreadable bodies, other fields), newest first.
    Kept {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Run a local Graph API simulator: serves media, records sent messages, fails on demand (see docs/whatsapp.md).
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        bind: std::net::SocketAddr,
    },
    /// Show the whole path in one process: one user verified, another who sends blurry photos and gets a live agent.
    Demo,
    /// Run the local photo quality checks on a file and print one JSON object: verdict, reasons, measurements.
    /// Exits 0 whenever the check ran, whatever the verdict.
    CheckImage {
        /// A photo (JPEG, PNG or WebP; anything else is reported as `unreadable_file`).
        file: PathBuf,
        /// What the photo should show.
        #[arg(long, value_enum, default_value_t = KindArg::Document)]
        kind: KindArg,
        /// Use the quality thresholds of this flow (an id in FLOWS_DIR, or a file) instead of the defaults.
        #[arg(long)]
        flow: Option<String>,
        /// Also read the document's barcodes and MRZ as this type (mx_ine, co_cedula, pe_dni, ar_dni, cl_cedula,
        /// br_rg, br_cnh, passport).
        #[arg(long)]
        document: Option<String>,
        /// The side of the document in the photo.
        #[arg(long, default_value = "front")]
        side: String,
        /// The machine-readable zone as text (from an OCR or typed), parsed and checked with the barcodes.
        #[arg(long)]
        mrz_text: Option<String>,
    },
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Load every flow and report every problem with file:line and a hint; exits non-zero on any error.
    Check {
        /// A flow file or a folder of them [default: FLOWS_DIR or flows/].
        path: Option<PathBuf>,
    },
    /// Print the JSON Schema of the flow format (for editor validation and completion).
    Schema,
    /// Print a flow as a diagram.
    Graph {
        /// The flow id or file.
        flow: String,
        #[arg(long, value_enum, default_value = "mermaid")]
        format: wa_onboard::flow::graph::Format,
    },
    /// Run the conversation scenarios against the engine and show a readable diff on failure.
    Test {
        /// A scenario file or a folder of them [default: fixtures/scenarios].
        path: Option<PathBuf>,
        /// Where the flows are [default: FLOWS_DIR or flows/].
        #[arg(long)]
        flows: Option<PathBuf>,
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
        Command::Serve { dev, no_workers } => serve(&env, dev, no_workers).await,
        Command::Worker => worker(&env).await,
        Command::Audit { user, phone_number_id, limit } => print_audit(&env, &user, phone_number_id, limit).await,
        Command::Replay { path, url } => replay_fixtures(&env, &path, url).await,
        Command::Kept { limit } => print_kept(&env, limit).await,
        Command::Flow { command } => flow_command(&env, command),
        Command::Sim { bind } => run_sim(&env, bind).await,
        Command::CheckImage { file, kind, flow, document, side, mrz_text } => {
            let reading = DocumentArgs { document, side, mrz_text };
            check_image(&env, &file, kind, flow.as_deref(), reading).await
        }
        Command::Demo => {
            let transcript = wa_onboard::demo::run().await;
            transcript.map(|t| {
                println!("{t}");
                ExitCode::SUCCESS
            })
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(env: &Env, dev: bool, no_workers: bool) -> anyhow::Result<ExitCode> {
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

async fn worker(env: &Env) -> anyhow::Result<ExitCode> {
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

async fn print_audit(env: &Env, user: &str, phone_number_id: Option<String>, limit: usize) -> anyhow::Result<ExitCode> {
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
    let store = store::Backend::open(&config.store, config.dedupe_ttl, wa_onboard::clock::system()).await?.ingress();
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

fn flows_dir(env: &Env) -> PathBuf {
    PathBuf::from(env.get("FLOWS_DIR").unwrap_or("flows"))
}

fn flow_command(env: &Env, command: FlowCommand) -> anyhow::Result<ExitCode> {
    use wa_onboard::flow::{graph, load};
    match command {
        FlowCommand::Check { path } => {
            let path = path.unwrap_or_else(|| flows_dir(env));
            let files = load::flow_files(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let mut errors = 0;
            for file in &files {
                let problems = match load::Flow::load(file) {
                    Ok(_) => Vec::new(),
                    Err(problems) => problems,
                };
                let file_errors = problems.iter().filter(|p| p.is_error()).count();
                errors += file_errors;
                for problem in &problems {
                    println!("{problem}");
                }
                if file_errors == 0 {
                    println!("ok: {}", file.display());
                }
            }
            if files.is_empty() {
                println!("no flow files in {}", path.display());
                return Ok(ExitCode::FAILURE);
            }
            Ok(if errors == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        FlowCommand::Schema => {
            let schema = schemars::schema_for!(wa_onboard::flow::model::FlowFile);
            // Written without println!: a closed pipe (`| head`) is not an error worth a panic.
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Graph { flow, format } => {
            let path = PathBuf::from(&flow);
            let loaded = if path.is_file() {
                load::Flow::load(&path).map_err(problems_error)?
            } else {
                let flows = load::load_all(&flows_dir(env)).map_err(problems_error)?;
                let known = flows.keys().cloned().collect::<Vec<_>>().join(", ");
                let found = flows.get(&flow).with_context(|| format!("no flow `{flow}`; known flows: {known}"))?;
                return Ok({
                    print!("{}", graph::render(found, format));
                    ExitCode::SUCCESS
                });
            };
            print!("{}", graph::render(&loaded, format));
            Ok(ExitCode::SUCCESS)
        }
        FlowCommand::Test { path, flows } => {
            let path = path.unwrap_or_else(|| PathBuf::from("fixtures/scenarios"));
            let flows = load::load_all(&flows.unwrap_or_else(|| flows_dir(env))).map_err(problems_error)?;
            let report = wa_onboard::flow::scenario::run_path(&path, &flows)?;
            print!("{report}");
            Ok(if report.failed() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

fn problems_error(problems: Vec<wa_onboard::flow::check::Problem>) -> anyhow::Error {
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    anyhow::anyhow!("the flows have problems:\n{}", text.join("\n"))
}

async fn run_sim(env: &Env, bind: std::net::SocketAddr) -> anyhow::Result<ExitCode> {
    let config = sim::SimConfig {
        access_token: env.get("WHATSAPP_ACCESS_TOKEN").unwrap_or(sim::SIM_ACCESS_TOKEN).to_owned(),
        phone_number_id: env.get("WHATSAPP_PHONE_NUMBER_ID").map(str::to_owned),
        ..sim::SimConfig::default()
    };
    let token_is_default = config.access_token == sim::SIM_ACCESS_TOKEN;
    let handle = sim::Simulator::start_with(config, bind).await.with_context(|| format!("cannot listen on {bind}"))?;
    println!("Graph API simulator on {}", handle.base_url);
    println!("  GRAPH_API_URL={}", handle.base_url);
    if token_is_default {
        println!("  WHATSAPP_ACCESS_TOKEN={}", sim::SIM_ACCESS_TOKEN);
    } else {
        println!("  bearer token: the WHATSAPP_ACCESS_TOKEN of this environment");
    }
    println!("  sent messages: GET {}/messages", handle.base_url);
    shutdown_signal().await;
    Ok(ExitCode::SUCCESS)
}

/// What `check-image` reads from a document photo besides its quality.
struct DocumentArgs {
    document: Option<String>,
    side: String,
    mrz_text: Option<String>,
}

async fn check_image(
    env: &Env,
    file: &std::path::Path,
    kind: KindArg,
    flow: Option<&str>,
    reading_args: DocumentArgs,
) -> anyhow::Result<ExitCode> {
    use wa_onboard::verify::document::{DocumentType, Side, read_document_with_mrz_text};
    let DocumentArgs { document, side, mrz_text } = reading_args;
    let bytes = tokio::fs::read(file).await.with_context(|| format!("cannot read {}", file.display()))?;
    let kind = match kind {
        KindArg::Document => Kind::Document,
        KindArg::Selfie => Kind::Selfie,
    };
    let thresholds = match flow {
        None => Thresholds::default(),
        Some(flow) => {
            let path = PathBuf::from(flow);
            let loaded = if path.is_file() {
                std::sync::Arc::new(wa_onboard::flow::load::Flow::load(&path).map_err(problems_error)?)
            } else {
                let flows = wa_onboard::flow::load::load_all(&flows_dir(env)).map_err(problems_error)?;
                flows.get(flow).cloned().with_context(|| format!("no flow `{flow}` in {}", flows_dir(env).display()))?
            };
            let quality = &loaded.file.verification.quality;
            if quality.is_null() {
                Thresholds::default()
            } else {
                serde_json::from_value(quality.clone()).context("the flow's verification.quality")?
            }
        }
    };
    let document = match document.as_deref() {
        None => None,
        Some(d) => Some(d.parse::<DocumentType>().map_err(|e| anyhow::anyhow!("--document {d}: {e}"))?),
    };
    let side = match side.as_str() {
        "front" => Side::Front,
        "back" => Side::Back,
        other => anyhow::bail!("--side must be front or back, not {other}"),
    };
    let (report, reading) = tokio::task::spawn_blocking(move || {
        let report = quality::check(&bytes, kind, &thresholds);
        let reading = document.map(|doc| {
            quality::decode::decode_to(&bytes, 2000)
                .map(|d| read_document_with_mrz_text(&d.gray, doc, side, mrz_text.as_deref()))
                .map_err(|e| e.to_string())
        });
        (report, reading)
    })
    .await?;
    let mut out = serde_json::to_value(&report)?;
    match reading {
        Some(Ok(reading)) => out["document"] = serde_json::to_value(&reading)?,
        Some(Err(e)) => out["document"] = serde_json::json!({ "error": e }),
        None => {}
    }
    println!("{}", serde_json::to_string(&out)?);
    Ok(ExitCode::SUCCESS)
}
