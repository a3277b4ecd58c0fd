//! The sign-in page.

use maud::{Markup, html};

use super::layout::{notice, page};
use crate::console::text::t;

pub fn render(lang: &str, error: Option<&str>, email: &str) -> Markup {
    let body = html! {
        section.card.narrow {
            h1 { (t(lang, "sign_in")) }
            (notice(error))
            form method="post" action="/console/sign-in" {
                label { (t(lang, "email")) input type="email" name="email" value=(email) required autocomplete="username" autofocus; }
                label { (t(lang, "password")) input type="password" name="password" required autocomplete="current-password"; }
                button.primary type="submit" { (t(lang, "sign_in")) }
            }
        }
    };
    page(lang, t(lang, "sign_in"), None, body)
}
