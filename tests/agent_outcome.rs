//! The live-agent contract through HTTP, for an external agent system (`AGENT_LINK_BASE_URL` set): the handoff link
//! the user gets, and `POST /agent/outcome` (docs/agents.md).

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wa_onboard::demo::driver::{User, describe};
use wa_onboard::signing;

const WAIT: Duration = Duration::from_secs(60);
/// No AGENT_LINK_SECRET in the test config: it is derived from the app secret.
const AGENT_SECRET: &str = "agent-link:test-app-secret";

/// The whole bot, with an external agent system at `AGENT_LINK_BASE_URL`.
async fn spawn_desk_app(backend: Backend, name: &str) -> TestApp {
    let (backend, redis) = open_backend(backend, name).await;
    let extra = [("WORKER_POLL_MS", "20"), ("AGENT_LINK_BASE_URL", "https://desk.example.com/handoff")];
    spawn_app_with(backend, redis, &extra, wa_onboard::app::Workers::Run).await
}

async fn handed_off_user(app: &TestApp, phone: &str) -> (User, String) {
    let sim = app.sim.clone().unwrap();
    let mut user = User::new("Gabi", phone, &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim);
    user.says("Hola").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("lang_es", "Español").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.says("quiero hablar con una persona").await.unwrap();
    let replies = user.expect_replies(1, WAIT).await.unwrap();
    let url = replies[0]["interactive"]["action"]["parameters"]["url"].as_str().expect("a link button").to_owned();
    let token = url.split("t=").nth(1).unwrap().to_owned();
    (user, token)
}

async fn post_outcome(app: &TestApp, body: serde_json::Value, secret: &str) -> reqwest::Response {
    let body = serde_json::to_vec(&body).unwrap();
    let now = (wa_onboard::clock::Clock::now_secs(&wa_onboard::clock::SystemClock)) as i64;
    app.client
        .post(format!("{}/agent/outcome", app.base))
        .header("content-type", "application/json")
        .header(signing::SIGNATURE_HEADER, signing::sign(secret.as_bytes(), now, &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

on_both_backends!(an_agent_approves_and_the_conversation_continues, |backend, name| async move {
    let app = spawn_desk_app(backend, name).await;
    let (mut user, token) = handed_off_user(&app, "5215522220001").await;
    // While the agent owns the conversation the bot records but does not answer.
    user.says("¿hola?").await.unwrap();
    assert!(user.expect_replies(1, Duration::from_millis(500)).await.is_err(), "the bot stays quiet");

    let response =
        post_outcome(&app, json!({"token": token, "decision": "approve", "agent": "maria"}), AGENT_SECRET).await;
    assert_eq!(response.status(), 202);
    let replies = user.expect_replies(1, WAIT).await.unwrap();
    assert!(describe(&replies[0]).contains("verificamos tu identidad"), "{replies:?}");
});

on_both_backends!(an_agent_asks_for_a_new_selfie, |backend, name| async move {
    let app = spawn_desk_app(backend, name).await;
    let (mut user, token) = handed_off_user(&app, "5215522220002").await;
    let body = json!({"token": token, "decision": "retake", "slot": "selfie", "reason": "face_too_small"});
    assert_eq!(post_outcome(&app, body.clone(), AGENT_SECRET).await.status(), 202);
    let replies = user.expect_replies(1, WAIT).await.unwrap();
    assert!(describe(&replies[0]).contains("Tu cara se ve muy pequeña"), "{replies:?}");
    // The same signed outcome sent again is one outcome: no second message.
    assert_eq!(post_outcome(&app, body, AGENT_SECRET).await.status(), 202);
    assert!(user.expect_replies(1, Duration::from_millis(500)).await.is_err());
});

#[tokio::test]
async fn bad_outcomes_get_clear_answers_and_change_nothing() {
    let app = spawn_desk_app(Backend::Memory, "agent-bad").await;
    let (mut user, token) = handed_off_user(&app, "5215522220003").await;
    let approve = json!({"token": token, "decision": "approve"});
    let cases = [
        (approve.clone(), "wrong-secret", 401, "signature"),
        (json!({"token": token, "decision": "retake"}), AGENT_SECRET, 400, "slot"),
        (json!({"token": "c-000.1.abcd", "decision": "approve"}), AGENT_SECRET, 401, "token"),
        (json!({"token": token, "decision": "maybe"}), AGENT_SECRET, 400, "body"),
    ];
    for (body, secret, status, says) in cases {
        let response = post_outcome(&app, body.clone(), secret).await;
        assert_eq!(response.status(), status, "{body}");
        assert!(response.text().await.unwrap().contains(says), "{body}");
    }
    assert!(user.expect_replies(1, Duration::from_millis(500)).await.is_err(), "nothing happened");
    // The development handoff page checks links too.
    let page = app.client.get(format!("{}/agent/handoff?t=forged.1.00", app.base)).send().await.unwrap();
    assert_eq!(page.status(), 403);
}

on_both_backends!(an_outcome_for_a_conversation_the_user_stopped_is_not_found, |backend, name| async move {
    let app = spawn_desk_app(backend, name).await;
    let (mut user, token) = handed_off_user(&app, "5215522220009").await;
    user.says("salir").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("stop_yes", "Sí, terminar").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    // Their data is erased in the background, the conversation's index with it: the outcome finds nothing.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let response = post_outcome(&app, json!({"token": token, "decision": "approve"}), AGENT_SECRET).await;
        match response.status().as_u16() {
            404 => break,
            202 if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            status => panic!("{status}: {}", response.text().await.unwrap()),
        }
    }
    assert!(user.expect_replies(1, Duration::from_millis(500)).await.is_err(), "nothing is said to them");
});
