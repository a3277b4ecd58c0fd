//! The whole path through HTTP: signed webhooks in, photos downloaded from the Graph API simulator, the
//! verification job (quality checks, providers), and the right message back, for each outcome, on both backends.

#[macro_use]
mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use serde_json::Value;
use wa_onboard::clock;
use wa_onboard::demo::driver::{User, describe};
use wa_onboard::demo::{SELFIE_JPEG, card_photo};
use wa_onboard::verify::providers::Capability;
use wa_onboard::verify::providers::sim::{ProviderSim, RegistryStatus, SimBehavior};

const WAIT: Duration = Duration::from_secs(60);
const PROVIDER_SECRET_ENV: &str = "PROVIDER_E2E_SECRET";
const PROVIDER_SECRET: &str = "e2e-provider-secret";

fn photos() -> &'static (Vec<u8>, Vec<u8>) {
    static PHOTOS: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    PHOTOS.get_or_init(|| (card_photo(false), card_photo(true)))
}

/// The default flow, or the default flow whose passports are also checked with `capability` by a provider.
fn flows_dir_for(provider_url: Option<&str>, capability: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique_prefix("flows").replace(':', "-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut flow = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/kyc_latam.yaml")).unwrap();
    if let Some(url) = provider_url {
        flow = flow.replace(
            "    passport: { sides: [front], checks: [quality, mrz] }",
            &format!("    passport: {{ sides: [front], checks: [quality, {capability}] }}"),
        );
        flow.push_str(&format!(
            "  providers:\n    providers:\n      registry_co:\n        kind: http\n        base_url: {url}\n        secret_env: {PROVIDER_SECRET_ENV}\n        timeout_ms: 2000\n        retries: 0\n    routes:\n      - {{ capability: {capability}, provider: registry_co }}\n"
        ));
    }
    std::fs::write(dir.join("kyc_latam.yaml"), flow).unwrap();
    dir
}

async fn start(
    backend: Backend,
    name: &str,
    provider_url: Option<&str>,
) -> (TestApp, std::sync::Arc<wa_onboard::sim::SimState>, String) {
    start_checking(backend, name, provider_url, "registry").await
}

