//! What comes back to a conversation from elsewhere: verification results, undownloadable media, an agent's
//! decision, and the timers the engine scheduled itself (verification timeouts, reminders, idle expiry).
//! Each checks first that the conversation still waits for it, since it may arrive late or twice.

use super::{Run, expired};
use crate::flow::event::{AgentDecision, AgentNote, Effect, Reply, VerificationResult};
use crate::flow::i18n;
use crate::flow::model::Action;
use crate::flow::state::Phase;
use crate::verify::reason::ReasonCode;

impl Run<'_> {
    pub(super) fn on_verification_timeout(&mut self, submission: &str) {
        if self.checking(submission) {
            self.review(ReasonCode::ProviderUnavailable.as_str());
        } else {
            self.note("verification timeout ignored: that check is no longer pending");
        }
    }

    fn checking(&self, submission: &str) -> bool {
        matches!(&self.state.phase, Phase::Checking { submission: s, .. } if s == submission)
    }

    pub(super) fn on_verification(&mut self, submission: &str, result: VerificationResult) {
        if !self.checking(submission) {
            return self.note(format!("result of {submission} ignored: that check is no longer pending"));
        }
        if self.state.agent_review {
            return self.back_to_agent(&result);
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
            VerificationResult::Verified { .. } => self.review(ReasonCode::LowConfidence.as_str()),
            VerificationResult::Retake { slot, reason } => self.retake(&slot, reason, &verify_step, true, true),
            VerificationResult::Agent { reason } => self.review(reason.as_str()),
            VerificationResult::Rejected { reason } => {
                self.state.vars.insert("handoff_reason".into(), format!("review: {reason}"));
                let target = settings.routes.rejected.clone().unwrap_or_default();
                self.enter(&target);
            }
        }
    }

    /// Asks for one photo again, with the reason's advice, then returns to `back`; past the attempt limit, a person.
    /// `advice`: the reason whose retake text is sent (none when the user was already told why).
    pub(super) fn retake(&mut self, slot: &str, reason: ReasonCode, back: &str, counts: bool, advice: bool) {
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
        let document = self.state.vars.get("document").cloned();
        let retake =
            crate::flow::journey::Retake { slot: slot.to_owned(), reason: reason.as_str().to_owned(), document };
        self.state.journey.retakes.push(retake);
        if let Some(text) = self.flow.file.verification.retake.get(&reason).filter(|_| advice) {
            let body = self.fill(i18n::pick(text, self.lang(), &self.flow.file.fallback_language));
            self.send(Reply::Text { body });
        }
        self.state.media.remove(slot);
        self.state.photo_run.clear();
        self.state.retake_return = Some(back.to_owned());
        self.enter_with(&step, false);
    }

    pub(super) fn on_media_unavailable(&mut self, submission: &str, slot: &str, detail: &str) {
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

    pub(super) fn on_agent(&mut self, decision: AgentDecision, agent: Option<&str>) {
        // After a retake the agent asked for, they may decide before the new photo is in.
        if !matches!(self.state.phase, Phase::WithAgent { .. }) && !self.state.agent_review {
            return self.note("agent outcome ignored: no agent owns this conversation");
        }
        if let AgentDecision::Return { step: Some(step) } = &decision
            && self.flow.step(step).is_none()
        {
            return self.note(format!("agent outcome ignored: the flow has no step `{step}`"));
        }
        if let Some(agent) = agent {
            self.state.vars.insert("decided_by".into(), agent.to_owned());
        }
        self.state.phase = Phase::Active;
        self.state.agent_review = false;
        match decision {
            AgentDecision::Approve => {
                self.effects.push(Effect::CloseCase { returned: false, outcome: "approved".into() });
                let target = self.flow.file.verification.routes.verified.clone().unwrap_or_default();
                self.enter(&target);
            }
            AgentDecision::Reject { reason } => {
                if let Some(reason) = reason {
                    self.state.vars.insert("rejected_reason".into(), reason);
                }
                self.effects.push(Effect::CloseCase { returned: false, outcome: "rejected".into() });
                self.say_text("closed_by_agent");
                self.end("rejected", false);
            }
            AgentDecision::Retake { slot, reason } => {
                // The case stays with the agent: the new photo's check comes back to them.
                self.state.agent_review = true;
                self.state.attempts.remove(&slot);
                let back = self.verify_step().unwrap_or_else(|| self.flow.file.start.clone());
                self.retake(&slot, reason, &back, false, true);
            }
            AgentDecision::Return { step } => {
                self.effects.push(Effect::CloseCase { returned: true, outcome: "returned".into() });
                self.schedule_expiry();
                let step = step.unwrap_or_else(|| self.state.step.clone());
                self.enter(&step);
            }
        }
    }

    /// The check of a photo an agent asked for: shown to them, who decides (the bot does not).
    fn back_to_agent(&mut self, result: &VerificationResult) {
        self.state.agent_review = false;
        self.state.phase = Phase::WithAgent { reason: "review_after_retake".into(), since: self.envelope.now };
        let text = match result {
            VerificationResult::Verified { confidence, .. } => format!("checks passed (confidence {confidence:.2})"),
            VerificationResult::Retake { slot, reason } => format!("{slot}: {reason}"),
            VerificationResult::Agent { reason } => format!("needs a person: {reason}"),
            VerificationResult::Rejected { reason } => format!("failed: {reason}"),
        };
        self.effects.push(Effect::ForAgent { note: AgentNote { kind: "check".into(), text, media: None } });
        let body = self.waiting_text();
        self.send(Reply::Text { body });
    }

    fn verify_step(&self) -> Option<String> {
        self.flow.file.steps.iter().find(|(_, s)| s.value.action == Some(Action::Verify)).map(|(n, _)| n.clone())
    }

    pub(super) fn on_reminder(&mut self, step: &str, visit: u64) {
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

    pub(super) fn on_expiry(&mut self) {
        if matches!(self.state.phase, Phase::WithAgent { .. }) || self.state.agent_review {
            return self.note("expiry check: a person handles the case, it does not expire");
        }
        if self.state.is_ended() || !expired(self.flow, &self.state, self.envelope.now) {
            return self.note("expiry check: still active");
        }
        self.end("expired", false);
    }
}
