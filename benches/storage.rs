//! Redis memory per onboarding: N complete onboardings through the whole bot (webhook, workers, photo checks,
//! a handoff, an agent's approval through `/api/v1`), then the keys and bytes left per onboarding, how many keys
//! have no expiry, and by room. A second run with retention periods of 3 seconds shows what is left of those
//! users once the retention has passed.
//!
//! `cargo bench --bench storage` (env: BENCH_REDIS_URL, BENCH_ONBOARDINGS default 10).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wa_onboard::app::{App, Workers};
use wa_onboard::config::{Config, Env};
use wa_onboard::demo::driver::User;
use wa_onboard::demo::{SELFIE_JPEG, card_photo};
use wa_onboard::store::Backend;
use wa_onboard::store::retention::Retention;

const SECRET: &str = "bench-app-secret";
const WAIT: Duration = Duration::from_secs(120);

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let url = std::env::var("BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let n = env_or("BENCH_ONBOARDINGS", 10);
    println!("{n} complete onboardings (ID front and back, selfie, handoff, an agent approves) on Redis\n");
    let after = measure(&url, n, Retention::default(), "default retention").await?;
    print_usage("right after", &after, n);
    let short = Duration::from_secs(3);
    let retention =
        Retention { onboarding: short, decision: short, cases: short, erasure_record: short, funnel: short };
    let expired = measure(&url, n, retention, "retention 3 s").await?;
    print_usage("after the retention periods (3 s) passed", &expired, n);
    Ok(())
}

/// Keys, bytes and keys without expiry, in all and by room.
#[derive(Default)]
struct Usage {
    keys: usize,
    bytes: u64,
    persistent: usize,
    rooms: BTreeMap<String, (usize, u64, usize)>,
    /// Keys whose name or value names one of the users, and which.
    naming_users: Vec<String>,
}

fn print_usage(when: &str, usage: &Usage, n: usize) {
    println!("## {when}");
    println!(
        "keys: {} ({:.1} per onboarding), bytes: {} ({:.0} per onboarding), keys with no expiry: {}",
        usage.keys,
        usage.keys as f64 / n as f64,
        usage.bytes,
        usage.bytes as f64 / n as f64,
        usage.persistent
    );
    println!("| room | keys | bytes | no expiry |\n|---|---|---|---|");
    for (room, (keys, bytes, persistent)) in &usage.rooms {
        println!("| `{room}` | {keys} | {bytes} | {persistent} |");
    }
    println!("keys that name one of the users: {}", usage.naming_users.len());
    for key in &usage.naming_users {
        println!("  {key}");
    }
    println!();
}

async fn measure(url: &str, n: usize, retention: Retention, label: &str) -> anyhow::Result<Usage> {
    let prefix = format!("bench-storage-{}-{}", std::process::id(), fastrand::u32(..));
    let backend = Backend::redis(
        url,
        &prefix,
        Duration::from_secs(2),
        Duration::from_secs(8 * 86400),
        wa_onboard::clock::system(),
    )
    .await
    .context("Redis must run (BENCH_REDIS_URL)")?
    .with_retention(retention);
    let flows = concat!(env!("CARGO_MANIFEST_DIR"), "/flows");
    let env = Env::from_pairs([
        ("WHATSAPP_APP_SECRET", SECRET),
        ("WHATSAPP_VERIFY_TOKEN", "bench"),
        ("BIND_ADDR", "127.0.0.1:0"),
        ("FLOWS_DIR", flows),
        ("WORKER_POLL_MS", "20"),
    ]);
    let app = App::with_backend(Config::from_env(&env, true)?, backend.clone(), Workers::Run).await?;
    let base = format!("http://{}", app.local_addr()?);
    let sim = app.cloud.sim.as_ref().context("the in-app simulator")?.state.clone();
    let server = tokio::spawn(async move {
        let _ = app.run(std::future::pending()).await;
    });
    let (token, hash) = wa_onboard::api::auth::new_token();
    backend
        .api_tokens()
        .add(&wa_onboard::store::api_tokens::ApiToken { name: "bench".into(), hash, created_at: 1 })
        .await?;

    let started = Instant::now();
    let phones: Vec<String> = (0..n).map(|i| format!("54911{:08}", 40_000_000 + i)).collect();
    for phone in &phones {
        let mut user =
            User::new("Bench Usuaria", phone, &base, SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim.clone());
        onboard(&mut user, &base, &token).await.with_context(|| format!("the onboarding of {phone}"))?;
    }
    eprintln!("{label}: {n} onboardings in {:.1} s", started.elapsed().as_secs_f64());
    if retention != Retention::default() {
        // Let the retention periods pass.
        tokio::time::sleep(retention.onboarding + Duration::from_secs(1)).await;
    }
    let usage = usage(url, &prefix, &phones).await?;
    server.abort();
    cleanup(url, &prefix).await?;
    Ok(usage)
}

