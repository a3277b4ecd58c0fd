//! `/api/v1/cases` through HTTP, as an external agent desk uses it: nothing without a token; the waiting queue
//! oldest first with counts; two agents claiming at once get one 200 and one 409; a revoked token gets 401.

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};
use wa_onboard::flow::state::UserKey;
use wa_onboard::store::api_tokens::ApiToken;
use wa_onboard::store::case::CaseInfo;

fn info(n: u32, opened_at: u64) -> CaseInfo {
    CaseInfo {
        id: format!("case-{n}"),
        conversation_id: format!("c-{n}"),
        user: UserKey { phone_number_id: "1065".into(), user: format!("52155{n:08}") },
        masked_phone: Some("*********0002".into()),
        profile_name: Some("<script>alert(1)</script>".into()),
        language: Some("pt".into()),
        document: Some("br_cnh".into()),
        step: "front".into(),
        reason: "blurry".into(),
        attempts: 3,
        opened_at,
    }
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

on_both_backends!(an_agent_desk_lists_and_claims_cases_with_a_token, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    let (token, hash) = wa_onboard::api::auth::new_token();
    let record = ApiToken { name: "desk".into(), hash, created_at: 1 };
    assert!(app.backend.api_tokens().add(&record).await.unwrap());
    for (n, at) in [(1, 300), (2, 100)] {
        app.backend.cases().open(info(n, at)).await.unwrap();
    }

    for path in ["/api/v1/cases", "/api/v1/cases/case-1"] {
        assert_eq!(call(&app, reqwest::Method::GET, path, None, None).await.0, 401, "{path} without a token");
        assert_eq!(call(&app, reqwest::Method::GET, path, Some("wao_forged"), None).await.0, 401);
    }
    let (status, listed) = call(&app, reqwest::Method::GET, "/api/v1/cases?status=waiting", Some(&token), None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["case-2", "case-1"], "oldest first");
    assert_eq!(listed["counts"]["waiting"], 2);
    assert_eq!(listed["cases"][0]["reason"], "blurry");
    let (status, _) = call(&app, reqwest::Method::GET, "/api/v1/cases?status=lost", Some(&token), None).await;
    assert_eq!(status, 400);

    // Two agents click "take" at once: one wins, the other is told who holds it.
    let claim = |agent: &'static str| {
        call(&app, reqwest::Method::POST, "/api/v1/cases/case-2/claim", Some(&token), Some(json!({"agent": agent})))
    };
    let (a, b) = tokio::join!(claim("ana@acme.com.br"), claim("bia@acme.com.br"));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (winner, loser) = if a.0 == 200 { (a, b) } else { (b, a) };
    assert_eq!(winner.1["status"], "assigned");
    let holder = winner.1["assigned_to"].as_str().unwrap();
    assert!(loser.1["error"].as_str().unwrap().contains(holder), "{loser:?}");
    let (status, case) = call(&app, reqwest::Method::GET, "/api/v1/cases/case-2", Some(&token), None).await;
    assert_eq!((status, case["assigned_to"].as_str()), (200, Some(holder)));
    assert_eq!(case["profile_name"], "<script>alert(1)</script>", "JSON carries user text as data");
    // A supervisor gives it to someone else, whoever held it.
    let assign =
        |agent: Value| call(&app, reqwest::Method::POST, "/api/v1/cases/case-2/assign", Some(&token), Some(agent));
    let (status, moved) = assign(json!({"agent": "lead@acme.com.br"})).await;
    assert_eq!((status, moved["assigned_to"].as_str()), (200, Some("lead@acme.com.br")), "{moved}");
    assert_eq!(assign(json!({"agent": " "})).await.0, 400, "an assignment names the agent");
    let (status, _) = call(&app, reqwest::Method::GET, "/api/v1/cases/nope", Some(&token), None).await;
    assert_eq!(status, 404);
    let (status, _) =
        call(&app, reqwest::Method::POST, "/api/v1/cases/case-1/claim", Some(&token), Some(json!({}))).await;
    assert_eq!(status, 400, "a claim names the agent");

    // Revoked: the same token gets 401 at once.
    assert!(app.backend.api_tokens().revoke("desk").await.unwrap());
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/cases", Some(&token), None).await.0, 401);
});

