//! Asynchronous providers: `pending`, then a signed callback to `POST /providers/callback`, parsed and handed to
//! a channel. Bad signatures, stale timestamps and non-final bodies are refused.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use tokio::sync::mpsc;
use wa_onboard::clock::{self, FixedClock, SharedClock};
use wa_onboard::config::Secret;
use wa_onboard::signing::{self, SignatureError};
use wa_onboard::verify::providers::breaker::BreakerConfig;
use wa_onboard::verify::providers::callback::{CallbackAnswer, CallbackError, callback_router, verify_callback};
use wa_onboard::verify::providers::http::{HttpProvider, HttpProviderConfig};
use wa_onboard::verify::providers::sim::{ProviderSim, RegistryStatus, SimBehavior};
use wa_onboard::verify::providers::{AnswerStatus, Capability, Correlation, ProviderRequest, check};
use wa_onboard::verify::reason::ReasonCode;

const SECRET: &str = "whsec_callback_test";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The callback route on a random port, delivering into a channel.
async fn receiver() -> (String, mpsc::Receiver<CallbackAnswer>) {
    receiver_at(clock::system()).await
}

/// The same, with signatures checked against `clock`.
async fn receiver_at(clock: SharedClock) -> (String, mpsc::Receiver<CallbackAnswer>) {
    let (tx, rx) = mpsc::channel(8);
    let secrets = HashMap::from([("acme".to_owned(), Secret::new(SECRET))]);
    let app = callback_router(secrets, Arc::new(tx), clock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/providers/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

const FINAL_BODY: &str = r#"{"provider":"acme","capability":"registry","correlation_id":"conv-8f3a:1","status":"fail","reason":"registry_hit","confidence":0.99,"fields":{"registry_detail":"stolen"},"reference":"acme-77"}"#;

fn headers(signature: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-waonboard-signature", signature.parse().unwrap());
    h.insert("x-waonboard-provider", "acme".parse().unwrap());
    h
}

#[tokio::test]
async fn pending_then_signed_callback_reaches_the_channel() {
    let (callback_url, mut rx) = receiver().await;
    let sim = ProviderSim::start("acme", SECRET, clock::system()).await.unwrap();
    sim.set(
        Capability::Registry,
        SimBehavior::Pending {
            delay: Duration::from_millis(50),
            then: Box::new(SimBehavior::RegistryHit(RegistryStatus::Deceased)),
        },
    );
    let p = HttpProvider::new(
        HttpProviderConfig {
            name: "acme".to_owned(),
            base_url: sim.base_url(),
            secret: Secret::new(SECRET),
            timeout: Duration::from_secs(2),
            retries: 0,
            retry_backoff: Duration::from_millis(10),
            breaker: BreakerConfig::default(),
        },
        clock::system(),
    )
    .unwrap();
    let request = ProviderRequest {
        correlation: Correlation { conversation_id: "conv-8f3a".to_owned(), attempt: 2 },
        country: "CL".to_owned(),
        document_type: None,
        document_number: Some("12345678".to_owned()),
        images: vec![],
        fields: Default::default(),
        callback_url: Some(callback_url),
    };
    let first = check(&p, Capability::Registry, &request).await.unwrap();
    let AnswerStatus::Pending { reference } = &first.status else { panic!("{first:?}") };

    let delivered = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
    assert_eq!(&delivered.reference, reference);
    assert_eq!(delivered.provider, "acme");
    assert_eq!(delivered.capability, Capability::Registry);
    assert_eq!(delivered.correlation_id, "conv-8f3a:2");
    assert_eq!(delivered.answer.status, AnswerStatus::Fail { reason: ReasonCode::RegistryHit });
    assert_eq!(delivered.answer.fields["registry_detail"], "deceased");
    // Give the simulator a moment to record the status of its post.
    for _ in 0..50 {
        if !sim.callback_statuses().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.callback_statuses(), vec![204]);
}

#[tokio::test]
async fn bad_signature_stale_timestamp_and_unknown_provider_get_401() {
    let (url, mut rx) = receiver().await;
    let client = reqwest::Client::new();
    let post = |signature: String, provider: &'static str| {
        client
            .post(&url)
            .header("x-waonboard-signature", signature)
            .header("x-waonboard-provider", provider)
            .body(FINAL_BODY)
            .send()
    };
    let good = signing::sign(SECRET.as_bytes(), now(), FINAL_BODY.as_bytes());
    let wrong = signing::sign(b"someone-else", now(), FINAL_BODY.as_bytes());
    let replayed = signing::sign(SECRET.as_bytes(), now() - 3600, FINAL_BODY.as_bytes());
    assert_eq!(post(wrong, "acme").await.unwrap().status(), 401);
    assert_eq!(post(replayed, "acme").await.unwrap().status(), 401);
    assert_eq!(post(good.clone(), "nobody").await.unwrap().status(), 401);
    assert!(rx.try_recv().is_err(), "nothing delivered");
    assert_eq!(post(good, "acme").await.unwrap().status(), 204);
    assert_eq!(rx.recv().await.unwrap().reference, "acme-77");
}

#[tokio::test]
async fn the_replay_window_is_measured_on_the_routers_clock() {
    let t = 1_763_800_000;
    let fixed = FixedClock::at_secs(t as u64);
    let (url, mut rx) = receiver_at(fixed.clone()).await;
    let client = reqwest::Client::new();
    let post = |signature: String| {
        client
            .post(&url)
            .header("x-waonboard-signature", signature)
            .header("x-waonboard-provider", "acme")
            .body(FINAL_BODY)
            .send()
    };
    // Signed now by the system clock: years away from the router's.
    assert_eq!(post(signing::sign(SECRET.as_bytes(), now(), FINAL_BODY.as_bytes())).await.unwrap().status(), 401);
    let at_t = signing::sign(SECRET.as_bytes(), t, FINAL_BODY.as_bytes());
    assert_eq!(post(at_t.clone()).await.unwrap().status(), 204);
    assert_eq!(rx.recv().await.unwrap().reference, "acme-77");
    fixed.advance(Duration::from_secs(301));
    assert_eq!(post(at_t).await.unwrap().status(), 401);
}

#[test]
fn verify_callback_checks_signature_time_and_body() {
    let secret = Secret::new(SECRET);
    let t = 1_763_800_000;
    let sig = signing::sign(SECRET.as_bytes(), t, FINAL_BODY.as_bytes());
    let ok = verify_callback(&secret, &headers(&sig), FINAL_BODY.as_bytes(), t + 10).unwrap();
    assert_eq!(ok.answer.status, AnswerStatus::Fail { reason: ReasonCode::RegistryHit });
    assert_eq!(ok.answer.confidence, 0.99);

    // Replayed an hour later.
    let err = verify_callback(&secret, &headers(&sig), FINAL_BODY.as_bytes(), t + 3600).unwrap_err();
    assert_eq!(err, CallbackError::Signature(SignatureError::Stale { age_secs: 3600 }));
    assert_eq!(err.status(), 401);
    // A changed body.
    let changed = FINAL_BODY.replace("stolen", "lost");
    let err = verify_callback(&secret, &headers(&sig), changed.as_bytes(), t).unwrap_err();
    assert_eq!(err, CallbackError::Signature(SignatureError::Mismatch));
    // No signature.
    assert!(matches!(
        verify_callback(&secret, &HeaderMap::new(), FINAL_BODY.as_bytes(), t),
        Err(CallbackError::Signature(SignatureError::Missing))
    ));

    // Signed but not a final answer: 400.
    for body in [
        FINAL_BODY.replace(r#""status":"fail""#, r#""status":"pending""#),
        FINAL_BODY.replace(r#""reason":"registry_hit""#, r#""reason":"cosmic_rays""#),
        FINAL_BODY.replace(r#","reference":"acme-77""#, ""),
        FINAL_BODY.replace(r#""provider":"acme""#, r#""provider":"other""#),
        "not json".to_owned(),
    ] {
        let sig = signing::sign(SECRET.as_bytes(), t, body.as_bytes());
        let err = verify_callback(&secret, &headers(&sig), body.as_bytes(), t).unwrap_err();
        assert!(matches!(err, CallbackError::BadBody(_)), "{body}: {err:?}");
        assert_eq!(err.status(), 400);
    }
}
