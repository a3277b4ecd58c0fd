//! The runner through its real parts: webhooks in over HTTP, workers, state with compare-and-set, audit log.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::*;
use wa_onboard::flow::state::UserKey;
use wa_onboard::jobs::inbound::InboundJob;
use wa_onboard::jobs::outbound::OutboundJob;
use wa_onboard::webhook::envelope::Envelope;
use wa_onboard::webhook::ingest::Batch;

fn user() -> UserKey {
    UserKey { phone_number_id: "106540352242922".into(), user: "MX.1".into() }
}

/// A text webhook from the test user with a given id and timestamp.
fn text_at(id: &str, body: &str, timestamp: u64) -> Vec<u8> {
    String::from_utf8(text_webhook(id, body))
        .unwrap()
        .replace("\"1795000000\"", &format!("\"{timestamp}\""))
        .into_bytes()
}

fn inbound_job(id: &str, body: &str, timestamp: u64) -> InboundJob {
    let envelope = Envelope::parse(&text_at(id, body, timestamp)).unwrap();
    Batch::from_envelope(envelope, 0, &|_| true).jobs.remove(0)
}

async fn wait_for_audit(app: &TestApp, records: usize) -> Vec<wa_onboard::store::conversation::AuditRecord> {
    let started = Instant::now();
    loop {
        let audit = app.backend.conversations().audit(&user(), 1000).await.unwrap();
        if audit.len() >= records || started.elapsed() > Duration::from_secs(10) {
            return audit;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

on_both_backends!(a_webhook_is_answered_through_the_workers_and_audited, |backend, name| async move {
    let app = spawn_running_app(backend, name).await;
    let now = wa_onboard::clock::Clock::now_secs(&wa_onboard::clock::SystemClock);
    assert_eq!(app.post_signed(text_at("wamid.e2e.1", "hola", now)).await.status(), 200);
    let audit = wait_for_audit(&app, 1).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].actor, "user");
    assert_eq!(audit[0].event, "text message (4 characters)", "no message content in the audit log");
    assert_eq!(audit[0].step_after, "language");
    assert!(audit[0].effects.contains(&"send buttons".to_owned()), "{:?}", audit[0].effects);

    // Meta delivers the same webhook again: nothing new happens.
    assert_eq!(app.post_signed(text_at("wamid.e2e.1", "hola", now)).await.status(), 200);
    assert_eq!(app.post_signed(text_at("wamid.e2e.2", "Español", now + 1)).await.status(), 200);
    let audit = wait_for_audit(&app, 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let audit_later = app.backend.conversations().audit(&user(), 1000).await.unwrap();
    assert_eq!(audit_later.len(), 2, "{audit:?}");
    assert_eq!(audit_later[1].step_before, "language");
    assert_eq!(audit_later[1].step_after, "consent", "typing the button title works like tapping it");
});

on_both_backends!(concurrent_events_for_one_user_lose_no_update, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    let runner = app.runner.clone();
    let now = wa_onboard::clock::Clock::now_secs(&wa_onboard::clock::SystemClock);
    runner.inbound(&inbound_job("wamid.first", "hola", now - 100)).await.unwrap();
    // 40 messages for one user, all at once; each answered exactly once whatever the interleaving.
    let jobs: Vec<InboundJob> = (0..40).map(|i| inbound_job(&format!("wamid.c{i}"), "¿qué?", now - 60 + i)).collect();
    let tasks = jobs.into_iter().map(|job| {
        let runner = runner.clone();
        tokio::spawn(async move { runner.inbound(&job).await })
    });
    for result in futures::future::join_all(tasks).await {
        result.unwrap().unwrap();
    }
    let stored = app.backend.conversations().load(&user()).await.unwrap().unwrap();
    assert_eq!(stored.version, 41, "one saved version per event: no lost update");
    assert_eq!(stored.stored.state.last_message_at, now - 60 + 39, "the newest message time wins");
    assert!(stored.stored.outbox.is_empty(), "every effect was handed out");
    let audit = app.backend.conversations().audit(&user(), 1000).await.unwrap();
    assert_eq!(audit.len(), 41);
    let keys: std::collections::HashSet<_> = audit.iter().map(|r| r.event_key.clone()).collect();
    assert_eq!(keys.len(), 41, "each event audited once");

    // Replaying every job (a worker crashed and they all come back) changes nothing.
    for i in 0..40 {
        let replay = runner.inbound(&inbound_job(&format!("wamid.c{i}"), "¿qué?", now - 60 + i)).await.unwrap();
        assert_eq!(replay, wa_onboard::conversation::runner::Applied::Duplicate);
    }
    assert_eq!(app.backend.conversations().load(&user()).await.unwrap().unwrap().version, 41);
});

on_both_backends!(replies_are_queued_once_each_in_the_order_they_were_decided, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    let now = wa_onboard::clock::Clock::now_secs(&wa_onboard::clock::SystemClock);
    app.runner.inbound(&inbound_job("wamid.o1", "hola", now - 10)).await.unwrap();
    app.runner.inbound(&inbound_job("wamid.o2", "English", now - 9)).await.unwrap();
    app.runner.inbound(&inbound_job("wamid.o3", "I agree", now - 8)).await.unwrap();
    // An older answer delivered late is recorded, not acted upon.
    app.runner.inbound(&inbound_job("wamid.o0", "I don't agree", now - 20)).await.unwrap();
    let outbound = wa_onboard::jobs::Queues::new(app.backend.clone()).of::<OutboundJob>();
    let pending = outbound.pending(100).await.unwrap();
    let bodies: Vec<String> = pending
        .iter()
        .flat_map(|j| match j {
            OutboundJob::Send { replies, .. } => replies.iter().map(|r| r.body().chars().take(30).collect()).collect(),
            OutboundJob::MarkRead { .. } => Vec::new(),
        })
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    let stored = app.backend.conversations().load(&user()).await.unwrap().unwrap();
    assert_eq!(stored.stored.state.step, "document", "the late 'I don't agree' did not undo the consent");
    let audit = app.backend.conversations().audit(&user(), 100).await.unwrap();
    assert!(audit.last().unwrap().effects.iter().any(|e| e.contains("recorded, not acted upon")), "{audit:?}");
});

