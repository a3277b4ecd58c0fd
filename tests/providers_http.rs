//! Every provider outcome through the HTTP contract, against the provider simulator on a random port.

use std::sync::Arc;
use std::time::Duration;

use wa_onboard::clock::{self, FixedClock};
use wa_onboard::config::Secret;
use wa_onboard::verify::document::DocumentType;
use wa_onboard::verify::providers::breaker::{BreakerConfig, BreakerState, ManualClock};
use wa_onboard::verify::providers::http::{HttpProvider, HttpProviderConfig};
use wa_onboard::verify::providers::sim::{ProviderSim, RegistryStatus, SimBehavior};
use wa_onboard::verify::providers::wire::WireRequest;
use wa_onboard::verify::providers::{
    AnswerStatus, Capability, Correlation, ImageContent, ImageRole, ProviderError, ProviderImage, ProviderRequest,
    check,
};
use wa_onboard::verify::reason::ReasonCode;

const SECRET: &str = "whsec_test_123";

fn request(number: &str) -> ProviderRequest {
    ProviderRequest {
        correlation: Correlation { conversation_id: "conv-8f3a".to_owned(), attempt: 1 },
        country: "AR".to_owned(),
        document_type: Some(DocumentType::ArDni),
        document_number: Some(number.to_owned()),
        images: vec![
            ProviderImage {
                role: ImageRole::DocumentFront,
                content: ImageContent::Bytes {
                    mime: "image/jpeg".to_owned(),
                    bytes: vec![0xFF, 0xD8, 0xFF, 0xD9].into(),
                },
            },
            ProviderImage {
                role: ImageRole::Selfie,
                content: ImageContent::Url {
                    mime: "image/jpeg".to_owned(),
                    url: "https://onboard.example.com/media/m-1?exp=1763800300&sig=ab".to_owned(),
                },
            },
        ],
        fields: Default::default(),
        callback_url: None,
    }
}

fn provider(base_url: String, secret: &str, timeout_ms: u64, retries: u32, clock: Arc<ManualClock>) -> HttpProvider {
    HttpProvider::with_breaker_clock(
        HttpProviderConfig {
            name: "acme".to_owned(),
            base_url,
            secret: Secret::new(secret),
            timeout: Duration::from_millis(timeout_ms),
            retries,
            retry_backoff: Duration::from_millis(10),
            breaker: BreakerConfig { failure_threshold: 2, cooldown_ms: 30_000 },
        },
        clock::system(),
        clock,
    )
    .unwrap()
}

async fn sim() -> ProviderSim {
    ProviderSim::start("acme", SECRET, clock::system()).await.unwrap()
}

#[tokio::test]
async fn pass_for_every_capability_with_signed_idempotent_requests() {
    let sim = sim().await;
    let p = provider(sim.base_url(), SECRET, 2000, 0, Arc::default());
    for &capability in Capability::ALL {
        let answer = check(&p, capability, &request("30123456")).await.unwrap();
        assert_eq!(answer.status, AnswerStatus::Pass);
        assert_eq!(answer.provider, "acme");
        assert!(answer.confidence > 0.9);
    }
    let seen = sim.requests();
    assert_eq!(seen.len(), 4);
    assert_eq!(seen[0].capability, Capability::Document);
    assert_eq!(seen[0].idempotency_key.as_deref(), Some("conv-8f3a:1:document"));
    assert_eq!(seen[0].body.correlation_id, "conv-8f3a:1");
    assert_eq!(seen[0].body.images[0].data_base64.as_deref(), Some("/9j/2Q=="));
    assert!(seen[0].body.images[1].url.as_deref().unwrap().contains("sig="));
    assert_eq!(sim.rejected(), 0);
}

