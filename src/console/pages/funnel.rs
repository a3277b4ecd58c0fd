//! The supervisor's funnel: the conversations of a period drawn as bars (reached, and who left at each step),
//! outcomes, time to outcome, retakes, handoffs, the queue's service level and each agent's decisions, with
//! the same numbers as `wa-onboard report funnel` and a CSV download. The chart is SVG drawn here: no script,
//! no external service.

use maud::{Markup, html};

use super::layout::{page, time};
use crate::console::session::SignedIn;
use crate::console::text::t;
use crate::funnel::render::{duration as readable, percent};
use crate::funnel::report::{FunnelReport, Segment, StepRow};

/// The periods offered as links, as `?since=` values.
const PERIODS: [(&str, &str); 4] = [("24h", "last_24h"), ("7d", "last_7d"), ("30d", "last_30d"), ("90d", "last_90d")];

pub struct FunnelView<'a> {
    pub report: &'a FunnelReport,
    /// The `since` the page was asked with (for the links), and the flows to filter by.
    pub since: &'a str,
    pub flows: &'a [String],
}

pub fn render(lang: &str, signed_in: &SignedIn, view: &FunnelView<'_>) -> Markup {
    let r = view.report;
    let flow_query = r.period.flow.as_deref().map(|f| format!("&flow={}", urlencode(f))).unwrap_or_default();
    let csv = format!("/console/funnel.csv?since={}&until={}{flow_query}", r.period.since, r.period.until);
    let wall_all = r.time_to_outcome.first();
    let body = html! {
        section.card {
            h1 { (t(lang, "funnel")) }
            p.period {
                (time(r.period.since)) " – " (time(r.period.until)) " · "
                (r.period.flow.as_deref().unwrap_or(t(lang, "all_flows")))
            }
            nav.periods {
                @for (since, key) in PERIODS {
                    @if since == view.since { strong { (t(lang, key)) } }
                    @else { a href={ "?since=" (since) (flow_query) } { (t(lang, key)) } }
                }
                @for flow in view.flows {
                    a href={ "?since=" (urlencode(view.since)) "&flow=" (urlencode(flow)) } { (flow) }
                }
                a.download href=(csv) download { (t(lang, "download_csv")) }
            }
            div.counts {
                div.count #started { strong { (r.started) } span { (t(lang, "started")) } }
                div.count #verified-ratio { strong { (percent(r.verified_ratio)) } span { (t(lang, "verified_ratio")) } }
                div.count #handoff-rate { strong { (percent(r.handoffs.rate)) } span { (t(lang, "handoff_rate")) } }
                @if let Some(all) = wall_all {
                    div.count #median-time { strong { (readable(all.wall_p50)) } span { (t(lang, "median_time")) } }
                }
            }
        }
        section.card {
            h2 { (t(lang, "steps")) }
            (chart(lang, r))
            table.cases #steps {
                thead { tr {
                    th { (t(lang, "step")) } th { (t(lang, "reached")) } th { (t(lang, "left_here")) }
                    th { (t(lang, "here_now")) } th { (t(lang, "conversion")) }
                } }
                tbody {
                    @for s in &r.steps {
                        tr data-step=(s.step) data-reached=(s.reached) data-left=(s.left_total()) data-here=(s.here_now) {
                            td { (s.step) } td { (s.reached) }
                            td { (s.left_total()) @if !s.left.is_empty() { " (" (pairs(&s.left)) ")" } }
                            td { (s.here_now) } td { (percent(s.conversion)) }
                        }
                    }
                }
            }
        }
        div.columns-2 {
            section.card {
                h2 { (t(lang, "outcomes")) }
                table.cases #outcomes { tbody {
                    @for (outcome, n) in &r.outcomes { tr data-outcome=(outcome) data-count=(n) { td { (outcome) } td { (n) } } }
                } }
            }
            section.card {
                h2 { (t(lang, "time_to_outcome")) }
                table.cases #times {
                    thead { tr { th {} th { (t(lang, "count")) } th { "p50" } th { "p90" } th { (t(lang, "active")) " p50" } th { (t(lang, "active")) " p90" } } }
                    tbody {
                        @for row in &r.time_to_outcome {
                            tr data-outcome=(row.outcome) {
                                td { (row.outcome) } td { (row.count) } td { (readable(row.wall_p50)) }
                                td { (readable(row.wall_p90)) } td { (readable(row.active_p50)) }
                                td { (readable(row.active_p90)) }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { (t(lang, "retakes")) }
                @if r.retakes.is_empty() { p.empty { (t(lang, "none")) } }
                table.cases #retakes { tbody {
                    @for row in &r.retakes {
                        tr data-reason=(row.reason) data-document=(row.document) data-count=(row.count) {
                            td { (row.reason) } td { (row.document) } td { (row.count) }
                        }
                    }
                } }
            }
            section.card {
                h2 { (t(lang, "handoffs")) }
                p #handoffs data-count=(r.handoffs.conversations) { (r.handoffs.conversations) " · " (percent(r.handoffs.rate)) }
                table.cases { tbody {
                    @for (reason, n) in &r.handoffs.reasons { tr data-reason=(reason) data-count=(n) { td { (reason) } td { (n) } } }
                } }
            }
            section.card #queue-levels data-waiting=(r.queue.waiting) data-assigned=(r.queue.assigned) {
                h2 { (t(lang, "queue_levels")) }
                table.cases { tbody {
                    tr { td { (t(lang, "waiting")) } td { (r.queue.waiting) } }
                    tr { td { (t(lang, "assigned")) } td { (r.queue.assigned) } }
                    tr { td { (t(lang, "oldest_waiting")) } td { (readable(r.queue.oldest_waiting_secs)) } }
                    tr { td { (t(lang, "taken")) } td { (r.queue.taken) } }
                    tr {
                        td { (t(lang, "time_to_assignment")) " p50 / p90" }
                        td { (readable(r.queue.time_to_assignment_p50)) " / " (readable(r.queue.time_to_assignment_p90)) }
                    }
                    tr { td { (t(lang, "within_target")) } td { (percent(r.queue.within_target)) } }
                } }
            }
            @for (key, rows) in [("by_version", &r.by_version), ("by_country", &r.by_country), ("by_document", &r.by_document)] {
                section.card {
                    h2 { (t(lang, key)) }
                    (segments(lang, key, rows))
                }
            }
            section.card {
                h2 { (t(lang, "agents")) }
                @if r.agents.is_empty() { p.empty { (t(lang, "none")) } }
                table.cases #agents {
                    @if !r.agents.is_empty() {
                        thead { tr { th { (t(lang, "agent")) } th { (t(lang, "decisions")) } th { (t(lang, "handling")) " p50 / p90" } } }
                    }
                    tbody {
                        @for a in &r.agents {
                            tr data-agent=(a.agent) {
                                td { (a.agent) } td { (pairs(&a.decisions)) }
                                td { (readable(a.handling_p50)) " / " (readable(a.handling_p90)) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(lang, t(lang, "funnel"), Some(signed_in), body)
}

fn segments(lang: &str, id: &str, rows: &[Segment]) -> Markup {
    html! {
        table.cases id=(id) {
            thead { tr {
                th {} th { (t(lang, "started")) } th { (t(lang, "ended")) } th { (t(lang, "verified")) }
                th { "%" } th { (t(lang, "handoffs")) } th { (t(lang, "retakes")) }
            } }
            tbody {
                @for s in rows {
                    tr data-key=(s.key) data-started=(s.started) data-verified=(s.verified) {
                        td { (s.key) } td { (s.started) } td { (s.ended) } td { (s.verified) }
                        td { (percent(s.verified_ratio)) } td { (s.handoffs) } td { (s.retakes) }
                    }
                }
            }
        }
    }
}

fn pairs(map: &std::collections::BTreeMap<String, usize>) -> String {
    map.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Horizontal bars, one per step: the width is the share of those started who reached it; the red end is the
/// share who left there. Text goes through maud's escaping (step names come from flow files).
fn chart(lang: &str, r: &FunnelReport) -> Markup {
    const LABEL: f64 = 150.0;
    const WIDTH: f64 = 560.0;
    const ROW: f64 = 30.0;
    let height = ROW * r.steps.len() as f64 + 10.0;
    let scale = |n: usize| if r.started == 0 { 0.0 } else { WIDTH * n as f64 / r.started as f64 };
    let bar = |i: usize, s: &StepRow| {
        let y = 5.0 + ROW * i as f64;
        let reached = scale(s.reached);
        let left = scale(s.left_total()).min(reached);
        html! {
            g.bar {
                text x="0" y=(y + 18.0) font-size="13" fill="#1d2330" { (s.step) }
                rect x=(LABEL) y=(y) width=(fmt(reached - left)) height="22" rx="3" fill="#0b6e4f" {}
                rect x=(fmt(LABEL + reached - left)) y=(y) width=(fmt(left)) height="22" fill="#b42318" {}
                text x=(fmt(LABEL + reached + 6.0)) y=(y + 16.0) font-size="12" fill="#5c6475" {
                    (s.reached) @if s.left_total() > 0 { " · −" (s.left_total()) }
                }
            }
        }
    };
    html! {
        svg.funnel #funnel-chart xmlns="http://www.w3.org/2000/svg" role="img" viewBox={ "0 0 " (LABEL + WIDTH + 90.0) " " (height) }
            aria-label=(t(lang, "funnel")) {
            @for (i, s) in r.steps.iter().enumerate() { (bar(i, s)) }
        }
        p.legend {
            span.swatch.kept {} (t(lang, "reached")) " "
            span.swatch.left {} (t(lang, "left_here"))
        }
    }
}

fn fmt(x: f64) -> String {
    format!("{:.1}", x.max(0.0))
}
