//! Status webhooks, as Meta sends them: once a message is accepted, a signed `sent` status for it goes to the
//! service's webhook, carrying back the message's `biz_opaque_callback_data`. Redelivered on any answer but 200
//! (a few times, a little apart), as Meta does. Off unless [`StatusWebhook`] is set.

use std::time::Duration;

use serde_json::{Value, json};

use crate::webhook::signature;

/// Where the simulator sends statuses, and the app secret it signs them with.
#[derive(Clone)]
pub struct StatusWebhook {
    pub url: String,
    pub app_secret: String,
}

impl std::fmt::Debug for StatusWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusWebhook").field("url", &self.url).field("app_secret", &"***").finish()
    }
}

/// Tries of one status: Meta goes on for days; a local simulator for about a minute.
const TRIES: u32 = 12;

/// The `sent` status of message `wamid` from `phone_number_id` to `request`'s recipient.
pub fn sent_status(phone_number_id: &str, wamid: &str, request: &Value, now_secs: u64) -> Value {
    let mut status = json!({"id": wamid, "status": "sent", "timestamp": now_secs.to_string()});
    if let Some(to) = request.get("to").and_then(Value::as_str) {
        status["recipient_id"] = json!(to.trim_start_matches('+'));
    }
    if let Some(user) = request.get("recipient").and_then(Value::as_str) {
        status["recipient_user_id"] = json!(user);
    }
    if let Some(tag) = request.get("biz_opaque_callback_data").and_then(Value::as_str) {
        status["biz_opaque_callback_data"] = json!(tag);
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "sim-waba", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
                  "statuses": [status]}}]}]})
}

/// Posts `payload` to the webhook, signed, until it is answered 200 or the tries run out.
pub async fn deliver(client: &reqwest::Client, webhook: &StatusWebhook, payload: &Value) {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let header = signature::sign(webhook.app_secret.as_bytes(), &body);
    let mut pause = Duration::from_millis(200);
    for _ in 0..TRIES {
        let answer = client
            .post(&webhook.url)
            .header("content-type", "application/json")
            .header(signature::HEADER, &header)
            .timeout(Duration::from_secs(5))
            .body(body.clone())
            .send()
            .await;
        if answer.is_ok_and(|r| r.status() == 200) {
            return;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
    tracing::warn!(target: "wa_onboard::sim", "a status webhook was not accepted after {TRIES} tries");
}
