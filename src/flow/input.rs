//! What a user's message means to the engine.

use super::state::MediaRef;
use crate::webhook::envelope::{Content, Interactive, KnownContent, Message};

#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    /// A reply button, list row or template quick-reply button, by id.
    Choice(String),
    /// A photo, or a file (document) when `mime_type` is not an image.
    Media(MediaRef),
    /// Something that asks for no answer (a reaction, a deleted or edited message, a number change).
    Ignorable(String),
    /// Something the bot cannot use here (a sticker, a voice note, a location, an unknown type...).
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

pub fn classify(message: &Message) -> Input {
    let media = |m: &crate::webhook::envelope::Media| MediaRef {
        media_id: m.id.clone(),
        mime_type: m.mime_type.clone(),
        sha256: m.sha256.clone(),
        message_id: message.id.clone(),
        at: message.timestamp,
    };
    match &message.content {
        Content::Known(KnownContent::Text { text }) => Input::Text(text.body.clone()),
        Content::Known(KnownContent::Interactive { interactive }) => match interactive {
            Interactive::ButtonReply { button_reply: c } | Interactive::ListReply { list_reply: c } => {
                Input::Choice(c.id.clone())
            }
            Interactive::NfmReply { .. } => Input::Other("flow reply".into()),
        },
        Content::Known(KnownContent::Button { button }) => Input::Choice(button.payload.clone()),
        Content::Known(KnownContent::Image { image }) => Input::Media(media(image)),
        Content::Known(KnownContent::Document { document }) => Input::Media(media(document)),
        Content::Known(
            KnownContent::Reaction { .. }
            | KnownContent::Revoke { .. }
            | KnownContent::Edit { .. }
            | KnownContent::System { .. },
        ) => Input::Ignorable(message.kind().to_owned()),
        _ => Input::Other(message.kind().to_owned()),
    }
}
