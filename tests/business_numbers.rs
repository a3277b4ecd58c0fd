//! Several business numbers in one deployment (a Mexican and a Brazilian number in one WhatsApp Business
//! Account): each user is answered from the number they wrote to, never from the configured one. On both
//! backends, through signed webhooks and the Graph API simulator.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use wa_onboard::demo::driver::User;

const WAIT: Duration = Duration::from_secs(60);
const MEXICO: &str = "100000000000052";
const BRAZIL: &str = "100000000000055";

on_both_backends!(each_user_is_answered_from_the_number_they_wrote_to, |backend, name| async move {
    let app = spawn_running_app(backend, name).await;
    let sim = app.sim.clone().unwrap();
    let mut ana = User::new("Ana", "5215511119001", &app.base, APP_SECRET, MEXICO, sim.clone());
    let mut bia = User::new("Bia", "5511911119002", &app.base, APP_SECRET, BRAZIL, sim.clone());
    for user in [&mut ana, &mut bia] {
        user.says("Hola").await.unwrap();
        user.expect_replies(1, WAIT).await.unwrap();
        user.taps("lang_es", "Español").await.unwrap();
        user.expect_replies(1, WAIT).await.unwrap();
    }
    let from = |phone: &str| -> Vec<String> {
        let sent = sim.messages().into_iter().filter(|m| m.to.as_deref() == Some(phone));
        sent.map(|m| m.phone_number_id).collect()
    };
    assert_eq!(from("5215511119001"), [MEXICO, MEXICO], "Ana wrote to the Mexican number");
    assert_eq!(from("5511911119002"), [BRAZIL, BRAZIL], "Bia wrote to the Brazilian number");
    // Each one's conversation lives under the number they wrote to.
    let key =
        |pnid: &str, user: &str| wa_onboard::flow::state::UserKey { phone_number_id: pnid.into(), user: user.into() };
    let conversations = app.backend.conversations();
    assert!(conversations.load(&key(MEXICO, "5215511119001")).await.unwrap().is_some());
    assert!(conversations.load(&key(BRAZIL, "5511911119002")).await.unwrap().is_some());
    assert!(conversations.load(&key(BRAZIL, "5215511119001")).await.unwrap().is_none());
});
