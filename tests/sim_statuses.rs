//! Meta's status webhooks close the loop on each send: the simulator, like Meta, follows every accepted message
//! with a signed `sent` status that carries back the key the message was sent under (`biz_opaque_callback_data`).
//! The service applies it to the message's delivery state and to its sent log, which is what lets a send cut
//! short after Meta accepted it be confirmed instead of sent twice (tests/whatsapp_sender.rs).

mod common;

use std::time::{Duration, Instant};

use common::*;
use wa_onboard::demo::driver::User;
use wa_onboard::sim::StatusWebhook;
use wa_onboard::store::delivery::Progress;
use wa_onboard::whatsapp::sender::{DEFAULT_SENT_LOG_TTL, SENT_LOG_NAMESPACE, SentLog, SentRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sends_status_comes_back_with_its_key_and_is_applied() {
    let app = spawn_running_app(Backend::Redis, "sim-statuses").await;
    let sim = app.sim.clone().unwrap();
    sim.set_status_webhook(Some(StatusWebhook { url: format!("{}/webhook", app.base), app_secret: APP_SECRET.into() }));
    let phone = "5215511119101";
    let mut ana = User::new("Ana", phone, &app.base, APP_SECRET, "100000000000052", sim.clone());
    ana.says("Hola").await.unwrap();
    ana.expect_replies(1, Duration::from_secs(60)).await.unwrap();
    let sent = sim.messages().into_iter().find(|m| m.to.as_deref() == Some(phone)).unwrap();
    let key = sent.body["biz_opaque_callback_data"].as_str().expect("the send's key travels with it").to_owned();

    let deliveries = app.backend.delivery_log(Duration::from_secs(3600));
    let started = Instant::now();
    loop {
        let state = deliveries.get(&sent.wamid).await.unwrap();
        if state.as_ref().and_then(|s| s.status) == Some(Progress::Sent) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the status was applied: {state:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = SentLog::new(app.backend.values(SENT_LOG_NAMESPACE), DEFAULT_SENT_LOG_TTL);
    let record = log.get(&key).await.unwrap();
    assert!(matches!(record, Some(SentRecord::Sent { ref wamid, .. }) if *wamid == sent.wamid), "{record:?}");
    assert!(app.store.kept(10).await.unwrap().is_empty(), "every status was understood, none kept for inspection");
}