async fn sim_messages(app: &TestApp, at_least: usize) -> Vec<serde_json::Value> {
    let started = Instant::now();
    loop {
        let messages: Vec<serde_json::Value> = app.sim_get("/messages").await.json().await.unwrap();
        if messages.len() >= at_least || started.elapsed() > Duration::from_secs(10) {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

on_both_backends!(a_replayed_fixture_gets_the_bot_answer_through_the_simulator, |backend, name| async move {
    let app = spawn_running_app(backend, name).await;
    assert_eq!(app.post_signed(fixture("message_text.json")).await.status(), 200);
    let messages = sim_messages(&app, 1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let body = &messages[0]["body"];
    assert_eq!(body["to"], "5215512345678");
    assert_eq!(body["type"], "interactive");
    assert_eq!(body["interactive"]["type"], "button");
    let ids: Vec<&str> = body["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["reply"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["lang_es", "lang_pt", "lang_en"]);

    // A user with a username and no phone number is answered with `recipient`.
    assert_eq!(app.post_signed(fixture("message_username_user.json")).await.status(), 200);
    let messages = sim_messages(&app, 2).await;
    let to_user = messages.iter().find(|m| m["body"].get("recipient").is_some()).expect("a message by recipient");
    assert!(to_user["body"]["recipient"].as_str().unwrap().starts_with("CO."));
    assert!(to_user["body"].get("to").is_none());
    // The counter moves right after Meta's answer; give the worker a moment.
    let started = Instant::now();
    let series = "wa_onboard_messages_sent_total{type=\"buttons\"}";
    while metric(&app.metrics().await, series) < 2.0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(metric(&app.metrics().await, series), 2.0);
});

#[tokio::test]
async fn outside_the_24_hour_window_the_reengagement_template_goes_out_instead() {
    for (template, expect_template) in [(Some("kyc_resume:es_MX"), true), (None, false)] {
        let mut extra = vec![];
        if let Some(t) = template {
            extra.push(("WHATSAPP_REENGAGE_TEMPLATE", t));
        }
        // No workers: the test runs the jobs, so the outcome is there as soon as they ran.
        let app = spawn_stepped_app(&extra).await;
        let sim = app.sim.clone().unwrap();
        sim.fail_on(wa_onboard::sim::Endpoint::Messages, wa_onboard::sim::Failure::WindowClosed);
        assert_eq!(app.post_signed(fixture("message_text.json")).await.status(), 200);
        assert!(app.run_pending_jobs().await >= 2, "the inbound message and its replies ran");
        let sent = sim.messages();
        if expect_template {
            assert_eq!(sent.len(), 1, "{sent:?}");
            assert_eq!(sent[0].kind, "template");
            assert_eq!(sent[0].body["template"]["name"], "kyc_resume");
            assert_eq!(sent[0].body["template"]["language"]["code"], "es_MX");
        } else {
            let series = "wa_onboard_messages_undeliverable_total{reason=\"permanent\"}";
            assert_eq!(metric(&app.metrics().await, series), 1.0);
            assert!(sent.is_empty(), "nothing else is sent: {sent:?}");
        }
    }
}

#[tokio::test]
async fn an_expired_access_token_stops_sending_and_says_so_in_readyz_and_metrics() {
    let app = spawn_stepped_app(&[]).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    let sim = app.sim.clone().unwrap();
    sim.fail_on(wa_onboard::sim::Endpoint::Messages, wa_onboard::sim::Failure::TokenExpired);
    assert_eq!(app.post_signed(fixture("message_text.json")).await.status(), 200);
    app.run_pending_jobs().await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503, "readyz reports the expired token");
    assert!(ready.text().await.unwrap().contains("access token expired"));
    assert_eq!(metric(&app.metrics().await, "wa_onboard_whatsapp_token_expired"), 1.0);
    // Nothing more goes out: the next messages are held, not sent, however long the test waits.
    assert_eq!(app.post_signed(fixture("message_reaction.json")).await.status(), 200);
    assert_eq!(app.post_signed(fixture("message_location.json")).await.status(), 200);
    app.run_pending_jobs().await;
    app.advance(Duration::from_secs(600));
    app.run_pending_jobs().await;
    assert!(sim.messages().is_empty(), "{:?}", sim.messages());
}

#[tokio::test]
async fn a_reply_deferred_by_a_failed_send_is_not_overtaken_by_the_next_one() {
    let app = spawn_stepped_app(&[]).await;
    let sim = app.sim.clone().unwrap();
    // Meta fails the first reply (a 500): it is put back to try again in a few seconds.
    sim.fail_on(wa_onboard::sim::Endpoint::Messages, wa_onboard::sim::Failure::ServerError);
    assert_eq!(app.post_signed(text_webhook("wamid.order1", "hola")).await.status(), 200);
    app.run_pending_jobs().await;
    assert!(sim.messages().is_empty(), "the first reply failed");
    // The user writes again at once; the bot's answer to it must wait for the first reply.
    assert_eq!(app.post_signed(text_webhook("wamid.order2", "¿hola?")).await.status(), 200);
    app.run_pending_jobs().await;
    assert!(sim.messages().is_empty(), "the second answer waits: {:?}", sim.messages());
    for _ in 0..3 {
        app.advance(Duration::from_secs(30));
        app.run_pending_jobs().await;
    }
    let sent = sim.messages();
    assert!(sent.len() >= 2, "both answers went out: {sent:?}");
    let context =
        |m: &wa_onboard::sim::RecordedMessage| m.body["biz_opaque_callback_data"].as_str().unwrap_or("").to_owned();
    let first_of_second = sent.iter().position(|m| context(m).contains("wamid.order2")).unwrap();
    let last_of_first = sent.iter().rposition(|m| context(m).contains("wamid.order1")).unwrap();
    assert!(
        last_of_first < first_of_second,
        "the first answer came first: {:?}",
        sent.iter().map(context).collect::<Vec<_>>()
    );
    assert_eq!(sent.iter().map(context).collect::<std::collections::HashSet<_>>().len(), sent.len(), "none twice");
}

#[tokio::test]
async fn metrics_show_each_queues_backlog() {
    let app = spawn_stepped_app(&[]).await;
    assert_eq!(app.post_signed(text_webhook("wamid.backlog1", "hola")).await.status(), 200);
    assert_eq!(app.post_signed(text_webhook("wamid.backlog2", "hola")).await.status(), 200);
    let series = |queue: &str, state: &str| format!("wa_onboard_queue_jobs{{queue=\"{queue}\",state=\"{state}\"}}");
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, &series("inbound", "due")), 2.0, "two messages wait for a worker");
    assert_eq!(metric(&metrics, &series("outbound", "due")), 0.0);
    app.run_pending_jobs().await;
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, &series("inbound", "due")), 0.0, "the backlog drained");
    // The flow's reminders wait for their time.
    assert!(metric(&metrics, &series("events", "scheduled")) >= 1.0, "{metrics}");
}
