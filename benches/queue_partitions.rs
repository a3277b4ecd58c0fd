//! One kind of job in partitions (`QUEUE_PARTITIONS`) on a Redis Cluster: how the load spreads over the masters.
//! For one partition and for BENCH_PARTITIONS, in alternating rounds (the machine is noisy), BENCH_JOBS jobs of
//! distinct users are pushed by BENCH_CONCURRENCY concurrent producers through the group-commit push the webhook
//! uses, then run by one worker per partition (concurrency 32, a handler that does nothing). It prints pushes and
//! runs per second and each master's CPU seconds over the round: the busiest master's share is what one shard
//! must carry.
//!
//! `cargo bench --bench queue_partitions` (env: BENCH_REDIS_URL, default the local cluster of
//! `scripts/redis-cluster.sh`; BENCH_JOBS 20000, BENCH_CONCURRENCY 64, BENCH_PARTITIONS 3, BENCH_ROUNDS 2).

#[path = "support/env.rs"]
mod env;
#[path = "support/keys.rs"]
mod keys;
#[path = "support/redis_nodes.rs"]
#[allow(dead_code)] // what this bench does not use of it
mod redis_nodes;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use wa_onboard::jobs::JobKey;
use wa_onboard::jobs::health::WorkerHealth;
use wa_onboard::jobs::worker::{self, Handler, JobFailure, WorkerSpec};
use wa_onboard::store::queue::{JobQueue as _, Queued, WorkerSource};
use wa_onboard::store::redis::queue::RedisQueue;

use env::env_or;
use redis_nodes::RedisTarget;

const QUEUE: &str = "bench";
const CPU: [&str; 2] = ["used_cpu_sys", "used_cpu_user"];

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BenchJob {
    user: String,
    n: u32,
}

/// Counts the jobs run, and says when all have.
struct Count {
    ran: AtomicUsize,
    all: usize,
    done: tokio::sync::Notify,
}

#[async_trait]
impl Handler<BenchJob> for Count {
    async fn handle(&self, _job: BenchJob, _attempt: u32) -> Result<(), JobFailure> {
        if self.ran.fetch_add(1, Ordering::SeqCst) + 1 == self.all {
            self.done.notify_one();
        }
        Ok(())
    }
}

/// One round's figures.
struct Round {
    pushes_per_sec: f64,
    runs_per_sec: f64,
    /// CPU seconds of each master over the round (push and run).
    cpu: Vec<(String, f64)>,
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> Result<()> {
    let url = env_or(
        "BENCH_REDIS_URL",
        "redis+cluster://127.0.0.1:7100,127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103,127.0.0.1:7104,127.0.0.1:7105"
            .to_owned(),
    )?;
    let jobs: usize = env_or("BENCH_JOBS", 20_000)?;
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 64)?;
    let partitions: usize = env_or("BENCH_PARTITIONS", 3)?;
    let rounds: usize = env_or("BENCH_ROUNDS", 2)?;
    let target = RedisTarget::parse(&url)?;
    println!(
        "{jobs} jobs, {concurrency} producers, 1 and {partitions} partitions, {rounds} rounds, on {} master(s)\n",
        target.masters().len()
    );
    println!("| partitions | round | pushes/s | runs/s | CPU-s per master (busiest first) | busiest master's share |");
    println!("|---|---|---|---|---|---|");
    for round in 1..=rounds {
        for p in [1, partitions] {
            let figures = measure(&url, &target, p, jobs, concurrency).await?;
            let total: f64 = figures.cpu.iter().map(|(_, cpu)| cpu).sum();
            let busiest = figures.cpu.first().map(|(_, cpu)| *cpu).unwrap_or_default();
            let per_master: Vec<String> = figures.cpu.iter().map(|(_, cpu)| format!("{cpu:.2}")).collect();
            println!(
                "| {p} | {round} | {:.0} | {:.0} | {} | {:.2} |",
                figures.pushes_per_sec,
                figures.runs_per_sec,
                per_master.join(" / "),
                if total > 0.0 { busiest / total } else { 0.0 }
            );
        }
    }
    Ok(())
}

async fn measure(url: &str, target: &RedisTarget, partitions: usize, jobs: usize, concurrency: usize) -> Result<Round> {
    let prefix = format!("bench-partitions-{}-{partitions}", std::process::id());
    let conn = wa_onboard::store::redis::connect(url, Duration::from_secs(5)).await?;
    let queue = RedisQueue::<BenchJob>::new(conn, &prefix, QUEUE, Duration::from_secs(3600), partitions).batched();
    let before = target.info_by_master("cpu", &CPU);

    // Push: each producer pushes one job at a time, as webhooks do.
    let next = Arc::new(AtomicUsize::new(0));
    let pushing = Instant::now();
    let producers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (queue, next) = (queue.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= jobs {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let user = format!("52155{n:08}");
                    let job = BenchJob { user: user.clone(), n: n as u32 };
                    let queued = Queued::now(JobKey::from_stored(format!("job-{n}")), job).owned_by(&user);
                    queue.push(&[queued]).await?;
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.context("a producer panicked")??;
    }
    let pushes_per_sec = jobs as f64 / pushing.elapsed().as_secs_f64();
    anyhow::ensure!(queue.depth().await?.due as usize == jobs, "every job is queued");

    // Run: one worker per partition.
    let count = Arc::new(Count { ran: AtomicUsize::new(0), all: jobs, done: tokio::sync::Notify::new() });
    let (shutdown, health) = (CancellationToken::new(), Arc::new(WorkerHealth::default()));
    let spec = WorkerSpec {
        name: format!("bench-{}", std::process::id()),
        queue: QUEUE.to_owned(),
        concurrency: 32,
        poll: Duration::from_millis(20),
        max_attempts: 3,
        grace: Duration::from_secs(2),
    };
    let running = Instant::now();
    let source = WorkerSource::Redis(queue.storages());
    let worker = tokio::spawn(worker::run(spec, source, count.clone(), shutdown.clone(), health));
    tokio::time::timeout(Duration::from_secs(600), count.done.notified())
        .await
        .context("the jobs did not all run within 10 minutes")?;
    let runs_per_sec = jobs as f64 / running.elapsed().as_secs_f64();
    shutdown.cancel();
    worker.await?;

    let after = target.info_by_master("cpu", &CPU);
    let mut cpu: Vec<(String, f64)> = after
        .into_iter()
        .map(|(node, cpu)| {
            let was = before.iter().find(|(n, _)| *n == node).map(|(_, c)| *c).unwrap_or_default();
            (node, cpu - was)
        })
        .collect();
    cpu.sort_by(|a, b| b.1.total_cmp(&a.1));
    keys::delete_prefix(url, &prefix).await?;
    Ok(Round { pushes_per_sec, runs_per_sec, cpu })
}
