//! A person's rights, through the running bot on both backends (docs/privacy.md): after they confirm stop, and
//! after an operator's erasure, nothing kept anywhere (every Redis key and value under the prefix, or every
//! memory store) holds their phone number, profile name, message text or document number; a second erasure
//! removes nothing and answers the same receipt; the export holds what they sent; a changed audit record is
//! detected; and once the retention periods pass, nothing of theirs is left.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use wa_onboard::demo::card_photo;
use wa_onboard::demo::driver::User;
use wa_onboard::flow::state::UserKey;
use wa_onboard::store::api_tokens::ApiToken;
use wa_onboard::store::audit_chain::Break;

const WAIT: Duration = Duration::from_secs(60);
const NAME: &str = "Valentina Quispe Huamán";
const SECRET_TEXT: &str = "Mi DNI es 30123456, vivo en Av. Corrientes 1234";

/// What must not be left anywhere, with what it is.
fn secrets(phone: &str) -> [(&'static str, String); 5] {
    [
        ("phone number", phone.to_owned()),
        ("profile name", NAME.to_owned()),
        ("surname", "Quispe".to_owned()),
        ("document number", "30123456".to_owned()),
        ("message text", "Corrientes".to_owned()),
    ]
}

fn key(phone: &str) -> UserKey {
    UserKey { phone_number_id: wa_onboard::sim::SIM_PHONE_NUMBER_ID.into(), user: phone.into() }
}

/// Every byte kept: on Redis each key under the app's prefix with its value, read by type; in memory, the dump
/// of every store.
async fn everything_kept(app: &TestApp) -> String {
    if let Some(dump) = app.backend.memory_dump() {
        return dump;
    }
    let prefix = &app.redis.as_ref().expect("a Redis app").prefix;
    let mut conn = redis_conn().await;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await.unwrap();
    let mut all = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.unwrap();
        let read = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).clone(),
            "hash" => redis::cmd("HGETALL").arg(&key).clone(),
            "list" => redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).clone(),
            "set" => redis::cmd("SMEMBERS").arg(&key).clone(),
            "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).clone(),
            "stream" => redis::cmd("XRANGE").arg(&key).arg("-").arg("+").clone(),
            _ => continue, // gone since KEYS
        };
        let value: redis::Value = read.query_async(&mut conn).await.unwrap_or(redis::Value::Nil);
        all.push_str(&format!("{key} = {}\n", flatten(&value)));
    }
    all
}

fn flatten(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::Array(items) | redis::Value::Set(items) => {
            items.iter().map(flatten).collect::<Vec<_>>().join(" ")
        }
        redis::Value::Map(pairs) => pairs.iter().map(|(k, v)| format!("{} {}", flatten(k), flatten(v))).collect(),
        redis::Value::SimpleString(s) => s.clone(),
        redis::Value::Int(n) => n.to_string(),
        _ => String::new(),
    }
}

/// The lines of `kept` that hold one of the secrets, by what they are.
fn leaks(kept: &str, phone: &str) -> Vec<String> {
    secrets(phone)
        .iter()
        .flat_map(|(what, secret)| {
            kept.lines().filter(|l| l.contains(secret.as_str())).map(move |l| format!("{what}: {l}"))
        })
        .collect()
}

