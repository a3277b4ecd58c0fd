//! The whole path under load (issue 16): N simulated users each complete the default flow (language, consent,
//! passport, a sharp or first a blurry photo, selfie, verification by the provider simulator, the outcome) through
//! real signed webhooks sent round-robin to two `serve --no-workers` processes, with two `worker` processes, a
//! stand-alone Graph API simulator (`wa-onboard sim`) and Redis, all as child processes of the release binary.
//! Half the users write to each of two business numbers. Each user sends its next message only after the bot's
//! expected prompt reached the simulator. With faults on, one worker is killed (SIGKILL) halfway and restarted,
//! and Redis stops answering for 5 s (and, on a cluster, one master is shut down). A webhook answered with
//! anything but 200, or not at all, is redelivered as Meta does. Afterwards the simulator's log must hold, for
//! every user, exactly the expected messages, in order, each once, from the number the user wrote to.
//!
//! Env: BENCH_USERS (1000), BENCH_CONCURRENCY (200), BENCH_FAULTS (1), BENCH_REDIS_URL (redis://127.0.0.1:6379;
//! `redis+cluster://h:p,h:p,...` for a cluster), BENCH_BLURRY_EVERY (5: one user in 5 sends a blurry photo
//! first), BENCH_STEP_TIMEOUT_SECS (120), WHATSAPP_SEND_RATE (1000) and QUEUE_PARTITIONS (1) for the services.

#[path = "support/env.rs"]
mod env;
#[path = "support/redis_nodes.rs"]
mod redis_nodes;
use env::env_or;
use redis_nodes::RedisTarget;

use std::collections::HashMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use wa_onboard::demo::photos;
use wa_onboard::verify::providers::sim::ProviderSim;
use wa_onboard::webhook::signature;

const APP_SECRET: &str = "bench-e2e-app-secret";
const ACCESS_TOKEN: &str = "bench-e2e-access-token";
const MEDIA_KEY: &str = "8f1c2a3b4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";
const PROVIDER_SECRET_ENV: &str = "PROVIDER_BENCH_SECRET";
const PROVIDER_SECRET: &str = "bench-e2e-provider-secret";
/// Two business numbers of one account: users of the first write from Mexico in Spanish, of the second from
/// Brazil in Portuguese.
const NUMBERS: [&str; 2] = ["106540352242922", "107000000000055"];
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a redelivered webhook is retried before the user is given up (Meta retries for days).
const DELIVERY_LIMIT: Duration = Duration::from_secs(120);
const SHARP_VARIANTS: usize = 3;

// ---------------------------------------------------------------------------------------------------------------
// Child processes

/// One child process of the release binary, restartable with the same arguments and settings.
struct Proc {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    health: Option<String>,
    child: Option<Child>,
    /// CPU ticks of earlier lives of this process (killed and started again).
    ticks_before: u64,
}

