//! Outbound messages as readable log lines: what the bot says, with the phone number masked.

use crate::flow::event::Reply;
use crate::jobs::outbound::{Addressee, OutboundJob};
use crate::telemetry::mask_phone;

fn short(text: &str) -> String {
    let one_line = text.replace('\n', " ⏎ ");
    if one_line.chars().count() > 80 {
        format!("{}…", one_line.chars().take(80).collect::<String>())
    } else {
        one_line
    }
}

pub fn who(to: &Addressee) -> String {
    mask_phone(to.phone.as_deref().or(to.user_id.as_deref()).unwrap_or("?"))
}

/// `→ 521********78  [buttons] "¿Aceptas…" [Acepto | No acepto]`
pub fn describe(job: &OutboundJob) -> String {
    match job {
        OutboundJob::MarkRead { message_id, .. } => format!("✓✓ read {message_id}"),
        OutboundJob::Send { to, replies, .. } => {
            replies.iter().map(|reply| describe_reply(to, reply)).collect::<Vec<_>>().join("\n")
        }
    }
}

/// One message: `→ 521********78  [buttons] "¿Aceptas…" [Acepto | No acepto]`
pub fn describe_reply(to: &Addressee, reply: &Reply) -> String {
    let (kind, extra) = match reply {
        Reply::Text { .. } => ("text", String::new()),
        Reply::Buttons { buttons, .. } => {
            ("buttons", format!(" [{}]", buttons.iter().map(|b| b.title.as_str()).collect::<Vec<_>>().join(" | ")))
        }
        Reply::List { button, sections, .. } => {
            let rows = sections.iter().flat_map(|s| &s.rows).count();
            ("list", format!(" [{button}: {rows} options]"))
        }
        Reply::Link { label, url, .. } => ("link", format!(" [{label} → {url}]")),
    };
    format!("→ {}  [{kind}] \"{}\"{extra}", who(to), short(reply.body()))
}
