//! Delivering send jobs against the simulator: idempotency across a job that dies after Meta accepted, the
//! template fallback when the window closed, and the retry decisions handed back to the job system.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use wa_onboard::sim::{Failure, Simulator};
use wa_onboard::store::rate_limit::LimiterSettings;
use wa_onboard::store::{StoreError, ValueStore};
use wa_onboard::whatsapp::sender::{
    DEFAULT_SENT_LOG_TTL, DeliveryFailure, SENT_LOG_NAMESPACE, SendJob, SenderDeps, SentLog, SentRecord, deliver,
};
use wa_onboard::whatsapp::{OutboundMessage, Recipient};

fn job(key: &str) -> SendJob {
    SendJob {
        idempotency_key: key.into(),
        to: Recipient::Phone("5215512345678".into()),
        message: OutboundMessage::buttons("¿Aceptas?").button("y", "Acepto").button("n", "No").build().unwrap(),
        fallback_template: None,
        attempt: 0,
        from: None,
    }
}

/// The sent log's values on each backend.
async fn sent_values(name: &str) -> Vec<(Arc<dyn ValueStore>, Option<RedisKeys>)> {
    let mut out = Vec::new();
    for backend in [Backend::Memory, Backend::Redis] {
        let (backend, keys) = open_backend(backend, name).await;
        out.push((backend.values(SENT_LOG_NAMESPACE), keys));
    }
    out
}

fn memory_log() -> SentLog {
    let backend = wa_onboard::store::Backend::memory(DEDUPE_TTL, wa_onboard::clock::system());
    SentLog::new(backend.values(SENT_LOG_NAMESPACE), DEFAULT_SENT_LOG_TTL)
}

/// Records like the real store, then fails as if the worker died right after (while armed): the job system
/// sees an error although the wamid is recorded.
struct DiesAfterRecording {
    inner: Arc<dyn ValueStore>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ValueStore for DiesAfterRecording {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get(key).await
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.inner.remove(key).await
    }

    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.put_if_absent(key, value, ttl).await?;
        // The claim before the send goes through; the record after it is where the worker dies.
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) && !key.ends_with(":sending") {
            return Err(StoreError::Unavailable("the worker died".into()));
        }
        Ok(true)
    }
}

#[tokio::test]
async fn a_job_that_dies_after_meta_accepted_is_retried_without_a_second_message() {
    for (values, _keys) in sent_values("sender-idem").await {
        let sim = Simulator::start().await.unwrap();
        let log = SentLog::new(values.clone(), DEFAULT_SENT_LOG_TTL);
        let dying =
            Arc::new(DiesAfterRecording { inner: values.clone(), armed: std::sync::atomic::AtomicBool::new(true) });
        let deps = SenderDeps::new(sim_api(&sim), SentLog::new(dying.clone(), DEFAULT_SENT_LOG_TTL));
        let mut job = job("evt-1:0");

        let first = deliver(&job, &deps).await;
        assert!(matches!(first, Err(DeliveryFailure::Retry { .. })), "{first:?}");
        assert_eq!(sim.messages().len(), 1, "Meta accepted the message once");

        // The worker restarts; the job system runs the job again.
        dying.armed.store(false, std::sync::atomic::Ordering::SeqCst);
        job.attempt += 1;
        let retried = deliver(&job, &deps).await.unwrap();
        assert!(retried.already_sent);
        assert_eq!(retried.wamid, sim.messages()[0].wamid, "the recorded wamid is answered");
        assert_eq!(sim.messages().len(), 1, "no second message");

        // Any later run is just as quiet; another key sends.
        assert!(deliver(&job, &deps).await.unwrap().already_sent);
        let other = deliver(&self::job("evt-1:1"), &deps).await.unwrap();
        assert!(!other.already_sent);
        assert_eq!(sim.messages().len(), 2);
        assert!(matches!(log.get("evt-1:1").await.unwrap(), Some(SentRecord::Sent { .. })));
    }
}

