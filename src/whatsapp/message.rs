//! Outbound messages, serialized to the Cloud API's exact JSON, and built only within WhatsApp's limits.
//!
//! Every constructor and builder checks the limits Meta enforces (counted in characters, not bytes) and answers a
//! [`MessageLimitError`] that names the limit and the value, so a flow author sees the problem before Meta does.
//! A message that came back from the job queue can be checked again with [`OutboundMessage::validate`] (the client
//! does, before every send).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::telemetry::mask_phone;

pub const TEXT_BODY_MAX: usize = 4096;
pub const INTERACTIVE_BODY_MAX: usize = 1024;
pub const FOOTER_MAX: usize = 60;
pub const BUTTONS_MAX: usize = 3;
pub const BUTTON_TITLE_MAX: usize = 20;
pub const BUTTON_ID_MAX: usize = 256;
pub const LIST_BUTTON_MAX: usize = 20;
pub const LIST_SECTIONS_MAX: usize = 10;
pub const LIST_ROWS_MAX: usize = 10;
pub const ROW_TITLE_MAX: usize = 24;
pub const ROW_ID_MAX: usize = 200;
pub const ROW_DESCRIPTION_MAX: usize = 72;
pub const SECTION_TITLE_MAX: usize = 24;
pub const CTA_DISPLAY_TEXT_MAX: usize = 20;
pub const TEMPLATE_NAME_MAX: usize = 512;
pub const CALLBACK_DATA_MAX: usize = 512;

/// A message that WhatsApp would refuse: which limit, and the value that broke it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageLimitError {
    #[error("{field} is {len} characters long, WhatsApp allows at most {max}: {value:?}")]
    TooLong { field: &'static str, max: usize, len: usize, value: String },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field}: {count} given, WhatsApp allows at most {max}")]
    TooMany { field: &'static str, max: usize, count: usize },
    #[error("{field}: {value:?} is used more than once, it must be unique")]
    Duplicate { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a valid http(s) URL")]
    InvalidUrl { field: &'static str, value: String },
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), MessageLimitError> {
    let len = value.chars().count();
    if len == 0 || value.trim().is_empty() {
        return Err(MessageLimitError::Empty { field });
    }
    if len > max {
        return Err(MessageLimitError::TooLong { field, max, len, value: value.to_owned() });
    }
    Ok(())
}

fn check_count(field: &'static str, count: usize, max: usize) -> Result<(), MessageLimitError> {
    if count == 0 {
        return Err(MessageLimitError::Empty { field });
    }
    if count > max {
        return Err(MessageLimitError::TooMany { field, max, count });
    }
    Ok(())
}

/// Who receives a message: a phone number (`"to"`), or a business-scoped user id (`"recipient"`) for users who
/// have a username and may have no phone number known to us.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Phone(String),
    UserId(String),
}

impl Recipient {
    /// The phone number or user id, as sent to Meta.
    pub fn id(&self) -> &str {
        match self {
            Self::Phone(v) | Self::UserId(v) => v,
        }
    }

    /// The JSON field Meta expects: `to` or `recipient`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Phone(_) => "to",
            Self::UserId(_) => "recipient",
        }
    }

    /// Masked for logs.
    pub fn masked(&self) -> String {
        mask_phone(self.id())
    }
}

