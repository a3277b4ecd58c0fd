//! A case: who waits and why, the photos (thumbnails, click for the full photo), the timeline, the chat box and
//! the decisions. The timeline and photos are re-fetched live by the page's script.

use maud::{Markup, html};

use super::layout::{notice, page, time};
use crate::agent::REJECT_REASONS;
use crate::agent::desk::CaseView;
use crate::console::session::SignedIn;
use crate::console::text::{reject_reason, t};
use crate::store::agents::Role;
use crate::store::case::CaseStatus;

/// The reasons an agent may give for a retake: each has localized advice for the user.
pub const RETAKE_REASONS: &[&str] =
    &["blurry", "glare", "too_dark", "overexposed", "cropped", "low_resolution", "no_face", "face_too_small"];

pub struct CasePage<'a> {
    pub view: &'a CaseView,
    /// The flow's steps, for "return to the bot at".
    pub steps: &'a [String],
    pub has_template: bool,
}

pub fn render(lang: &str, signed_in: &SignedIn, page_data: &CasePage<'_>, error: Option<&str>) -> Markup {
    let view = page_data.view;
    let case = &view.case;
    let id = &case.info.id;
    let holds = case.assigned_to.as_deref() == Some(signed_in.account.email.as_str());
    let open = matches!(case.status, CaseStatus::Waiting | CaseStatus::Assigned);
    let supervisor = signed_in.account.role == Role::Supervisor;
    let csrf = &signed_in.session.csrf;
    let body = html! {
        p { a href="/console/" { "← " (t(lang, "back_to_queue")) } }
        (notice(error))
        section.card.case-head {
            h1 {
                (case.info.profile_name.as_deref().unwrap_or("—"))
                " " small { (case.info.masked_phone.as_deref().unwrap_or("")) }
            }
            dl.facts {
                dt { (t(lang, "status")) } dd.status data-status=(case.status.as_str()) { (t(lang, status_key(case.status))) @if let Some(outcome) = &case.outcome { " · " (outcome) } }
                dt { (t(lang, "reason")) } dd { code #case-reason { (case.info.reason) } }
                dt { (t(lang, "attempts")) } dd { (case.info.attempts) }
                dt { (t(lang, "language")) } dd { (case.info.language.as_deref().unwrap_or("-")) }
                dt { (t(lang, "document")) } dd { (case.info.document.as_deref().unwrap_or("-")) }
                dt { (t(lang, "step")) } dd { (view.step.as_deref().unwrap_or(&case.info.step)) }
                dt { (t(lang, "opened")) } dd { (time(case.info.opened_at)) }
                dt { (t(lang, "held_by")) } dd #held-by { (case.assigned_to.as_deref().unwrap_or("-")) }
            }
            @if case.status == CaseStatus::Waiting {
                form.inline method="post" action={ "/console/cases/" (id) "/claim" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.primary #take type="submit" { (t(lang, "take")) }
                }
            }
        }
        div.columns {
            div {
                // Two live parts: the photos change only when one arrives (their images are not fetched again
                // each time the timeline moves), the timeline with every message.
                div #case-photos data-live={ "/console/cases/" (id) "/live?part=photos" } { (photos(lang, view)) }
                div #case-timeline data-live={ "/console/cases/" (id) "/live?part=timeline" } { (timeline(lang, view)) }
            }
            aside {
                @if !open {
                    section.card { p { strong { (t(lang, "closed")) } } }
                } @else if holds || (supervisor && case.status == CaseStatus::Assigned) {
                    (chat(lang, id, csrf, view.window_open, page_data.has_template))
                    (decisions(lang, id, csrf, page_data.steps))
                } @else if case.status == CaseStatus::Assigned {
                    section.card { p { (t(lang, "held_by_other")) } }
                } @else {
                    section.card { p { (t(lang, "take_it_first")) } }
                }
            }
        }
    };
    page(lang, case.info.profile_name.as_deref().unwrap_or(id), Some(signed_in), body)
}

/// The photos, newest first per slot; click for the full photo.
pub fn photos(lang: &str, view: &CaseView) -> Markup {
    let id = &view.case.info.id;
    html! {
        section.card {
            h2 { (t(lang, "photos")) }
            @if view.photos.is_empty() {
                p.empty { (t(lang, "no_photos")) }
            } @else {
                div.photos {
                    @for photo in &view.photos {
                        figure data-slot=(photo.slot) {
                            a href={ "/console/cases/" (id) "/photos/" (photo.name) "?size=full" } target="_blank" rel="noopener" title=(t(lang, "view_full")) {
                                img src={ "/console/cases/" (id) "/photos/" (photo.name) "?size=thumb" } alt=(photo.slot) width="120";
                            }
                            figcaption { (t(lang, slot_key(&photo.slot))) " · " (time(photo.received_at_ms / 1000)) }
                        }
                    }
                }
            }
        }
    }
}

/// Every message both ways, each check with its reasons, every agent action with its author.
pub fn timeline(lang: &str, view: &CaseView) -> Markup {
    html! {
        section.card {
            h2 { (t(lang, "timeline")) " " small.live-note { (t(lang, "live")) } }
            p #live-status data-status=(view.case.status.as_str()) {
                (t(lang, "status")) ": " strong { (t(lang, status_key(view.case.status))) }
                @if let Some(outcome) = &view.case.outcome { " · " (outcome) }
            }
            ol.timeline {
                @for line in &view.timeline {
                    li class={ "entry " (line.entry.actor) " " (line.entry.kind) } data-kind=(line.entry.kind) {
                        span.when { (time(line.entry.at)) }
                        span.actor { (t(lang, actor_key(&line.entry.actor))) @if let Some(agent) = &line.entry.agent { " · " (agent) } }
                        span.text { (line.entry.text) }
                        @if let Some(delivery) = &line.delivery {
                            span class={ "delivery " (delivery) } { (t(lang, delivery_key(delivery))) }
                        }
                    }
                }
            }
        }
    }
}

