//! Which queues have a live worker in this process: `/readyz` answers 503 while one has none, the metrics show
//! each queue's state and restarts, and a `worker` process whose workers stay down exits so that its supervisor
//! restarts it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: String,
}

#[derive(Debug, Clone, Copy)]
struct QueueState {
    live: bool,
    /// Since when the queue has had no live worker (set at start: a queue is down until its worker says it runs).
    down_since: Option<Instant>,
}

/// The workers' state per queue, shared by the workers, the health endpoints and the metrics.
#[derive(Debug, Default)]
pub struct WorkerHealth {
    queues: Mutex<BTreeMap<String, QueueState>>,
    /// 1 while the queue has a live worker in this process, else 0.
    pub up: Family<QueueLabel, Gauge>,
    /// Worker restarts after a failure (Redis error, refused registration, panic).
    pub restarts: Family<QueueLabel, Counter>,
}

/// A queue without a live worker, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownQueue {
    pub queue: String,
    pub down_for: Duration,
}

impl WorkerHealth {
    fn with(&self, queue: &str, change: impl FnOnce(&mut QueueState)) {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let state =
            queues.entry(queue.to_owned()).or_insert(QueueState { live: false, down_since: Some(Instant::now()) });
        change(state);
        self.up.get_or_create(&QueueLabel { queue: queue.to_owned() }).set(i64::from(state.live));
    }

    /// A worker for `queue` is starting: the queue counts as down until [`WorkerHealth::up`].
    pub fn starting(&self, queue: &str) {
        self.with(queue, |_| {});
    }

    /// `queue`'s worker runs (it registered, or its heartbeat reached the store).
    pub fn up(&self, queue: &str) {
        self.with(queue, |state| {
            state.live = true;
            state.down_since = None;
        });
    }

    /// `queue`'s worker stopped; `restart` when it failed and will be started again.
    pub fn down(&self, queue: &str, restart: bool) {
        self.with(queue, |state| {
            if state.live || state.down_since.is_none() {
                state.down_since = Some(Instant::now());
            }
            state.live = false;
        });
        if restart {
            self.restarts.get_or_create(&QueueLabel { queue: queue.to_owned() }).inc();
        }
    }

    /// The queues whose worker is not running now, longest down first. Empty when no worker was started here.
    pub fn down_queues(&self) -> Vec<DownQueue> {
        let queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let mut down: Vec<DownQueue> = queues
            .iter()
            .filter(|(_, state)| !state.live)
            .map(|(queue, state)| DownQueue {
                queue: queue.clone(),
                down_for: state.down_since.map(|since| since.elapsed()).unwrap_or_default(),
            })
            .collect();
        down.sort_by_key(|down| std::cmp::Reverse(down.down_for));
        down
    }

    /// The first queue down for longer than `limit`, if any.
    pub fn down_longer_than(&self, limit: Duration) -> Option<DownQueue> {
        self.down_queues().into_iter().find(|down| down.down_for > limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_is_down_until_its_worker_runs_and_again_when_it_stops() {
        let health = WorkerHealth::default();
        assert!(health.down_queues().is_empty(), "no worker started: nothing to report");
        health.starting("inbound");
        health.starting("outbound");
        assert_eq!(health.down_queues().len(), 2);
        health.up("inbound");
        health.up("outbound");
        assert!(health.down_queues().is_empty());
        health.down("outbound", true);
        let down = health.down_queues();
        assert_eq!(down.len(), 1);
        assert_eq!(down[0].queue, "outbound");
        assert_eq!(health.restarts.get_or_create(&QueueLabel { queue: "outbound".into() }).get(), 1);
        assert_eq!(health.up.get_or_create(&QueueLabel { queue: "outbound".into() }).get(), 0);
        assert!(health.down_longer_than(Duration::from_secs(3600)).is_none());
    }
}
