//! The funnel as Prometheus metrics: counted by the process that applies each change of a conversation, so
//! every worker exports its share and Prometheus sums them. Labels are flow, version, step, outcome, reason code
//! and document type, all from the flow files or reason codes: never a user, phone or conversation id.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use super::summary::JourneySummary;
use crate::flow::event::{Event, VerificationResult};
use crate::flow::journey::reason_code;
use crate::flow::state::ConversationState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FlowLabels {
    pub flow: String,
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub flow: String,
    pub version: String,
    pub step: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub flow: String,
    pub version: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LeftLabels {
    pub flow: String,
    pub version: String,
    pub step: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetakeLabels {
    pub flow: String,
    pub reason: String,
    pub document: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub flow: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub flow: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TimeLabels {
    pub flow: String,
    pub outcome: String,
}

/// 30 s to about 34 hours: a quick onboarding takes minutes, an expired one a day.
fn outcome_histogram() -> Histogram {
    Histogram::new([
        30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0, 122400.0,
    ])
}

pub struct FunnelMetrics {
    pub started: Family<FlowLabels, Counter>,
    pub finished: Family<OutcomeLabels, Counter>,
    pub steps_reached: Family<StepLabels, Counter>,
    pub left: Family<LeftLabels, Counter>,
    pub retakes: Family<RetakeLabels, Counter>,
    pub handoffs: Family<ReasonLabels, Counter>,
    pub verifications: Family<ResultLabels, Counter>,
    pub time_to_outcome: Family<TimeLabels, Histogram, fn() -> Histogram>,
    pub active_time: Family<TimeLabels, Histogram, fn() -> Histogram>,
}

impl Default for FunnelMetrics {
    fn default() -> Self {
        Self {
            started: Family::default(),
            finished: Family::default(),
            steps_reached: Family::default(),
            left: Family::default(),
            retakes: Family::default(),
            handoffs: Family::default(),
            verifications: Family::default(),
            time_to_outcome: Family::new_with_constructor(outcome_histogram),
            active_time: Family::new_with_constructor(outcome_histogram),
        }
    }
}

impl FunnelMetrics {
    pub fn register(&self, registry: &mut crate::metrics::Catalog) {
        registry.register("onboardings_started", "Conversations started, by flow and version", self.started.clone());
        registry.register(
            "onboardings_finished",
            "Conversations ended, by outcome (verified, rejected, declined, stopped, expired, erased, or a flow's own)",
            self.finished.clone(),
        );
        registry.register(
            "onboarding_steps_reached",
            "Conversations that reached a step (the funnel), counted once per conversation and step",
            self.steps_reached.clone(),
        );
        registry.register(
            "onboardings_left",
            "Conversations that ended without a decision (declined, stopped, expired, erased), by the step they were at",
            self.left.clone(),
        );
        registry.register(
            "onboarding_retakes",
            "Photos asked for again, by reason code and document type",
            self.retakes.clone(),
        );
        registry.register(
            "onboarding_handoffs",
            "Conversations handed to a person, by reason code",
            self.handoffs.clone(),
        );
        registry.register(
            "verifications",
            "Verification results, by result (verified, retake, agent, rejected): verified / all is the success ratio",
            self.verifications.clone(),
        );
        registry.register(
            "onboarding_time_to_outcome_seconds",
            "Seconds from a conversation's first message to its outcome, by outcome",
            self.time_to_outcome.clone(),
        );
        registry.register(
            "onboarding_active_seconds",
            "Seconds the user spent answering (each wait counted up to 5 minutes), at the outcome, by outcome",
            self.active_time.clone(),
        );
    }

    /// Counts what the change from `before` to `after` by `event` did. `before` of another conversation (the
    /// user's previous one) counts as none.
    pub fn observe(&self, before: Option<&ConversationState>, after: &ConversationState, event: &Event) {
        let before = before.filter(|b| b.conversation_id == after.conversation_id);
        let (flow, version) = (after.flow_id.clone(), after.flow_version.clone());
        if before.is_none() {
            self.started.get_or_create(&FlowLabels { flow: flow.clone(), version: version.clone() }).inc();
        }
        let old = before.map(|b| &b.journey);
        let seen = |n: Option<usize>| n.unwrap_or(0);
        for step in after.journey.steps.iter().skip(seen(old.map(|j| j.steps.len()))) {
            let labels = StepLabels { flow: flow.clone(), version: version.clone(), step: step.clone() };
            self.steps_reached.get_or_create(&labels).inc();
        }
        for retake in after.journey.retakes.iter().skip(seen(old.map(|j| j.retakes.len()))) {
            let document = retake.document.clone().unwrap_or_else(|| "none".into());
            let labels = RetakeLabels { flow: flow.clone(), reason: retake.reason.clone(), document };
            self.retakes.get_or_create(&labels).inc();
        }
        for reason in after.journey.handoffs.iter().skip(seen(old.map(|j| j.handoffs.len()))) {
            let labels = ReasonLabels { flow: flow.clone(), reason: reason_code(reason).to_owned() };
            self.handoffs.get_or_create(&labels).inc();
        }
        if let Event::VerificationFinished { result, .. } = event {
            // A result the flow did not accept as is (a low confidence) counts as what it became: a person's.
            let result = match result {
                VerificationResult::Verified { .. } if after.is_ended() => "verified",
                VerificationResult::Verified { .. } => "agent",
                VerificationResult::Retake { .. } => "retake",
                VerificationResult::Agent { .. } => "agent",
                VerificationResult::Rejected { .. } => "rejected",
            };
            self.verifications.get_or_create(&ResultLabels { flow: flow.clone(), result: result.into() }).inc();
        }
        if after.is_ended() && !before.is_some_and(ConversationState::is_ended) {
            self.ended(&JourneySummary::of(after));
        }
    }

    /// Counts a conversation that ended (or was erased before it ended) as `summary` says.
    pub fn ended(&self, summary: &JourneySummary) {
        let (flow, version) = (summary.flow_id.clone(), summary.flow_version.clone());
        let outcome = summary.outcome.clone();
        self.finished
            .get_or_create(&OutcomeLabels { flow: flow.clone(), version: version.clone(), outcome: outcome.clone() })
            .inc();
        if !crate::store::retention::is_decision(&outcome) {
            let labels =
                LeftLabels { flow: flow.clone(), version, step: summary.step.clone(), outcome: outcome.clone() };
            self.left.get_or_create(&labels).inc();
        }
        let labels = TimeLabels { flow, outcome };
        if let Some(wall) = summary.wall_secs() {
            self.time_to_outcome.get_or_create(&labels).observe(wall as f64);
        }
        self.active_time.get_or_create(&labels).observe(summary.active_secs as f64);
    }
}