/// Answers reads, but refuses every write while armed (Redis went away right after Meta accepted the message).
struct RefusesWrites {
    inner: Arc<dyn ValueStore>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl ValueStore for RefusesWrites {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get(key).await
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.inner.remove(key).await
    }

    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        // Redis went away after the claim before the send was written.
        if self.armed.load(std::sync::atomic::Ordering::SeqCst) && !key.ends_with(":sending") {
            return Err(StoreError::Unavailable("connection refused".into()));
        }
        self.inner.put_if_absent(key, value, ttl).await
    }
}

#[tokio::test]
async fn a_send_whose_record_cannot_be_written_is_not_sent_again_by_this_process() {
    for (values, _keys) in sent_values("sender-unwritten").await {
        let sim = Simulator::start().await.unwrap();
        let log = SentLog::new(values.clone(), DEFAULT_SENT_LOG_TTL);
        let down = Arc::new(RefusesWrites { inner: values.clone(), armed: std::sync::atomic::AtomicBool::new(true) });
        let deps = SenderDeps::new(sim_api(&sim), SentLog::new(down.clone(), DEFAULT_SENT_LOG_TTL));
        let mut job = job("evt-2:0");

        let first = deliver(&job, &deps).await;
        assert!(matches!(first, Err(DeliveryFailure::Retry { .. })), "{first:?}");
        assert_eq!(log.get("evt-2:0").await.unwrap(), None, "nothing could be written");

        // Still down at the retry: nothing is sent again.
        job.attempt += 1;
        assert!(deliver(&job, &deps).await.unwrap().already_sent);
        // Back: the next try writes the record late, for every process to see.
        down.armed.store(false, std::sync::atomic::Ordering::SeqCst);
        assert!(deliver(&job, &deps).await.unwrap().already_sent);
        assert_eq!(sim.messages().len(), 1, "Meta got the message once");
        let written = log.get("evt-2:0").await.unwrap();
        assert!(matches!(written, Some(SentRecord::Sent { ref wamid, .. }) if *wamid == sim.messages()[0].wamid));
    }
}

#[tokio::test]
async fn a_try_cut_short_after_meta_accepted_is_confirmed_by_its_status_and_not_sent_again() {
    for (values, _keys) in sent_values("sender-doubt").await {
        let sim = Simulator::start().await.unwrap();
        let api = sim_api(&sim);
        let job = job("evt-4:0");
        // A worker claimed the send, Meta accepted it, and the process was killed before the record.
        let dead = SentLog::new(values.clone(), DEFAULT_SENT_LOG_TTL);
        assert!(dead.claim_send("evt-4:0").await.unwrap());
        let sent = api.send_tagged("", &job.to, &job.message, Some("evt-4:0")).await.unwrap();
        assert_eq!(sim.messages()[0].body["biz_opaque_callback_data"], "evt-4:0", "the key travels with the message");

        // Another process runs the job again: in doubt, it waits instead of sending.
        let deps = SenderDeps::new(api.clone(), SentLog::new(values.clone(), DEFAULT_SENT_LOG_TTL));
        let in_doubt = deliver(&job, &deps).await;
        assert!(
            matches!(in_doubt, Err(DeliveryFailure::Retry { ref reason, .. }) if reason.contains("earlier try")),
            "{in_doubt:?}"
        );
        assert_eq!(sim.messages().len(), 1, "not sent again while in doubt");

        // Meta's status of the message carries the key back: the send is recorded, the next try is quiet.
        assert!(deps.sent_log.confirm("evt-4:0", &sent.wamid).await.unwrap());
        let retried = deliver(&job, &deps).await.unwrap();
        assert!(retried.already_sent);
        assert_eq!(retried.wamid, sent.wamid);
        assert_eq!(sim.messages().len(), 1, "Meta got the message once");
    }
}

/// Writes, then answers "already there" for the claims: what a cluster client's resend after a lost answer looks
/// like (the first send was applied, the second finds the key taken).
struct ResentWrites {
    inner: Arc<dyn ValueStore>,
}

#[async_trait]
impl ValueStore for ResentWrites {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get(key).await
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        self.inner.remove(key).await
    }

    async fn put_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, StoreError> {
        let written = self.inner.put_if_absent(key, value, ttl).await?;
        Ok(written && !key.ends_with(":sending"))
    }
}

