//! A number's own access token replaced without a restart: the operator writes the new
//! `WHATSAPP_ACCESS_TOKEN_<number>` in `.env` and sends SIGHUP. One test in its own binary: it changes the
//! process's working directory (where `.env` is read) and signals the process itself.

use std::time::Duration;

use wa_onboard::config::Secret;
use wa_onboard::sim::{SIM_ACCESS_TOKEN, Simulator};
use wa_onboard::whatsapp::{CloudApi, CloudApiSettings, OutboundMessage, Recipient};

const MAIN: &str = "106540352242922";
const BRAZIL: &str = "206540352242933";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_puts_a_numbers_new_token_from_env_in_place() {
    let sim = Simulator::start().await.unwrap();
    sim.set_number_token(BRAZIL, "token-one");
    let mut settings = CloudApiSettings::new(&sim.base_url, "v23.0", MAIN, Secret::new(SIM_ACCESS_TOKEN));
    settings.number_tokens.insert(BRAZIL.into(), Secret::new("token-one"));
    settings.timeout = Duration::from_secs(5);
    let api = CloudApi::new(settings).unwrap();
    let bia = Recipient::Phone("5511911119002".into());
    let hello = OutboundMessage::text("Olá").unwrap();
    api.for_number(BRAZIL).send_from(BRAZIL, &bia, &hello).await.expect("the number's own token is taken");

    // Meta revokes it; the operator puts the new one in `.env` (and only that: the main token stays).
    sim.set_number_token(BRAZIL, "token-two");
    assert!(api.for_number(BRAZIL).send_from(BRAZIL, &bia, &hello).await.is_err(), "the old token is refused");
    assert!(api.for_number(BRAZIL).token_expired(), "the number's sends are held");
    let dir = std::env::temp_dir().join(format!("token-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), format!("WHATSAPP_ACCESS_TOKEN_{BRAZIL}=token-two\n")).unwrap();
    std::env::set_current_dir(&dir).unwrap();

    // A listener of our own first: from now on SIGHUP cannot end the test process, whenever the watcher's own
    // handler is installed (its task installs it when it first runs; a signal before that is sent again).
    let _ours = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    wa_onboard::whatsapp::token_reload::spawn(api.clone(), None, shutdown.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while api.for_number(BRAZIL).token_expired() {
        assert!(tokio::time::Instant::now() < deadline, "the new token was not put in place");
        let status = std::process::Command::new("kill").arg("-HUP").arg(std::process::id().to_string()).status();
        assert!(status.unwrap().success(), "SIGHUP sent");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    api.for_number(BRAZIL).send_from(BRAZIL, &bia, &hello).await.expect("the new token is used");
    api.send(&bia, &hello).await.expect("the main number keeps its token");
    shutdown.cancel();
    let _ = std::fs::remove_dir_all(&dir);
}
