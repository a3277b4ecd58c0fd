//! The whole path through HTTP: signed webhooks in, photos downloaded from the Graph API simulator, each photo's
//! quick check, the verification job (quality, document, providers), and the right message back, for each
//! outcome, on both backends. Nobody is told "verified" unless the checks the flow requires ran and passed.

#[macro_use]
mod common;
#[path = "support/provider_flows.rs"]
mod provider_flows;

use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use provider_flows::{PROVIDER_SECRET, PROVIDER_SECRET_ENV, Providers, flows_dir_for};
use serde_json::Value;
use wa_onboard::clock;
use wa_onboard::demo::driver::{User, describe};
use wa_onboard::demo::{SELFIE_JPEG, card_photo};
use wa_onboard::store::case::CaseStatus;
use wa_onboard::verify::providers::Capability;
use wa_onboard::verify::providers::rekognition::fake::{FakeBehavior, FakeRekognition};
use wa_onboard::verify::providers::sim::{ProviderSim, RegistryStatus, SimBehavior};

const WAIT: Duration = Duration::from_secs(60);
const VERIFIED: &str = "verificamos tu identidad";
const VERIFF_KEY: &str = "veriff-e2e-api-key";
const VERIFF_SECRET: &str = "veriff-e2e-shared-secret";

fn photos() -> &'static (Vec<u8>, Vec<u8>) {
    static PHOTOS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    PHOTOS.get_or_init(|| (card_photo(false), card_photo(true)))
}

/// An app on the default flow with these providers.
async fn start(
    backend: Backend,
    name: &str,
    providers: Providers<'_>,
) -> (TestApp, std::sync::Arc<wa_onboard::sim::SimState>, String) {
    // Set once, read by the verification worker when it builds the flow's providers (and by the AWS SDK's
    // standard credential chain, which signs the requests the Rekognition fake checks).
    unsafe {
        std::env::set_var(PROVIDER_SECRET_ENV, PROVIDER_SECRET);
        std::env::set_var("VERIFF_E2E_KEY", VERIFF_KEY);
        std::env::set_var("VERIFF_E2E_SECRET", VERIFF_SECRET);
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    }
    let (backend, redis) = open_backend(backend, name).await;
    let dir = flows_dir_for(&providers);
    let dir = dir.to_string_lossy().into_owned();
    let app = spawn_app_with(
        backend,
        redis,
        &[("WORKER_POLL_MS", "20"), ("FLOWS_DIR", dir.as_str())],
        wa_onboard::app::Workers::Run,
    )
    .await;
    let sim = app_sim(&app);
    let pnid = wa_onboard::sim::SIM_PHONE_NUMBER_ID.to_owned();
    (app, sim, pnid)
}

/// The provider simulator, serving document and face_match (passing by default), and `more`.
async fn kyc_sim() -> ProviderSim {
    ProviderSim::start("kyc_sim", PROVIDER_SECRET, clock::system()).await.unwrap()
}

const DOC_AND_FACE: &[&str] = &["document", "face_match"];

fn app_sim(app: &TestApp) -> std::sync::Arc<wa_onboard::sim::SimState> {
    app.sim.clone().expect("the in-app simulator runs when no access token is set")
}

/// Greets, picks Spanish, consents and picks the passport: the bot now asks for the front photo.
async fn reach_the_photo_steps(user: &mut User) {
    user.says("Hola").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("lang_es", "Español").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("consent_accept", "Acepto").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("doc_passport", "Pasaporte").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
}

/// Reads replies until `count` have come (Meta may deliver a burst in pieces).
async fn replies(user: &mut User, count: usize) -> Vec<Value> {
    let mut got = Vec::new();
    while got.len() < count {
        got.extend(user.expect_replies(count - got.len(), WAIT).await.unwrap());
    }
    got
}

/// Up to the passport's front (sharp: the selfie is asked for) and the selfie; returns the `answers` replies to
/// the selfie ("checking..." and the outcome).
async fn submit(user: &mut User, answers: usize) -> Vec<Value> {
    reach_the_photo_steps(user).await;
    user.sends_photo(&format!("{}-front", user.phone), photos().0.clone(), "front").await.unwrap();
    let asked = texts(&replies(user, 1).await);
    assert!(asked[0].contains("una *selfie*"), "a sharp front moves on to the selfie: {asked:?}");
    user.sends_photo(&format!("{}-selfie", user.phone), SELFIE_JPEG.to_vec(), "selfie").await.unwrap();
    replies(user, answers).await
}

