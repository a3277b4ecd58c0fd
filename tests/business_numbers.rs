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

const UNKNOWN: &str = "100000000000099";

/// The default flow, and a Brazilian flow (`kyc_br`): the same steps, greeting as Acme Brasil.
fn two_flows() -> String {
    let dir = std::env::temp_dir().join(unique_prefix("numbers").replace(':', "-"));
    std::fs::create_dir_all(&dir).unwrap();
    let latam = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/kyc_latam.yaml")).unwrap();
    std::fs::write(dir.join("kyc_latam.yaml"), &latam).unwrap();
    let brazil = latam
        .replacen("id: kyc_latam", "id: kyc_br", 1)
        .replacen("fallback_language: es", "fallback_language: pt", 1)
        .replace("Olá! 👋 Vou ajudar você", "Olá! 👋 Aqui é a Acme Brasil. Vou ajudar você");
    assert_ne!(brazil, latam);
    std::fs::write(dir.join("kyc_br.yaml"), brazil).unwrap();
    dir.to_string_lossy().into_owned()
}

on_both_backends!(
    each_number_starts_on_its_own_flow_and_an_unknown_number_is_kept_unanswered,
    |backend, name| async move {
        let (store, redis) = open_backend(backend, name).await;
        let dir = two_flows();
        let numbers = format!("{MEXICO}=kyc_latam:Acme México,{BRAZIL}=kyc_br:Acme Brasil");
        let settings = [("WORKER_POLL_MS", "20"), ("FLOWS_DIR", dir.as_str()), ("WHATSAPP_NUMBERS", numbers.as_str())];
        let app = spawn_app_with(store, redis, &settings, wa_onboard::app::Workers::Run).await;
        let sim = app.sim.clone().unwrap();
        // First to a number the deployment does not serve: acknowledged (Meta must not redeliver), kept, not queued.
        let mut lost = User::new("Caio", "5511911119003", &app.base, APP_SECRET, UNKNOWN, sim.clone());
        lost.says("Oi").await.unwrap();
        let mut ana = User::new("Ana", "5215511119001", &app.base, APP_SECRET, MEXICO, sim.clone());
        let mut bia = User::new("Bia", "5511911119002", &app.base, APP_SECRET, BRAZIL, sim.clone());
        ana.says("Hola").await.unwrap();
        bia.says("Oi").await.unwrap();
        let ana_said = wa_onboard::demo::driver::describe(&ana.expect_replies(1, WAIT).await.unwrap()[0]);
        let bia_said = wa_onboard::demo::driver::describe(&bia.expect_replies(1, WAIT).await.unwrap()[0]);
        assert!(!ana_said.contains("Acme Brasil"), "{ana_said}");
        assert!(bia_said.contains("Aqui é a Acme Brasil"), "the Brazilian number's flow, in Portuguese: {bia_said}");
        let flow_of = |pnid: &'static str, user: &'static str| {
            let conversations = app.backend.conversations();
            async move {
                let key = wa_onboard::flow::state::UserKey { phone_number_id: pnid.into(), user: user.into() };
                conversations.load(&key).await.unwrap().map(|v| v.stored.state.flow_id)
            }
        };
        assert_eq!(flow_of(MEXICO, "5215511119001").await.as_deref(), Some("kyc_latam"));
        assert_eq!(flow_of(BRAZIL, "5511911119002").await.as_deref(), Some("kyc_br"));
        assert_eq!(flow_of(UNKNOWN, "5511911119003").await, None, "no conversation on the unknown number");
        assert!(sim.messages().iter().all(|m| m.to.as_deref() != Some("5511911119003")), "Caio is not answered");
        let kept = app.store.kept(10).await.unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].kind, wa_onboard::store::KeptKind::UnknownNumber);
        assert!(kept[0].reason.contains(UNKNOWN) && kept[0].body.contains("\"type\":\"text\""), "{kept:?}");
        assert!(!kept[0].body.contains("Oi"), "what was written is not kept: {}", kept[0].body);
        let metrics = app.metrics().await;
        assert_eq!(metric(&metrics, "wa_onboard_webhook_payloads_kept_total{kind=\"unknown_number\"}"), 1.0);
    }
);

