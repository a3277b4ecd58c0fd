//! The Veriff adapter through real HTTP against the fake Veriff (`verify::providers::veriff::fake`): the three
//! requests' bodies (goldens in tests/data/veriff/), Veriff's signatures both ways, the decision webhook mapped
//! to our callback answer, timeouts, retries and the circuit breaker.
//!
//! `UPDATE_GOLDEN=1 cargo test --test veriff_provider` rewrites the goldens.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use wa_onboard::clock;
use wa_onboard::config::Secret;
use wa_onboard::verify::document::DocumentType;
use wa_onboard::verify::providers::breaker::{BreakerConfig, BreakerState, ManualClock};
use wa_onboard::verify::providers::callback::CallbackAnswer;
use wa_onboard::verify::providers::veriff::fake::{FakeBehavior, FakeDecision, FakeVeriff, RecordedRequest};
use wa_onboard::verify::providers::veriff::webhook::{self, DECISION_PATH, VeriffWebhookKeys, decision_status};
use wa_onboard::verify::providers::veriff::wire::{self, DecisionDocument, DecisionPerson};
use wa_onboard::verify::providers::veriff::{COVERS, VeriffConfig, VeriffProvider, veriff_router};
use wa_onboard::verify::providers::{
    AnswerStatus, Capability, Correlation, ImageContent, ImageRole, ProviderError, ProviderImage, ProviderRequest,
    check,
};
use wa_onboard::verify::reason::ReasonCode;

const API_KEY: &str = "veriff-api-key-test";
const SHARED_SECRET: &str = "veriff-shared-secret-test";

/// Small stand-ins for photos: only their bytes matter here.
const FRONT: &[u8] = b"\xFF\xD8\xFF\xE0front-of-the-dni\xFF\xD9";
const BACK: &[u8] = b"\xFF\xD8\xFF\xE0back-of-the-dni\xFF\xD9";
const SELFIE: &[u8] = b"\xFF\xD8\xFF\xE0selfie\xFF\xD9";

fn image(role: ImageRole, bytes: &'static [u8]) -> ProviderImage {
    ProviderImage { role, content: ImageContent::Bytes { mime: "image/jpeg".to_owned(), bytes: bytes.into() } }
}

fn request() -> ProviderRequest {
    ProviderRequest {
        correlation: Correlation { conversation_id: "c-8f3a0b1c2d3e".to_owned(), attempt: 1 },
        country: "AR".to_owned(),
        document_type: Some(DocumentType::ArDni),
        document_number: Some("30.123.456".to_owned()),
        images: vec![
            image(ImageRole::DocumentFront, FRONT),
            image(ImageRole::DocumentBack, BACK),
            image(ImageRole::Selfie, SELFIE),
        ],
        fields: BTreeMap::from([
            ("given_names".to_owned(), "ANA MARIA".to_owned()),
            ("surname".to_owned(), "GOMEZ".to_owned()),
            ("birth_date".to_owned(), "1990-04-02".to_owned()),
        ]),
        callback_url: Some("https://onboard.example.com/providers/callback".to_owned()),
    }
}

fn config(base_url: String, shared_secret: &str) -> VeriffConfig {
    VeriffConfig {
        base_url,
        callback_url: Some("https://onboard.example.com/verified".to_owned()),
        timeout: Duration::from_millis(2000),
        retries: 0,
        retry_backoff: Duration::from_millis(10),
        breaker: BreakerConfig { failure_threshold: 2, cooldown_ms: 30_000 },
        ..VeriffConfig::new("veriff", Secret::new(API_KEY), Secret::new(shared_secret))
    }
}

fn provider(config: VeriffConfig, breaker_clock: Arc<ManualClock>) -> VeriffProvider {
    VeriffProvider::with_breaker_clock(config, clock::system(), breaker_clock).unwrap()
}

async fn fake() -> FakeVeriff {
    FakeVeriff::start(API_KEY, SHARED_SECRET).await.unwrap()
}

