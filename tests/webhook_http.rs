//! Black-box tests of the webhook ingress through HTTP, on both backends.

#[macro_use]
mod common;

use common::*;
use wa_onboard::flow::input::Input;
use wa_onboard::jobs::inbound::InboundEvent;
use wa_onboard::store::KeptKind;
use wa_onboard::webhook::envelope::{Change, Content, Envelope, Interactive, KnownContent, Message, StatusKind};

#[tokio::test]
async fn handshake_echoes_the_challenge_verbatim_when_the_token_matches() {
    let app = spawn_app(Backend::Memory, "handshake").await;
    let challenge = "1158201444";
    let ok = app
        .get(&format!("/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge={challenge}"))
        .await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(ok.text().await.unwrap(), challenge);

    // A challenge that is not a number comes back untouched too.
    let odd =
        app.get(&format!("/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=abc%2Dxyz")).await;
    assert_eq!(odd.text().await.unwrap(), "abc-xyz");

    for query in [
        format!("hub.mode=subscribe&hub.verify_token=wrong&hub.challenge={challenge}"),
        format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge={challenge}"),
        format!("hub.verify_token={VERIFY_TOKEN}&hub.challenge={challenge}"),
        format!("hub.mode=subscribe&hub.challenge={challenge}"),
        format!("hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
    ] {
        let refused = app.get(&format!("/webhook?{query}")).await;
        assert_eq!(refused.status(), 403, "{query}");
    }
}

#[tokio::test]
async fn bad_signatures_get_401_and_change_nothing() {
    let app = spawn_app(Backend::Memory, "signatures").await;
    let body = text_webhook("wamid.sig", "hola");
    let good = wa_onboard::webhook::signature::sign(APP_SECRET.as_bytes(), &body);
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'h').unwrap();
    tampered[at] = b'H';
    let cases: Vec<(&str, Vec<u8>, Option<String>)> = vec![
        ("missing", body.clone(), None),
        ("malformed: no prefix", body.clone(), Some(good.trim_start_matches("sha256=").to_owned())),
        ("malformed: not hex", body.clone(), Some("sha256=not-hex".to_owned())),
        ("wrong secret", body.clone(), Some(wa_onboard::webhook::signature::sign(b"other", &body))),
        ("tampered body", tampered, Some(good.clone())),
    ];
    for (what, body, header) in cases {
        let response = app.post_with_header(body, header.as_deref()).await;
        assert_eq!(response.status(), 401, "{what}");
        assert!(response.text().await.unwrap().contains("X-Hub-Signature-256"), "{what}: says why");
    }
    assert!(app.store.pending_inbound(10).await.unwrap().is_empty(), "nothing was queued");
    assert!(app.store.kept(10).await.unwrap().is_empty(), "nothing was kept");
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "wa_onboard_webhook_signature_failures_total{reason=\"missing\"}"), 1.0);
    assert_eq!(metric(&metrics, "wa_onboard_webhook_signature_failures_total{reason=\"malformed\"}"), 2.0);
    assert_eq!(metric(&metrics, "wa_onboard_webhook_signature_failures_total{reason=\"mismatch\"}"), 2.0);

    // The same body with the right signature goes through.
    assert_eq!(app.post_signed(body).await.status(), 200);
    assert_eq!(app.store.pending_inbound(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn non_ascii_bodies_verify_on_raw_bytes_and_on_the_escaped_form() {
    let app = spawn_app(Backend::Memory, "non-ascii").await;
    let raw = fixture("message_accents_emoji.json");
    assert!(!raw.is_ascii());
    assert_eq!(app.post_signed(raw.clone()).await.status(), 200);

    // Meta documents signing an escaped-unicode form: a signature over that form is accepted for the raw body.
    let text = String::from_utf8(raw.clone()).unwrap().replace("wamid.", "wamid.escaped.");
    let escaped: String = text
        .chars()
        .flat_map(|c| {
            if c.is_ascii() {
                vec![c.to_string()]
            } else {
                c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("\\u{u:04x}")).collect()
            }
        })
        .collect();
    let header = wa_onboard::webhook::signature::sign(APP_SECRET.as_bytes(), escaped.as_bytes());
    assert_eq!(app.post_with_header(text.into_bytes(), Some(&header)).await.status(), 200);

    let jobs = app.store.pending_inbound(10).await.unwrap();
    assert_eq!(jobs.len(), 2);
    match &jobs[0].event {
        InboundEvent::Message { message, contact, .. } => {
            match &message.input {
                Input::Text(body) => {
                    assert_eq!(body, "¿Mañana podré enviar mi cédula? 🙏🇨🇴 Ñandú / São Paulo @ \"José\"")
                }
                other => panic!("expected text, got {other:?}"),
            }
            assert!(contact.is_some());
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn bodies_over_4_mib_get_413_and_change_nothing() {
    let app = spawn_app(Backend::Memory, "too-large").await;
    let padding = "x".repeat(4 * 1024 * 1024);
    let body = text_webhook("wamid.big", &padding);
    let response = app.post_signed(body).await;
    assert_eq!(response.status(), 413);
    assert!(app.store.pending_inbound(10).await.unwrap().is_empty());

    // Just under the limit is fine (Meta sends up to 3 MB).
    let body = text_webhook("wamid.3mb", &"y".repeat(3 * 1024 * 1024));
    assert_eq!(app.post_signed(body).await.status(), 200);
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_envelope_is_kept_and_acknowledged() {
    let app = spawn_app(Backend::Memory, "invalid-envelope").await;
    for body in [&b"{\"object\":\"page\",\"entry\":[]}"[..], b"not json at all"] {
        let response = app.post_signed(body.to_vec()).await;
        assert_eq!(response.status(), 200, "retrying cannot help, so Meta must not retry");
    }
    let kept = app.store.kept(10).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|k| k.kind == KeptKind::InvalidEnvelope));
    assert_eq!(kept[0].body, "not json at all", "newest first, body kept verbatim");
    assert!(app.store.pending_inbound(10).await.unwrap().is_empty());
}

on_both_backends!(
    a_change_without_metadata_is_kept_and_the_messages_beside_it_are_queued,
    |backend, name| async move {
        let app = spawn_app(backend, name).await;
        let mut body: serde_json::Value = serde_json::from_slice(&text_webhook("wamid.beside-1", "hola")).unwrap();
        let good = body["entry"][0]["changes"][0].clone();
        let broken = serde_json::json!({"field": "messages", "value": {"messages": [{"id": "wamid.orphan"}]}});
        body["entry"][0]["changes"] = serde_json::json!([broken, good]);
        let response = app.post_signed(serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(response.status(), 200);
        let pending = app.store.pending_inbound(10).await.unwrap();
        assert_eq!(pending.len(), 1, "the valid message is queued: {pending:?}");
        let kept = app.store.kept(10).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].kind, KeptKind::InvalidItem);
        assert!(kept[0].reason.contains("metadata"), "{}", kept[0].reason);
        assert!(kept[0].body.contains("wamid.orphan"));
    }
);

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app(Backend::Redis, "ops").await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert!(ready.text().await.unwrap().contains("redis"));
    app.post_signed(fixture("message_image.json")).await;
    app.post_signed(fixture("message_image.json")).await;
    app.post_signed(fixture("status_read.json")).await;
    app.post_signed(b"{}".to_vec()).await;
    app.post_with_header(b"{}".to_vec(), None).await;
    let metrics = app.metrics().await;
    for (series, value) in [
        ("wa_onboard_webhooks_received_total{outcome=\"accepted\"}", 3.0),
        ("wa_onboard_webhooks_received_total{outcome=\"invalid_envelope\"}", 1.0),
        ("wa_onboard_webhooks_received_total{outcome=\"bad_signature\"}", 1.0),
        ("wa_onboard_messages_enqueued_total{type=\"image\"}", 1.0),
        ("wa_onboard_webhook_duplicates_total", 1.0),
        ("wa_onboard_statuses_recorded_total{status=\"read\"}", 1.0),
        ("wa_onboard_store_up", 1.0),
    ] {
        assert_eq!(metric(&metrics, series), value, "{series} in\n{metrics}");
    }
    assert!(metrics.contains("wa_onboard_http_request_duration_seconds_bucket{"), "{metrics}");
    assert!(metrics.contains("route=\"/webhook\""));
}

/// What each fixture must become: the labels of its jobs (message types, `status:<kind>`) and kept kinds.
fn expectations() -> Vec<(&'static str, Vec<&'static str>, Vec<KeptKind>)> {
    use KeptKind::OtherField;
    vec![
        (
            "batch_multi.json",
            vec!["text", "image", "interactive", "status:delivered", "status:read", "text", "status:sent"],
            vec![],
        ),
        ("field_account_update.json", vec![], vec![OtherField]),
        ("field_template_status.json", vec![], vec![OtherField]),
        ("message_accents_emoji.json", vec!["text"], vec![]),
        ("message_audio_voice.json", vec!["audio"], vec![]),
        ("message_button.json", vec!["button"], vec![]),
        ("message_contacts.json", vec!["contacts"], vec![]),
        ("message_document.json", vec!["document"], vec![]),
        ("message_edit.json", vec!["edit"], vec![]),
        ("message_image.json", vec!["image"], vec![]),
        ("message_image_hex_sha.json", vec!["image"], vec![]),
        ("message_interactive_button_reply.json", vec!["interactive"], vec![]),
        ("message_interactive_list_reply.json", vec!["interactive"], vec![]),
        ("message_interactive_nfm_reply.json", vec!["interactive"], vec![]),
        ("message_location.json", vec!["location"], vec![]),
        ("message_order.json", vec!["order"], vec![]),
        ("message_reaction.json", vec!["reaction"], vec![]),
        ("message_reaction_removed.json", vec!["reaction"], vec![]),
        ("message_revoke.json", vec!["revoke"], vec![]),
        ("message_sticker.json", vec!["sticker"], vec![]),
        ("message_system.json", vec!["system"], vec![]),
        ("message_text.json", vec!["text"], vec![]),
        ("message_text_reply.json", vec!["text"], vec![]),
        ("message_unknown_type.json", vec!["poll_vote"], vec![]),
        ("message_unsupported.json", vec!["unsupported"], vec![]),
        ("message_username_user.json", vec!["text"], vec![]),
        ("message_video.json", vec!["video"], vec![]),
        ("status_delivered.json", vec!["status:delivered"], vec![]),
        ("status_failed.json", vec!["status:failed"], vec![]),
        ("status_played.json", vec!["status:played"], vec![]),
        ("status_read.json", vec!["status:read"], vec![]),
        ("status_sent.json", vec!["status:sent"], vec![]),
    ]
}

/// The typed variant each fixture's messages must parse into, beyond their type label (the webhook's model of
/// Meta's payloads; the jobs carry what the conversation makes of them, see [`check_job`]).
fn check_parsed(file: &str, body: &[u8]) {
    let envelope = Envelope::parse(body).unwrap();
    for change in envelope.entries.into_iter().flat_map(|e| e.changes) {
        if let Change::Messages(value) = change {
            for message in &value.messages {
                check_message(file, message);
            }
        }
    }
}

fn check_message(file: &str, message: &Message) {
    let known = match &message.content {
        Content::Known(known) => known,
        Content::Unknown { kind, raw } => {
            assert_eq!(file, "message_unknown_type.json", "{file} fell back to unknown type {kind}: {raw:?}");
            assert!(raw.contains_key("poll_vote"), "the raw body is kept");
            return;
        }
    };
    match (file, known) {
        ("message_reaction_removed.json", KnownContent::Reaction { reaction }) => assert!(reaction.is_removal()),
        ("message_reaction.json", KnownContent::Reaction { reaction }) => assert!(!reaction.is_removal()),
        ("message_interactive_button_reply.json", KnownContent::Interactive { interactive }) => {
            assert!(
                matches!(interactive, Interactive::ButtonReply { button_reply } if button_reply.id == "consent_accept")
            )
        }
        ("message_interactive_list_reply.json", KnownContent::Interactive { interactive }) => {
            assert!(matches!(interactive, Interactive::ListReply { list_reply } if list_reply.id == "doc_mx_ine"))
        }
        ("message_interactive_nfm_reply.json", KnownContent::Interactive { interactive }) => match interactive {
            Interactive::NfmReply { nfm_reply } => {
                let inner: serde_json::Value = serde_json::from_str(&nfm_reply.response_json).unwrap();
                assert!(inner.get("flow_token").is_some());
            }
            other => panic!("{other:?}"),
        },
        ("message_username_user.json", KnownContent::Text { .. }) => {
            assert_eq!(message.from, None, "a username user has no phone number");
            assert!(message.from_user_id.as_deref().is_some_and(|id| id.starts_with("CO.")));
        }
        ("message_image.json", KnownContent::Image { image }) => {
            assert!(image.url.is_some() && image.caption.is_some() && image.sha256.is_some())
        }
        ("message_audio_voice.json", KnownContent::Audio { audio }) => assert_eq!(audio.voice, Some(true)),
        ("message_unsupported.json", KnownContent::Unsupported {}) => assert_eq!(message.errors[0].code, 131051),
        ("message_text_reply.json", KnownContent::Text { .. }) => assert!(message.context.is_some()),
        _ => {}
    }
}

/// What each job carries: a status as Meta sent it, a message as the conversation will see it.
fn check_job(file: &str, event: &InboundEvent) {
    let (message, user_id, raw) = match event {
        InboundEvent::Message { message, user_id, raw, .. } => (message, user_id, raw),
        InboundEvent::Status { status, .. } => {
            if file == "status_failed.json" {
                assert_eq!(status.status, StatusKind::Failed);
                assert_eq!(status.errors[0].code, 131047);
            }
            return;
        }
    };
    assert!(raw.is_none() || file == "message_unknown_type.json", "{file}: only an unknown type is kept raw");
    let input = &message.input;
    let choice = |id: &str| Input::Choice(id.into());
    match file {
        "message_interactive_button_reply.json" => assert_eq!(*input, choice("consent_accept")),
        "message_interactive_list_reply.json" => assert_eq!(*input, choice("doc_mx_ine")),
        "message_button.json" => assert_eq!(*input, choice("RESUME_ONBOARDING")),
        "message_interactive_nfm_reply.json" => assert_eq!(*input, Input::Other("flow reply".into())),
        "message_username_user.json" => {
            assert!(matches!(input, Input::Text(_)), "{input:?}");
            assert_eq!(message.phone, None, "a username user has no phone number");
            assert!(user_id.as_deref().is_some_and(|id| id.starts_with("CO.")));
        }
        "message_image.json" | "message_image_hex_sha.json" | "message_document.json" => match input {
            Input::Media(media) => {
                assert_eq!(media.message_id, message.id);
                assert_eq!(media.at, message.timestamp);
                assert_eq!(media.mime_type.starts_with("image/"), file != "message_document.json", "{media:?}");
                assert!(file != "message_image.json" || media.sha256.is_some());
            }
            other => panic!("{file}: expected media, got {other:?}"),
        },
        "message_reaction.json" | "message_reaction_removed.json" => {
            assert_eq!(*input, Input::Ignorable("reaction".into()))
        }
        "message_revoke.json" | "message_edit.json" | "message_system.json" => {
            assert!(matches!(input, Input::Ignorable(kind) if file.contains(kind.as_str())), "{file}: {input:?}")
        }
        // The flows use none of these: the bot says what it needs instead.
        "message_location.json"
        | "message_sticker.json"
        | "message_audio_voice.json"
        | "message_video.json"
        | "message_contacts.json"
        | "message_order.json"
        | "message_unsupported.json" => {
            assert!(matches!(input, Input::Other(kind) if file.contains(kind.as_str())), "{file}: {input:?}")
        }
        "message_unknown_type.json" => {
            assert_eq!(*input, Input::Other("poll_vote".into()));
            assert!(raw.as_ref().is_some_and(|raw| raw.contains_key("poll_vote")), "the raw body is kept");
        }
        "message_text.json" | "message_text_reply.json" | "message_accents_emoji.json" => {
            assert!(matches!(input, Input::Text(_)), "{file}: {input:?}")
        }
        _ => {} // a batch mixes the types above
    }
}

on_both_backends!(every_fixture_is_accepted_and_parsed_into_its_variant, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    let expectations = expectations();
    let files = wa_onboard::replay::fixture_files(&fixtures_dir()).unwrap();
    assert_eq!(files.len(), expectations.len(), "every fixture has an expectation");
    let mut seen_jobs = std::collections::HashSet::new();
    let mut seen_kept = 0;
    for (file, labels, kept_kinds) in expectations {
        let body = fixture(file);
        check_parsed(file, &body);
        let response = app.post_signed(body).await;
        assert_eq!(response.status(), 200, "{file}");
        let jobs = app.store.pending_inbound(1000).await.unwrap();
        let new_jobs: Vec<_> = jobs.iter().filter(|j| !seen_jobs.contains(&j.key)).collect();
        // Jobs of one batch carry no order between them (the runner orders by message timestamp).
        let mut got: Vec<String> = new_jobs.iter().map(|j| j.event.label()).collect();
        let mut labels = labels;
        got.sort();
        labels.sort();
        assert_eq!(got, labels, "{file}");
        for job in &new_jobs {
            check_job(file, &job.event);
        }
        seen_jobs.extend(jobs.iter().map(|j| j.key.clone()));
        let kept = app.store.kept(1000).await.unwrap();
        let new_kept: Vec<KeptKind> = kept[..kept.len() - seen_kept].iter().map(|k| k.kind).collect();
        assert_eq!(new_kept, kept_kinds, "{file}");
        seen_kept = kept.len();
    }
});