#[tokio::test]
async fn a_claim_applied_twice_by_the_client_is_recognised_as_its_own() {
    for (values, _keys) in sent_values("sender-resent").await {
        let sim = Simulator::start().await.unwrap();
        let deps = SenderDeps::new(
            sim_api(&sim),
            SentLog::new(Arc::new(ResentWrites { inner: values }), DEFAULT_SENT_LOG_TTL),
        );
        let sent = deliver(&job("evt-7:0"), &deps).await.unwrap();
        assert!(!sent.already_sent, "not taken for an earlier try in doubt");
        assert_eq!(sim.messages().len(), 1);
    }
}

#[tokio::test]
async fn a_try_that_never_reached_meta_is_sent_once_the_doubt_passes() {
    let clock = wa_onboard::clock::FixedClock::starting_now();
    let backend = wa_onboard::store::Backend::memory(DEDUPE_TTL, clock.clone());
    let log = SentLog::new(backend.values(SENT_LOG_NAMESPACE), DEFAULT_SENT_LOG_TTL);
    let sim = Simulator::start().await.unwrap();
    let deps = SenderDeps::new(sim_api(&sim), log.clone());
    let job = job("evt-5:0");
    // Killed after its claim, before the request left: no status will ever come.
    assert!(log.claim_send("evt-5:0").await.unwrap());
    assert!(matches!(deliver(&job, &deps).await, Err(DeliveryFailure::Retry { .. })));
    clock.advance(wa_onboard::whatsapp::sender::IN_DOUBT + Duration::from_secs(1));
    let sent = deliver(&job, &deps).await.unwrap();
    assert!(!sent.already_sent);
    assert_eq!(sim.messages().len(), 1, "sent once, late rather than never");
}

#[tokio::test]
async fn a_send_meta_refused_does_not_hold_the_next_try_back() {
    for (values, _keys) in sent_values("sender-refused").await {
        let sim = Simulator::start().await.unwrap();
        let deps = SenderDeps::new(sim_api(&sim), SentLog::new(values, DEFAULT_SENT_LOG_TTL));
        let mut job = job("evt-6:0");
        sim.fail(Failure::ServerError);
        assert!(matches!(deliver(&job, &deps).await, Err(DeliveryFailure::Retry { .. })));
        job.attempt += 1;
        assert!(!deliver(&job, &deps).await.unwrap().already_sent, "Meta said no: the retry sends at once");
        assert_eq!(sim.messages().len(), 1);
    }
}

#[tokio::test]
async fn a_closed_window_falls_back_to_the_template() {
    for (values, _keys) in sent_values("sender-window").await {
        let log = SentLog::new(values, DEFAULT_SENT_LOG_TTL);
        let sim = Simulator::start().await.unwrap();
        let deps = SenderDeps::new(sim_api(&sim), log.clone());
        let mut job = job("evt-2:0");
        job.fallback_template = Some(OutboundMessage::template("kyc_resume", "es_MX", vec![]).unwrap());
        sim.fail(Failure::WindowClosed);
        let delivered = deliver(&job, &deps).await.unwrap();
        assert!(delivered.via_template);
        let recorded = sim.messages();
        assert_eq!(recorded.len(), 1, "only the template was accepted");
        assert_eq!(recorded[0].kind, "template");
        assert_eq!(recorded[0].body["template"]["name"], "kyc_resume");
        assert_eq!(recorded[0].wamid, delivered.wamid);
        // Retrying does not send the template again.
        assert!(deliver(&job, &deps).await.unwrap().already_sent);
        assert_eq!(sim.messages().len(), 1);
    }
}