/// An app whose flow checks passports with `capability` at the provider at `provider_url`.
async fn start_checking(
    backend: Backend,
    name: &str,
    provider_url: Option<&str>,
    capability: &str,
) -> (TestApp, std::sync::Arc<wa_onboard::sim::SimState>, String) {
    // Set once, read by the verification worker when it builds the flow's providers.
    unsafe { std::env::set_var(PROVIDER_SECRET_ENV, PROVIDER_SECRET) };
    let (backend, redis) = open_backend(backend, name).await;
    let dir = flows_dir_for(provider_url, capability);
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

fn app_sim(app: &TestApp) -> std::sync::Arc<wa_onboard::sim::SimState> {
    app.sim.clone().expect("the in-app simulator runs when no access token is set")
}

/// Greets, consents, picks the passport, sends the front photo and the selfie; returns the bot's answers
/// ("checking..." and the outcome).
async fn submit(user: &mut User, front: &[u8]) -> Vec<Value> {
    submit_expecting(user, front, 2).await
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

async fn submit_expecting(user: &mut User, front: &[u8], answers: usize) -> Vec<Value> {
    reach_the_photo_steps(user).await;
    user.sends_photo(&format!("{}-front", user.phone), front.to_vec(), "front").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.sends_photo(&format!("{}-selfie", user.phone), SELFIE_JPEG.to_vec(), "selfie").await.unwrap();
    let mut replies = user.expect_replies(answers, WAIT).await.unwrap();
    if replies.len() < answers {
        replies.extend(user.expect_replies(answers - replies.len(), WAIT).await.unwrap());
    }
    replies
}

/// The message of a handoff to the built-in console: a person will write here.
fn to_a_person(reply: &Value) -> bool {
    describe(reply).contains("te escribirá aquí mismo")
}

fn texts(replies: &[Value]) -> Vec<String> {
    replies.iter().map(describe).collect()
}

on_both_backends!(a_sharp_id_and_a_selfie_are_verified, |backend, name| async move {
    let (app, sim, pnid) = start(backend, name, None).await;
    let mut user = User::new("Ana", "5215511110001", &app.base, APP_SECRET, &pnid, sim);
    let replies = texts(&submit(&mut user, &photos().0).await);
    assert!(replies[0].contains("Estoy revisando tus fotos"), "{replies:?}");
    assert!(replies[1].contains("verificamos tu identidad"), "{replies:?}");
});

on_both_backends!(a_blurry_id_gets_the_blur_advice_then_after_three_tries_a_live_agent, |backend, name| async move {
    let (app, sim, pnid) = start(backend, name, None).await;
    let mut user = User::new("Bruno", "5215511110002", &app.base, APP_SECRET, &pnid, sim);
    let replies = texts(&submit(&mut user, &photos().1).await);
    assert!(replies[1].contains("Tu foto salió borrosa"), "{replies:?}");
    user.sends_photo("blurry-2", photos().1.clone(), "front again").await.unwrap();
    let replies = texts(&user.expect_replies(2, WAIT).await.unwrap());
    assert!(replies[1].contains("borrosa"), "{replies:?}");
    user.sends_photo("blurry-3", photos().1.clone(), "front again").await.unwrap();
    let replies = user.expect_replies(2, WAIT).await.unwrap();
    // No external agent system is configured: the built-in console is, and the user is told so (no link).
    assert!(to_a_person(&replies[1]), "{replies:?}");
    // A case waits for a person, with why and how many tries.
    let waiting = app.backend.cases().list(wa_onboard::store::case::CaseStatus::Waiting, 10).await.unwrap();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let case = &waiting[0].info;
    assert_eq!(case.masked_phone.as_deref(), Some("*********0002"));
    assert_eq!(case.language.as_deref(), Some("es"));
    assert!(case.attempts >= 3, "{case:?}");
    assert!(!case.reason.is_empty() && case.conversation_id.starts_with("c-"), "{case:?}");
});

on_both_backends!(a_registry_hit_is_reviewed_by_a_person_without_accusation, |backend, name| async move {
    let provider = ProviderSim::start("registry_co", PROVIDER_SECRET, clock::system()).await.unwrap();
    provider.set(Capability::Registry, SimBehavior::RegistryHit(RegistryStatus::Stolen));
    let (app, sim, pnid) = start(backend, name, Some(&provider.base_url())).await;
    let mut user = User::new("Carla", "5215511110003", &app.base, APP_SECRET, &pnid, sim);
    // "checking...", then a person will review, then the link: in this order.
    let replies = submit_expecting(&mut user, &photos().0, 3).await;
    let text = texts(&replies).join("\n");
    assert!(text.contains("una persona de nuestro equipo revisará tu solicitud"), "{text}");
    assert!(!text.to_lowercase().contains("robad"), "never an accusation in the chat: {text}");
    assert!(texts(&replies)[1].contains("revisará tu solicitud"), "{text}");
    assert!(to_a_person(&replies[2]), "{replies:?}");
    assert_eq!(provider.requests().len(), 1, "the registry was asked once");
});

on_both_backends!(a_provider_that_is_down_sends_the_user_to_an_agent_instead_of_waiting, |backend, name| async move {
    let provider = ProviderSim::start("registry_co", PROVIDER_SECRET, clock::system()).await.unwrap();
    provider.set(Capability::Registry, SimBehavior::Down);
    let (app, sim, pnid) = start(backend, name, Some(&provider.base_url())).await;
    let mut user = User::new("Diego", "5215511110004", &app.base, APP_SECRET, &pnid, sim);
    let replies = submit(&mut user, &photos().0).await;
    assert!(to_a_person(&replies[1]), "{:?}", texts(&replies));
    let audit = app
        .backend
        .conversations()
        .audit(&wa_onboard::flow::state::UserKey { phone_number_id: pnid.clone(), user: "5215511110004".into() }, 100)
        .await
        .unwrap();
    let verifier = audit.iter().find(|r| r.actor == "verifier").expect("the verification is audited");
    assert!(verifier.effects.iter().any(|e| e.contains("provider registry") && e.contains("ms")), "{verifier:?}");
});

on_both_backends!(a_photo_that_cannot_be_downloaded_is_asked_for_again, |backend, name| async move {
    let (app, sim, pnid) = start(backend, name, None).await;
    let mut user = User::new("Fer", "5215511110006", &app.base, APP_SECRET, &pnid, sim);
    reach_the_photo_steps(&mut user).await;
    // Meta no longer has this photo (media ids live 7 days): the lookup answers 404.
    user.sends_unregistered_photo("expired-front", "front").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.sends_photo("selfie-ok", SELFIE_JPEG.to_vec(), "selfie").await.unwrap();
    // Meta may deliver (and we may send) the two answers in either order.
    let replies = texts(&user.expect_replies(2, WAIT).await.unwrap());
    assert!(replies.iter().any(|r| r.contains("No pude descargar una de tus fotos")), "{replies:?}");
    // Sending it again completes the verification.
    user.sends_photo("front-again", photos().0.clone(), "front again").await.unwrap();
    let replies = texts(&user.expect_replies(2, WAIT).await.unwrap());
    assert!(replies[1].contains("verificamos tu identidad"), "{replies:?}");
});

on_both_backends!(an_asynchronous_provider_answers_later_by_callback, |backend, name| async move {
    let provider = ProviderSim::start("registry_co", PROVIDER_SECRET, clock::system()).await.unwrap();
    let later = SimBehavior::Pending { delay: Duration::from_millis(300), then: Box::new(SimBehavior::pass(0.97)) };
    provider.set(Capability::Registry, later);
    let (app, sim, pnid) = start(backend, name, Some(&provider.base_url())).await;
    let mut user = User::new("Hugo", "5215511110007", &app.base, APP_SECRET, &pnid, sim);
    // "checking...", then (after the provider's signed callback) the result.
    let replies = texts(&submit(&mut user, &photos().0).await);
    assert!(replies[0].contains("Estoy revisando"), "{replies:?}");
    assert!(replies[1].contains("verificamos tu identidad"), "{replies:?}");
    assert_eq!(provider.callback_statuses(), vec![204], "the callback was accepted");
    assert_eq!(provider.requests().len(), 1, "the provider was not asked twice");
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
    let extra = [("COMPANY_WEBHOOK_URL", url.as_str()), ("COMPANY_WEBHOOK_SECRET", "company-secret")];
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
    assert!(replies[1].contains("verificamos"), "{replies:?}");
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
    // No provider ran for a passport in the default flow, and the synthetic photo has no MRZ: no fields to give.
    assert!(event["fields"].is_object(), "{event}");
    assert_eq!(received.lock().unwrap().len(), 1, "delivered once, after the refused first try");
}

on_both_backends!(a_failed_liveness_asks_for_a_new_selfie_with_its_advice, |backend, name| async move {
    let provider = ProviderSim::start("registry_co", PROVIDER_SECRET, clock::system()).await.unwrap();
    provider.set(Capability::Liveness, SimBehavior::Retry(wa_onboard::verify::reason::ReasonCode::LivenessFailed));
    let (app, sim, pnid) = start_checking(backend, name, Some(&provider.base_url()), "liveness").await;
    let mut user = User::new("Juan", "5215511110009", &app.base, APP_SECRET, &pnid, sim);
    let replies = texts(&submit(&mut user, &photos().0).await);
    assert!(replies[1].contains("No pudimos confirmar la selfie"), "{replies:?}");
    // The new selfie passes.
    provider.set(Capability::Liveness, SimBehavior::pass(0.96));
    user.sends_photo("selfie-2", SELFIE_JPEG.to_vec(), "selfie again").await.unwrap();
    let replies = texts(&user.expect_replies(2, WAIT).await.unwrap());
    assert!(replies[1].contains("verificamos tu identidad"), "{replies:?}");
});

on_both_backends!(a_low_confidence_match_goes_to_a_person, |backend, name| async move {
    let provider = ProviderSim::start("registry_co", PROVIDER_SECRET, clock::system()).await.unwrap();
    provider.set(Capability::FaceMatch, SimBehavior::pass(0.31));
    let (app, sim, pnid) = start_checking(backend, name, Some(&provider.base_url()), "face_match").await;
    let mut user = User::new("Karla", "5215511110010", &app.base, APP_SECRET, &pnid, sim);
    let replies = submit(&mut user, &photos().0).await;
    assert!(to_a_person(&replies[1]), "{:?}", texts(&replies));
});