/// `{"text": "..."}`, used for interactive bodies and footers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextObject {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    pub body: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preview_url: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyButton {
    /// Always `reply`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reply: ButtonReply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonReply {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonAction {
    pub buttons: Vec<ReplyButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAction {
    pub button: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtaParameters {
    pub display_text: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtaAction {
    /// Always `cta_url`.
    pub name: String,
    pub parameters: CtaParameters,
}

/// The `interactive` object, tagged by its `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Interactive {
    Button {
        body: TextObject,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ButtonAction,
    },
    List {
        body: TextObject,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: ListAction,
    },
    CtaUrl {
        body: TextObject,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<TextObject>,
        action: CtaAction,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Language {
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub language: Language,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Value>,
}

/// The message body, tagged by `type` as Meta expects: `{"type":"text","text":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    Text { text: Text },
    Interactive { interactive: Interactive },
    Template { template: Template },
}

/// A message to send, without its recipient (see [`OutboundMessage::to_wire`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundMessage {
    #[serde(flatten)]
    pub body: Body,
    /// Echoed back by Meta in status webhooks of this message (at most 512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
}

impl From<Body> for OutboundMessage {
    fn from(body: Body) -> Self {
        Self { body, biz_opaque_callback_data: None }
    }
}

impl OutboundMessage {
    /// A text message (body at most 4096 characters).
    pub fn text(body: impl Into<String>) -> Result<Self, MessageLimitError> {
        let message: Self = Body::Text { text: Text { body: body.into(), preview_url: false } }.into();
        message.validate()?;
        Ok(message)
    }

    /// A text message whose first link shows a preview.
    pub fn text_with_preview(body: impl Into<String>) -> Result<Self, MessageLimitError> {
        let message: Self = Body::Text { text: Text { body: body.into(), preview_url: true } }.into();
        message.validate()?;
        Ok(message)
    }

    /// Reply buttons: see [`ButtonsBuilder`].
    pub fn buttons(body: impl Into<String>) -> ButtonsBuilder {
        ButtonsBuilder { body: body.into(), footer: None, buttons: Vec::new() }
    }

    /// A list message: see [`ListBuilder`].
    pub fn list(body: impl Into<String>, button: impl Into<String>) -> ListBuilder {
        ListBuilder { body: body.into(), button: button.into(), footer: None, sections: Vec::new() }
    }

    /// A call-to-action button that opens a URL (e.g. "talk to a live agent").
    pub fn cta_url(
        body: impl Into<String>,
        display_text: impl Into<String>,
        url: impl Into<String>,
        footer: Option<String>,
    ) -> Result<Self, MessageLimitError> {
        let message: Self = Body::Interactive {
            interactive: Interactive::CtaUrl {
                body: TextObject { text: body.into() },
                footer: footer.map(|text| TextObject { text }),
                action: CtaAction {
                    name: "cta_url".into(),
                    parameters: CtaParameters { display_text: display_text.into(), url: url.into() },
                },
            },
        }
        .into();
        message.validate()?;
        Ok(message)
    }

    /// A template (the only kind allowed outside the 24-hour window). `components` as Meta defines them.
    pub fn template(
        name: impl Into<String>,
        language: impl Into<String>,
        components: Vec<Value>,
    ) -> Result<Self, MessageLimitError> {
        let message: Self = Body::Template {
            template: Template { name: name.into(), language: Language { code: language.into() }, components },
        }
        .into();
        message.validate()?;
        Ok(message)
    }

    /// A body component with text parameters, for [`OutboundMessage::template`].
    pub fn template_body_parameters<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Value {
        let parameters: Vec<Value> =
            values.into_iter().map(|v| serde_json::json!({"type": "text", "text": v.into()})).collect();
        serde_json::json!({"type": "body", "parameters": parameters})
    }

    /// Attaches data that Meta echoes in this message's status webhooks.
    pub fn with_callback_data(mut self, data: impl Into<String>) -> Result<Self, MessageLimitError> {
        self.biz_opaque_callback_data = Some(data.into());
        self.validate()?;
        Ok(self)
    }

    /// The type as Meta names it: `text`, `interactive`, `template`.
    pub fn kind(&self) -> &'static str {
        match &self.body {
            Body::Text { .. } => "text",
            Body::Interactive { .. } => "interactive",
            Body::Template { .. } => "template",
        }
    }

    /// A short label for logs and metrics: `text`, `buttons`, `list`, `cta_url`, `template`.
    pub fn label(&self) -> &'static str {
        match &self.body {
            Body::Text { .. } => "text",
            Body::Interactive { interactive: Interactive::Button { .. } } => "buttons",
            Body::Interactive { interactive: Interactive::List { .. } } => "list",
            Body::Interactive { interactive: Interactive::CtaUrl { .. } } => "cta_url",
            Body::Template { .. } => "template",
        }
    }

    pub fn is_template(&self) -> bool {
        matches!(self.body, Body::Template { .. })
    }

    /// Checks every WhatsApp limit. Constructors call it; the client calls it again before sending.
    pub fn validate(&self) -> Result<(), MessageLimitError> {
        if let Some(data) = &self.biz_opaque_callback_data {
            check_len("biz_opaque_callback_data", data, CALLBACK_DATA_MAX)?;
        }
        match &self.body {
            Body::Text { text } => check_len("text.body", &text.body, TEXT_BODY_MAX),
            Body::Template { template } => {
                check_len("template.name", &template.name, TEMPLATE_NAME_MAX)?;
                check_len("template.language.code", &template.language.code, 15)
            }
            Body::Interactive { interactive } => validate_interactive(interactive),
        }
    }

    /// The request body of `POST /{phone-number-id}/messages`.
    pub fn to_wire(&self, to: &Recipient) -> Value {
        let mut wire = serde_json::json!({"messaging_product": "whatsapp", "recipient_type": "individual"});
        if let (Value::Object(map), Ok(Value::Object(body))) = (&mut wire, serde_json::to_value(self)) {
            map.insert(to.field().to_owned(), Value::String(to.id().to_owned()));
            map.extend(body);
        }
        wire
    }

    /// The text a person reads first: the body, or the template name.
    pub fn preview(&self) -> &str {
        match &self.body {
            Body::Text { text } => &text.body,
            Body::Interactive { interactive } => match interactive {
                Interactive::Button { body, .. }
                | Interactive::List { body, .. }
                | Interactive::CtaUrl { body, .. } => &body.text,
            },
            Body::Template { template } => &template.name,
        }
    }

    /// The choices offered: button titles, row titles, the link's text; template parameters.
    pub fn choices(&self) -> Vec<&str> {
        match &self.body {
            Body::Text { .. } => Vec::new(),
            Body::Interactive { interactive: Interactive::Button { action, .. } } => {
                action.buttons.iter().map(|b| b.reply.title.as_str()).collect()
            }
            Body::Interactive { interactive: Interactive::List { action, .. } } => {
                action.sections.iter().flat_map(|s| s.rows.iter().map(|r| r.title.as_str())).collect()
            }
            Body::Interactive { interactive: Interactive::CtaUrl { action, .. } } => {
                vec![action.parameters.display_text.as_str()]
            }
            Body::Template { .. } => Vec::new(),
        }
    }
}

