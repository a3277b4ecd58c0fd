//! The console in a real browser (Debian's chromium, driven through chromedriver with fantoccini): an agent signs
//! in, sees the case of a user who sent three blurry photos (reason and thumbnail), takes it, writes, asks for a
//! retake of the front, sees the new photo pass without reloading, and approves; the user gets every message.
//!
//! A supervisor opens the funnel: the bars are drawn to scale and the CSV link downloads the report.
//!
//! Screenshots of the queue, the case page and the funnel are written to `target/console-screenshots/`; with
//! `UPDATE_SCREENSHOTS=1` they also replace the ones in `docs/img/` (shown in docs/console.md).

#[macro_use]
mod common;
#[path = "support/handoff.rs"]
mod handoff;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use handoff::{photos, replies, send_three_blurry_photos};
use wa_onboard::demo::driver::User;
use wa_onboard::store::agents::{AgentAccount, Role};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "browser test password";

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    assert!(
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists(),
        "the browser test needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`; \
         .ci/run installs them)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not answer within 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver { child, url }
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1366,768", "--lang=es"]
        }),
    );
    ClientBuilder::rustls()
        .expect("TLS roots")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

/// Waits (up to a minute) until the page's text contains `text`, with no reload: the page updates itself.
async fn wait_for_text(page: &Client, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        // Between two documents (a navigation under way) there is no body yet: look again.
        let body = match page.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if body.contains(text) {
            return;
        }
        assert!(Instant::now() < deadline, "the page never showed {text:?}; it shows:\n{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the page shows a front thumbnail and every image on it has loaded.
async fn wait_for_images(page: &Client) {
    let script = "const imgs = [...document.querySelectorAll('img')]; \
                  return !!document.querySelector('figure[data-slot=front] img') \
                      && imgs.every(i => i.complete && i.naturalWidth > 0);";
    let deadline = Instant::now() + Duration::from_secs(20);
    while page.execute(script, vec![]).await.unwrap() != serde_json::json!(true) {
        assert!(Instant::now() < deadline, "the thumbnails are never shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn screenshot(page: &Client, name: &str) {
    let png = page.screenshot().await.unwrap();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), &png).unwrap();
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), &png).unwrap();
    }
}

