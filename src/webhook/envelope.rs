//! The typed model of a WhatsApp Cloud API webhook body.
//!
//! Parsing is lenient where Meta evolves (new message types, new `field`s, new status kinds) and strict where we
//! depend on a value (a message needs an `id` to be deduplicated). An unknown message type is kept as raw JSON
//! in [`Content::Unknown`]; a change of another `field` is kept as raw JSON in [`Change::Other`]. Each message and
//! status is parsed on its own, so one bad item never fails the batch: it lands in [`Envelope::rejected`].
//!
//! Types serialize back to Meta's own shape, so a queued job reads like the webhook it came from.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A whole webhook POST body.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub object: String,
    pub entries: Vec<Entry>,
    /// Items that could not be understood, kept for inspection.
    pub rejected: Vec<RejectedItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The WhatsApp Business Account id.
    pub id: String,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Messages(MessagesValue),
    /// Any other `field` (account_update, message_template_status_update, ...): recorded, never a failure.
    Other {
        field: String,
        value: Value,
    },
}

/// A message or status that could not be parsed, with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedItem {
    pub reason: String,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessagesValue {
    pub metadata: Metadata,
    pub contacts: Vec<Contact>,
    pub messages: Vec<Message>,
    pub statuses: Vec<Status>,
    pub errors: Vec<ApiError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: String,
    pub phone_number_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The phone number; absent for a user who uses a username only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// The business-scoped user id (since April 2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: String,
}

/// One inbound message: the fields every type shares, and its typed content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_user_id: Option<String>,
    pub id: String,
    #[serde(with = "unix_seconds")]
    pub timestamp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ReplyContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ApiError>,
    #[serde(flatten)]
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplyContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forwarded: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub frequently_forwarded: bool,
}

/// What a message carries. Known types are typed; any other type is kept whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Known(KnownContent),
    /// A type this version does not know (or a known type with a body it cannot read): the raw JSON of the
    /// message's `type` and body, so nothing is lost and a later version can handle it.
    Unknown {
        #[serde(rename = "type")]
        kind: String,
        #[serde(flatten)]
        raw: serde_json::Map<String, Value>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KnownContent {
    Text { text: Text },
    Image { image: Media },
    Document { document: Media },
    Audio { audio: Media },
    Video { video: Media },
    Sticker { sticker: Media },
    Location { location: Location },
    Contacts { contacts: Vec<SharedContact> },
    Reaction { reaction: Reaction },
    Interactive { interactive: Interactive },
    Button { button: TemplateButton },
    Order { order: Order },
    System { system: SystemChange },
    Unsupported {},
    Revoke { revoke: Revoke },
    Edit { edit: Edit },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub body: String,
}

/// Image, document, audio, video and sticker bodies share this shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// The media id, to look up a download URL (valid 7 days).
    pub id: String,
    #[serde(default)]
    pub mime_type: String,
    /// Base64 in current payloads, hex in older ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Newer webhooks carry the download URL already (it still needs the access token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Audio: a voice note rather than an audio file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<bool>,
    /// Sticker: animated or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub animated: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A contact card the user shared. Only the parts we may use are typed; the rest is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedContact {
    #[serde(default)]
    pub name: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Value>,
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    pub message_id: String,
    /// Absent or empty when the user removed their reaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
}

impl Reaction {
    pub fn is_removal(&self) -> bool {
        self.emoji.as_deref().is_none_or(str::is_empty)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interactive {
    ButtonReply {
        button_reply: Choice,
    },
    ListReply {
        list_reply: Choice,
    },
    /// A WhatsApp Flow was completed; `response_json` is a JSON document in a string.
    NfmReply {
        nfm_reply: FlowReply,
    },
}

/// The id and title of the reply button or list row the user picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowReply {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub body: String,
    pub response_json: String,
}

/// A quick-reply button tapped on a template message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateButton {
    pub payload: String,
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    #[serde(default)]
    pub catalog_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default)]
    pub product_items: Vec<Value>,
}

/// The user changed their number or identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemChange {
    #[serde(default)]
    pub body: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_wa_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

/// The user deleted a message they had sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revoke {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_message_id: Option<String>,
}

/// The user edited a message they had sent; the new message is kept as it came.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
}

/// `{code, title, message, error_data: {details}, href}` as Meta reports it on messages and failed statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: i64,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// The delivery state of a message *we* sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The wamid of our outbound message.
    pub id: String,
    pub status: StatusKind,
    #[serde(with = "unix_seconds")]
    pub timestamp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ApiError>,
    /// What we sent with the message (`biz_opaque_callback_data`): the idempotency key of its send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
    Played,
    /// A status Meta may add later; kept by name.
    #[serde(untagged)]
    Other(String),
}

impl StatusKind {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Played => "played",
            Self::Other(name) => name,
        }
    }
}

