//! Checks a send request on its raw JSON, the way Meta does, independently of our own message builders (so that
//! tests against the simulator catch a builder that lets a bad message through).

use std::collections::HashSet;

use serde_json::Value;

#[derive(Debug)]
pub struct SimError {
    pub status: u16,
    pub code: i64,
    pub message: String,
    pub details: Option<String>,
}

fn param(message: impl Into<String>) -> SimError {
    SimError { status: 400, code: 100, message: message.into(), details: None }
}

fn invalid(details: impl Into<String>) -> SimError {
    SimError {
        status: 400,
        code: 131009,
        message: "(#131009) Parameter value is not valid".into(),
        details: Some(details.into()),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn text_within(v: &Value, path: &[&str], max: usize, name: &str) -> Result<(), SimError> {
    match str_at(v, path) {
        None => Err(param(format!("(#100) The parameter {name} is required."))),
        Some(s) if s.trim().is_empty() => Err(param(format!("(#100) The parameter {name} is required."))),
        Some(s) if chars(s) > max => Err(param(format!("(#100) Param {name} must be at most {max} characters long."))),
        Some(_) => Ok(()),
    }
}

fn optional_text_within(v: &Value, path: &[&str], max: usize, name: &str) -> Result<(), SimError> {
    if path.iter().try_fold(v, |v, k| v.get(k)).is_some() { text_within(v, path, max, name) } else { Ok(()) }
}

pub fn validate_send(request: &Value) -> Result<(), SimError> {
    if str_at(request, &["messaging_product"]) != Some("whatsapp") {
        return Err(param("(#100) The parameter messaging_product is required."));
    }
    if let Some(t) = str_at(request, &["recipient_type"])
        && t != "individual"
        && t != "group"
    {
        return Err(param("(#100) Param recipient_type must be one of {INDIVIDUAL, GROUP}"));
    }
    let to = str_at(request, &["to"]).filter(|s| !s.is_empty());
    let recipient = str_at(request, &["recipient"]).filter(|s| !s.is_empty());
    match (to, recipient) {
        (None, None) => return Err(param("(#100) The parameter to is required.")),
        (Some(_), Some(_)) => return Err(param("(#100) Only one of to and recipient may be set.")),
        _ => {}
    }
    if let Some(to) = to
        && !to.trim_start_matches('+').chars().all(|c| c.is_ascii_digit())
    {
        return Err(SimError {
            status: 400,
            code: 131030,
            message: "(#131030) Recipient phone number not in allowed list".into(),
            details: Some("Recipient phone number not valid.".into()),
        });
    }
    optional_text_within(request, &["biz_opaque_callback_data"], 512, "biz_opaque_callback_data")?;
    match str_at(request, &["type"]).unwrap_or("text") {
        "text" => text_within(request, &["text", "body"], 4096, "text['body']"),
        "interactive" => interactive(request.get("interactive").unwrap_or(&Value::Null)),
        "template" => {
            text_within(request, &["template", "name"], 512, "template['name']")?;
            text_within(request, &["template", "language", "code"], 15, "template['language']['code']")
        }
        other => Err(param(format!(
            "(#100) Param type must be one of {{AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, \
             STICKER, TEMPLATE, TEXT, VIDEO}} - got \"{other}\"."
        ))),
    }
}

fn interactive(i: &Value) -> Result<(), SimError> {
    optional_text_within(i, &["footer", "text"], 60, "interactive['footer']['text']")?;
    match str_at(i, &["type"]) {
        Some("button") => {
            text_within(i, &["body", "text"], 1024, "interactive['body']['text']")?;
            let buttons = i.pointer("/action/buttons").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            if buttons.is_empty() || buttons.len() > 3 {
                return Err(invalid(format!(
                    "buttons: Number of buttons must be between 1 and 3, got {}",
                    buttons.len()
                )));
            }
            let mut titles = HashSet::new();
            let mut ids = HashSet::new();
            for b in buttons {
                if str_at(b, &["type"]) != Some("reply") {
                    return Err(param("(#100) Param interactive['action']['buttons'][0]['type'] must be REPLY"));
                }
                let title = str_at(b, &["reply", "title"]).unwrap_or_default();
                let id = str_at(b, &["reply", "id"]).unwrap_or_default();
                if title.trim().is_empty() || chars(title) > 20 {
                    return Err(invalid(format!(
                        "Button title length invalid. Min length: 1, Max length: 20: {title:?}"
                    )));
                }
                if id.is_empty() || chars(id) > 256 {
                    return Err(invalid("Button id length invalid. Min length: 1, Max length: 256"));
                }
                if !titles.insert(title) {
                    return Err(invalid(format!("Button title must be unique: {title:?}")));
                }
                if !ids.insert(id) {
                    return Err(invalid(format!("Button id must be unique: {id:?}")));
                }
            }
            Ok(())
        }
        Some("list") => {
            text_within(i, &["body", "text"], 4096, "interactive['body']['text']")?;
            text_within(i, &["action", "button"], 20, "interactive['action']['button']")?;
            let sections = i.pointer("/action/sections").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            if sections.is_empty() || sections.len() > 10 {
                return Err(invalid(format!(
                    "sections: Number of sections must be between 1 and 10, got {}",
                    sections.len()
                )));
            }
            let mut total = 0;
            let mut ids = HashSet::new();
            for s in sections {
                if sections.len() > 1 {
                    text_within(s, &["title"], 24, "section title")?;
                } else {
                    optional_text_within(s, &["title"], 24, "section title")?;
                }
                let rows = s.get("rows").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
                if rows.is_empty() {
                    return Err(invalid("rows: a section needs at least one row"));
                }
                total += rows.len();
                for r in rows {
                    text_within(r, &["title"], 24, "row title")?;
                    text_within(r, &["id"], 200, "row id")?;
                    optional_text_within(r, &["description"], 72, "row description")?;
                    if !ids.insert(str_at(r, &["id"]).unwrap_or_default()) {
                        return Err(invalid("Row ids must be unique"));
                    }
                }
            }
            if total > 10 {
                return Err(invalid(format!("rows: Total row count exceed max allowed count: 10, got {total}")));
            }
            Ok(())
        }
        Some("cta_url") => {
            text_within(i, &["body", "text"], 1024, "interactive['body']['text']")?;
            if str_at(i, &["action", "name"]) != Some("cta_url") {
                return Err(param("(#100) Param interactive['action']['name'] must be cta_url"));
            }
            text_within(i, &["action", "parameters", "display_text"], 20, "display_text")?;
            let url = str_at(i, &["action", "parameters", "url"]).unwrap_or_default();
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 {
                return Err(invalid(format!("url: not a valid URL: {url:?}")));
            }
            Ok(())
        }
        other => Err(param(format!(
            "(#100) Param interactive['type'] must be one of {{BUTTON, LIST, CTA_URL, FLOW, PRODUCT, PRODUCT_LIST}} - got {other:?}"
        ))),
    }
}