#[tokio::test]
async fn retry_and_fail_reasons_and_low_confidence() {
    let sim = sim().await;
    let p = provider(sim.base_url(), SECRET, 2000, 0, Arc::default());
    sim.set(Capability::Document, SimBehavior::Retry(ReasonCode::Glare));
    sim.set(Capability::Liveness, SimBehavior::Retry(ReasonCode::LivenessFailed));
    sim.set(Capability::FaceMatch, SimBehavior::Fail(ReasonCode::FaceMismatch));
    let r = request("30123456");
    let doc = check(&p, Capability::Document, &r).await.unwrap();
    assert_eq!(doc.status, AnswerStatus::Retry { reason: ReasonCode::Glare });
    let live = check(&p, Capability::Liveness, &r).await.unwrap();
    assert_eq!(live.reason(), Some(ReasonCode::LivenessFailed));
    let face = check(&p, Capability::FaceMatch, &r).await.unwrap();
    assert_eq!(face.status, AnswerStatus::Fail { reason: ReasonCode::FaceMismatch });

    sim.set(Capability::FaceMatch, SimBehavior::pass(0.42));
    let mut retake = r.clone();
    retake.correlation.attempt = 2; // a new attempt: the same attempt would get the same answer again
    let low = check(&p, Capability::FaceMatch, &retake).await.unwrap();
    assert_eq!(low.status, AnswerStatus::Pass);
    assert!((low.confidence - 0.42).abs() < 1e-6);
    let judged = low.with_min_confidence(0.8);
    assert_eq!(judged.status, AnswerStatus::Fail { reason: ReasonCode::LowConfidence });
}

#[tokio::test]
async fn registry_hits_per_document_number() {
    let sim = sim().await;
    let p = provider(sim.base_url(), SECRET, 2000, 0, Arc::default());
    for (number, status) in [
        ("11111111", RegistryStatus::Lost),
        ("22222222", RegistryStatus::Stolen),
        ("33333333", RegistryStatus::Deceased),
    ] {
        sim.set_for_document(Capability::Registry, number, SimBehavior::RegistryHit(status));
    }
    for (number, detail) in [("11111111", "lost"), ("22222222", "stolen"), ("33333333", "deceased")] {
        let mut r = request(number);
        r.correlation.conversation_id = format!("conv-{number}"); // other people, other conversations
        let answer = check(&p, Capability::Registry, &r).await.unwrap();
        assert_eq!(answer.status, AnswerStatus::Fail { reason: ReasonCode::RegistryHit });
        assert_eq!(answer.fields["registry_detail"], detail);
        // Answers travel in jobs and events as JSON.
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["status"], "fail");
        assert_eq!(json["reason"], "registry_hit");
        assert_eq!(serde_json::from_value::<wa_onboard::verify::providers::ProviderAnswer>(json).unwrap(), answer);
    }
    let clean = check(&p, Capability::Registry, &request("30123456")).await.unwrap();
    assert_eq!(clean.status, AnswerStatus::Pass);
}

#[tokio::test]
async fn slow_provider_times_out_after_bounded_retries() {
    let sim = sim().await;
    let p = provider(sim.base_url(), SECRET, 150, 1, Arc::default());
    sim.set(
        Capability::Liveness,
        SimBehavior::Slow { delay: Duration::from_millis(600), then: Box::new(SimBehavior::pass(0.99)) },
    );
    let err = check(&p, Capability::Liveness, &request("30123456")).await.unwrap_err();
    assert_eq!(err, ProviderError::Timeout { provider: "acme".to_owned(), after_ms: 150 });
    assert_eq!(err.reason(), ReasonCode::ProviderUnavailable);
    assert_eq!(sim.requests().len(), 2, "one retry after a timeout");
}

