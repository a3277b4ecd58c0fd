//! The funnel, from a scripted cohort run through the real bot (signed webhooks, photos from the Graph API
//! simulator, the provider simulator) on a fixed clock, on both backends: 10 start, 2 decline the consent, 8
//! accept, 1 stops, 1 never sends a photo, 6 send photos (one blurry first), 1 never sends the selfie, 4 are
//! verified and 1 goes to a person. The report (JSON, CSV and table, through the API and on Redis through
//! `wa-onboard report funnel`), the supervisor page and the Prometheus metrics all give exactly those numbers.

#[macro_use]
mod common;
#[path = "support/provider_flows.rs"]
mod provider_flows;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use provider_flows::{PROVIDER_SECRET, PROVIDER_SECRET_ENV, Providers, flows_dir_for};
use reqwest::header::COOKIE;
use serde_json::Value;
use wa_onboard::clock::{Clock, FixedClock};
use wa_onboard::demo::driver::User;
use wa_onboard::demo::{SELFIE_JPEG, card_photo};
use wa_onboard::flow::event::Event;
use wa_onboard::flow::state::UserKey;
use wa_onboard::jobs::event::EventJob;
use wa_onboard::jobs::key::JobKey;
use wa_onboard::store::agents::{AgentAccount, Role};
use wa_onboard::verify::providers::Capability;
use wa_onboard::verify::providers::sim::{ProviderSim, SimBehavior};

const WAIT: Duration = Duration::from_secs(60);
/// Each user answers this long after the bot's last message: their active time is this per answer.
const THINK: Duration = Duration::from_secs(10);
const SUPERVISOR: &str = "supervisor@acme.example";
const PASSWORD: &str = "a long enough password";

struct Cohort {
    app: TestApp,
    clock: Arc<FixedClock>,
    provider: ProviderSim,
    sim: Arc<wa_onboard::sim::SimState>,
    started_at: u64,
}

impl Cohort {
    async fn start(backend: Backend, name: &str) -> Self {
        // SAFETY: set once per process before any provider is built; every test sets the same value.
        unsafe { std::env::set_var(PROVIDER_SECRET_ENV, PROVIDER_SECRET) };
        let clock = FixedClock::starting_now();
        let provider = ProviderSim::start("kyc_sim", PROVIDER_SECRET, clock.clone()).await.unwrap();
        let url = provider.base_url();
        let dir = flows_dir_for(&Providers { sim: Some((&url, &["document", "face_match"])), ..Default::default() });
        let dir = dir.to_string_lossy().into_owned();
        let (store, redis) = open_backend_with_clock(backend, name, &redis_url(), clock.clone()).await;
        let app = spawn_app_with(
            store,
            redis,
            &[("WORKER_POLL_MS", "20"), ("FLOWS_DIR", dir.as_str())],
            wa_onboard::app::Workers::Run,
        )
        .await;
        let sim = app.sim.clone().expect("the in-app Graph API simulator");
        let started_at = clock.now_secs();
        Self { app, clock, provider, sim, started_at }
    }

    fn user(&self, n: u32) -> User {
        let phone = format!("52155{:07}", 4_000_000 + n);
        User::new(
            &format!("User {n}"),
            &phone,
            &self.app.base,
            APP_SECRET,
            wa_onboard::sim::SIM_PHONE_NUMBER_ID,
            self.sim.clone(),
        )
    }

    /// Waits for `count` replies, then lets the user think before their next message.
    async fn replies(&self, user: &mut User, count: usize) {
        let mut got = 0;
        while got < count {
            got += user.expect_replies(count - got, WAIT).await.unwrap().len();
        }
        self.clock.advance(THINK);
    }

    /// "Hola", Spanish, and the consent answer.
    async fn to_consent(&self, user: &mut User, accept: bool) {
        user.says("Hola").await.unwrap();
        self.replies(user, 1).await;
        user.taps("lang_es", "Español").await.unwrap();
        self.replies(user, 1).await;
        let (id, title) = if accept { ("consent_accept", "Acepto") } else { ("consent_decline", "No acepto") };
        user.taps(id, title).await.unwrap();
        self.replies(user, 1).await;
    }

