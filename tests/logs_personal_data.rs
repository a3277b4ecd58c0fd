//! A whole onboarding with the logs captured at info level (what operators keep): no phone number, profile name,
//! document number or message text appears in them, on the webhook, the conversation, the sends, the photo
//! checks and the verification alike.

#[macro_use]
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use wa_onboard::demo::driver::User;
use wa_onboard::demo::{SELFIE_JPEG, card_photo};

/// Everything the subscriber writes, for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_onboarding_logs_no_phone_name_document_number_or_message_text() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(captured.clone())
        .with_ansi(false)
        .json()
        .flatten_event(true)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let app = spawn_running_app(Backend::Memory, "logs-personal-data").await;
    let sim = app.sim.clone().unwrap();
    let phone = "5491187654321";
    let name = "Valentina Quispe Huamán";
    let secret_text = "Mi DNI es 30123456, vivo en Av. Corrientes 1234";
    let mut user = User::new(name, phone, &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim);
    user.says("Hola").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("lang_es", "Español").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("consent_accept", "Acepto").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    // Text where a choice is expected: answered, and recorded, but never logged.
    user.says(secret_text).await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.taps("doc_ar_dni", "DNI (Argentina)").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.sends_photo("logs-front", card_photo(false), "front").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.sends_photo("logs-back", card_photo(false), "back").await.unwrap();
    user.expect_replies(1, WAIT).await.unwrap();
    user.sends_photo("logs-selfie", SELFIE_JPEG.to_vec(), "selfie").await.unwrap();
    // "checking", "a person will confirm your photos", "a person will write here".
    let mut said = user.expect_replies(3, WAIT).await.unwrap();
    while said.len() < 3 {
        said.extend(user.expect_replies(3 - said.len(), WAIT).await.unwrap());
    }

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.lines().count() > 5, "the logs were captured:\n{logs}");
    for (what, secret) in [
        ("phone number", phone),
        ("profile name", name),
        ("surname", "Quispe"),
        ("document number", "30123456"),
        ("message text", "Corrientes"),
    ] {
        let leaks: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "the {what} appears in the logs:\n{}", leaks.join("\n"));
    }
}
