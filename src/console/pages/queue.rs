//! The queue: counts per state, "take next", the waiting cases oldest first, my cases (and, for a supervisor,
//! everyone's, with reassignment). The live part is re-fetched by the page's script.

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::layout::{duration, notice, page};
use crate::console::session::SignedIn;
use crate::console::text::t;
use crate::store::agents::{AgentAccount, Role};
use crate::store::case::{Case, CaseStatus};

pub struct QueueView<'a> {
    pub waiting: &'a [Case],
    pub assigned: &'a [Case],
    pub counts: &'a BTreeMap<CaseStatus, usize>,
    /// The accounts a supervisor may reassign to.
    pub agents: &'a [AgentAccount],
    pub now: u64,
}

pub fn render(lang: &str, signed_in: &SignedIn, view: &QueueView<'_>, error: Option<&str>) -> Markup {
    let body = html! {
        (notice(error))
        div #queue data-live="/console/queue/live" { (live(lang, signed_in, view)) }
    };
    page(lang, t(lang, "queue"), Some(signed_in), body)
}

/// What changes as cases come and go.
pub fn live(lang: &str, signed_in: &SignedIn, view: &QueueView<'_>) -> Markup {
    let me = &signed_in.account.email;
    let supervisor = signed_in.account.role == Role::Supervisor;
    let mine: Vec<&Case> = view.assigned.iter().filter(|c| c.assigned_to.as_deref() == Some(me)).collect();
    html! {
        section.counts {
            @for status in CaseStatus::ALL {
                div.count data-status=(status.as_str()) {
                    strong { (view.counts.get(&status).copied().unwrap_or(0)) }
                    span { (t(lang, status.as_str())) }
                }
            }
            form.take-next method="post" action="/console/take-next" {
                input type="hidden" name="csrf" value=(signed_in.session.csrf);
                button.primary type="submit" disabled[view.waiting.is_empty()] { (t(lang, "take_next")) }
            }
        }
        section.card {
            h2 { (t(lang, "waiting")) }
            @if view.waiting.is_empty() {
                p.empty { (t(lang, "nobody_waiting")) }
            } @else {
                table.cases {
                    thead { tr {
                        th { (t(lang, "person")) } th { (t(lang, "reason")) } th { (t(lang, "waited")) }
                        th { (t(lang, "language")) } th { (t(lang, "document")) } th { (t(lang, "attempts")) } th {}
                    } }
                    tbody {
                        @for case in view.waiting {
                            tr data-case=(case.info.id) {
                                td { a href={ "/console/cases/" (case.info.id) } { (who(case)) } }
                                td { code { (case.info.reason) } }
                                td { (duration(view.now.saturating_sub(case.info.opened_at), lang)) }
                                td { (case.info.language.as_deref().unwrap_or("-")) }
                                td { (case.info.document.as_deref().unwrap_or("-")) }
                                td { (case.info.attempts) }
                                td {
                                    form.inline method="post" action={ "/console/cases/" (case.info.id) "/claim" } {
                                        input type="hidden" name="csrf" value=(signed_in.session.csrf);
                                        button type="submit" { (t(lang, "take")) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (t(lang, "my_cases")) }
            (case_list(lang, &mine, view, None))
        }
        @if supervisor {
            section.card {
                h2 { (t(lang, "all_assigned")) }
                @let all: Vec<&Case> = view.assigned.iter().collect();
                (case_list(lang, &all, view, Some(signed_in)))
            }
        }
    }
}

fn who(case: &Case) -> String {
    match (&case.info.profile_name, &case.info.masked_phone) {
        (Some(name), Some(phone)) => format!("{name} · {phone}"),
        (Some(name), None) => name.clone(),
        (None, Some(phone)) => phone.clone(),
        (None, None) => case.info.conversation_id.clone(),
    }
}

fn case_list(lang: &str, cases: &[&Case], view: &QueueView<'_>, reassign: Option<&SignedIn>) -> Markup {
    html! {
        @if cases.is_empty() {
            p.empty { (t(lang, "no_cases")) }
        } @else {
            ul.case-list {
                @for case in cases {
                    li data-case=(case.info.id) {
                        a href={ "/console/cases/" (case.info.id) } { (who(case)) }
                        " · " code { (case.info.reason) }
                        " · " (duration(view.now.saturating_sub(case.assigned_at.unwrap_or(case.info.opened_at)), lang))
                        @if let Some(signed_in) = reassign {
                            " · " (case.assigned_to.as_deref().unwrap_or("-"))
                            form.inline method="post" action={ "/console/cases/" (case.info.id) "/assign" } {
                                input type="hidden" name="csrf" value=(signed_in.session.csrf);
                                select name="agent" aria-label=(t(lang, "reassign")) {
                                    @for agent in view.agents.iter().filter(|a| !a.disabled) {
                                        option value=(agent.email) selected[case.assigned_to.as_deref() == Some(agent.email.as_str())] { (agent.name) }
                                    }
                                }
                                button type="submit" { (t(lang, "reassign")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