fn validate_footer(footer: &Option<TextObject>) -> Result<(), MessageLimitError> {
    match footer {
        Some(f) => check_len("footer.text", &f.text, FOOTER_MAX),
        None => Ok(()),
    }
}

fn validate_interactive(interactive: &Interactive) -> Result<(), MessageLimitError> {
    match interactive {
        Interactive::Button { body, footer, action } => {
            check_len("body.text", &body.text, INTERACTIVE_BODY_MAX)?;
            validate_footer(footer)?;
            check_count("buttons", action.buttons.len(), BUTTONS_MAX)?;
            let mut titles = std::collections::HashSet::new();
            let mut ids = std::collections::HashSet::new();
            for button in &action.buttons {
                check_len("button.title", &button.reply.title, BUTTON_TITLE_MAX)?;
                check_len("button.id", &button.reply.id, BUTTON_ID_MAX)?;
                if !titles.insert(button.reply.title.trim().to_lowercase()) {
                    return Err(MessageLimitError::Duplicate {
                        field: "button.title",
                        value: button.reply.title.clone(),
                    });
                }
                if !ids.insert(button.reply.id.as_str()) {
                    return Err(MessageLimitError::Duplicate { field: "button.id", value: button.reply.id.clone() });
                }
            }
            Ok(())
        }
        Interactive::List { body, footer, action } => {
            check_len("body.text", &body.text, 4096)?;
            validate_footer(footer)?;
            check_len("list.button", &action.button, LIST_BUTTON_MAX)?;
            check_count("sections", action.sections.len(), LIST_SECTIONS_MAX)?;
            let rows: usize = action.sections.iter().map(|s| s.rows.len()).sum();
            check_count("rows", rows, LIST_ROWS_MAX)?;
            let mut ids = std::collections::HashSet::new();
            for section in &action.sections {
                match &section.title {
                    Some(title) => check_len("section.title", title, SECTION_TITLE_MAX)?,
                    // Meta requires a title on each section once there is more than one.
                    None if action.sections.len() > 1 => {
                        return Err(MessageLimitError::Empty { field: "section.title" });
                    }
                    None => {}
                }
                check_count("section.rows", section.rows.len(), LIST_ROWS_MAX)?;
                for row in &section.rows {
                    check_len("row.id", &row.id, ROW_ID_MAX)?;
                    check_len("row.title", &row.title, ROW_TITLE_MAX)?;
                    if let Some(d) = &row.description {
                        check_len("row.description", d, ROW_DESCRIPTION_MAX)?;
                    }
                    if !ids.insert(row.id.as_str()) {
                        return Err(MessageLimitError::Duplicate { field: "row.id", value: row.id.clone() });
                    }
                }
            }
            Ok(())
        }
        Interactive::CtaUrl { body, footer, action } => {
            check_len("body.text", &body.text, INTERACTIVE_BODY_MAX)?;
            validate_footer(footer)?;
            check_len("cta_url.display_text", &action.parameters.display_text, CTA_DISPLAY_TEXT_MAX)?;
            let url = &action.parameters.url;
            let valid = reqwest::Url::parse(url)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()))
                .unwrap_or(false);
            if !valid {
                return Err(MessageLimitError::InvalidUrl { field: "cta_url.url", value: url.clone() });
            }
            Ok(())
        }
    }
}

