//! What a client may hold of the server, with slow and greedy clients on raw sockets: headers and bodies must
//! arrive in time, idle keep-alive connections are closed, and beyond the connection cap a newcomer gets a clear
//! 503 while the others keep working. And the stop: 503 with `Connection: close` while draining, `/healthz`
//! still answering, and the server gone within the grace period even with a half-sent request open.

mod common;

use std::time::{Duration, Instant};

use common::{Backend, open_backend, spawn_app_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wa_onboard::app::{App, Workers};

const LIMITS: &[(&str, &str)] = &[
    ("HTTP_HEADER_TIMEOUT_SECS", "1"),
    ("HTTP_BODY_TIMEOUT_SECS", "1"),
    ("HTTP_IDLE_TIMEOUT_SECS", "2"),
    ("HTTP_MAX_CONNECTIONS", "4"),
];

async fn connect(base: &str) -> TcpStream {
    TcpStream::connect(base.trim_start_matches("http://")).await.expect("the server accepts")
}

/// Reads until the server closes the connection (or `limit` passes: then panics); answers what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut out)).await {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => panic!("the server kept the connection open for more than {limit:?}"),
    }
}

/// Reads one `GET /healthz` answer from a keep-alive connection.
async fn read_healthz(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 256];
    while !out.ends_with(b"ok\n") {
        let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await.expect("an answer").unwrap();
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn healthz_answers(base: &str) {
    let response = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .expect("/healthz answers");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn slow_headers_slow_bodies_and_idle_connections_are_closed() {
    let (backend, redis) = open_backend(Backend::Memory, "http-limits").await;
    let app = spawn_app_with(backend, redis, LIMITS, Workers::None).await;

    // Headers that never end: closed after the header timeout, without an answer.
    let mut slow_headers = connect(&app.base).await;
    slow_headers.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // A body that never ends: 408 after the body timeout.
    let mut slow_body = connect(&app.base).await;
    slow_body
        .write_all(
            b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"obj",
        )
        .await
        .unwrap();
    // A keep-alive connection that served one request and then says nothing: closed after the idle timeout.
    let mut idle = connect(&app.base).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(read_healthz(&mut idle).await.starts_with("HTTP/1.1 200"), "the first request is served");

    let started = Instant::now();
    // Meanwhile everyone else is served.
    healthz_answers(&app.base).await;
    let headers_answer = read_until_closed(&mut slow_headers, Duration::from_secs(4)).await;
    assert_eq!(headers_answer, "", "nothing is answered to headers that never end");
    let body_answer = read_until_closed(&mut slow_body, Duration::from_secs(4)).await;
    assert!(body_answer.starts_with("HTTP/1.1 408"), "{body_answer}");
    assert!(body_answer.to_ascii_lowercase().contains("connection: close"), "{body_answer}");
    let idle_answer = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert_eq!(idle_answer, "");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500), "the idle timeout is 2 s, closed after {waited:?}");
    let metrics = app.metrics().await;
    assert!(common::metric(&metrics, "wa_onboard_http_connections_timed_out_total{reason=\"idle\"}") >= 1.0);
    assert!(common::metric(&metrics, "wa_onboard_http_connections_timed_out_total{reason=\"slow headers\"}") >= 1.0);
}

#[tokio::test]
async fn beyond_the_connection_cap_a_newcomer_gets_503_and_the_others_keep_working() {
    let (backend, redis) = open_backend(Backend::Memory, "http-cap").await;
    let app = spawn_app_with(backend, redis, LIMITS, Workers::None).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app.base).await;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let mut newcomer = connect(&app.base).await;
    let answer = read_until_closed(&mut newcomer, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    // The connections held still work.
    held[0].write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    assert!(read_healthz(&mut held[0]).await.starts_with("HTTP/1.1 200"));
    // One closes: a new client is served again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    healthz_answers(&app.base).await;
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(common::metric(&app.metrics().await, "wa_onboard_http_connections_refused_total") >= 1.0);
}

#[tokio::test]
async fn a_stop_ends_within_the_grace_period_despite_a_half_sent_request() {
    let (backend, _redis) = open_backend(Backend::Memory, "http-stop").await;
    let mut pairs = vec![("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows")), ("SHUTDOWN_GRACE_SECS", "2")];
    // Long read timeouts: only the grace period can end the half-sent request.
    pairs.extend([("HTTP_HEADER_TIMEOUT_SECS", "60"), ("HTTP_BODY_TIMEOUT_SECS", "60")]);
    let app = App::with_backend(common::config(&pairs), backend, Workers::Run).await.expect("app builds");
    let base = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    healthz_answers(&base).await;
    let mut half_sent = connect(&base).await;
    half_sent.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{").await.unwrap();
    let mut keep_alive = connect(&base).await;
    keep_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    read_healthz(&mut keep_alive).await;

    let asked = Instant::now();
    stop.send(()).unwrap();
    // The idle keep-alive connection is closed at once; the half-sent request at the end of the grace period.
    read_until_closed(&mut keep_alive, Duration::from_secs(1)).await;
    let finished = tokio::time::timeout(Duration::from_secs(4), server).await;
    assert!(finished.is_ok(), "the server did not stop within the 2 s grace period (and margin)");
    let took = asked.elapsed();
    assert!(took < Duration::from_millis(2500), "stopped after {took:?}");
    read_until_closed(&mut half_sent, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn while_draining_only_the_liveness_probe_is_served() {
    use axum::routing::get;
    let draining = wa_onboard::http::Draining::default();
    let gate = draining.clone();
    let router = axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/webhook", get(|| async { "served" }))
        .layer(axum::middleware::from_fn(move |request, next| {
            wa_onboard::http::gate::refuse_while_draining(gate.clone(), request, next)
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{base}/webhook")).send().await.unwrap().text().await.unwrap(), "served");
    draining.start();
    let refused = client.get(format!("{base}/webhook")).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["connection"], "close");
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(client.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
}