/// The message of a handoff to the built-in console: a person will write here.
fn to_a_person(reply: &Value) -> bool {
    describe(reply).contains("te escribirá aquí mismo")
}

/// The review step: the photos arrived and a person will confirm them.
fn photos_received(reply: &Value) -> bool {
    describe(reply).contains("Recibimos tus fotos") && describe(reply).contains("las confirmará")
}

fn texts(replies: &[Value]) -> Vec<String> {
    replies.iter().map(describe).collect()
}

/// The photos a provider was sent, by role.
fn image_roles(request: &wa_onboard::verify::providers::sim::SimRequest) -> Vec<String> {
    let roles = request.body.images.iter().map(|i| serde_json::to_value(i.role).unwrap());
    roles.map(|r| r.as_str().unwrap_or_default().to_owned()).collect()
}

fn user_key(pnid: &str, phone: &str) -> wa_onboard::flow::state::UserKey {
    wa_onboard::flow::state::UserKey { phone_number_id: pnid.to_owned(), user: phone.to_owned() }
}

async fn waiting_cases(app: &TestApp) -> Vec<wa_onboard::store::case::Case> {
    app.backend.cases().list(CaseStatus::Waiting, 10).await.unwrap()
}

on_both_backends!(with_no_provider_a_sharp_id_and_a_selfie_go_to_a_person_never_verified, |backend, name| async move {
    let (app, sim, pnid) = start(backend, name, Providers::default()).await;
    let mut user = User::new("Ana", "5215511110001", &app.base, APP_SECRET, &pnid, sim);
    // "checking...", the photos arrived and a person will confirm them, a person will write here.
    let replies = submit(&mut user, 3).await;
    assert!(texts(&replies)[0].contains("Estoy revisando tus fotos"), "{:?}", texts(&replies));
    assert!(photos_received(&replies[1]), "{:?}", texts(&replies));
    assert!(to_a_person(&replies[2]), "{:?}", texts(&replies));
    assert!(!user.render().contains(VERIFIED), "never told verified:\n{}", user.render());
    // A case waits for a person, saying why: no required check could run automatically.
    let waiting = waiting_cases(&app).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(waiting[0].info.reason.contains("review_required"), "{:?}", waiting[0].info);
    // The audit log says what was required and what was missing.
    let audit = app.backend.conversations().audit(&user_key(&pnid, "5215511110001"), 100).await.unwrap();
    let verifier = audit.iter().find(|r| r.event.starts_with("verification")).expect("the verification is audited");
    assert!(verifier.effects.iter().any(|e| e.contains("not satisfied: document, face_match")), "{verifier:?}");
});

on_both_backends!(
    with_the_provider_simulator_for_document_and_face_match_the_same_user_is_verified,
    |backend, name| async move {
        let provider = kyc_sim().await;
        let url = provider.base_url();
        let (app, sim, pnid) =
            start(backend, name, Providers { sim: Some((&url, DOC_AND_FACE)), ..Default::default() }).await;
        let mut user = User::new("Ana", "5215511110011", &app.base, APP_SECRET, &pnid, sim);
        let replies = texts(&submit(&mut user, 2).await);
        assert!(replies[0].contains("Estoy revisando tus fotos"), "{replies:?}");
        assert!(replies[1].contains(VERIFIED), "{replies:?}");
        // Each check got only the photos it needs.
        let requests = provider.requests();
        let roles = |capability: Capability| {
            requests.iter().find(|r| r.capability == capability).map(image_roles).unwrap_or_default()
        };
        assert_eq!(roles(Capability::Document), vec!["document_front".to_owned()], "{requests:?}");
        assert_eq!(
            roles(Capability::FaceMatch),
            vec!["document_front".to_owned(), "selfie".to_owned()],
            "{requests:?}"
        );
        assert!(waiting_cases(&app).await.is_empty());
    }
);

