//! The Grafana dashboard (`deploy/grafana/wa-onboard.json`) and the Prometheus alert rules
//! (`deploy/prometheus/wa-onboard-alerts.yml`) load, every PromQL expression in them parses, and every metric
//! they name is one the service exports on `/metrics`; docs/metrics.md describes every exported metric.

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `expr` string anywhere in a JSON document.
fn expressions(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    _ => expressions(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

/// The metric names an expression reads (`wa_onboard_...`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"wa_onboard_[a-zA-Z0-9_]+").unwrap();
    pattern.find_iter(expr).map(|m| m.as_str().to_owned()).collect()
}

/// The series names `/metrics` exports, from its `# TYPE` lines: a counter is read as `<name>_total`, a
/// histogram as `<name>_bucket`, `_sum` and `_count`.
fn exported(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut families = BTreeSet::new();
    let mut series = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let mut words = rest.split_whitespace();
        let (Some(name), Some(kind)) = (words.next(), words.next()) else { continue };
        families.insert(name.to_owned());
        match kind {
            "counter" => {
                series.insert(format!("{name}_total"));
            }
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    series.insert(format!("{name}{suffix}"));
                }
            }
            _ => {
                series.insert(name.to_owned());
            }
        }
    }
    (families, series)
}

/// Grafana's variables, replaced by values PromQL accepts.
fn as_promql(expr: &str) -> String {
    expr.replace("$__range", "1d").replace("$__rate_interval", "5m").replace("$flow", ".*")
}

async fn metrics_text() -> String {
    let app = spawn_app(Backend::Memory, "monitoring").await;
    app.metrics().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_the_alerts_read_only_exported_metrics() {
    let (families, series) = exported(&metrics_text().await);
    assert!(series.contains("wa_onboard_onboardings_started_total"), "the funnel metrics are exported: {series:?}");

    let dashboard: Value =
        serde_json::from_str(&read("deploy/grafana/wa-onboard.json")).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "wa-onboard");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 20, "a panel for each part: {}", panels.len());
    let mut dashboard_exprs = Vec::new();
    expressions(&dashboard, &mut dashboard_exprs);

    let rules: Value = serde_saphyr::from_str(&read("deploy/prometheus/wa-onboard-alerts.yml")).expect("YAML");
    let rules = rules["groups"][0]["rules"].as_array().expect("a group of rules");
    let names: Vec<&str> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
    for needed in
        ["WhatsAppAccessTokenExpired", "IdentityProviderCircuitOpen", "AgentQueueWaitingTooLong", "WebhookServerErrors"]
    {
        assert!(names.contains(&needed), "alert {needed} is defined: {names:?}");
    }
    for rule in rules {
        let name = rule["alert"].as_str().unwrap_or("?");
        assert!(rule["labels"]["severity"].is_string(), "{name} has a severity");
        assert!(rule["annotations"]["summary"].is_string(), "{name} says what is wrong");
        assert!(rule["for"].is_string(), "{name} waits before firing");
    }
    let mut alert_exprs = Vec::new();
    for rule in rules {
        expressions(rule, &mut alert_exprs);
    }
    assert_eq!(alert_exprs.len(), rules.len(), "each rule has one expression");

    let mut read_metrics = BTreeSet::new();
    for expr in dashboard_exprs.iter().chain(&alert_exprs) {
        if let Err(e) = promql_parser::parser::parse(&as_promql(expr)) {
            panic!("not PromQL: {expr}\n{e}");
        }
        read_metrics.extend(metric_names(expr));
    }
    let missing: Vec<&String> = read_metrics.iter().filter(|m| !series.contains(*m)).collect();
    assert!(missing.is_empty(), "read but not exported: {missing:?}\nexported: {families:?}");
    // The dashboard shows each part of the issue it was made for.
    for family in [
        "wa_onboard_onboarding_steps_reached",
        "wa_onboard_onboardings_finished",
        "wa_onboard_onboarding_retakes",
        "wa_onboard_onboarding_handoffs",
        "wa_onboard_cases",
        "wa_onboard_provider_requests",
        "wa_onboard_http_request_duration_seconds",
    ] {
        assert!(dashboard_exprs.iter().any(|e| e.contains(family)), "the dashboard shows {family}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_metrics_md_describes_every_exported_metric() {
    let (families, _) = exported(&metrics_text().await);
    let doc = read("docs/metrics.md");
    let missing: Vec<&String> = families.iter().filter(|f| !doc.contains(&format!("`{f}`"))).collect();
    assert!(missing.is_empty(), "docs/metrics.md does not describe: {missing:?}");
}