/// Waits until nothing kept names the person (the erasure on stop runs in the background).
async fn until_no_trace(app: &TestApp, phone: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = leaks(&everything_kept(app).await, phone);
        if found.is_empty() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "still kept:\n{}", found.join("\n"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A user who consents, writes their document number and address where a choice was asked, picks the
/// Argentinian DNI and sends the front of it: what they sent is kept everywhere it is used.
async fn user_midway(app: &TestApp, phone: &str) -> User {
    let sim = app.sim.clone().unwrap();
    let mut user = User::new(NAME, phone, &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim);
    user.says("Hola").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("lang_es", "Español").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("consent_accept", "Acepto").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.says(SECRET_TEXT).await.unwrap();
    // Not a choice: the step's `unexpected` text and the list again (both awaited, or the next wait takes one).
    let mut got = 0;
    while got < 2 {
        got += user.expect_replies(2 - got, WAIT).await.unwrap().len();
    }
    user.taps("doc_ar_dni", "DNI (Argentina)").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.sends_photo("front-of-the-dni", card_photo(false), "front").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user
}

async fn api_token(app: &TestApp) -> String {
    let (token, hash) = wa_onboard::api::auth::new_token();
    let record = ApiToken { name: "dpo".into(), hash, created_at: 1 };
    assert!(app.backend.api_tokens().add(&record).await.unwrap());
    token
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

on_both_backends!(a_user_who_stops_leaves_no_trace_but_a_tombstone, |backend, name| async move {
    let app = spawn_running_app(backend, name).await;
    let phone = "5491187650001";
    let mut user = user_midway(&app, phone).await;
    let before = everything_kept(&app).await;
    assert!(!leaks(&before, phone).is_empty(), "what they sent is kept while they onboard");
    let conversation = app.backend.conversations().load(&key(phone)).await.unwrap().unwrap().stored.state;

    user.says("salir").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("stop_yes", "Sí, terminar").await.unwrap();
    let goodbye = user.expect_replies(1, WAIT).await.unwrap();
    assert!(wa_onboard::demo::driver::describe(&goodbye[0]).contains("borra"), "{goodbye:?}");

    until_no_trace(&app, phone).await;
    let conversations = app.backend.conversations();
    assert!(conversations.load(&key(phone)).await.unwrap().is_none());
    assert!(conversations.messages(&key(phone)).await.unwrap().is_empty());
    let tombstone = conversations.tombstone(&conversation.conversation_id).await.unwrap().expect("a tombstone");
    assert_eq!((tombstone.outcome.as_str(), tombstone.erased_by.as_str()), ("erased", "user"));
    assert_eq!(tombstone.outcome_before.as_deref(), Some("stopped"));
    assert_eq!(tombstone.flow_id, "kyc_latam");
    assert!(tombstone.audit_head.is_some_and(|h| h.seq > 5), "the erased trail is attested by its head");
    // The conversation is gone for agents too.
    assert_eq!(conversations.user_of(&conversation.conversation_id).await.unwrap(), None);
});

on_both_backends!(an_operator_erases_once_and_a_second_erasure_removes_nothing, |backend, name| async move {
    let app = spawn_running_app(backend, name).await;
    let token = api_token(&app).await;
    let phone = "5491187650002";
    let _user = user_midway(&app, phone).await;
    let path = format!("/api/v1/users/{phone}");
    assert_eq!(call(&app, reqwest::Method::DELETE, &path, None).await.0, 401, "only with a token");

    // Access first: the export holds what they sent, their fields and their photo.
    let (status, export) = call(&app, reqwest::Method::GET, &format!("{path}/export"), Some(&token)).await;
    assert_eq!(status, 200, "{export}");
    let sent: Vec<&str> = export["messages"].as_array().unwrap().iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(sent.contains(&SECRET_TEXT), "{sent:?}");
    assert_eq!(export["conversation"]["vars"]["document"], "ar_dni", "{export:#}");
    assert_eq!(export["photos"].as_array().unwrap().len(), 1, "{export:#}");
    assert!(export["photos"][0].get("base64").is_none(), "photos only on request");
    assert_eq!(export["audit_verification"]["breaks"], serde_json::json!([]));
    assert!(export["audit"].as_array().unwrap().len() > 5);
    let (_, with_photos) = call(&app, reqwest::Method::GET, &format!("{path}/export?photos=true"), Some(&token)).await;
    assert!(with_photos["photos"][0]["base64"].as_str().is_some_and(|b| b.len() > 10_000));

    let (status, receipt) = call(&app, reqwest::Method::DELETE, &path, Some(&token)).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["erased_by"], "api:dpo");
    assert_eq!(receipt["user"], "*********0002");
    let removed = &receipt["removed"];
    assert_eq!(removed["states"], 1, "{receipt:#}");
    assert_eq!(removed["photos"], 1, "{receipt:#}");
    assert!(removed["messages"].as_u64().unwrap() >= 6, "{receipt:#}");
    assert!(removed["audit_records"].as_u64().unwrap() >= 6, "{receipt:#}");
    assert_eq!(receipt["conversations"].as_array().unwrap().len(), 1);
    let kept = everything_kept(&app).await;
    let found = leaks(&kept, phone);
    assert!(found.is_empty(), "still kept after the erasure:\n{}", found.join("\n"));

    // Again: the same receipt shape, nothing removed.
    let (status, again) = call(&app, reqwest::Method::DELETE, &path, Some(&token)).await;
    assert_eq!(status, 200);
    let shape = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(shape(&again), shape(&receipt));
    assert_eq!(shape(&again["removed"]), shape(&receipt["removed"]));
    assert!(again["removed"].as_object().unwrap().values().all(|n| n == 0), "{again:#}");
    assert_eq!(again["conversations"], serde_json::json!([]));
    // And nothing is left to export.
    let (_, empty) = call(&app, reqwest::Method::GET, &format!("{path}/export"), Some(&token)).await;
    assert_eq!((empty["conversation"].clone(), empty["messages"].clone()), (Value::Null, serde_json::json!([])));
});

on_both_backends!(a_changed_or_removed_audit_record_is_detected, |backend, name| async move {
    let app = spawn_running_app(backend, name).await;
    let token = api_token(&app).await;
    let phone = "5491187650003";
    let _user = user_midway(&app, phone).await;
    let user = key(phone);
    let cid = app.backend.conversations().load(&user).await.unwrap().unwrap().stored.state.conversation_id;
    let audit_path = format!("/api/v1/conversations/{cid}/audit");
    // The photo check's own record is appended as the check ends, about when the next question goes out.
    let deadline = tokio::time::Instant::now() + WAIT;
    let trail = loop {
        let (status, trail) = call(&app, reqwest::Method::GET, &audit_path, Some(&token)).await;
        assert_eq!(status, 200, "{trail}");
        let records = trail["records"].as_array().unwrap();
        if records.iter().any(|r| r["actor"] == "system:verifier") {
            break trail;
        }
        assert!(tokio::time::Instant::now() < deadline, "no record of the photo check: {trail:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(trail["verification"]["breaks"], serde_json::json!([]), "an untouched trail holds");
    assert!(trail["records"].as_array().unwrap().iter().any(|r| r["actor"] == "user"));
    assert!(!trail.to_string().contains("Corrientes"), "records hold no message text");

    // Someone with access to the store rewrites the third record (the step it went to).
    tamper(&app, &user, 2, |json| *json = json.replacen("\"step_after\":\"", "\"step_after\":\"x", 1)).await;
    let verification =
        wa_onboard::store::audit_chain::verify(&app.backend.conversations().audit_chain(&user).await.unwrap());
    assert!(matches!(verification.breaks[..], [Break::Changed { position: 2, .. }]), "{verification:?}");
    let (_, trail) = call(&app, reqwest::Method::GET, &audit_path, Some(&token)).await;
    assert_eq!(trail["verification"]["breaks"][0]["problem"], "changed", "{trail:#}");
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/conversations/c-nobody/audit", Some(&token)).await.0, 404);
});

/// Changes the audit record at `position` as someone editing the store directly would: in memory through the
/// store's test hook; on Redis by rewriting the stream with one record changed (its stored hash kept).
async fn tamper(app: &TestApp, user: &UserKey, position: usize, change: impl FnOnce(&mut String)) {
    if app.backend.memory_dump().is_some() {
        app.backend.tamper_audit(user, position, change);
        return;
    }
    let prefix = &app.redis.as_ref().unwrap().prefix;
    let stream = format!("{prefix}:audit:{{{}}}", user.as_string());
    let mut conn = redis_conn().await;
    let entries: Vec<(String, Vec<(String, String)>)> =
        redis::cmd("XRANGE").arg(&stream).arg("-").arg("+").query_async(&mut conn).await.unwrap();
    let mut fields: Vec<Vec<(String, String)>> = entries.into_iter().map(|(_, f)| f).collect();
    let record = fields[position].iter_mut().find(|(name, _)| name == "r").unwrap();
    change(&mut record.1);
    let mut pipe = redis::pipe();
    pipe.cmd("DEL").arg(&stream).ignore();
    for entry in fields {
        let mut add = redis::cmd("XADD");
        add.arg(&stream).arg("*");
        for (name, value) in entry {
            add.arg(name).arg(value);
        }
        pipe.add_command(add).ignore();
    }
    pipe.query_async::<()>(&mut conn).await.unwrap();
}

/// The memory bot on a fixed clock: a user who leaves midway is reminded, expires after a day of silence, and
/// two weeks later (`RETENTION_ONBOARDING_DAYS`) nothing of theirs is left in any store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_retention_period_nothing_of_an_abandoned_onboarding_is_left_in_memory() {
    let app = spawn_stepped_app(&[]).await;
    let phone = "5491187650004";
    let sim = app.sim.clone().unwrap();
    let mut user = User::new(NAME, phone, &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim);
    user.says("Hola").await.unwrap();
    app.run_pending_jobs().await;
    user.taps("lang_es", "Español").await.unwrap();
    app.run_pending_jobs().await;
    user.taps("consent_accept", "Acepto").await.unwrap();
    app.run_pending_jobs().await;
    user.says(SECRET_TEXT).await.unwrap();
    app.run_pending_jobs().await;
    user.expect_replies(4, WAIT).await.unwrap();
    assert!(!leaks(&app.backend.memory_dump().unwrap(), phone).is_empty());

    // A day of silence: the reminders go out and the conversation expires (its last activity).
    for _ in 0..50 {
        app.advance(Duration::from_secs(1800));
        app.run_pending_jobs().await;
    }
    let state = app.backend.conversations().load(&key(phone)).await.unwrap().unwrap().stored.state;
    assert!(state.is_ended(), "{:?}", state.phase);
    assert!(!leaks(&app.backend.memory_dump().unwrap(), phone).is_empty(), "kept within the retention period");

    app.advance(Duration::from_secs(13 * 86400));
    assert!(!leaks(&app.backend.memory_dump().unwrap(), phone).is_empty(), "13 days after: still kept");
    app.advance(Duration::from_secs(86400 + 60));
    app.run_pending_jobs().await;
    let kept = app.backend.memory_dump().unwrap();
    let found = leaks(&kept, phone);
    assert!(found.is_empty(), "kept after the retention period:\n{}", found.join("\n"));
    assert_eq!(app.backend.memory_entries(), Some(0), "{kept}");
}

/// On Redis, with retention periods of eight seconds: the conversation's keys (state, audit trail, message log,
/// index) expire by themselves; what still names the user is only their reminders, scheduled within the flow's
/// idle expiry (a day), far inside the real retention period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_conversation_expires_with_its_retention_period() {
    let short = Duration::from_secs(8);
    let retention = wa_onboard::store::retention::Retention {
        onboarding: short,
        decision: short,
        cases: short,
        erasure_record: short,
        funnel: short,
    };
    let (backend, redis) = open_backend(Backend::Redis, "privacy-retention").await;
    let backend = backend.with_retention(retention);
    let app = spawn_app_with(backend, redis, &[("WORKER_POLL_MS", "20")], wa_onboard::app::Workers::Run).await;
    let phone = "5491187650005";
    let _user = user_midway(&app, phone).await;
    let prefix = app.redis.as_ref().unwrap().prefix.clone();
    let conversation_keys = |all: &str| {
        all.lines()
            .filter(|l| {
                ["conv:", "audit:", "msgs:", "convidx:"].iter().any(|room| l.starts_with(&format!("{prefix}:{room}")))
            })
            .count()
    };
    assert_eq!(conversation_keys(&everything_kept(&app).await), 4);
    let mut conn = redis_conn().await;
    for room in ["conv", "audit", "msgs"] {
        let key = format!("{prefix}:{room}:{{{}}}", key(phone).as_string());
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(ttl > 0 && ttl <= 8000, "{key} lives the onboarding retention: {ttl} ms");
    }

    let deadline = tokio::time::Instant::now() + WAIT;
    let kept = loop {
        let kept = everything_kept(&app).await;
        if conversation_keys(&kept) == 0 {
            break kept;
        }
        assert!(tokio::time::Instant::now() < deadline, "not expired:\n{kept}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let now = wa_onboard::clock::Clock::now_secs(&wa_onboard::clock::SystemClock);
    for line in leaks(&kept, phone) {
        assert!(line.contains(":{events") && line.contains("}:data"), "only reminders still name the user: {line}");
    }
    let reminders = app.backend.queue::<wa_onboard::jobs::event::EventJob>("events").pending(100).await.unwrap();
    assert!(!reminders.is_empty());
    let mut scheduled: Vec<(String, f64)> = Vec::new();
    let mut conn = redis_conn().await;
    for index in 0..app.backend.queue_partitions() {
        let partition = wa_onboard::store::redis::queue::partition_name("events", index);
        let some: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(format!("{prefix}:{{{partition}}}:scheduled"))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await
            .unwrap();
        scheduled.extend(some);
    }
    assert!(!scheduled.is_empty());
    assert!(scheduled.iter().all(|(_, at)| (*at as u64) < now + 2 * 86400), "{scheduled:?}");
}

fn cli(prefix: &str, args: &[&str]) -> (i32, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", redis_url())
        .env("REDIS_KEY_PREFIX", prefix)
        .env("QUEUE_PARTITIONS", common::queue_partitions().to_string())
        .env("WHATSAPP_PHONE_NUMBER_ID", wa_onboard::sim::SIM_PHONE_NUMBER_ID)
        .output()
        .expect("the binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.code().unwrap_or(-1), text(&output.stdout), text(&output.stderr))
}

/// The operator's commands on Redis: export, audit verify (before and after a record is changed), erase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_exports_verifies_and_erases_from_the_command_line() {
    let app = spawn_running_app(Backend::Redis, "privacy-cli").await;
    let prefix = app.redis.as_ref().unwrap().prefix.clone();
    let phone = "5491187650006";
    let _user = user_midway(&app, phone).await;

    let (code, out, err) = cli(&prefix, &["export", phone]);
    assert_eq!(code, 0, "{err}");
    let export: Value = serde_json::from_str(&out).unwrap();
    assert!(export["messages"].as_array().unwrap().iter().any(|m| m["content"] == SECRET_TEXT), "{export:#}");

    let (code, _, err) = cli(&prefix, &["audit", "verify", phone]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("holds"), "{err}");
    tamper(&app, &key(phone), 1, |json| *json = json.replacen("\"at\":", "\"at\":1", 1)).await;
    let (code, out, err) = cli(&prefix, &["audit", "verify", phone]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("\"problem\": \"changed\""), "{out}");
    assert!(err.contains("altered"), "{err}");

    let (code, out, err) = cli(&prefix, &["erase", phone, "--by", "dpo@acme.mx"]);
    assert_eq!(code, 0, "{err}");
    let receipt: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(receipt["erased_by"], "operator:dpo@acme.mx");
    assert_eq!(receipt["removed"]["states"], 1);
    let found = leaks(&everything_kept(&app).await, phone);
    assert!(found.is_empty(), "still kept:\n{}", found.join("\n"));
}
