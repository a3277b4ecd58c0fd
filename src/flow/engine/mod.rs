//! The conversation engine: `step(flow, state, event) -> (state, effects)`.
//!
//! Pure: no I/O and no clock (the time comes with the event), so a flow can be tested as a table of events and
//! expected replies, and a recorded conversation replays the same way every time.
//!
//! This file holds the entry point and the state of one application of an event (`Run`); the handling is split
//! by where the event comes from: `user_input` (the user's messages), `results` (verification and agent
//! outcomes, timers), and `steps` (moving through the flow, shared by both).

mod photo_checks;
mod results;
mod steps;
mod user_input;
mod waiting;

use super::event::{Effect, Envelope, Event, Reply};
use super::i18n;
use super::load::Flow;
use super::model::Step;
use super::state::{ConversationState, Phase, UserKey};

/// The engine's answer: the state to save and what to do.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub state: ConversationState,
    pub effects: Vec<Effect>,
}

/// Applies one event. `state` is `None` for a user we have never seen (or whose data was erased).
/// Returns `None` when the event concerns no conversation (e.g. a reminder for a user who is gone).
pub fn step(flow: &Flow, state: Option<&ConversationState>, user: &UserKey, envelope: &Envelope) -> Option<Outcome> {
    let now = envelope.now;
    let mut run = match (state, &envelope.event) {
        (Some(state), Event::Message { .. }) if state.is_ended() || expired(flow, state, now) => {
            let was_mid_flow = !state.is_ended();
            let mut run = Run::start(flow, user, envelope, Some(state));
            if was_mid_flow {
                run.say_text("welcome_back");
            }
            run.enter(&flow.file.start.clone());
            run
        }
        (Some(state), event) => {
            let mut run = Run::resume(flow, state.clone(), envelope);
            if matches!(event, Event::Message { .. }) {
                run.state.journey.answered_after(now.saturating_sub(state.updated_at));
            }
            run
        }
        (None, Event::Message { .. }) => {
            let mut run = Run::start(flow, user, envelope, None);
            run.enter(&flow.file.start.clone());
            run
        }
        (None, _) => return None,
    };
    run.apply();
    run.state.updated_at = run.state.updated_at.max(now);
    Some(Outcome { state: run.state, effects: run.effects })
}

/// A conversation's id: derived from the user and the event that started it, so a retried event gets the same
/// id, and carrying no personal data (it appears in links).
fn conversation_id(user: &UserKey, event_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}|{event_key}", user.as_string()).as_bytes());
    format!("c-{}", hex::encode(&digest[..6]))
}

/// Idle time counts from the user's last message (the bot's own reminders do not keep a conversation alive).
fn expired(flow: &Flow, state: &ConversationState, now: u64) -> bool {
    // A person handles the case: the conversation waits for them however long it takes.
    let with_agent = matches!(state.phase, Phase::WithAgent { .. }) || state.agent_review;
    !with_agent && now >= state.last_message_at.max(state.started_at) + flow.file.settings.idle_expiry.seconds()
}

/// One application of an event: the state being changed and the effects gathered.
struct Run<'a> {
    flow: &'a Flow,
    envelope: &'a Envelope,
    state: ConversationState,
    effects: Vec<Effect>,
    /// True once a fresh conversation has been started by this very event (its message is a greeting).
    fresh: bool,
    /// Steps entered one after the other without waiting (see [`MAX_HOPS`]).
    hops: u32,
}

/// The variable that holds the name the user shows on WhatsApp.
pub const PROFILE_NAME: &str = "profile_name";

/// The most steps one event may pass through without waiting for the user.
const MAX_HOPS: u32 = 20;

