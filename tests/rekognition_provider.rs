//! The Rekognition adapter through the official SDK, against a local endpoint that speaks Rekognition's JSON
//! protocol: the requests it sends (golden bodies), how each answer and error routes, retries, the timeout and
//! the circuit breaker.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use wa_onboard::demo::{SELFIE_JPEG, card_photo};
use wa_onboard::verify::document::DocumentType;
use wa_onboard::verify::providers::breaker::{BreakerConfig, ManualClock};
use wa_onboard::verify::providers::rekognition::fake::{FakeBehavior, FakeRekognition};
use wa_onboard::verify::providers::rekognition::{RekognitionConfig, RekognitionProvider};
use wa_onboard::verify::providers::{
    AnswerStatus, Capability, Correlation, ImageContent, ImageRole, ProviderError, ProviderImage, ProviderRequest,
    check,
};
use wa_onboard::verify::reason::ReasonCode;

/// A phone photo of an ID card with a portrait on it: the card photo with the selfie's face printed at its left.
fn front() -> &'static [u8] {
    static FRONT: OnceLock<Vec<u8>> = OnceLock::new();
    FRONT.get_or_init(|| {
        let mut card = image::load_from_memory(&card_photo(false)).unwrap().to_rgb8();
        let portrait = image::load_from_memory(SELFIE_JPEG).unwrap().resize(360, 360, image::imageops::Triangle);
        image::imageops::overlay(&mut card, &portrait.to_rgb8(), 620, 520);
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&card).unwrap();
        out
    })
}

fn credentials() {
    // The standard chain reads them from the environment first; the fake checks the SigV4 header they sign.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    }
}

fn request() -> ProviderRequest {
    let image = |role, bytes: &[u8]| ProviderImage {
        role,
        content: ImageContent::Bytes { mime: "image/jpeg".into(), bytes: bytes.to_vec().into() },
    };
    ProviderRequest {
        correlation: Correlation { conversation_id: "c-rk1".into(), attempt: 1 },
        country: "MX".into(),
        document_type: Some(DocumentType::MxIne),
        document_number: None,
        images: vec![image(ImageRole::DocumentFront, front()), image(ImageRole::Selfie, SELFIE_JPEG)],
        fields: Default::default(),
        callback_url: None,
    }
}

fn provider(url: &str, timeout_ms: u64, clock: Arc<ManualClock>) -> RekognitionProvider {
    credentials();
    let mut config = RekognitionConfig::new("aws");
    config.region = Some("us-east-1".into());
    config.endpoint_url = Some(url.to_owned());
    config.timeout = Duration::from_millis(timeout_ms);
    config.retries = 2;
    config.retry_backoff = Duration::from_millis(5);
    config.breaker = BreakerConfig { failure_threshold: 2, cooldown_ms: 30_000 };
    RekognitionProvider::new(config, clock)
}

async fn face_match(
    provider: &RekognitionProvider,
) -> Result<wa_onboard::verify::providers::ProviderAnswer, ProviderError> {
    check(provider, Capability::FaceMatch, &request()).await
}

/// Compares with (or, with `UPDATE_GOLDENS=1`, writes) `tests/data/rekognition/<name>.json`.
fn golden(name: &str, body: &serde_json::Value) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rekognition").join(format!("{name}.json"));
    let pretty = serde_json::to_string_pretty(body).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDENS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &pretty).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
    assert_eq!(pretty, expected, "{name} differs from its golden file");
}

#[tokio::test]
async fn a_similar_face_passes_and_the_requests_match_their_goldens() {
    let fake = FakeRekognition::start(FakeBehavior::default()).await.unwrap();
    let answer = face_match(&provider(&fake.url, 5000, Default::default())).await.unwrap();
    assert_eq!(answer.status, AnswerStatus::Pass);
    assert!((answer.confidence - 0.992).abs() < 1e-3, "{answer:?}");
    assert_eq!(answer.fields["similarity"], "99.2");
    let requests = fake.requests();
    let operations: Vec<&str> = requests.iter().map(|r| r.operation.as_str()).collect();
    assert_eq!(operations, vec!["DetectFaces", "CompareFaces"], "the selfie gate, then the comparison");
    golden("detect_faces", &requests[0].body);
    golden("compare_faces", &requests[1].body);
    // The document's face is sent, not the whole card: a smaller image than the photo.
    let source = requests[1].body["SourceImage"]["Bytes"].as_str().unwrap();
    let whole = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(front())));
    assert_ne!(source, whole, "the face is cropped from the document");
}

#[tokio::test]
async fn a_low_similarity_goes_to_a_person_with_low_confidence() {
    let fake = FakeRekognition::start(FakeBehavior { similarity: 42.5, ..Default::default() }).await.unwrap();
    let answer = face_match(&provider(&fake.url, 5000, Default::default())).await.unwrap();
    assert_eq!(answer.status, AnswerStatus::Fail { reason: ReasonCode::LowConfidence });
    assert_eq!(answer.fields["similarity"], "42.5");
}

