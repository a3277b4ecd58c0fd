//! The Cloud API client against the simulator, over real HTTP: every message kind, every class of error and its
//! retry decision, the expired token, and the simulator's own HTTP surface.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use wa_onboard::config::{Config, Env};
use wa_onboard::sim::{Endpoint, Failure, SIM_ACCESS_TOKEN, Simulator};
use wa_onboard::whatsapp::{GraphError, OutboundMessage, Recipient, Retry};

fn ana() -> Recipient {
    Recipient::Phone("5215512345678".into())
}

#[tokio::test]
async fn every_message_kind_is_sent_and_recorded() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    let messages = vec![
        OutboundMessage::text("Hola, vamos a verificar tu identidad").unwrap(),
        OutboundMessage::text_with_preview("Aviso: https://example.com/privacidad").unwrap(),
        OutboundMessage::buttons("¿Aceptas?")
            .footer("Acme KYC")
            .button("yes", "Acepto")
            .button("no", "No acepto")
            .build()
            .unwrap(),
        OutboundMessage::list("¿Qué documento tienes?", "Documentos")
            .section("México")
            .row("ine", "INE", Some("Credencial para votar".into()))
            .section("Todos")
            .row("passport", "Pasaporte", None)
            .build()
            .unwrap(),
        OutboundMessage::cta_url("Habla con una persona", "Abrir chat", "https://agents.example.com/l/abc", None)
            .unwrap(),
        OutboundMessage::template("kyc_reminder", "es_MX", vec![OutboundMessage::template_body_parameters(["Ana"])])
            .unwrap()
            .with_callback_data("conv-42")
            .unwrap(),
    ];
    let mut wamids = Vec::new();
    for m in &messages {
        let sent = api.send(&ana(), m).await.unwrap_or_else(|e| panic!("{}: {e}", m.label()));
        assert!(sent.wamid.starts_with("wamid."), "{}", sent.wamid);
        wamids.push(sent.wamid);
    }
    let recorded = sim.messages();
    assert_eq!(recorded.len(), messages.len());
    for ((r, m), wamid) in recorded.iter().zip(&messages).zip(&wamids) {
        assert_eq!(&r.wamid, wamid);
        assert_eq!(r.to.as_deref(), Some("5215512345678"));
        assert_eq!(r.kind, m.kind());
        assert_eq!(r.body, m.to_wire(&ana()), "the simulator got exactly the wire JSON");
        assert_eq!(r.phone_number_id, "106540352242922");
    }
    assert_eq!(recorded[5].body["biz_opaque_callback_data"], "conv-42");

    // The same list over HTTP.
    let listed: Vec<Value> = sim_json(&format!("{}/messages", sim.base_url)).await;
    assert_eq!(listed.len(), messages.len());
    assert_eq!(listed[2]["body"]["interactive"]["action"]["buttons"][1]["reply"]["title"], "No acepto");
}

#[tokio::test]
async fn a_username_user_is_addressed_with_recipient() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    let user = Recipient::UserId("US.13491208655302741918".into());
    api.send(&user, &OutboundMessage::text("Hola").unwrap()).await.unwrap();
    let recorded = sim.messages().remove(0);
    assert_eq!(recorded.recipient.as_deref(), Some("US.13491208655302741918"));
    assert_eq!(recorded.to, None);
    assert!(recorded.body.get("to").is_none());
}

#[tokio::test]
async fn mark_read_with_typing_indicator() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    api.mark_read("wamid.in.1", true).await.unwrap();
    api.mark_read("wamid.in.2", false).await.unwrap();
    let reads = sim.reads();
    assert_eq!(reads.len(), 2);
    assert!(reads[0].typing_indicator);
    assert!(!reads[1].typing_indicator);
    assert!(sim.messages().is_empty(), "a read receipt is not a message");
    let listed: Vec<Value> = sim_json(&format!("{}/_admin/reads", sim.base_url)).await;
    assert_eq!(listed[0]["message_id"], "wamid.in.1");
}

/// The simulator checks requests like Meta: raw JSON that breaks a limit is refused with Meta's error.
#[tokio::test]
async fn the_simulator_rejects_what_meta_rejects() {
    let sim = Simulator::start().await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/v23.0/106540352242922/messages", sim.base_url);
    let button = |i: u32| json!({"type":"reply","reply":{"id":format!("b{i}"),"title":format!("Opción {i}")}});
    let four_buttons = json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"5215512345678",
        "type":"interactive","interactive":{"type":"button","body":{"text":"Elige"},
        "action":{"buttons":[button(1),button(2),button(3),button(4)]}}});
    let response = http.post(&url).bearer_auth(SIM_ACCESS_TOKEN).json(&four_buttons).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 131009);
    assert!(body["error"]["error_data"]["details"].as_str().unwrap().contains("buttons"), "{body}");

    let long_text = json!({"messaging_product":"whatsapp","to":"5215512345678","type":"text",
        "text":{"body":"x".repeat(4097)}});
    let body: Value =
        http.post(&url).bearer_auth(SIM_ACCESS_TOKEN).json(&long_text).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["error"]["code"], 100);

    let wrong_token = http.post(&url).bearer_auth("nope").json(&long_text).send().await.unwrap();
    assert_eq!(wrong_token.status(), 401);
    let body: Value = wrong_token.json().await.unwrap();
    assert_eq!(body["error"]["code"], 190);
    let no_token = http.post(&url).json(&long_text).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert!(sim.messages().is_empty());
}