#[tokio::test]
async fn down_provider_opens_the_breaker_which_closes_after_cooldown() {
    let sim = sim().await;
    let clock = Arc::new(ManualClock::default());
    let p = provider(sim.base_url(), SECRET, 2000, 2, clock.clone());
    sim.set(Capability::Document, SimBehavior::Down);
    let r = request("30123456");
    for _ in 0..2 {
        let err = check(&p, Capability::Document, &r).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    }
    assert_eq!(sim.requests().len(), 6, "2 calls of 3 attempts each (5xx is retried)");
    assert_eq!(p.breaker().state(), BreakerState::Open);

    // Open: refused at once, the provider is not called.
    let started = std::time::Instant::now();
    let err = check(&p, Capability::Document, &r).await.unwrap_err();
    assert_eq!(err, ProviderError::CircuitOpen { provider: "acme".to_owned() });
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(sim.requests().len(), 6);

    // After the cooldown one trial goes through; it succeeds and closes the circuit.
    sim.set(Capability::Document, SimBehavior::pass(0.97));
    clock.advance(Duration::from_secs(30));
    assert_eq!(p.breaker().state(), BreakerState::HalfOpen);
    assert_eq!(check(&p, Capability::Document, &r).await.unwrap().status, AnswerStatus::Pass);
    assert_eq!(p.breaker().state(), BreakerState::Closed);
}

#[tokio::test]
async fn connection_refused_is_unavailable() {
    // Port 1 (tcpmux) has no listener here. A port freed by the test itself could be taken at once by another
    // test's server running in parallel, which then sees a stray request.
    let p = provider("http://127.0.0.1:1".to_owned(), SECRET, 500, 1, Arc::default());
    let err = check(&p, Capability::Registry, &request("30123456")).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_by_the_provider_and_not_retried() {
    let sim = sim().await;
    let p = provider(sim.base_url(), "not-the-secret", 2000, 3, Arc::default());
    let err = check(&p, Capability::Document, &request("30123456")).await.unwrap_err();
    assert!(matches!(&err, ProviderError::BadAnswer { detail, .. } if detail.contains("401")), "{err:?}");
    assert_eq!(sim.rejected(), 1, "a 4xx is not retried");
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn the_same_check_of_the_same_attempt_gets_the_same_answer() {
    let sim = sim().await;
    let p = provider(sim.base_url(), SECRET, 2000, 0, Arc::default());
    let r = request("30123456");
    let first = check(&p, Capability::Document, &r).await.unwrap();
    sim.set(Capability::Document, SimBehavior::Fail(ReasonCode::DataMismatch));
    let again = check(&p, Capability::Document, &r).await.unwrap();
    assert_eq!(again.status, AnswerStatus::Pass);
    assert_eq!(again.reference, first.reference);
    assert!(first.reference.is_some());
    let keys: Vec<_> = sim.requests().into_iter().map(|r| r.idempotency_key).collect();
    assert_eq!(keys[0], keys[1]);
}

#[tokio::test]
async fn signatures_are_stamped_by_the_providers_clock_and_checked_on_the_simulators() {
    let fixed = FixedClock::at_secs(1_763_800_000);
    let sim = ProviderSim::start("acme", SECRET, fixed.clone()).await.unwrap();
    let config = HttpProviderConfig {
        name: "acme".to_owned(),
        base_url: sim.base_url(),
        secret: Secret::new(SECRET),
        timeout: Duration::from_secs(2),
        retries: 0,
        retry_backoff: Duration::from_millis(10),
        breaker: BreakerConfig::default(),
    };
    let on_the_same_clock = HttpProvider::new(config.clone(), fixed.clone()).unwrap();
    assert!(check(&on_the_same_clock, Capability::Registry, &request("30123456")).await.is_ok());
    // The system's time is years after the simulator's: outside the replay window.
    let on_the_system_clock = HttpProvider::new(config, clock::system()).unwrap();
    assert!(check(&on_the_system_clock, Capability::Registry, &request("30123456")).await.is_err());
    assert_eq!(sim.rejected(), 1);
}

/// The body of the worked signing example in docs/providers.md is what the client sends.
#[test]
fn documented_request_body() {
    let mut r = request("30123456");
    r.images.clear();
    let body = serde_json::to_string(&WireRequest::new(Capability::Registry, &r)).unwrap();
    assert_eq!(
        body,
        r#"{"capability":"registry","correlation_id":"conv-8f3a:1","conversation_id":"conv-8f3a","attempt":1,"country":"AR","document_type":"ar_dni","document_number":"30123456","images":[],"fields":{}}"#
    );
}