#[tokio::test]
async fn a_closed_window_without_template_is_undeliverable_and_recorded() {
    for (values, _keys) in sent_values("sender-undeliverable").await {
        let log = SentLog::new(values, DEFAULT_SENT_LOG_TTL);
        let sim = Simulator::start().await.unwrap();
        let deps = SenderDeps::new(sim_api(&sim), log.clone());
        let job = job("evt-3:0");
        sim.fail(Failure::WindowClosed);
        let failure = deliver(&job, &deps).await.unwrap_err();
        let DeliveryFailure::Undeliverable { reason } = &failure else { panic!("{failure:?}") };
        assert_eq!(reason.code, Some(131047));
        // Recorded: a retry answers the same without calling Meta (which would accept it now).
        assert_eq!(deliver(&job, &deps).await.unwrap_err(), failure);
        assert!(sim.messages().is_empty());
        assert!(matches!(log.get("evt-3:0").await.unwrap(), Some(SentRecord::Undeliverable { .. })));
    }
}

#[tokio::test]
async fn retryable_errors_hand_the_job_back_with_a_delay() {
    let sim = Simulator::start().await.unwrap();
    let log = memory_log();
    let mut deps = SenderDeps::new(sim_api(&sim), log);
    deps.max_attempts = 3;
    let mut job = job("evt-4:0");

    sim.fail(Failure::PairRate);
    let failure = deliver(&job, &deps).await.unwrap_err();
    assert!(
        matches!(&failure, DeliveryFailure::Retry { after, reason }
            if *after == Duration::from_secs(4) && reason.contains("131056")),
        "{failure:?}"
    );
    job.attempt = 1;
    sim.fail(Failure::Throttled);
    assert!(matches!(deliver(&job, &deps).await, Err(DeliveryFailure::Retry { .. })));
    // The last allowed attempt gives up, and says so.
    job.attempt = 2;
    sim.fail(Failure::ServerError);
    let failure = deliver(&job, &deps).await.unwrap_err();
    assert!(
        matches!(&failure, DeliveryFailure::Undeliverable { reason } if reason.category == "gave_up"),
        "{failure:?}"
    );
    assert!(sim.messages().is_empty());
}

#[tokio::test]
async fn an_expired_token_stops_delivery() {
    let sim = Simulator::start().await.unwrap();
    let log = memory_log();
    let deps = SenderDeps::new(sim_api(&sim), log.clone());
    sim.fail(Failure::TokenExpired);
    assert_eq!(deliver(&job("evt-5:0"), &deps).await.unwrap_err(), DeliveryFailure::TokenExpired);
    assert_eq!(deliver(&job("evt-5:1"), &deps).await.unwrap_err(), DeliveryFailure::TokenExpired);
    assert!(sim.messages().is_empty());
    assert_eq!(log.get("evt-5:0").await.unwrap(), None, "not recorded: it goes out once the token is replaced");
    deps.api.reset_token_expired();
    assert!(deliver(&job("evt-5:0"), &deps).await.is_ok());
}

#[tokio::test]
async fn the_limiter_paces_sends_to_one_user() {
    let sim = Simulator::start().await.unwrap();
    let log = memory_log();
    let settings =
        LimiterSettings { per_user_interval: Duration::from_secs(30), per_user_burst: 2, ..LimiterSettings::default() };
    let mut deps = SenderDeps::new(sim_api(&sim), log).with_limiter(
        wa_onboard::store::Backend::memory(DEDUPE_TTL, wa_onboard::clock::system()).rate_limiter(settings),
    );
    deps.max_limiter_wait = Duration::from_millis(50);
    deliver(&job("evt-6:0"), &deps).await.unwrap();
    deliver(&job("evt-6:1"), &deps).await.unwrap();
    let failure = deliver(&job("evt-6:2"), &deps).await.unwrap_err();
    assert!(matches!(failure, DeliveryFailure::Retry { after, .. } if after > Duration::from_secs(25)), "{failure:?}");
    assert_eq!(sim.messages().len(), 2);
}

#[test]
fn a_send_job_survives_the_job_queue() {
    let mut job = job("evt-7:0");
    job.to = Recipient::UserId("US.1349".into());
    job.fallback_template = Some(OutboundMessage::template("kyc_resume", "es_MX", vec![]).unwrap());
    job.attempt = 3;
    let json = serde_json::to_string(&job).unwrap();
    assert_eq!(serde_json::from_str::<SendJob>(&json).unwrap(), job);
}
