//! The funnel report as text: a table for people, CSV for spreadsheets (one fact per row), JSON for programs.

use std::fmt::Write as _;

use super::report::FunnelReport;

/// The formats of `report funnel --format` and `/api/v1/reports/funnel?format=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub fn render(report: &FunnelReport, format: Format) -> String {
    match format {
        Format::Table => table(report),
        Format::Csv => csv(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default() + "\n",
    }
}

pub fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// `1h 02m`, `3m 20s`, `45s`.
pub fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

fn pairs(map: &std::collections::BTreeMap<String, usize>) -> String {
    if map.is_empty() {
        return "-".into();
    }
    map.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
}

fn date(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn table(r: &FunnelReport) -> String {
    let mut out = String::new();
    let flow = r.period.flow.as_deref().unwrap_or("all flows");
    let _ = writeln!(
        out,
        "Funnel of {flow}: conversations started from {} to {}",
        date(r.period.since),
        date(r.period.until)
    );
    let _ = writeln!(out, "started {}, verified {} of those ended\n", r.started, percent(r.verified_ratio));
    let _ = writeln!(
        out,
        "{:<18} {:>8} {:>10} {:>9}  left here (by outcome) / decided here",
        "step", "reached", "here now", "convert"
    );
    for s in &r.steps {
        let mut tail = pairs(&s.left);
        if !s.decided.is_empty() {
            tail = format!("{tail} / {}", pairs(&s.decided));
        }
        let _ =
            writeln!(out, "{:<18} {:>8} {:>10} {:>9}  {tail}", s.step, s.reached, s.here_now, percent(s.conversion));
    }
    let _ = writeln!(out, "\noutcomes: {}", pairs(&r.outcomes));
    let _ = writeln!(
        out,
        "\n{:<14} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "time to", "count", "wall p50", "wall p90", "active p50", "active p90"
    );
    for t in &r.time_to_outcome {
        let _ = writeln!(
            out,
            "{:<14} {:>6} {:>10} {:>10} {:>10} {:>10}",
            t.outcome,
            t.count,
            duration(t.wall_p50),
            duration(t.wall_p90),
            duration(t.active_p50),
            duration(t.active_p90)
        );
    }
    let _ = writeln!(out, "\nretakes:");
    if r.retakes.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for t in &r.retakes {
        let _ = writeln!(out, "  {:<24} {:<12} {:>6}", t.reason, t.document, t.count);
    }
    let h = &r.handoffs;
    let _ = writeln!(
        out,
        "\nhandoffs: {} conversations ({}); reasons: {}",
        h.conversations,
        percent(h.rate),
        pairs(&h.reasons)
    );
    let q = &r.queue;
    let _ = writeln!(
        out,
        "queue now: {} waiting (oldest {}), {} held; taken in the period: {}, time to assignment p50 {} p90 {}, within 30 min {}",
        q.waiting,
        duration(q.oldest_waiting_secs),
        q.assigned,
        q.taken,
        duration(q.time_to_assignment_p50),
        duration(q.time_to_assignment_p90),
        percent(q.within_target)
    );
    for (title, rows) in [("flow version", &r.by_version), ("country", &r.by_country), ("document", &r.by_document)] {
        let _ = writeln!(
            out,
            "\n{:<28} {:>7} {:>6} {:>8} {:>9} {:>8} {:>7} {:>12}",
            format!("by {title}"),
            "started",
            "ended",
            "verified",
            "verified%",
            "handoffs",
            "retakes",
            "verified p50"
        );
        for s in rows {
            let _ = writeln!(
                out,
                "{:<28} {:>7} {:>6} {:>8} {:>9} {:>8} {:>7} {:>12}",
                s.key,
                s.started,
                s.ended,
                s.verified,
                percent(s.verified_ratio),
                s.handoffs,
                s.retakes,
                duration(s.verified_wall_p50)
            );
        }
    }
    let _ = writeln!(out, "\nagents:");
    if r.agents.is_empty() {
        let _ = writeln!(out, "  no decisions in the period");
    }
    for a in &r.agents {
        let _ = writeln!(
            out,
            "  {:<32} {}; handling p50 {} p90 {}",
            a.agent,
            pairs(&a.decisions),
            duration(a.handling_p50),
            duration(a.handling_p90)
        );
    }
    out
}

/// A CSV field, quoted when it must be; a leading `=`, `+`, `-` or `@` is prefixed with `'` so that a
/// spreadsheet never runs it as a formula.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text != "-" { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

fn row(out: &mut String, section: &str, name: &str, measure: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{},{},{},{value}", field(section), field(name), field(measure));
}

fn ratio_value(ratio: Option<f64>) -> String {
    ratio.map_or_else(String::new, |r| format!("{r:.4}"))
}

fn csv(r: &FunnelReport) -> String {
    let mut out = String::from("section,name,measure,value\n");
    row(&mut out, "period", "since", "unix_seconds", r.period.since);
    row(&mut out, "period", "until", "unix_seconds", r.period.until);
    row(&mut out, "period", "flow", "id", field(r.period.flow.as_deref().unwrap_or("")));
    row(&mut out, "total", "started", "conversations", r.started);
    row(&mut out, "total", "verified", "ratio_of_ended", ratio_value(r.verified_ratio));
    for s in &r.steps {
        row(&mut out, "step", &s.step, "reached", s.reached);
        row(&mut out, "step", &s.step, "here_now", s.here_now);
        for (outcome, n) in &s.left {
            row(&mut out, "step", &s.step, &format!("left_{outcome}"), n);
        }
        for (outcome, n) in &s.decided {
            row(&mut out, "step", &s.step, &format!("decided_{outcome}"), n);
        }
        row(&mut out, "step", &s.step, "conversion", ratio_value(s.conversion));
    }
    for (outcome, n) in &r.outcomes {
        row(&mut out, "outcome", outcome, "conversations", n);
    }
    for t in &r.time_to_outcome {
        row(&mut out, "time_to_outcome", &t.outcome, "count", t.count);
        row(&mut out, "time_to_outcome", &t.outcome, "wall_p50_seconds", t.wall_p50);
        row(&mut out, "time_to_outcome", &t.outcome, "wall_p90_seconds", t.wall_p90);
        row(&mut out, "time_to_outcome", &t.outcome, "active_p50_seconds", t.active_p50);
        row(&mut out, "time_to_outcome", &t.outcome, "active_p90_seconds", t.active_p90);
    }
    for t in &r.retakes {
        row(&mut out, "retake", &t.reason, &format!("document_{}", t.document), t.count);
    }
    row(&mut out, "handoff", "all", "conversations", r.handoffs.conversations);
    row(&mut out, "handoff", "all", "rate", ratio_value(r.handoffs.rate));
    for (reason, n) in &r.handoffs.reasons {
        row(&mut out, "handoff", reason, "handoffs", n);
    }
    let q = &r.queue;
    row(&mut out, "queue", "now", "waiting", q.waiting);
    row(&mut out, "queue", "now", "assigned", q.assigned);
    row(&mut out, "queue", "now", "oldest_waiting_seconds", q.oldest_waiting_secs);
    row(&mut out, "queue", "period", "taken", q.taken);
    row(&mut out, "queue", "period", "time_to_assignment_p50_seconds", q.time_to_assignment_p50);
    row(&mut out, "queue", "period", "time_to_assignment_p90_seconds", q.time_to_assignment_p90);
    row(&mut out, "queue", "period", "within_target_ratio", ratio_value(q.within_target));
    for (section, rows) in [("version", &r.by_version), ("country", &r.by_country), ("document", &r.by_document)] {
        for s in rows {
            row(&mut out, section, &s.key, "started", s.started);
            row(&mut out, section, &s.key, "ended", s.ended);
            row(&mut out, section, &s.key, "verified", s.verified);
            row(&mut out, section, &s.key, "verified_ratio", ratio_value(s.verified_ratio));
            row(&mut out, section, &s.key, "handoffs", s.handoffs);
            row(&mut out, section, &s.key, "retakes", s.retakes);
            row(&mut out, section, &s.key, "verified_wall_p50_seconds", s.verified_wall_p50);
        }
    }
    for a in &r.agents {
        for (decision, n) in &a.decisions {
            row(&mut out, "agent", &a.agent, &format!("decision_{decision}"), n);
        }
        row(&mut out, "agent", &a.agent, "handling_p50_seconds", a.handling_p50);
        row(&mut out, "agent", &a.agent, "handling_p90_seconds", a.handling_p90);
    }
    out
}
