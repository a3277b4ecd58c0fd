//! Feedback on each photo as it arrives: the photo goes into its slot and is checked at once (a job of its own);
//! the conversation moves to the next step silently, so a burst of photos still fills the following slots, and
//! the next step is said only once every photo checked so far has passed. A photo that fails is asked for again
//! right away, with its reason's advice, before the user is asked for anything else.

use super::Run;
use crate::flow::event::{Effect, Event, PhotoCheck};
use crate::flow::state::{MediaRef, Phase};
use crate::verify::reason::ReasonCode;

/// How long a photo's quick check may take before the conversation moves on without its answer.
pub const PHOTO_CHECK_GRACE_SECS: u64 = 120;

impl Run<'_> {
    /// Asks for the check of the photo just put in `slot`, and holds what the next step says until it passes.
    pub(super) fn check_photo(&mut self, slot: &str, media: &MediaRef) {
        if !self.state.photo_checks.contains(&media.media_id) {
            self.state.photo_checks.push(media.media_id.clone());
        }
        self.effects.push(Effect::CheckPhoto {
            slot: slot.to_owned(),
            document: self.state.vars.get("document").cloned(),
            media: media.clone(),
        });
        // A check takes well under a second; if its answer never comes, the user is not left waiting in silence.
        self.effects.push(Effect::Schedule {
            at: self.envelope.now + PHOTO_CHECK_GRACE_SECS,
            event: Event::PhotoCheckOverdue { media_id: media.media_id.clone() },
        });
    }

    pub(super) fn on_photo_check_overdue(&mut self, media_id: &str) {
        let Some(index) = self.state.photo_checks.iter().position(|m| m == media_id) else {
            return self.note(format!("check of photo {media_id} answered in time"));
        };
        self.state.photo_checks.remove(index);
        self.note(format!("check of photo {media_id} overdue: moving on (the verification checks it again)"));
        if matches!(self.state.phase, Phase::Active) {
            self.release_if_checked();
        }
    }

    /// Moves to `target` without saying it or running its action: that waits for the photos' checks.
    pub(super) fn enter_held(&mut self, target: &str) {
        if self.flow.step(target).is_none() {
            return self.note(format!("step `{target}` does not exist"));
        }
        self.state.step = target.to_owned();
        self.state.visit += 1;
        self.state.prompt_held = true;
        if self.flow.step(target).is_some_and(|s| s.slot.is_none()) {
            self.state.photo_run.clear();
        }
    }

    pub(super) fn on_photo_checked(&mut self, slot: &str, media_id: &str, result: PhotoCheck) {
        let Some(index) = self.state.photo_checks.iter().position(|m| m == media_id) else {
            return self.note(format!("check of photo {media_id} ignored: it is no longer awaited"));
        };
        self.state.photo_checks.remove(index);
        if !matches!(self.state.phase, Phase::Active) {
            return self.note(format!("check of photo {media_id} ({slot}) noted: the conversation has moved on"));
        }
        // A burst sorted by time may have moved the photo to another slot since it was sent for checking.
        let Some(held_in) = self.state.media.iter().find(|(_, m)| m.media_id == media_id).map(|(s, _)| s.clone())
        else {
            return self.release_if_checked();
        };
        let back = self.state.step.clone();
        match result {
            PhotoCheck::Passed => self.release_if_checked(),
            PhotoCheck::Retake { reason } => {
                self.note(format!("photo of `{held_in}` needs a retake: {reason}"));
                self.state.prompt_held = false;
                self.retake(&held_in, reason, &back, true, true);
            }
            PhotoCheck::Unavailable { detail } => {
                self.note(format!("photo of `{held_in}` unavailable: {detail}"));
                self.state.prompt_held = false;
                self.say_text("media_failed");
                // Not the user's fault: does not count as an attempt.
                self.retake(&held_in, ReasonCode::UnreadableFile, &back, false, false);
            }
        }
    }

    /// Every photo checked so far passed: the step the conversation moved to is said now (and its action runs).
    fn release_if_checked(&mut self) {
        if self.state.photo_checks.is_empty() && self.state.prompt_held {
            self.state.prompt_held = false;
            self.enter(&self.state.step.clone());
        }
    }
}