/// The decision route on a random port, delivering into a channel. `providers`: name → (api key, secret).
async fn receiver(providers: &[(&str, &str, &str)]) -> (String, mpsc::Receiver<CallbackAnswer>) {
    let (tx, rx) = mpsc::channel(8);
    (serve(providers, tx).await, rx)
}

async fn serve(providers: &[(&str, &str, &str)], tx: mpsc::Sender<CallbackAnswer>) -> String {
    let keys: HashMap<String, VeriffWebhookKeys> = providers
        .iter()
        .map(|(name, key, secret)| {
            ((*name).to_owned(), VeriffWebhookKeys { api_key: Secret::new(*key), shared_secret: Secret::new(*secret) })
        })
        .collect();
    let app = veriff_router(keys, Arc::new(tx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{DECISION_PATH}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Polls `done` every 10 ms, for at most 5 s.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: not within 5 s");
}

async fn recv(rx: &mut mpsc::Receiver<CallbackAnswer>) -> CallbackAnswer {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("no webhook within 5 s").expect("closed")
}

// ---------------------------------------------------------------------------------------------------------------
// The three requests

/// A recorded request as a golden: the volatile parts (host port, content length) left out, each image replaced
/// by the sha256 of its bytes (after checking the bytes are the ones sent), and the signature by a note (the fake
/// checked it: the request was accepted).
fn golden_view(r: &RecordedRequest) -> serde_json::Value {
    let mut body = r.body.clone();
    if let Some(content) = body.pointer_mut("/image/content") {
        let text = content.as_str().unwrap().to_owned();
        let (prefix, data) = text.split_once(";base64,").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(data).unwrap();
        assert!([FRONT, BACK, SELFIE].contains(&bytes.as_slice()), "an image we did not send");
        *content = format!("{prefix};base64,<sha256:{}>", hex::encode(Sha256::digest(&bytes))).into();
    }
    let mut headers = serde_json::Map::new();
    for name in ["content-type", wire::AUTH_CLIENT_HEADER] {
        if let Some(v) = r.headers.get(name) {
            headers.insert(name.to_owned(), v.clone().into());
        }
    }
    if r.headers.contains_key(wire::HMAC_SIGNATURE_HEADER) {
        headers.insert(
            wire::HMAC_SIGNATURE_HEADER.to_owned(),
            "<lowercase hex HMAC-SHA256 of the body with the shared secret key; checked by the fake>".into(),
        );
    }
    serde_json::json!({ "method": r.method, "path": r.path, "headers": headers, "body": body })
}

fn assert_golden(name: &str, actual: &serde_json::Value) {
    let path = format!("{}/tests/data/veriff/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (UPDATE_GOLDEN=1 writes it)"));
    let expected: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(actual, &expected, "{name} differs from its golden (UPDATE_GOLDEN=1 rewrites it)");
}

#[tokio::test]
async fn the_three_requests_match_their_goldens() {
    let fake = fake().await;
    let p = provider(config(fake.base_url(), SHARED_SECRET), Arc::default());
    let answer = check(&p, Capability::Document, &request()).await.unwrap();
    let session = "00000000-0000-4000-8000-000000000001";
    assert_eq!(answer.status, AnswerStatus::Pending { reference: session.to_owned() });
    assert_eq!(answer.reference.as_deref(), Some(session));
    assert_eq!(answer.provider, "veriff");
    assert_eq!(answer.fields.get("covers").map(String::as_str), Some("document,face_match,liveness"));

    let seen = fake.requests();
    let names = ["create_session", "media_document_front", "media_document_back", "media_face", "submit_session"];
    assert_eq!(seen.len(), names.len(), "{seen:#?}");
    for (r, name) in seen.iter().zip(names) {
        assert!((200..300).contains(&r.status), "{name}: the fake answered {}", r.status);
        assert_golden(&format!("{name}.json"), &golden_view(r));
    }
    assert_eq!(fake.rejected(), 0);
    let sessions = fake.sessions();
    assert_eq!(sessions[0].media, ["document-front", "document-back", "face"]);
    assert!(sessions[0].submitted);
}

/// The signature of the exact bytes sent, against a value computed outside this code base:
/// `printf '%s' '{"verification":{"status":"submitted"}}' | openssl dgst -sha256 -hmac veriff-shared-secret-test`.
#[tokio::test]
async fn the_signature_is_the_hex_hmac_sha256_of_the_exact_body() {
    let fake = fake().await;
    let p = provider(config(fake.base_url(), SHARED_SECRET), Arc::default());
    check(&p, Capability::FaceMatch, &request()).await.unwrap();
    let submit = fake.requests().into_iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(
        submit.headers.get(wire::HMAC_SIGNATURE_HEADER).map(String::as_str),
        Some("05621dd5eb31e4e30d951cf7cc7f69f2e302c4dd6dff8c617f7c09360603c813")
    );
    let create = &fake.requests()[0];
    assert_eq!(create.body["verification"]["vendorData"], "c-8f3a0b1c2d3e:1|face_match");
    assert!(!create.headers.contains_key(wire::HMAC_SIGNATURE_HEADER), "session creation takes the API key only");
}

#[tokio::test]
async fn a_wrong_shared_secret_or_api_key_is_refused_like_veriff_does() {
    let fake = fake().await;
    let p = provider(config(fake.base_url(), "not-the-shared-secret"), Arc::default());
    let err = check(&p, Capability::Document, &request()).await.unwrap_err();
    match &err {
        ProviderError::BadAnswer { detail, .. } => assert!(detail.contains("401") && detail.contains("upload media")),
        other => panic!("{other:?}"),
    }
    // The session was created (that request carries no signature); the first signed request was refused, and
    // not retried.
    let seen = fake.requests();
    assert_eq!(seen.iter().map(|r| r.status).collect::<Vec<_>>(), [201, 401]);
    assert_eq!(fake.rejected(), 1);

    let fake = self::fake().await;
    let mut wrong_key = config(fake.base_url(), SHARED_SECRET);
    wrong_key.api_key = Secret::new("someone-else");
    let err = check(&provider(wrong_key, Arc::default()), Capability::Document, &request()).await.unwrap_err();
    assert!(matches!(&err, ProviderError::BadAnswer { detail, .. } if detail.contains("create session")), "{err:?}");
    assert_eq!(fake.rejected(), 1);
}

// ---------------------------------------------------------------------------------------------------------------
// The decision webhook

#[tokio::test]
async fn a_signed_decision_reaches_the_sink_as_our_callback_answer() {
    let (url, mut rx) = receiver(&[("veriff", API_KEY, SHARED_SECRET), ("veriff_eu2", "other-key", "other")]).await;
    let fake = fake().await;
    fake.decide(
        FakeDecision::approved()
            .with_person(DecisionPerson {
                first_name: Some("ANA MARIA".into()),
                last_name: Some("GOMEZ".into()),
                id_number: Some("30123456".into()),
                date_of_birth: Some("1990-04-02".into()),
            })
            .with_document(DecisionDocument {
                number: Some("30123456".into()),
                kind: Some("ID_CARD".into()),
                country: Some("AR".into()),
                valid_until: Some("2031-05-01".into()),
            }),
        &url,
    );
    let p = provider(config(fake.base_url(), SHARED_SECRET), Arc::default());
    let pending = check(&p, Capability::Liveness, &request()).await.unwrap();
    let AnswerStatus::Pending { reference } = &pending.status else { panic!("{pending:?}") };

    let got = recv(&mut rx).await;
    assert_eq!(got.provider, "veriff");
    assert_eq!(got.capability, Capability::Liveness);
    assert_eq!(got.correlation_id, "c-8f3a0b1c2d3e:1");
    assert_eq!(&got.reference, reference);
    assert_eq!(got.answer.status, AnswerStatus::Pass);
    assert_eq!(got.answer.confidence, 1.0);
    assert_eq!(got.answer.provider, "veriff");
    assert_eq!(got.answer.reference.as_ref(), Some(reference));
    let fields: Vec<(&str, &str)> = got.answer.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        fields,
        [
            ("birth_date", "1990-04-02"),
            ("covers", COVERS),
            ("document_country", "AR"),
            ("document_number", "30123456"),
            ("document_type", "ID_CARD"),
            ("expiry_date", "2031-05-01"),
            ("given_names", "ANA MARIA"),
            ("id_number", "30123456"),
            ("surname", "GOMEZ"),
            ("veriff_code", "9001"),
            ("veriff_status", "approved"),
        ]
    );
    eventually("the fake records its webhook", || !fake.webhook_statuses().is_empty()).await;
    assert_eq!(fake.webhook_statuses(), [200]);
}

