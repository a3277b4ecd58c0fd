//! A Redis queue with a backlog far beyond what one Lua call can move (apalis-redis 1.0 stopped for good at
//! about 8,000 due jobs: "too many results to unpack"): every job runs, once. The same with the queue split in
//! partitions.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use wa_onboard::jobs::JobKey;
use wa_onboard::jobs::health::{QueueLabel, WorkerHealth};
use wa_onboard::jobs::worker::{self, Handler, JobFailure, WorkerSpec};
use wa_onboard::store::Enqueued;
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

fn spec(queue: &str) -> WorkerSpec {
    WorkerSpec {
        name: format!("backlog-test-{}", std::process::id()),
        queue: queue.to_owned(),
        concurrency: 64,
        poll: Duration::from_millis(50),
        max_attempts: 3,
        grace: Duration::from_secs(2),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_due_jobs_all_run_once() {
    let (backend, _keys) = open_backend(Backend::Redis, "queue-backlog").await;
    let health = drain(&backend, 50_000).await;
    assert_eq!(health.restarts.get_or_create(&QueueLabel { queue: "backlog".into() }).get(), 0);
}

/// A queue in partitions (`QUEUE_PARTITIONS=3`) spreads its jobs over them, one worker each, and still runs
/// every job once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_queue_spreads_its_jobs_and_runs_each_once() {
    let (backend, keys) = open_backend(Backend::Redis, "queue-partitions").await;
    let backend = backend.with_queue_partitions(3);
    assert_eq!(backend.queue_partitions(), 3);
    let prefix = &keys.as_ref().expect("a Redis backend").prefix;
    let health = drain_with(&backend, 6_000, |backend| {
        let prefix = prefix.clone();
        async move {
            // Each partition is a queue of its own, with its own hash tag: read each one alone.
            let one = wa_onboard::store::Backend::redis(
                &common::redis_url(),
                &prefix,
                Duration::from_secs(2),
                common::DEDUPE_TTL,
                backend.clock(),
            )
            .await
            .unwrap();
            let mut due = Vec::new();
            for partition in ["backlog", "backlog.1", "backlog.2"] {
                due.push(one.queue::<Numbered>(partition).depth().await.unwrap().due);
            }
            assert_eq!(due.iter().sum::<u64>(), 6_000, "every job is in one partition: {due:?}");
            assert!(due.iter().all(|n| *n > 1_000), "the jobs are spread over the partitions: {due:?}");
            assert_eq!(backend.queue::<Numbered>("backlog").depth().await.unwrap().due, 6_000, "depth sums them");
        }
    })
    .await;
    for partition in ["backlog", "backlog.1", "backlog.2"] {
        let label = QueueLabel { queue: partition.into() };
        assert_eq!(health.restarts.get_or_create(&label).get(), 0, "{partition} had its own worker");
    }
    let mut served: Vec<String> = health.down_queues().into_iter().map(|down| down.queue).collect();
    served.sort();
    assert_eq!(served, ["backlog", "backlog.1", "backlog.2"], "one worker per partition, each stopped at the end");
}

/// Pushes `jobs` numbered jobs, then runs a worker until each ran; fails if one is missing or ran twice.
async fn drain(backend: &wa_onboard::store::Backend, jobs: u32) -> Arc<WorkerHealth> {
    drain_with(backend, jobs, |_| async {}).await
}

/// [`drain`], with `pushed` looking at the queue between the pushes and the worker's start.
async fn drain_with<F: std::future::Future<Output = ()>>(
    backend: &wa_onboard::store::Backend,
    jobs: u32,
    pushed: impl FnOnce(wa_onboard::store::Backend) -> F,
) -> Arc<WorkerHealth> {
    let queue = backend.queue::<Numbered>("backlog");
    let all: Vec<Queued<Numbered>> =
        (0..jobs).map(|n| Queued::now(JobKey::from_stored(format!("job-{n}")), Numbered(n))).collect();
    let pushing = std::time::Instant::now();
    for chunk in all.chunks(5_000) {
        let answers = queue.push(chunk).await.expect("jobs pushed");
        assert!(answers.iter().all(|a| *a == Enqueued::New));
    }
    let again = queue.push(&all[..10]).await.expect("jobs pushed again");
    assert!(again.iter().all(|a| *a == Enqueued::Duplicate), "a job pushed again meets its own key's claim");
    eprintln!("pushed {jobs} jobs in {:?}", pushing.elapsed());
    pushed(backend.clone()).await;

    let draining = std::time::Instant::now();
    let handler = Arc::new(Count::default());
    let (shutdown, health) = (CancellationToken::new(), Arc::new(WorkerHealth::default()));
    let source = backend.worker_source::<Numbered>("backlog");
    let running = tokio::spawn(worker::run(spec("backlog"), source, handler.clone(), shutdown.clone(), health.clone()));

    // A correctness bound, not a speed claim: the whole backlog drains (it takes seconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while handler.seen.lock().unwrap().len() < jobs as usize && tokio::time::Instant::now() < deadline {
        assert!(!running.is_finished(), "the worker must keep running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("ran them in {:?}", draining.elapsed());
    shutdown.cancel();
    running.await.expect("the worker stops cleanly");

    assert_eq!(handler.seen.lock().unwrap().len(), jobs as usize, "every job ran");
    assert_eq!(handler.runs.load(std::sync::atomic::Ordering::Relaxed), jobs, "no job ran twice");
    assert_eq!(queue.depth().await.unwrap(), Default::default(), "nothing is left in the queue");
    health
}
