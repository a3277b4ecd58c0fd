//! A Redis queue with a backlog far beyond what one Lua call can move (apalis-redis 1.0 stopped for good at
//! about 8,000 due jobs: "too many results to unpack"): every job runs, once.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use wa_onboard::jobs::JobKey;
use wa_onboard::jobs::health::WorkerHealth;
use wa_onboard::jobs::worker::{self, Handler, JobFailure, WorkerSpec};
use wa_onboard::store::queue::Queued;

use common::{Backend, open_backend};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Numbered(u32);

#[derive(Default)]
struct Count {
    seen: Mutex<HashSet<u32>>,
    runs: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl Handler<Numbered> for Count {
    async fn handle(&self, job: Numbered, _attempt: u32) -> Result<(), JobFailure> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.seen.lock().unwrap().insert(job.0);
        Ok(())
    }
}

fn spec(queue: &'static str) -> WorkerSpec {
    WorkerSpec {
        name: format!("backlog-test-{}", std::process::id()),
        queue,
        concurrency: 64,
        poll: Duration::from_millis(50),
        max_attempts: 3,
        grace: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_due_jobs_all_run_once() {
    const JOBS: u32 = 50_000;
    let (backend, _keys) = open_backend(Backend::Redis, "queue-backlog").await;
    let queue = backend.queue::<Numbered>("backlog");
    let jobs: Vec<Queued<Numbered>> =
        (0..JOBS).map(|n| Queued::now(JobKey::from_stored(format!("job-{n}")), Numbered(n))).collect();
    let pushing = std::time::Instant::now();
    for chunk in jobs.chunks(5_000) {
        queue.push(chunk).await.expect("jobs pushed");
    }

    eprintln!("pushed {JOBS} jobs in {:?}", pushing.elapsed());
    let draining = std::time::Instant::now();
    let handler = Arc::new(Count::default());
    let (shutdown, health) = (CancellationToken::new(), Arc::new(WorkerHealth::default()));
    let source = backend.worker_source::<Numbered>("backlog");
    let running = tokio::spawn(worker::run(spec("backlog"), source, handler.clone(), shutdown.clone(), health.clone()));

    // A correctness bound, not a speed claim: the whole backlog drains (it takes seconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while handler.seen.lock().unwrap().len() < JOBS as usize && tokio::time::Instant::now() < deadline {
        assert!(!running.is_finished(), "the worker must keep running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("ran them in {:?}", draining.elapsed());
    shutdown.cancel();
    running.await.expect("the worker stops cleanly");

    assert_eq!(handler.seen.lock().unwrap().len(), JOBS as usize, "every job ran");
    assert_eq!(handler.runs.load(std::sync::atomic::Ordering::Relaxed), JOBS, "no job ran twice");
    assert_eq!(
        health.restarts.get_or_create(&wa_onboard::jobs::health::QueueLabel { queue: "backlog".into() }).get(),
        0
    );
}