#[tokio::test]
async fn the_decision_score_and_reason_travel_with_a_decline() {
    let (url, mut rx) = receiver(&[("veriff", API_KEY, SHARED_SECRET)]).await;
    let fake = fake().await;
    fake.decide(
        FakeDecision::declined(103, "Person showing the document does not appear to match document photo")
            .with_score(0.12),
        &url,
    );
    let p = provider(config(fake.base_url(), SHARED_SECRET), Arc::default());
    check(&p, Capability::FaceMatch, &request()).await.unwrap();
    let got = recv(&mut rx).await;
    assert_eq!(got.capability, Capability::FaceMatch);
    assert_eq!(got.answer.status, AnswerStatus::Fail { reason: ReasonCode::FaceMismatch });
    assert!((got.answer.confidence - 0.12).abs() < 1e-6);
    assert_eq!(got.answer.fields["veriff_reason_code"], "103");
    assert_eq!(got.answer.fields["veriff_code"], "9102");
    assert!(got.answer.fields["veriff_reason"].starts_with("Person showing"));
}

fn signed(body: &[u8], secret: &str) -> String {
    wire::hmac_hex(secret.as_bytes(), body)
}

async fn post(url: &str, client_key: Option<&str>, signature: Option<&str>, body: Vec<u8>) -> u16 {
    let mut req = reqwest::Client::new().post(url).header("content-type", "application/json");
    if let Some(key) = client_key {
        req = req.header(wire::AUTH_CLIENT_HEADER, key);
    }
    if let Some(sig) = signature {
        req = req.header(wire::HMAC_SIGNATURE_HEADER, sig);
    }
    req.body(body).send().await.unwrap().status().as_u16()
}

