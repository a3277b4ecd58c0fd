//! Ingress load benchmark: starts the release `wa-onboard serve`, drives
//! `POST /webhook` with signed single-text-message payloads over C keep-alive
//! HTTP/1.1 connections (closed loop) and prints throughput and latency.
//!
//! Env: BENCH_SECONDS (10), BENCH_CONNECTIONS (64), BENCH_BACKEND (redis|memory),
//! BENCH_REDIS_URL (redis://127.0.0.1:6379), BENCH_TARGET (service | minimal | both: rounds of the minimal
//! receiver of `support/minimal_receiver.rs`, then the service, with the same load, and the ratio of their
//! requests per second), BENCH_ROUNDS (3, with both).

#[path = "support/keys.rs"]
mod keys;
#[path = "support/minimal_receiver.rs"]
mod minimal_receiver;

#[path = "support/env.rs"]
mod env;
use env::env_or;

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpStream;

const APP_SECRET: &str = "bench-secret";
const WARMUP: Duration = Duration::from_secs(1);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_ERROR_SAMPLES: usize = 5;
const MSG_ID_PLACEHOLDER: &str = "__MSG_ID__";

type HmacSha256 = Hmac<Sha256>;

/// Kills the server on every exit path, including `?` and panics.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Rendered once per connection; only the message id changes per request, so a
/// body costs two copies instead of a JSON serialisation.
struct BodyTemplate {
    head: String,
    tail: String,
}

impl BodyTemplate {
    fn new(conn: usize, timestamp: u64) -> Result<Self> {
        let wa_id = format!("1650555{conn:04}");
        let user_id = format!("US.1349120865530274{conn:04}");
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550783881", "phone_number_id": "106540352242922" },
                "contacts": [{ "profile": { "name": "Sheena Nelson" }, "wa_id": wa_id, "user_id": user_id }],
                "messages": [{
                    "from": wa_id, "from_user_id": user_id, "id": MSG_ID_PLACEHOLDER,
                    "timestamp": timestamp.to_string(), "type": "text",
                    "text": { "body": "Hi! I saw your ad and I'd like to open an account for my bakery. We are a \
                        small family business with two shops in town and about a dozen employees. Could you tell \
                        me which documents I need, how long the verification usually takes, and whether I can \
                        start onboarding today from my phone? My tax ID is ready and I can send a photo of my \
                        passport. Also, is there a fee for the first month? Thanks!" }
                }]
            }}]}]
        })
        .to_string();
        let (head, tail) = body.split_once(MSG_ID_PLACEHOLDER).context("placeholder missing")?;
        Ok(Self { head: head.to_owned(), tail: tail.to_owned() })
    }

    fn render(&self, msg_id: &str) -> String {
        [self.head.as_str(), msg_id, &self.tail].concat()
    }
}

struct LoadCtx {
    addr: SocketAddr,
    measure_start: Instant,
    end: Instant,
    timestamp: u64,
    /// Keyed once; cloning skips the key schedule on every request.
    mac: HmacSha256,
    error_samples: Mutex<Vec<String>>,
}

impl LoadCtx {
    fn note_error(&self, what: String) {
        if let Ok(mut samples) = self.error_samples.lock()
            && samples.len() < MAX_ERROR_SAMPLES
        {
            samples.push(what);
        }
    }
}

#[derive(Default)]
struct TaskStats {
    latencies_us: Vec<u32>,
    requests: u64,
    errors: u64,
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender> {
    let stream = TcpStream::connect(addr).await.with_context(|| format!("connect {addr}"))?;
    // Small request/response pairs: Nagle would add delayed-ACK stalls.
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await; // failures surface on the next send_request
    });
    Ok(sender)
}

