//! A supervised apalis worker over a Redis queue.
//!
//! An apalis worker stops for good on its first failed call to Redis, and refuses to register under a name seen
//! alive within its orphan threshold. So each start runs as a new *instance* of the stable worker name
//! (`NAME@host.pid.started_ms`): it first takes back the jobs that earlier instances of the same name left in
//! flight when they are known to be gone (this process, or a process of this host that no longer exists), then
//! runs until it fails, panics or is told to stop. A failed instance is started again with a back-off; while no
//! instance runs, the queue is reported down ([`WorkerHealth`]). Jobs that other, dead processes left in flight
//! are taken back by any live worker's heartbeat once their owner has missed [`MISSED_HEARTBEATS`] beats.
//!
//! On shutdown the instance stops fetching, finishes its jobs in flight within the grace period, and hands
//! what is left back to the queue as it was (same attempt count).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use apalis::prelude::WorkerBuilderExt;
use apalis_core::backend::ext::BackendExt;
use apalis_core::error::{AbortError, BoxDynError};
use apalis_core::task::attempt::Attempt;
use apalis_core::task::data::Data;
use apalis_core::worker::builder::WorkerBuilder;
use apalis_core::worker::event::Event;
use apalis_core::worker::ext::event_listener::EventListenerExt;
use apalis_redis::RedisStorage;
use tokio_util::sync::CancellationToken;

use super::health::WorkerHealth;
use super::worker::{Handler, Next, WorkerSpec, attempt};
use crate::store::queue::Job;

/// A worker beats every this often; see `store::redis::queue::queue_config`.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// Beats a worker may miss before any other worker takes its jobs in flight back: 30 s in all. Longer than any
/// single job (a send gives up after 15 s), so that a busy worker's jobs are not run twice.
pub const MISSED_HEARTBEATS: usize = 6;

/// The first wait before starting a failed instance again; doubled on each failure up to [`MAX_RESTART_DELAY`].
const FIRST_RESTART_DELAY: Duration = Duration::from_millis(250);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(5);
/// An instance that ran this long before failing starts again after the first delay.
const STABLE_RUN: Duration = Duration::from_secs(30);

/// A concrete type around the handler: apalis's handler functions cannot take `dyn` types with elided lifetimes.
struct HandlerRef<H: ?Sized> {
    handler: Arc<H>,
    max_attempts: u32,
}

impl<H: ?Sized> Clone for HandlerRef<H> {
    fn clone(&self) -> Self {
        Self { handler: self.handler.clone(), max_attempts: self.max_attempts }
    }
}

async fn apalis_entry<J: Job, H: Handler<J> + ?Sized>(
    job: J,
    handler: Data<HandlerRef<H>>,
    tries: Attempt,
) -> Result<(), BoxDynError> {
    let current = tries.current() as u32 + 1;
    match attempt(handler.handler.as_ref(), job, current, handler.max_attempts).await {
        Next::Done => Ok(()),
        Next::Retry(reason) => Err(reason),
        Next::GiveUp(failure) => {
            tracing::error!(%failure, attempt = current, "job given up: moved to the dead set");
            Err(AbortError::new(failure).into())
        }
    }
}

/// Who runs an instance: the host and process, and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub host: String,
    pub pid: u32,
    pub started_ms: u128,
}

impl Instance {
    pub fn current() -> Self {
        let started_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        Self { host: host_name(), pid: std::process::id(), started_ms }
    }

    /// The worker name of this instance of `base`.
    pub fn name(&self, base: &str) -> String {
        format!("{base}@{}.{}.{}", self.host, self.pid, self.started_ms)
    }

    /// The instance a registered worker name belongs to, when it is an instance of `base`.
    pub fn parse(base: &str, name: &str) -> Option<Self> {
        let rest = name.strip_prefix(base)?.strip_prefix('@')?;
        let mut parts = rest.rsplitn(3, '.');
        let started_ms = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_owned();
        Some(Self { host, pid, started_ms })
    }

    /// Whether the jobs of `other`, an instance of the same worker name, can be taken back now: it ran in this
    /// process, or on this host in a process that no longer exists. Instances elsewhere (or in a live process:
    /// two processes misconfigured with one name) are left to the orphan timeout.
    pub fn knows_gone(&self, other: &Instance) -> bool {
        other.host == self.host && (other.pid == self.pid || !process_exists(other.pid))
    }
}

fn host_name() -> String {
    let name = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .unwrap_or_default();
    let name: String =
        name.trim().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    if name.is_empty() { "localhost".into() } else { name }
}

