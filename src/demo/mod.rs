//! `wa-onboard demo`: the whole path in one process (in memory, built-in Graph API simulator, local checks).
//! One user sends a sharp ID photo and a selfie: with no identity provider configured nothing can compare their
//! face, so their photos go to a person, and a scripted agent (the development supervisor) approves them in the
//! agent desk; only then are they told they are verified. Another sends a blurry photo, gets the blur advice at
//! once, fails three times and is handed to a person (who will write in the chat). Both chats are printed as a
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

/// Up to the passport photo: the bot now asks for it.
async fn start_onboarding(user: &mut User) -> anyhow::Result<()> {
    user.says("Hola").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("lang_es", "Español").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("consent_accept", "Acepto").await?;
    user.expect_replies(1, WAIT).await?;
    user.taps("doc_passport", "Pasaporte").await?;
    user.expect_replies(1, WAIT).await?;
    Ok(())
}

/// The scripted agent: takes the next waiting case and approves it, as a person would in the console.
async fn approve_next_case(state: &crate::app::AppState) -> anyhow::Result<()> {
    let agent = crate::console::DEV_AGENT_EMAIL;
    let desk = &state.desk;
    let case = desk.take_next(agent).await.map_err(|e| anyhow::anyhow!("{e}"))?.context("no case is waiting")?;
    let decision = crate::flow::event::AgentDecision::Approve;
    desk.decide(&case.info.id, agent, true, decision, "demo-approve").await.map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn run() -> anyhow::Result<String> {
    let dir = std::env::temp_dir().join(format!("wa-onboard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("cannot create a temporary folder for the demo flow")?;
    std::fs::write(dir.join("kyc_latam.yaml"), DEFAULT_FLOW)?;
    let (base, app) = start(&dir).await?;
    let sim = app.cloud.sim.as_ref().context("the demo needs the built-in simulator")?.state.clone();
    let phone_number_id = app.cloud.api.phone_number_id().to_owned();
    let state = app.state.clone();
    let server = tokio::spawn(async move { app.run(std::future::pending()).await });

    let (sharp, blurry) = tokio::task::spawn_blocking(|| (card_photo(false), card_photo(true))).await?;

    let mut ana = User::new("Ana", "5215512345678", &base, DEV_APP_SECRET, &phone_number_id, sim.clone());
    start_onboarding(&mut ana).await?;
    ana.sends_photo(&format!("{}-front-1", ana.phone), sharp, "passport photo page").await?;
    ana.expect_replies(1, WAIT).await?; // the photo is sharp: the selfie is asked for
    ana.sends_photo(&format!("{}-selfie", ana.phone), SELFIE_JPEG.to_vec(), "selfie").await?;
    ana.expect_replies(3, WAIT).await?; // "checking", "a person will confirm your photos", "a person will write here"
    approve_next_case(&state).await?;
    ana.expect_replies(1, WAIT).await?; // verified, by a person

    let mut bruno = User::new("Bruno", "5491122334455", &base, DEV_APP_SECRET, &phone_number_id, sim);
    start_onboarding(&mut bruno).await?;
    for attempt in 1..=3 {
        bruno
            .sends_photo(&format!("{}-front-{attempt}", bruno.phone), blurry.clone(), "passport photo page, blurry")
            .await?;
        bruno.expect_replies(1, WAIT).await?; // the advice at once or, the third time, "a person will write to you"
    }
    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(format!("{}\n{}", ana.render(), bruno.render()))
}