async fn connection_task(ctx: Arc<LoadCtx>, conn_id: usize) -> Result<TaskStats> {
    let template = BodyTemplate::new(conn_id, ctx.timestamp)?;
    let host = ctx.addr.to_string();
    let mut stats = TaskStats { latencies_us: Vec::with_capacity(1 << 16), ..Default::default() };
    let mut sender: Option<Sender> = None;
    let mut counter = 0u64;
    while Instant::now() < ctx.end {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => sender.insert(connect(ctx.addr).await?),
        };
        counter += 1;
        let body = template.render(&format!("wamid.bench.{conn_id}.{counter}"));
        let mut mac = ctx.mac.clone();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let req = Request::post("/webhook")
            .header(header::HOST, &host)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-hub-signature-256", signature)
            .body(Full::new(Bytes::from(body)))?;

        let started = Instant::now();
        let outcome = async {
            s.ready().await?;
            let resp = s.send_request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        }
        .await;
        let latency_us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
        // Requests started during warm-up are sent but not counted.
        let measured = started >= ctx.measure_start;
        stats.requests += u64::from(measured);
        match outcome {
            // Only accepted messages go into the latency distribution, so a fast
            // 503 path cannot make the numbers look better.
            Ok((StatusCode::OK, _)) if measured => stats.latencies_us.push(latency_us),
            Ok((StatusCode::OK, _)) => {}
            Ok((status, body)) => {
                stats.errors += u64::from(measured);
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                ctx.note_error(format!("HTTP {status}: {text}"));
            }
            Err(e) => {
                stats.errors += u64::from(measured);
                ctx.note_error(format!("transport error: {e}"));
                // The connection is unusable; back off briefly and reconnect.
                sender = None;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok(stats)
}

async fn wait_healthy(server: &mut Server, addr: SocketAddr) -> Result<()> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(status) = server.child.try_wait()? {
            bail!("server exited during startup ({status}); log tail:\n{}", server.log_tail());
        }
        let probe = async {
            let req = Request::get("/healthz").header(header::HOST, addr.to_string()).body(Full::default())?;
            anyhow::Ok(connect(addr).await?.send_request(req).await?.status())
        };
        if let Ok(Ok(StatusCode::OK)) = tokio::time::timeout(Duration::from_secs(1), probe).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("GET /healthz not 200 after {STARTUP_TIMEOUT:?}; log tail:\n{}", server.log_tail());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let idx = ((p / 100.0 * sorted.len() as f64).ceil() as usize).saturating_sub(1);
    sorted.get(idx.min(sorted.len().saturating_sub(1))).map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
}

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
struct Figures {
    rps: f64,
    p50: f64,
    p99: f64,
}

async fn run_load(server: &mut Server, addr: SocketAddr, seconds: f64, connections: usize) -> Result<Figures> {
    wait_healthy(server, addr).await?;
    let measure_start = Instant::now() + WARMUP;
    let ctx = Arc::new(LoadCtx {
        addr,
        measure_start,
        end: measure_start + Duration::from_secs_f64(seconds),
        timestamp: SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
        mac: HmacSha256::new_from_slice(APP_SECRET.as_bytes())?,
        error_samples: Mutex::new(Vec::new()),
    });
    let tasks: Vec<_> = (0..connections).map(|i| tokio::spawn(connection_task(ctx.clone(), i))).collect();
    let mut total = TaskStats::default();
    for task in tasks {
        let stats = task
            .await
            .context("load task panicked")?
            .with_context(|| format!("load connection failed; server log tail:\n{}", server.log_tail()))?;
        total.requests += stats.requests;
        total.errors += stats.errors;
        total.latencies_us.extend(stats.latencies_us);
    }
    let lat = &mut total.latencies_us;
    lat.sort_unstable();
    let [p50, p90, p99, p999, max] = [50.0, 90.0, 99.0, 99.9, 100.0].map(|p| percentile(lat, p));
    let (requests, errors) = (total.requests, total.errors);
    println!(
        "webhook_ingress: {connections} connections, {seconds:.1} s, {requests} requests, {errors} errors, \
         {:.0} req/s, p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, max {max:.2} ms",
        requests as f64 / seconds
    );
    let samples = ctx.error_samples.lock().map(|s| s.clone()).unwrap_or_default();
    for sample in &samples {
        eprintln!("  error sample: {sample}");
    }
    if errors > 0 || lat.is_empty() {
        bail!("{errors} of {requests} requests failed; server log tail:\n{}", server.log_tail());
    }
    Ok(Figures { rps: requests as f64 / seconds, p50, p99 })
}

/// What answers the webhook in a run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    /// `wa-onboard serve` (`--no-workers` on Redis: the ingress alone, as the servers of a scaled deployment run).
    Service,
    /// The minimal receiver (`support/minimal_receiver.rs`), run by this bench's own executable.
    Minimal,
}