on_both_backends!(a_provider_that_fetches_photos_gets_one_time_links, |backend, name| async move {
    let provider = kyc_sim().await;
    let url = provider.base_url();
    let providers = Providers { sim: Some((&url, DOC_AND_FACE)), links: true, ..Default::default() };
    let (app, sim, pnid) = start(backend, name, providers).await;
    let mut user = User::new("Lia", "5215511110014", &app.base, APP_SECRET, &pnid, sim);
    let said = texts(&submit(&mut user, 2).await);
    assert!(said[1].contains(VERIFIED), "{said:?}");
    let face_match = provider.requests().into_iter().find(|r| r.capability == Capability::FaceMatch).unwrap();
    let links: Vec<String> = face_match.body.images.iter().filter_map(|i| i.url.clone()).collect();
    assert_eq!(links.len(), 2, "the front and the selfie, as links, no bytes: {:?}", face_match.body.images);
    assert!(face_match.body.images.iter().all(|i| i.data_base64.is_none()));
    let client = reqwest::Client::new();
    // The first fetch gets the photo, exactly as the user sent it, never cached...
    let selfie = links.iter().find(|l| l.starts_with(&format!("{}/media/", app.base))).unwrap();
    let first = client.get(selfie).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let bytes = first.bytes().await.unwrap();
    assert!(bytes.as_ref() == photos().0.as_slice() || bytes.as_ref() == SELFIE_JPEG, "one of the user's photos");
    // ...and the link works once.
    assert_eq!(client.get(selfie).send().await.unwrap().status(), 404);
    let forged = format!("{}/media/{}", app.base, "0".repeat(64));
    assert_eq!(client.get(&forged).send().await.unwrap().status(), 404);
    // The fetch is in the conversation's audit log.
    let audit = app.backend.conversations().audit(&user_key(&pnid, "5215511110014"), 200).await.unwrap();
    assert!(audit.iter().any(|r| r.actor == "provider:kyc_sim" && r.event.contains("one-time link")), "{audit:?}");
});

on_both_backends!(with_rekognition_answering_a_low_similarity_the_user_goes_to_review, |backend, name| async move {
    let provider = kyc_sim().await;
    let url = provider.base_url();
    let aws = FakeRekognition::start(FakeBehavior { similarity: 42.5, ..Default::default() }).await.unwrap();
    let providers = Providers { sim: Some((&url, &["document"])), rekognition: Some(&aws.url), ..Default::default() };
    let (app, sim, pnid) = start(backend, name, providers).await;
    let mut user = User::new("Karla", "5215511110010", &app.base, APP_SECRET, &pnid, sim);
    let replies = submit(&mut user, 3).await;
    assert!(photos_received(&replies[1]), "{:?}", texts(&replies));
    assert!(to_a_person(&replies[2]), "{:?}", texts(&replies));
    let waiting = waiting_cases(&app).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(waiting[0].info.reason.contains("low_confidence"), "{:?}", waiting[0].info);
    // The selfie gate, then the comparison, through the SDK's signed JSON protocol.
    let operations: Vec<String> = aws.requests().iter().map(|r| r.operation.clone()).collect();
    assert_eq!(operations, vec!["DetectFaces", "CompareFaces"]);
});

on_both_backends!(
    with_veriff_one_session_decides_document_and_face_and_its_webhook_verifies,
    |backend, name| async move {
        use wa_onboard::verify::providers::veriff::fake::{FakeDecision, FakeVeriff};
        let veriff = FakeVeriff::start(VERIFF_KEY, VERIFF_SECRET).await.unwrap();
        let url = veriff.base_url();
        let (app, sim, pnid) = start(backend, name, Providers { veriff: Some(&url), ..Default::default() }).await;
        let person = wa_onboard::verify::providers::veriff::wire::DecisionPerson {
            first_name: Some("ANA".into()),
            last_name: Some("SILVA".into()),
            ..Default::default()
        };
        veriff.decide(
            FakeDecision::approved().with_person(person),
            &format!("{}{}", app.base, wa_onboard::verify::providers::veriff::DECISION_PATH),
        );
        let mut user = User::new("Ana", "5215511110013", &app.base, APP_SECRET, &pnid, sim);
        let replies = texts(&submit(&mut user, 2).await);
        assert!(replies[1].contains(VERIFIED), "{replies:?}");
        // One session for both checks, with the document and the selfie, submitted once; its signed webhook accepted.
        let sessions = veriff.sessions();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        assert!(sessions[0].submitted);
        assert_eq!(sessions[0].media.len(), 2, "{sessions:?}");
        assert_eq!(veriff.webhook_statuses(), vec![200]);
    }
);

