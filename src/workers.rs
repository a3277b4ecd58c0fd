//! Starts the workers of a process: one per queue, on the backend's queues.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::backend::QueueSet;
use crate::config::WorkerConfig;
use crate::jobs::event::EventJob;
use crate::jobs::inbound::InboundJob;
use crate::jobs::notify::NotifyJob;
use crate::jobs::outbound::OutboundJob;
use crate::jobs::verify::VerifyJob;
use crate::jobs::worker::{Handler, run_memory, run_redis};

pub struct Handlers {
    pub inbound: Arc<dyn Handler<InboundJob>>,
    pub events: Arc<dyn Handler<EventJob>>,
    pub outbound: Arc<dyn Handler<OutboundJob>>,
    pub verify: Arc<dyn Handler<VerifyJob>>,
    pub notify: Arc<dyn Handler<NotifyJob>>,
}

pub fn spawn(
    queues: &QueueSet,
    handlers: Handlers,
    config: &WorkerConfig,
    shutdown: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let (n, poll) = (config.concurrency, config.poll);
    let name = |queue: &str| format!("{}-{queue}", config.name);
    match queues.clone() {
        QueueSet::Memory { inbound, outbound, verify, events, notify } => vec![
            tokio::spawn(run_memory(name("notify"), notify, handlers.notify, 4, poll, shutdown.clone())),
            tokio::spawn(run_memory(name("inbound"), inbound, handlers.inbound, n, poll, shutdown.clone())),
            tokio::spawn(run_memory(name("events"), events, handlers.events, n, poll, shutdown.clone())),
            tokio::spawn(run_memory(name("outbound"), outbound, handlers.outbound, n, poll, shutdown.clone())),
            tokio::spawn(run_memory(name("verify"), verify, handlers.verify, n.min(4), poll, shutdown.clone())),
        ],
        QueueSet::Redis(q) => vec![
            tokio::spawn(run_redis(name("notify"), q.notify, handlers.notify, 4, poll, shutdown.clone())),
            tokio::spawn(run_redis(name("inbound"), q.inbound, handlers.inbound, n, poll, shutdown.clone())),
            tokio::spawn(run_redis(name("events"), q.events, handlers.events, n, poll, shutdown.clone())),
            tokio::spawn(run_redis(name("outbound"), q.outbound, handlers.outbound, n, poll, shutdown.clone())),
            tokio::spawn(run_redis(name("verify"), q.verify, handlers.verify, n.min(4), poll, shutdown.clone())),
        ],
    }
}
