//! `flow check`: everything a flow file must satisfy beyond its types, reported with file:line and a hint.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};

use super::model::{Action, Choice, Expect, FlowFile, Localized, Next, Step};

mod verification;

/// Texts the engine itself sends; every flow must define them in `texts`.
pub const REQUIRED_TEXTS: &[&str] = &[
    "unexpected",
    "checking",
    "help",
    "stop_confirm",
    "stop_yes",
    "stop_no",
    "stopped",
    "agent_link",
    "agent_link_label",
    "media_failed",
    "welcome_back",
    "closed_by_agent",
];

// WhatsApp Cloud API limits (characters, not bytes).
const TEXT_BODY: usize = 4096;
const INTERACTIVE_BODY: usize = 1024;
const FOOTER: usize = 60;
const BUTTONS: usize = 3;
const BUTTON_TITLE: usize = 20;
const BUTTON_ID: usize = 256;
const LIST_BUTTON: usize = 20;
const LIST_ROWS: usize = 10;
const LIST_SECTIONS: usize = 10;
const ROW_TITLE: usize = 24;
const ROW_ID: usize = 200;
const ROW_DESCRIPTION: usize = 72;
const SECTION_TITLE: usize = 24;
const LINK_LABEL: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    /// 1-based; 0 when the problem is about the whole file.
    pub line: u64,
    pub severity: Severity,
    pub message: String,
    pub hint: String,
}

impl Problem {
    pub fn error(path: &Path, line: u64, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { path: path.to_owned(), line, severity: Severity::Error, message: message.into(), hint: hint.into() }
    }

    pub fn warning(path: &Path, line: u64, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(path, line, message, hint) }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    pub fn from_yaml(path: &Path, error: &serde_saphyr::Error) -> Self {
        let line = error.location().map_or(0, |l| l.line());
        // The rendered error repeats the location and a snippet; its first line is the message.
        let text = error.to_string();
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid YAML").trim();
        let message = first.trim_start_matches("error: ").to_owned();
        Self::error(path, line, message, "see the flow format: `wa-onboard flow schema`, docs/flows.md")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_error() { "error" } else { "warning" };
        write!(f, "{}:{}: {kind}: {}", self.path.display(), self.line, self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n    hint: {}", self.hint)?;
        }
        Ok(())
    }
}

struct Checker<'a> {
    flow: &'a FlowFile,
    path: &'a Path,
    problems: Vec<Problem>,
}

pub fn check(flow: &FlowFile, path: &Path) -> Vec<Problem> {
    let mut c = Checker { flow, path, problems: Vec::new() };
    c.languages();
    c.targets_and_reachability();
    for (name, step) in &flow.steps {
        c.step(name, &step.value, step.referenced.line());
    }
    c.texts();
    c.verification();
    // One mistake can be seen from several places (three buttons leading to the same typo): say it once.
    let mut seen = std::collections::HashSet::new();
    c.problems.retain(|p| seen.insert((p.line, p.message.clone())));
    c.problems
}

