//! Runner throughput: inbound job → state loaded, stepped, saved with compare-and-set (and audit) → outbound
//! and scheduled jobs enqueued, against Redis. Prints messages per second.
//!
//! `cargo bench --bench runner` (env: BENCH_REDIS_URL, BENCH_USERS default 4000, BENCH_CONCURRENCY default 64).

#[path = "support/keys.rs"]
mod keys;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wa_onboard::agent::link::LinkSigner;
use wa_onboard::config::Secret;
use wa_onboard::conversation::dispatch::Dispatcher;
use wa_onboard::conversation::flows::FlowRegistry;
use wa_onboard::conversation::runner::Runner;
use wa_onboard::jobs::inbound::InboundJob;
use wa_onboard::store::Backend;
use wa_onboard::webhook::envelope::Envelope;
use wa_onboard::webhook::ingest::Batch;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One user's first three messages: a greeting, the language, the consent (typed, as on old phones).
fn conversation(user: usize, now: u64) -> Vec<InboundJob> {
    ["hola", "Español", "Acepto"]
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let body = serde_json::json!({
                "object": "whatsapp_business_account",
                "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": "Bench"}, "wa_id": format!("52155{user:08}")}],
                    "messages": [{"from": format!("52155{user:08}"), "id": format!("wamid.bench.{user}.{i}"),
                                  "timestamp": (now + i as u64).to_string(), "type": "text", "text": {"body": text}}]}}]}]
            });
            let envelope = Envelope::parse(&serde_json::to_vec(&body).expect("json")).expect("envelope");
            Batch::from_envelope(envelope, 0, &|_| true).jobs.remove(0)
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let users = env_or("BENCH_USERS", 4000);
    let concurrency = env_or("BENCH_CONCURRENCY", 64);
    let clock = wa_onboard::clock::system();
    let prefix = format!("bench-runner-{}-{}", std::process::id(), clock.now_secs());
    let backend = Backend::redis(&url, &prefix, Duration::from_secs(2), Duration::from_secs(8 * 86400), clock.clone())
        .await
        .context("Redis must run (BENCH_REDIS_URL)")?;
    let flows_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flows");
    let flows = FlowRegistry::load(&flows_dir, "kyc_latam").map_err(|p| anyhow::anyhow!("{p:?}"))?;
    let runner = Arc::new(Runner {
        flows: Arc::new(flows),
        store: backend.conversations(),
        dispatcher: Dispatcher {
            queues: wa_onboard::jobs::Queues::new(backend.clone()),
            links: LinkSigner::new("https://agents.example.com", Secret::new("bench"), 3600),
            vault: None,
            cases: None,
            external_agents: true,
            send_order: backend.send_order(),
        },
        clock: clock.clone(),
        retention: backend.retention(),
        journeys: backend.journeys(),
        metrics: Arc::new(wa_onboard::metrics::Metrics::new()),
    });
    let now = clock.now_secs();
    let conversations: Vec<Vec<InboundJob>> = (0..users).map(|u| conversation(u, now)).collect();
    let total: usize = conversations.iter().map(Vec::len).sum();

    // Users in parallel (bounded), each user's messages in order, as workers would see them.
    let started = Instant::now();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(users);
    for jobs in conversations {
        let permit = semaphore.clone().acquire_owned().await?;
        let runner = runner.clone();
        tasks.push(tokio::spawn(async move {
            for job in jobs {
                runner.inbound(&job).await?;
            }
            drop(permit);
            Ok::<(), wa_onboard::conversation::runner::RunError>(())
        }));
    }
    let mut errors = 0;
    for task in tasks {
        if !matches!(task.await, Ok(Ok(()))) {
            errors += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "runner: {total} inbound messages ({users} users x 3, {concurrency} at once) in {elapsed:.2} s: {:.0} messages/s, {errors} errors",
        total as f64 / elapsed
    );
    let removed = keys::delete_prefix(&url, &prefix).await?;
    println!("runner: removed {removed} Redis keys under {prefix}");
    anyhow::ensure!(errors == 0, "{errors} users failed");
    Ok(())
}
