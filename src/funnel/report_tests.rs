//! The report's arithmetic, as tables of summaries and cases.

use super::*;
use crate::flow::journey::Retake;
use crate::flow::state::UserKey;
use crate::store::case::CaseInfo;

const DAY: u64 = 86_400;

fn period() -> Period {
    Period { since: 0, until: 10 * DAY, flow: None }
}

/// A conversation started at `at` through `steps`, standing at `step` with `outcome` (ended after `wall` s).
fn summary(id: &str, steps: &[&str], step: &str, outcome: &str, wall: u64, active: u64) -> JourneySummary {
    let open = outcome::is_open(outcome);
    JourneySummary {
        conversation_id: id.into(),
        flow_id: "kyc".into(),
        flow_version: "v1".into(),
        started_at: 100,
        updated_at: 100 + wall,
        outcome: outcome.into(),
        ended_at: (!open).then_some(100 + wall),
        step: step.into(),
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        document: Some("mx_ine".into()),
        retakes: Vec::new(),
        handoffs: Vec::new(),
        active_secs: active,
        erased: false,
    }
}

fn case(
    id: &str,
    status: CaseStatus,
    agent: Option<&str>,
    opened: u64,
    taken: Option<u64>,
    closed: Option<u64>,
) -> Case {
    let info = CaseInfo {
        id: id.into(),
        conversation_id: format!("c-{id}"),
        user: UserKey { phone_number_id: "1".into(), user: "u".into() },
        masked_phone: None,
        profile_name: None,
        language: None,
        document: None,
        step: "review".into(),
        reason: "review_required".into(),
        attempts: 0,
        opened_at: opened,
    };
    let outcome = match status {
        CaseStatus::Resolved => Some("approved".to_owned()),
        CaseStatus::Returned => Some("returned".to_owned()),
        _ => None,
    };
    Case { info, status, assigned_to: agent.map(str::to_owned), assigned_at: taken, closed_at: closed, outcome }
}

#[test]
fn a_finishing_step_is_not_a_step_and_each_leaves_where_it_was() {
    let order: Vec<String> =
        ["start", "consent", "declined", "photo", "done"].iter().map(|s| (*s).to_owned()).collect();
    let summaries = [
        summary("a", &["start", "consent", "photo", "done"], "photo", "verified", 60, 30),
        summary("b", &["start", "consent", "declined"], "consent", "declined", 20, 10),
        summary("c", &["start", "consent", "photo"], "photo", "expired", DAY, 15),
        summary("d", &["start", "consent", "photo"], "photo", "in_progress", 0, 5),
    ];
    let report = build(period(), &summaries, &[], &order, 0);
    let rows: Vec<(&str, usize, usize, usize, Option<f64>)> =
        report.steps.iter().map(|s| (s.step.as_str(), s.reached, s.left_total(), s.here_now, s.conversion)).collect();
    assert_eq!(
        rows,
        [("start", 4, 0, 0, Some(1.0)), ("consent", 4, 1, 0, Some(0.75)), ("photo", 3, 1, 1, Some(0.5))],
        "`declined` and `done` are finishing steps: no rows"
    );
    assert_eq!(report.steps[2].decided, BTreeMap::from([("verified".to_owned(), 1)]));
    assert_eq!(report.verified_ratio, Some(1.0 / 3.0));
    let all = &report.time_to_outcome[0];
    assert_eq!((all.outcome.as_str(), all.count, all.wall_p50, all.wall_p90), ("all", 3, 60, DAY));
    assert_eq!((all.active_p50, all.active_p90), (15, 30));
}

#[test]
fn steps_no_flow_lists_come_after_the_flows_by_their_mean_position() {
    let summaries = [summary("a", &["old_start", "consent", "old_photo"], "old_photo", "expired", 10, 1)];
    let order = vec!["consent".to_owned()];
    let report = build(period(), &summaries, &[], &order, 0);
    let steps: Vec<&str> = report.steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(steps, ["consent", "old_start", "old_photo"]);
}

#[test]
fn retakes_handoffs_and_erasures_are_counted_by_code() {
    let mut a = summary("a", &["start"], "start", "review", 0, 0);
    a.retakes = vec![
        Retake { slot: "front".into(), reason: "blurry".into(), document: Some("mx_ine".into()) },
        Retake { slot: "front".into(), reason: "blurry".into(), document: Some("mx_ine".into()) },
        Retake { slot: "selfie".into(), reason: "no_face".into(), document: None },
    ];
    a.handoffs = vec!["attempts_exhausted: blurry".into(), "user_request".into()];
    let b = summary("b", &["start"], "start", "in_progress", 0, 0).erased_at(500);
    let report = build(period(), &[a, b], &[], &[], 0);
    let retakes: Vec<(&str, &str, usize)> =
        report.retakes.iter().map(|r| (r.reason.as_str(), r.document.as_str(), r.count)).collect();
    assert_eq!(retakes, [("blurry", "mx_ine", 2), ("no_face", "-", 1)]);
    assert_eq!(report.handoffs.conversations, 1);
    assert_eq!(report.handoffs.rate, Some(0.5));
    let reasons = BTreeMap::from([("attempts_exhausted".to_owned(), 1), ("user_request".to_owned(), 1)]);
    assert_eq!(report.handoffs.reasons, reasons);
    assert_eq!(report.outcomes.get("erased"), Some(&1), "erased before it ended: {:?}", report.outcomes);
    assert_eq!(report.steps[0].left, BTreeMap::from([("erased".to_owned(), 1)]));
}

