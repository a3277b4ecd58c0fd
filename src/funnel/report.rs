//! The funnel report, computed from the funnel summaries and the cases of a period: pure, so the same numbers
//! come out of `wa-onboard report funnel`, `/api/v1/reports/funnel` and the supervisor page.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::summary::{JourneySummary, outcome};
use crate::flow::journey::reason_code;
use crate::store::case::{Case, CaseStatus};
use crate::store::retention::is_decision;

/// The agent queue's service-level target: a case taken within half an hour (the default flow tells people
/// "usually within 30 minutes").
pub const ASSIGNMENT_TARGET_SECS: u64 = 1800;

/// What the report covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// Conversations started from `since` (included) to `until` (excluded), Unix seconds.
    pub since: u64,
    pub until: u64,
    /// Only this flow's conversations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FunnelReport {
    #[serde(flatten)]
    pub period: Period,
    pub started: usize,
    /// Conversations by outcome (`review`, `checking` and `in_progress` have not ended).
    pub outcomes: BTreeMap<String, usize>,
    /// Verified among those that ended (none: nothing ended).
    pub verified_ratio: Option<f64>,
    pub steps: Vec<StepRow>,
    /// Time from the first message to the outcome, for every ended conversation (`all`) and per outcome.
    pub time_to_outcome: Vec<Timing>,
    pub retakes: Vec<RetakeRow>,
    pub handoffs: Handoffs,
    pub agents: Vec<AgentRow>,
    pub queue: QueueLevels,
    /// The same conversations by flow version, by country (of the document chosen) and by document type.
    pub by_version: Vec<Segment>,
    pub by_country: Vec<Segment>,
    pub by_document: Vec<Segment>,
}

/// A slice of the conversations: how many started, ended, were verified and were handed to a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// `kyc_latam@<version>`, a country code (`MX`), a document type (`mx_ine`), or `-` for none.
    pub key: String,
    pub started: usize,
    pub ended: usize,
    pub verified: usize,
    /// Verified among those that ended.
    pub verified_ratio: Option<f64>,
    pub handoffs: usize,
    pub retakes: usize,
    /// Seconds from the first message to verified, median.
    pub verified_wall_p50: u64,
}

/// The country of a national document type (`mx_ine` → `MX`); a passport, or no document, has none (`-`).
pub fn country_of(document: Option<&str>) -> String {
    match document.and_then(|d| d.split_once('_')).map(|(prefix, _)| prefix) {
        Some(prefix) if prefix.len() == 2 && prefix.bytes().all(|b| b.is_ascii_lowercase()) => prefix.to_uppercase(),
        _ => "-".to_owned(),
    }
}

fn segments(summaries: &[JourneySummary], key: impl Fn(&JourneySummary) -> String) -> Vec<Segment> {
    let mut groups: BTreeMap<String, Vec<&JourneySummary>> = BTreeMap::new();
    for s in summaries {
        groups.entry(key(s)).or_default().push(s);
    }
    groups
        .into_iter()
        .map(|(key, group)| {
            let ended = group.iter().filter(|s| !s.is_open()).count();
            let verified: Vec<&&JourneySummary> = group.iter().filter(|s| s.outcome == outcome::VERIFIED).collect();
            let mut walls: Vec<u64> = verified.iter().filter_map(|s| s.wall_secs()).collect();
            Segment {
                started: group.len(),
                ended,
                verified: verified.len(),
                verified_ratio: ratio(verified.len(), ended),
                handoffs: group.iter().filter(|s| !s.handoffs.is_empty()).count(),
                retakes: group.iter().map(|s| s.retakes.len()).sum(),
                verified_wall_p50: percentile(&mut walls, 0.5),
                key,
            }
        })
        .collect()
}

/// One step of the funnel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    pub step: String,
    pub reached: usize,
    /// Ended while at this step, without a decision, by outcome (`declined`, `stopped`, `expired`, `erased`).
    pub left: BTreeMap<String, usize>,
    /// Ended here with a decision (`verified`, `rejected`).
    pub decided: BTreeMap<String, usize>,
    /// At this step now (not ended).
    pub here_now: usize,
    /// Of those done with this step, the share that did not leave here (none: nobody is done with it).
    pub conversion: Option<f64>,
}