#[tokio::test]
async fn the_selfie_gate_asks_for_a_new_selfie_with_the_reason() {
    let cases = [
        ("no face", FakeBehavior { selfie_faces: 0, ..Default::default() }, ReasonCode::NoFace),
        ("two faces", FakeBehavior { selfie_faces: 2, ..Default::default() }, ReasonCode::MultipleFaces),
        ("blurry", FakeBehavior { sharpness: 3.0, ..Default::default() }, ReasonCode::Blurry),
        ("dark", FakeBehavior { brightness: 5.0, ..Default::default() }, ReasonCode::TooDark),
        ("eyes closed", FakeBehavior { eyes_open: false, ..Default::default() }, ReasonCode::FaceObscured),
        (
            "no face found by CompareFaces",
            FakeBehavior { error: Some(("InvalidParameterException".into(), 400)), ..Default::default() },
            ReasonCode::NoFace,
        ),
        (
            "not an image",
            FakeBehavior { error: Some(("InvalidImageFormatException".into(), 400)), ..Default::default() },
            ReasonCode::UnreadableFile,
        ),
    ];
    for (what, behavior, reason) in cases {
        let fake = FakeRekognition::start(behavior).await.unwrap();
        let answer = face_match(&provider(&fake.url, 5000, Default::default())).await.unwrap();
        assert_eq!(answer.status, AnswerStatus::Retry { reason }, "{what}");
        assert!(reason.is_retakeable(), "{what}");
    }
}

#[tokio::test]
async fn throttling_is_retried_and_then_passes() {
    let fake = FakeRekognition::start(FakeBehavior { throttle_next: 2, ..Default::default() }).await.unwrap();
    let answer = face_match(&provider(&fake.url, 5000, Default::default())).await.unwrap();
    assert_eq!(answer.status, AnswerStatus::Pass);
    assert_eq!(fake.requests().len(), 4, "two throttled DetectFaces, then DetectFaces and CompareFaces");
}

#[tokio::test]
async fn server_errors_end_unavailable_and_open_the_circuit() {
    let fake =
        FakeRekognition::start(FakeBehavior { error: Some(("InternalServerError".into(), 500)), ..Default::default() })
            .await
            .unwrap();
    let clock = Arc::new(ManualClock::default());
    let aws = provider(&fake.url, 5000, clock.clone());
    for _ in 0..2 {
        let error = face_match(&aws).await.unwrap_err();
        assert!(matches!(error, ProviderError::Unavailable { .. }), "{error:?}");
    }
    assert_eq!(fake.requests().len(), 6, "each call tried three times");
    // Open: Rekognition is not called, and the user goes to a person (never passed).
    assert!(matches!(face_match(&aws).await.unwrap_err(), ProviderError::CircuitOpen { .. }));
    assert_eq!(fake.requests().len(), 6);
    // After the cooldown, one trial call is let through.
    fake.set(FakeBehavior::default());
    clock.advance(Duration::from_secs(31));
    assert_eq!(face_match(&aws).await.unwrap().status, AnswerStatus::Pass);
}

#[tokio::test]
async fn a_stalled_endpoint_hits_the_timeout() {
    let fake =
        FakeRekognition::start(FakeBehavior { delay: Duration::from_secs(5), ..Default::default() }).await.unwrap();
    let error = face_match(&provider(&fake.url, 200, Default::default())).await.unwrap_err();
    assert!(matches!(error, ProviderError::Unavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn an_image_too_large_is_shrunk_and_sent_again() {
    let fake = FakeRekognition::start(FakeBehavior {
        error: Some(("ImageTooLargeException".into(), 400)),
        ..Default::default()
    })
    .await
    .unwrap();
    let error = face_match(&provider(&fake.url, 5000, Default::default())).await.unwrap_err();
    // The fake always refuses: the adapter shrank the selfie once, sent it again, then gave up.
    assert!(matches!(error, ProviderError::Unavailable { .. }), "{error:?}");
    let sent: Vec<String> =
        fake.requests().iter().map(|r| r.body["Image"]["Bytes"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_ne!(sent[0], sent[1], "the second try carries a smaller image");
}

#[tokio::test]
async fn rekognition_never_pretends_to_check_what_it_cannot() {
    let fake = FakeRekognition::start(FakeBehavior::default()).await.unwrap();
    let aws = provider(&fake.url, 5000, Default::default());
    for capability in [Capability::Document, Capability::Liveness, Capability::Registry] {
        let error = check(&aws, capability, &request()).await.unwrap_err();
        assert!(matches!(error, ProviderError::Unavailable { .. }), "{capability}: {error:?}");
    }
    assert!(fake.requests().is_empty());
}