#[test]
fn agents_and_the_queue_count_only_what_happened_in_the_period() {
    let p = Period { since: 1000, until: 5000, flow: None };
    let cases = [
        case("1", CaseStatus::Resolved, Some("ana@x"), 1000, Some(1100), Some(1400)),
        case("2", CaseStatus::Returned, Some("ana@x"), 1000, Some(1200), Some(1300)),
        case("3", CaseStatus::Resolved, Some("bia@x"), 100, Some(3000), Some(4000)),
        // Closed before the period: not in it.
        case("4", CaseStatus::Resolved, Some("bia@x"), 10, Some(20), Some(30)),
        case("5", CaseStatus::Waiting, None, 4000, None, None),
        case("6", CaseStatus::Assigned, Some("bia@x"), 4200, Some(4300), None),
        // Withdrawn by the user: no agent's decision.
        case("7", CaseStatus::Withdrawn, Some("ana@x"), 1000, Some(1001), Some(1002)),
    ];
    let report = build(p, &[], &cases, &[], 4600);
    type Row<'a> = (&'a str, Vec<(&'a str, usize)>, u64, u64);
    let agents: Vec<Row> = report
        .agents
        .iter()
        .map(|a| {
            let decisions = a.decisions.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            (a.agent.as_str(), decisions, a.handling_p50, a.handling_p90)
        })
        .collect();
    assert_eq!(
        agents,
        [("ana@x", vec![("approved", 1), ("returned", 1)], 100, 300), ("bia@x", vec![("approved", 1)], 1000, 1000)]
    );
    let q = &report.queue;
    assert_eq!((q.waiting, q.assigned, q.oldest_waiting_secs), (1, 1, 600));
    // Taken in the period: 100, 200, 2900, 100 and 1 s after opening; 4 of 5 within 30 minutes.
    assert_eq!((q.taken, q.time_to_assignment_p50, q.time_to_assignment_p90), (5, 100, 2900));
    assert_eq!(q.within_target, Some(0.8));
}

#[test]
fn percentiles_are_nearest_rank() {
    assert_eq!(percentile(&mut [], 0.5), 0);
    assert_eq!(percentile(&mut [7], 0.9), 7);
    assert_eq!(percentile(&mut [60, 50, 50, 50], 0.5), 50);
    assert_eq!(percentile(&mut [60, 50, 50, 50], 0.9), 60);
    assert_eq!(percentile(&mut (1..=10).collect::<Vec<_>>(), 0.9), 9);
}

#[test]
fn segments_split_by_version_country_and_document() {
    assert_eq!(country_of(Some("mx_ine")), "MX");
    assert_eq!(country_of(Some("br_cnh")), "BR");
    assert_eq!(country_of(Some("passport")), "-");
    assert_eq!(country_of(None), "-");
    let mut a = summary("a", &["start"], "start", "verified", 90, 30);
    a.document = Some("co_cedula".into());
    let mut b = summary("b", &["start"], "start", "expired", DAY, 10);
    b.flow_version = "v2".into();
    b.retakes = vec![Retake { slot: "front".into(), reason: "glare".into(), document: Some("mx_ine".into()) }];
    let c = summary("c", &["start"], "start", "review", 0, 0);
    let report = build(period(), &[a, b, c], &[], &[], 0);
    let rows = |segments: &[Segment]| -> Vec<(String, usize, usize, usize, usize)> {
        segments.iter().map(|s| (s.key.clone(), s.started, s.ended, s.verified, s.retakes)).collect()
    };
    let key = |k: &str, started, ended, verified, retakes| (k.to_owned(), started, ended, verified, retakes);
    assert_eq!(rows(&report.by_version), [key("kyc@v1", 2, 1, 1, 0), key("kyc@v2", 1, 1, 0, 1)]);
    assert_eq!(rows(&report.by_country), [key("CO", 1, 1, 1, 0), key("MX", 2, 1, 0, 1)]);
    assert_eq!(rows(&report.by_document), [key("co_cedula", 1, 1, 1, 0), key("mx_ine", 2, 1, 0, 1)]);
    assert_eq!(report.by_version[0].verified_ratio, Some(1.0));
    assert_eq!(report.by_version[0].verified_wall_p50, 90);
}
