//! Conversation scenarios (`fixtures/scenarios/*.yaml`): inbound events and the bot's expected replies, run
//! against the pure engine. `wa-onboard flow test` and `cargo test` run them; a failure prints a readable diff.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde::Deserialize;

use super::engine;
use super::event::{AgentDecision, Effect, Envelope, Event, PhotoCheck, Reply, VerificationResult};
use super::input::{Input, UserMessage};
use super::load::Flow;
use super::model::Span;
use super::state::{ConversationState, MediaRef, Phase, UserKey};
use crate::verify::reason::ReasonCode;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    pub flow: String,
    /// The user's phone (drives the language guess).
    #[serde(default = "default_phone")]
    pub phone: String,
    /// The clock at the first event (Unix seconds).
    #[serde(default = "default_start")]
    pub start: u64,
    pub steps: Vec<ScenarioStep>,
}

fn default_phone() -> String {
    "5215512345678".into()
}

fn default_start() -> u64 {
    1_795_000_000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioStep {
    /// The user types this.
    #[serde(default)]
    pub user: Option<String>,
    /// The user taps the button or list row with this id.
    #[serde(default)]
    pub tap: Option<String>,
    /// The user sends a photo with this media id.
    #[serde(default)]
    pub photo: Option<String>,
    /// The user sends a file (PDF) with this media id.
    #[serde(default)]
    pub file: Option<String>,
    /// The user sends a message of another type (sticker, audio, location, ...).
    #[serde(default)]
    pub other: Option<String>,
    /// Seconds added to the message's timestamp (negative: sent earlier, delivered late).
    #[serde(default)]
    pub at: i64,
    /// Repeat the previous message as Meta would on a double tap (same content, new id, same time).
    #[serde(default)]
    pub again: bool,
    /// The quick check of the photo sent in this step asks for a retake for this reason (absent: it passes).
    #[serde(default)]
    pub photo_check: Option<ReasonCode>,
    /// The quick check of the photo sent in this step never answers (its job is lost).
    #[serde(default)]
    pub photo_check_lost: bool,
    /// The verification of the pending submission finishes.
    #[serde(default)]
    pub verification: Option<VerificationResult>,
    /// The media of the pending submission cannot be downloaded (slot).
    #[serde(default)]
    pub media_unavailable: Option<String>,
    /// The live agent decides.
    #[serde(default)]
    pub agent: Option<AgentDecision>,
    /// Time passes; scheduled events that fall due run (reminders, expiry, timeouts).
    #[serde(default)]
    pub wait: Option<Span>,
    /// The replies expected, in order. Absent: not checked; `[]`: the bot must stay silent.
    #[serde(default)]
    pub bot: Option<Vec<Expected>>,
    /// The step the conversation must be in afterwards.
    #[serde(default)]
    pub step: Option<String>,
    /// The conversation must have ended with this outcome.
    #[serde(default)]
    pub ended: Option<String>,
    /// A live-agent handoff must (true) or must not (false) have been requested.
    #[serde(default)]
    pub handoff: Option<bool>,
    /// A verification must have been requested with exactly these photos (slot: media id).
    #[serde(default)]
    pub verify: Option<BTreeMap<String, String>>,
    /// The collected photos must be exactly these (slot: media id).
    #[serde(default)]
    pub media: Option<BTreeMap<String, String>>,
    /// The user's data must have been erased.
    #[serde(default)]
    pub erased: Option<bool>,
}

/// One expected reply: `text` is found in the body (a substring), `buttons` are the ids offered, in order.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub buttons: Option<Vec<String>>,
    /// A link button (the live-agent link or a flow link).
    #[serde(default)]
    pub link: bool,
}

/// The results of running scenarios.
#[derive(Default)]
pub struct Report {
    pub results: Vec<(PathBuf, String, Result<(), String>)>,
}

impl Report {
    pub fn failed(&self) -> usize {
        self.results.iter().filter(|r| r.2.is_err()).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (path, name, result) in &self.results {
            match result {
                Ok(()) => writeln!(f, "ok      {} ({})", name, path.display())?,
                Err(diff) => writeln!(f, "FAILED  {} ({})\n{diff}", name, path.display())?,
            }
        }
        writeln!(f, "{} passed, {} failed", self.results.len() - self.failed(), self.failed())
    }
}

pub fn scenario_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    super::load::flow_files(path).with_context(|| format!("cannot read scenarios at {}", path.display()))
}

pub fn run_path(path: &Path, flows: &BTreeMap<String, Arc<Flow>>) -> anyhow::Result<Report> {
    let mut report = Report::default();
    for file in scenario_files(path)? {
        let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let scenario: Scenario =
            serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let result = match flows.get(&scenario.flow) {
            Some(flow) => run(&scenario, flow),
            None => Err(format!("  no flow `{}`", scenario.flow)),
        };
        report.results.push((file, scenario.name, result));
    }
    Ok(report)
}

