//! `flow graph`: a flow as a diagram (Mermaid for docs and GitHub, Graphviz dot for print).

use std::fmt::Write as _;

use super::check::expect_of;
use super::i18n::pick;
use super::load::Flow;
use super::model::{Action, Expect, Next, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mermaid,
    Dot,
}

/// Every edge of the flow: (from, to, label).
fn edges(flow: &Flow) -> Vec<(String, String, String)> {
    let lang = &flow.file.fallback_language;
    let mut out = Vec::new();
    let mut add = |from: &str, next: &Next, label: String| match next {
        Next::Step(to) => out.push((from.to_owned(), to.clone(), label)),
        Next::Branches(branches) => {
            for b in branches {
                let cond: Vec<String> = b.when.iter().map(|(k, v)| format!("{k} in {}", v.join("/"))).collect();
                let text = if cond.is_empty() { label.clone() } else { format!("{label} if {}", cond.join(", ")) };
                out.push((from.to_owned(), b.goto.clone(), text.trim().to_owned()));
            }
        }
    };
    for (name, step) in &flow.file.steps {
        let step = &step.value;
        for c in step.buttons.iter().chain(step.list.iter().flat_map(|l| l.sections.iter().flat_map(|s| &s.rows))) {
            add(name, &c.next, pick(&c.title, lang, lang).to_owned());
        }
        if let Some(next) = &step.next {
            add(name, next, expect_label(step).into());
        }
        if step.action == Some(Action::Verify) {
            let routes = &flow.file.verification.routes;
            for (label, target) in
                [("verified", &routes.verified), ("agent", &routes.agent), ("rejected", &routes.rejected)]
            {
                if let Some(t) = target {
                    add(name, &Next::Step(t.clone()), label.into());
                }
            }
        }
    }
    out
}

fn expect_label(step: &Step) -> &'static str {
    match expect_of(step) {
        Expect::Text => "text",
        Expect::Image => "photo",
        Expect::ImageOrDocument => "photo or file",
        Expect::Choice => "choice",
        Expect::None => "",
    }
}

fn node_label(name: &str, step: &Step) -> String {
    match step.action {
        Some(Action::Verify) => format!("{name} (verify)"),
        Some(Action::Handoff) => format!("{name} (live agent)"),
        Some(Action::Finish) => format!("{name} (end: {})", step.outcome.as_deref().unwrap_or(name)),
        None => name.to_owned(),
    }
}

fn escape(text: &str) -> String {
    text.replace('"', "'")
}

pub fn render(flow: &Flow, format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Mermaid => {
            let _ = writeln!(out, "flowchart TD");
            for (name, step) in &flow.file.steps {
                let label = escape(&node_label(name, &step.value));
                let shape = match step.value.action {
                    Some(Action::Finish) => format!("{name}([\"{label}\"])"),
                    Some(Action::Verify) => format!("{name}{{{{\"{label}\"}}}}"),
                    _ => format!("{name}[\"{label}\"]"),
                };
                let _ = writeln!(out, "    {shape}");
            }
            for (from, to, label) in edges(flow) {
                if label.is_empty() {
                    let _ = writeln!(out, "    {from} --> {to}");
                } else {
                    let _ = writeln!(out, "    {from} -->|\"{}\"| {to}", escape(&label));
                }
            }
        }
        Format::Dot => {
            let _ =
                writeln!(out, "digraph \"{}\" {{\n    rankdir=TB;\n    node [shape=box, style=rounded];", flow.id());
            for (name, step) in &flow.file.steps {
                let shape = match step.value.action {
                    Some(Action::Finish) => ", shape=oval",
                    Some(Action::Verify) => ", shape=hexagon",
                    _ => "",
                };
                let _ = writeln!(out, "    \"{name}\" [label=\"{}\"{shape}];", escape(&node_label(name, &step.value)));
            }
            for (from, to, label) in edges(flow) {
                let _ = writeln!(out, "    \"{from}\" -> \"{to}\" [label=\"{}\"];", escape(&label));
            }
            let _ = writeln!(out, "}}");
        }
    }
    out
}
