//! Graph API errors and what to do about each: retry after a while, never, send a template, or stop everything.
//!
//! The decision is built on Meta's error `code` (see docs/whatsapp.md for the table), then on the HTTP status
//! when the body carries no code.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::message::MessageLimitError;

/// The `error` object of a Graph API error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: ApiErrorBody,
}

/// What went wrong talking to the Graph API.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GraphError {
    /// Meta answered with an error object.
    #[error("Graph API error {} (HTTP {status}): {}{}", error.code, error.message, details(error))]
    Api { status: u16, error: Box<ApiErrorBody> },
    /// A non-success HTTP status without a readable error object.
    #[error("Graph API answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// The request was sent but no answer came back (timeout, reset...): Meta may have accepted it.
    #[error("no answer from the Graph API: {0}")]
    Network(String),
    /// No connection could be made: the request never left this process.
    #[error("cannot reach the Graph API: {0}")]
    Unreached(String),
    /// The access token expired earlier (code 190): no request is sent until it is replaced.
    #[error("the WhatsApp access token has expired: sending is stopped until it is replaced")]
    TokenExpired,
    /// The message breaks a WhatsApp limit; it was not sent.
    #[error("the message was not sent: {0}")]
    InvalidMessage(String),
    /// Meta answered success with a body this client cannot read.
    #[error("unexpected answer from the Graph API: {0}")]
    UnexpectedResponse(String),
}

fn details(error: &ApiErrorBody) -> String {
    match error.error_data.as_ref().and_then(|d| d.details.as_deref()) {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

impl From<MessageLimitError> for GraphError {
    fn from(e: MessageLimitError) -> Self {
        Self::InvalidMessage(e.to_string())
    }
}

/// Why a message will never go through, as recorded for the audit and the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permanent {
    /// Meta's error code, when there is one.
    pub code: Option<i64>,
    /// A short category: `undeliverable`, `unsupported`, `media`, `template`, `policy`, `invalid_request`,
    /// `invalid_message`, `gave_up`.
    pub category: String,
    pub message: String,
}

/// The decision for a failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Try again after this long.
    After(Duration),
    /// Never retry: record why.
    Never(Permanent),
    /// Outside the 24-hour customer service window (131047): send a template instead.
    WindowClosed,
    /// The access token expired (190 / HTTP 401): stop sending and alert.
    TokenExpired,
}

/// Backoff bases and caps. Jittered exponential: half of `base * 2^attempt` (capped) plus a random part of
/// up to the other half, so concurrent senders spread out.
const THROUGHPUT_BASE: Duration = Duration::from_secs(2);
const THROUGHPUT_CAP: Duration = Duration::from_secs(60);
const APP_LIMIT_BASE: Duration = Duration::from_secs(10);
const APP_LIMIT_CAP: Duration = Duration::from_secs(300);
const TRANSIENT_BASE: Duration = Duration::from_secs(1);
const TRANSIENT_CAP: Duration = Duration::from_secs(60);
/// 131056 pair rate: 4^n seconds, n = attempt + 1, up to 4^5 s (about 17 minutes).
const PAIR_RATE_MAX_EXPONENT: u32 = 5;

/// `min(cap, base * 2^attempt)`, of which the upper half is random.
pub fn jittered_backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.min(20))).min(cap);
    let half = exp / 2;
    let jitter_ms = fastrand::u64(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter_ms)
}

/// The pair-rate wait for `attempt` (0 for the first failure): 4, 16, 64, 256, 1024 seconds.
pub fn pair_rate_backoff(attempt: u32) -> Duration {
    Duration::from_secs(4u64.pow((attempt + 1).min(PAIR_RATE_MAX_EXPONENT)))
}

fn never(code: Option<i64>, category: &str, message: &str) -> Retry {
    Retry::Never(Permanent { code, category: category.to_owned(), message: message.to_owned() })
}