/// Each class of Graph error comes back typed, with its retry decision.
#[tokio::test]
async fn each_error_class_gets_its_retry_decision() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    let text = OutboundMessage::text("hola").unwrap();

    sim.fail(Failure::Throttled);
    let e = api.send(&ana(), &text).await.unwrap_err();
    assert_eq!((e.code(), e.http_status()), (Some(130429), Some(429)));
    assert!(matches!(e.retry_policy(0), Retry::After(d) if d >= Duration::from_secs(1) && d <= Duration::from_secs(2)));

    sim.fail(Failure::PairRate);
    let e = api.send(&ana(), &text).await.unwrap_err();
    assert_eq!(e.code(), Some(131056));
    assert_eq!(e.retry_policy(1), Retry::After(Duration::from_secs(16)));

    sim.fail(Failure::ServerError);
    let e = api.send(&ana(), &text).await.unwrap_err();
    assert_eq!(e.http_status(), Some(500));
    assert!(matches!(e.retry_policy(0), Retry::After(_)));

    sim.fail(Failure::WindowClosed);
    let e = api.send(&ana(), &text).await.unwrap_err();
    assert_eq!(e.retry_policy(0), Retry::WindowClosed);

    sim.fail(Failure::Error { status: 400, code: 131026, message: "Message undeliverable".into() });
    let e = api.send(&ana(), &text).await.unwrap_err();
    assert!(matches!(e.retry_policy(0), Retry::Never(p) if p.code == Some(131026) && p.category == "undeliverable"));

    sim.fail(Failure::Error { status: 400, code: 132001, message: "Template name does not exist".into() });
    let e = api.send(&ana(), &text).await.unwrap_err();
    assert!(matches!(e.retry_policy(0), Retry::Never(p) if p.category == "template"));

    sim.fail(Failure::Error { status: 400, code: 368, message: "Temporarily blocked for policies violations".into() });
    assert!(
        matches!(api.send(&ana(), &text).await.unwrap_err().retry_policy(0), Retry::Never(p) if p.category == "policy")
    );

    sim.fail(Failure::Error { status: 400, code: 80007, message: "Rate limit issues".into() });
    assert!(matches!(api.send(&ana(), &text).await.unwrap_err().retry_policy(0), Retry::After(_)));

    // A slow answer past the client's timeout is a network error: transient.
    let mut settings = api.settings().clone();
    settings.timeout = Duration::from_millis(200);
    let impatient = wa_onboard::whatsapp::CloudApi::new(settings).unwrap();
    sim.fail(Failure::Slow { delay_ms: 600 });
    let started = Instant::now();
    let e = impatient.send(&ana(), &text).await.unwrap_err();
    assert!(matches!(e, GraphError::Network(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_millis(550));
    assert!(matches!(e.retry_policy(0), Retry::After(_)));

    // A slow answer within the timeout just succeeds.
    sim.fail(Failure::Slow { delay_ms: 100 });
    let sent = api.send(&ana(), &text).await.unwrap();
    // The timed-out request may or may not have been recorded (as with Meta: that is why sends are idempotent);
    // none of the refused ones were.
    let recorded = sim.messages();
    assert!((1..=2).contains(&recorded.len()), "{recorded:?}");
    assert_eq!(recorded.last().unwrap().wamid, sent.wamid);
    assert_eq!(sim.pending_failures(), 0);
}

#[tokio::test]
async fn an_expired_token_raises_the_flag_and_stops_sending() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    let other_handle = api.clone();
    let flag = api.token_expired_flag();
    let text = OutboundMessage::text("hola").unwrap();
    sim.fail(Failure::TokenExpired);
    let e = api.send(&ana(), &text).await.unwrap_err();
    assert_eq!(e.code(), Some(190));
    assert_eq!(e.retry_policy(0), Retry::TokenExpired);
    assert!(api.token_expired());
    assert!(other_handle.token_expired(), "every clone shares the flag");
    assert!(flag.load(std::sync::atomic::Ordering::Relaxed));

    // Further sends fail fast, without reaching Meta, even though the simulator would accept them now.
    let e = other_handle.send(&ana(), &text).await.unwrap_err();
    assert_eq!(e, GraphError::TokenExpired);
    assert!(matches!(api.mark_read("wamid.x", true).await, Err(GraphError::TokenExpired)));
    assert!(sim.messages().is_empty());
    assert!(sim.reads().is_empty());

    api.reset_token_expired();
    api.send(&ana(), &text).await.unwrap();
    assert_eq!(sim.messages().len(), 1);
}

