//! The catalog of the service's background jobs: each kind's contract (queue, concurrency, attempt cap,
//! idempotency key, handler) in one `impl`, and the one loop that starts a worker per kind, or, in tests and
//! the demo, runs what is pending step by step.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::conversation::handlers::{EventHandler, InboundHandler};
use crate::conversation::outbound::OutboundHandler;
use crate::jobs::event::EventJob;
use crate::jobs::health::WorkerHealth;
use crate::jobs::inbound::{INBOUND_QUEUE, InboundJob};
use crate::jobs::notify::NotifyJob;
use crate::jobs::outbound::OutboundJob;
use crate::jobs::photo::PhotoJob;
use crate::jobs::verify::VerifyJob;
use crate::jobs::worker::{self, Handler, WorkerSpec};
use crate::jobs::{BackgroundJob, Concurrency, JobKey, Queues};
use crate::privacy::{EraseJob, Privacy};
use crate::store::queue::QueueDepth;
use crate::store::{Backend, StoreError};
use crate::verify::job::Verifier;

/// Every queue the service runs, in the order a message flows through them.
pub const QUEUE_NAMES: [&str; 7] = [
    <InboundJob as BackgroundJob>::QUEUE,
    <EventJob as BackgroundJob>::QUEUE,
    <OutboundJob as BackgroundJob>::QUEUE,
    <PhotoJob as BackgroundJob>::QUEUE,
    <VerifyJob as BackgroundJob>::QUEUE,
    <NotifyJob as BackgroundJob>::QUEUE,
    <EraseJob as BackgroundJob>::QUEUE,
];

impl BackgroundJob for InboundJob {
    const QUEUE: &'static str = INBOUND_QUEUE;
    type Handler = InboundHandler;
    fn key(&self) -> JobKey {
        self.key.clone()
    }
    fn owner(&self) -> Option<String> {
        self.event.user_key().map(|user| user.as_string())
    }
}

impl BackgroundJob for EventJob {
    const QUEUE: &'static str = "events";
    type Handler = EventHandler;
    fn key(&self) -> JobKey {
        self.key.clone()
    }
    fn owner(&self) -> Option<String> {
        Some(self.user.as_string())
    }
}

impl BackgroundJob for OutboundJob {
    const QUEUE: &'static str = "outbound";
    type Handler = OutboundHandler;
    fn key(&self) -> JobKey {
        match self {
            OutboundJob::Send { key, .. } | OutboundJob::MarkRead { key, .. } => key.clone(),
        }
    }
    fn owner(&self) -> Option<String> {
        match self {
            OutboundJob::Send { to, .. } => {
                Some(format!("{}:{}", to.phone_number_id, to.user_id.as_deref().or(to.phone.as_deref())?))
            }
            OutboundJob::MarkRead { .. } => None,
        }
    }
}

impl BackgroundJob for PhotoJob {
    const QUEUE: &'static str = "photos";
    /// One photo decoded at a time per core; the user waits for its answer before the next step.
    const CONCURRENCY: Concurrency = Concurrency::AtMost(4);
    type Handler = Verifier;
    fn key(&self) -> JobKey {
        self.key.clone()
    }
    fn owner(&self) -> Option<String> {
        Some(self.user.as_string())
    }
}

impl BackgroundJob for VerifyJob {
    const QUEUE: &'static str = "verify";
    /// Image decoding and face search take a core each: a few at a time.
    const CONCURRENCY: Concurrency = Concurrency::AtMost(4);
    type Handler = Verifier;
    fn key(&self) -> JobKey {
        self.key.clone()
    }
    fn owner(&self) -> Option<String> {
        Some(self.user.as_string())
    }
}

impl BackgroundJob for NotifyJob {
    const QUEUE: &'static str = "notify";
    /// One company endpoint: a few calls at a time are plenty and spare it.
    const CONCURRENCY: Concurrency = Concurrency::Fixed(4);
    /// The company's webhook, or only a log line when none is configured.
    type Handler = dyn Handler<NotifyJob>;
    fn key(&self) -> JobKey {
        JobKey::from_stored(self.id.clone())
    }
}

/// The handler of every kind of job.
pub struct Handlers {
    pub notify: Arc<dyn Handler<NotifyJob>>,
    pub inbound: Arc<InboundHandler>,
    pub events: Arc<EventHandler>,
    pub outbound: Arc<OutboundHandler>,
    pub verify: Arc<Verifier>,
    pub erase: Arc<Privacy>,
}

