//! The flow-file format: what product teams write in `flows/*.yaml`.
//!
//! A flow names its steps. A step says what the bot sends, what it waits for, where each answer leads, what it
//! says to an unexpected answer, an optional reminder, and an action (verify, hand off, finish). Texts are
//! localized maps (`{es: ..., pt: ..., en: ...}`). `wa-onboard flow schema` prints the JSON Schema of this format;
//! `wa-onboard flow check` validates everything the types cannot (targets, reachability, WhatsApp limits, ...).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::verify::providers::Capability;
use crate::verify::reason::ReasonCode;

/// A text in several languages: `{es: "Hola", pt: "Olá", en: "Hello"}`.
pub type Localized = BTreeMap<String, String>;

/// A duration written like `90s`, `30m`, `24h` or `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span(pub u64);

impl JsonSchema for Span {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[0-9]+(s|m|h|d)$",
            "description": "A duration: a number and a unit, s, m, h or d (e.g. 90s, 30m, 24h, 7d)"
        })
    }
}

impl Span {
    pub fn seconds(self) -> u64 {
        self.0
    }
}

impl TryFrom<String> for Span {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let text = text.trim();
        let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
        let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 30m, 24h or 7d"))?;
        let factor = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(format!("`{text}` is not a duration like 90s, 30m, 24h or 7d")),
        };
        Ok(Span(n * factor))
    }
}

