//! The user's side of a conversation: a message becomes an answer to the current step (a choice, a typed text,
//! a photo or file), a command (agent, restart, help, stop), or something recorded and left unanswered.

use super::Run;
use crate::flow::check::expect_of;
use crate::flow::event::{Button, Effect, Reply};
use crate::flow::i18n::{self, normalize};
use crate::flow::input::{Input, UserMessage};
use crate::flow::model::{Choice, Expect, Step};
use crate::flow::reply;
use crate::flow::state::{MediaRef, Phase};

impl Run<'_> {
    pub(super) fn on_message(&mut self, message: &UserMessage) {
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
            self.while_with_agent(&input);
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
            self.state.photo_checks.clear();
            self.state.prompt_held = false;
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
                Button { id: "stop_yes".into(), title: self.text("stop_yes") },
                Button { id: "stop_no".into(), title: self.text("stop_no") },
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

    fn choose(&mut self, step_name: &str, choice: &Choice) {
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
        let (media_for_check, slot_for_check) = (media.clone(), slot.clone());
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
        let placed = self.state.media.iter().find(|(_, m)| m.message_id == media_for_check.message_id);
        let placed = placed.map_or(slot_for_check, |(s, _)| s.clone());
        self.check_photo(&placed, &media_for_check);
        let target = match self.state.retake_return.take() {
            Some(back) => Some(back),
            None => step.next.as_ref().and_then(|n| self.resolve(n)),
        };
        match target {
            Some(target) => self.enter_held(&target),
            None => self.note(format!("step `{}` leads nowhere for these answers", self.state.step)),
        }
    }
}