/// Builds a reply-buttons message: body at most 1024 characters, footer at most 60, one to three buttons with
/// unique titles of at most 20 characters and ids of at most 256.
#[derive(Debug, Clone)]
pub struct ButtonsBuilder {
    body: String,
    footer: Option<String>,
    buttons: Vec<(String, String)>,
}

impl ButtonsBuilder {
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    pub fn button(mut self, id: impl Into<String>, title: impl Into<String>) -> Self {
        self.buttons.push((id.into(), title.into()));
        self
    }

    pub fn build(self) -> Result<OutboundMessage, MessageLimitError> {
        let message: OutboundMessage = Body::Interactive {
            interactive: Interactive::Button {
                body: TextObject { text: self.body },
                footer: self.footer.map(|text| TextObject { text }),
                action: ButtonAction {
                    buttons: self
                        .buttons
                        .into_iter()
                        .map(|(id, title)| ReplyButton { kind: "reply".into(), reply: ButtonReply { id, title } })
                        .collect(),
                },
            },
        }
        .into();
        message.validate()?;
        Ok(message)
    }
}

/// Builds a list message: button label at most 20 characters, at most 10 sections and 10 rows in total.
#[derive(Debug, Clone)]
pub struct ListBuilder {
    body: String,
    button: String,
    footer: Option<String>,
    sections: Vec<Section>,
}

impl ListBuilder {
    pub fn footer(mut self, footer: impl Into<String>) -> Self {
        self.footer = Some(footer.into());
        self
    }

    /// Starts a new section (title at most 24 characters; required when there are several sections).
    pub fn section(mut self, title: impl Into<String>) -> Self {
        self.sections.push(Section { title: Some(title.into()), rows: Vec::new() });
        self
    }

    /// Adds a row to the current section (a section without a title is started if there is none).
    pub fn row(mut self, id: impl Into<String>, title: impl Into<String>, description: Option<String>) -> Self {
        if self.sections.is_empty() {
            self.sections.push(Section { title: None, rows: Vec::new() });
        }
        if let Some(section) = self.sections.last_mut() {
            section.rows.push(Row { id: id.into(), title: title.into(), description });
        }
        self
    }

    pub fn build(self) -> Result<OutboundMessage, MessageLimitError> {
        let message: OutboundMessage = Body::Interactive {
            interactive: Interactive::List {
                body: TextObject { text: self.body },
                footer: self.footer.map(|text| TextObject { text }),
                action: ListAction { button: self.button, sections: self.sections },
            },
        }
        .into();
        message.validate()?;
        Ok(message)
    }
}

/// The body of a "mark as read" request, optionally showing a typing indicator (cleared on reply or after 25 s).
pub fn mark_read_wire(wamid: &str, typing: bool) -> Value {
    let mut wire = serde_json::json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid});
    if typing && let Value::Object(map) = &mut wire {
        map.insert("typing_indicator".into(), serde_json::json!({"type": "text"}));
    }
    wire
}