fn decision_body(decision: &FakeDecision, vendor_data: &str) -> Vec<u8> {
    serde_json::to_vec(&decision.webhook("11111111-2222-4333-8444-555555555555", vendor_data)).unwrap()
}

#[tokio::test]
async fn tampered_unsigned_or_foreign_webhooks_are_refused() {
    let (url, mut rx) = receiver(&[("veriff", API_KEY, SHARED_SECRET), ("veriff_mx", "mx-key", "mx-secret")]).await;
    let body = decision_body(&FakeDecision::declined(106, "Known fraud"), "c-1:2|document");
    let good = signed(&body, SHARED_SECRET);

    // Tampered body, original signature.
    let tampered = String::from_utf8(body.clone()).unwrap().replace("declined", "approved").into_bytes();
    assert_eq!(post(&url, Some(API_KEY), Some(&good), tampered).await, 401);
    // Signed with another secret, missing, malformed.
    assert_eq!(post(&url, Some(API_KEY), Some(&signed(&body, "guess")), body.clone()).await, 401);
    assert_eq!(post(&url, Some(API_KEY), None, body.clone()).await, 401);
    assert_eq!(post(&url, Some(API_KEY), Some("zz"), body.clone()).await, 401);
    // Unknown or missing client; another configured client's key with our signature.
    assert_eq!(post(&url, Some("who-is-this"), Some(&good), body.clone()).await, 401);
    assert_eq!(post(&url, None, Some(&good), body.clone()).await, 401);
    assert_eq!(post(&url, Some("mx-key"), Some(&good), body.clone()).await, 401);
    assert!(rx.try_recv().is_err(), "nothing refused may reach the sink");

    // The genuine one, twice (Veriff redelivers): both delivered, the sink is idempotent.
    assert_eq!(post(&url, Some(API_KEY), Some(&good), body.clone()).await, 200);
    assert_eq!(post(&url, Some(API_KEY), Some(&good), body.clone()).await, 200);
    for _ in 0..2 {
        let got = recv(&mut rx).await;
        assert_eq!((got.provider.as_str(), got.capability), ("veriff", Capability::Document));
        assert_eq!(got.answer.status, AnswerStatus::Fail { reason: ReasonCode::RegistryHit });
    }
    // The other integration, with its own keys.
    let mx = decision_body(&FakeDecision::approved(), "c-9:1|face_match");
    assert_eq!(post(&url, Some("mx-key"), Some(&signed(&mx, "mx-secret")), mx).await, 200);
    assert_eq!(recv(&mut rx).await.provider, "veriff_mx");
}

