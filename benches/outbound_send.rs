//! Outbound send benchmark: messages go through the rate limiter and the Cloud API client to the Graph API
//! simulator, started in this process on loopback. Prints messages/s and p50/p99 latency (limiter wait
//! included), once with the default 80 msg/s per business number and once with a high limit to show what the
//! client itself sustains.
//!
//! Env: BENCH_LIMITED_MESSAGES (400), BENCH_FAST_MESSAGES (5000), BENCH_CONCURRENCY (32),
//! BENCH_REDIS_URL (redis://127.0.0.1:6379; the Redis limiter row is skipped when it does not answer).

use std::sync::Arc;
use std::time::{Duration, Instant};

use wa_onboard::config::Secret;
use wa_onboard::sim::{SIM_ACCESS_TOKEN, Simulator};
use wa_onboard::store::Backend;
use wa_onboard::store::rate_limit::{LimiterSettings, RateLimiter};
use wa_onboard::whatsapp::{CloudApi, CloudApiSettings, OutboundMessage, Recipient};

const NUMBER: &str = "106540352242922";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

struct Row {
    name: String,
    messages: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn run(
    name: &str,
    api: &CloudApi,
    limiter: Arc<dyn RateLimiter>,
    messages: usize,
    concurrency: usize,
) -> anyhow::Result<Row> {
    let message = OutboundMessage::buttons("¿Aceptas el aviso de privacidad?")
        .button("yes", "Acepto")
        .button("no", "No acepto")
        .build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (api, limiter, message, next) = (api.clone(), limiter.clone(), message.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= messages {
                        break;
                    }
                    // One user per message: the per-number limit is what is measured.
                    let user = format!("52155{i:08}");
                    let t = Instant::now();
                    let sent = match limiter.acquire_within(NUMBER, &user, Duration::from_secs(30)).await {
                        Ok(()) => api.send(&Recipient::Phone(user), &message).await.is_ok(),
                        Err(_) => false,
                    };
                    if sent {
                        latencies.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(messages);
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Row { name: name.to_owned(), messages, elapsed, latencies, errors })
}

fn print(row: &Row) {
    let rate = row.latencies.len() as f64 / row.elapsed.as_secs_f64();
    println!(
        "{:<42} {:>6} {:>8.2}s {:>10.0} {:>10.2} {:>10.2} {:>6}",
        row.name,
        row.messages,
        row.elapsed.as_secs_f64(),
        rate,
        percentile(&row.latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&row.latencies, 0.99).as_secs_f64() * 1000.0,
        row.errors,
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let limited = env_usize("BENCH_LIMITED_MESSAGES", 400);
    let fast = env_usize("BENCH_FAST_MESSAGES", 5000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let sim = Simulator::start().await?;
    let api = CloudApi::new(CloudApiSettings::new(&sim.base_url, "v23.0", NUMBER, Secret::new(SIM_ACCESS_TOKEN)))?;

    println!("outbound sends: limiter + Cloud API client -> simulator on loopback, {concurrency} concurrent senders");
    println!(
        "{:<42} {:>6} {:>9} {:>10} {:>10} {:>10} {:>6}",
        "scenario", "msgs", "time", "msg/s", "p50 ms", "p99 ms", "errors"
    );
    let default_limits = LimiterSettings::default();
    let memory = Backend::memory(Duration::from_secs(3600), wa_onboard::clock::system());
    let row =
        run("memory limiter, default 80/s per number", &api, memory.rate_limiter(default_limits), limited, concurrency)
            .await?;
    print(&row);

    let high = LimiterSettings { per_number_per_second: 1_000_000, per_number_burst: 1_000_000, ..default_limits };
    let row =
        run("memory limiter, high limit (client bound)", &api, memory.rate_limiter(high), fast, concurrency).await?;
    print(&row);

    let redis_url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("bench:outbound:{}", std::process::id());
    let redis = Backend::redis(
        &redis_url,
        &prefix,
        Duration::from_secs(2),
        Duration::from_secs(3600),
        wa_onboard::clock::system(),
    )
    .await;
    match redis {
        Ok(redis) => {
            let row = run(
                "redis limiter, default 80/s per number",
                &api,
                redis.rate_limiter(default_limits),
                limited,
                concurrency,
            )
            .await?;
            print(&row);
            let row = run("redis limiter, high limit", &api, redis.rate_limiter(high), fast, concurrency).await?;
            print(&row);
            // The bench's keys expire by themselves within seconds (each bucket's TTL is its refill time).
        }
        Err(_) => println!("(Redis not reachable: the Redis limiter rows are skipped)"),
    }
    println!("recorded by the simulator: {} messages", sim.messages().len());
    Ok(())
}