fn chat(lang: &str, id: &str, csrf: &str, window_open: bool, has_template: bool) -> Markup {
    html! {
        section.card.chat {
            h2 { (t(lang, "message")) }
            @if window_open {
                form #chat method="post" action={ "/console/cases/" (id) "/messages" } {
                    input type="hidden" name="csrf" value=(csrf);
                    textarea name="text" rows="3" required maxlength="4096" aria-label=(t(lang, "message")) {}
                    button.primary type="submit" { (t(lang, "send")) }
                }
            } @else {
                p.notice { (t(lang, "window_closed")) }
                @if has_template {
                    form method="post" action={ "/console/cases/" (id) "/messages" } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="text" value="";
                        input type="hidden" name="reengage" value="true";
                        button type="submit" { (t(lang, "send_template")) }
                    }
                } @else {
                    p { (t(lang, "no_template")) }
                }
            }
        }
    }
}

fn decisions(lang: &str, id: &str, csrf: &str, steps: &[String]) -> Markup {
    let action = format!("/console/cases/{id}/decision");
    html! {
        section.card.decisions {
            h2 { (t(lang, "decide")) }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="decision" value="approve";
                button.primary #approve type="submit" { (t(lang, "approve")) }
            }
            form #retake method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="decision" value="retake";
                select name="slot" aria-label=(t(lang, "photos")) {
                    @for slot in ["front", "back", "selfie"] { option value=(slot) { (t(lang, slot_key(slot))) } }
                }
                select name="reason" aria-label=(t(lang, "reason")) {
                    @for reason in RETAKE_REASONS { option value=(reason) { (reason) } }
                }
                button type="submit" { (t(lang, "retake")) }
            }
            form #reject method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="decision" value="reject";
                select name="reason" aria-label=(t(lang, "reason")) {
                    @for reason in REJECT_REASONS { option value=(reason) { (reject_reason(lang, reason)) } }
                }
                button.danger type="submit" { (t(lang, "reject")) }
            }
            form #return method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="decision" value="return";
                select name="step" aria-label=(t(lang, "at_step")) {
                    option value="" { (t(lang, "where_it_is")) }
                    @for step in steps { option value=(step) { (step) } }
                }
                button type="submit" { (t(lang, "return")) }
            }
        }
    }
}

fn slot_key(slot: &str) -> &'static str {
    match slot {
        "front" => "front",
        "back" => "back",
        _ => "selfie",
    }
}

fn actor_key(actor: &str) -> &'static str {
    match actor {
        "user" => "user",
        "agent" => "agent",
        "bot" => "bot",
        "verifier" => "verifier",
        _ => "system",
    }
}

fn delivery_key(state: &str) -> &'static str {
    match state {
        "sent" => "sent",
        "delivered" => "delivered",
        "read" => "read",
        "failed" => "failed",
        _ => "queued",
    }
}

fn status_key(status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Waiting => "status_waiting",
        CaseStatus::Assigned => "status_assigned",
        CaseStatus::Resolved => "status_resolved",
        CaseStatus::Returned => "status_returned",
        CaseStatus::Withdrawn => "status_withdrawn",
    }
}