#[tokio::test]
async fn api_tokens_are_made_listed_and_revoked_with_the_command_line() {
    let (backend, keys) = open_backend(Backend::Redis, "api-tokens-cli").await;
    let prefix = keys.as_ref().unwrap().prefix.clone();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", redis_url())
            .env("REDIS_KEY_PREFIX", &prefix)
            .env("QUEUE_PARTITIONS", common::queue_partitions().to_string())
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let (code, token) = run(&["api-tokens", "add", "chatwoot"]);
    assert_eq!(code, Some(0));
    assert!(token.starts_with("wao_") && token.len() == 68, "{token}");
    let stored = backend.api_tokens().list().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].hash, token, "only the hash is kept");
    assert_eq!(
        wa_onboard::api::auth::token_name(backend.api_tokens().as_ref(), &token).await.unwrap().as_deref(),
        Some("chatwoot")
    );
    assert_ne!(run(&["api-tokens", "add", "chatwoot"]).0, Some(0), "a name is used once");
    assert!(run(&["api-tokens", "list"]).1.starts_with("chatwoot\t"));
    assert_eq!(run(&["api-tokens", "revoke", "chatwoot"]).0, Some(0));
    assert_eq!(run(&["api-tokens", "revoke", "chatwoot"]).0, Some(1));
    assert_eq!(wa_onboard::api::auth::token_name(backend.api_tokens().as_ref(), &token).await.unwrap(), None);
}

// ---- The whole case, through the running bot: a user with three blurry photos reaches a person. ----

#[path = "support/handoff.rs"]
mod handoff;

use handoff::{WAIT, photos, replies, send_three_blurry_photos, texts};
use std::time::Duration;
use wa_onboard::demo::driver::User;
use wa_onboard::store::case::CaseStatus;