/// Runs one scenario; `Err` holds a readable diff of the first step that went wrong.
pub fn run(scenario: &Scenario, flow: &Flow) -> Result<(), String> {
    let user = UserKey { phone_number_id: "106540352242922".into(), user: scenario.phone.clone() };
    let mut sim = Sim {
        flow,
        user,
        clock: scenario.start,
        state: None,
        scheduled: Vec::new(),
        n: 0,
        last: None,
        photo_check: None,
        photo_check_lost: false,
    };
    for (index, step) in scenario.steps.iter().enumerate() {
        let effects = sim.play(step).map_err(|e| format!("  step {}: {e}", index + 1))?;
        check_step(index + 1, step, &effects, sim.state.as_ref())?;
    }
    Ok(())
}

struct Sim<'a> {
    flow: &'a Flow,
    user: UserKey,
    clock: u64,
    state: Option<ConversationState>,
    scheduled: Vec<(u64, Event)>,
    n: u64,
    last: Option<UserMessage>,
    /// The verdict of the quick photo checks the current step asks for.
    photo_check: Option<ReasonCode>,
    /// The current step's photo checks never answer.
    photo_check_lost: bool,
}

impl Sim<'_> {
    fn apply(&mut self, event: Event, effects: &mut Vec<Effect>) {
        self.n += 1;
        let envelope = Envelope { key: format!("scenario-{:06}", self.n), now: self.clock, event };
        if let Some(outcome) = engine::step(self.flow, self.state.as_ref(), &self.user, &envelope) {
            let mut checks = Vec::new();
            for effect in &outcome.effects {
                match effect {
                    Effect::Schedule { at, event } => self.scheduled.push((*at, event.clone())),
                    // The photo check answers at once, as the worker does within a fraction of a second.
                    Effect::CheckPhoto { .. } if self.photo_check_lost => {}
                    Effect::CheckPhoto { slot, media, .. } => checks.push(Event::PhotoChecked {
                        slot: slot.clone(),
                        media_id: media.media_id.clone(),
                        result: match self.photo_check {
                            Some(reason) => PhotoCheck::Retake { reason },
                            None => PhotoCheck::Passed,
                        },
                    }),
                    _ => {}
                }
            }
            effects.extend(outcome.effects);
            self.state = Some(outcome.state);
            for check in checks {
                self.apply(check, effects);
            }
        }
    }

    fn pending_submission(&self) -> Result<String, String> {
        match self.state.as_ref().map(|s| &s.phase) {
            Some(Phase::Checking { submission, .. }) => Ok(submission.clone()),
            other => Err(format!("no verification is pending (phase: {other:?})")),
        }
    }

    fn message(&mut self, step: &ScenarioStep) -> Option<UserMessage> {
        if step.again {
            let mut copy = self.last.clone()?;
            copy.id = format!("{}.again", copy.id);
            if let Input::Media(media) = &mut copy.input {
                media.message_id = copy.id.clone();
            }
            return Some(copy);
        }
        let id = format!("wamid.scenario.{}", self.n + 1);
        let timestamp = self.clock.saturating_add_signed(step.at);
        let media = |media_id: &str, mime: &str| MediaRef {
            media_id: media_id.to_owned(),
            mime_type: mime.to_owned(),
            sha256: None,
            message_id: id.clone(),
            at: timestamp,
        };
        // What the webhook makes of each kind of message (see `webhook::to_domain`).
        let input = if let Some(text) = &step.user {
            Input::Text(text.clone())
        } else if let Some(choice) = &step.tap {
            Input::Choice(choice.clone())
        } else if let Some(media_id) = &step.photo {
            Input::Media(media(media_id, "image/jpeg"))
        } else if let Some(media_id) = &step.file {
            Input::Media(media(media_id, "application/pdf"))
        } else if let Some(kind) = &step.other {
            Input::Other(kind.clone())
        } else {
            return None;
        };
        let message = UserMessage { id, timestamp, phone: Some(self.user.user.clone()), profile_name: None, input };
        self.last = Some(message.clone());
        Some(message)
    }

    fn play(&mut self, step: &ScenarioStep) -> Result<Vec<Effect>, String> {
        let mut effects = Vec::new();
        self.photo_check = step.photo_check;
        self.photo_check_lost = step.photo_check_lost;
        if let Some(wait) = step.wait {
            self.clock += wait.seconds();
            self.scheduled.sort_by_key(|(at, _)| *at);
            let (due, later): (Vec<_>, Vec<_>) = self.scheduled.drain(..).partition(|(at, _)| *at <= self.clock);
            self.scheduled = later;
            for (_, event) in due {
                self.apply(event, &mut effects);
            }
        }
        self.clock += 1;
        if let Some(message) = self.message(step) {
            self.apply(Event::Message { message }, &mut effects);
        } else if let Some(result) = &step.verification {
            let submission = self.pending_submission()?;
            self.apply(Event::VerificationFinished { submission, result: result.clone() }, &mut effects);
        } else if let Some(slot) = &step.media_unavailable {
            let submission = self.pending_submission()?;
            let event = Event::MediaUnavailable { submission, slot: slot.clone(), detail: "download failed".into() };
            self.apply(event, &mut effects);
        } else if let Some(decision) = &step.agent {
            self.apply(Event::AgentOutcome { decision: decision.clone(), agent: None }, &mut effects);
        } else if step.wait.is_none() {
            return Err("the step has no event (user, tap, photo, file, other, verification, agent or wait)".into());
        }
        Ok(effects)
    }
}

