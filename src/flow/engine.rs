//! The conversation engine: `step(flow, state, event) -> (state, effects)`.
//!
//! Pure: no I/O and no clock (the time comes with the event), so a flow can be tested as a table of events and
//! expected replies, and a recorded conversation replays the same way every time.

use super::check::expect_of;
use super::event::{AgentDecision, Effect, Envelope, Event, Reply, VerificationResult};
use super::i18n::{self, normalize};
use super::input::{Input, UserMessage};
use super::load::Flow;
use super::model::{Action, Expect, Next, Step};
use super::reply;
use super::state::{ConversationState, MediaRef, Phase, UserKey};
use crate::verify::reason::ReasonCode;

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
        (Some(state), _) => Run::resume(flow, state.clone(), envelope),
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

/// Idle time counts from the user's last message (the bot's own reminders do not keep a conversation alive).
/// A conversation's id: derived from the user and the event that started it, so a retried event gets the same
/// id, and carrying no personal data (it appears in links).
fn conversation_id(user: &UserKey, event_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}|{event_key}", user.as_string()).as_bytes());
    format!("c-{}", hex::encode(&digest[..6]))
}

fn expired(flow: &Flow, state: &ConversationState, now: u64) -> bool {
    now >= state.last_message_at.max(state.started_at) + flow.file.settings.idle_expiry.seconds()
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
            started_at: envelope.now,
            updated_at: envelope.now,
        };
        let mut run = Run { flow, envelope, state, effects: Vec::new(), fresh: true, hops: 0 };
        if let Event::Message { message } = &envelope.event {
            run.state.last_message_at = message.timestamp;
            run.effects.push(Effect::MarkRead { message_id: message.id.clone() });
            run.schedule_expiry();
        }
        run
    }

    fn resume(flow: &'a Flow, state: ConversationState, envelope: &'a Envelope) -> Self {
        Run { flow, envelope, state, effects: Vec::new(), fresh: false, hops: 0 }
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
            Event::ReminderDue { step, visit } => self.on_reminder(&step, visit),
            Event::ExpiryDue => self.on_expiry(),
            Event::VerificationTimeout { submission } => {
                if matches!(&self.state.phase, Phase::Checking { submission: s, .. } if *s == submission) {
                    self.handoff(ReasonCode::ProviderUnavailable.as_str());
                } else {
                    self.note("verification timeout ignored: that check is no longer pending");
                }
            }
            Event::AgentOutcome { decision } => self.on_agent(decision),
        }
    }

    /// Checks for expiry once the idle time has passed since this (the newest) user message.
    fn schedule_expiry(&mut self) {
        let at = self.state.last_message_at.max(self.envelope.now) + self.flow.file.settings.idle_expiry.seconds();
        self.effects.push(Effect::Schedule { at, event: Event::ExpiryDue });
    }

    fn on_message(&mut self, message: &UserMessage) {
        self.effects.push(Effect::MarkRead { message_id: message.id.clone() });
        if let Some(phone) = &message.phone {
            self.state.phone = Some(phone.clone());
        }
        let input = message.input.clone();
        let stale = message.timestamp < self.state.last_message_at;
        self.state.last_message_at = self.state.last_message_at.max(message.timestamp);
        self.schedule_expiry();

        if let Phase::WithAgent { .. } = self.state.phase {
            // The user can always ask to stop and have their data deleted, even while a person handles the case.
            if let Input::Text(text) = &input
                && i18n::matches_command(text, &self.flow.file.commands.stop)
            {
                self.ask_stop();
                return;
            }
            if let Input::Media(media) = &input {
                self.state.extra_media.push(media.clone());
            }
            self.note(format!("{} recorded while a live agent owns the conversation", input.label()));
            return;
        }
        match &input {
            Input::Ignorable(kind) => return self.note(format!("{kind} recorded; nothing to answer")),
            Input::Text(_) | Input::Choice(_) if stale => {
                return self
                    .note(format!("{} older than one already applied: recorded, not acted upon", input.label()));
            }
            Input::Text(text) if self.command(text) => return,
            _ => {}
        }
        match self.state.phase.clone() {
            Phase::ConfirmingStop => self.on_stop_answer(&input),
            Phase::Checking { .. } => {
                if let Input::Media(media) = &input {
                    self.state.extra_media.push(media.clone());
                }
                self.say_text("checking");
            }
            Phase::Active => self.on_answer(input),
            Phase::WithAgent { .. } | Phase::Ended { .. } => {}
        }
    }

    /// Commands work in every step. Returns whether the text was one.
    fn command(&mut self, text: &str) -> bool {
        let commands = &self.flow.file.commands;
        if i18n::matches_command(text, &commands.agent) {
            self.handoff("user_request");
        } else if i18n::matches_command(text, &commands.restart) {
            let keep_language = self.state.language.clone();
            self.state.vars.clear();
            self.state.media.clear();
            self.state.attempts.clear();
            self.state.photo_run.clear();
            self.state.retake_return = None;
            self.state.phase = Phase::Active;
            self.state.language = keep_language;
            self.note("restart requested");
            self.enter(&self.flow.file.start.clone());
        } else if i18n::matches_command(text, &commands.help) {
            self.say_text("help");
        } else if i18n::matches_command(text, &commands.stop) {
            self.ask_stop();
        } else {
            return false;
        }
        true
    }

    fn ask_stop(&mut self) {
        self.state.phase = Phase::ConfirmingStop;
        self.send(Reply::Buttons {
            body: self.text("stop_confirm"),
            footer: None,
            buttons: vec![
                super::event::Button { id: "stop_yes".into(), title: self.text("stop_yes") },
                super::event::Button { id: "stop_no".into(), title: self.text("stop_no") },
            ],
        });
    }

    fn on_stop_answer(&mut self, input: &Input) {
        let yes = matches!(input, Input::Choice(id) if id == "stop_yes")
            || matches!(input, Input::Text(t) if normalize(t) == normalize(&self.text("stop_yes")));
        let no = matches!(input, Input::Choice(id) if id == "stop_no")
            || matches!(input, Input::Text(t) if normalize(t) == normalize(&self.text("stop_no")));
        if yes {
            self.say_text("stopped");
            self.end("stopped", true);
        } else if no {
            self.state.phase = Phase::Active;
            self.prompt();
        } else {
            self.ask_stop();
        }
    }

    fn on_answer(&mut self, input: Input) {
        let Some(step) = self.current() else {
            self.note(format!("step `{}` no longer exists in this flow version", self.state.step));
            return self.enter(&self.flow.file.start.clone());
        };
        let step_name = self.state.step.clone();
        match (expect_of(step), input) {
            (Expect::Choice, Input::Choice(id)) => match reply::find_choice(step, &id) {
                Some(choice) => self.choose(&step_name, choice),
                None if self.state.last_choice.as_ref().is_some_and(|(_, last)| *last == id) => {
                    self.note(format!("second tap on `{id}`: a duplicate, deliberately not answered"));
                }
                None => self.unexpected(step),
            },
            (Expect::Choice, Input::Text(text)) => {
                // Typing the title works as well as tapping it (useful on old phones and WhatsApp Web).
                match reply::choice_by_title(step, &text, self.lang()) {
                    Some(choice) => self.choose(&step_name, choice),
                    None => self.unexpected(step),
                }
            }
            (Expect::Text, Input::Text(text)) => {
                let text = text.trim();
                if self.flow.pattern(&step_name).is_some_and(|re| !re.is_match(text)) {
                    return self.unexpected(step);
                }
                if let Some(var) = &step.save_as {
                    self.state.vars.insert(var.clone(), text.to_owned());
                }
                self.go(step.next.as_ref());
            }
            (Expect::Image | Expect::ImageOrDocument, Input::Media(media))
                if media.mime_type.starts_with("image/") || expect_of(step) == Expect::ImageOrDocument =>
            {
                self.photo(step, media);
            }
            (_, Input::Choice(id)) if self.state.last_choice.as_ref().is_some_and(|(_, last)| *last == id) => {
                self.note(format!("second tap on `{id}`: a duplicate, deliberately not answered"));
            }
            (_, Input::Media(media)) => {
                // Never discarded: kept, and the user is told what this step needs.
                self.state.extra_media.push(media);
                self.unexpected(step);
            }
            _ => self.unexpected(step),
        }
    }

    fn unexpected(&mut self, step: &Step) {
        let body = match &step.unexpected {
            Some(text) => self.fill(i18n::pick(text, self.lang(), &self.flow.file.fallback_language)),
            None => self.text("unexpected"),
        };
        self.send(Reply::Text { body });
        if expect_of(step) == Expect::Choice {
            self.prompt(); // show the buttons again
        }
    }

    fn choose(&mut self, step_name: &str, choice: &super::model::Choice) {
        for (var, value) in &choice.set {
            self.state.vars.insert(var.clone(), value.clone());
            if var == "language" && self.flow.file.languages.contains(value) {
                self.state.language = Some(value.clone());
            }
        }
        self.state.last_choice = Some((step_name.to_owned(), choice.id.clone()));
        self.go(Some(&choice.next));
    }

    /// Puts a photo in the current step's slot; photos of one run of photo steps are ordered by their time.
    fn photo(&mut self, step: &Step, media: MediaRef) {
        let Some(slot) = step.slot.clone() else { return self.unexpected(step) };
        if !self.state.photo_run.contains(&slot) {
            self.state.photo_run.push(slot.clone());
        }
        self.state.media.insert(slot, media);
        let mut photos: Vec<MediaRef> =
            self.state.photo_run.iter().filter_map(|s| self.state.media.get(s).cloned()).collect();
        photos.sort_by(|a, b| (a.at, &a.message_id).cmp(&(b.at, &b.message_id)));
        for (slot, photo) in self.state.photo_run.clone().into_iter().zip(photos) {
            self.state.media.insert(slot, photo);
        }
        match self.state.retake_return.take() {
            Some(back) => self.enter(&back),
            None => self.go(step.next.as_ref()),
        }
    }

    fn go(&mut self, next: Option<&Next>) {
        match next.and_then(|n| self.resolve(n)) {
            Some(target) => self.enter(&target),
            None => self.note(format!("step `{}` leads nowhere for these answers", self.state.step)),
        }
    }

    fn resolve(&self, next: &Next) -> Option<String> {
        match next {
            Next::Step(name) => Some(name.clone()),
            Next::Branches(branches) => branches
                .iter()
                .find(|b| {
                    b.when.iter().all(|(var, values)| self.state.vars.get(var).is_some_and(|v| values.contains(v)))
                })
                .map(|b| b.goto.clone()),
        }
    }

    /// Enters a step: sends its message, schedules its reminder, runs its action.
    fn enter(&mut self, name: &str) {
        self.enter_with(name, true);
    }

    fn enter_with(&mut self, name: &str, speak: bool) {
        let Some(step) = self.flow.step(name) else {
            return self.note(format!("step `{name}` does not exist"));
        };
        self.state.step = name.to_owned();
        self.state.visit += 1;
        if step.slot.is_none() {
            self.state.photo_run.clear();
        }
        if speak {
            self.prompt();
        }
        if let Some(reminder) = &step.reminder {
            let at = self.envelope.now + reminder.after.seconds();
            self.effects.push(Effect::Schedule {
                at,
                event: Event::ReminderDue { step: name.to_owned(), visit: self.state.visit },
            });
        }
        match step.action {
            Some(Action::Verify) => self.verify(),
            Some(Action::Handoff) => {
                let reason = self.state.vars.get("handoff_reason").cloned().unwrap_or_else(|| "flow".into());
                self.state.phase = Phase::WithAgent { reason: reason.clone(), since: self.envelope.now };
                self.effects.push(Effect::Handoff {
                    reason,
                    body: self.text("agent_link"),
                    label: self.text("agent_link_label"),
                });
            }
            Some(Action::Finish) => {
                let outcome = step.outcome.clone().unwrap_or_else(|| name.to_owned());
                self.end(&outcome, step.erase_data);
            }
            // A step that waits for nothing says its text and moves on (a chain of them is cut short, so that a
            // loop in a flow file cannot spin).
            None if expect_of(step) == Expect::None && step.next.is_some() && self.hops < MAX_HOPS => {
                self.hops += 1;
                self.go(step.next.as_ref());
            }
            None => {}
        }
    }

    /// Sends the current step's message (text, buttons, list or link).
    fn prompt(&mut self) {
        if let Some(step) = self.current()
            && let Some(reply) =
                reply::for_step(step, self.lang(), &self.flow.file.fallback_language, &|t| self.fill(t))
        {
            self.send(reply);
        }
    }

    fn verify(&mut self) {
        self.state.submissions += 1;
        let submission = format!("{}-{}", self.state.conversation_id, self.state.submissions);
        let document = self.state.vars.get("document").cloned();
        let attempt = self.state.attempts.values().copied().max().unwrap_or(0) + 1;
        self.state.phase = Phase::Checking { submission: submission.clone(), since: self.envelope.now };
        self.effects.push(Effect::Verify {
            submission: submission.clone(),
            document,
            media: self.state.media.clone(),
            attempt,
        });
        let timeout = self.flow.file.verification.timeout.seconds();
        self.effects.push(Effect::Schedule {
            at: self.envelope.now + timeout,
            event: Event::VerificationTimeout { submission },
        });
    }

    fn checking(&self, submission: &str) -> bool {
        matches!(&self.state.phase, Phase::Checking { submission: s, .. } if s == submission)
    }

    fn on_verification(&mut self, submission: &str, result: VerificationResult) {
        if !self.checking(submission) {
            return self.note(format!("result of {submission} ignored: that check is no longer pending"));
        }
        let verify_step = self.state.step.clone();
        self.state.phase = Phase::Active;
        let settings = &self.flow.file.verification;
        match result {
            VerificationResult::Verified { confidence, fields } if confidence >= settings.agent_below_confidence => {
                for (k, v) in fields {
                    self.state.vars.insert(format!("field_{k}"), v);
                }
                let target = settings.routes.verified.clone().unwrap_or_default();
                self.enter(&target);
            }
            VerificationResult::Verified { .. } => self.handoff(ReasonCode::LowConfidence.as_str()),
            VerificationResult::Retake { slot, reason } => self.retake(&slot, reason, &verify_step, true, true),
            VerificationResult::Agent { reason } => self.handoff(reason.as_str()),
            VerificationResult::Rejected { reason } => {
                self.state.vars.insert("handoff_reason".into(), format!("review: {reason}"));
                let target = settings.routes.rejected.clone().unwrap_or_default();
                self.enter(&target);
            }
        }
    }

    /// Asks for one photo again, with the reason's advice, then returns to `back`; past the attempt limit, a person.
    /// `advice`: the reason whose retake text is sent (none when the user was already told why).
    fn retake(&mut self, slot: &str, reason: ReasonCode, back: &str, counts: bool, advice: bool) {
        if counts {
            let attempts = self.state.attempts.entry(slot.to_owned()).or_insert(0);
            *attempts += 1;
            if *attempts >= self.flow.file.verification.max_attempts {
                return self.handoff(&format!("attempts_exhausted: {reason}"));
            }
        }
        let Some(step) = self.flow.step_for_slot(slot).map(str::to_owned) else {
            return self.handoff(&format!("no step collects `{slot}`"));
        };
        if let Some(text) = self.flow.file.verification.retake.get(&reason).filter(|_| advice) {
            let body = self.fill(i18n::pick(text, self.lang(), &self.flow.file.fallback_language));
            self.send(Reply::Text { body });
        }
        self.state.media.remove(slot);
        self.state.photo_run.clear();
        self.state.retake_return = Some(back.to_owned());
        self.enter_with(&step, false);
    }

    fn on_media_unavailable(&mut self, submission: &str, slot: &str, detail: &str) {
        if !self.checking(submission) {
            return self.note(format!("media failure of {submission} ignored: no longer pending"));
        }
        let back = self.state.step.clone();
        self.state.phase = Phase::Active;
        self.note(format!("media of slot `{slot}` unavailable: {detail}"));
        self.say_text("media_failed");
        // Not the user's fault: does not count as an attempt.
        self.retake(slot, ReasonCode::UnreadableFile, &back, false, false);
    }

    fn handoff(&mut self, reason: &str) {
        self.state.vars.insert("handoff_reason".into(), reason.to_owned());
        match self.flow.file.verification.routes.agent.clone() {
            Some(step) => self.enter(&step),
            None => {
                self.state.phase = Phase::WithAgent { reason: reason.to_owned(), since: self.envelope.now };
                self.effects.push(Effect::Handoff {
                    reason: reason.to_owned(),
                    body: self.text("agent_link"),
                    label: self.text("agent_link_label"),
                });
            }
        }
    }

    fn on_agent(&mut self, decision: AgentDecision) {
        if !matches!(self.state.phase, Phase::WithAgent { .. }) {
            return self.note("agent outcome ignored: no agent owns this conversation");
        }
        self.state.phase = Phase::Active;
        match decision {
            AgentDecision::Approve => {
                let target = self.flow.file.verification.routes.verified.clone().unwrap_or_default();
                self.enter(&target);
            }
            AgentDecision::Reject => {
                self.say_text("closed_by_agent");
                self.end("rejected", false);
            }
            AgentDecision::Retake { slot, reason } => {
                self.state.attempts.remove(&slot);
                let back = self.verify_step().unwrap_or_else(|| self.flow.file.start.clone());
                self.retake(&slot, reason, &back, false, true);
            }
        }
    }

    fn verify_step(&self) -> Option<String> {
        self.flow.file.steps.iter().find(|(_, s)| s.value.action == Some(Action::Verify)).map(|(n, _)| n.clone())
    }

    fn on_reminder(&mut self, step: &str, visit: u64) {
        let now = self.envelope.now;
        if !matches!(self.state.phase, Phase::Active) || self.state.step != step || self.state.visit != visit {
            return self.note("reminder not sent: the user has moved on");
        }
        if !self.state.window_open(now) {
            return self.note("reminder not sent: outside WhatsApp's 24-hour window");
        }
        if let Some(reminder) = self.current().and_then(|s| s.reminder.as_ref()) {
            let body = self.fill(i18n::pick(&reminder.text, self.lang(), &self.flow.file.fallback_language));
            self.send(Reply::Text { body });
        }
    }

    fn on_expiry(&mut self) {
        if self.state.is_ended() || !expired(self.flow, &self.state, self.envelope.now) {
            return self.note("expiry check: still active");
        }
        self.end("expired", false);
    }

    fn end(&mut self, outcome: &str, erase_data: bool) {
        self.state.phase = Phase::Ended { outcome: outcome.to_owned(), at: self.envelope.now };
        if erase_data {
            self.state.vars.clear();
            self.state.media.clear();
            self.state.extra_media.clear();
        }
        self.effects.push(Effect::End { outcome: outcome.to_owned(), erase_data });
    }
}
