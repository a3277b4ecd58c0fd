//! `wa-onboard demo`: the whole path in one process (in memory, built-in Graph API simulator, local checks).
//! One user completes onboarding with a sharp ID photo and a selfie; another sends a blurry photo, gets the blur
//! advice, fails three times and is handed to a person (who will write in the chat). Both chats are printed as a
//! transcript.

pub mod driver;
pub mod photos;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::app::{App, Workers};
use crate::config::{Config, DEV_APP_SECRET, Env};
use crate::store::Backend;
use driver::User;

/// The default flow, built in so the demo runs from any folder.
const DEFAULT_FLOW: &str = crate::flow::load::BUILTIN_FLOW;
/// A public-domain portrait (NASA, via scikit-image), as a selfie.
pub const SELFIE_JPEG: &[u8] = include_bytes!("../../tests/data/astronaut.jpg");

const WAIT: Duration = Duration::from_secs(30);

/// A phone photo of an ID card (2000x1500, as WhatsApp sends photos), sharp or blurred.
pub fn card_photo(blurred: bool) -> Vec<u8> {
    let scene = photos::Scene { card_fill: 0.45, ..photos::Scene::phone().sized(2000, 1500) };
    let image = photos::render(&scene);
    let image = if blurred { photos::blurred(&image, 6.0) } else { image };
    photos::jpeg(&image, 90)
}

/// Starts an app like `serve --dev` would, on a free loopback port, with the flows of `flows_dir`.
pub async fn start(flows_dir: &Path) -> anyhow::Result<(String, App)> {
    let dir = flows_dir.to_string_lossy().into_owned();
    let env = Env::from_pairs([("BIND_ADDR", "127.0.0.1:0"), ("FLOWS_DIR", dir.as_str()), ("WORKER_POLL_MS", "20")]);
    let config = Config::from_env(&env, true)?;
    let app = App::with_backend(
        config,
        Backend::memory(Duration::from_secs(8 * 86_400), crate::clock::system()),
        Workers::Run,
    )
    .await?;
    Ok((format!("http://{}", app.local_addr()?), app))
}

async fn onboard(user: &mut User, front: Vec<u8>, selfie: &[u8]) -> anyhow::Result<()> {
    user.says("Hola").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("lang_es", "Español").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("consent_accept", "Acepto").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("doc_passport", "Pasaporte").await?;
    user.expect_replies(1, WAIT).await?;
    user.sends_photo(&format!("{}-front-1", user.phone), front, "passport photo page").await?;
    user.expect_replies(1, WAIT).await?;
    user.sends_photo(&format!("{}-selfie", user.phone), selfie.to_vec(), "selfie").await?;
    Ok(())
}

pub async fn run() -> anyhow::Result<String> {
    let dir = std::env::temp_dir().join(format!("wa-onboard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("cannot create a temporary folder for the demo flow")?;
    std::fs::write(dir.join("kyc_latam.yaml"), DEFAULT_FLOW)?;
    let (base, app) = start(&dir).await?;
    let sim = app.cloud.sim.as_ref().context("the demo needs the built-in simulator")?.state.clone();
    let phone_number_id = app.cloud.api.phone_number_id().to_owned();
    let server = tokio::spawn(async move { app.run(std::future::pending()).await });

    let (sharp, blurry) = tokio::task::spawn_blocking(|| (card_photo(false), card_photo(true))).await?;

    let mut ana = User::new("Ana", "5215512345678", &base, DEV_APP_SECRET, &phone_number_id, sim.clone());
    onboard(&mut ana, sharp, SELFIE_JPEG).await?;
    ana.expect_replies(2, WAIT).await?; // "checking", then the result

    let mut bruno = User::new("Bruno", "5491122334455", &base, DEV_APP_SECRET, &phone_number_id, sim);
    onboard(&mut bruno, blurry.clone(), SELFIE_JPEG).await?;
    bruno.expect_replies(2, WAIT).await?; // "checking", then the blur advice
    for attempt in 2..=3 {
        bruno
            .sends_photo(&format!("{}-front-{attempt}", bruno.phone), blurry.clone(), "passport photo page, blurry")
            .await?;
        bruno.expect_replies(2, WAIT).await?; // "checking", then the advice or, the third time, "a person will write to you"
    }
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!("{}\n{}", ana.render(), bruno.render()))
}