impl Checker<'_> {
    fn err(&mut self, line: u64, message: String, hint: &str) {
        self.problems.push(Problem::error(self.path, line, message, hint));
    }

    fn languages(&mut self) {
        if self.flow.languages.is_empty() {
            self.err(0, "`languages` is empty".into(), "list the languages every text has, e.g. [es, pt, en]");
        }
        if !self.flow.languages.contains(&self.flow.fallback_language) {
            self.err(
                0,
                format!("fallback_language `{}` is not in `languages`", self.flow.fallback_language),
                "add it to `languages`",
            );
        }
        for (prefix, lang) in &self.flow.country_languages {
            if !self.flow.languages.contains(lang) {
                self.err(0, format!("country_languages {prefix}: `{lang}` is not in `languages`"), "add it");
            }
        }
    }

    /// Every language present and every text within `max` characters.
    fn localized(&mut self, line: u64, what: &str, text: &Localized, max: usize) {
        let missing: Vec<&str> =
            self.flow.languages.iter().filter(|l| !text.contains_key(*l)).map(String::as_str).collect();
        if !missing.is_empty() {
            self.err(
                line,
                format!("{what}: missing translation for {}", missing.join(", ")),
                "add the missing languages",
            );
        }
        for (lang, value) in text {
            let n = value.chars().count();
            if n > max {
                self.err(
                    line,
                    format!("{what} ({lang}) is {n} characters; WhatsApp allows {max}: \"{}\"", shorten(value)),
                    "shorten it",
                );
            }
            if value.trim().is_empty() {
                self.err(line, format!("{what} ({lang}) is empty"), "write the text");
            }
        }
    }

    fn targets_and_reachability(&mut self) {
        let flow = self.flow;
        if !flow.steps.contains_key(&flow.start) {
            self.err(0, format!("start step `{}` does not exist", flow.start), "name one of the steps");
        }
        let r = &flow.verification.routes;
        let routes = [&r.verified, &r.agent, &r.rejected, &r.review];
        for target in routes.into_iter().flatten() {
            if !flow.steps.contains_key(target) {
                self.err(0, format!("verification.routes: step `{target}` does not exist"), "name one of the steps");
            }
        }
        // Breadth-first from the start and the verification routes (reached by verification results).
        let mut seen = BTreeSet::new();
        let mut queue: VecDeque<String> = VecDeque::from([flow.start.clone()]);
        queue.extend(routes.into_iter().flatten().cloned());
        while let Some(name) = queue.pop_front() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(step) = flow.steps.get(&name) else { continue };
            for target in targets(&step.value) {
                if flow.steps.contains_key(target) {
                    queue.push_back(target.to_owned());
                } else {
                    let hint = format!("known steps: {}", flow.steps.keys().cloned().collect::<Vec<_>>().join(", "));
                    self.err(step.referenced.line(), format!("step `{name}` leads to unknown step `{target}`"), &hint);
                }
            }
        }
        for (name, step) in &flow.steps {
            if !seen.contains(name) {
                self.err(
                    step.referenced.line(),
                    format!("step `{name}` cannot be reached"),
                    "lead to it from another step, or remove it",
                );
            }
        }
    }

    fn step(&mut self, name: &str, step: &Step, line: u64) {
        let expect = expect_of(step);
        let interactive = !step.buttons.is_empty() || step.list.is_some() || step.link.is_some();
        if let Some(text) = &step.text {
            let max = if interactive { INTERACTIVE_BODY } else { TEXT_BODY };
            self.localized(line, &format!("step `{name}` text"), text, max);
        } else if interactive {
            self.err(
                line,
                format!("step `{name}` has buttons, a list or a link but no `text`"),
                "WhatsApp needs a body text",
            );
        }
        if let Some(footer) = &step.footer {
            self.localized(line, &format!("step `{name}` footer"), footer, FOOTER);
        }
        if [!step.buttons.is_empty(), step.list.is_some(), step.link.is_some()].iter().filter(|b| **b).count() > 1 {
            self.err(line, format!("step `{name}` has more than one of buttons, list and link"), "keep one per step");
        }
        if step.buttons.len() > BUTTONS {
            self.err(
                line,
                format!("step `{name}` has {} buttons; WhatsApp allows {BUTTONS}", step.buttons.len()),
                "use a `list` for more choices",
            );
        }
        self.choices(name, line, &step.buttons, BUTTON_TITLE, BUTTON_ID, "button");
        if let Some(list) = &step.list {
            self.localized(line, &format!("step `{name}` list button"), &list.button, LIST_BUTTON);
            let rows: Vec<Choice> = list.sections.iter().flat_map(|s| s.rows.iter().cloned()).collect();
            if rows.len() > LIST_ROWS {
                self.err(
                    line,
                    format!("step `{name}` list has {} rows; WhatsApp allows {LIST_ROWS} in all", rows.len()),
                    "split the choice in two steps",
                );
            }
            if list.sections.len() > LIST_SECTIONS {
                self.err(
                    line,
                    format!("step `{name}` list has {} sections; WhatsApp allows {LIST_SECTIONS}", list.sections.len()),
                    "merge sections",
                );
            }
            for section in &list.sections {
                if let Some(title) = &section.title {
                    self.localized(line, &format!("step `{name}` section title"), title, SECTION_TITLE);
                }
            }
            self.choices(name, line, &rows, ROW_TITLE, ROW_ID, "row");
        }
        if let Some(link) = &step.link {
            self.localized(line, &format!("step `{name}` link label"), &link.label, LINK_LABEL);
            if !(link.url.starts_with("https://") || link.url.starts_with("http://")) {
                self.err(line, format!("step `{name}` link url `{}` is not http(s)", link.url), "write a full URL");
            }
        }
        if let Some(text) = &step.unexpected {
            self.localized(line, &format!("step `{name}` unexpected"), text, TEXT_BODY);
        }
        if let Some(reminder) = &step.reminder {
            self.localized(line, &format!("step `{name}` reminder"), &reminder.text, TEXT_BODY);
        }
        match expect {
            Expect::Choice if step.buttons.is_empty() && step.list.is_none() => self.err(
                line,
                format!("step `{name}` expects a choice but offers no buttons or list"),
                "add buttons or a list",
            ),
            Expect::Text | Expect::Image | Expect::ImageOrDocument | Expect::None
                if !step.buttons.is_empty() || step.list.is_some() =>
            {
                self.err(
                    line,
                    format!("step `{name}` offers choices but expects {expect:?}"),
                    "remove `expect` or the choices",
                )
            }
            Expect::Image | Expect::ImageOrDocument if step.slot.is_none() => self.err(
                line,
                format!("step `{name}` collects a photo but names no `slot`"),
                "add `slot: front` (or back, selfie...)",
            ),
            Expect::Text | Expect::Image | Expect::ImageOrDocument if step.next.is_none() => self.err(
                line,
                format!("step `{name}` waits for an answer but has no `next`"),
                "say where the answer leads",
            ),
            _ => {}
        }
        if let Some(pattern) = &step.pattern
            && let Err(e) = regex::Regex::new(pattern)
        {
            self.err(line, format!("step `{name}` pattern does not compile: {e}"), "fix the regular expression");
        }
        if expect == Expect::Text && step.save_as.is_none() {
            self.problems.push(Problem::warning(
                self.path,
                line,
                format!("step `{name}` asks for text but keeps it nowhere"),
                "add `save_as`",
            ));
        }
        // A dead end: nothing to wait for, nowhere to go, and no action that ends or hands over.
        let ends = matches!(step.action, Some(Action::Finish | Action::Handoff | Action::Verify));
        if expect == Expect::None && step.next.is_none() && !ends && step.link.is_none() {
            self.err(
                line,
                format!("step `{name}` is a dead end: it waits for nothing and leads nowhere"),
                "add `next`, or `action: finish`",
            );
        }
        if step.action == Some(Action::Verify) && self.flow.verification.routes.verified.is_none() {
            self.err(
                line,
                format!("step `{name}` verifies but `verification.routes.verified` is not set"),
                "say where a verified user goes",
            );
        }
    }

    fn choices(&mut self, name: &str, line: u64, choices: &[Choice], max_title: usize, max_id: usize, what: &str) {
        let mut ids = BTreeSet::new();
        for choice in choices {
            if !ids.insert(choice.id.as_str()) {
                self.err(
                    line,
                    format!("step `{name}`: {what} id `{}` is used twice", choice.id),
                    "ids must be unique in a step",
                );
            }
            if choice.id.chars().count() > max_id || choice.id.is_empty() {
                self.err(
                    line,
                    format!("step `{name}`: {what} id `{}` must be 1 to {max_id} characters", choice.id),
                    "",
                );
            }
            self.localized(line, &format!("step `{name}` {what} `{}` title", choice.id), &choice.title, max_title);
            if let Some(d) = &choice.description {
                self.localized(line, &format!("step `{name}` {what} `{}` description", choice.id), d, ROW_DESCRIPTION);
            }
            for (var, value) in &choice.set {
                let docs = &self.flow.verification.documents;
                if var == "document" && !docs.is_empty() && !docs.contains_key(value) {
                    self.err(
                        line,
                        format!("step `{name}`: document `{value}` has no entry in verification.documents"),
                        "add it there",
                    );
                }
            }
        }
        // Titles must be unique in each language too (WhatsApp rejects duplicate button titles).
        for lang in &self.flow.languages {
            let mut titles = BTreeSet::new();
            for choice in choices {
                if let Some(title) = choice.title.get(lang)
                    && !titles.insert(title.as_str())
                {
                    self.err(
                        line,
                        format!("step `{name}`: {what} title \"{title}\" ({lang}) is used twice"),
                        "titles must be unique",
                    );
                }
            }
        }
    }

    fn texts(&mut self) {
        for key in REQUIRED_TEXTS {
            match self.flow.texts.get(*key) {
                None => self.err(0, format!("texts.{key} is missing"), "the engine sends it; see flows/kyc_latam.yaml"),
                Some(text) => {
                    let max = if *key == "agent_link_label" || key.starts_with("stop_y") || *key == "stop_no" {
                        BUTTON_TITLE
                    } else {
                        INTERACTIVE_BODY
                    };
                    self.localized(0, &format!("texts.{key}"), text, max);
                }
            }
        }
        for (key, text) in &self.flow.texts {
            if !REQUIRED_TEXTS.contains(&key.as_str()) {
                self.localized(0, &format!("texts.{key}"), text, TEXT_BODY);
            }
        }
        let commands = [
            ("agent", &self.flow.commands.agent),
            ("restart", &self.flow.commands.restart),
            ("help", &self.flow.commands.help),
            ("stop", &self.flow.commands.stop),
        ];
        for (name, words) in commands {
            if !words.is_empty() {
                self.localized(0, &format!("commands.{name}"), words, TEXT_BODY);
            }
        }
    }
}

/// What a step waits for, with the default inferred from its content.
pub fn expect_of(step: &Step) -> Expect {
    step.expect.unwrap_or(if !step.buttons.is_empty() || step.list.is_some() { Expect::Choice } else { Expect::None })
}

/// Every step name a step can lead to.
pub fn targets(step: &Step) -> Vec<&str> {
    fn names(next: &Next) -> Vec<&str> {
        match next {
            Next::Step(s) => vec![s.as_str()],
            Next::Branches(branches) => branches.iter().map(|b| b.goto.as_str()).collect(),
        }
    }
    let rows = step.list.iter().flat_map(|l| l.sections.iter().flat_map(|s| &s.rows));
    step.next.iter().chain(step.buttons.iter().chain(rows).map(|c| &c.next)).flat_map(names).collect()
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 40 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(40).collect::<String>())
    }
}