on_both_backends!(
    a_blurry_front_gets_its_advice_before_the_selfie_then_after_three_tries_a_person,
    |backend, name| async move {
        let (app, sim, pnid) = start(backend, name, Providers::default()).await;
        let mut user = User::new("Bruno", "5215511110002", &app.base, APP_SECRET, &pnid, sim);
        reach_the_photo_steps(&mut user).await;
        for n in 1..=2 {
            user.sends_photo(&format!("blurry-{n}"), photos().1.clone(), "front").await.unwrap();
            // At once, and instead of the selfie prompt.
            let said = texts(&replies(&mut user, 1).await);
            assert!(said[0].contains("Tu foto salió borrosa"), "{said:?}");
            assert!(!said[0].contains("selfie"), "{said:?}");
        }
        user.sends_photo("blurry-3", photos().1.clone(), "front again").await.unwrap();
        let said = replies(&mut user, 1).await;
        // No external agent system is configured: the built-in console is, and the user is told so (no link).
        assert!(to_a_person(&said[0]), "{:?}", texts(&said));
        // A case waits for a person, with why and how many tries.
        let waiting = waiting_cases(&app).await;
        assert_eq!(waiting.len(), 1, "{waiting:?}");
        let case = &waiting[0].info;
        assert_eq!(case.masked_phone.as_deref(), Some("*********0002"));
        assert_eq!(case.language.as_deref(), Some("es"));
        assert!(case.attempts >= 3, "{case:?}");
        assert!(case.reason.contains("blurry") && case.conversation_id.starts_with("c-"), "{case:?}");
    }
);

on_both_backends!(a_blurry_front_then_a_sharp_one_moves_on_to_the_selfie, |backend, name| async move {
    let (app, sim, pnid) = start(backend, name, Providers::default()).await;
    let mut user = User::new("Bea", "5215511110012", &app.base, APP_SECRET, &pnid, sim);
    reach_the_photo_steps(&mut user).await;
    user.sends_photo("bea-blurry", photos().1.clone(), "front").await.unwrap();
    assert!(texts(&replies(&mut user, 1).await)[0].contains("borrosa"));
    user.sends_photo("bea-sharp", photos().0.clone(), "front again").await.unwrap();
    let said = texts(&replies(&mut user, 1).await);
    assert!(said[0].contains("una *selfie*"), "{said:?}");
});

on_both_backends!(a_registry_hit_is_reviewed_by_a_person_without_accusation, |backend, name| async move {
    let provider = kyc_sim().await;
    provider.set(Capability::Registry, SimBehavior::RegistryHit(RegistryStatus::Stolen));
    let url = provider.base_url();
    let routed: &[&str] = &["document", "face_match", "registry"];
    let (app, sim, pnid) = start(backend, name, Providers { sim: Some((&url, routed)), ..Default::default() }).await;
    let mut user = User::new("Carla", "5215511110003", &app.base, APP_SECRET, &pnid, sim);
    // "checking...", then a person will review, then the link: in this order.
    let replies = submit(&mut user, 3).await;
    let text = texts(&replies).join("\n");
    assert!(text.contains("una persona de nuestro equipo revisará tu solicitud"), "{text}");
    assert!(!text.to_lowercase().contains("robad"), "never an accusation in the chat: {text}");
    assert!(!text.contains(VERIFIED), "{text}");
    assert!(texts(&replies)[1].contains("revisará tu solicitud"), "{text}");
    assert!(to_a_person(&replies[2]), "{replies:?}");
    let registry: Vec<_> = provider.requests().into_iter().filter(|r| r.capability == Capability::Registry).collect();
    assert_eq!(registry.len(), 1, "the registry was asked once");
    assert!(image_roles(&registry[0]).is_empty(), "a registry check gets no photo: {registry:?}");
});