impl From<Span> for String {
    fn from(span: Span) -> String {
        match span.0 {
            s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
            s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
            s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
            s => format!("{s}s"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// A stable name: conversations and metrics refer to the flow by it.
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// Languages every text must have.
    pub languages: Vec<String>,
    /// The language used when the user's is unknown or missing.
    pub fallback_language: String,
    /// Calling-code prefixes to a language, to guess the user's language from their phone: `{"55": pt}`.
    #[serde(default)]
    pub country_languages: BTreeMap<String, String>,
    /// The first step.
    pub start: String,
    #[serde(default)]
    pub settings: Settings,
    /// Words that work in every step.
    #[serde(default)]
    pub commands: Commands,
    /// Texts the bot uses outside any one step (see the default flow for the names it expects).
    #[serde(default)]
    pub texts: BTreeMap<String, Localized>,
    /// The steps, by name.
    #[schemars(with = "IndexMap<String, Step>")]
    pub steps: IndexMap<String, Spanned<Step>>,
    #[serde(default)]
    pub verification: Verification,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// A conversation idle this long ends (and a new message starts over).
    pub idle_expiry: Span,
    /// How long after "stop" the user's data is deleted.
    pub delete_data_after: Span,
    /// While a person handles the case, a user who writes again this long after the bot last said so is told
    /// again (`texts.agent_waiting_again`) that a person will answer; sooner, the bot stays silent.
    pub agent_reply_after: Span,
}

impl Default for Settings {
    fn default() -> Self {
        Self { idle_expiry: Span(24 * 3600), delete_data_after: Span(0), agent_reply_after: Span(15 * 60) }
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Commands {
    /// Talk to a person.
    pub agent: Localized,
    /// Start again from the first step.
    pub restart: Localized,
    pub help: Localized,
    /// Ask to end the conversation and delete my data (confirmed first).
    pub stop: Localized,
}

/// A step of the conversation.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the bot says on entering the step (the message body).
    #[serde(default)]
    pub text: Option<Localized>,
    /// A footer under the body (buttons and lists only).
    #[serde(default)]
    pub footer: Option<Localized>,
    /// Up to 3 reply buttons.
    #[serde(default)]
    pub buttons: Vec<Choice>,
    /// A list of choices (up to 10 rows in all).
    #[serde(default)]
    pub list: Option<List>,
    /// A link button (opens a URL).
    #[serde(default)]
    pub link: Option<Link>,
    /// What the step waits for. Inferred when absent: `choice` with buttons or a list, else `none`.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// For `text`: a regular expression the answer must match (after trimming).
    #[serde(default)]
    pub pattern: Option<String>,
    /// For `text`: the variable that keeps the answer.
    #[serde(default)]
    pub save_as: Option<String>,
    /// For `image` and `image_or_document`: the name of the photo collected here (front, back, selfie).
    #[serde(default)]
    pub slot: Option<String>,
    /// Where the step leads (for `text`, `image`, `image_or_document` and `none`).
    #[serde(default)]
    pub next: Option<Next>,
    /// What the bot says to an answer this step cannot use.
    #[serde(default)]
    pub unexpected: Option<Localized>,
    #[serde(default)]
    pub reminder: Option<Reminder>,
    /// What happens on entering the step, after its text is sent.
    #[serde(default)]
    pub action: Option<Action>,
    /// For `action: finish`: how the conversation ended, for metrics and the audit log.
    #[serde(default)]
    pub outcome: Option<String>,
    /// For `action: finish`: delete what the user sent (photos, answers), keeping only the audit record.
    #[serde(default)]
    pub erase_data: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Choice,
    Text,
    Image,
    ImageOrDocument,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Verify the photos collected so far; the result routes through `verification.routes`.
    Verify,
    /// Hand the conversation to a live agent (the user gets a link).
    Handoff,
    /// End the conversation.
    Finish,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    /// The id WhatsApp sends back (unique in the step).
    pub id: String,
    pub title: Localized,
    /// List rows only: a second line.
    #[serde(default)]
    pub description: Option<Localized>,
    pub next: Next,
    /// Variables this choice sets: `{document: mx_ine}`.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct List {
    /// The label of the button that opens the list.
    pub button: Localized,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default)]
    pub title: Option<Localized>,
    pub rows: Vec<Choice>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub label: Localized,
    pub url: String,
}

/// Where to go: a step name, or branches tried in order: `[{when: {document: [mx_ine]}, goto: back}, {goto: selfie}]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Next {
    Step(String),
    Branches(Vec<Branch>),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// Every variable named must hold one of the listed values. Absent: always.
    #[serde(default)]
    pub when: BTreeMap<String, Vec<String>>,
    pub goto: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reminder {
    /// Idle time before the reminder (only sent inside WhatsApp's 24-hour window).
    pub after: Span,
    pub text: Localized,
}

/// Verification settings of the flow.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Verification {
    /// Failed attempts on one photo before the live-agent link is offered.
    pub max_attempts: u32,
    /// A result with a confidence under this goes to an agent.
    pub agent_below_confidence: f32,
    /// The youngest age accepted.
    pub min_age: u32,
    /// The documents the flow accepts, keyed by the value of the `document` variable.
    pub documents: BTreeMap<String, DocumentSettings>,
    /// Photo quality thresholds (see docs/verification.md); absent fields keep their defaults.
    #[schemars(with = "serde_json::Value")]
    pub quality: serde_json::Value,
    /// The retake text for each reason code.
    #[schemars(with = "BTreeMap<String, Localized>")]
    pub retake: BTreeMap<ReasonCode, Localized>,
    /// Where each outcome leads.
    pub routes: Routes,
    /// Seconds the user waits in "checking..." before the conversation goes to an agent.
    pub timeout: Span,
    /// Which provider serves which check and country (see docs/providers.md). Absent: no identity check runs,
    /// and every submission goes to a person.
    #[schemars(with = "serde_json::Value")]
    pub providers: serde_json::Value,
    /// The checks that must run and pass before anyone is told they are verified (`document`, `face_match`,
    /// `liveness`, `registry`); a document's own `require` replaces it. A required check with no provider, or a
    /// provider that cannot answer, sends the submission to a person (`routes.review`).
    pub require: Vec<Capability>,
    /// Lets a flow that requires nothing end in `verified` on photo quality alone (demos only: `flow check`
    /// refuses such a flow without it, and every conversation on it logs a warning).
    pub allow_unverified: bool,
}

impl Verification {
    /// What a submission of `document` must pass.
    pub fn required_for(&self, document: Option<&str>) -> &[Capability] {
        document.and_then(|d| self.documents.get(d)).and_then(|d| d.require.as_deref()).unwrap_or(&self.require)
    }
}

impl Default for Verification {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            agent_below_confidence: 0.6,
            min_age: 18,
            documents: BTreeMap::new(),
            quality: serde_json::Value::Null,
            retake: BTreeMap::new(),
            routes: Routes::default(),
            timeout: Span(600),
            providers: serde_json::Value::Null,
            require: Vec::new(),
            allow_unverified: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSettings {
    /// The photos this document needs, by slot name (e.g. `[front, back]`).
    pub sides: Vec<String>,
    /// Checks that run, in order (the required ones run too, even when not listed).
    #[serde(default = "default_checks")]
    pub checks: Vec<Check>,
    /// What this document must pass, replacing `verification.require`.
    #[serde(default)]
    pub require: Option<Vec<Capability>>,
}

fn default_checks() -> Vec<Check> {
    vec![Check::Quality]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Quality,
    Barcode,
    Mrz,
    Ocr,
    Liveness,
    FaceMatch,
    Registry,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Routes {
    /// Step after a successful verification (or an agent's approval).
    pub verified: Option<String>,
    /// Step that hands off to an agent (attempts exhausted, low confidence, provider unavailable).
    pub agent: Option<String>,
    /// Step after a rejection (never an accusation: the user is told a person will review).
    pub rejected: Option<String>,
    /// Step for a submission a person must confirm (a required check could not run automatically, a provider
    /// is down, low confidence): it tells the user their photos arrived and a person will confirm them.
    /// Absent: `agent`.
    pub review: Option<String>,
}