/// Starts `target` on `addr` with its keys under `prefix`; its log goes to a file of its own.
fn spawn(target: Target, addr: SocketAddr, prefix: &str, redis_url: Option<&str>) -> Result<Server> {
    let log = std::env::temp_dir().join(format!("wa-onboard-{prefix}-{target:?}.log"));
    let log_file = File::create(&log).with_context(|| format!("create {}", log.display()))?;
    let mut cmd = match target {
        Target::Service => {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_wa-onboard"));
            cmd.arg("serve");
            // Production mode, as deployed: the ingress alone on Redis; in memory, one process with its workers.
            cmd.arg(if redis_url.is_some() { "--no-workers" } else { "--allow-memory-store" });
            cmd.env("WHATSAPP_ACCESS_TOKEN", "bench-access-token")
                .env("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
                .env("MEDIA_ENCRYPTION_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
            cmd
        }
        Target::Minimal => {
            let url = redis_url.context("the minimal receiver needs Redis (BENCH_BACKEND=redis)")?;
            let mut cmd = Command::new(std::env::current_exe()?);
            cmd.env(MINIMAL_ADDR_ENV, addr.to_string()).env("BENCH_REDIS_URL", url).env("BENCH_PREFIX", prefix);
            cmd
        }
    };
    // Outside the repo so a developer's .env cannot change the setup.
    cmd.current_dir(std::env::temp_dir())
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_VERIFY_TOKEN", "bench-token")
        // The repository's flows: the server runs outside the repo, where a relative FLOWS_DIR finds nothing.
        .env("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))
        .env("REDIS_KEY_PREFIX", prefix)
        .env("BIND_ADDR", addr.to_string())
        // Nothing may leave the machine, should a worker ever call the Graph API.
        .env("GRAPH_API_URL", "http://127.0.0.1:9")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file);
    if let Some(url) = redis_url {
        cmd.env("REDIS_URL", url);
    }
    Ok(Server { child: cmd.spawn().with_context(|| format!("spawn {target:?}"))?, log })
}

/// Set in the child that runs the minimal receiver: the address it listens on.
const MINIMAL_ADDR_ENV: &str = "BENCH_MINIMAL_RECEIVER_ADDR";

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> Result<()> {
    if let Ok(addr) = std::env::var(MINIMAL_ADDR_ENV) {
        let url = env_or("BENCH_REDIS_URL", "redis://127.0.0.1:6379".to_string())?;
        let prefix = env_or("BENCH_PREFIX", "bench-minimal".to_string())?;
        return minimal_receiver::serve(&addr, &url, &prefix, APP_SECRET);
    }
    let seconds: f64 = env_or("BENCH_SECONDS", 10.0)?;
    let connections: usize = env_or("BENCH_CONNECTIONS", 64)?;
    let backend = env_or("BENCH_BACKEND", "redis".to_string())?;
    let redis_url = match backend.as_str() {
        "redis" => Some(env_or("BENCH_REDIS_URL", "redis://127.0.0.1:6379".to_string())?),
        "memory" => None,
        other => bail!("BENCH_BACKEND must be redis or memory, got {other:?}"),
    };
    // service (default), minimal, or both: rounds of the minimal receiver then the service, and their ratio.
    let targets = match env_or("BENCH_TARGET", "service".to_string())?.as_str() {
        "service" => vec![Target::Service],
        "minimal" => vec![Target::Minimal],
        "both" => vec![Target::Minimal, Target::Service],
        other => bail!("BENCH_TARGET must be service, minimal or both, got {other:?}"),
    };
    let rounds: usize = if targets.len() > 1 { env_or("BENCH_ROUNDS", 3)? } else { 1 };
    if seconds <= 0.0 || connections == 0 || rounds == 0 {
        bail!("BENCH_SECONDS, BENCH_CONNECTIONS and BENCH_ROUNDS must be positive");
    }

    let unix = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let prefix = format!("bench-{}-{unix}", std::process::id());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut ratios = Vec::new();
    let mut outcome = Ok(());
    'rounds: for round in 1..=rounds {
        let mut figures = Vec::new();
        for &target in &targets {
            // Tiny race until the server binds, acceptable on a dedicated bench machine.
            let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
            let mut server = spawn(target, addr, &prefix, redis_url.as_deref())?;
            println!("webhook_ingress: round {round}, {target:?} ({backend}) on {addr}, key prefix {prefix}");
            match rt.block_on(run_load(&mut server, addr, seconds, connections)) {
                Ok(f) => {
                    let _ = std::fs::remove_file(&server.log); // kept on failure for diagnosis
                    figures.push(f);
                }
                Err(e) => {
                    outcome = Err(e);
                    break 'rounds;
                }
            }
        }
        if let [minimal, service] = figures[..] {
            let ratio = service.rps / minimal.rps;
            println!(
                "webhook_ingress: round {round}: service {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms) / minimal receiver \
                 {:.0} req/s (p50 {:.2} ms, p99 {:.2} ms) = {ratio:.2}",
                service.rps, service.p50, service.p99, minimal.rps, minimal.p50, minimal.p99
            );
            ratios.push(ratio);
        }
    }
    if !ratios.is_empty() {
        let all: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "webhook_ingress: ingress / minimal receiver, median of {} rounds: {:.2} ({})",
            ratios.len(),
            median(&mut ratios),
            all.join(", ")
        );
    }
    // Every server is stopped before cleaning, so nothing writes new keys behind the scan.
    if let Some(url) = &redis_url {
        match rt.block_on(keys::delete_prefix(url, &prefix)) {
            Ok(n) => println!("webhook_ingress: removed {n} Redis keys matching {prefix}*"),
            // Leaked keys must not go unnoticed, but a load failure is the more useful error.
            Err(e) if outcome.is_ok() => return Err(e.context(format!("Redis cleanup of {prefix}* failed"))),
            Err(e) => eprintln!("webhook_ingress: Redis cleanup of {prefix}* failed: {e:#}"),
        }
    }
    outcome
}