impl Status {
    /// This status as the delivery log records it.
    pub fn delivery_update(&self) -> crate::store::delivery::StatusUpdate {
        use crate::store::delivery::Progress;
        let progress = match &self.status {
            StatusKind::Sent => Some(Progress::Sent),
            StatusKind::Delivered => Some(Progress::Delivered),
            StatusKind::Read => Some(Progress::Read),
            StatusKind::Played => Some(Progress::Played),
            StatusKind::Failed => Some(Progress::Failed),
            StatusKind::Other(_) => None,
        };
        crate::store::delivery::StatusUpdate {
            wamid: self.id.clone(),
            progress,
            timestamp: self.timestamp,
            error: self.errors.first().map(|e| (e.code, e.title.clone())),
        }
    }
}

impl Message {
    /// The message type as Meta names it (`text`, `image`, `interactive`, ... or the unknown type's name).
    pub fn kind(&self) -> &str {
        match &self.content {
            Content::Unknown { kind, .. } => kind,
            Content::Known(known) => known.kind(),
        }
    }
}

impl KnownContent {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Document { .. } => "document",
            Self::Audio { .. } => "audio",
            Self::Video { .. } => "video",
            Self::Sticker { .. } => "sticker",
            Self::Location { .. } => "location",
            Self::Contacts { .. } => "contacts",
            Self::Reaction { .. } => "reaction",
            Self::Interactive { .. } => "interactive",
            Self::Button { .. } => "button",
            Self::Order { .. } => "order",
            Self::System { .. } => "system",
            Self::Unsupported {} => "unsupported",
            Self::Revoke { .. } => "revoke",
            Self::Edit { .. } => "edit",
        }
    }
}

/// The error for a body that is not a webhook envelope at all.
#[derive(Debug, thiserror::Error)]
#[error("not a WhatsApp webhook envelope: {0}")]
pub struct EnvelopeError(String);

// The outer layers are read as loose JSON so that each message and status can fail on its own.
#[derive(Deserialize)]
struct RawEnvelope {
    object: String,
    entry: Vec<Value>,
}

#[derive(Deserialize)]
struct RawEntry {
    id: String,
    #[serde(default)]
    changes: Vec<Value>,
}

#[derive(Deserialize)]
struct RawChange {
    field: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct RawMessagesValue {
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Value>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Value>,
    #[serde(default)]
    errors: Vec<Value>,
}

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let raw: RawEnvelope = serde_json::from_slice(body).map_err(|e| EnvelopeError(e.to_string()))?;
        if raw.object != "whatsapp_business_account" {
            return Err(EnvelopeError(format!("`object` is {:?}, expected \"whatsapp_business_account\"", raw.object)));
        }
        // Every layer below the envelope degrades item by item: a bad entry, change or `messages` value is kept
        // for inspection and the rest of the batch goes on.
        let mut rejected = Vec::new();
        let mut entries = Vec::with_capacity(raw.entry.len());
        for entry in raw.entry {
            let parsed: RawEntry = match RawEntry::deserialize(&entry) {
                Ok(parsed) => parsed,
                Err(e) => {
                    rejected.push(RejectedItem { reason: format!("entry: {e}"), raw: entry });
                    continue;
                }
            };
            let mut changes = Vec::with_capacity(parsed.changes.len());
            for change in parsed.changes {
                let RawChange { field, value } = match RawChange::deserialize(&change) {
                    Ok(raw_change) => raw_change,
                    Err(e) => {
                        rejected.push(RejectedItem {
                            reason: format!("change of account {}: {e}", parsed.id),
                            raw: change,
                        });
                        continue;
                    }
                };
                if field != "messages" {
                    changes.push(Change::Other { field, value });
                    continue;
                }
                let value: RawMessagesValue = match RawMessagesValue::deserialize(&value) {
                    Ok(messages) => messages,
                    Err(e) => {
                        let reason = format!("a `messages` change of account {}: {e}", parsed.id);
                        rejected.push(RejectedItem { reason, raw: value });
                        continue;
                    }
                };
                changes.push(Change::Messages(MessagesValue {
                    metadata: value.metadata,
                    contacts: parse_each(value.contacts, "contact", &mut rejected),
                    messages: parse_each(value.messages, "message", &mut rejected),
                    statuses: parse_each(value.statuses, "status", &mut rejected),
                    errors: parse_each(value.errors, "error", &mut rejected),
                }));
            }
            entries.push(Entry { id: parsed.id, changes });
        }
        Ok(Self { object: raw.object, entries, rejected })
    }

    /// Every `messages` change of the envelope, in order.
    pub fn messages_values(&self) -> impl Iterator<Item = &MessagesValue> {
        self.entries.iter().flat_map(|e| &e.changes).filter_map(|c| match c {
            Change::Messages(v) => Some(v),
            Change::Other { .. } => None,
        })
    }
}

fn parse_each<T: de::DeserializeOwned>(items: Vec<Value>, what: &str, rejected: &mut Vec<RejectedItem>) -> Vec<T> {
    let mut parsed = Vec::with_capacity(items.len());
    for item in items {
        match T::deserialize(&item) {
            Ok(value) => parsed.push(value),
            Err(e) => rejected.push(RejectedItem { reason: format!("{what}: {e}"), raw: item }),
        }
    }
    parsed
}