/// Every queue's depth, as the store holds it (for `/metrics`): the kinds of [`Handlers::each`], in its order.
pub async fn queue_depths(backend: &Backend) -> Vec<(&'static str, Result<QueueDepth, StoreError>)> {
    async fn of<J: BackgroundJob>(queues: &Queues) -> (&'static str, Result<QueueDepth, StoreError>) {
        (J::QUEUE, queues.of::<J>().depth().await)
    }
    let queues = Queues::new(backend.clone());
    vec![
        of::<InboundJob>(&queues).await,
        of::<EventJob>(&queues).await,
        of::<OutboundJob>(&queues).await,
        of::<PhotoJob>(&queues).await,
        of::<VerifyJob>(&queues).await,
        of::<NotifyJob>(&queues).await,
        of::<EraseJob>(&queues).await,
    ]
}

/// Something done once per kind of job.
trait EachJob {
    async fn with<J: BackgroundJob>(&mut self, handler: &Arc<J::Handler>);
}

impl Handlers {
    /// The one list of job kinds.
    async fn each(&self, visit: &mut impl EachJob) {
        // In this order, one step of the memory queues sends a stop's goodbye and notification before the
        // erasure that waits for them.
        visit.with::<InboundJob>(&self.inbound).await;
        visit.with::<EventJob>(&self.events).await;
        visit.with::<OutboundJob>(&self.outbound).await;
        visit.with::<PhotoJob>(&self.verify).await;
        visit.with::<VerifyJob>(&self.verify).await;
        visit.with::<NotifyJob>(&self.notify).await;
        visit.with::<EraseJob>(&self.erase).await;
    }

    /// Starts one supervised worker per kind of job, until `shutdown`; each reports to `health`, and on shutdown
    /// lets its jobs in flight run on for `grace` before handing them back.
    pub async fn spawn(
        &self,
        backend: &Backend,
        config: &WorkerConfig,
        shutdown: &CancellationToken,
        health: &Arc<WorkerHealth>,
        grace: std::time::Duration,
    ) -> Vec<JoinHandle<()>> {
        struct Spawn<'a> {
            backend: &'a Backend,
            config: &'a WorkerConfig,
            shutdown: &'a CancellationToken,
            health: &'a Arc<WorkerHealth>,
            grace: std::time::Duration,
            started: Vec<JoinHandle<()>>,
        }
        impl EachJob for Spawn<'_> {
            async fn with<J: BackgroundJob>(&mut self, handler: &Arc<J::Handler>) {
                let spec = WorkerSpec {
                    name: format!("{}-{}", self.config.name, J::QUEUE),
                    queue: J::QUEUE.to_owned(),
                    concurrency: J::CONCURRENCY.resolve(self.config.concurrency),
                    poll: self.config.poll,
                    max_attempts: J::MAX_ATTEMPTS,
                    grace: self.grace,
                };
                let source = self.backend.worker_source::<J>(J::QUEUE);
                let run = worker::run(spec, source, handler.clone(), self.shutdown.clone(), self.health.clone());
                self.started.push(tokio::spawn(run));
            }
        }
        let mut spawn = Spawn { backend, config, shutdown, health, grace, started: Vec::new() };
        self.each(&mut spawn).await;
        spawn.started
    }

    /// Runs every job that is due on the memory queues, and what those jobs queue in turn, until nothing is due;
    /// answers how many ran. Jobs scheduled later (reminders, retries) wait until the backend's clock reaches
    /// them. Does nothing on Redis.
    pub async fn run_pending(&self, backend: &Backend) -> usize {
        struct Step<'a> {
            backend: &'a Backend,
            ran: usize,
        }
        impl EachJob for Step<'_> {
            async fn with<J: BackgroundJob>(&mut self, handler: &Arc<J::Handler>) {
                if let Some(queue) = self.backend.memory_queue::<J>(J::QUEUE) {
                    self.ran += worker::run_pending(J::QUEUE, &queue, handler.as_ref(), J::MAX_ATTEMPTS).await;
                }
            }
        }
        let mut total = 0;
        loop {
            let mut step = Step { backend, ran: 0 };
            self.each(&mut step).await;
            if step.ran == 0 {
                return total;
            }
            total += step.ran;
        }
    }
}