impl<'a> Run<'a> {
    fn start(flow: &'a Flow, user: &UserKey, envelope: &'a Envelope, previous: Option<&ConversationState>) -> Self {
        let phone = match &envelope.event {
            Event::Message { message } => message.phone.as_deref(),
            _ => None,
        };
        // A returning user keeps the language they chose.
        let language = previous
            .and_then(|p| p.language.clone())
            .or_else(|| i18n::language_for_phone(phone, &flow.file.country_languages).map(str::to_owned));
        let state = ConversationState {
            conversation_id: conversation_id(user, &envelope.key),
            user: user.clone(),
            phone: phone.map(str::to_owned),
            flow_id: flow.id().to_owned(),
            flow_version: flow.version.clone(),
            step: flow.file.start.clone(),
            phase: Phase::Active,
            language,
            vars: Default::default(),
            media: Default::default(),
            photo_run: Vec::new(),
            extra_media: Vec::new(),
            attempts: Default::default(),
            retake_return: None,
            last_message_at: 0,
            last_choice: None,
            visit: 0,
            submissions: 0,
            agent_notice_at: 0,
            photo_checks: Vec::new(),
            prompt_held: false,
            agent_review: false,
            journey: Default::default(),
            started_at: envelope.now,
            updated_at: envelope.now,
        };
        let mut run = Run { flow, envelope, state, effects: Vec::new(), fresh: true, hops: 0 };
        run.remember_profile_name();
        if flow.file.verification.allow_unverified {
            // Said at every start: a flow that can tell people "verified" without an identity check is for demos.
            tracing::warn!(
                flow = %flow.id(),
                conversation = %run.state.conversation_id,
                "this flow sets allow_unverified: users can be told they are verified without any identity check"
            );
            run.note("flow allows unverified outcomes (allow_unverified: true): no identity check is required");
        }
        if let Event::Message { message } = &envelope.event {
            run.state.last_message_at = message.timestamp;
            run.effects.push(Effect::MarkRead { message_id: message.id.clone() });
            run.schedule_expiry();
        }
        run
    }

    fn resume(flow: &'a Flow, state: ConversationState, envelope: &'a Envelope) -> Self {
        let mut run = Run { flow, envelope, state, effects: Vec::new(), fresh: false, hops: 0 };
        run.remember_profile_name();
        run
    }

    /// Keeps the name the user shows on WhatsApp, as the variable `profile_name` (the latest one given).
    fn remember_profile_name(&mut self) {
        if let Event::Message { message } = &self.envelope.event
            && let Some(name) = &message.profile_name
        {
            self.state.vars.insert(PROFILE_NAME.to_owned(), name.clone());
        }
    }

    fn lang(&self) -> &str {
        self.state.language.as_deref().unwrap_or(&self.flow.file.fallback_language)
    }

    fn text(&self, key: &str) -> String {
        self.flow
            .file
            .texts
            .get(key)
            .map(|t| self.fill(i18n::pick(t, self.lang(), &self.flow.file.fallback_language)))
            .unwrap_or_default()
    }

    fn fill(&self, template: &str) -> String {
        let values: Vec<(&str, &str)> = self.state.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        i18n::fill(template, &values)
    }

    fn send(&mut self, reply: Reply) {
        self.effects.push(Effect::Send { reply });
    }

    fn say_text(&mut self, key: &str) {
        let body = self.text(key);
        if !body.is_empty() {
            self.send(Reply::Text { body });
        }
    }

    fn note(&mut self, text: impl Into<String>) {
        self.effects.push(Effect::Note { text: text.into() });
    }

    fn current(&self) -> Option<&'a Step> {
        self.flow.step(&self.state.step)
    }

    fn apply(&mut self) {
        if self.fresh {
            return; // the message that started the conversation is a greeting: the start step has been sent
        }
        let event = self.envelope.event.clone();
        match event {
            Event::Message { message } => self.on_message(&message),
            Event::VerificationFinished { submission, result } => self.on_verification(&submission, result),
            Event::MediaUnavailable { submission, slot, detail } => {
                self.on_media_unavailable(&submission, &slot, &detail)
            }
            Event::PhotoChecked { slot, media_id, result } => self.on_photo_checked(&slot, &media_id, result),
            Event::PhotoCheckOverdue { media_id } => self.on_photo_check_overdue(&media_id),
            Event::ReminderDue { step, visit } => self.on_reminder(&step, visit),
            Event::ExpiryDue => self.on_expiry(),
            Event::VerificationTimeout { submission } => self.on_verification_timeout(&submission),
            Event::AgentOutcome { decision, agent } => self.on_agent(decision, agent.as_deref()),
        }
    }

    /// Checks for expiry once the idle time has passed since this (the newest) user message.
    fn schedule_expiry(&mut self) {
        let at = self.state.last_message_at.max(self.envelope.now) + self.flow.file.settings.idle_expiry.seconds();
        self.effects.push(Effect::Schedule { at, event: Event::ExpiryDue });
    }
}