on_both_backends!(a_provider_that_is_down_sends_the_user_to_a_person_instead_of_waiting, |backend, name| async move {
    let provider = kyc_sim().await;
    provider.set(Capability::FaceMatch, SimBehavior::Down);
    let url = provider.base_url();
    let (app, sim, pnid) =
        start(backend, name, Providers { sim: Some((&url, DOC_AND_FACE)), ..Default::default() }).await;
    let mut user = User::new("Diego", "5215511110004", &app.base, APP_SECRET, &pnid, sim);
    let replies = submit(&mut user, 3).await;
    assert!(photos_received(&replies[1]), "{:?}", texts(&replies));
    assert!(to_a_person(&replies[2]), "{:?}", texts(&replies));
    let audit = app.backend.conversations().audit(&user_key(&pnid, "5215511110004"), 100).await.unwrap();
    let verifier = audit.iter().find(|r| r.event.starts_with("verification")).expect("the verification is audited");
    assert!(verifier.effects.iter().any(|e| e.contains("provider face_match") && e.contains("ms")), "{verifier:?}");
});

on_both_backends!(a_photo_that_cannot_be_downloaded_is_asked_for_again_at_once, |backend, name| async move {
    let (app, sim, pnid) = start(backend, name, Providers::default()).await;
    let mut user = User::new("Fer", "5215511110006", &app.base, APP_SECRET, &pnid, sim);
    reach_the_photo_steps(&mut user).await;
    // Meta no longer has this photo (media ids live 7 days): the lookup answers 404.
    user.sends_unregistered_photo("expired-front", "front").await.unwrap();
    let said = texts(&replies(&mut user, 1).await);
    assert!(said[0].contains("No pude descargar una de tus fotos"), "{said:?}");
    // Sending it again moves on to the selfie.
    user.sends_photo("front-again", photos().0.clone(), "front again").await.unwrap();
    let said = texts(&replies(&mut user, 1).await);
    assert!(said[0].contains("una *selfie*"), "{said:?}");
});

on_both_backends!(an_asynchronous_provider_answers_later_by_callback, |backend, name| async move {
    let provider = kyc_sim().await;
    let later = SimBehavior::Pending { delay: Duration::from_millis(300), then: Box::new(SimBehavior::pass(0.97)) };
    provider.set(Capability::Registry, later);
    let url = provider.base_url();
    let routed: &[&str] = &["document", "face_match", "registry"];
    let (app, sim, pnid) = start(backend, name, Providers { sim: Some((&url, routed)), ..Default::default() }).await;
    let mut user = User::new("Hugo", "5215511110007", &app.base, APP_SECRET, &pnid, sim);
    // "checking...", then (after the provider's signed callback) the result.
    let replies = texts(&submit(&mut user, 2).await);
    assert!(replies[0].contains("Estoy revisando"), "{replies:?}");
    assert!(replies[1].contains(VERIFIED), "{replies:?}");
    assert_eq!(provider.callback_statuses(), vec![204], "the callback was accepted");
    let registry = provider.requests().into_iter().filter(|r| r.capability == Capability::Registry).count();
    assert_eq!(registry, 1, "the provider was not asked twice");
    drop(app);
});

