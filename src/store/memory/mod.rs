//! The in-memory implementations: the same semantics as Redis, for one process (development, the demo, tests).
//! Everything is lost on restart. Expiries follow the backend's clock.

pub mod agents;
pub mod api_tokens;
pub mod cases;
pub mod conversations;
pub mod delivery;
pub mod ingress;
pub mod journeys;
pub mod queue;
pub mod rate_limit;
pub mod send_order;
pub mod values;
pub mod vault;

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::queue::MemoryQueue;
use crate::clock::SharedClock;
use crate::store::queue::Job;

/// The queues of one process, by name: every producer and worker of a queue gets the same instance.
pub struct MemoryQueues {
    key_ttl: Duration,
    clock: SharedClock,
    queues: Mutex<HashMap<&'static str, Made>>,
}

/// What prints a queue's jobs (the queue's job type is known only where it was made).
type Dump = Arc<dyn Fn() -> String + Send + Sync>;

/// A queue made, and its dump.
struct Made {
    queue: Arc<dyn Any + Send + Sync>,
    dump: Dump,
}

impl MemoryQueues {
    pub fn new(key_ttl: Duration, clock: SharedClock) -> Self {
        Self { key_ttl, clock, queues: Mutex::default() }
    }

    /// The queue `name`, made on first use. A name always carries one job type.
    pub fn get<J: Job>(&self, name: &'static str) -> Arc<MemoryQueue<J>> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let entry = queues.entry(name).or_insert_with(|| {
            let queue = Arc::new(MemoryQueue::<J>::new(self.key_ttl, self.clock.clone()));
            let dumped = queue.clone();
            Made { queue, dump: Arc::new(move || dumped.dump()) }
        });
        match entry.queue.clone().downcast::<MemoryQueue<J>>() {
            Ok(queue) => queue,
            // Only a programming error (one name used for two job types) gets here: give that caller a queue of
            // its own rather than mixing job types.
            Err(_) => {
                tracing::error!(queue = name, "one queue name is used for two job types");
                Arc::new(MemoryQueue::new(self.key_ttl, self.clock.clone()))
            }
        }
    }

    /// Every queue made so far, with its name: what a test steps through.
    pub fn names(&self) -> Vec<&'static str> {
        let queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        let mut names: Vec<_> = queues.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// Every job and claim of every queue, as text, for tests that look for personal data in every byte kept.
    pub fn dump(&self) -> String {
        let dumps: Vec<(&'static str, Dump)> = {
            let queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            queues.iter().map(|(name, made)| (*name, made.dump.clone())).collect()
        };
        dumps.into_iter().map(|(name, dump)| format!("queue {name}:\n{}\n", dump())).collect()
    }
}