type Received = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// The company's system: records each onboarding event it is sent.
async fn company_receiver() -> (String, Received) {
    let received: Received = Default::default();
    let store = received.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |body: axum::body::Bytes| {
            let store = store.clone();
            async move {
                store.lock().unwrap().push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// The whole bot (workers running), a company system, and an API token for the desk.
async fn desk(backend: Backend, name: &str) -> (TestApp, String, Received) {
    let (url, received) = company_receiver().await;
    let (backend, redis) = open_backend(backend, name).await;
    let extra =
        [("WORKER_POLL_MS", "20"), ("COMPANY_WEBHOOK_URL", url.as_str()), ("COMPANY_WEBHOOK_SECRET", "company-secret")];
    let app = spawn_app_with(backend, redis, &extra, wa_onboard::app::Workers::Run).await;
    let (token, hash) = wa_onboard::api::auth::new_token();
    let record = ApiToken { name: "desk".into(), hash, created_at: 1 };
    assert!(app.backend.api_tokens().add(&record).await.unwrap());
    (app, token, received)
}

fn user_of(app: &TestApp, name: &str, phone: &str) -> User {
    let sim = app.sim.clone().expect("the in-app simulator");
    User::new(name, phone, &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim)
}

/// Spanish, consent, passport, then three blurry fronts (and the selfie): the user is told a person will write.
/// Answers the id of the case that opened.
async fn three_blurry_photos(app: &TestApp, token: &str, user: &mut User) -> String {
    send_three_blurry_photos(user).await;
    let (status, listed) = call(app, reqwest::Method::GET, "/api/v1/cases?status=waiting", Some(token), None).await;
    assert_eq!(status, 200);
    let case = listed["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["masked_phone"].as_str().is_some_and(|p| user.phone.ends_with(&p.replace('*', ""))))
        .unwrap_or_else(|| panic!("a waiting case for {}: {listed}", user.phone))
        .clone();
    assert_eq!(case["reason"], "attempts_exhausted: blurry", "three tries, the last one blurry: {case}");
    assert_eq!(case["profile_name"], user.name.as_str(), "the name the user shows on WhatsApp: {case}");
    assert_eq!(case["language"], "es");
    assert_eq!(case["document"], "passport");
    assert!(case["attempts"].as_u64().unwrap() >= 3, "{case}");
    case["id"].as_str().unwrap().to_owned()
}

async fn view(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, case) = call(app, reqwest::Method::GET, &format!("/api/v1/cases/{id}"), Some(token), None).await;
    assert_eq!(status, 200, "{case}");
    case
}

/// Polls the case until `test` holds on it (the workers act in the background).
async fn until(app: &TestApp, token: &str, id: &str, what: &str, test: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let case = view(app, token, id).await;
        if test(&case) {
            return case;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {case:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has_line(case: &Value, kind: &str, contains: &str) -> bool {
    case["timeline"].as_array().is_some_and(|lines| {
        lines.iter().any(|l| l["kind"] == kind && l["text"].as_str().is_some_and(|t| t.contains(contains)))
    })
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    call(app, reqwest::Method::POST, path, Some(token), Some(body)).await
}

on_both_backends!(an_agent_talks_asks_for_a_retake_sees_it_pass_and_approves, |backend, name| async move {
    let (app, token, company) = desk(backend, name).await;
    let mut user = user_of(&app, "Bruno", "5215533330001");
    let id = three_blurry_photos(&app, &token, &mut user).await;

    // While waiting, what the user writes reaches the case at once, and the bot stays quiet.
    user.says("¿hola? <script>alert(1)</script>").await.unwrap();
    until(&app, &token, &id, "the user's message in the timeline", |c| has_line(c, "message", "<script>")).await;
    assert!(user.expect_replies(1, Duration::from_millis(300)).await.is_err(), "the bot does not answer again");

    let agent = "ana@acme.mx";
    let (status, case) = post(&app, &token, &format!("/api/v1/cases/{id}/claim"), json!({"agent": agent})).await;
    assert_eq!((status, case["status"].as_str()), (200, Some("assigned")), "{case}");
    // Another agent cannot write in a case they do not hold.
    let path = format!("/api/v1/cases/{id}/messages");
    let (status, _) = post(&app, &token, &path, json!({"text": "hola", "agent": "bia@acme.mx"})).await;
    assert_eq!(status, 409);

    let (status, answer) = post(&app, &token, &path, json!({"text": "Hola Bruno, soy Ana.", "agent": agent})).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(replies(&mut user, 1).await, ["Hola Bruno, soy Ana."]);
    let case = until(&app, &token, &id, "the message is shown as sent", |c| {
        c["timeline"].as_array().unwrap().iter().any(|l| {
            l["actor"] == "agent" && l["text"] == "Hola Bruno, soy Ana." && l["delivery"].as_str() != Some("queued")
        })
    })
    .await;
    assert!(case["window_open"].as_bool().unwrap());
    // Why: each failed check, with its reason and measurements, and how the user got here.
    let checks = case["timeline"].as_array().unwrap().iter().filter(|l| l["kind"] == "check").count();
    assert!(checks >= 3, "{case:#}");
    assert!(has_line(&case, "check", "photo front: Retake [Blurry] (blur"), "{case:#}");
    assert!(has_line(&case, "history", "choice `doc_passport` → front"), "{case:#}");
    assert!(case["photos"].as_array().unwrap().iter().any(|p| p["slot"] == "front"), "{case}");

    // A retake of the front: the user gets the blur advice; the new sharp photo is checked and shown to the agent.
    let decision = format!("/api/v1/cases/{id}/decision");
    let retake = json!({"decision": "retake", "slot": "front", "reason": "blurry", "agent": agent});
    assert_eq!(post(&app, &token, &decision, retake).await.0, 202);
    let said = replies(&mut user, 1).await;
    assert!(said[0].contains("borrosa"), "{said:?}");
    user.sends_photo("bruno-front-sharp", photos().0.clone(), "sharp front").await.unwrap();
    // The new photo passes its quality check; nothing compares the face in this flow, so the result says a person
    // decides, and it goes to the agent (the bot does not decide).
    let case =
        until(&app, &token, &id, "the new photo's check", |c| has_line(c, "check", "needs a person: review_required"))
            .await;
    assert!(has_line(&case, "check", "photo front: Ok"), "{case:#}");
    assert_eq!(case["status"], "assigned", "the case stays with Ana");
    replies(&mut user, 2).await; // "checking..." and "a person will write to you"

    let approve = json!({"decision": "approve", "agent": agent});
    assert_eq!(post(&app, &token, &decision, approve).await.0, 202);
    let said = replies(&mut user, 1).await;
    assert!(said[0].contains("verificamos tu identidad"), "{said:?}");
    let case = until(&app, &token, &id, "resolved", |c| c["status"] == "resolved").await;
    assert!(has_line(&case, "decision", "approve"), "{case:#}");

    let key = UserKey { phone_number_id: wa_onboard::sim::SIM_PHONE_NUMBER_ID.into(), user: user.phone.clone() };
    let audit = app.backend.conversations().audit(&key, 200).await.unwrap();
    assert!(audit.iter().any(|r| r.actor == format!("agent:{agent}")), "the agent is in the audit log: {audit:?}");
    let deadline = std::time::Instant::now() + WAIT;
    while company.lock().unwrap().iter().all(|e| e["event"] != "onboarding.verified") {
        assert!(std::time::Instant::now() < deadline, "the company system is told");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event = company.lock().unwrap().iter().find(|e| e["event"] == "onboarding.verified").cloned().unwrap();
    assert_eq!(event["decided_by"], agent, "{event}");

    // The desk's service levels, for Prometheus.
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "wa_onboard_cases{status=\"resolved\"}"), 1.0, "{metrics}");
    assert_eq!(metric(&metrics, "wa_onboard_cases{status=\"waiting\"}"), 0.0);
    assert_eq!(metric(&metrics, "wa_onboard_case_time_to_assignment_seconds_count"), 1.0);
    assert_eq!(metric(&metrics, "wa_onboard_case_handling_seconds_count"), 1.0, "approve closes; retake does not");
    assert_eq!(metric(&metrics, "wa_onboard_case_decisions_total{decision=\"retake\"}"), 1.0);
    assert_eq!(metric(&metrics, "wa_onboard_case_decisions_total{decision=\"approve\"}"), 1.0);
});

on_both_backends!(a_rejection_is_polite_and_reaches_the_company_with_the_agent, |backend, name| async move {
    let (app, token, company) = desk(backend, name).await;
    let mut user = user_of(&app, "Caio", "5215533330002");
    let id = three_blurry_photos(&app, &token, &mut user).await;
    let agent = "bia@acme.mx";
    assert_eq!(post(&app, &token, &format!("/api/v1/cases/{id}/claim"), json!({"agent": agent})).await.0, 200);
    let decision = format!("/api/v1/cases/{id}/decision");
    let (status, _) = post(&app, &token, &decision, json!({"decision": "reject", "agent": agent})).await;
    assert_eq!(status, 400, "a rejection names its reason");
    let (status, _) = post(&app, &token, &decision, json!({"decision": "maybe", "agent": agent})).await;
    assert_eq!(status, 400);
    let reject = json!({"decision": "reject", "reason": "suspected_fraud", "agent": agent});
    let (status, answer) = post(&app, &token, &decision, reject).await;
    assert_eq!(status, 202, "{answer}");
    let said = replies(&mut user, 1).await;
    assert!(said[0].contains("Gracias por tu paciencia"), "the polite closing text: {said:?}");
    assert!(!said[0].to_lowercase().contains("fraud"), "never an accusation: {said:?}");
    let case = until(&app, &token, &id, "resolved", |c| c["status"] == "resolved").await;
    assert_eq!(case["outcome"], "rejected", "{case:#}");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let events = company.lock().unwrap().clone();
        if let Some(event) = events.iter().find(|e| e["decided_by"] == agent) {
            assert_eq!(
                (event["event"].as_str(), event["reason"].as_str()),
                (Some("onboarding.rejected"), Some("suspected_fraud"))
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the company system is told: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A closed case takes no more decisions.
    let again = json!({"decision": "approve", "agent": agent});
    assert_eq!(post(&app, &token, &decision, again).await.0, 409);
});

on_both_backends!(a_user_who_stops_while_waiting_withdraws_the_case_and_it_is_erased, |backend, name| async move {
    let (app, token, _) = desk(backend, name).await;
    let mut user = user_of(&app, "Davi", "5215533330003");
    let id = three_blurry_photos(&app, &token, &mut user).await;
    user.says("salir").await.unwrap();
    replies(&mut user, 1).await;
    user.taps("stop_yes", "Sí, terminar").await.unwrap();
    let said = replies(&mut user, 1).await;
    assert!(said[0].contains("borraremos tus datos"), "{said:?}");
    // The case is withdrawn, then erased with the rest of their data (docs/privacy.md).
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, case) = call(&app, reqwest::Method::GET, &format!("/api/v1/cases/{id}"), Some(&token), None).await;
        match status {
            404 => break,
            200 if std::time::Instant::now() < deadline => {
                assert_ne!(case["status"], "waiting", "a stopped user's case leaves the queue at once: {case}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => panic!("{status}: {case}"),
        }
    }
    for status in ["waiting", "withdrawn"] {
        let path = format!("/api/v1/cases?status={status}");
        let (code, listed) = call(&app, reqwest::Method::GET, &path, Some(&token), None).await;
        assert_eq!(code, 200, "{listed}");
        assert!(listed["cases"].as_array().unwrap().iter().all(|c| c["id"] != id.as_str()), "{listed}");
    }
});

on_both_backends!(photos_are_served_only_with_a_token_never_cached_and_each_view_audited, |backend, name| async move {
    let (app, token, _) = desk(backend, name).await;
    let mut user = user_of(&app, "Eva", "5215533330004");
    let id = three_blurry_photos(&app, &token, &mut user).await;
    let url = format!("{}/api/v1/cases/{id}/photos/front?size=thumb", app.base);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401);
    let answer = app.client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "image/jpeg");
    assert!(answer.headers()["cache-control"].to_str().unwrap().contains("no-store"));
    let thumb = image::load_from_memory(&answer.bytes().await.unwrap()).expect("a real image");
    assert!(thumb.width().max(thumb.height()) <= 320, "a thumbnail: {}x{}", thumb.width(), thumb.height());
    let full = app.client.get(url.replace("thumb", "full")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(full.status(), 200);
    let (status, _) =
        call(&app, reqwest::Method::GET, &format!("/api/v1/cases/{id}/photos/back"), Some(&token), None).await;
    assert_eq!(status, 404, "a passport has no back");

    let key = UserKey { phone_number_id: wa_onboard::sim::SIM_PHONE_NUMBER_ID.into(), user: user.phone.clone() };
    let audit = app.backend.conversations().audit(&key, 200).await.unwrap();
    let views = audit.iter().filter(|r| r.event.contains("viewed photo")).count();
    assert_eq!(views, 2, "each view is audited: {audit:?}");
    let case = view(&app, &token, &id).await;
    assert!(has_line(&case, "photo_viewed", "front"), "{case:#}");

    assert!(app.backend.api_tokens().revoke("desk").await.unwrap());
    assert_eq!(app.client.get(&url).bearer_auth(&token).send().await.unwrap().status(), 401, "revoked");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_case_does_not_expire_after_25_hours() {
    let app = spawn_stepped_app(&[]).await;
    let (token, hash) = wa_onboard::api::auth::new_token();
    assert!(app.backend.api_tokens().add(&ApiToken { name: "desk".into(), hash, created_at: 1 }).await.unwrap());
    let sim = app.sim.clone().unwrap();
    let mut user = User::new("Flor", "5215533330005", &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim);
    user.says("Hola").await.unwrap();
    app.run_pending_jobs().await;
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("lang_es", "Español").await.unwrap();
    app.run_pending_jobs().await;
    user.expect_replies(1, WAIT).await.unwrap();
    user.says("quiero hablar con una persona").await.unwrap();
    app.run_pending_jobs().await;
    let said = texts(&user.expect_replies(1, WAIT).await.unwrap());
    assert!(said[0].contains("te escribirá aquí mismo"), "{said:?}");
    let waiting = app.backend.cases().list(CaseStatus::Waiting, 10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    let id = waiting[0].info.id.clone();

    for _ in 0..25 {
        app.advance(Duration::from_secs(3600));
        app.run_pending_jobs().await;
    }
    let case = view(&app, &token, &id).await;
    assert_eq!(case["status"], "waiting", "{case:#}");
    assert_eq!(case["step"], app_step(&app, &user).await, "the conversation is where it was");
    assert!(!case["window_open"].as_bool().unwrap(), "25 hours on, the window has closed");
    // An agent writing now is told the window closed (no template configured).
    assert_eq!(post(&app, &token, &format!("/api/v1/cases/{id}/claim"), json!({"agent": "ana@acme.mx"})).await.0, 200);
    let (status, answer) =
        post(&app, &token, &format!("/api/v1/cases/{id}/messages"), json!({"text": "hola", "agent": "ana@acme.mx"}))
            .await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("24-hour window"), "{answer}");
    // The user's conversation is still with a person: writing is recorded, not restarted.
    user.says("¿siguen ahí?").await.unwrap();
    app.run_pending_jobs().await;
    let said = texts(&user.expect_replies(1, WAIT).await.unwrap());
    assert!(!said[0].contains("empezamos otra vez"), "{said:?}");
    let case = view(&app, &token, &id).await;
    assert!(has_line(&case, "message", "siguen ahí"), "{case:#}");
}

async fn app_step(app: &TestApp, user: &User) -> Value {
    let key = UserKey { phone_number_id: wa_onboard::sim::SIM_PHONE_NUMBER_ID.into(), user: user.phone.clone() };
    let state = app.backend.conversations().load(&key).await.unwrap().expect("a conversation").stored.state;
    Value::String(state.step)
}