/// What the company system received: (signature header, body).
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A company system that refuses the first delivery (to prove the retry) and records the rest.
async fn company_receiver() -> (String, Received) {
    use axum::http::{HeaderMap, StatusCode};
    let received: Received = Default::default();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (store, count) = (received.clone(), seen.clone());
    let app = axum::Router::new().route(
        "/hooks/onboarding",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let (store, count) = (store.clone(), count.clone());
            async move {
                if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let signature =
                    headers.get("x-waonboard-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                store.lock().unwrap().push((signature, body.to_vec()));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/onboarding", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Runs the jobs the user's last message caused (the stepped app has no workers), and reads the replies.
async fn replies_after(app: &TestApp, user: &mut User, count: usize) -> Vec<Value> {
    app.run_pending_jobs().await;
    user.expect_replies(count, Duration::from_secs(5)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_user_is_delivered_to_the_company_system_signed_and_retried() {
    let (url, received) = company_receiver().await;
    let provider = kyc_sim().await;
    provider.set(
        Capability::Document,
        SimBehavior::Pass {
            confidence: 0.97,
            fields: [("surname".to_owned(), "ERIKSSON".to_owned()), ("given_names".to_owned(), "ANNA".to_owned())]
                .into(),
        },
    );
    let provider_url = provider.base_url();
    unsafe { std::env::set_var(PROVIDER_SECRET_ENV, PROVIDER_SECRET) };
    let flows = flows_dir_for(&Providers { sim: Some((&provider_url, DOC_AND_FACE)), ..Default::default() });
    let flows = flows.to_string_lossy().into_owned();
    let extra = [
        ("COMPANY_WEBHOOK_URL", url.as_str()),
        ("COMPANY_WEBHOOK_SECRET", "company-secret"),
        ("FLOWS_DIR", flows.as_str()),
    ];
    // No workers and a fixed clock: the test runs each job and moves time past the retry's back-off.
    let app = spawn_stepped_app(&extra).await;
    let sim = app.sim.clone().unwrap();
    let mut user = User::new("Iris", "5215511110008", &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim);
    user.says("Hola").await.unwrap();
    replies_after(&app, &mut user, 1).await;
    user.taps("lang_es", "Español").await.unwrap();
    replies_after(&app, &mut user, 1).await;
    user.taps("consent_accept", "Acepto").await.unwrap();
    replies_after(&app, &mut user, 1).await;
    user.taps("doc_passport", "Pasaporte").await.unwrap();
    replies_after(&app, &mut user, 1).await;
    user.sends_photo("iris-front", photos().0.clone(), "front").await.unwrap();
    replies_after(&app, &mut user, 1).await;
    user.sends_photo("iris-selfie", SELFIE_JPEG.to_vec(), "selfie").await.unwrap();
    let replies = texts(&replies_after(&app, &mut user, 2).await);
    assert!(replies[1].contains(VERIFIED), "{replies:?}");
    assert!(received.lock().unwrap().is_empty(), "the first delivery was refused");
    // The notification waits for its back-off; once the clock passes it, it goes out.
    assert_eq!(app.run_pending_jobs().await, 0, "nothing is due before the back-off");
    app.advance(Duration::from_secs(wa_onboard::jobs::worker::backoff(1) + 1));
    assert!(app.run_pending_jobs().await >= 1);
    let (signature, body) = received.lock().unwrap().first().cloned().expect("delivered after a retry");
    let now = (wa_onboard::clock::Clock::now_secs(&wa_onboard::clock::SystemClock)) as i64;
    wa_onboard::signing::verify(b"company-secret", Some(&signature), &body, now, 300).expect("signed");
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event"], "onboarding.verified");
    assert_eq!(event["phone"], "5215511110008");
    assert_eq!(event["document"], "passport");
    // What the document provider read reaches the company.
    assert_eq!(event["fields"]["surname"], "ERIKSSON", "{event}");
    assert_eq!(event["fields"]["given_names"], "ANNA", "{event}");
    assert_eq!(received.lock().unwrap().len(), 1, "delivered once, after the refused first try");
}

on_both_backends!(a_failed_liveness_asks_for_a_new_selfie_with_its_advice, |backend, name| async move {
    let provider = kyc_sim().await;
    provider.set(Capability::Liveness, SimBehavior::Retry(wa_onboard::verify::reason::ReasonCode::LivenessFailed));
    let url = provider.base_url();
    let routed: &[&str] = &["document", "face_match", "liveness"];
    let (app, sim, pnid) = start(backend, name, Providers { sim: Some((&url, routed)), ..Default::default() }).await;
    let mut user = User::new("Juan", "5215511110009", &app.base, APP_SECRET, &pnid, sim);
    let said = texts(&submit(&mut user, 2).await);
    assert!(said[1].contains("No pudimos confirmar la selfie"), "{said:?}");
    // The new selfie passes.
    provider.set(Capability::Liveness, SimBehavior::pass(0.96));
    user.sends_photo("selfie-2", SELFIE_JPEG.to_vec(), "selfie again").await.unwrap();
    let said = texts(&replies(&mut user, 2).await);
    assert!(said[1].contains(VERIFIED), "{said:?}");
});

on_both_backends!(a_low_confidence_match_goes_to_a_person, |backend, name| async move {
    let provider = kyc_sim().await;
    provider.set(Capability::FaceMatch, SimBehavior::pass(0.31));
    let url = provider.base_url();
    let (app, sim, pnid) =
        start(backend, name, Providers { sim: Some((&url, DOC_AND_FACE)), ..Default::default() }).await;
    let mut user = User::new("Karla", "5215511110010", &app.base, APP_SECRET, &pnid, sim);
    let replies = submit(&mut user, 3).await;
    assert!(photos_received(&replies[1]), "{:?}", texts(&replies));
    assert!(to_a_person(&replies[2]), "{:?}", texts(&replies));
});