/// One onboarding to its end: the user is verified by an agent.
async fn onboard(user: &mut User, base: &str, token: &str) -> anyhow::Result<()> {
    user.says("Hola").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("lang_es", "Español").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("consent_accept", "Acepto").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("doc_ar_dni", "DNI (Argentina)").await?;
    user.expect_replies(1, WAIT).await?;
    user.sends_photo("bench-front", card_photo(false), "front").await?;
    user.expect_replies(1, WAIT).await?;
    user.sends_photo("bench-back", card_photo(false), "back").await?;
    user.expect_replies(1, WAIT).await?;
    user.sends_photo("bench-selfie", SELFIE_JPEG.to_vec(), "selfie").await?;
    let mut said = 0;
    while said < 3 {
        said += user.expect_replies(3 - said, WAIT).await?.len();
    }
    let client = reqwest::Client::new();
    let listed: serde_json::Value =
        client.get(format!("{base}/api/v1/cases?status=waiting")).bearer_auth(token).send().await?.json().await?;
    let tail = &user.phone[user.phone.len() - 4..];
    let id = listed["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["masked_phone"].as_str().is_some_and(|p| p.ends_with(tail))))
        .and_then(|c| c["id"].as_str())
        .context("a waiting case")?
        .to_owned();
    let agent = serde_json::json!({"agent": "bench@acme.mx"});
    client
        .post(format!("{base}/api/v1/cases/{id}/claim"))
        .bearer_auth(token)
        .json(&agent)
        .send()
        .await?
        .error_for_status()?;
    let approve = serde_json::json!({"decision": "approve", "agent": "bench@acme.mx"});
    client
        .post(format!("{base}/api/v1/cases/{id}/decision"))
        .bearer_auth(token)
        .json(&approve)
        .send()
        .await?
        .error_for_status()?;
    user.expect_replies(1, WAIT).await?;
    Ok(())
}

/// The room of a key: its name under the prefix, without the user, conversation or job it is about.
fn room(key: &str, prefix: &str) -> String {
    let rest = key.strip_prefix(prefix).unwrap_or(key).trim_start_matches(':');
    let mut parts = rest.split(':');
    let first = parts.next().unwrap_or_default();
    match parts.next() {
        Some(second) if first.starts_with('{') && !second.starts_with('{') => format!("{first}:{second}"),
        _ => first.to_owned(),
    }
}

async fn usage(url: &str, prefix: &str, phones: &[String]) -> anyhow::Result<Usage> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await?;
    let mut usage = Usage::default();
    for key in keys {
        let bytes: Option<u64> =
            redis::cmd("MEMORY").arg("USAGE").arg(&key).arg("SAMPLES").arg(0).query_async(&mut conn).await?;
        let Some(bytes) = bytes else { continue };
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
        let value = read(&mut conn, &key).await?;
        if phones.iter().any(|p| key.contains(p.as_str()) || value.contains(p.as_str())) {
            usage.naming_users.push(key.clone());
        }
        usage.keys += 1;
        usage.bytes += bytes;
        let persistent = usize::from(ttl == -1);
        usage.persistent += persistent;
        let entry = usage.rooms.entry(room(&key, prefix)).or_default();
        entry.0 += 1;
        entry.1 += bytes;
        entry.2 += persistent;
    }
    Ok(usage)
}

/// A key's value as text, whatever its type.
async fn read(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> anyhow::Result<String> {
    let kind: String = redis::cmd("TYPE").arg(key).query_async(conn).await?;
    let command = match kind.as_str() {
        "string" => redis::cmd("GET").arg(key).clone(),
        "hash" => redis::cmd("HGETALL").arg(key).clone(),
        "list" => redis::cmd("LRANGE").arg(key).arg(0).arg(-1).clone(),
        "set" => redis::cmd("SMEMBERS").arg(key).clone(),
        "zset" => redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).clone(),
        "stream" => redis::cmd("XRANGE").arg(key).arg("-").arg("+").clone(),
        _ => return Ok(String::new()),
    };
    let value: redis::Value = command.query_async(conn).await?;
    Ok(text(&value))
}

fn text(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::Array(items) | redis::Value::Set(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        redis::Value::Map(pairs) => pairs.iter().map(|(k, v)| format!("{} {} ", text(k), text(v))).collect(),
        redis::Value::SimpleString(s) => s.clone(),
        _ => String::new(),
    }
}

async fn cleanup(url: &str, prefix: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut conn).await?;
    if !keys.is_empty() {
        redis::cmd("UNLINK").arg(&keys).query_async::<()>(&mut conn).await?;
    }
    Ok(())
}