/// Meta sends Unix seconds as a string; accept a number too, and write a string back.
mod unix_seconds {
    use super::*;

    pub fn serialize<S: serde::Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<'a> {
            Text(&'a str),
            Owned(String),
            Number(u64),
        }
        let text = match Either::deserialize(d)? {
            Either::Number(n) => return Ok(n),
            Either::Text(t) => t.to_owned(),
            Either::Owned(t) => t,
        };
        text.trim().parse().map_err(|_| de::Error::custom(format!("timestamp {text:?} is not Unix seconds")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope_with(messages: Value, statuses: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "messages": messages, "statuses": statuses}}]}]
        }))
        .unwrap()
    }

    #[test]
    fn an_unknown_type_is_kept_whole() {
        let body = envelope_with(
            json!([{"from": "5215512345678", "id": "wamid.1", "timestamp": "1795000000", "type": "poll_vote",
                    "poll_vote": {"poll_id": "p1", "option_ids": [2]}}]),
            json!([]),
        );
        let env = Envelope::parse(&body).unwrap();
        let message = &env.messages_values().next().unwrap().messages[0];
        assert_eq!(message.kind(), "poll_vote");
        match &message.content {
            Content::Unknown { raw, .. } => assert_eq!(raw["poll_vote"]["poll_id"], "p1"),
            other => panic!("expected unknown, got {other:?}"),
        }
        // It serializes back to the shape it came in.
        let back = serde_json::to_value(message).unwrap();
        assert_eq!(back["type"], "poll_vote");
        assert_eq!(back["poll_vote"]["option_ids"][0], 2);
    }

    #[test]
    fn one_bad_message_does_not_fail_the_batch() {
        let body = envelope_with(
            json!([
                {"from": "573001234567", "id": "wamid.ok", "timestamp": "1795000000", "type": "text", "text": {"body": "hola"}},
                {"from": "573001234567", "timestamp": "1795000001", "type": "text", "text": {"body": "no id"}},
                {"from": "573001234567", "id": "wamid.bad-ts", "timestamp": "yesterday", "type": "text", "text": {"body": "x"}}
            ]),
            json!([{"id": "wamid.out", "status": "delivered", "timestamp": 1795000002, "recipient_id": "573001234567"}]),
        );
        let env = Envelope::parse(&body).unwrap();
        let value = env.messages_values().next().unwrap();
        assert_eq!(value.messages.len(), 1);
        assert_eq!(value.statuses.len(), 1);
        assert_eq!(env.rejected.len(), 2);
        assert!(env.rejected[1].reason.contains("Unix seconds"), "{}", env.rejected[1].reason);
    }

    #[test]
    fn a_known_type_with_an_unreadable_body_is_kept_as_unknown() {
        let body = envelope_with(
            json!([{"from": "5491122334455", "id": "wamid.2", "timestamp": "1795000000", "type": "image", "image": {"caption": "no id"}}]),
            json!([]),
        );
        let env = Envelope::parse(&body).unwrap();
        let message = &env.messages_values().next().unwrap().messages[0];
        assert!(matches!(message.content, Content::Unknown { .. }));
        assert_eq!(message.kind(), "image");
    }

    #[test]
    fn statuses_of_a_new_kind_are_kept_by_name() {
        let body = envelope_with(json!([]), json!([{"id": "w", "status": "deleted", "timestamp": "1"}]));
        let env = Envelope::parse(&body).unwrap();
        assert_eq!(env.messages_values().next().unwrap().statuses[0].status, StatusKind::Other("deleted".into()));
    }

    #[test]
    fn bodies_that_are_not_envelopes_are_errors() {
        for body in [&b"not json"[..], br#"{"object":"page","entry":[]}"#, br#"{"entry":[]}"#, b"[]"] {
            assert!(Envelope::parse(body).is_err(), "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn a_change_without_metadata_or_a_broken_entry_is_rejected_alone() {
        let good = serde_json::json!({"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "messages": [{"from": "5215512345678", "id": "wamid.ok", "timestamp": "1795000000", "type": "text",
                          "text": {"body": "hola"}}]}});
        let no_metadata = serde_json::json!({"field": "messages", "value": {"messages": []}});
        let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [
            {"id": "1", "changes": [no_metadata, good, {"value": {}}]},
            {"changes": []},
        ]});
        let envelope = Envelope::parse(body.to_string().as_bytes()).expect("the envelope itself is fine");
        assert_eq!(envelope.messages_values().map(|v| v.messages.len()).sum::<usize>(), 1, "the good message stays");
        let reasons: Vec<&str> = envelope.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].starts_with("a `messages` change of account 1: missing field `metadata`"), "{reasons:?}");
        assert!(reasons[1].starts_with("change of account 1"), "{reasons:?}");
        assert!(reasons[2].starts_with("entry: missing field `id`"), "{reasons:?}");
    }
}