    /// Through the passport's front (a blurry one first when asked) to the selfie.
    async fn to_selfie(&self, user: &mut User, blurry_first: bool) {
        self.to_consent(user, true).await;
        user.taps("doc_passport", "Pasaporte").await.unwrap();
        self.replies(user, 1).await;
        if blurry_first {
            user.sends_photo(&format!("{}-blurry", user.phone), card_photo(true), "front").await.unwrap();
            self.replies(user, 1).await;
        }
        user.sends_photo(&format!("{}-front", user.phone), card_photo(false), "front").await.unwrap();
        self.replies(user, 1).await;
    }

    /// The selfie: "checking..." and the outcome (verified), or three messages for a person's review.
    async fn selfie(&self, user: &mut User, answers: usize) {
        user.sends_photo(&format!("{}-selfie", user.phone), SELFIE_JPEG.to_vec(), "selfie").await.unwrap();
        self.replies(user, answers).await;
    }

    async fn run(&self) {
        for n in 0..4 {
            let mut user = self.user(n);
            self.to_selfie(&mut user, n == 3).await;
            self.selfie(&mut user, 2).await;
            assert!(user.render().contains("verificamos tu identidad"), "{}", user.render());
        }
        // A face match below the flow's confidence: a person reviews.
        self.provider.set(Capability::FaceMatch, SimBehavior::pass(0.31));
        let mut to_agent = self.user(4);
        self.to_selfie(&mut to_agent, false).await;
        self.selfie(&mut to_agent, 3).await;
        self.provider.set(Capability::FaceMatch, SimBehavior::pass(0.97));
        self.to_selfie(&mut self.user(5), false).await;
        let mut no_photo = self.user(6);
        self.to_consent(&mut no_photo, true).await;
        no_photo.taps("doc_passport", "Pasaporte").await.unwrap();
        self.replies(&mut no_photo, 1).await;
        let mut stops = self.user(7);
        self.to_consent(&mut stops, true).await;
        stops.says("salir").await.unwrap();
        self.replies(&mut stops, 1).await;
        stops.taps("stop_yes", "Sí, terminar").await.unwrap();
        self.replies(&mut stops, 1).await;
        for n in 8..10 {
            self.to_consent(&mut self.user(n), false).await;
        }
        // A day later the two who went quiet expire (their scheduled checks are run here on both backends).
        self.clock.advance(Duration::from_secs(25 * 3600));
        for n in [5, 6] {
            let user =
                UserKey { phone_number_id: wa_onboard::sim::SIM_PHONE_NUMBER_ID.into(), user: self.user(n).phone };
            let job =
                EventJob { user, key: JobKey::from_stored(format!("funnel-expiry-{n}")), event: Event::ExpiryDue };
            self.app.runner.event(&job, "system").await.unwrap();
        }
    }

    /// When the expired two ended: the clock after the day passed.
    fn expired_at(&self) -> u64 {
        self.clock.now_secs()
    }
}

/// A step of the report: (step, reached, left here by outcome, here now).
type StepRow<S> = (S, u64, Vec<(S, u64)>, u64);

/// The steps of the cohort.
fn expected_steps() -> Vec<StepRow<&'static str>> {
    vec![
        ("language", 10, vec![], 0),
        ("consent", 10, vec![("declined", 2)], 0),
        ("document", 8, vec![("stopped", 1)], 0),
        ("front", 7, vec![("expired", 1)], 0),
        ("selfie", 6, vec![("expired", 1)], 0),
        ("checking", 5, vec![], 0),
        ("review", 1, vec![], 1),
    ]
}

const OUTCOMES: [(&str, u64); 5] = [("declined", 2), ("expired", 2), ("review", 1), ("stopped", 1), ("verified", 4)];

