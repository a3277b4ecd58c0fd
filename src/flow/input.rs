//! What a user's message means to the engine: the domain form of an inbound message.
//!
//! The webhook turns WhatsApp's wire format into a [`UserMessage`] when it records the message
//! (`webhook::to_domain`), so the queues, the runner and the engine never depend on Meta's payloads.

use serde::{Deserialize, Serialize};

use super::state::MediaRef;

/// One message from the user, as the conversation sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessage {
    /// WhatsApp's message id (wamid): read receipts and collected media point back at it.
    pub id: String,
    /// When the user sent it, in Unix seconds (messages can arrive out of order).
    pub timestamp: u64,
    /// The sender's phone number, when WhatsApp gives one (users of usernames may have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The name the user shows on WhatsApp (the webhook's contact profile), when given: the conversation keeps it
    /// as the variable `profile_name`, which agents see on the case and flows may use in texts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_name: Option<String>,
    pub input: Input,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Input {
    Text(String),
    /// A reply button, list row or template quick-reply button, by id.
    Choice(String),
    /// A photo, or a file (document) when `mime_type` is not an image.
    Media(MediaRef),
    /// Something that asks for no answer (a reaction, a deleted or edited message, a number change).
    Ignorable(String),
    /// Something the bot cannot use here (a sticker, a voice note, a location, an unknown type...), by kind.
    Other(String),
}

impl Input {
    pub fn label(&self) -> String {
        match self {
            Input::Text(_) => "a text".into(),
            Input::Choice(id) => format!("choice `{id}`"),
            Input::Media(m) => format!("media {} ({})", m.media_id, m.mime_type),
            Input::Ignorable(kind) | Input::Other(kind) => format!("a {kind} message"),
        }
    }
}
