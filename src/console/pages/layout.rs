//! The frame of every console page: title, the agent, language links, sign-out; the vendored stylesheet and
//! script (served by the service: no CDN, no build step).

use maud::{DOCTYPE, Markup, html};

use crate::console::session::SignedIn;
use crate::console::text::{LANGUAGES, t};

pub fn page(lang: &str, title: &str, signed_in: Option<&SignedIn>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · " (t(lang, "title")) }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/console/" { "wa-onboard" }
                    nav.langs {
                        @for code in LANGUAGES {
                            @if code == lang { strong { (code) } } @else { a href={ "?lang=" (code) } { (code) } }
                        }
                    }
                    @if let Some(signed_in) = signed_in {
                        a href="/console/" { (t(lang, "queue")) }
                        @if signed_in.account.role == crate::store::agents::Role::Supervisor {
                            a href="/console/funnel" { (t(lang, "funnel")) }
                        }
                        span.who { (t(lang, "signed_in_as")) " " (signed_in.account.name) " (" (signed_in.account.role.as_str()) ")" }
                        form.inline method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(signed_in.session.csrf);
                            button.link type="submit" { (t(lang, "sign_out")) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A notice at the top of a page (an action that did not happen, and why).
pub fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message { p.notice role="alert" { (message) } }
    }
}

/// "12 min", "3 h 5 min", "2 d 4 h".
pub fn duration(secs: u64, lang: &str) -> String {
    let minutes = secs / 60;
    let min = t(lang, "minutes");
    match minutes {
        0..60 => format!("{minutes} {min}"),
        60..1440 => format!("{} h {} {min}", minutes / 60, minutes % 60),
        _ => format!("{} d {} h", minutes / 1440, (minutes % 1440) / 60),
    }
}

/// A Unix time as `2026-12-03 14:05 UTC`.
pub fn time(at: u64) -> String {
    let days = at / 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    let secs = at % 86_400;
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", secs / 3600, (secs % 3600) / 60)
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_and_durations_read_as_people_write_them() {
        assert_eq!(super::time(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::time(1_796_285_896), "2026-12-03 08:18 UTC");
        assert_eq!(super::duration(125, "en"), "2 min");
        assert_eq!(super::duration(3 * 3600 + 300, "es"), "3 h 5 min");
        assert_eq!(super::duration(2 * 86_400 + 4 * 3600, "pt"), "2 d 4 h");
    }
}