fn render(reply: &Reply) -> String {
    match reply {
        Reply::Text { body } => format!("text: {body:?}"),
        Reply::Buttons { body, buttons, .. } => {
            format!("buttons {:?}: {body:?}", buttons.iter().map(|b| &b.id).collect::<Vec<_>>())
        }
        Reply::List { body, .. } => format!("list {:?}: {body:?}", reply.choice_ids()),
        Reply::Link { body, label, .. } => format!("link [{label}]: {body:?}"),
    }
}

fn replies(effects: &[Effect]) -> Vec<Reply> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { reply } => Some(reply.clone()),
            Effect::Handoff { body, label, .. } => {
                Some(Reply::Link { body: body.clone(), label: label.clone(), url: "(agent link)".into() })
            }
            _ => None,
        })
        .collect()
}

fn check_step(
    index: usize,
    step: &ScenarioStep,
    effects: &[Effect],
    state: Option<&ConversationState>,
) -> Result<(), String> {
    let got = replies(effects);
    let mut problems = Vec::new();
    if let Some(expected) = &step.bot {
        let matches = expected.len() == got.len()
            && expected.iter().zip(&got).all(|(e, g)| {
                e.text.as_ref().is_none_or(|t| g.body().contains(t.as_str()))
                    && e.buttons
                        .as_ref()
                        .is_none_or(|ids| g.choice_ids() == ids.iter().map(String::as_str).collect::<Vec<_>>())
                    && (!e.link || matches!(g, Reply::Link { .. }))
            });
        if !matches {
            let mut diff = String::from("    expected replies:\n");
            for e in expected {
                let _ = writeln!(
                    diff,
                    "      - text contains {:?}, buttons {:?}{}",
                    e.text,
                    e.buttons,
                    if e.link { ", a link" } else { "" }
                );
            }
            if expected.is_empty() {
                diff.push_str("      (silence)\n");
            }
            diff.push_str("    got:\n");
            for g in &got {
                let _ = writeln!(diff, "      - {}", render(g));
            }
            if got.is_empty() {
                diff.push_str("      (silence)\n");
            }
            problems.push(diff);
        }
    }
    let state_step = state.map(|s| s.step.as_str());
    if let Some(expected) = &step.step
        && state_step != Some(expected.as_str())
    {
        problems.push(format!("    expected to be at step `{expected}`, is at {state_step:?}\n"));
    }
    if let Some(outcome) = &step.ended {
        match state.map(|s| &s.phase) {
            Some(Phase::Ended { outcome: o, .. }) if o == outcome => {}
            other => problems.push(format!("    expected to have ended `{outcome}`, phase is {other:?}\n")),
        }
    }
    if let Some(expected) = step.handoff {
        let handed = effects.iter().any(|e| matches!(e, Effect::Handoff { .. }));
        if handed != expected {
            problems.push(format!("    expected handoff: {expected}, got: {handed}\n"));
        }
    }
    if let Some(expected) = &step.verify {
        let requested = effects.iter().find_map(|e| match e {
            Effect::Verify { media, .. } => {
                Some(media.iter().map(|(k, v)| (k.clone(), v.media_id.clone())).collect::<BTreeMap<_, _>>())
            }
            _ => None,
        });
        if requested.as_ref() != Some(expected) {
            problems.push(format!("    expected a verification of {expected:?}, got {requested:?}\n"));
        }
    }
    if let Some(expected) = &step.media {
        let media: BTreeMap<String, String> =
            state.map(|s| s.media.iter().map(|(k, v)| (k.clone(), v.media_id.clone())).collect()).unwrap_or_default();
        if &media != expected {
            problems.push(format!("    expected photos {expected:?}, got {media:?}\n"));
        }
    }
    if let Some(expected) = step.erased {
        let erased = effects.iter().any(|e| matches!(e, Effect::End { erase_data: true, .. }));
        if erased != expected {
            problems.push(format!("    expected data erased: {expected}, got: {erased}\n"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("  step {index}: {}\n{}", describe(step), problems.concat())) }
}

fn describe(step: &ScenarioStep) -> String {
    if let Some(t) = &step.user {
        format!("user types {t:?}")
    } else if let Some(t) = &step.tap {
        format!("user taps `{t}`")
    } else if let Some(p) = &step.photo {
        format!("user sends photo {p}")
    } else if let Some(p) = &step.file {
        format!("user sends file {p}")
    } else if let Some(o) = &step.other {
        format!("user sends a {o}")
    } else if let Some(v) = &step.verification {
        format!("verification finishes: {v:?}")
    } else if let Some(a) = &step.agent {
        format!("agent decides: {a:?}")
    } else if let Some(s) = &step.media_unavailable {
        format!("media of `{s}` unavailable")
    } else {
        format!("wait {}", step.wait.map(String::from).unwrap_or_default())
    }
}
