//! Moving through the flow: choosing the next step, entering it (its message, its reminder) and running its
//! action (verification, handoff to a person, the end).

use super::{MAX_HOPS, Run};
use crate::flow::check::expect_of;
use crate::flow::event::{Effect, Event};
use crate::flow::model::{Action, Expect, Next};
use crate::flow::reply;
use crate::flow::state::Phase;

impl Run<'_> {
    pub(super) fn go(&mut self, next: Option<&Next>) {
        match next.and_then(|n| self.resolve(n)) {
            Some(target) => self.enter(&target),
            None => self.note(format!("step `{}` leads nowhere for these answers", self.state.step)),
        }
    }

    pub(super) fn resolve(&self, next: &Next) -> Option<String> {
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
    pub(super) fn enter(&mut self, name: &str) {
        self.enter_with(name, true);
    }

    pub(super) fn enter_with(&mut self, name: &str, speak: bool) {
        let Some(step) = self.flow.step(name) else {
            return self.note(format!("step `{name}` does not exist"));
        };
        let from = std::mem::replace(&mut self.state.step, name.to_owned());
        self.state.visit += 1;
        self.state.journey.reach(name);
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
                self.state.journey.handoffs.push(reason.clone());
                self.state.phase = Phase::WithAgent { reason: reason.clone(), since: self.envelope.now };
                let waiting = self.waiting_text();
                self.effects.push(Effect::Handoff {
                    reason,
                    body: self.text("agent_link"),
                    label: self.text("agent_link_label"),
                    waiting,
                });
            }
            Some(Action::Finish) => {
                self.state.journey.left_at = Some(from);
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
    pub(super) fn prompt(&mut self) {
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

    /// Photos that arrived but that a person must confirm: the flow's `routes.review` step tells the user so
    /// (never "verified"); without one, the usual handoff.
    pub(super) fn review(&mut self, reason: &str) {
        match self.flow.file.verification.routes.review.clone() {
            Some(step) => {
                self.state.vars.insert("handoff_reason".into(), reason.to_owned());
                self.enter(&step);
            }
            None => self.handoff(reason),
        }
    }

    pub(super) fn handoff(&mut self, reason: &str) {
        self.state.vars.insert("handoff_reason".into(), reason.to_owned());
        match self.flow.file.verification.routes.agent.clone() {
            Some(step) => self.enter(&step),
            None => {
                self.state.journey.handoffs.push(reason.to_owned());
                self.state.phase = Phase::WithAgent { reason: reason.to_owned(), since: self.envelope.now };
                let waiting = self.waiting_text();
                self.effects.push(Effect::Handoff {
                    reason: reason.to_owned(),
                    body: self.text("agent_link"),
                    label: self.text("agent_link_label"),
                    waiting,
                });
            }
        }
    }

    pub(super) fn end(&mut self, outcome: &str, erase_data: bool) {
        self.state.journey.left_at.get_or_insert_with(|| self.state.step.clone());
        self.state.journey.document = self.state.vars.get("document").cloned();
        self.state.phase = Phase::Ended { outcome: outcome.to_owned(), at: self.envelope.now };
        if erase_data {
            self.state.vars.clear();
            self.state.media.clear();
            self.state.extra_media.clear();
        }
        self.effects.push(Effect::End { outcome: outcome.to_owned(), erase_data });
    }
}