async fn add_account(app: &TestApp, email: &str, name: &str, role: Role) {
    let account = AgentAccount {
        email: email.into(),
        name: name.into(),
        role,
        password_hash: wa_onboard::console::password::hash(PASSWORD).unwrap(),
        disabled: false,
        created_at: 1,
    };
    assert!(app.backend.agents().add(&account).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_takes_a_blurry_case_asks_for_a_retake_and_approves_in_the_browser() {
    let driver = start_driver().await;
    let (backend, redis) = open_backend(Backend::Memory, "console-browser").await;
    let app = spawn_app_with(backend, redis, &[("WORKER_POLL_MS", "20")], wa_onboard::app::Workers::Run).await;
    add_account(&app, "ana@acme.mx", "Ana Souza", Role::Agent).await;
    let sim = app.sim.clone().unwrap();
    let mut user =
        User::new("Bruno", "5215544440001", &app.base, APP_SECRET, wa_onboard::sim::SIM_PHONE_NUMBER_ID, sim);
    send_three_blurry_photos(&mut user).await;

    let page = browser(&driver).await;
    page.goto(&format!("{}/console/", app.base)).await.unwrap();
    assert!(page.current_url().await.unwrap().path().ends_with("/console/sign-in"), "signed out: the sign-in");
    page.find(Locator::Css("input[name=email]")).await.unwrap().send_keys("ana@acme.mx").await.unwrap();
    page.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    page.find(Locator::Css("button[type=submit].primary")).await.unwrap().click().await.unwrap();
    wait_for_text(&page, "attempts_exhausted: blurry").await;
    wait_for_text(&page, "Ana Souza").await;
    screenshot(&page, "console-queue.png").await;

    // Take it from the queue: the case page, with the thumbnail of the failed front.
    page.find(Locator::Css("tr[data-case] button[type=submit]")).await.unwrap().click().await.unwrap();
    wait_for_text(&page, "Historial").await;
    let held = page.find(Locator::Css("#held-by")).await.unwrap().text().await.unwrap();
    assert_eq!(held, "ana@acme.mx");
    wait_for_images(&page).await;
    page.find(Locator::Css("#chat textarea")).await.unwrap().send_keys("Hola Bruno, soy Ana. Te ayudo.").await.unwrap();
    page.find(Locator::Css("#chat button")).await.unwrap().click().await.unwrap();
    assert_eq!(replies(&mut user, 1).await, ["Hola Bruno, soy Ana. Te ayudo."]);
    wait_for_text(&page, "Hola Bruno, soy Ana. Te ayudo.").await;

    page.find(Locator::Css("#retake select[name=slot]")).await.unwrap().select_by_value("front").await.unwrap();
    page.find(Locator::Css("#retake select[name=reason]")).await.unwrap().select_by_value("blurry").await.unwrap();
    page.find(Locator::Css("#retake button")).await.unwrap().click().await.unwrap();
    let advice = replies(&mut user, 1).await;
    assert!(advice[0].contains("borrosa"), "{advice:?}");
    user.sends_photo("bruno-front-sharp", photos().0.clone(), "sharp front").await.unwrap();
    // The page was not reloaded: the live timeline shows the check of the new photo.
    wait_for_text(&page, "needs a person: review_required").await;
    replies(&mut user, 2).await;
    wait_for_images(&page).await;
    // Taller than the laptop screen the page is made for, so the picture in the docs shows the whole case.
    page.set_window_size(1366, 1400).await.unwrap();
    screenshot(&page, "console-case.png").await;
    page.set_window_size(1366, 768).await.unwrap();

    page.find(Locator::Css("#approve")).await.unwrap().click().await.unwrap();
    let said = replies(&mut user, 1).await;
    assert!(said[0].contains("verificamos tu identidad"), "{said:?}");
    wait_for_text(&page, "Estado: Resuelto · approved").await;
    page.close().await.unwrap();
}

/// The width of each bar of the funnel chart as the browser drew it, by step.
const BAR_WIDTHS: &str = "return [...document.querySelectorAll('#funnel-chart g.bar')].map(g => \
    [g.querySelector('text').textContent, g.querySelector('rect').getBoundingClientRect().width]);";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_the_funnel_drawn_and_downloads_it_as_csv() {
    let driver = start_driver().await;
    let (backend, redis) = open_backend(Backend::Memory, "console-funnel").await;
    let app = spawn_app_with(backend, redis, &[("WORKER_POLL_MS", "20")], wa_onboard::app::Workers::Run).await;
    add_account(&app, "sofia@acme.mx", "Sofía Rojas", Role::Supervisor).await;
    let sim = app.sim.clone().unwrap();
    let pnid = wa_onboard::sim::SIM_PHONE_NUMBER_ID;
    // One reaches a person after three blurry fronts; two decline the consent.
    send_three_blurry_photos(&mut User::new("Bruno", "5215544440011", &app.base, APP_SECRET, pnid, sim.clone())).await;
    for phone in ["5215544440012", "5215544440013"] {
        let mut user = User::new("Carla", phone, &app.base, APP_SECRET, pnid, sim.clone());
        user.says("Hola").await.unwrap();
        replies(&mut user, 1).await;
        user.taps("lang_es", "Español").await.unwrap();
        replies(&mut user, 1).await;
        user.taps("consent_decline", "No acepto").await.unwrap();
        replies(&mut user, 1).await;
    }

    let page = browser(&driver).await;
    page.goto(&format!("{}/console/sign-in?lang=en", app.base)).await.unwrap();
    page.find(Locator::Css("input[name=email]")).await.unwrap().send_keys("sofia@acme.mx").await.unwrap();
    page.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    page.find(Locator::Css("button[type=submit].primary")).await.unwrap().click().await.unwrap();
    wait_for_text(&page, "Sofía Rojas").await;
    page.find(Locator::LinkText("Funnel")).await.unwrap().click().await.unwrap();
    wait_for_text(&page, "Queue service level").await;

    // The bars are drawn to scale: every step reached by all three is full width, the others a third of it.
    let widths = page.execute(BAR_WIDTHS, vec![]).await.unwrap();
    let widths: Vec<(String, f64)> = serde_json::from_value(widths).unwrap();
    let width = |step: &str| widths.iter().find(|(s, _)| s == step).map(|(_, w)| *w).unwrap_or_default();
    assert!(width("language") > 200.0, "{widths:?}");
    assert!((width("consent") - width("language") / 3.0).abs() < 1.0, "the drop is drawn apart, in red: {widths:?}");
    assert!((width("document") - width("language") / 3.0).abs() < 1.0, "{widths:?}");
    let declined = page.find(Locator::Css("#steps tr[data-step=consent]")).await.unwrap().text().await.unwrap();
    assert!(declined.contains("declined 2"), "{declined}");
    let retakes = page.find(Locator::Css("#retakes")).await.unwrap().text().await.unwrap();
    assert!(retakes.contains("blurry") && retakes.contains("passport"), "{retakes}");
    page.set_window_size(1280, 1640).await.unwrap();
    screenshot(&page, "console-funnel.png").await;

    // The CSV link downloads the same report.
    let csv = page
        .execute("return fetch(document.querySelector('a.download').href).then(r => r.text());", vec![])
        .await
        .unwrap();
    let csv = csv.as_str().unwrap_or_default().to_owned();
    assert!(csv.lines().any(|l| l == "step,consent,left_declined,2"), "{csv}");
    assert!(csv.lines().any(|l| l == "handoff,attempts_exhausted,handoffs,1"), "{csv}");
    page.close().await.unwrap();
}
