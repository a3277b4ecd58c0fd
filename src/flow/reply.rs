//! From a step to the message the user sees, and from the user's answer back to the step's choice.

use super::event::{Button, ListSection, Reply, Row};
use super::i18n::{normalize, pick};
use super::model::{Choice, Step};

/// The message a step sends on entry, in `lang`; `fill` replaces `{variables}`. `None` for a silent step.
pub fn for_step(step: &Step, lang: &str, fallback: &str, fill: &dyn Fn(&str) -> String) -> Option<Reply> {
    let text = |t: &super::model::Localized| fill(pick(t, lang, fallback));
    let body = text(step.text.as_ref()?);
    let footer = step.footer.as_ref().map(text);
    if !step.buttons.is_empty() {
        let buttons = step.buttons.iter().map(|c| Button { id: c.id.clone(), title: text(&c.title) }).collect();
        return Some(Reply::Buttons { body, footer, buttons });
    }
    if let Some(list) = &step.list {
        let sections = list
            .sections
            .iter()
            .map(|s| ListSection {
                title: s.title.as_ref().map(text),
                rows: s
                    .rows
                    .iter()
                    .map(|r| Row {
                        id: r.id.clone(),
                        title: text(&r.title),
                        description: r.description.as_ref().map(text),
                    })
                    .collect(),
            })
            .collect();
        return Some(Reply::List { body, footer, button: text(&list.button), sections });
    }
    if let Some(link) = &step.link {
        return Some(Reply::Link { body, label: text(&link.label), url: link.url.clone() });
    }
    Some(Reply::Text { body })
}

fn choices(step: &Step) -> impl Iterator<Item = &Choice> {
    step.buttons.iter().chain(step.list.iter().flat_map(|l| l.sections.iter().flat_map(|s| &s.rows)))
}

pub fn find_choice<'a>(step: &'a Step, id: &str) -> Option<&'a Choice> {
    choices(step).find(|c| c.id == id)
}

/// A typed answer that is a choice's title (in any language) or its position ("1", "2", ...).
pub fn choice_by_title<'a>(step: &'a Step, typed: &str, _lang: &str) -> Option<&'a Choice> {
    let typed = normalize(typed);
    if typed.is_empty() {
        return None;
    }
    if let Ok(n) = typed.parse::<usize>() {
        return choices(step).nth(n.checked_sub(1)?);
    }
    choices(step).find(|c| c.title.values().any(|t| normalize(t) == typed))
}
