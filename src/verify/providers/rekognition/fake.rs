//! A local stand-in for the Rekognition endpoint, for tests and demos: it speaks the AWS JSON 1.1 protocol the
//! SDK uses (`POST /`, `X-Amz-Target: RekognitionService.<Operation>`, `application/x-amz-json-1.1`, errors as
//! `{"__type": ..., "message": ...}` with `X-Amzn-ErrorType`), refuses requests without a SigV4 `Authorization`
//! header, records every request body (image bytes replaced by their SHA-256, for golden files), and answers as
//! told: a similarity, how many faces the selfie shows and their quality, or an error.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What the fake answers.
#[derive(Debug, Clone)]
pub struct FakeBehavior {
    /// CompareFaces similarity (0 to 100).
    pub similarity: f32,
    /// Faces DetectFaces finds on the selfie.
    pub selfie_faces: usize,
    pub sharpness: f32,
    pub brightness: f32,
    pub eyes_open: bool,
    /// Answer every call with this error (`__type`) and HTTP status.
    pub error: Option<(String, u16)>,
    /// Answer the next this many calls with `ThrottlingException`, then normally (a burst).
    pub throttle_next: usize,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Default for FakeBehavior {
    fn default() -> Self {
        Self {
            similarity: 99.2,
            selfie_faces: 1,
            sharpness: 86.0,
            brightness: 74.0,
            eyes_open: true,
            error: None,
            throttle_next: 0,
            delay: Duration::ZERO,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// `CompareFaces`, `DetectFaces`.
    pub operation: String,
    /// The JSON body with every `Bytes` replaced by `sha256:<hex>`.
    pub body: Value,
}

#[derive(Default)]
struct FakeState {
    behavior: Mutex<FakeBehavior>,
    requests: Mutex<Vec<Recorded>>,
}

pub struct FakeRekognition {
    pub url: String,
    state: Arc<FakeState>,
    _server: tokio::task::JoinHandle<()>,
}

impl FakeRekognition {
    pub async fn start(behavior: FakeBehavior) -> std::io::Result<Self> {
        let state = Arc::new(FakeState { behavior: Mutex::new(behavior), requests: Mutex::default() });
        let app = Router::new().route("/", post(handle)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, state, _server: server })
    }

    pub fn set(&self, behavior: FakeBehavior) {
        *self.state.behavior.lock().unwrap_or_else(|p| p.into_inner()) = behavior;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Replaces image bytes by their digest, so bodies can be compared with golden files.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "Bytes"
                    && let Some(b64) = v.as_str()
                {
                    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default();
                    *v = Value::String(format!("sha256:{}", hex::encode(Sha256::digest(&bytes))));
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn error(kind: &str, status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, axum::Json(json!({ "__type": kind, "message": message }))).into_response();
    if let Ok(v) = HeaderValue::from_str(kind) {
        response.headers_mut().insert("x-amzn-errortype", v);
    }
    response
}

fn bbox() -> Value {
    json!({ "Width": 0.3, "Height": 0.4, "Left": 0.35, "Top": 0.2 })
}

async fn handle(State(state): State<Arc<FakeState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential="));
    if !authorized {
        return error("MissingAuthenticationTokenException", 403, "Missing Authentication Token");
    }
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let operation = target.strip_prefix("RekognitionService.").unwrap_or(target).to_owned();
    let Ok(mut parsed) = serde_json::from_slice::<Value>(&body) else {
        return error("SerializationException", 400, "body is not JSON");
    };
    // Redaction keeps every field but the image bytes.
    let threshold = parsed.get("SimilarityThreshold").and_then(Value::as_f64).map_or(80.0, |t| t as f32);
    redact(&mut parsed);
    state
        .requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Recorded { operation: operation.clone(), body: parsed });
    let behavior = {
        let mut b = state.behavior.lock().unwrap_or_else(|p| p.into_inner());
        let now = b.clone();
        b.throttle_next = b.throttle_next.saturating_sub(1);
        now
    };
    if !behavior.delay.is_zero() {
        tokio::time::sleep(behavior.delay).await;
    }
    if behavior.throttle_next > 0 {
        return error("ThrottlingException", 400, "Rate exceeded");
    }
    if let Some((kind, status)) = &behavior.error {
        return error(kind, *status, "as configured");
    }
    match operation.as_str() {
        "DetectFaces" => {
            let faces: Vec<Value> = (0..behavior.selfie_faces)
                .map(|_| {
                    json!({
                        "BoundingBox": bbox(),
                        "Confidence": 99.9,
                        "Quality": { "Brightness": behavior.brightness, "Sharpness": behavior.sharpness },
                        "EyesOpen": { "Value": behavior.eyes_open, "Confidence": 98.5 },
                        "FaceOccluded": { "Value": false, "Confidence": 97.0 }
                    })
                })
                .collect();
            axum::Json(json!({ "FaceDetails": faces })).into_response()
        }
        "CompareFaces" => {
            let face = json!({ "BoundingBox": bbox(), "Confidence": 99.8 });
            // What Rekognition does: matches at or above the request's threshold, the rest unmatched.
            let (matches, unmatched) = if behavior.similarity >= threshold {
                (vec![json!({ "Similarity": behavior.similarity, "Face": face })], vec![])
            } else {
                (vec![], vec![face])
            };
            axum::Json(json!({
                "SourceImageFace": { "BoundingBox": bbox(), "Confidence": 99.7 },
                "FaceMatches": matches,
                "UnmatchedFaces": unmatched
            }))
            .into_response()
        }
        other => error("InvalidParameterException", 400, &format!("operation {other} is not faked")),
    }
}