#[tokio::test]
async fn signed_bodies_that_are_not_our_decisions() {
    let (url, mut rx) = receiver(&[("veriff", API_KEY, SHARED_SECRET)]).await;
    let post_signed = |body: Vec<u8>| {
        let url = url.clone();
        async move {
            let sig = signed(&body, SHARED_SECRET);
            post(&url, Some(API_KEY), Some(&sig), body).await
        }
    };
    assert_eq!(post_signed(b"not json".to_vec()).await, 400);
    assert_eq!(post_signed(br#"{"verification":{"status":"approved"}}"#.to_vec()).await, 400, "no session id");
    let foreign = decision_body(&FakeDecision::approved(), "user-1234");
    assert_eq!(post_signed(foreign).await, 400, "vendorData we did not write");
    // An event webhook sent to the decision URL: acknowledged, nothing delivered.
    let event = br#"{"id":"11111111-2222-4333-8444-555555555555","attemptId":"a","feature":"selfid","code":7002,"action":"submitted","vendorData":"c-1:2|document"}"#;
    assert_eq!(post_signed(event.to_vec()).await, 200);
    assert!(rx.try_recv().is_err());
    // Over 1 MiB.
    let big = format!(r#"{{"verification":{{"id":"x","reason":"{}"}}}}"#, "a".repeat(webhook::MAX_DECISION_BYTES));
    assert_eq!(post_signed(big.into_bytes()).await, 413);
}

#[tokio::test]
async fn a_failing_sink_answers_503_so_veriff_delivers_again() {
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    let url = serve(&[("veriff", API_KEY, SHARED_SECRET)], tx).await;
    let body = decision_body(&FakeDecision::approved(), "c-1:2|document");
    assert_eq!(post(&url, Some(API_KEY), Some(&signed(&body, SHARED_SECRET)), body).await, 503);
}

// ---------------------------------------------------------------------------------------------------------------
// The mapping table (docs/providers-veriff.md)

#[test]
fn every_status_and_reason_code_maps_as_documented() {
    use ReasonCode as R;
    let pass = AnswerStatus::Pass;
    let retry = |reason| AnswerStatus::Retry { reason };
    let fail = |reason| AnswerStatus::Fail { reason };
    let table: &[(&str, Option<u32>, AnswerStatus)] = &[
        ("approved", None, pass.clone()),
        ("approved", Some(999), pass),
        // Resubmission: a new photo can fix it...
        ("resubmission_requested", Some(201), retry(R::NoDocument)),
        ("resubmission_requested", Some(202), retry(R::NoFace)),
        ("resubmission_requested", Some(203), retry(R::Cropped)),
        ("resubmission_requested", Some(204), retry(R::Blurry)),
        ("resubmission_requested", Some(205), retry(R::DocumentUnreadable)),
        ("resubmission_requested", Some(206), retry(R::WrongDocumentType)),
        ("resubmission_requested", Some(208), retry(R::NoFace)),
        ("resubmission_requested", Some(209), retry(R::NoDocument)),
        // ...except an expired document, and what we cannot explain.
        ("resubmission_requested", Some(207), fail(R::DocumentExpired)),
        ("resubmission_requested", Some(210), fail(R::LowConfidence)),
        ("resubmission_requested", None, fail(R::LowConfidence)),
        // Declined.
        ("declined", Some(101), fail(R::RegistryHit)),
        ("declined", Some(102), fail(R::RegistryHit)),
        ("declined", Some(103), fail(R::FaceMismatch)),
        ("declined", Some(104), fail(R::DataMismatch)),
        ("declined", Some(105), fail(R::RegistryHit)),
        ("declined", Some(106), fail(R::RegistryHit)),
        ("declined", Some(107), fail(R::RegistryHit)),
        ("declined", Some(108), fail(R::RegistryHit)),
        ("declined", Some(109), fail(R::RegistryHit)),
        ("declined", Some(110), fail(R::RegistryHit)),
        ("declined", Some(111), fail(R::RegistryHit)),
        ("declined", Some(112), fail(R::LowConfidence)),
        ("declined", Some(113), fail(R::RegistryHit)),
        ("declined", Some(120), fail(R::FaceMismatch)),
        ("declined", Some(121), fail(R::LowConfidence)),
        ("declined", Some(122), fail(R::LowConfidence)),
        ("declined", Some(123), fail(R::RegistryHit)),
        ("declined", Some(124), fail(R::RegistryHit)),
        ("declined", Some(126), fail(R::LowConfidence)),
        ("declined", Some(127), fail(R::RegistryHit)),
        ("declined", Some(128), fail(R::DataMismatch)),
        ("declined", Some(129), fail(R::LowConfidence)),
        ("declined", Some(501), fail(R::RegistryHit)),
        ("declined", Some(502), fail(R::RegistryHit)),
        ("declined", Some(505), fail(R::RegistryHit)),
        ("declined", Some(508), fail(R::RegistryHit)),
        ("declined", Some(509), fail(R::FaceMismatch)),
        ("declined", Some(510), fail(R::WrongDocumentType)),
        ("declined", Some(511), fail(R::DocumentExpired)),
        ("declined", Some(515), fail(R::RegistryHit)),
        ("declined", Some(526), fail(R::RegistryHit)),
        ("declined", Some(530), fail(R::Underage)),
        ("declined", Some(533), fail(R::Underage)),
        ("declined", Some(536), fail(R::Underage)),
        ("declined", Some(539), fail(R::LowConfidence)),
        ("declined", None, fail(R::LowConfidence)),
        ("declined", Some(999), fail(R::LowConfidence)),
        // No verdict from Veriff's automation.
        ("review", None, fail(R::LowConfidence)),
        ("expired", None, fail(R::ProviderUnavailable)),
        ("abandoned", None, fail(R::ProviderUnavailable)),
        ("some_future_status", None, fail(R::LowConfidence)),
    ];
    for (status, code, expected) in table {
        assert_eq!(&decision_status(status, *code), expected, "{status} {code:?}");
    }
}

#[test]
fn the_status_code_stands_in_for_a_missing_status() {
    let decision = |code: u32| {
        let mut d = FakeDecision::new("", code, None, None).webhook("s-1", "c-1:1|document").verification;
        d.status = None;
        d
    };
    let status = |code| webhook::map_decision("veriff", &decision(code)).unwrap().answer.status;
    assert_eq!(status(9001), AnswerStatus::Pass);
    assert_eq!(status(9102), AnswerStatus::Fail { reason: ReasonCode::LowConfidence });
    assert_eq!(status(9104), AnswerStatus::Fail { reason: ReasonCode::ProviderUnavailable });
    assert_eq!(status(9121), AnswerStatus::Fail { reason: ReasonCode::LowConfidence });
    // An out-of-range score is ignored; a review carries no confidence.
    let mut d = FakeDecision::approved().with_score(7.0).webhook("s-1", "c-1:1|document").verification;
    assert_eq!(webhook::map_decision("veriff", &d).unwrap().answer.confidence, 1.0);
    d.status = Some("review".into());
    assert_eq!(webhook::map_decision("veriff", &d).unwrap().answer.confidence, 0.0);
}

// ---------------------------------------------------------------------------------------------------------------
// Timeouts, retries, the breaker, what is not offered

#[tokio::test]
async fn a_stalled_veriff_hits_the_timeout_after_its_retries() {
    let fake = fake().await;
    fake.set_behavior(FakeBehavior::Stall(Duration::from_secs(30)));
    let mut c = config(fake.base_url(), SHARED_SECRET);
    c.timeout = Duration::from_millis(200);
    c.retries = 1;
    let err = check(&provider(c, Arc::default()), Capability::Document, &request()).await.unwrap_err();
    assert_eq!(err, ProviderError::Timeout { provider: "veriff".to_owned(), after_ms: 200 });
    assert_eq!(fake.requests().len(), 2, "one attempt and one retry");
}

#[tokio::test]
async fn transient_failures_are_retried_and_refusals_are_not() {
    let fake = fake().await;
    fake.fail_next(503, 1);
    fake.fail_next(429, 1);
    let mut c = config(fake.base_url(), SHARED_SECRET);
    c.retries = 2;
    let p = provider(c, Arc::default());
    let answer = check(&p, Capability::Document, &request()).await.unwrap();
    assert!(matches!(answer.status, AnswerStatus::Pending { .. }));
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 429, 201, 200, 200, 200, 200]);

    fake.fail_next(400, 1);
    let err = check(&p, Capability::Document, &request()).await.unwrap_err();
    assert!(matches!(&err, ProviderError::BadAnswer { detail, .. } if detail.contains("400")), "{err:?}");
    assert_eq!(fake.requests().len(), 8, "a 400 is not retried");
}

#[tokio::test]
async fn repeated_500s_open_the_circuit_then_veriff_is_not_called() {
    let fake = fake().await;
    fake.set_behavior(FakeBehavior::Status(500));
    let clock = Arc::new(ManualClock::default());
    let mut c = config(fake.base_url(), SHARED_SECRET);
    c.retries = 1;
    let p = provider(c, clock.clone());
    for _ in 0..2 {
        let err = check(&p, Capability::Document, &request()).await.unwrap_err();
        assert!(matches!(&err, ProviderError::Unavailable { detail, .. } if detail.contains("500")), "{err:?}");
    }
    assert_eq!(fake.requests().len(), 4, "two checks, each with one retry");
    assert_eq!(p.breaker().state(), BreakerState::Open);
    let err = check(&p, Capability::FaceMatch, &request()).await.unwrap_err();
    assert_eq!(err, ProviderError::CircuitOpen { provider: "veriff".to_owned() });
    assert_eq!(fake.requests().len(), 4, "an open circuit calls nothing");

    // After the cooldown one trial goes through; Veriff is back, so the circuit closes.
    fake.set_behavior(FakeBehavior::Normal);
    clock.advance(Duration::from_millis(30_000));
    assert_eq!(p.breaker().state(), BreakerState::HalfOpen);
    assert!(matches!(check(&p, Capability::Document, &request()).await.unwrap().status, AnswerStatus::Pending { .. }));
    assert_eq!(p.breaker().state(), BreakerState::Closed);
}

#[tokio::test]
async fn registry_is_a_separate_veriff_product_and_is_not_pretended() {
    let fake = fake().await;
    let p = provider(config(fake.base_url(), SHARED_SECRET), Arc::default());
    let err = check(&p, Capability::Registry, &request()).await.unwrap_err();
    assert!(matches!(&err, ProviderError::Unavailable { detail, .. } if detail.contains("separate")), "{err:?}");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn requests_veriff_cannot_take_are_refused_before_anything_is_sent() {
    let fake = fake().await;
    let p = provider(config(fake.base_url(), SHARED_SECRET), Arc::default());
    let mut by_url = request();
    by_url.images[2].content = ImageContent::Url {
        mime: "image/jpeg".to_owned(),
        url: "https://onboard.example.com/media/m-1?exp=1&sig=ab".to_owned(),
    };
    assert!(matches!(check(&p, Capability::Liveness, &by_url).await, Err(ProviderError::BadAnswer { .. })));
    let mut none = request();
    none.images.clear();
    assert!(matches!(check(&p, Capability::Document, &none).await, Err(ProviderError::BadAnswer { .. })));
    assert!(fake.requests().is_empty(), "no session (and no cost) for a request that cannot be completed");
    assert_eq!(p.breaker().state(), BreakerState::Closed, "our side's problem is not counted against Veriff");
}
