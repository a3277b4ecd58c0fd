//! From Meta's message to the conversation's [`UserMessage`]: the one place that knows which WhatsApp message
//! types mean a text, a choice, a photo or file, something to ignore, or something the bot cannot use.

use crate::flow::input::{Input, UserMessage};
use crate::flow::state::MediaRef;
use crate::webhook::envelope::{Contact, Content, Interactive, KnownContent, Media, Message};

/// The message as the conversation sees it; `contact` is the webhook's contact of its sender.
pub fn user_message(message: &Message, contact: Option<&Contact>) -> UserMessage {
    let profile_name = contact.and_then(|c| c.profile.as_ref()).map(|p| p.name.trim()).filter(|n| !n.is_empty());
    UserMessage {
        id: message.id.clone(),
        timestamp: message.timestamp,
        phone: message.from.clone(),
        profile_name: profile_name.map(str::to_owned),
        input: input(message),
    }
}

fn input(message: &Message) -> Input {
    let media = |m: &Media| MediaRef {
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
        // Locations, stickers, audio, video, contacts, orders, unsupported and unknown types: no flow uses them.
        _ => Input::Other(message.kind().to_owned()),
    }
}