impl Proc {
    fn spawn(&mut self) -> Result<()> {
        let log = File::options().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_wa-onboard"));
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // Outside the repository so that a developer's .env cannot change the setup.
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().with_context(|| format!("spawn {}", self.name))?);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CPU ticks (user + system) of this process over all its lives.
    fn ticks(&self) -> u64 {
        self.ticks_before + self.pid().and_then(proc_ticks).unwrap_or(0)
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.ticks_before += proc_ticks(child.id()).unwrap_or(0);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// An error when the process has ended.
    fn check_running(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("{} exited ({status}); log tail:\n{}", self.name, self.log_tail(30));
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits until the process named `name` answers its health URL.
async fn wait_healthy(rig: &Rig, name: &str, client: &reqwest::Client) -> Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        let url =
            rig.with_proc(name, |p| p.check_running().map(|()| p.health.clone())).context("no such process")??;
        let Some(url) = url else { return Ok(()) };
        if client.get(&url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let tail = rig.with_proc(name, |p| p.log_tail(30)).unwrap_or_default();
            bail!("{name} did not answer {url} within {STARTUP_TIMEOUT:?}; log:\n{tail}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).
fn proc_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// Everything the bench started; killed, and the bench's Redis keys deleted, on every exit path.
struct Rig {
    procs: Mutex<Vec<Proc>>,
    redis: RedisTarget,
    prefix: String,
    keep_logs: std::sync::atomic::AtomicBool,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let mut procs = self.procs.lock().unwrap_or_else(|p| p.into_inner());
        for proc in procs.iter_mut() {
            proc.kill9();
        }
        // Stopped first, so that nothing writes new keys behind the scan.
        match self.redis.delete_prefix(&self.prefix) {
            Ok(n) => println!("onboarding_e2e: removed {n} Redis keys matching {}*", self.prefix),
            Err(e) => eprintln!("onboarding_e2e: Redis cleanup of {}* failed: {e:#}", self.prefix),
        }
        if self.keep_logs.load(Ordering::Relaxed) {
            for proc in procs.iter() {
                eprintln!("onboarding_e2e: log of {}: {}", proc.name, proc.log.display());
            }
        } else {
            for proc in procs.iter() {
                let _ = std::fs::remove_file(&proc.log);
            }
        }
    }
}

impl Rig {
    fn with_proc<T>(&self, name: &str, f: impl FnOnce(&mut Proc) -> T) -> Option<T> {
        let mut procs = self.procs.lock().unwrap_or_else(|p| p.into_inner());
        procs.iter_mut().find(|p| p.name == name).map(f)
    }

    fn ticks(&self) -> Vec<(String, u64)> {
        let procs = self.procs.lock().unwrap_or_else(|p| p.into_inner());
        procs.iter().map(|p| (p.name.clone(), p.ticks())).collect()
    }

    /// A process that died without being told to: the run cannot be trusted.
    fn dead(&self) -> Option<String> {
        let mut procs = self.procs.lock().unwrap_or_else(|p| p.into_inner());
        for proc in procs.iter_mut() {
            if let Some(child) = proc.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Some(format!("{} exited ({status}); log tail:\n{}", proc.name, proc.log_tail(30)));
            }
        }
        None
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Redis (one server, or the nodes of a cluster): what the load run does to it

impl RedisTarget {
    /// Calls `each` with every batch of keys under `prefix`, master by master (SCAN, never KEYS), on that master's
    /// connection.
    fn scan_prefix(
        &self,
        prefix: &str,
        mut each: impl FnMut(&mut redis::Connection, &[Vec<u8>]) -> Result<()>,
    ) -> Result<()> {
        for node in self.masters() {
            let mut conn = Self::connect(&node)?;
            let mut cursor = 0u64;
            loop {
                let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg(&["MATCH", &format!("{prefix}*"), "COUNT", "1000"][..])
                    .query(&mut conn)?;
                if !batch.is_empty() {
                    each(&mut conn, &batch)?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    /// Keys and bytes (MEMORY USAGE) under `prefix`, over the masters.
    fn prefix_usage(&self, prefix: &str) -> Result<(u64, u64)> {
        let (mut keys, mut bytes) = (0u64, 0u64);
        self.scan_prefix(prefix, |conn, batch| {
            let mut pipe = redis::pipe();
            for key in batch {
                pipe.cmd("MEMORY").arg("USAGE").arg(key).arg("SAMPLES").arg(0);
            }
            let sizes: Vec<Option<u64>> = pipe.query(conn)?;
            keys += batch.len() as u64;
            bytes += sizes.into_iter().flatten().sum::<u64>();
            Ok(())
        })?;
        Ok((keys, bytes))
    }

    /// SCAN + UNLINK of `prefix` on every master, one key per UNLINK (keys of a cluster are in different slots).
    /// Never FLUSH*: the Redis may be shared.
    fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let mut removed = 0u64;
        self.scan_prefix(prefix, |conn, batch| {
            let mut pipe = redis::pipe();
            for key in batch {
                pipe.cmd("UNLINK").arg(key);
            }
            let done: Vec<u64> = pipe.query(conn)?;
            removed += done.iter().sum::<u64>();
            Ok(())
        })?;
        Ok(removed)
    }

    /// Redis stops answering for `secs`: DEBUG SLEEP where the DEBUG command is enabled (the whole server
    /// blocks), else CLIENT PAUSE ALL (every client's commands wait). On every master of a cluster.
    fn outage(&self, secs: u64) -> Result<String> {
        let mut how = String::new();
        let masters = self.masters();
        // DEBUG SLEEP blocks its connection for the whole time: one thread per node.
        let results: Vec<Result<String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = masters
                .iter()
                .map(|node| {
                    scope.spawn(move || -> Result<String> {
                        let mut conn = Self::connect(node)?;
                        match redis::cmd("DEBUG").arg("SLEEP").arg(secs).query::<String>(&mut conn) {
                            Ok(_) => Ok("DEBUG SLEEP".to_owned()),
                            Err(_) => {
                                redis::cmd("CLIENT")
                                    .arg(&["PAUSE", &(secs * 1000).to_string(), "ALL"][..])
                                    .query::<String>(&mut conn)?;
                                std::thread::sleep(Duration::from_secs(secs));
                                Ok("CLIENT PAUSE ALL (DEBUG is disabled on this server)".to_owned())
                            }
                        }
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(anyhow::anyhow!("panicked")))).collect()
        });
        for result in results {
            how = result?;
        }
        Ok(how)
    }

    /// Shuts one master of the cluster down (no save) so that its replica takes over; answers its address.
    fn kill_a_master(&self) -> Result<String> {
        let masters = self.masters();
        let victim = masters.first().context("no master answers")?.clone();
        let mut conn = Self::connect(&victim)?;
        // The connection closes under the command: an error here is the expected answer.
        let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<String>(&mut conn);
        Ok(victim)
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The conversation each user has

/// The bot's texts the bench expects, read from the flow file.
struct Texts {
    flow: Value,
}

impl Texts {
    fn load() -> Result<Self> {
        let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/kyc_latam.yaml"))?;
        let flow: Value = serde_saphyr::from_str(&source).context("parse flows/kyc_latam.yaml")?;
        Ok(Self { flow })
    }

    fn step(&self, step: &str, lang: &str) -> Result<String> {
        self.flow["steps"][step]["text"][lang].as_str().map(str::to_owned).with_context(|| format!("{step}.{lang}"))
    }

    fn retake(&self, reason: &str, lang: &str) -> Result<String> {
        let text = self.flow["verification"]["retake"][reason][lang].as_str();
        text.map(str::to_owned).with_context(|| format!("retake {reason}.{lang}"))
    }
}

/// What a step's round trip measures.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Class {
    /// A text or a tap, answered by the conversation runner alone.
    Text,
    /// A photo, answered once it was downloaded and checked.
    Photo,
    /// The selfie: its first answer ("checking").
    Selfie,
    /// The selfie to the outcome: both photos' checks, the providers, the decision.
    Outcome,
}

struct Step {
    /// The message, without its id and timestamp.
    message: Value,
    /// The bot's answers, in order.
    expect: Vec<String>,
    /// The class of each answer's latency.
    classes: Vec<Class>,
}

struct UserPlan {
    phone: String,
    number: &'static str,
    steps: Vec<Step>,
}

fn text(body: &str) -> Value {
    json!({"type": "text", "text": {"body": body}})
}

fn tap(kind: &str, id: &str, title: &str) -> Value {
    let mut interactive = json!({"type": kind});
    interactive[kind] = json!({"id": id, "title": title});
    json!({"type": "interactive", "interactive": interactive})
}

fn photo(media_id: &str) -> Value {
    json!({"type": "image", "image": {"id": media_id, "mime_type": "image/jpeg"}})
}

fn plan(texts: &Texts, index: usize, blurry_every: usize) -> Result<UserPlan> {
    // Even users write to the Mexican number from Mexico in Spanish; odd ones to the Brazilian number from Brazil.
    let (phone, number, lang, hello, lang_title) = if index.is_multiple_of(2) {
        (format!("52155{index:08}"), NUMBERS[0], "es", "Hola", "Español")
    } else {
        (format!("5511{index:09}"), NUMBERS[1], "pt", "Olá", "Português")
    };
    let blurry_first = blurry_every > 0 && index.is_multiple_of(blurry_every);
    let mut steps = vec![
        // The first prompt is in the language guessed from the country code, which is the one then chosen.
        Step { message: text(hello), expect: vec![texts.step("language", lang)?], classes: vec![Class::Text] },
        Step {
            message: tap("button_reply", &format!("lang_{lang}"), lang_title),
            expect: vec![texts.step("consent", lang)?],
            classes: vec![Class::Text],
        },
        Step {
            message: tap("button_reply", "consent_accept", if lang == "es" { "Acepto" } else { "Aceito" }),
            expect: vec![texts.step("document", lang)?],
            classes: vec![Class::Text],
        },
        Step {
            message: tap("list_reply", "doc_passport", if lang == "es" { "Pasaporte" } else { "Passaporte" }),
            expect: vec![texts.step("front", lang)?],
            classes: vec![Class::Text],
        },
    ];
    if blurry_first {
        steps.push(Step {
            message: photo("bench-card-blurry"),
            expect: vec![texts.retake("blurry", lang)?],
            classes: vec![Class::Photo],
        });
    }
    steps.push(Step {
        message: photo(&format!("bench-card-{}", index % SHARP_VARIANTS)),
        expect: vec![texts.step("selfie", lang)?],
        classes: vec![Class::Photo],
    });
    steps.push(Step {
        message: photo("bench-selfie"),
        expect: vec![texts.step("checking", lang)?, texts.step("verified", lang)?],
        classes: vec![Class::Selfie, Class::Outcome],
    });
    Ok(UserPlan { phone, number, steps })
}

/// The text of a message as sent to the Cloud API (a text's body, an interactive message's body text).
fn message_text(body: &Value) -> String {
    match body["type"].as_str() {
        Some("text") => body["text"]["body"].as_str().unwrap_or_default().to_owned(),
        Some("interactive") => body["interactive"]["body"]["text"].as_str().unwrap_or_default().to_owned(),
        other => format!("({})", other.unwrap_or("?")),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The simulator's log, polled by one task and dispatched to users by recipient

#[derive(Clone, Debug)]
struct Reply {
    wamid: String,
    text: String,
    from_number: String,
    received_ms: u64,
}

struct Log {
    /// Every message, by recipient.
    by_user: Mutex<HashMap<String, Vec<Reply>>>,
    read: AtomicUsize,
    last_new: Mutex<Instant>,
}

async fn poll_sim(
    sim_url: String,
    log: Arc<Log>,
    senders: HashMap<String, mpsc::UnboundedSender<Reply>>,
    stop: CancellationToken,
) {
    let client = reqwest::Client::new();
    let mut read = 0usize;
    loop {
        let fetched = async {
            let answer =
                client.get(format!("{sim_url}/messages?since={read}")).bearer_auth(ACCESS_TOKEN).send().await?;
            answer.error_for_status()?.json::<Vec<Value>>().await
        };
        let batch = tokio::select! {
            batch = fetched => batch,
            () = stop.cancelled() => return,
        };
        let batch = batch.unwrap_or_default();
        if batch.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(50)) => {},
                () = stop.cancelled() => return,
            }
            continue;
        }
        read += batch.len();
        log.read.store(read, Ordering::Relaxed);
        *log.last_new.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        let mut by_user = log.by_user.lock().unwrap_or_else(|p| p.into_inner());
        for message in batch {
            let to = message["to"].as_str().unwrap_or("?").to_owned();
            let reply = Reply {
                wamid: message["wamid"].as_str().unwrap_or_default().to_owned(),
                text: message_text(&message["body"]),
                from_number: message["phone_number_id"].as_str().unwrap_or_default().to_owned(),
                received_ms: message["received_at_ms"].as_u64().unwrap_or(0),
            };
            if let Some(sender) = senders.get(&to) {
                let _ = sender.send(reply.clone());
            }
            by_user.entry(to).or_default().push(reply);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Users

#[derive(Default)]
struct Stats {
    /// Webhook answer times of the 200 answers, µs.
    answer_us: Vec<u64>,
    /// Webhook to reply, ms, by class.
    reply_ms: HashMap<Class, Vec<u64>>,
    /// Answers other than 200, by status (0: no answer: connection refused, reset, timeout).
    refused: HashMap<u16, u64>,
    webhooks: u64,
    /// Attempts started while Redis was made unreachable: answers by status, and the slowest.
    during_outage: HashMap<u16, u64>,
    during_outage_max_us: u64,
    /// Users who finished, and who did not (with why).
    finished: u64,
    failures: Vec<String>,
}

struct Driver {
    client: reqwest::Client,
    servers: [String; 2],
    next_server: AtomicUsize,
    run: String,
    clock: AtomicU64,
    stats: Mutex<Stats>,
    step_timeout: Duration,
    done: AtomicUsize,
    /// Set while the fault task holds Redis unreachable.
    outage: std::sync::atomic::AtomicBool,
    /// Wall-clock ms of the worker's SIGKILL (0: none).
    kill_ms: AtomicU64,
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Driver {
    fn envelope(&self, plan: &UserPlan, index: usize, step: usize, mut message: Value) -> Vec<u8> {
        message["from"] = json!(plan.phone);
        message["id"] = json!(format!("wamid.bench.{}.{index}.{step}", self.run));
        message["timestamp"] = json!(self.clock.fetch_add(1, Ordering::Relaxed).to_string());
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": plan.number},
                "contacts": [{"profile": {"name": format!("Bench User {index}")}, "wa_id": plan.phone}],
                "messages": [message]}}]}]
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// POSTs until a server answers 200, round-robin over both, as Meta redelivers; answers the wall-clock ms at
    /// which the accepted attempt was sent.
    async fn deliver(&self, body: Vec<u8>) -> Result<u64> {
        let header = signature::sign(APP_SECRET.as_bytes(), &body);
        let body = bytes::Bytes::from(body);
        let deadline = Instant::now() + DELIVERY_LIMIT;
        let mut backoff = Duration::from_millis(100);
        loop {
            let server = &self.servers[self.next_server.fetch_add(1, Ordering::Relaxed) % 2];
            let sent_ms = unix_ms();
            let started = Instant::now();
            let in_outage = self.outage.load(Ordering::Relaxed);
            let answer = self
                .client
                .post(format!("{server}/webhook"))
                .header("content-type", "application/json")
                .header(signature::HEADER, &header)
                .body(body.clone())
                .send()
                .await;
            let status = match answer {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    let _ = answer.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            let elapsed = started.elapsed();
            {
                let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                if in_outage {
                    *stats.during_outage.entry(status).or_default() += 1;
                    stats.during_outage_max_us = stats.during_outage_max_us.max(elapsed.as_micros() as u64);
                }
                if status == 200 {
                    stats.webhooks += 1;
                    stats.answer_us.push(elapsed.as_micros() as u64);
                } else {
                    *stats.refused.entry(status).or_default() += 1;
                }
            }
            if status == 200 {
                return Ok(sent_ms);
            }
            if Instant::now() > deadline {
                bail!("no 200 within {DELIVERY_LIMIT:?} (last answer {status})");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }

    async fn user(&self, plan: UserPlan, index: usize, mut replies: mpsc::UnboundedReceiver<Reply>) -> Result<()> {
        // What this user was sent so far: a message that comes again is a duplicate, which the final check counts;
        // the user goes on waiting for the expected one (as a person would), so that a duplicate is not also
        // counted as the losses of a user given up.
        let mut seen: Vec<String> = Vec::new();
        for (n, step) in plan.steps.iter().enumerate() {
            let body = self.envelope(&plan, index, n, step.message.clone());
            let sent_ms = self.deliver(body).await.with_context(|| format!("step {n}"))?;
            for (expected, class) in step.expect.iter().zip(&step.classes) {
                let reply = loop {
                    let reply = match tokio::time::timeout(self.step_timeout, replies.recv()).await {
                        Ok(Some(reply)) => reply,
                        Ok(None) => bail!("the poller stopped"),
                        Err(_) => bail!(
                            "step {n}: no reply within {:?}; waiting for {:?}",
                            self.step_timeout,
                            expected.chars().take(60).collect::<String>()
                        ),
                    };
                    if &reply.text == expected {
                        break reply;
                    }
                    if !seen.contains(&reply.text) {
                        bail!(
                            "step {n}: expected {:?}, got {:?} ({})",
                            expected.chars().take(60).collect::<String>(),
                            reply.text.chars().take(60).collect::<String>(),
                            reply.wamid
                        );
                    }
                };
                seen.push(reply.text);
                let mut stats = self.stats.lock().unwrap_or_else(|p| p.into_inner());
                stats.reply_ms.entry(*class).or_default().push(reply.received_ms.saturating_sub(sent_ms));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Photos

struct Photos {
    sharp: Vec<Vec<u8>>,
    blurry: Vec<u8>,
    selfie: Vec<u8>,
}

/// WhatsApp-sized (1,600 px long side) JPEGs as a phone sends them: a few distinct sharp ID cards, one blurred,
/// and a selfie (the demo's portrait scaled to 1,600 px).
fn make_photos() -> Result<Photos> {
    let card = |tilt: f64, cx: f64, fill: f64| {
        let scene = photos::Scene { card_fill: fill, card_cx: cx, tilt_deg: tilt, ..photos::Scene::phone() };
        photos::render(&scene.sized(1600, 1200))
    };
    let variants = [(5.0, 0.5, 0.45), (-3.0, 0.48, 0.5), (8.0, 0.52, 0.42)];
    let sharp: Vec<_> = variants.iter().map(|&(t, cx, f)| photos::jpeg(&card(t, cx, f), 85)).collect();
    let blurry = photos::jpeg(&photos::blurred(&card(5.0, 0.5, 0.45), 6.0), 85);
    let portrait = image::load_from_memory(wa_onboard::demo::SELFIE_JPEG)?.to_rgb8();
    let selfie = image::imageops::resize(&portrait, 1600, 1600, image::imageops::FilterType::Triangle);
    Ok(Photos { sharp, blurry, selfie: photos::jpeg(&selfie, 85) })
}

async fn register_media(client: &reqwest::Client, sim_url: &str, id: &str, bytes: &[u8]) -> Result<()> {
    use base64::Engine as _;
    let body = json!({"id": id, "bytes": base64::engine::general_purpose::STANDARD.encode(bytes),
        "mime_type": "image/jpeg"});
    let answer = client.post(format!("{sim_url}/_admin/media")).bearer_auth(ACCESS_TOKEN).json(&body).send().await?;
    if !answer.status().is_success() {
        bail!("registering {id}: {}", answer.status());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Set-up

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The default flow with the document and face checks routed to the provider simulator (the bench's own process),
/// which fetches nothing: it is sent one-time links (`images: url`), so that it does not hold every photo.
fn flows_dir(prefix: &str, provider_url: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("wa-onboard-{prefix}-flows"));
    std::fs::create_dir_all(&dir)?;
    let mut flow = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/kyc_latam.yaml"))?;
    let passport = "    passport: { sides: [front], checks: [quality, mrz] }";
    if !flow.contains(passport) {
        bail!("flows/kyc_latam.yaml changed: the passport's checks are not `{passport}`");
    }
    flow = flow.replace(passport, "    passport: { sides: [front], checks: [quality, ocr, face_match] }");
    flow.push_str(&format!(
        "  providers:\n    providers:\n      kyc_sim:\n        kind: http\n        base_url: {provider_url}\n        \
         secret_env: {PROVIDER_SECRET_ENV}\n        timeout_ms: 5000\n        retries: 1\n        images: url\n    \
         routes:\n      - {{ capability: document, provider: kyc_sim }}\n      - {{ capability: face_match, provider: kyc_sim }}\n"
    ));
    std::fs::write(dir.join("kyc_latam.yaml"), flow)?;
    Ok(dir)
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((p / 100.0 * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted[idx.min(sorted.len() - 1)]
}

fn main() -> Result<()> {
    let users: usize = env_or("BENCH_USERS", 1000)?;
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 200)?;
    let faults = env_or("BENCH_FAULTS", 1u8)? != 0;
    let blurry_every: usize = env_or("BENCH_BLURRY_EVERY", 5)?;
    let step_timeout = Duration::from_secs(env_or("BENCH_STEP_TIMEOUT_SECS", 120)?);
    let send_rate: u32 = env_or("WHATSAPP_SEND_RATE", 1000)?;
    let redis = RedisTarget::parse(&env_or("BENCH_REDIS_URL", "redis://127.0.0.1:6379".to_owned())?)?;
    if users == 0 || concurrency == 0 {
        bail!("BENCH_USERS and BENCH_CONCURRENCY must be positive");
    }
    let unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let prefix = format!("bench-e2e-{}-{unix}", std::process::id());
    let rig = Arc::new(Rig { procs: Mutex::new(Vec::new()), redis, prefix, keep_logs: true.into() });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let outcome = rt.block_on(run(rig.clone(), users, concurrency, faults, blurry_every, step_timeout, send_rate));
    if outcome.is_ok() {
        rig.keep_logs.store(false, Ordering::Relaxed);
    }
    drop(rt);
    drop(rig); // the last reference: children killed, keys deleted
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn run(
    rig: Arc<Rig>,
    users: usize,
    concurrency: usize,
    faults: bool,
    blurry_every: usize,
    step_timeout: Duration,
    send_rate: u32,
) -> Result<()> {
    let prefix = rig.prefix.clone();
    let tick = clock_ticks_per_sec();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;

    // Photos, drawn once.
    let photos = tokio::task::spawn_blocking(make_photos).await??;
    let texts = Texts::load()?;
    let plans: Vec<UserPlan> = (0..users).map(|i| plan(&texts, i, blurry_every)).collect::<Result<_>>()?;

    // The provider simulator, in this process: passes every document and face (confidence 0.98).
    let provider = ProviderSim::start("kyc_sim", PROVIDER_SECRET, wa_onboard::clock::system()).await?;
    let flows = flows_dir(&prefix, &provider.base_url())?;

    let sim_port = free_port()?;
    let sim_url = format!("http://127.0.0.1:{sim_port}");
    let servers = [format!("http://127.0.0.1:{}", free_port()?), format!("http://127.0.0.1:{}", free_port()?)];
    let log_path = |name: &str| std::env::temp_dir().join(format!("wa-onboard-{prefix}-{name}.log"));
    let common: Vec<(String, String)> = [
        ("WHATSAPP_APP_SECRET", APP_SECRET.to_owned()),
        ("WHATSAPP_VERIFY_TOKEN", "bench-e2e-verify-token".to_owned()),
        ("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN.to_owned()),
        ("WHATSAPP_PHONE_NUMBER_ID", NUMBERS[0].to_owned()),
        ("WHATSAPP_NUMBERS", format!("{}=kyc_latam,{}=kyc_latam", NUMBERS[0], NUMBERS[1])),
        ("WHATSAPP_SEND_RATE", send_rate.to_string()),
        ("GRAPH_API_URL", sim_url.clone()),
        ("MEDIA_ENCRYPTION_KEY", MEDIA_KEY.to_owned()),
        ("PUBLIC_BASE_URL", servers[0].clone()),
        ("REDIS_URL", rig.redis.url.clone()),
        ("REDIS_KEY_PREFIX", prefix.clone()),
        ("QUEUE_PARTITIONS", env_or("QUEUE_PARTITIONS", 1usize)?.to_string()),
        ("FLOWS_DIR", flows.to_string_lossy().into_owned()),
        (PROVIDER_SECRET_ENV, PROVIDER_SECRET.to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    {
        let mut procs = rig.procs.lock().unwrap_or_else(|p| p.into_inner());
        procs.push(Proc {
            name: "sim".into(),
            // Like Meta, a signed `sent` status follows each accepted message (to the second server): it carries
            // the send's key back, which settles a send cut short by the worker's SIGKILL.
            args: vec![
                "sim".into(),
                "--bind".into(),
                format!("127.0.0.1:{sim_port}"),
                "--status-webhook".into(),
                format!("{}/webhook", servers[servers.len() - 1]),
            ],
            env: vec![
                ("WHATSAPP_ACCESS_TOKEN".into(), ACCESS_TOKEN.into()),
                ("WHATSAPP_APP_SECRET".into(), APP_SECRET.into()),
                ("RUST_LOG".into(), "warn".into()),
            ],
            log: log_path("sim"),
            health: None,
            child: None,
            ticks_before: 0,
        });
        for (n, server) in servers.iter().enumerate() {
            let mut env = common.clone();
            env.push(("BIND_ADDR".into(), server.trim_start_matches("http://").to_owned()));
            procs.push(Proc {
                name: format!("serve-{}", n + 1),
                args: vec!["serve".into(), "--no-workers".into()],
                env,
                log: log_path(&format!("serve-{}", n + 1)),
                health: Some(format!("{server}/healthz")),
                child: None,
                ticks_before: 0,
            });
        }
        for n in 1..=2 {
            let metrics = format!("127.0.0.1:{}", free_port()?);
            let mut env = common.clone();
            env.push(("WORKER_NAME".into(), format!("bench-worker-{n}")));
            env.push(("METRICS_ADDR".into(), metrics.clone()));
            procs.push(Proc {
                name: format!("worker-{n}"),
                args: vec!["worker".into()],
                env,
                log: log_path(&format!("worker-{n}")),
                health: Some(format!("http://{metrics}/healthz")),
                child: None,
                ticks_before: 0,
            });
        }
        for proc in procs.iter_mut() {
            proc.spawn()?;
        }
    }
    // The simulator first (the services need nothing from it to start, but the media must be there).
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while client.get(format!("{sim_url}/messages?since=0")).bearer_auth(ACCESS_TOKEN).send().await.is_err() {
        if Instant::now() > deadline {
            bail!("the simulator did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (n, bytes) in photos.sharp.iter().enumerate() {
        register_media(&client, &sim_url, &format!("bench-card-{n}"), bytes).await?;
    }
    register_media(&client, &sim_url, "bench-card-blurry", &photos.blurry).await?;
    register_media(&client, &sim_url, "bench-selfie", &photos.selfie).await?;
    for name in ["serve-1", "serve-2", "worker-1", "worker-2"] {
        wait_healthy(&rig, name, &client).await?;
    }
    println!(
        "onboarding_e2e: {users} users, {concurrency} at once, faults {}, Redis {} (prefix {prefix}, queue partitions \
         {}), sim {sim_url}, \
         servers {} and {}, photos {} KB (card) / {} KB (blurry) / {} KB (selfie)",
        if faults { "on" } else { "off" },
        if rig.redis.cluster { "cluster" } else { "single" },
        env_or("QUEUE_PARTITIONS", 1usize)?,
        servers[0],
        servers[1],
        photos.sharp[0].len() / 1024,
        photos.blurry.len() / 1024,
        photos.selfie.len() / 1024,
    );

    // Baselines.
    let ticks_start = rig.ticks();
    let self_start = proc_ticks(std::process::id()).unwrap_or(0);
    let redis_cpu_start = rig.redis.info_sum("cpu", &["used_cpu_sys", "used_cpu_user"]);
    let redis_mem_start = rig.redis.info_sum("memory", &["used_memory"]);

    // The poller and the users.
    let log =
        Arc::new(Log { by_user: Mutex::default(), read: AtomicUsize::new(0), last_new: Mutex::new(Instant::now()) });
    let mut senders = HashMap::new();
    let mut receivers = Vec::new();
    for plan in &plans {
        let (tx, rx) = mpsc::unbounded_channel();
        senders.insert(plan.phone.clone(), tx);
        receivers.push(rx);
    }
    let stop = CancellationToken::new();
    let poller = tokio::spawn(poll_sim(sim_url.clone(), log.clone(), senders, stop.clone()));
    let driver = Arc::new(Driver {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(concurrency)
            .tcp_nodelay(true)
            .build()?,
        servers: servers.clone(),
        next_server: AtomicUsize::new(0),
        run: prefix.clone(),
        clock: AtomicU64::new(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs()),
        stats: Mutex::default(),
        step_timeout,
        done: AtomicUsize::new(0),
        outage: false.into(),
        kill_ms: AtomicU64::new(0),
    });
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(concurrency));
    let mut tasks = Vec::with_capacity(users);
    let expected: Vec<(String, &'static str, Vec<String>)> = plans
        .iter()
        .map(|p| (p.phone.clone(), p.number, p.steps.iter().flat_map(|s| s.expect.clone()).collect()))
        .collect();
    // With faults on, the last users (one in 50) arrive when Redis stops answering, outside the concurrency
    // limit: their first messages meet the outage and must be redelivered (the others are all waiting for the
    // bot then, which cannot answer either).
    let outage_started = CancellationToken::new();
    let latecomers = if faults { (users / 50).max(1).min(users - 1) } else { 0 };
    for ((index, plan), rx) in plans.into_iter().enumerate().zip(receivers) {
        let (driver, gate, outage_started) = (driver.clone(), gate.clone(), outage_started.clone());
        let latecomer = index >= users - latecomers;
        tasks.push(tokio::spawn(async move {
            let _permit = if latecomer {
                outage_started.cancelled().await;
                None
            } else {
                Some(gate.acquire_owned().await)
            };
            let phone = plan.phone.clone();
            let outcome = driver.user(plan, index, rx).await;
            driver.done.fetch_add(1, Ordering::Relaxed);
            let mut stats = driver.stats.lock().unwrap_or_else(|p| p.into_inner());
            match outcome {
                Ok(()) => stats.finished += 1,
                Err(e) => stats.failures.push(format!("user {index} ({phone}): {e:#}")),
            }
        }));
    }

    // Faults, by progress: a worker killed at half, Redis unreachable for 5 s at 65 %, a master shut at 80 %.
    let mut fault_log: Vec<String> = Vec::new();
    let fault_task = {
        let (rig, driver, client) = (rig.clone(), driver.clone(), client.clone());
        let outage_started = outage_started.clone();
        tokio::spawn(async move {
            // The latecomers start however this task ends.
            let _start_latecomers = outage_started.clone().drop_guard();
            let mut log = Vec::new();
            if !faults {
                return log;
            }
            // Shares of the users who do not wait for the outage.
            let at = |share: f64| (((users - latecomers) as f64 * share).ceil() as usize).max(1);
            let wait_for = |n: usize| {
                let driver = driver.clone();
                async move {
                    while driver.done.load(Ordering::Relaxed) < n {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            };
            wait_for(at(0.5)).await;
            let t = started.elapsed().as_secs_f64();
            driver.kill_ms.store(unix_ms(), Ordering::Relaxed);
            let respawned = rig.with_proc("worker-1", |p| {
                p.kill9();
                p.spawn()
            });
            let healthy = match respawned {
                Some(Ok(())) => wait_healthy(&rig, "worker-1", &client).await,
                Some(Err(e)) => Err(e),
                None => Err(anyhow::anyhow!("no worker-1")),
            };
            log.push(format!(
                "{t:.1} s: worker-1 killed (SIGKILL) and restarted with the same WORKER_NAME{}",
                match healthy {
                    Ok(()) => String::new(),
                    Err(e) => format!(" -- FAILED: {e:#}"),
                }
            ));
            wait_for(at(0.65)).await;
            let t = started.elapsed().as_secs_f64();
            let redis = rig.redis.clone();
            driver.outage.store(true, Ordering::Relaxed);
            let outage = tokio::task::spawn_blocking(move || redis.outage(5));
            tokio::time::sleep(Duration::from_millis(100)).await;
            outage_started.cancel();
            let how = outage.await;
            driver.outage.store(false, Ordering::Relaxed);
            log.push(match how {
                Ok(Ok(how)) => format!("{t:.1} s: Redis unreachable for 5 s ({how})"),
                Ok(Err(e)) => format!("{t:.1} s: Redis outage FAILED: {e:#}"),
                Err(e) => format!("{t:.1} s: Redis outage FAILED: {e}"),
            });
            if rig.redis.cluster {
                wait_for(at(0.8)).await;
                let t = started.elapsed().as_secs_f64();
                let redis = rig.redis.clone();
                let killed = tokio::task::spawn_blocking(move || redis.kill_a_master()).await;
                log.push(match killed {
                    Ok(Ok(node)) => format!("{t:.1} s: master {node} shut down (no save): the cluster fails over"),
                    Ok(Err(e)) => format!("{t:.1} s: killing a master FAILED: {e:#}"),
                    Err(e) => format!("{t:.1} s: killing a master FAILED: {e}"),
                });
            }
            log
        })
    };

    // Progress, and a watch on processes that die on their own.
    let progress = {
        let (rig, driver) = (rig.clone(), driver.clone());
        tokio::spawn(async move {
            let mut died = None;
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let done = driver.done.load(Ordering::Relaxed);
                println!("onboarding_e2e: {:>6.1} s: {done}/{users} users done", started.elapsed().as_secs_f64());
                if died.is_none() {
                    died = rig.dead();
                    if let Some(d) = &died {
                        eprintln!("onboarding_e2e: {d}");
                    }
                }
            }
        })
    };
    for task in tasks {
        task.await.context("a user task panicked")?;
    }
    let elapsed = started.elapsed();
    fault_log.extend(fault_task.await.unwrap_or_default());
    // Late duplicates would show now: wait until the simulator's log has been still for 3 s (at most 30 s).
    let quiet_deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let idle = log.last_new.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
        if idle >= Duration::from_secs(3) || Instant::now() > quiet_deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    progress.abort();
    stop.cancel();
    let _ = poller.await;

    // Costs.
    let ticks_end = rig.ticks();
    let self_end = proc_ticks(std::process::id()).unwrap_or(0);
    let redis_cpu = rig.redis.info_sum("cpu", &["used_cpu_sys", "used_cpu_user"]) - redis_cpu_start;
    let redis_mem = rig.redis.info_sum("memory", &["used_memory"]) - redis_mem_start;
    let (keys, key_bytes) = {
        let (redis, prefix) = (rig.redis.clone(), prefix.clone());
        tokio::task::spawn_blocking(move || redis.prefix_usage(&prefix)).await??
    };
    let cpu = |name: &str| {
        let start = ticks_start.iter().find(|(n, _)| n == name).map_or(0, |(_, t)| *t);
        let end = ticks_end.iter().find(|(n, _)| n == name).map_or(0, |(_, t)| *t);
        end.saturating_sub(start) as f64 / tick
    };

    // The check: every user's messages, exactly as expected, once each, in order, from their number.
    let by_user = std::mem::take(&mut *log.by_user.lock().unwrap_or_else(|p| p.into_inner()));
    let mut lost = 0usize;
    let mut duplicated = 0usize;
    let mut repeats_at_kill = 0usize;
    let kill_ms = driver.kill_ms.load(Ordering::Relaxed);
    let mut wrong = Vec::new();
    for (phone, number, want) in &expected {
        let got = by_user.get(phone).cloned().unwrap_or_default();
        let texts: Vec<&str> = got.iter().map(|r| r.text.as_str()).collect();
        let from_other = got.iter().filter(|r| r.from_number != *number).count();
        if texts == want.iter().map(String::as_str).collect::<Vec<_>>() && from_other == 0 {
            continue;
        }
        let mut missing = 0;
        let mut extra = 0;
        for w in want {
            let (g, e) = (texts.iter().filter(|t| *t == w).count(), want.iter().filter(|t| *t == w).count());
            missing += e.saturating_sub(g);
            extra += g.saturating_sub(e);
        }
        let unexpected = texts.iter().filter(|t| !want.iter().any(|w| w == *t)).count();
        // A repeat whose first copy reached the simulator shortly before the worker's SIGKILL: a send the dead
        // worker made but had not recorded as done.
        for (i, r) in got.iter().enumerate() {
            if let Some(first) = got[..i].iter().find(|f| f.text == r.text)
                && kill_ms > 0
                && first.received_ms <= kill_ms
                && kill_ms - first.received_ms <= 2000
            {
                repeats_at_kill += 1;
            }
        }
        lost += missing;
        duplicated += extra;
        let listing: Vec<String> = got
            .iter()
            .map(|r| {
                format!(
                    "{} @{}{} from {}: {:?}",
                    r.wamid,
                    r.received_ms,
                    if kill_ms > 0 {
                        format!(" (SIGKILL {:+} ms)", r.received_ms as i64 - kill_ms as i64)
                    } else {
                        String::new()
                    },
                    r.from_number,
                    r.text.chars().take(40).collect::<String>()
                )
            })
            .collect();
        wrong.push(format!(
            "{phone}: {missing} missing, {extra} repeated, {unexpected} unexpected, {from_other} from another number; \
             got:\n      {}",
            listing.join("\n      ")
        ));
    }
    let strangers: Vec<&String> = by_user.keys().filter(|k| !expected.iter().any(|(p, _, _)| p == *k)).collect();

    let mut stats = std::mem::take(&mut *driver.stats.lock().unwrap_or_else(|p| p.into_inner()));
    stats.answer_us.sort_unstable();
    for v in stats.reply_ms.values_mut() {
        v.sort_unstable();
    }
    let finished = stats.finished as usize;
    let service_cpu: f64 = ["serve-1", "serve-2", "worker-1", "worker-2"].iter().map(|n| cpu(n)).sum();
    let per = |x: f64| if finished > 0 { x / finished as f64 } else { f64::NAN };
    let ms = |us: u64| us as f64 / 1000.0;
    let reply = |class: Class| {
        let v = stats.reply_ms.get(&class).cloned().unwrap_or_default();
        format!(
            "{} / {} ms (max {}, n={})",
            percentile(&v, 50.0),
            percentile(&v, 99.0),
            v.last().copied().unwrap_or(0),
            v.len()
        )
    };
    let refused: Vec<String> = {
        let mut r: Vec<_> = stats.refused.iter().collect();
        r.sort();
        r.iter().map(|(s, n)| if **s == 0 { format!("{n} no answer") } else { format!("{n}× {s}") }).collect()
    };

    println!();
    println!("| onboarding_e2e | |");
    println!("|---|---|");
    println!("| users finished | {finished} of {users} |");
    println!("| time | {:.1} s |", elapsed.as_secs_f64());
    println!("| onboardings per minute | {:.0} |", finished as f64 / elapsed.as_secs_f64() * 60.0);
    println!("| webhooks accepted (200) | {} |", stats.webhooks);
    println!("| webhooks redelivered | {} |", if refused.is_empty() { "0".to_owned() } else { refused.join(", ") });
    println!(
        "| webhook answer p50 / p99 (200s) | {:.1} / {:.1} ms (max {:.1}) |",
        ms(percentile(&stats.answer_us, 50.0)),
        ms(percentile(&stats.answer_us, 99.0)),
        ms(stats.answer_us.last().copied().unwrap_or(0))
    );
    println!("| webhook to reply p50 / p99, text and taps | {} |", reply(Class::Text));
    println!("| webhook to reply p50 / p99, photo (download + check) | {} |", reply(Class::Photo));
    println!("| webhook to reply p50 / p99, selfie (\"checking\") | {} |", reply(Class::Selfie));
    println!("| selfie to outcome p50 / p99 (checks + providers) | {} |", reply(Class::Outcome));
    println!(
        "| CPU s per onboarding, services (2 serve + 2 worker) | {:.3} ({:.1} s: serve {:.1} + {:.1}, worker {:.1} + {:.1}) |",
        per(service_cpu),
        service_cpu,
        cpu("serve-1"),
        cpu("serve-2"),
        cpu("worker-1"),
        cpu("worker-2")
    );
    println!("| CPU s per onboarding, Redis (INFO used_cpu_sys + user) | {:.3} ({redis_cpu:.1} s) |", per(redis_cpu));
    println!(
        "| CPU s, Graph API simulator / driver with provider simulator | {:.1} / {:.1} |",
        cpu("sim"),
        self_end.saturating_sub(self_start) as f64 / tick
    );
    println!(
        "| Redis memory per onboarding (INFO used_memory delta) | {:.1} KB ({:.1} MB) |",
        per(redis_mem) / 1024.0,
        redis_mem / 1_048_576.0
    );
    println!(
        "| Redis keys of the run, MEMORY USAGE per onboarding | {keys} keys, {:.1} KB ({:.1} MB) |",
        per(key_bytes as f64) / 1024.0,
        key_bytes as f64 / 1_048_576.0
    );
    println!("| messages in the simulator's log | {} |", log.read.load(Ordering::Relaxed));
    if faults {
        let mut during: Vec<_> = stats.during_outage.iter().collect();
        during.sort();
        let during: Vec<String> =
            during.iter().map(|(s, n)| if **s == 0 { format!("{n} no answer") } else { format!("{n}× {s}") }).collect();
        println!(
            "| webhooks sent while Redis was unreachable | {} (slowest answer {:.0} ms) |",
            if during.is_empty() { "none".to_owned() } else { during.join(", ") },
            ms(stats.during_outage_max_us)
        );
    }
    println!("| lost / duplicated replies | {lost} / {duplicated} |");
    if faults {
        println!("| of the duplicated: first copy sent in the 2 s before the worker's SIGKILL | {repeats_at_kill} |");
    }
    println!("| users whose log differs from the expected | {} |", wrong.len());
    println!();
    for line in &fault_log {
        println!("onboarding_e2e: fault at {line}");
    }
    for failure in stats.failures.iter().take(20) {
        eprintln!("onboarding_e2e: FAILED {failure}");
    }
    for w in wrong.iter().take(20) {
        eprintln!("onboarding_e2e: WRONG LOG {w}");
    }
    if !strangers.is_empty() {
        eprintln!("onboarding_e2e: messages to {} recipients that are no bench user", strangers.len());
    }
    let fault_failed = fault_log.iter().any(|l| l.contains("FAILED"));
    if !stats.failures.is_empty() || !wrong.is_empty() || !strangers.is_empty() || fault_failed || finished != users {
        bail!(
            "{} users did not finish, {} users' logs differ ({lost} lost, {duplicated} duplicated){}",
            users - finished,
            wrong.len(),
            if fault_failed { ", a fault could not be played" } else { "" }
        );
    }
    drop(provider);
    Ok(())
}
