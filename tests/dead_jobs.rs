//! An operator lists the jobs a queue gave up on and puts them back with the real binary (`jobs dead`, `jobs
//! retry ID`, `jobs retry --all`); the jobs put back run again, from their first try.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use wa_onboard::jobs::JobKey;
use wa_onboard::jobs::health::WorkerHealth;
use wa_onboard::jobs::worker::{self, Handler, JobFailure, WorkerSpec};
use wa_onboard::store::queue::Queued;

use common::{Backend, open_backend, redis_url};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Numbered(u32);

/// Refuses for good every job but the last while `refusing`; records what ran.
#[derive(Default)]
struct Flaky {
    refusing: AtomicBool,
    done: Mutex<HashSet<u32>>,
}

#[async_trait]
impl Handler<Numbered> for Flaky {
    async fn handle(&self, job: Numbered, _attempt: u32) -> Result<(), JobFailure> {
        if self.refusing.load(Ordering::SeqCst) && job.0 < 3 {
            return Err(JobFailure::abort(format!("the company webhook refused job {}", job.0)));
        }
        self.done.lock().unwrap().insert(job.0);
        Ok(())
    }
}

fn cli(prefix: &str, partitions: usize, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", redis_url())
        .env("REDIS_KEY_PREFIX", prefix)
        .env("QUEUE_PARTITIONS", partitions.to_string())
        .output()
        .expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "not done within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_are_listed_and_put_back_by_an_operator() {
    dead_jobs_listed_and_put_back(1).await;
}

/// With `QUEUE_PARTITIONS=3` the two dead jobs are in two partitions (jobs 1 and 2 route to partitions 0 and 2):
/// the operator still sees and puts back both by id, as one queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_jobs_of_a_partitioned_queue_are_listed_and_put_back_as_one_queue() {
    dead_jobs_listed_and_put_back(3).await;
}

async fn dead_jobs_listed_and_put_back(partitions: usize) {
    let (backend, keys) = open_backend(Backend::Redis, "dead-jobs").await;
    let backend = backend.with_queue_partitions(partitions);
    let prefix = keys.as_ref().map(|k| k.prefix.clone()).unwrap();
    let cli = |args: &[&str]| cli(&prefix, partitions, args);
    let queue = backend.queue::<Numbered>("notify");
    let jobs: Vec<_> = (1..=3).map(|n| Queued::now(JobKey::from_stored(format!("job-{n}")), Numbered(n))).collect();
    if partitions == 3 {
        assert_ne!(jobs[0].route % 3, jobs[1].route % 3, "the dead jobs are in two partitions");
    }
    queue.push(&jobs).await.unwrap();
    let handler = Arc::new(Flaky { refusing: AtomicBool::new(true), ..Flaky::default() });
    let spec = WorkerSpec {
        name: format!("dead-jobs-test-{}", std::process::id()),
        queue: "notify".into(),
        concurrency: 4,
        poll: Duration::from_millis(50),
        max_attempts: 3,
        grace: Duration::from_secs(2),
    };
    let (shutdown, health) = (CancellationToken::new(), Arc::new(WorkerHealth::default()));
    let source = backend.worker_source::<Numbered>("notify");
    let running = tokio::spawn(worker::run(spec, source, handler.clone(), shutdown.clone(), health));
    wait_until(Duration::from_secs(30), || handler.done.lock().unwrap().contains(&3)).await;
    let dead_jobs = backend.dead_jobs().unwrap();
    let mut dead = Vec::new();
    for _ in 0..100 {
        dead = dead_jobs.list("notify", 10).await.unwrap();
        if dead.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead.len(), 2, "{dead:?}");

    let (code, out, err) = cli(&["jobs", "dead", "--queue", "notify"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(listed.len(), 2, "{out}");
    assert!(listed.iter().all(|j| j["queue"] == "notify" && j["payload_bytes"].as_u64() > Some(0)), "{out}");
    assert!(listed.iter().any(|j| j["error"].as_str().unwrap_or_default().contains("refused job 1")), "{out}");
    let (_, all_out, _) = cli(&["jobs", "dead"]);
    assert_eq!(all_out.lines().count(), 2, "every queue by default");

    // The cause is fixed: one is put back by id, the rest with --all; unknown ids are said to be unknown.
    handler.refusing.store(false, Ordering::SeqCst);
    let first = listed[0]["id"].as_str().unwrap();
    let (code, out, _) = cli(&["jobs", "retry", first]);
    assert_eq!(code, 0);
    assert!(out.contains("back in the notify queue"), "{out}");
    let (code, _, err) = cli(&["jobs", "retry", first]);
    assert_eq!(code, 1, "a job already put back is no longer dead");
    assert!(err.contains("no such dead job"), "{err}");
    let (code, out, _) = cli(&["jobs", "retry", "--all", "--queue", "notify"]);
    assert_eq!(code, 0);
    assert!(out.contains("notify: 1 job(s) put back"), "{out}");
    let (code, _, err) = cli(&["jobs", "dead", "--queue", "nope"]);
    assert_ne!(code, 0);
    assert!(err.contains("the queues are inbound"), "{err}");

    wait_until(Duration::from_secs(30), || handler.done.lock().unwrap().len() == 3).await;
    assert!(dead_jobs.list("notify", 10).await.unwrap().is_empty());
    shutdown.cancel();
    running.await.unwrap();
}