impl GraphError {
    /// Meta's error code, when the answer had one.
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Api { error, .. } => Some(error.code),
            Self::TokenExpired => Some(190),
            _ => None,
        }
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Reads an error answer: the `{"error":{...}}` object when there is one, else the status and body.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(envelope) => Self::Api { status, error: Box::new(envelope.error) },
            Err(_) => Self::Http { status, body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned() },
        }
    }

    /// Whether Meta may have accepted the message all the same: no answer came back, or a success this client
    /// could not read. A send that failed so is *in doubt* (see `whatsapp::sender`).
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, Self::Network(_) | Self::UnexpectedResponse(_))
    }

    /// Whether this error means the token is no longer valid.
    pub fn is_token_expired(&self) -> bool {
        matches!(self.retry_policy(0), Retry::TokenExpired)
    }

    /// What to do after `attempt` (0 for the first try) failed with this error.
    pub fn retry_policy(&self, attempt: u32) -> Retry {
        let transient = || Retry::After(jittered_backoff(TRANSIENT_BASE, attempt, TRANSIENT_CAP));
        match self {
            Self::TokenExpired => Retry::TokenExpired,
            Self::Network(_) | Self::Unreached(_) => transient(),
            Self::InvalidMessage(m) => never(None, "invalid_message", m),
            // Meta accepted something we cannot read: the message may have gone out; do not send it twice.
            Self::UnexpectedResponse(m) => never(None, "unexpected_response", m),
            Self::Http { status, body } => match status {
                401 => Retry::TokenExpired,
                429 => Retry::After(jittered_backoff(THROUGHPUT_BASE, attempt, THROUGHPUT_CAP)),
                500..=599 => transient(),
                _ => never(None, "invalid_request", body),
            },
            Self::Api { status, error } => {
                let m = error.message.as_str();
                match error.code {
                    190 => Retry::TokenExpired,
                    130429 => Retry::After(jittered_backoff(THROUGHPUT_BASE, attempt, THROUGHPUT_CAP)),
                    131056 => Retry::After(pair_rate_backoff(attempt)),
                    4 | 80007 => Retry::After(jittered_backoff(APP_LIMIT_BASE, attempt, APP_LIMIT_CAP)),
                    1 | 2 | 131000 | 131016 => transient(),
                    131047 => Retry::WindowClosed,
                    131026 => never(Some(error.code), "undeliverable", m),
                    131051 => never(Some(error.code), "unsupported", m),
                    131052 | 131053 => never(Some(error.code), "media", m),
                    132000..=132999 => never(Some(error.code), "template", m),
                    368 => never(Some(error.code), "policy", m),
                    _ if *status == 401 => Retry::TokenExpired,
                    _ if *status >= 500 => transient(),
                    _ if *status == 429 => Retry::After(jittered_backoff(THROUGHPUT_BASE, attempt, THROUGHPUT_CAP)),
                    code => never(Some(code), "invalid_request", m),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: i64) -> GraphError {
        let body = format!(
            r#"{{"error":{{"message":"m{code}","type":"OAuthException","code":{code},
                "error_data":{{"messaging_product":"whatsapp","details":"d"}},"error_subcode":2494010,"fbtrace_id":"AbC"}}}}"#
        );
        GraphError::from_response(status, body.as_bytes())
    }

    #[derive(Debug, PartialEq)]
    enum Expect {
        Backoff { min: Duration, max: Duration },
        Never(&'static str),
        Window,
        Token,
    }

    fn check(error: &GraphError, attempt: u32, expect: &Expect) {
        for _ in 0..50 {
            let decision = error.retry_policy(attempt);
            match (expect, &decision) {
                (Expect::Backoff { min, max }, Retry::After(d)) => {
                    assert!(d >= min && d <= max, "{error}: attempt {attempt}: {d:?} not in {min:?}..={max:?}")
                }
                (Expect::Never(category), Retry::Never(p)) => {
                    assert_eq!(p.category, *category, "{error}");
                    assert_eq!(p.code, error.code().filter(|_| matches!(error, GraphError::Api { .. })));
                }
                (Expect::Window, Retry::WindowClosed) | (Expect::Token, Retry::TokenExpired) => {}
                _ => panic!("{error}: attempt {attempt}: expected {expect:?}, got {decision:?}"),
            }
        }
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn parses_metas_error_object() {
        let e = api(400, 131047);
        let GraphError::Api { status, error } = &e else { panic!("{e:?}") };
        assert_eq!(*status, 400);
        assert_eq!(error.code, 131047);
        assert_eq!(error.error_subcode, Some(2494010));
        assert_eq!(error.kind.as_deref(), Some("OAuthException"));
        assert_eq!(error.fbtrace_id.as_deref(), Some("AbC"));
        assert_eq!(error.error_data.as_ref().unwrap().details.as_deref(), Some("d"));
        assert_eq!(e.to_string(), "Graph API error 131047 (HTTP 400): m131047 (d)");
        assert!(matches!(GraphError::from_response(502, b"<html>bad gateway"), GraphError::Http { status: 502, .. }));
    }

    #[test]
    fn every_code_has_its_decision() {
        use Expect::*;
        let table: Vec<(GraphError, u32, Expect)> = vec![
            // Throughput: 2 s * 2^n, half of it jittered, capped at 60 s.
            (api(429, 130429), 0, Backoff { min: s(1), max: s(2) }),
            (api(429, 130429), 3, Backoff { min: s(8), max: s(16) }),
            (api(429, 130429), 30, Backoff { min: s(30), max: s(60) }),
            // Pair rate: 4^n seconds.
            (api(400, 131056), 0, Backoff { min: s(4), max: s(4) }),
            (api(400, 131056), 1, Backoff { min: s(16), max: s(16) }),
            (api(400, 131056), 2, Backoff { min: s(64), max: s(64) }),
            (api(400, 131056), 9, Backoff { min: s(1024), max: s(1024) }),
            // App and account limits.
            (api(400, 4), 0, Backoff { min: s(5), max: s(10) }),
            (api(400, 80007), 1, Backoff { min: s(10), max: s(20) }),
            (api(400, 80007), 12, Backoff { min: s(150), max: s(300) }),
            // Transient.
            (api(500, 1), 0, Backoff { min: Duration::from_millis(500), max: s(1) }),
            (api(500, 2), 2, Backoff { min: s(2), max: s(4) }),
            (api(500, 131000), 1, Backoff { min: s(1), max: s(2) }),
            (api(400, 131016), 0, Backoff { min: Duration::from_millis(500), max: s(1) }),
            (api(503, 999_999), 0, Backoff { min: Duration::from_millis(500), max: s(1) }),
            (GraphError::Http { status: 502, body: String::new() }, 40, Backoff { min: s(30), max: s(60) }),
            (GraphError::Network("connection refused".into()), 1, Backoff { min: s(1), max: s(2) }),
            (GraphError::Http { status: 429, body: String::new() }, 0, Backoff { min: s(1), max: s(2) }),
            // Window closed.
            (api(400, 131047), 0, Window),
            // Token.
            (api(401, 190), 0, Token),
            (api(400, 190), 0, Token),
            (api(401, 0), 0, Token),
            (GraphError::Http { status: 401, body: String::new() }, 0, Token),
            (GraphError::TokenExpired, 0, Token),
            // Permanent.
            (api(400, 131026), 0, Never("undeliverable")),
            (api(400, 131051), 0, Never("unsupported")),
            (api(400, 131052), 0, Never("media")),
            (api(400, 131053), 0, Never("media")),
            (api(400, 132000), 0, Never("template")),
            (api(400, 132001), 0, Never("template")),
            (api(400, 132015), 0, Never("template")),
            (api(400, 132999), 0, Never("template")),
            (api(400, 368), 0, Never("policy")),
            (api(400, 131009), 0, Never("invalid_request")),
            (api(400, 100), 0, Never("invalid_request")),
            (api(404, 12345), 0, Never("invalid_request")),
            (GraphError::Http { status: 400, body: "bad".into() }, 0, Never("invalid_request")),
            (GraphError::InvalidMessage("too long".into()), 0, Never("invalid_message")),
            (GraphError::UnexpectedResponse("no id".into()), 0, Never("unexpected_response")),
        ];
        for (error, attempt, expect) in &table {
            check(error, *attempt, expect);
        }
    }

    #[test]
    fn backoff_is_jittered() {
        let e = api(429, 130429);
        let waits: std::collections::HashSet<Duration> = (0..50)
            .map(|_| match e.retry_policy(5) {
                Retry::After(d) => d,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(waits.len() > 5, "waits should differ: {waits:?}");
    }

    #[test]
    fn errors_travel_through_the_job_queue() {
        let e = api(400, 131056);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<GraphError>(&json).unwrap(), e);
    }
}
