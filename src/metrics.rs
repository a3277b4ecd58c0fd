//! Prometheus metrics, served as text on `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// The service's prefix of every metric name.
const PREFIX: &str = "wa_onboard";

/// The registry, and what was registered in it: a family with no series yet (no provider called, no
/// conversation ended) is still listed on `/metrics` with its help and type, so that dashboards, alerts and
/// people see every metric from the first scrape.
pub struct Catalog {
    registry: Registry,
    /// (name without the prefix, help, OpenMetrics type).
    described: Vec<(String, String, &'static str)>,
}

impl Catalog {
    fn new() -> Self {
        Self { registry: Registry::with_prefix(PREFIX), described: Vec::new() }
    }

    pub fn register(&mut self, name: &str, help: &str, metric: impl Metric) {
        use prometheus_client::metrics::MetricType;
        let kind = match metric.metric_type() {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Info => "info",
            _ => "unknown",
        };
        self.described.push((name.to_owned(), help.to_owned(), kind));
        self.registry.register(name, help, metric);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    pub provider: String,
    pub capability: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderResultLabels {
    pub provider: String,
    pub capability: &'static str,
    /// An answer's status (`pass`, `retry`, `fail`, `pending`) or an error's label (`timeout`, `unavailable`...).
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabel {
    pub provider: String,
}

/// 10 ms to ~41 s: a provider answers in a second or two, a slow one times out.
fn provider_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 13))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueStateLabels {
    pub queue: &'static str,
    /// `due`, `scheduled` or `dead`.
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabel {
    pub decision: &'static str,
}

/// 10 s to about 11 hours: how long people wait for an agent, and how long agents take.
fn case_histogram() -> Histogram {
    Histogram::new(exponential_buckets(10.0, 2.0, 13))
}

fn latency_histogram() -> Histogram {
    // 0.1 ms to ~3.3 s: Meta asks for a median under 250 ms and fewer than 1% over 1 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

pub struct Metrics {
    registry: Catalog,
    /// Webhook POSTs by what became of them.
    pub webhooks_received: Family<OutcomeLabel, Counter>,
    pub signature_failures: Family<ReasonLabel, Counter>,
    /// Messages and statuses that had been recorded already (Meta redelivered them).
    pub duplicates: Counter,
    pub messages_enqueued: Family<TypeLabel, Counter>,
    pub statuses_recorded: Family<StatusLabel, Counter>,
    /// Payloads kept for inspection instead of being processed.
    pub payloads_kept: Family<KindLabel, Counter>,
    /// 1 while the store answers, as last seen by /readyz.
    pub store_up: Gauge,
    /// 1 once Meta answered 190 (access token expired): sending is held.
    pub token_expired: Gauge,
    /// Sends put back to wait for a new access token.
    pub sends_held: Counter,
    pub messages_sent: Family<TypeLabel, Counter>,
    pub messages_undeliverable: Family<ReasonLabel, Counter>,
    /// Failed delivery statuses of our messages, by Meta error code.
    pub delivery_failures: Family<StatusLabel, Counter>,
    pub request_duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    /// HTTP connections open now, refused at the cap, and closed for overstaying (idle, slow headers).
    pub http_connections_open: Gauge,
    pub http_connections_refused: Counter,
    pub http_connections_timed_out: Family<ReasonLabel, Counter>,
    /// Which queues have a live worker in this process, and restarts.
    pub workers: std::sync::Arc<crate::jobs::health::WorkerHealth>,
    /// Cases per state, read from the store at each scrape (so every process reports the same queue).
    pub cases: Family<StatusLabel, Gauge>,
    /// Jobs per queue and state (due, scheduled, dead), read from the store at each scrape.
    pub queue_jobs: Family<QueueStateLabels, Gauge>,
    /// How long the oldest waiting case has waited, read from the store at each scrape (0: nobody waits).
    pub case_oldest_waiting: Gauge,
    /// From a case opening to an agent taking it.
    pub case_time_to_assignment: Histogram,
    /// From an agent taking a case to their closing decision (approve, reject, return).
    pub case_handling_time: Histogram,
    pub case_decisions: Family<DecisionLabel, Counter>,
    /// The onboarding funnel (started, steps, outcomes, retakes, handoffs, time to outcome).
    pub funnel: crate::funnel::metrics::FunnelMetrics,
    /// Identity providers' calls, by result, their latency, and whether their circuit is open.
    pub provider_requests: Family<ProviderResultLabels, Counter>,
    pub provider_duration: Family<ProviderLabels, Histogram, fn() -> Histogram>,
    pub provider_circuit_open: Family<ProviderLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Catalog::new();
        let m = Self {
            registry: Catalog { registry: Registry::default(), described: Vec::new() },
            webhooks_received: Family::default(),
            signature_failures: Family::default(),
            duplicates: Counter::default(),
            messages_enqueued: Family::default(),
            statuses_recorded: Family::default(),
            payloads_kept: Family::default(),
            store_up: Gauge::default(),
            token_expired: Gauge::default(),
            sends_held: Counter::default(),
            messages_sent: Family::default(),
            messages_undeliverable: Family::default(),
            delivery_failures: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            http_connections_open: Gauge::default(),
            http_connections_refused: Counter::default(),
            http_connections_timed_out: Family::default(),
            workers: Default::default(),
            cases: Family::default(),
            queue_jobs: Family::default(),
            case_oldest_waiting: Gauge::default(),
            case_time_to_assignment: case_histogram(),
            case_handling_time: case_histogram(),
            case_decisions: Family::default(),
            funnel: Default::default(),
            provider_requests: Family::default(),
            provider_duration: Family::new_with_constructor(provider_histogram),
            provider_circuit_open: Family::default(),
        };
        registry.register(
            "webhooks_received",
            "Webhook POSTs received, by outcome (accepted, bad_signature, invalid_envelope, unavailable)",
            m.webhooks_received.clone(),
        );
        registry.register(
            "webhook_signature_failures",
            "Webhook POSTs refused for their X-Hub-Signature-256 header, by reason",
            m.signature_failures.clone(),
        );
        registry.register(
            "webhook_duplicates",
            "Messages and statuses delivered again by Meta and not queued a second time",
            m.duplicates.clone(),
        );
        registry.register(
            "messages_enqueued",
            "Inbound messages queued for the conversation runner, by message type",
            m.messages_enqueued.clone(),
        );
        registry.register(
            "statuses_recorded",
            "Delivery statuses of our messages recorded, by status",
            m.statuses_recorded.clone(),
        );
        registry.register(
            "webhook_payloads_kept",
            "Payloads kept for inspection instead of processed, by kind",
            m.payloads_kept.clone(),
        );
        registry.register("store_up", "1 when the store answered the last readiness check", m.store_up.clone());
        registry.register(
            "whatsapp_token_expired",
            "1 when Meta refused the access token (error 190): sends are held until it is replaced",
            m.token_expired.clone(),
        );
        registry.register(
            "whatsapp_sends_held",
            "Sends put back to wait (no attempt used) because the access token is invalid",
            m.sends_held.clone(),
        );
        registry.register("messages_sent", "Messages accepted by the Cloud API, by kind", m.messages_sent.clone());
        registry.register(
            "messages_undeliverable",
            "Messages given up (permanent Meta errors, or retries exhausted), by reason",
            m.messages_undeliverable.clone(),
        );
        registry.register(
            "delivery_failures",
            "Failed delivery statuses reported by Meta for our messages, by error code",
            m.delivery_failures.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by method, route and status",
            m.request_duration.clone(),
        );
        registry.register("http_connections_open", "HTTP connections open now", m.http_connections_open.clone());
        registry.register(
            "http_connections_refused",
            "HTTP connections answered 503 and closed because HTTP_MAX_CONNECTIONS were open",
            m.http_connections_refused.clone(),
        );
        registry.register(
            "http_connections_timed_out",
            "HTTP connections closed by the server, by reason (idle, slow headers)",
            m.http_connections_timed_out.clone(),
        );
        registry.register("cases", "Agent cases by state (waiting is the queue depth)", m.cases.clone());
        registry.register(
            "queue_jobs",
            "Jobs per queue by state: due (waiting for a worker), scheduled (later: retries, reminders), dead (gave up)",
            m.queue_jobs.clone(),
        );
        registry.register(
            "case_oldest_waiting_seconds",
            "Seconds the oldest waiting case has waited for an agent (0 when nobody waits)",
            m.case_oldest_waiting.clone(),
        );
        registry.register(
            "case_time_to_assignment_seconds",
            "Seconds from a case opening to an agent taking it",
            m.case_time_to_assignment.clone(),
        );
        registry.register(
            "case_handling_seconds",
            "Seconds from an agent taking a case to their closing decision",
            m.case_handling_time.clone(),
        );
        registry.register(
            "case_decisions",
            "Agent decisions, by decision (approve, reject, retake, return)",
            m.case_decisions.clone(),
        );
        m.funnel.register(&mut registry);
        registry.register(
            "provider_requests",
            "Identity provider calls, by provider, capability and result (pass, retry, fail, pending, or the error)",
            m.provider_requests.clone(),
        );
        registry.register(
            "provider_request_duration_seconds",
            "Identity provider call latency (retries included), by provider and capability",
            m.provider_duration.clone(),
        );
        registry.register(
            "provider_circuit_open",
            "1 while a provider's circuit breaker is open (calls refused, users sent to a person)",
            m.provider_circuit_open.clone(),
        );
        registry.register("worker_up", "1 while the queue has a live worker in this process", m.workers.up.clone());
        registry.register(
            "worker_restarts",
            "Workers started again after a failure (Redis error, refused registration, panic), by queue",
            m.workers.restarts.clone(),
        );
        Self { registry, ..m }
    }

    /// Counts one call to an identity provider and notes its circuit.
    pub fn provider_call(
        &self,
        provider: &dyn crate::verify::providers::Provider,
        capability: crate::verify::providers::Capability,
        outcome: &Result<crate::verify::providers::ProviderAnswer, crate::verify::providers::ProviderError>,
        elapsed: std::time::Duration,
    ) {
        use crate::verify::providers::AnswerStatus;
        let result = match outcome {
            Ok(answer) => match answer.status {
                AnswerStatus::Pass => "pass",
                AnswerStatus::Retry { .. } => "retry",
                AnswerStatus::Fail { .. } => "fail",
                AnswerStatus::Pending { .. } => "pending",
            },
            Err(e) => e.label(),
        };
        let (name, capability) = (provider.name().to_owned(), capability.as_str());
        self.provider_requests
            .get_or_create(&ProviderResultLabels { provider: name.clone(), capability, result })
            .inc();
        if !matches!(outcome, Err(crate::verify::providers::ProviderError::CircuitOpen { .. })) {
            self.provider_duration
                .get_or_create(&ProviderLabels { provider: name.clone(), capability })
                .observe(elapsed.as_secs_f64());
        }
        let open = matches!(provider.circuit(), Some(crate::verify::providers::breaker::BreakerState::Open));
        self.provider_circuit_open.get_or_create(&ProviderLabel { provider: name }).set(i64::from(open));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry.registry);
        let end = out.rfind("# EOF").unwrap_or(out.len());
        let mut empty = String::new();
        for (name, help, kind) in &self.registry.described {
            if !out.contains(&format!("# TYPE {PREFIX}_{name} ")) {
                empty.push_str(&format!("# HELP {PREFIX}_{name} {help}.\n# TYPE {PREFIX}_{name} {kind}\n"));
            }
        }
        out.insert_str(end, &empty);
        out
    }
}