fn check_json(report: &Value, cohort: &Cohort) {
    assert_eq!(report["started"], 10, "{report:#}");
    let outcomes: Vec<(String, u64)> =
        report["outcomes"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
    let expected: Vec<(String, u64)> = OUTCOMES.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
    assert_eq!(outcomes, expected, "{report:#}");
    let steps: Vec<StepRow<String>> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let left = s["left"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect();
            (
                s["step"].as_str().unwrap().to_owned(),
                s["reached"].as_u64().unwrap(),
                left,
                s["here_now"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<StepRow<String>> = expected_steps()
        .into_iter()
        .map(|(s, r, l, h)| (s.to_owned(), r, l.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(), h))
        .collect();
    assert_eq!(steps, expected, "{report:#}");
    let checking = &report["steps"][5];
    assert_eq!(checking["decided"]["verified"], 4, "the verified are decided at `checking`: {checking}");
    assert_eq!(report["steps"][1]["conversion"], 0.8);
    // 4 verified of the 9 that ended.
    assert!((report["verified_ratio"].as_f64().unwrap() - 4.0 / 9.0).abs() < 1e-9, "{report:#}");
    // Verified: three in 5 answers of 10 s each, the one with a retake in 6.
    let verified = report["time_to_outcome"].as_array().unwrap().iter().find(|t| t["outcome"] == "verified").unwrap();
    assert_eq!(
        (verified["count"].as_u64(), verified["wall_p50"].as_u64(), verified["wall_p90"].as_u64()),
        (Some(4), Some(50), Some(60))
    );
    assert_eq!((verified["active_p50"].as_u64(), verified["active_p90"].as_u64()), (Some(50), Some(60)));
    let declined = report["time_to_outcome"].as_array().unwrap().iter().find(|t| t["outcome"] == "declined").unwrap();
    assert_eq!((declined["wall_p50"].as_u64(), declined["active_p90"].as_u64()), (Some(20), Some(20)));
    let expired = report["time_to_outcome"].as_array().unwrap().iter().find(|t| t["outcome"] == "expired").unwrap();
    assert!(expired["wall_p50"].as_u64().unwrap() >= 25 * 3600, "expired a day after: {expired}");
    assert!(expired["wall_p90"].as_u64().unwrap() <= cohort.expired_at() - cohort.started_at, "{expired}");
    assert_eq!(report["retakes"], serde_json::json!([{"reason": "blurry", "document": "passport", "count": 1}]));
    assert_eq!(report["handoffs"]["conversations"], 1);
    assert_eq!(report["handoffs"]["reasons"], serde_json::json!({"low_confidence": 1}));
    assert_eq!((report["queue"]["waiting"].as_u64(), report["queue"]["assigned"].as_u64()), (Some(1), Some(0)));
    // Seven chose the passport (one of them is with a person); the stop and the two declines chose nothing.
    let documents: Vec<(String, u64, u64, u64)> = report["by_document"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_owned(),
                s["started"].as_u64().unwrap(),
                s["ended"].as_u64().unwrap(),
                s["verified"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(documents, [("-".to_owned(), 3, 3, 0), ("passport".to_owned(), 7, 6, 4)], "{report:#}");
    assert_eq!(report["by_version"].as_array().unwrap().len(), 1);
    assert_eq!(report["by_version"][0]["started"], 10);
    assert_eq!(report["by_version"][0]["verified_wall_p50"], 50);
}

fn check_csv(csv: &str) {
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "section,name,measure,value");
    let mut expected = vec!["total,started,conversations,10".to_owned()];
    for (step, reached, left, here) in expected_steps() {
        expected.push(format!("step,{step},reached,{reached}"));
        expected.push(format!("step,{step},here_now,{here}"));
        expected.extend(left.iter().map(|(outcome, n)| format!("step,{step},left_{outcome},{n}")));
    }
    expected.extend(OUTCOMES.iter().map(|(outcome, n)| format!("outcome,{outcome},conversations,{n}")));
    expected.push("step,checking,decided_verified,4".into());
    expected.push("step,consent,conversion,0.8000".into());
    expected.push("time_to_outcome,verified,wall_p50_seconds,50".into());
    expected.push("time_to_outcome,verified,active_p90_seconds,60".into());
    expected.push("retake,blurry,document_passport,1".into());
    expected.push("handoff,low_confidence,handoffs,1".into());
    expected.push("queue,now,waiting,1".into());
    expected.push("document,passport,started,7".into());
    expected.push("document,passport,verified,4".into());
    expected.push("document,passport,retakes,1".into());
    for line in expected {
        assert!(lines.contains(&line.as_str()), "the CSV has no line `{line}`:\n{csv}");
    }
}

fn check_table(table: &str) {
    let row = |step: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(step))
            .unwrap_or_else(|| panic!("no {step}:\n{table}"))
    };
    let words = |step: &str| row(step).split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(words("consent")[..6], ["consent", "10", "0", "80.0%", "declined", "2"], "{table}");
    assert_eq!(words("document")[..6], ["document", "8", "0", "87.5%", "stopped", "1"], "{table}");
    assert_eq!(words("checking")[..7], ["checking", "5", "0", "100.0%", "-", "/", "verified"], "{table}");
    assert_eq!(words("review")[..4], ["review", "1", "1", "-"], "{table}");
    assert!(table.contains("started 10, verified 44.4% of those ended"), "{table}");
    assert!(table.contains("outcomes: declined 2, expired 2, review 1, stopped 1, verified 4"), "{table}");
    assert!(table.contains("handoffs: 1 conversations (10.0%); reasons: low_confidence 1"), "{table}");
    assert!(table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["blurry", "passport", "1"]), "{table}");
}

async fn api_report(cohort: &Cohort, token: &str, format: &str) -> String {
    let (since, until) = (cohort.started_at - 3600, cohort.clock.now_secs() + 60);
    let url = format!("{}/api/v1/reports/funnel?since={since}&until={until}&format={format}", cohort.app.base);
    let answer = cohort.app.client.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    answer.text().await.unwrap()
}

/// The sum of the series of `name` whose labels include every one of `labels`.
fn series_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

fn check_metrics(text: &str) {
    let m = |name: &str, labels: &[(&str, &str)]| series_sum(text, &format!("wa_onboard_{name}"), labels);
    assert_eq!(m("onboardings_started_total", &[("flow", "kyc_latam")]), 10.0, "{text}");
    for (outcome, n) in [("verified", 4.0), ("declined", 2.0), ("expired", 2.0), ("stopped", 1.0)] {
        assert_eq!(m("onboardings_finished_total", &[("outcome", outcome)]), n, "{outcome}");
    }
    assert_eq!(m("onboardings_finished_total", &[]), 9.0, "the one with a person has not ended");
    for (step, n) in [("language", 10.0), ("consent", 10.0), ("document", 8.0), ("front", 7.0), ("selfie", 6.0)] {
        assert_eq!(m("onboarding_steps_reached_total", &[("step", step)]), n, "{step}");
    }
    for (step, n) in [("checking", 5.0), ("verified", 4.0), ("review", 1.0), ("declined", 2.0)] {
        assert_eq!(m("onboarding_steps_reached_total", &[("step", step)]), n, "{step}");
    }
    assert_eq!(m("onboardings_left_total", &[("step", "consent"), ("outcome", "declined")]), 2.0);
    assert_eq!(m("onboardings_left_total", &[("step", "document"), ("outcome", "stopped")]), 1.0);
    assert_eq!(m("onboardings_left_total", &[("step", "front"), ("outcome", "expired")]), 1.0);
    assert_eq!(m("onboardings_left_total", &[("step", "selfie"), ("outcome", "expired")]), 1.0);
    assert_eq!(m("onboarding_retakes_total", &[("reason", "blurry"), ("document", "passport")]), 1.0);
    assert_eq!(m("onboarding_retakes_total", &[]), 1.0);
    assert_eq!(m("onboarding_handoffs_total", &[("reason", "low_confidence")]), 1.0);
    assert_eq!(m("verifications_total", &[("result", "verified")]), 4.0);
    assert_eq!(m("verifications_total", &[("result", "agent")]), 1.0);
    assert_eq!(
        metric(text, "wa_onboard_onboarding_time_to_outcome_seconds_count{flow=\"kyc_latam\",outcome=\"verified\"}"),
        4.0
    );
    assert_eq!(
        metric(text, "wa_onboard_onboarding_time_to_outcome_seconds_sum{flow=\"kyc_latam\",outcome=\"verified\"}"),
        210.0
    );
    assert_eq!(metric(text, "wa_onboard_onboarding_active_seconds_sum{flow=\"kyc_latam\",outcome=\"declined\"}"), 40.0);
    assert_eq!(
        m("provider_requests_total", &[("provider", "kyc_sim"), ("capability", "face_match"), ("result", "pass")]),
        5.0
    );
    assert_eq!(m("provider_circuit_open", &[("provider", "kyc_sim")]), 0.0);
    assert_eq!(metric(text, "wa_onboard_cases{status=\"waiting\"}"), 1.0, "{text}");
}

/// A console session of a new account: the client and its session cookie.
async fn sign_in(app: &TestApp, email: &str, role: Role) -> (reqwest::Client, String) {
    let account = AgentAccount {
        email: email.into(),
        name: "Sofía".into(),
        role,
        password_hash: wa_onboard::console::password::hash(PASSWORD).unwrap(),
        disabled: false,
        created_at: 1,
    };
    let _ = app.backend.agents().add(&account).await.unwrap();
    let cookie = session_of(&console_sign_in(&app.base, email, PASSWORD).await);
    (no_redirects(), cookie)
}

async fn supervisor_page(app: &TestApp, query: &str) -> (u16, String) {
    let (client, cookie) = sign_in(app, SUPERVISOR, Role::Supervisor).await;
    let page = client.get(format!("{}{query}", app.base)).header(COOKIE, cookie).send().await.unwrap();
    (page.status().as_u16(), page.text().await.unwrap())
}

fn check_page(html: &str) {
    for (step, reached, left, here) in expected_steps() {
        let total: u64 = left.iter().map(|(_, n)| n).sum();
        let row = format!("data-step=\"{step}\" data-reached=\"{reached}\" data-left=\"{total}\" data-here=\"{here}\"");
        assert!(html.contains(&row), "the page has no row `{row}`");
    }
    for (outcome, n) in OUTCOMES {
        assert!(html.contains(&format!("data-outcome=\"{outcome}\" data-count=\"{n}\"")), "{outcome} {n}");
    }
    assert!(html.contains("data-reason=\"blurry\" data-document=\"passport\" data-count=\"1\""));
    assert!(html.contains("id=\"queue-levels\" data-waiting=\"1\" data-assigned=\"0\""));
    assert!(html.contains("<svg class=\"funnel\" id=\"funnel-chart\""), "the funnel is drawn");
    assert_eq!(html.matches("<g class=\"bar\">").count(), expected_steps().len(), "one bar per step");
    assert!(html.contains("/console/funnel.csv?since="), "a CSV download");
    assert!(html.contains("data-key=\"passport\" data-started=\"7\" data-verified=\"4\""), "by document");
}

on_both_backends!(a_scripted_cohort_gives_the_same_exact_numbers_everywhere, |backend, name| async move {
    let cohort = Cohort::start(backend, name).await;
    cohort.run().await;
    let (token, hash) = wa_onboard::api::auth::new_token();
    let record = wa_onboard::store::api_tokens::ApiToken { name: "ops".into(), hash, created_at: 1 };
    assert!(cohort.app.backend.api_tokens().add(&record).await.unwrap());

    let json: Value = serde_json::from_str(&api_report(&cohort, &token, "json").await).unwrap();
    check_json(&json, &cohort);
    check_csv(&api_report(&cohort, &token, "csv").await);
    check_table(&api_report(&cohort, &token, "table").await);
    check_metrics(&cohort.app.metrics().await);

    let since = cohort.started_at - 3600;
    let until = cohort.clock.now_secs() + 60;
    let (status, html) = supervisor_page(&cohort.app, &format!("/console/funnel?since={since}&until={until}")).await;
    assert_eq!(status, 200, "{html}");
    check_page(&html);
    let (status, csv) = supervisor_page(&cohort.app, &format!("/console/funnel.csv?since={since}&until={until}")).await;
    assert_eq!(status, 200);
    check_csv(&csv);

    // On Redis, the command line reads the same report from the store, in each format.
    if let Some(keys) = &cohort.app.redis {
        let cli = |format: &str| {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
                .args(["report", "funnel", "--since", &since.to_string(), "--until", &until.to_string()])
                .args(["--format", format])
                .env("REDIS_URL", redis_url())
                .env("REDIS_KEY_PREFIX", &keys.prefix)
                .env("QUEUE_PARTITIONS", common::queue_partitions().to_string())
                .env("RUST_LOG", "warn")
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        };
        check_json(&serde_json::from_str(&cli("json")).unwrap(), &cohort);
        check_csv(&cli("csv"));
        check_table(&cli("table"));
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_who_is_not_a_supervisor_cannot_open_the_funnel() {
    let app = spawn_app(Backend::Memory, "funnel-agent").await;
    let (client, cookie) = sign_in(&app, "agent@acme.example", Role::Agent).await;
    for path in ["/console/funnel", "/console/funnel.csv"] {
        let page = client.get(format!("{}{path}", app.base)).header(COOKIE, &cookie).send().await.unwrap();
        assert_eq!(page.status(), 403, "{path}");
    }
    let anonymous = client.get(format!("{}/console/funnel", app.base)).send().await.unwrap();
    assert_ne!(anonymous.status(), 200, "no session, no funnel");
    let api = app.client.get(format!("{}/api/v1/reports/funnel", app.base)).send().await.unwrap();
    assert_eq!(api.status(), 401, "the API needs a token");
}

on_both_backends!(erased_conversations_stay_in_the_funnel_without_personal_data, |backend, name| async move {
    let app = spawn_running_app(backend, name).await;
    let sim = app.sim.clone().unwrap();
    let pnid = wa_onboard::sim::SIM_PHONE_NUMBER_ID;
    let (token, hash) = wa_onboard::api::auth::new_token();
    let record = wa_onboard::store::api_tokens::ApiToken { name: "dpo".into(), hash, created_at: 1 };
    assert!(app.backend.api_tokens().add(&record).await.unwrap());
    let mut users = Vec::new();
    for phone in ["5491155550101", "5491155550102"] {
        let mut user = User::new("Valentina Quispe", phone, &app.base, APP_SECRET, pnid, sim.clone());
        for (id, title) in [("", "Hola"), ("lang_es", "Español"), ("consent_accept", "Acepto")] {
            if id.is_empty() {
                user.says(title).await.unwrap()
            } else {
                user.taps(id, title).await.unwrap()
            }
            user.expect_replies(1, WAIT).await.unwrap();
        }
        users.push(user);
    }
    // The first is erased by an operator midway; the second stops (and is erased once the goodbye is out).
    let erased = app.client.delete(format!("{}/api/v1/users/5491155550101", app.base)).bearer_auth(&token).send();
    assert_eq!(erased.await.unwrap().status(), 200);
    let stops = &mut users[1];
    stops.says("salir").await.unwrap();
    stops.expect_replies(1, WAIT).await.unwrap();
    stops.taps("stop_yes", "Sí, terminar").await.unwrap();
    stops.expect_replies(1, WAIT).await.unwrap();
    let key = UserKey { phone_number_id: pnid.into(), user: "5491155550102".into() };
    let deadline = tokio::time::Instant::now() + WAIT;
    while app.backend.conversations().load(&key).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the stop's erasure ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let url = format!("{}/api/v1/reports/funnel?since=1d", app.base);
    let report: Value = app.client.get(url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert_eq!(report["started"], 2, "{report:#}");
    assert_eq!(report["outcomes"], serde_json::json!({"erased": 1, "stopped": 1}), "{report:#}");
    let document = report["steps"].as_array().unwrap().iter().find(|s| s["step"] == "document").unwrap();
    assert_eq!(document["left"], serde_json::json!({"erased": 1, "stopped": 1}));
    let metrics = app.metrics().await;
    assert_eq!(series_sum(&metrics, "wa_onboard_onboardings_finished_total", &[("outcome", "erased")]), 1.0);
    assert_eq!(series_sum(&metrics, "wa_onboard_onboardings_finished_total", &[("outcome", "stopped")]), 1.0);
    // What the funnel keeps names neither of them.
    let now = app.backend.clock().now_secs();
    let kept = app.backend.journeys().started_between(now - 3600, now + 1).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|s| s.erased), "both marked erased: {kept:?}");
    let text = serde_json::to_string(&kept).unwrap();
    for secret in ["5491155550101", "5491155550102", "Quispe", "Valentina"] {
        assert!(!text.contains(secret), "the funnel keeps {secret}: {text}");
    }
});
