//! Reads what a funnel report needs from the store: the summaries of the period, the cases, and the steps of
//! the flows the conversations ran on (in file order, from the flow sources every process keeps in the store).

use std::path::Path;

use super::report::{self, FunnelReport, Period};
use crate::flow::load::Flow;
use crate::store::case::CaseStatus;
use crate::store::{Backend, StoreError};

/// The most cases of each state read for one report (the queue and the agents' decisions).
pub const CASES_READ_MAX: usize = 20_000;

/// The report of `period`, as of `now`.
pub async fn funnel(backend: &Backend, period: Period, now: u64) -> Result<FunnelReport, StoreError> {
    let mut summaries = backend.journeys().started_between(period.since, period.until).await?;
    if let Some(flow) = &period.flow {
        summaries.retain(|s| &s.flow_id == flow);
    }
    let cases_store = backend.cases();
    let mut cases = Vec::new();
    for status in CaseStatus::ALL {
        cases.extend(cases_store.list(status, CASES_READ_MAX).await?);
    }
    if period.flow.is_some() {
        // A case belongs to the flow of its conversation; cases of conversations outside the period are kept
        // only for the queue (which is the whole queue, whatever the flow).
        let ids: std::collections::HashSet<&str> = summaries.iter().map(|s| s.conversation_id.as_str()).collect();
        cases.retain(|c| c.status.is_open() || ids.contains(c.info.conversation_id.as_str()));
    }
    let order = step_order(backend, &summaries).await?;
    Ok(report::build(period, &summaries, &cases, &order, now))
}

/// The steps of every flow version in the summaries, in file order, each once (the newest version's order
/// first).
async fn step_order(backend: &Backend, summaries: &[super::JourneySummary]) -> Result<Vec<String>, StoreError> {
    let mut versions: Vec<(&str, &str, u64)> = Vec::new();
    for s in summaries {
        match versions.iter_mut().find(|(f, v, _)| *f == s.flow_id && *v == s.flow_version) {
            Some(known) => known.2 = known.2.max(s.started_at),
            None => versions.push((&s.flow_id, &s.flow_version, s.started_at)),
        }
    }
    versions.sort_by_key(|v| std::cmp::Reverse(v.2));
    let conversations = backend.conversations();
    let mut order: Vec<String> = Vec::new();
    for (flow_id, version, _) in versions {
        let Some(source) = conversations.flow_source(flow_id, version).await? else { continue };
        let Ok(flow) = Flow::parse(&source, Path::new(flow_id)) else { continue };
        for step in flow.file.steps.keys() {
            if !order.contains(step) {
                order.push(step.clone());
            }
        }
    }
    Ok(order)
}