#[test]
fn a_number_on_a_flow_that_does_not_exist_refuses_to_start() {
    let settings = [("WHATSAPP_NUMBERS", "100000000000052=kyc_nowhere")];
    let mut pairs = vec![("FLOWS_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/flows"))];
    pairs.extend_from_slice(&settings);
    let config = config(&pairs);
    let err = wa_onboard::app::load_flows(&config).err().expect("refused").to_string();
    assert!(err.contains("100000000000052") && err.contains("kyc_nowhere"), "{err}");
}

on_both_backends!(
    a_number_with_a_token_of_its_own_is_answered_with_it_and_its_expiry_holds_only_its_replies,
    |backend, name| async move {
        let (store, redis) = open_backend(backend, name).await;
        let numbers = format!("{MEXICO}=kyc_latam,{BRAZIL}=kyc_latam");
        let brazil_token = format!("WHATSAPP_ACCESS_TOKEN_{BRAZIL}");
        let settings = [
            ("WORKER_POLL_MS", "20"),
            ("WHATSAPP_NUMBERS", numbers.as_str()),
            (brazil_token.as_str(), "token-of-the-brazilian-account"),
        ];
        let app = spawn_app_with(store, redis, &settings, wa_onboard::app::Workers::Run).await;
        let sim = app.sim.clone().unwrap();
        // The simulator, as Meta, takes only that token for the Brazilian number (and the main one for the other).
        let mut ana = User::new("Ana", "5215511119001", &app.base, APP_SECRET, MEXICO, sim.clone());
        let mut bia = User::new("Bia", "5511911119002", &app.base, APP_SECRET, BRAZIL, sim.clone());
        ana.says("Hola").await.unwrap();
        bia.says("Oi").await.unwrap();
        ana.expect_replies(1, WAIT).await.unwrap();
        bia.expect_replies(1, WAIT).await.unwrap();

        // The Brazilian account's token is revoked at Meta: only Bia's replies wait, Ana goes on.
        sim.set_number_token(BRAZIL, "a-new-token-of-the-brazilian-account");
        bia.taps("lang_pt", "Português").await.unwrap();
        ana.taps("lang_es", "Español").await.unwrap();
        ana.expect_replies(1, WAIT).await.unwrap();
        assert!(bia.expect_replies(1, Duration::from_secs(2)).await.is_err(), "Bia's reply is held");
        let api = &app.handlers.outbound.sender.api;
        assert!(api.for_number(BRAZIL).token_expired() && !api.token_expired(), "only the Brazilian token expired");
        // Its new token is put in place (SIGHUP re-reads `.env`): the held reply goes out, once.
        assert!(
            api.replace_number_token(BRAZIL, wa_onboard::config::Secret::new("a-new-token-of-the-brazilian-account"))
        );
        bia.expect_replies(1, WAIT).await.unwrap();
        let to_bia: Vec<_> = sim.messages().into_iter().filter(|m| m.to.as_deref() == Some("5511911119002")).collect();
        assert_eq!(to_bia.len(), 2, "{to_bia:?}");
        assert!(to_bia.iter().all(|m| m.phone_number_id == BRAZIL));
    }
);

#[test]
fn a_numbers_own_token_is_read_from_its_setting() {
    let brazil_token = format!("WHATSAPP_ACCESS_TOKEN_{BRAZIL}");
    let numbers = format!("{MEXICO}=kyc_latam,{BRAZIL}=kyc_latam");
    let config = config(&[("WHATSAPP_NUMBERS", numbers.as_str()), (brazil_token.as_str(), " br-token ")]);
    let token_of = |id: &str| config.numbers.iter().find(|(n, _)| *n == id).and_then(|(_, n)| n.access_token.clone());
    assert_eq!(token_of(BRAZIL).map(|t| t.expose().to_owned()).as_deref(), Some("br-token"));
    assert!(token_of(MEXICO).is_none(), "the Mexican number uses WHATSAPP_ACCESS_TOKEN");
}