/// On Linux, whether process `pid` exists; elsewhere assumed alive (the orphan timeout then applies).
fn process_exists(pid: u32) -> bool {
    if cfg!(target_os = "linux") { std::path::Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

/// Takes back the jobs in flight of the earlier instances of `base` known to be gone (and of a worker registered
/// under `base` itself, by an earlier version); answers how many jobs moved back to the queue.
async fn reclaim_earlier<J>(
    storage: &mut RedisStorage<J, crate::store::redis::RedisConn>,
    base: &str,
    me: &Instance,
) -> Result<u32, redis::RedisError> {
    let config = storage.get_config().clone();
    let registered: Vec<String> =
        redis::cmd("ZRANGE").arg(config.workers_set()).arg(0).arg(-1).query_async(storage.get_connection()).await?;
    let own = me.name(base);
    let gone: Vec<String> = registered
        .into_iter()
        .filter(|name| *name != own)
        .filter(|name| name == base || Instance::parse(base, name).is_some_and(|other| me.knows_gone(&other)))
        .collect();
    if gone.is_empty() {
        return Ok(0);
    }
    apalis_redis::queries::reclaim_workers(storage.get_connection(), &config, &gone)
        .await
        .map_err(|e| redis::RedisError::from(std::io::Error::other(e.to_string())))
}

/// How one instance ended.
enum Ended {
    /// Told to stop.
    Stopped,
    Failed(String),
}

/// Runs the jobs of `storage` until `shutdown`, starting a new instance whenever one fails.
pub async fn run<J: Job, H: Handler<J> + ?Sized>(
    spec: WorkerSpec,
    storage: RedisStorage<J, crate::store::redis::RedisConn>,
    handler: Arc<H>,
    shutdown: CancellationToken,
    health: Arc<WorkerHealth>,
) {
    let mut delay = FIRST_RESTART_DELAY;
    health.starting(&spec.queue);
    while !shutdown.is_cancelled() {
        let me = Instance::current();
        let started = Instant::now();
        let ended = run_instance(&spec, storage.clone(), handler.clone(), &shutdown, &health, &me).await;
        let Ended::Failed(error) = ended else {
            health.down(&spec.queue, false);
            return;
        };
        health.down(&spec.queue, true);
        if started.elapsed() > STABLE_RUN {
            delay = FIRST_RESTART_DELAY;
        }
        tracing::error!(worker = %spec.name, queue = %spec.queue, %error, retry_in_ms = delay.as_millis() as u64,
            "worker stopped with an error; starting it again");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => return,
        }
        delay = (delay * 2).min(MAX_RESTART_DELAY);
    }
}

async fn run_instance<J: Job, H: Handler<J> + ?Sized>(
    spec: &WorkerSpec,
    mut storage: RedisStorage<J, crate::store::redis::RedisConn>,
    handler: Arc<H>,
    shutdown: &CancellationToken,
    health: &Arc<WorkerHealth>,
    me: &Instance,
) -> Ended {
    let name = me.name(&spec.name);
    match reclaim_earlier(&mut storage, &spec.name, me).await {
        Ok(0) => {}
        Ok(moved) => tracing::info!(worker = %spec.name, queue = %spec.queue, moved, "took back jobs left in flight"),
        Err(e) => return Ended::Failed(format!("cannot reach Redis to take back jobs left in flight: {e}")),
    }
    let (queue, events) = (spec.queue.clone(), health.clone());
    let worker = WorkerBuilder::new(name.clone())
        .backend(storage.clone().poll_with_interval(spec.poll))
        .concurrency(spec.concurrency)
        .data(HandlerRef { handler, max_attempts: spec.max_attempts })
        .on_event(move |_, event| {
            // A beat reaches Redis: the worker is registered and fetching.
            if matches!(event, Event::HeartBeat) {
                events.up(&queue);
            }
        })
        .build(apalis_entry::<J, H>);
    let stop = shutdown.clone();
    let running = tokio::spawn(worker.run_until(async move {
        stop.cancelled_owned().await;
        Ok::<(), std::io::Error>(())
    }));
    let abort = running.abort_handle();
    let grace = spec.grace;
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    let ended = tokio::select! {
        joined = running => match joined {
            Ok(Ok(())) if shutdown.is_cancelled() => Ended::Stopped,
            Ok(Ok(())) => Ended::Failed("the worker ended by itself".into()),
            Ok(Err(e)) => Ended::Failed(e.to_string()),
            Err(e) if e.is_panic() => Ended::Failed(format!("the worker panicked: {}", super::worker::panic_message(e.into_panic().as_ref()))),
            Err(e) => Ended::Failed(e.to_string()),
        },
        () = deadline => {
            abort.abort();
            tracing::warn!(worker = %spec.name, queue = %spec.queue, grace_ms = grace.as_millis() as u64,
                "jobs still running at the end of the grace period: handed back to the queue");
            Ended::Stopped
        }
    };
    // Whatever this instance still holds goes back to the queue untouched (a later instance would do it too).
    let config = storage.get_config().clone();
    match apalis_redis::queries::reclaim_workers(storage.get_connection(), &config, &[name]).await {
        Ok(0) | Err(_) => {}
        Ok(moved) => tracing::info!(worker = %spec.name, queue = %spec.queue, moved, "jobs handed back to the queue"),
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_round_trip_and_belong_to_their_base_only() {
        let me = Instance { host: "web-1.example".replace('.', "-"), pid: 42, started_ms: 1_700_000_000_000 };
        let name = me.name("wa-8080-inbound");
        assert_eq!(Instance::parse("wa-8080-inbound", &name), Some(me.clone()));
        assert_eq!(Instance::parse("wa-8080", &name), None, "another base name");
        assert_eq!(Instance::parse("wa-8080-inbound", "wa-8080-inbound"), None);
        assert_eq!(Instance::parse("wa-8080-inbound", "wa-8080-inbound@host.x.1"), None);
    }

    #[test]
    fn only_instances_known_to_be_gone_are_taken_back_at_once() {
        let me = Instance::current();
        let earlier_in_this_process = Instance { started_ms: me.started_ms - 1, ..me.clone() };
        assert!(me.knows_gone(&earlier_in_this_process));
        let elsewhere = Instance { host: format!("{}-other", me.host), ..me.clone() };
        assert!(!me.knows_gone(&elsewhere), "another host: left to the orphan timeout");
        if cfg!(target_os = "linux") {
            let dead = Instance { pid: u32::MAX - 1, ..me.clone() };
            assert!(me.knows_gone(&dead), "no such process on this host");
            let parent = Instance { pid: std::os::unix::process::parent_id(), ..me.clone() };
            assert!(!me.knows_gone(&parent), "a live process with the same worker name");
        }
    }
}