on_both_backends!(a_redelivered_message_gives_exactly_one_job, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    let body = fixture("batch_multi.json");
    for _ in 0..3 {
        assert_eq!(app.post_signed(body.clone()).await.status(), 200);
    }
    assert_eq!(app.store.pending_inbound(100).await.unwrap().len(), 7);

    let single = text_webhook("wamid.concurrent", "¿hola?");
    let posts = (0..20).map(|_| app.post_signed(single.clone()));
    let statuses: Vec<u16> = futures::future::join_all(posts).await.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "every delivery is acknowledged: {statuses:?}");
    let jobs = app.store.pending_inbound(100).await.unwrap();
    assert_eq!(jobs.iter().filter(|j| j.key.as_str().ends_with("wamid.concurrent")).count(), 1);
    assert_eq!(jobs.len(), 8);
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "wa_onboard_webhook_duplicates_total"), 14.0 + 19.0);
});

#[tokio::test]
async fn redis_unreachable_gives_503_and_writes_no_claim() {
    let proxy = CuttableProxy::start("127.0.0.1:6379").await;
    let (backend, keys) = open_backend_at(Backend::Redis, "unreachable", &proxy.url).await;
    let keys = keys.unwrap();
    let app = spawn_app_with(backend, None, &[], wa_onboard::app::Workers::None).await;
    assert_eq!(app.post_signed(text_webhook("wamid.before", "antes")).await.status(), 200);
    let keys_before = keys.keys();

    proxy.cut();
    let body = text_webhook("wamid.during-outage", "durante");
    let response = app.post_signed(body.clone()).await;
    assert_eq!(response.status(), 503, "Meta must deliver again");
    assert_eq!(app.get("/readyz").await.status(), 503);
    let keys_after = keys.keys();
    assert_eq!(keys_before.len(), keys_after.len(), "no claim or job written: {keys_after:?}");
    assert!(!keys_after.iter().any(|k| k.contains("wamid.during-outage")));
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "wa_onboard_webhooks_received_total{outcome=\"unavailable\"}"), 1.0);
    assert_eq!(metric(&metrics, "wa_onboard_store_up"), 0.0);
}
