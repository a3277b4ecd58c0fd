//! A scripted WhatsApp user: sends webhooks to a running app exactly as Meta would (signed, one message each)
//! and collects the bot's answers from the Graph API simulator. Used by `wa-onboard demo` and the end-to-end
//! tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};

use crate::sim::SimState;
use crate::webhook::signature;

/// One line of a conversation, as the transcript shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    User(String),
    Bot(String),
}

pub struct User {
    pub name: String,
    pub phone: String,
    webhook: String,
    secret: String,
    phone_number_id: String,
    sim: Arc<SimState>,
    client: reqwest::Client,
    clock: AtomicU64,
    seen: usize,
    pub transcript: Vec<Line>,
    /// How long a webhook that was not answered 200 is delivered again (the same body), as Meta does; zero:
    /// not at all, the first answer is final.
    redeliver_for: Duration,
}

static MESSAGE_IDS: AtomicU64 = AtomicU64::new(1);

impl User {
    pub fn new(
        name: &str,
        phone: &str,
        base_url: &str,
        secret: &str,
        phone_number_id: &str,
        sim: Arc<SimState>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            phone: phone.to_owned(),
            webhook: format!("{base_url}/webhook"),
            secret: secret.to_owned(),
            phone_number_id: phone_number_id.to_owned(),
            sim,
            client: reqwest::Client::new(),
            clock: AtomicU64::new(crate::clock::Clock::now_secs(&crate::clock::SystemClock)),
            seen: 0,
            transcript: Vec::new(),
            redeliver_for: Duration::ZERO,
        }
    }

    /// Delivers each webhook again (the same body, every 200 ms) until it is answered 200 or `limit` has passed,
    /// as Meta does with a 503 or an unanswered request.
    pub fn redelivering_for(mut self, limit: Duration) -> Self {
        self.redeliver_for = limit;
        self
    }

    fn envelope(&self, message: Value) -> Vec<u8> {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": self.phone_number_id},
                "contacts": [{"profile": {"name": self.name}, "wa_id": self.phone}],
                "messages": [message]}}]}]
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn message(&self, kind: &str, content: Value) -> Value {
        let id = format!("wamid.demo.{}", MESSAGE_IDS.fetch_add(1, Ordering::Relaxed));
        let timestamp = self.clock.fetch_add(1, Ordering::Relaxed).to_string();
        let mut message = json!({"from": self.phone, "id": id, "timestamp": timestamp, "type": kind});
        message[kind] = content;
        message
    }

    async fn post(&mut self, message: Value, line: String) -> anyhow::Result<()> {
        let body = self.envelope(message);
        let started = Instant::now();
        loop {
            let answer = self
                .client
                .post(&self.webhook)
                .header("content-type", "application/json")
                .header(signature::HEADER, signature::sign(self.secret.as_bytes(), &body))
                .timeout(Duration::from_secs(10))
                .body(body.clone())
                .send()
                .await;
            let failure = match answer {
                Ok(response) if response.status() == 200 => break,
                Ok(response) => anyhow::anyhow!("the webhook answered {}", response.status()),
                Err(error) => anyhow::Error::new(error).context("the app does not answer"),
            };
            if started.elapsed() >= self.redeliver_for {
                return Err(failure);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.transcript.push(Line::User(line));
        Ok(())
    }

    pub async fn says(&mut self, text: &str) -> anyhow::Result<()> {
        self.post(self.message("text", json!({"body": text})), text.to_owned()).await
    }

    /// Taps a reply button or a list row by id.
    pub async fn taps(&mut self, id: &str, title: &str) -> anyhow::Result<()> {
        let (kind, reply) =
            if id.starts_with("doc_") { ("list_reply", "list_reply") } else { ("button_reply", "button_reply") };
        let mut interactive = json!({"type": kind});
        interactive[reply] = json!({"id": id, "title": title});
        self.post(self.message("interactive", interactive), format!("[taps \"{title}\"]")).await
    }

    /// Sends a photo: registers it with the simulator (as Meta would hold it) and sends its media id.
    pub async fn sends_photo(&mut self, media_id: &str, bytes: Vec<u8>, what: &str) -> anyhow::Result<()> {
        self.sim.register_media(media_id, bytes, "image/jpeg");
        let image = json!({"id": media_id, "mime_type": "image/jpeg"});
        self.post(self.message("image", image), format!("[photo: {what}]")).await
    }

    /// Sends a photo message whose media Meta does not have (expired or deleted).
    pub async fn sends_unregistered_photo(&mut self, media_id: &str, what: &str) -> anyhow::Result<()> {
        let image = json!({"id": media_id, "mime_type": "image/jpeg"});
        self.post(self.message("image", image), format!("[photo: {what}]")).await
    }

    /// Waits until the bot has sent `count` more messages to this user (or `timeout`), and records them.
    pub async fn expect_replies(&mut self, count: usize, timeout: Duration) -> anyhow::Result<Vec<Value>> {
        let started = Instant::now();
        loop {
            let mine: Vec<Value> = self
                .sim
                .messages()
                .into_iter()
                .filter(|m| m.to.as_deref() == Some(self.phone.as_str()))
                .map(|m| m.body)
                .collect();
            if mine.len() >= self.seen + count {
                let new: Vec<Value> = mine[self.seen..].to_vec();
                self.seen = mine.len();
                for body in &new {
                    self.transcript.push(Line::Bot(describe(body)));
                }
                return Ok(new);
            }
            if started.elapsed() > timeout {
                bail!("{} waited {timeout:?} for {count} replies; got {}", self.name, mine.len() - self.seen);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn render(&self) -> String {
        let mut out = format!("── {} ({}) ──\n", self.name, crate::telemetry::mask_phone(&self.phone));
        for line in &self.transcript {
            match line {
                Line::User(text) => out.push_str(&format!("  👤 {text}\n")),
                Line::Bot(text) => out.push_str(&format!("  🤖 {}\n", text.replace('\n', "\n     "))),
            }
        }
        out
    }
}

/// A readable form of a message as sent to the Cloud API.
pub fn describe(body: &Value) -> String {
    let interactive = &body["interactive"];
    match body["type"].as_str() {
        Some("text") => body["text"]["body"].as_str().unwrap_or_default().to_owned(),
        Some("interactive") => {
            let text = interactive["body"]["text"].as_str().unwrap_or_default();
            let choices: Vec<String> = match interactive["type"].as_str() {
                Some("button") => interactive["action"]["buttons"]
                    .as_array()
                    .map(|b| b.iter().map(|b| b["reply"]["title"].as_str().unwrap_or_default().to_owned()).collect())
                    .unwrap_or_default(),
                Some("list") => interactive["action"]["sections"]
                    .as_array()
                    .map(|s| {
                        s.iter()
                            .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
                            .map(|r| r["title"].as_str().unwrap_or_default().to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
                Some("cta_url") => vec![format!(
                    "🔗 {} → {}",
                    interactive["action"]["parameters"]["display_text"].as_str().unwrap_or_default(),
                    interactive["action"]["parameters"]["url"].as_str().unwrap_or_default()
                )],
                _ => Vec::new(),
            };
            format!("{text}\n[{}]", choices.join(" | "))
        }
        other => format!("({})", other.unwrap_or("?")),
    }
}