impl StepRow {
    pub fn left_total(&self) -> usize {
        self.left.values().sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timing {
    pub outcome: String,
    pub count: usize,
    /// Seconds, first message to outcome.
    pub wall_p50: u64,
    pub wall_p90: u64,
    /// Seconds the user spent answering.
    pub active_p50: u64,
    pub active_p90: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetakeRow {
    pub reason: String,
    /// The document type, or `-` when none was chosen.
    pub document: String,
    pub count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Handoffs {
    /// Conversations handed to a person at least once.
    pub conversations: usize,
    /// Their share of those started.
    pub rate: Option<f64>,
    /// Handoffs by reason code.
    pub reasons: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    pub agent: String,
    /// Closing decisions in the period, by outcome (`approved`, `rejected`, `returned`).
    pub decisions: BTreeMap<String, usize>,
    /// Seconds from taking a case to closing it.
    pub handling_p50: u64,
    pub handling_p90: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueLevels {
    /// Cases waiting and held now.
    pub waiting: usize,
    pub assigned: usize,
    /// Seconds the oldest waiting case has waited.
    pub oldest_waiting_secs: u64,
    /// Cases taken in the period, and the seconds from opening to being taken.
    pub taken: usize,
    pub time_to_assignment_p50: u64,
    pub time_to_assignment_p90: u64,
    /// Share of the cases taken within [`ASSIGNMENT_TARGET_SECS`].
    pub within_target: Option<f64>,
}

/// The nearest-rank percentile `q` (0..=1) of `values`; 0 for none.
pub fn percentile(values: &mut [u64], q: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The steps a summary went through, less a finishing step it ended by entering (a declined consent is a
/// drop at `consent`, not a step called `declined`).
fn path(summary: &JourneySummary) -> &[String] {
    let steps = summary.steps.as_slice();
    match steps.last() {
        Some(last) if !summary.is_open() && *last != summary.step && steps.contains(&summary.step) => {
            &steps[..steps.len() - 1]
        }
        _ => steps,
    }
}

/// Builds the report of `period` from the summaries (already of that period and flow), the cases (any: those
/// closed or taken in the period count), the flows' steps in file order, and the time now.
pub fn build(
    period: Period,
    summaries: &[JourneySummary],
    cases: &[Case],
    step_order: &[String],
    now: u64,
) -> FunnelReport {
    let started = summaries.len();
    let mut outcomes = BTreeMap::new();
    for s in summaries {
        *outcomes.entry(s.outcome.clone()).or_insert(0) += 1;
    }
    let ended = summaries.iter().filter(|s| !s.is_open()).count();
    let verified = outcomes.get(outcome::VERIFIED).copied().unwrap_or(0);
    FunnelReport {
        steps: steps(summaries, step_order),
        time_to_outcome: timings(summaries),
        retakes: retakes(summaries),
        handoffs: handoffs(summaries),
        agents: agents(&period, cases),
        queue: queue(&period, cases, now),
        by_version: segments(summaries, |s| format!("{}@{}", s.flow_id, s.flow_version)),
        by_country: segments(summaries, |s| country_of(s.document.as_deref())),
        by_document: segments(summaries, |s| s.document.clone().unwrap_or_else(|| "-".into())),
        verified_ratio: ratio(verified, ended),
        outcomes,
        started,
        period,
    }
}

fn steps(summaries: &[JourneySummary], step_order: &[String]) -> Vec<StepRow> {
    // Steps in the flow's order; any the flows do not list (an old version) after them, by mean position.
    let mut order: Vec<String> = Vec::new();
    let mut positions: HashMap<&str, (usize, usize)> = HashMap::new();
    for s in summaries {
        for (i, step) in path(s).iter().enumerate() {
            let entry = positions.entry(step.as_str()).or_insert((0, 0));
            entry.0 += i;
            entry.1 += 1;
        }
    }
    order.extend(step_order.iter().filter(|s| positions.contains_key(s.as_str())).cloned());
    let mut rest: Vec<(&str, f64)> = positions
        .iter()
        .filter(|(step, _)| !step_order.iter().any(|s| s == *step))
        .map(|(step, (sum, n))| (*step, *sum as f64 / *n as f64))
        .collect();
    rest.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    order.extend(rest.into_iter().map(|(s, _)| s.to_owned()));

    order
        .into_iter()
        .map(|step| {
            let mut row = StepRow {
                reached: summaries.iter().filter(|s| path(s).contains(&step)).count(),
                left: BTreeMap::new(),
                decided: BTreeMap::new(),
                here_now: 0,
                conversion: None,
                step,
            };
            for s in summaries.iter().filter(|s| s.step == row.step) {
                if s.is_open() {
                    row.here_now += 1;
                } else if is_decision(&s.outcome) {
                    *row.decided.entry(s.outcome.clone()).or_insert(0) += 1;
                } else {
                    *row.left.entry(s.outcome.clone()).or_insert(0) += 1;
                }
            }
            let done = row.reached - row.here_now;
            row.conversion = ratio(done - row.left_total().min(done), done);
            row
        })
        .collect()
}

fn timing(name: &str, ended: &[&JourneySummary]) -> Timing {
    let mut wall: Vec<u64> = ended.iter().filter_map(|s| s.wall_secs()).collect();
    let mut active: Vec<u64> = ended.iter().map(|s| s.active_secs).collect();
    Timing {
        outcome: name.to_owned(),
        count: ended.len(),
        wall_p50: percentile(&mut wall, 0.5),
        wall_p90: percentile(&mut wall, 0.9),
        active_p50: percentile(&mut active, 0.5),
        active_p90: percentile(&mut active, 0.9),
    }
}

fn timings(summaries: &[JourneySummary]) -> Vec<Timing> {
    let ended: Vec<&JourneySummary> = summaries.iter().filter(|s| !s.is_open()).collect();
    let mut by_outcome: BTreeMap<&str, Vec<&JourneySummary>> = BTreeMap::new();
    for s in &ended {
        by_outcome.entry(s.outcome.as_str()).or_default().push(s);
    }
    let mut rows = vec![timing("all", &ended)];
    rows.extend(by_outcome.iter().map(|(name, group)| timing(name, group)));
    rows
}

fn retakes(summaries: &[JourneySummary]) -> Vec<RetakeRow> {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for retake in summaries.iter().flat_map(|s| &s.retakes) {
        let document = retake.document.clone().unwrap_or_else(|| "-".into());
        *counts.entry((retake.reason.clone(), document)).or_insert(0) += 1;
    }
    let mut rows: Vec<RetakeRow> =
        counts.into_iter().map(|((reason, document), count)| RetakeRow { reason, document, count }).collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| (&a.reason, &a.document).cmp(&(&b.reason, &b.document))));
    rows
}

fn handoffs(summaries: &[JourneySummary]) -> Handoffs {
    let conversations = summaries.iter().filter(|s| !s.handoffs.is_empty()).count();
    let mut reasons = BTreeMap::new();
    for reason in summaries.iter().flat_map(|s| &s.handoffs) {
        *reasons.entry(reason_code(reason).to_owned()).or_insert(0) += 1;
    }
    Handoffs { conversations, rate: ratio(conversations, summaries.len()), reasons }
}

fn in_period(period: &Period, at: Option<u64>) -> bool {
    at.is_some_and(|at| (period.since..period.until).contains(&at))
}

fn agents(period: &Period, cases: &[Case]) -> Vec<AgentRow> {
    let mut by_agent: BTreeMap<&str, (BTreeMap<String, usize>, Vec<u64>)> = BTreeMap::new();
    for case in cases {
        let closed_by_agent = matches!(case.status, CaseStatus::Resolved | CaseStatus::Returned);
        let (Some(agent), true) = (case.assigned_to.as_deref(), closed_by_agent && in_period(period, case.closed_at))
        else {
            continue;
        };
        let entry = by_agent.entry(agent).or_default();
        let decision = case.outcome.clone().unwrap_or_else(|| case.status.as_str().to_owned());
        *entry.0.entry(decision).or_insert(0) += 1;
        if let (Some(taken), Some(closed)) = (case.assigned_at, case.closed_at) {
            entry.1.push(closed.saturating_sub(taken));
        }
    }
    by_agent
        .into_iter()
        .map(|(agent, (decisions, mut handling))| AgentRow {
            agent: agent.to_owned(),
            decisions,
            handling_p50: percentile(&mut handling, 0.5),
            handling_p90: percentile(&mut handling, 0.9),
        })
        .collect()
}

fn queue(period: &Period, cases: &[Case], now: u64) -> QueueLevels {
    let waiting: Vec<&Case> = cases.iter().filter(|c| c.status == CaseStatus::Waiting).collect();
    let mut waits: Vec<u64> = cases
        .iter()
        .filter(|c| in_period(period, c.assigned_at))
        .filter_map(|c| c.assigned_at.map(|taken| taken.saturating_sub(c.info.opened_at)))
        .collect();
    let within = waits.iter().filter(|w| **w <= ASSIGNMENT_TARGET_SECS).count();
    QueueLevels {
        waiting: waiting.len(),
        assigned: cases.iter().filter(|c| c.status == CaseStatus::Assigned).count(),
        oldest_waiting_secs: waiting.iter().map(|c| now.saturating_sub(c.info.opened_at)).max().unwrap_or(0),
        taken: waits.len(),
        within_target: ratio(within, waits.len()),
        time_to_assignment_p50: percentile(&mut waits, 0.5),
        time_to_assignment_p90: percentile(&mut waits, 0.9),
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
