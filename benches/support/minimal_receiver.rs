//! The reference the ingress is measured against (issue 16): a minimal axum webhook receiver that does the same
//! essential work, and nothing else. Per request: the HMAC-SHA256 check of the raw body (the service's own
//! constant-time `signature::verify`), a JSON parse of the envelope, and for each message one atomic Lua call that
//! claims its id (`SET NX EX`) and pushes the body to a list; then 200 (401 on a bad signature, 503 when Redis
//! fails). No metrics, no logs, no typed envelope, no job format.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;

struct Receiver {
    conn: redis::aio::MultiplexedConnection,
    script: redis::Script,
    secret: Vec<u8>,
    prefix: String,
}

const CLAIM_AND_PUSH: &str = r"
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
";

async fn webhook(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers.get("x-hub-signature-256").and_then(|h| h.to_str().ok());
    if wa_onboard::webhook::signature::verify(&receiver.secret, header, &body).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(envelope) = serde_json::from_slice::<Value>(&body) else { return StatusCode::OK };
    let mut ids: Vec<&str> = Vec::new();
    for entry in envelope["entry"].as_array().into_iter().flatten() {
        for change in entry["changes"].as_array().into_iter().flatten() {
            for message in change["value"]["messages"].as_array().into_iter().flatten() {
                ids.extend(message["id"].as_str());
            }
        }
    }
    for id in ids {
        let mut conn = receiver.conn.clone();
        let claimed = receiver
            .script
            .key(format!("{}:{{in}}:claim:{id}", receiver.prefix))
            .key(format!("{}:{{in}}:queue", receiver.prefix))
            .arg(body.as_ref())
            .arg(691_200)
            .invoke_async::<i64>(&mut conn)
            .await;
        if claimed.is_err() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    StatusCode::OK
}

/// Serves on `addr` until killed, keys under `prefix` on the Redis at `url` (one server).
pub fn serve(addr: &str, url: &str, prefix: &str, secret: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let conn = redis::Client::open(url)?.get_multiplexed_async_connection().await?;
        let receiver = Arc::new(Receiver {
            conn,
            script: redis::Script::new(CLAIM_AND_PUSH),
            secret: secret.as_bytes().to_vec(),
            prefix: prefix.to_owned(),
        });
        let app = axum::Router::new()
            .route("/webhook", post(webhook))
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .with_state(receiver);
        let listener = tokio::net::TcpListener::bind(addr).await?;
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}
