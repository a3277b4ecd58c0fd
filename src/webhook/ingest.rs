//! From a parsed envelope to what must be recorded: one inbound job per message (in its domain form, see
//! [`to_domain`](super::to_domain)) and per status, and the payloads kept for inspection (unreadable items, other
//! `field`s). Pure: the route does the I/O.

use crate::jobs::inbound::{InboundEvent, InboundJob};
use crate::store::{KeptKind, KeptPayload};
use crate::webhook::envelope::{Change, Contact, Content, Envelope, Message};
use crate::webhook::to_domain;

#[derive(Debug, Default)]
pub struct Batch {
    pub jobs: Vec<InboundJob>,
    pub kept: Vec<KeptPayload>,
}

impl Batch {
    /// `serves` says whether a business number is answered; messages and statuses to another are kept.
    pub fn from_envelope(envelope: Envelope, received_at_ms: u64, serves: &dyn Fn(&str) -> bool) -> Self {
        let mut batch = Batch::default();
        for rejected in envelope.rejected {
            batch.kept.push(KeptPayload {
                kind: KeptKind::InvalidItem,
                reason: rejected.reason,
                body: rejected.raw.to_string(),
                received_at_ms,
            });
        }
        for entry in envelope.entries {
            for change in entry.changes {
                let value = match change {
                    Change::Messages(value) if !serves(&value.metadata.phone_number_id) => {
                        batch.kept.push(KeptPayload {
                            kind: KeptKind::UnknownNumber,
                            reason: format!(
                                "business number {} is not in WHATSAPP_NUMBERS: {} messages, {} statuses not answered",
                                value.metadata.phone_number_id,
                                value.messages.len(),
                                value.statuses.len()
                            ),
                            body: unserved_summary(&value),
                            received_at_ms,
                        });
                        continue;
                    }
                    Change::Messages(value) => value,
                    Change::Other { field, value } => {
                        batch.kept.push(KeptPayload {
                            kind: KeptKind::OtherField,
                            reason: format!("field `{field}` of account {}", entry.id),
                            body: value.to_string(),
                            received_at_ms,
                        });
                        continue;
                    }
                };
                for message in value.messages {
                    let contact = contact_of(&message, &value.contacts);
                    let event = InboundEvent::Message {
                        business: value.metadata.clone(),
                        user_id: message.from_user_id.clone(),
                        message_type: message.kind().to_owned(),
                        message: to_domain::user_message(&message, contact.as_ref()),
                        contact,
                        raw: match message.content {
                            Content::Unknown { raw, .. } => Some(raw),
                            Content::Known(_) => None,
                        },
                    };
                    batch.jobs.push(InboundJob::new(event, received_at_ms));
                }
                for status in value.statuses {
                    let event = InboundEvent::Status { business: value.metadata.clone(), status };
                    batch.jobs.push(InboundJob::new(event, received_at_ms));
                }
            }
        }
        batch
    }
}

/// What is kept of a change for a number not served: the number, and each message's and status's id and kind
/// (no text: it is not answered, and an operator needs only to see what arrived where).
fn unserved_summary(value: &crate::webhook::envelope::MessagesValue) -> String {
    let messages: Vec<_> = value.messages.iter().map(|m| serde_json::json!({"id": m.id, "type": m.kind()})).collect();
    let statuses: Vec<_> =
        value.statuses.iter().map(|s| serde_json::json!({"id": s.id, "status": s.status.as_str()})).collect();
    serde_json::json!({"metadata": value.metadata, "messages": messages, "statuses": statuses}).to_string()
}

/// The contact entry that belongs to a message's sender: by user id, else by phone, else the only one.
fn contact_of(message: &Message, contacts: &[Contact]) -> Option<Contact> {
    let by_user = |c: &&Contact| message.from_user_id.is_some() && c.user_id == message.from_user_id;
    let by_phone = |c: &&Contact| message.from.is_some() && c.wa_id == message.from;
    contacts
        .iter()
        .find(by_user)
        .or_else(|| contacts.iter().find(by_phone))
        .or(if contacts.len() == 1 { contacts.first() } else { None })
        .cloned()
}