#[tokio::test]
async fn a_wrong_token_is_treated_as_expired() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    sim.set_access_token("rotated");
    let e = api.send(&ana(), &OutboundMessage::text("hola").unwrap()).await.unwrap_err();
    assert_eq!(e.retry_policy(0), Retry::TokenExpired);
    assert!(api.token_expired());
}

#[tokio::test]
async fn failures_can_be_programmed_over_http() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    let http = reqwest::Client::new();
    let queued: Value = http
        .post(format!("{}/_admin/failures", sim.base_url))
        .bearer_auth(SIM_ACCESS_TOKEN)
        .json(&json!({"kind": "throttled", "count": 2}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queued["pending"], 2);
    let response = http
        .post(format!("{}/_admin/failures", sim.base_url))
        .bearer_auth(SIM_ACCESS_TOKEN)
        .json(&json!({"kind": "error", "status": 503, "code": 2, "message": "Service temporarily unavailable",
                      "on": "messages"}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let text = OutboundMessage::text("hola").unwrap();
    for code in [130429, 130429, 2] {
        assert_eq!(api.send(&ana(), &text).await.unwrap_err().code(), Some(code));
    }
    api.send(&ana(), &text).await.unwrap();

    // Failures on another endpoint wait for it.
    sim.fail_on(Endpoint::MediaLookup, Failure::ServerError);
    api.send(&ana(), &text).await.unwrap();
    assert_eq!(sim.pending_failures(), 1);

    let bad = http
        .post(format!("{}/_admin/failures", sim.base_url))
        .bearer_auth(SIM_ACCESS_TOKEN)
        .json(&json!({"kind": "nonsense"}))
        .send()
        .await;
    assert_eq!(bad.unwrap().status(), 400);
    let reset = http.post(format!("{}/_admin/reset", sim.base_url)).bearer_auth(SIM_ACCESS_TOKEN).send().await.unwrap();
    assert!(reset.status().is_success());
    assert!(sim.messages().is_empty());
    assert_eq!(sim.pending_failures(), 0);
}

#[tokio::test]
async fn the_simulator_mounts_inside_the_app_without_a_token() {
    let config = config(&[]);
    let in_app = wa_onboard::sim::in_app(&config).expect("no token configured: simulator offered");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}{}", wa_onboard::sim::MOUNT_PATH);
    in_app.state.set_public_base(&base);
    let router = axum::Router::new().nest(wa_onboard::sim::MOUNT_PATH, in_app.router);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let settings = wa_onboard::whatsapp::CloudApiSettings::new(
        &base,
        "v23.0",
        &in_app.phone_number_id,
        in_app.access_token.clone(),
    );
    let token = in_app.access_token.expose().to_owned();
    let api = wa_onboard::whatsapp::CloudApi::new(settings).unwrap();
    api.send(&ana(), &OutboundMessage::text("hola").unwrap()).await.unwrap();
    // The inspection and admin routes need the per-start token.
    let bare = reqwest::get(format!("{base}/messages")).await.unwrap();
    assert_eq!(bare.status(), 401);
    let failure =
        reqwest::Client::new().post(format!("{base}/_admin/failures")).json(&json!({"kind": "token_expired"}));
    assert_eq!(failure.send().await.unwrap().status(), 401);
    let listed = reqwest::Client::new().get(format!("{base}/messages")).bearer_auth(&token).send().await.unwrap();
    let listed: Vec<Value> = listed.json().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["body"]["text"]["body"], "hola");

    let with_token = common::config(&[("WHATSAPP_ACCESS_TOKEN", "EAAG")]);
    assert!(wa_onboard::sim::in_app(&with_token).is_none());
    let production =
        Config::from_env(&Env::from_pairs([("WHATSAPP_APP_SECRET", "s"), ("WHATSAPP_VERIFY_TOKEN", "v")]), false)
            .unwrap();
    assert!(wa_onboard::sim::in_app(&production).is_none(), "no simulator outside --dev");
    server.abort();
}

/// GETs a simulator route with its token and reads the JSON answer.
async fn sim_json(url: &str) -> Vec<Value> {
    let answer = reqwest::Client::new().get(url).bearer_auth(SIM_ACCESS_TOKEN).send().await.unwrap();
    answer.json().await.unwrap()
}
