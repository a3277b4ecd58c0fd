//! Faults an operator meets, on the real binary: a Redis of the test's own that stops, freezes and comes back,
//! a worker killed with SIGKILL and restarted at once, a batch of 10,000 messages. Every message acknowledged
//! (200) is answered exactly once, counted in the log of a separate Graph API simulator process (after a SIGKILL
//! too: a send cut short is settled by Meta's status of it, see the test).

mod common;
#[path = "support/processes.rs"]
mod processes;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use processes::{PrivateRedis, Service, free_port};
use serde_json::{Value, json};
use wa_onboard::webhook::signature;

const TOKEN: &str = "fault-test-token";
const PHONE_NUMBER_ID: &str = "106540352242922";
/// Jobs each worker runs at once.
const MEDIA_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Rig {
    redis: PrivateRedis,
    // Kept so that the simulator runs as long as the rig.
    _sim: Service,
    sim_url: String,
    port: u16,
    client: reqwest::Client,
}

impl Rig {
    async fn start() -> Self {
        Self::start_sim(false).await
    }

    /// A rig whose simulator, like Meta, follows each accepted message with its signed status webhook.
    async fn with_statuses() -> Self {
        Self::start_sim(true).await
    }

    async fn start_sim(statuses: bool) -> Self {
        let redis = PrivateRedis::start();
        let (sim_port, port) = (free_port(), free_port());
        let sim_url = format!("http://127.0.0.1:{sim_port}");
        let bind = format!("127.0.0.1:{sim_port}");
        let webhook = format!("http://127.0.0.1:{port}/webhook");
        let mut args = vec!["sim", "--bind", &bind];
        if statuses {
            args.extend(["--status-webhook", &webhook]);
        }
        let mut sim = Service::start(
            "the simulator",
            &args,
            &[
                ("WHATSAPP_ACCESS_TOKEN".into(), TOKEN.into()),
                ("WHATSAPP_APP_SECRET".into(), common::APP_SECRET.into()),
            ],
        );
        // Generous: one webhook of 10,000 messages takes seconds to record in a debug build.
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{sim_url}/messages")).bearer_auth(TOKEN).send().await.is_err() {
            assert!(Instant::now() < deadline, "the simulator did not start");
            if let Ok(Some(status)) = sim.child.try_wait() {
                panic!("the simulator exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { redis, _sim: sim, sim_url, port, client }
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("WHATSAPP_APP_SECRET", common::APP_SECRET),
            ("WHATSAPP_VERIFY_TOKEN", common::VERIFY_TOKEN),
            ("WHATSAPP_ACCESS_TOKEN", TOKEN),
            ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
            ("MEDIA_ENCRYPTION_KEY", MEDIA_KEY),
            ("REDIS_KEY_PREFIX", "fault"),
            ("WORKER_NAME", "fault-worker"),
            ("WORKER_POLL_MS", "50"),
            ("WHATSAPP_SEND_RATE", "1000"),
            ("WORKER_CONCURRENCY", "4"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain([
            ("GRAPH_API_URL".to_owned(), self.sim_url.clone()),
            ("REDIS_URL".to_owned(), self.redis.url()),
            ("BIND_ADDR".to_owned(), format!("127.0.0.1:{}", self.port)),
        ])
        .collect()
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn serve(&self, args: &[&str]) -> Service {
        self.serve_with(args, &[]).await
    }

    /// `serve ARGS` with some settings changed.
    async fn serve_with(&self, args: &[&str], changed: &[(&str, String)]) -> Service {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        let mut env = self.env();
        for (key, value) in changed {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), value.clone()));
        }
        let mut service = Service::start("serve", &all, &env);
        service.wait_healthy(&format!("{}/healthz", self.base())).await;
        service
    }

    /// POSTs a signed webhook until it is acknowledged with 200, as Meta redelivers (up to `limit`).
    async fn deliver(&self, body: Vec<u8>, limit: Duration) {
        let header = signature::sign(common::APP_SECRET.as_bytes(), &body);
        let deadline = Instant::now() + limit;
        loop {
            let sent = self
                .client
                .post(format!("{}/webhook", self.base()))
                .header("content-type", "application/json")
                .header("X-Hub-Signature-256", &header)
                .body(body.clone())
                .send()
                .await;
            let last = match sent {
                Ok(r) if r.status() == 200 => return,
                Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                Err(e) => e.to_string(),
            };
            assert!(Instant::now() < deadline, "the webhook did not acknowledge within {limit:?}; last: {last}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The bodies the simulator recorded for `to`, in the order it received them.
    async fn bodies_to(&self, to: &str) -> Vec<Value> {
        let answer = self.client.get(format!("{}/messages", self.sim_url)).bearer_auth(TOKEN).send().await.unwrap();
        let messages: Vec<Value> = answer.json().await.unwrap();
        messages.into_iter().filter(|m| m["to"] == to).map(|m| m["body"].clone()).collect()
    }

    /// Messages the simulator recorded, per recipient.
    async fn sent_per_user(&self) -> HashMap<String, usize> {
        let Ok(answer) = self.client.get(format!("{}/messages", self.sim_url)).bearer_auth(TOKEN).send().await else {
            return HashMap::new();
        };
        let messages: Vec<Value> = answer.json().await.unwrap_or_default();
        let mut per_user = HashMap::new();
        for message in messages {
            if let Some(to) = message["to"].as_str() {
                *per_user.entry(to.to_owned()).or_insert(0) += 1;
            }
        }
        per_user
    }

    /// Waits until each of `users` has at least `each` messages (up to `limit`), then a little longer so that a
    /// duplicate would show; answers the counts of `users`.
    async fn answered(&self, users: &[String], each: usize, limit: Duration) -> HashMap<String, usize> {
        let deadline = Instant::now() + limit;
        loop {
            let sent = self.sent_per_user().await;
            let waiting = users.iter().filter(|u| sent.get(*u).copied().unwrap_or(0) < each).count();
            if waiting == 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let sent = self.sent_per_user().await;
                return users.iter().map(|u| (u.clone(), sent.get(u).copied().unwrap_or(0))).collect();
            }
            if Instant::now() >= deadline {
                let missing: Vec<_> =
                    users.iter().filter(|u| sent.get(*u).copied().unwrap_or(0) < each).take(5).collect();
                panic!("{waiting} of {} users still unanswered after {limit:?}, e.g. {missing:?}", users.len());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A user's phone number, distinct per test and index.
fn user(test: u32, n: u32) -> String {
    format!("52155{test:02}{n:06}")
}

fn message(from: &str, id: &str) -> Value {
    json!({"from": from, "id": id, "timestamp": "1795000000", "type": "text", "text": {"body": "hola"}})
}

/// One webhook carrying one "hola" from each of `users`.
fn batch(users: &[String]) -> Vec<u8> {
    let contacts: Vec<Value> = users.iter().map(|u| json!({"profile": {"name": "Ana"}, "wa_id": u})).collect();
    let messages: Vec<Value> = users.iter().map(|u| message(u, &format!("wamid.fault-{u}"))).collect();
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": contacts, "messages": messages}}]}]
    }))
    .unwrap()
}

/// The replies the bot sends to a first "hola": measured on users answered while nothing is wrong.
async fn first_reply_count(rig: &Rig, users: &[String]) -> usize {
    for u in users {
        rig.deliver(batch(std::slice::from_ref(u)), Duration::from_secs(10)).await;
    }
    let counts = rig.answered(users, 1, Duration::from_secs(60)).await;
    let each = counts[&users[0]];
    assert!(counts.values().all(|&c| c == each), "every user gets the same first reply: {counts:?}");
    each
}

fn assert_exactly(counts: &HashMap<String, usize>, each: usize) {
    let wrong: Vec<_> = counts.iter().filter(|(_, c)| **c != each).collect();
    assert!(wrong.is_empty(), "users not answered exactly once ({each} messages each): {wrong:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_stops_or_freezes_loses_no_message_and_needs_no_restart() {
    let mut rig = Rig::start().await;
    let serve = rig.serve(&[]).await;
    let before: Vec<String> = (0..5).map(|n| user(1, n)).collect();
    let each = first_reply_count(&rig, &before).await;

    // Redis stopped for 5 s: messages sent meanwhile are refused (503) and redelivered until acknowledged.
    rig.redis.stop();
    let during: Vec<String> = (10..20).map(|n| user(1, n)).collect();
    let outage_start = Instant::now();
    let mut attempts = Vec::new();
    for u in &during {
        let header = signature::sign(common::APP_SECRET.as_bytes(), &batch(std::slice::from_ref(u)));
        let answer = rig
            .client
            .post(format!("{}/webhook", rig.base()))
            .header("X-Hub-Signature-256", header)
            .body(batch(std::slice::from_ref(u)))
            .send()
            .await;
        attempts.push(answer.map(|r| r.status().as_u16()).unwrap_or(0));
    }
    assert!(attempts.iter().all(|&s| s != 200), "nothing is acknowledged while Redis is down: {attempts:?}");
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(outage_start.elapsed())).await;
    rig.redis.restart();
    for u in &during {
        rig.deliver(batch(std::slice::from_ref(u)), Duration::from_secs(30)).await;
    }
    let after: Vec<String> = (20..30).map(|n| user(1, n)).collect();
    for u in &after {
        rig.deliver(batch(std::slice::from_ref(u)), Duration::from_secs(30)).await;
    }
    assert_exactly(&rig.answered(&[&during[..], &after[..]].concat(), each, Duration::from_secs(60)).await, each);

    // Redis frozen (SIGSTOP) for 5 s: connections hang instead of failing.
    rig.redis.freeze();
    let frozen: Vec<String> = (30..40).map(|n| user(1, n)).collect();
    let thaw = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        rig.redis.thaw();
    };
    let redeliver = async {
        for u in &frozen {
            rig.deliver(batch(std::slice::from_ref(u)), Duration::from_secs(40)).await;
        }
    };
    tokio::join!(thaw, redeliver);
    let everyone = [&before[..], &during[..], &after[..], &frozen[..]].concat();
    assert_exactly(&rig.answered(&everyone, each, Duration::from_secs(60)).await, each);
    // Workers come back on their own, each after its back-off (at most 5 s): ready again without a restart.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ready = rig.client.get(format!("{}/readyz", rig.base())).send().await.unwrap();
        if ready.status() == 200 {
            break;
        }
        let text = ready.text().await;
        assert!(std::time::Instant::now() < deadline, "ready again without a restart: {text:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_and_restarted_at_once_answers_everything_once() {
    let rig = Rig::with_statuses().await;
    let _serve = rig.serve(&["--no-workers"]).await;
    let mut worker = Service::start("worker", &["worker"], &rig.env());
    let warmup: Vec<String> = (0..3).map(|n| user(2, n)).collect();
    let each = first_reply_count(&rig, &warmup).await;

    let users: Vec<String> = (100..400).map(|n| user(2, n)).collect();
    rig.deliver(batch(&users), Duration::from_secs(10)).await;
    // Kill it while it works through the batch, and start it again within a second, with the same name.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rig.sent_per_user().await.len() < warmup.len() + 20 {
        assert!(Instant::now() < deadline, "the worker did not start on the batch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.kill9();
    let mut worker = Service::start("worker", &["worker"], &rig.env());
    let counts = rig.answered(&users, each, Duration::from_secs(120)).await;
    // Every user is answered, once: a send that Meta accepted just before the kill, and that the dead process had
    // no time to record, is in doubt for the restarted worker, which waits for Meta's status of it (carrying the
    // send's key back) instead of sending it again.
    assert_exactly(&counts, each);
    worker.terminate();
    assert_eq!(worker.wait_exit(Duration::from_secs(25)), Some(0), "the worker stops cleanly on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_ten_thousand_messages_is_answered() {
    let rig = Rig::start().await;
    let _serve = rig.serve(&[]).await;
    let warmup: Vec<String> = (0..2).map(|n| user(3, n)).collect();
    let each = first_reply_count(&rig, &warmup).await;
    let users: Vec<String> = (1000..11_000).map(|n| user(3, n)).collect();
    rig.deliver(batch(&users), Duration::from_secs(30)).await;
    // A correctness bound: in a debug build on two busy cores this takes minutes.
    assert_exactly(&rig.answered(&users, each, Duration::from_secs(1500)).await, each);
}

/// A "Graph API" that accepts connections and never answers them.
async fn silent_graph_api() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

const GRACE_SECS: u64 = 5;

/// 100 users write while the Graph API at `graph_api_url` cannot take their replies; SIGTERM must end the process
/// with status 0 within the grace period; a restart against the real simulator answers each of them exactly once.
async fn stop_while_sends_cannot_finish(test: u32, graph_api_url: String, check_draining: bool) {
    let rig = Rig::start().await;
    let grace = [("SHUTDOWN_GRACE_SECS", GRACE_SECS.to_string())];
    let mut warm = rig.serve_with(&[], &grace).await;
    let each = first_reply_count(&rig, &[user(test, 0)]).await;
    warm.terminate();
    assert_eq!(warm.wait_exit(Duration::from_secs(GRACE_SECS + 1)), Some(0), "an idle service stops cleanly");

    let mut serve = rig.serve_with(&[], &[grace[0].clone(), ("GRAPH_API_URL", graph_api_url)]).await;
    let users: Vec<String> = (1..101).map(|n| user(test, n)).collect();
    rig.deliver(batch(&users), Duration::from_secs(10)).await;
    // Let the workers pick the replies up and get stuck on them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = Instant::now();
    serve.terminate();
    if check_draining {
        // The workers are still busy: meanwhile a new webhook is refused (Meta redelivers it) and the liveness
        // probe answers.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let late = batch(&[user(test, 200)]);
        let header = signature::sign(common::APP_SECRET.as_bytes(), &late);
        let refused = rig
            .client
            .post(format!("{}/webhook", rig.base()))
            .header("X-Hub-Signature-256", header)
            .body(late)
            .send()
            .await
            .expect("the server still answers while draining");
        assert_eq!(refused.status(), 503, "a webhook while draining is refused, not lost");
        assert_eq!(refused.headers()["connection"], "close");
        let live = rig.client.get(format!("{}/healthz", rig.base())).send().await.unwrap();
        assert_eq!(live.status(), 200);
    }
    let code = serve.wait_exit(Duration::from_secs(GRACE_SECS + 2));
    let took = asked.elapsed();
    assert_eq!(code, Some(0), "SIGTERM ends the process cleanly (took {took:?})");
    assert!(took <= Duration::from_millis(GRACE_SECS * 1000 + 700), "stopped after {took:?}, grace {GRACE_SECS} s");

    let _serve = rig.serve(&[]).await;
    assert_exactly(&rig.answered(&users, each, Duration::from_secs(120)).await, each);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_an_unreachable_graph_api_exits_in_time_and_loses_nothing() {
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    stop_while_sends_cannot_finish(4, unreachable, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_graph_api_that_never_answers_drains_exits_in_time_and_loses_nothing() {
    let (silent, _task) = silent_graph_api().await;
    stop_while_sends_cannot_finish(5, silent, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_half_sent_request_exits_in_time_and_a_second_signal_at_once() {
    use tokio::io::AsyncWriteExt as _;
    let rig = Rig::start().await;
    let long_reads = [
        ("SHUTDOWN_GRACE_SECS", GRACE_SECS.to_string()),
        ("HTTP_HEADER_TIMEOUT_SECS", "120".to_owned()),
        ("HTTP_BODY_TIMEOUT_SECS", "120".to_owned()),
    ];
    let mut serve = rig.serve_with(&[], &long_reads).await;
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", rig.port)).await.unwrap();
    half.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"object\"").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    serve.terminate();
    assert_eq!(serve.wait_exit(Duration::from_secs(GRACE_SECS + 2)), Some(0));
    assert!(asked.elapsed() <= Duration::from_millis(GRACE_SECS * 1000 + 700), "took {:?}", asked.elapsed());

    // A second signal does not wait for the grace period.
    let mut serve = rig.serve_with(&[], &long_reads).await;
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", rig.port)).await.unwrap();
    half.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    serve.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    serve.terminate();
    assert_eq!(serve.wait_exit(Duration::from_secs(2)), Some(130), "a second SIGTERM exits at once");
    assert!(asked.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_are_held_while_the_token_is_invalid_and_go_out_in_order_once_the_token_file_is_replaced() {
    let rig = Rig::start().await;
    let dir = std::env::temp_dir().join(format!("wa-onboard-token-{}-{}", std::process::id(), rig.port));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let file_setting = [("WHATSAPP_ACCESS_TOKEN_FILE", token_file.display().to_string())];
    let serve = rig.serve_with(&[], &file_setting).await;
    let warm = user(6, 0);
    let each = first_reply_count(&rig, std::slice::from_ref(&warm)).await;
    let expected = rig.bodies_to(&warm).await;

    // The token goes bad (as when it expires): Meta answers 190 and nothing more goes out.
    std::fs::write(&token_file, "revoked-token").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await; // the file is looked at every 2 s
    let users: Vec<String> = (1..51).map(|n| user(6, n)).collect();
    for chunk in users.chunks(10) {
        rig.deliver(batch(chunk), Duration::from_secs(10)).await;
    }
    // Long enough for every reply to be tried, and held, many times over (the retries of a plain failure would
    // have used up their attempts).
    tokio::time::sleep(Duration::from_secs(15)).await;
    let sent = rig.sent_per_user().await;
    assert!(users.iter().all(|u| !sent.contains_key(u)), "nothing is sent with a refused token: {sent:?}");
    let ready = rig.client.get(format!("{}/readyz", rig.base())).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("access token expired"));
    let metrics = rig.client.get(format!("{}/metrics", rig.base())).send().await.unwrap().text().await.unwrap();
    assert_eq!(common::metric(&metrics, "wa_onboard_whatsapp_token_expired"), 1.0);
    assert!(common::metric(&metrics, "wa_onboard_whatsapp_sends_held_total") >= 50.0, "{metrics}");

    // A new token in the file: every held reply goes out, once, each user's in the order the flow wrote them.
    std::fs::write(&token_file, TOKEN).unwrap();
    assert_exactly(&rig.answered(&users, each, Duration::from_secs(60)).await, each);
    for u in &users {
        let bodies: Vec<Value> = rig.bodies_to(u).await;
        let strip = |b: &[Value]| {
            b.iter()
                .map(|v| {
                    // The recipient and the send's key (each user's own) aside, the same replies.
                    let mut v = v.clone();
                    v["to"] = Value::Null;
                    v["biz_opaque_callback_data"] = Value::Null;
                    v
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&bodies), strip(&expected), "{u} got the replies out of order");
    }
    let ready = rig.client.get(format!("{}/readyz", rig.base())).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again: {:?}", ready.text().await);
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_live_on_their_own_address_and_a_worker_without_live_queues_exits_for_its_supervisor() {
    let mut rig = Rig::start().await;
    let (serve_metrics, worker_metrics) = (free_port(), free_port());
    let serve = rig.serve_with(&["--no-workers"], &[("METRICS_ADDR", format!("127.0.0.1:{serve_metrics}"))]).await;
    let public = rig.client.get(format!("{}/metrics", rig.base())).send().await.unwrap();
    assert_eq!(public.status(), 404, "with METRICS_ADDR, /metrics is not on the public address");
    let internal = rig.client.get(format!("http://127.0.0.1:{serve_metrics}/metrics")).send().await.unwrap();
    assert_eq!(internal.status(), 200);
    assert!(internal.text().await.unwrap().contains("wa_onboard_store_up"));

    let mut env = rig.env();
    env.push(("METRICS_ADDR".into(), format!("127.0.0.1:{worker_metrics}")));
    env.push(("WORKER_DOWN_EXIT_SECS".into(), "3".into()));
    let mut worker = Service::start("worker", &["worker"], &env);
    worker.wait_healthy(&format!("http://127.0.0.1:{worker_metrics}/healthz")).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = rig.client.get(format!("http://127.0.0.1:{worker_metrics}/metrics")).send().await.unwrap();
        let text = text.text().await.unwrap();
        if common::metric(&text, "wa_onboard_worker_up{queue=\"outbound\"}") == 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the worker's metrics never showed its queues up:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Redis goes away for good: the worker cannot run its queues and exits non-zero (3) after 3 s.
    rig.redis.stop();
    let code = worker.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(3), "a worker whose queues stay down exits so that its supervisor restarts it");
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_down_for_15_then_60_seconds_loses_no_message_and_needs_no_restart() {
    let mut rig = Rig::start().await;
    let serve = rig.serve(&[]).await;
    let before: Vec<String> = (0..3).map(|n| user(7, n)).collect();
    let each = first_reply_count(&rig, &before).await;
    let mut everyone = before.clone();
    for (round, outage) in [(1u32, 15u64), (2, 60)] {
        // Acknowledged just before the outage: the workers meet it in the middle of their work.
        let just_before: Vec<String> = (0..5).map(|n| user(7, round * 100 + n)).collect();
        rig.deliver(batch(&just_before), Duration::from_secs(10)).await;
        rig.redis.stop();
        tokio::time::sleep(Duration::from_secs(outage)).await;
        rig.redis.restart();
        // Meta redelivers what was refused during the outage; new messages arrive after it.
        let after: Vec<String> = (10..15).map(|n| user(7, round * 100 + n)).collect();
        // Generous limits: they cost nothing when it works, and CI machines are slow and noisy.
        for u in &after {
            rig.deliver(batch(std::slice::from_ref(u)), Duration::from_secs(60)).await;
        }
        everyone.extend(just_before);
        everyone.extend(after);
        assert_exactly(&rig.answered(&everyone, each, Duration::from_secs(180)).await, each);
    }
    // Workers come back on their own, each after its back-off (at most 5 s): ready again without a restart.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ready = rig.client.get(format!("{}/readyz", rig.base())).send().await.unwrap();
        if ready.status() == 200 {
            break;
        }
        let text = ready.text().await;
        assert!(std::time::Instant::now() < deadline, "ready again without a restart: {text:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(serve);
}