/// One readable line for the log: `→ 521********78  [buttons] "¿Aceptas los…" [Acepto|No acepto]`.
/// The recipient is masked; the text is cut at 40 characters.
pub fn log_line(to: &Recipient, message: &OutboundMessage) -> String {
    const PREVIEW_CHARS: usize = 40;
    let preview: String = message.preview().chars().take(PREVIEW_CHARS).collect::<String>().replace('\n', " ");
    let ellipsis = if message.preview().chars().count() > PREVIEW_CHARS { "…" } else { "" };
    let mut line = format!("→ {}  [{}] \"{preview}{ellipsis}\"", to.masked(), message.label());
    let choices = message.choices();
    if !choices.is_empty() {
        line.push_str(&format!(" [{}]", choices.join("|")));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn phone() -> Recipient {
        Recipient::Phone("5215512345678".into())
    }

    #[test]
    fn text_serializes_to_metas_shape() {
        let wire = OutboundMessage::text("Hola").unwrap().to_wire(&phone());
        assert_eq!(
            wire,
            json!({"messaging_product":"whatsapp","recipient_type":"individual","to":"5215512345678",
                   "type":"text","text":{"body":"Hola"}})
        );
    }

    #[test]
    fn a_user_id_goes_in_recipient() {
        let wire = OutboundMessage::text("Hola").unwrap().to_wire(&Recipient::UserId("US.1349".into()));
        assert_eq!(wire["recipient"], "US.1349");
        assert!(wire.get("to").is_none());
    }

    #[test]
    fn buttons_serialize_to_metas_shape() {
        let m = OutboundMessage::buttons("¿Aceptas?").footer("KYC").button("yes", "Acepto").button("no", "No acepto");
        let wire = m.build().unwrap().to_wire(&phone());
        assert_eq!(
            wire["interactive"],
            json!({"type":"button","body":{"text":"¿Aceptas?"},"footer":{"text":"KYC"},"action":{"buttons":[
                {"type":"reply","reply":{"id":"yes","title":"Acepto"}},
                {"type":"reply","reply":{"id":"no","title":"No acepto"}}]}})
        );
        assert_eq!(wire["type"], "interactive");
    }

    #[test]
    fn list_and_cta_and_template_serialize() {
        let list = OutboundMessage::list("Elige tu documento", "Documentos")
            .section("México")
            .row("ine", "INE", Some("Credencial para votar".into()))
            .section("Otros")
            .row("passport", "Pasaporte", None)
            .build()
            .unwrap();
        let wire = list.to_wire(&phone());
        assert_eq!(wire["interactive"]["type"], "list");
        assert_eq!(wire["interactive"]["action"]["button"], "Documentos");
        assert_eq!(wire["interactive"]["action"]["sections"][0]["rows"][0]["description"], "Credencial para votar");

        let cta = OutboundMessage::cta_url("Habla con una persona", "Abrir chat", "https://example.com/a?x=1", None)
            .unwrap()
            .to_wire(&phone());
        assert_eq!(
            cta["interactive"],
            json!({"type":"cta_url","body":{"text":"Habla con una persona"},
                   "action":{"name":"cta_url","parameters":{"display_text":"Abrir chat","url":"https://example.com/a?x=1"}}})
        );

        let template = OutboundMessage::template(
            "kyc_reminder",
            "es_MX",
            vec![OutboundMessage::template_body_parameters(["Ana"])],
        )
        .unwrap()
        .with_callback_data("conv-1")
        .unwrap();
        let wire = template.to_wire(&phone());
        assert_eq!(wire["template"]["language"]["code"], "es_MX");
        assert_eq!(wire["template"]["components"][0]["parameters"][0]["text"], "Ana");
        assert_eq!(wire["biz_opaque_callback_data"], "conv-1");
    }

    #[test]
    fn a_message_survives_the_job_queue() {
        let m = OutboundMessage::buttons("b").button("1", "Uno").build().unwrap().with_callback_data("x").unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<OutboundMessage>(&json).unwrap(), m);
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        // 20 characters, 40 bytes.
        let title = "ñ".repeat(20);
        assert!(OutboundMessage::buttons("b").button("1", &title).build().is_ok());
        let err = OutboundMessage::buttons("b").button("1", "ñ".repeat(21)).build().unwrap_err();
        assert_eq!(err, MessageLimitError::TooLong { field: "button.title", max: 20, len: 21, value: "ñ".repeat(21) });
        assert!(OutboundMessage::text("é".repeat(4096)).is_ok());
        assert!(matches!(
            OutboundMessage::text("é".repeat(4097)),
            Err(MessageLimitError::TooLong { field: "text.body", max: 4096, len: 4097, .. })
        ));
    }

    #[test]
    fn every_limit_is_enforced() {
        let b = || OutboundMessage::buttons("body");
        let cases: Vec<(Result<OutboundMessage, MessageLimitError>, &str)> = vec![
            (OutboundMessage::text(""), "text.body"),
            (b().build(), "buttons"),
            (b().button("1", "a").button("2", "b").button("3", "c").button("4", "d").build(), "buttons"),
            (b().button("1", "Sí").button("2", "sí").build(), "button.title"),
            (b().button("1", "a").button("1", "b").build(), "button.id"),
            (b().button("x".repeat(257), "a").build(), "button.id"),
            (b().footer("f".repeat(61)).button("1", "a").build(), "footer.text"),
            (OutboundMessage::buttons("x".repeat(1025)).button("1", "a").build(), "body.text"),
            (OutboundMessage::list("b", "x".repeat(21)).row("1", "a", None).build(), "list.button"),
            (OutboundMessage::list("b", "l").build(), "sections"),
            (OutboundMessage::list("b", "l").row("1", "x".repeat(25), None).build(), "row.title"),
            (OutboundMessage::list("b", "l").row("x".repeat(201), "a", None).build(), "row.id"),
            (OutboundMessage::list("b", "l").row("1", "a", Some("d".repeat(73))).build(), "row.description"),
            (OutboundMessage::list("b", "l").section("s".repeat(25)).row("1", "a", None).build(), "section.title"),
            (OutboundMessage::cta_url("b", "x".repeat(21), "https://a.b", None), "cta_url.display_text"),
            (OutboundMessage::cta_url("b", "Abrir", "ftp://a.b", None), "cta_url.url"),
            (OutboundMessage::cta_url("b", "Abrir", "not a url", None), "cta_url.url"),
            (OutboundMessage::template("", "es", vec![]), "template.name"),
            (OutboundMessage::text("a").unwrap().with_callback_data("x".repeat(513)), "biz_opaque_callback_data"),
        ];
        for (result, field) in cases {
            let err = result.expect_err(field);
            let named = match &err {
                MessageLimitError::TooLong { field, .. }
                | MessageLimitError::Empty { field }
                | MessageLimitError::TooMany { field, .. }
                | MessageLimitError::Duplicate { field, .. }
                | MessageLimitError::InvalidUrl { field, .. } => *field,
            };
            assert_eq!(named, field, "{err}");
        }
        let mut list = OutboundMessage::list("b", "l");
        for i in 0..11 {
            list = list.section(format!("s{i}")).row(format!("r{i}"), "a", None);
        }
        assert!(matches!(list.build(), Err(MessageLimitError::TooMany { field: "sections", max: 10, count: 11 })));
        let mut list = OutboundMessage::list("b", "l").section("one");
        for i in 0..11 {
            list = list.row(format!("r{i}"), format!("t{i}"), None);
        }
        assert!(matches!(list.build(), Err(MessageLimitError::TooMany { field: "rows", max: 10, count: 11 })));
    }

    #[test]
    fn mark_read_with_typing_indicator() {
        assert_eq!(
            mark_read_wire("wamid.1", true),
            json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.1","typing_indicator":{"type":"text"}})
        );
        assert!(mark_read_wire("wamid.1", false).get("typing_indicator").is_none());
    }

    #[test]
    fn log_lines_are_readable_and_masked() {
        let m = OutboundMessage::buttons("¿Aceptas los términos y el aviso de privacidad de Acme?")
            .button("y", "Acepto")
            .button("n", "No acepto")
            .build()
            .unwrap();
        assert_eq!(
            log_line(&phone(), &m),
            "→ 521********78  [buttons] \"¿Aceptas los términos y el aviso de priv…\" [Acepto|No acepto]"
        );
        assert_eq!(log_line(&phone(), &OutboundMessage::text("hola").unwrap()), "→ 521********78  [text] \"hola\"");
    }
}
