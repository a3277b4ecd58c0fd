//! The agent console through HTTP, as a browser and an attacker would use it: nothing without a session, sign-in
//! with lockout, cookies that scripts and other sites cannot use, CSRF refused, user text escaped, sign-out and
//! disabled accounts end sessions. On both backends.

#[macro_use]
mod common;

use common::*;
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use wa_onboard::console::password;
use wa_onboard::flow::state::UserKey;
use wa_onboard::store::agents::{AgentAccount, Role};
use wa_onboard::store::case::CaseInfo;

const PASSWORD: &str = "a long enough password";

async fn add_agent(app: &TestApp, email: &str, role: Role) {
    let account = AgentAccount {
        email: email.into(),
        name: format!("Agent {email}"),
        role,
        password_hash: password::hash(PASSWORD).unwrap(),
        disabled: false,
        created_at: 1,
    };
    assert!(app.backend.agents().add(&account).await.unwrap());
}

/// A form body, as a browser encodes it.
fn encoded(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish()
}

/// Signs in as a browser would (same-origin form POST); answers the response.
async fn sign_in_as(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    console_sign_in(&app.base, email, password).await
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = no_redirects().get(format!("{}{path}", app.base));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    cookie: &str,
    site: Option<&str>,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = no_redirects()
        .post(format!("{}{path}", app.base))
        .header(COOKIE, cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encoded(form));
    if let Some(site) = site {
        request = request.header("sec-fetch-site", site);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap()
}

/// The CSRF token of the signed-in page's forms.
async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    let page = get(app, "/console/", Some(cookie)).await.text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").expect("a form with the CSRF token") + 19;
    page[at..at + 32].to_owned()
}

fn waiting_case(n: u32) -> CaseInfo {
    CaseInfo {
        id: format!("case-{n}"),
        conversation_id: format!("c-{n}"),
        user: UserKey { phone_number_id: "1065".into(), user: format!("52155{n:08}") },
        masked_phone: Some("*********0001".into()),
        profile_name: Some("<script>alert('x')</script>".into()),
        language: Some("es".into()),
        document: Some("mx_ine".into()),
        step: "front".into(),
        reason: "attempts_exhausted: blurry".into(),
        attempts: 3,
        opened_at: 1,
    }
}

on_both_backends!(nothing_in_the_console_without_a_session, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    for path in ["/console/", "/console/cases/case-1", "/console/cases/case-1/photos/front-x?size=thumb"] {
        let answer = get(&app, path, None).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(answer.headers()[LOCATION], "/console/sign-in", "{path}");
    }
    let live = no_redirects()
        .get(format!("{}/console/queue/live", app.base))
        .header("x-console-live", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::UNAUTHORIZED, "the live script is told, not redirected");
    let forged = get(&app, "/console/", Some("wao_console=0123456789abcdef")).await;
    assert_eq!(forged.status(), StatusCode::SEE_OTHER, "a made-up session id is nobody");
    let post = post_form(&app, "/console/take-next", "", Some("same-origin"), None, &[("csrf", "x")]).await;
    assert_eq!(post.status(), StatusCode::UNAUTHORIZED);
    let page = get(&app, "/console/sign-in", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()["cache-control"], "no-store");
});

on_both_backends!(a_signed_in_agent_sees_the_queue_with_user_text_escaped, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    add_agent(&app, "ana@acme.mx", Role::Agent).await;
    app.backend.cases().open(waiting_case(1)).await.unwrap();
    let answer = sign_in_as(&app, "ANA@acme.mx ", PASSWORD).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()[LOCATION], "/console/");
    let set = answer.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http in tests: {set}");
    let cookie = session_of(&answer);
    let again = session_of(&sign_in_as(&app, "ana@acme.mx", PASSWORD).await);
    assert_ne!(cookie, again, "a new session id at each sign-in");

    let page = get(&app, "/console/", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("attempts_exhausted: blurry"), "the waiting case is listed");
    assert!(html.contains("&lt;script&gt;alert('x')&lt;/script&gt;"), "user text is escaped");
    assert!(!html.contains("<script>alert"), "never markup from a user");
    let page = get(&app, "/console/cases/case-1?lang=pt", Some(&cookie)).await;
    assert!(page.headers()[SET_COOKIE].to_str().unwrap().starts_with("wao_lang=pt"));
    let html = page.text().await.unwrap();
    assert!(html.contains("Pegar") && html.contains("Histórico"), "the console speaks the agent's language");
    assert!(!html.contains("<script>alert"));
});

on_both_backends!(cross_site_posts_and_wrong_tokens_are_refused, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    add_agent(&app, "ana@acme.mx", Role::Agent).await;
    app.backend.cases().open(waiting_case(1)).await.unwrap();
    let cookie = session_of(&sign_in_as(&app, "ana@acme.mx", PASSWORD).await);
    let csrf = csrf_of(&app, &cookie).await;
    let claim = "/console/cases/case-1/claim";
    let form = [("csrf", csrf.as_str())];
    let refused =
        [(Some("cross-site"), None), (Some("same-site"), None), (None, Some("https://evil.example")), (None, None)];
    for (site, origin) in refused {
        let answer = post_form(&app, claim, &cookie, site, origin, &form).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{site:?} {origin:?}");
    }
    let wrong = post_form(&app, claim, &cookie, Some("same-origin"), None, &[("csrf", "0".repeat(32).as_str())]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "a form without the session's token");
    assert_eq!(app.backend.cases().get("case-1").await.unwrap().unwrap().assigned_to, None, "nothing changed");
    // The same request from the console's own page (the Origin check, for browsers without Sec-Fetch-Site).
    let answer = post_form(&app, claim, &cookie, None, Some(&app.base), &form).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.backend.cases().get("case-1").await.unwrap().unwrap().assigned_to.as_deref(), Some("ana@acme.mx"));
});

on_both_backends!(repeated_failures_lock_the_account_and_sign_out_ends_the_session, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    add_agent(&app, "ana@acme.mx", Role::Agent).await;
    for _ in 0..5 {
        let answer = sign_in_as(&app, "ana@acme.mx", "not the password").await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert!(answer.text().await.unwrap().contains("not right"));
    }
    let locked = sign_in_as(&app, "ana@acme.mx", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    assert!(locked.text().await.unwrap().contains("try again in 15 minutes"));
    let unknown = sign_in_as(&app, "nobody@acme.mx", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED, "an unknown email gets the same answer as a bad password");

    add_agent(&app, "bia@acme.mx", Role::Agent).await;
    let cookie = session_of(&sign_in_as(&app, "bia@acme.mx", PASSWORD).await);
    let csrf = csrf_of(&app, &cookie).await;
    let out = post_form(&app, "/console/sign-out", &cookie, Some("same-origin"), None, &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(get(&app, "/console/", Some(&cookie)).await.status(), StatusCode::SEE_OTHER, "signed out");

    // A disabled account's session stops at its next request.
    let cookie = session_of(&sign_in_as(&app, "bia@acme.mx", PASSWORD).await);
    assert_eq!(get(&app, "/console/", Some(&cookie)).await.status(), StatusCode::OK);
    let mut account = app.backend.agents().get("bia@acme.mx").await.unwrap().unwrap();
    account.disabled = true;
    app.backend.agents().update(&account).await.unwrap();
    assert_eq!(get(&app, "/console/", Some(&cookie)).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(sign_in_as(&app, "bia@acme.mx", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_and_https_cookies_are_secure() {
    let app =
        spawn_stepped_app(&[("PUBLIC_BASE_URL", "https://kyc.acme.mx"), ("CONSOLE_SESSION_IDLE_SECS", "600")]).await;
    add_agent(&app, "ana@acme.mx", Role::Agent).await;
    let answer = sign_in_as(&app, "ana@acme.mx", PASSWORD).await;
    assert!(answer.headers()[SET_COOKIE].to_str().unwrap().contains("Secure"), "https: Secure cookies");
    let cookie = session_of(&answer);
    app.advance(std::time::Duration::from_secs(500));
    assert_eq!(get(&app, "/console/", Some(&cookie)).await.status(), StatusCode::OK, "in use");
    app.advance(std::time::Duration::from_secs(500));
    assert_eq!(get(&app, "/console/", Some(&cookie)).await.status(), StatusCode::OK, "used 500 s ago: alive");
    app.advance(std::time::Duration::from_secs(601));
    assert_eq!(get(&app, "/console/", Some(&cookie)).await.status(), StatusCode::SEE_OTHER, "idle: ended");
}

#[tokio::test]
async fn agents_are_made_listed_and_disabled_with_the_command_line() {
    let (backend, keys) = open_backend(Backend::Redis, "agents-cli").await;
    let prefix = keys.as_ref().unwrap().prefix.clone();
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write as _;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", redis_url())
            .env("REDIS_KEY_PREFIX", &prefix)
            .env("QUEUE_PARTITIONS", common::queue_partitions().to_string())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code(), text)
    };
    let add = ["agents", "add", "Ana@Acme.mx", "--name", "Ana Souza", "--role", "supervisor"];
    let (code, text) = run(&add, "short\n");
    assert_ne!(code, Some(0), "a short password is refused: {text}");
    assert!(text.contains("at least 12"), "{text}");
    let (code, text) = run(&add, &format!("{PASSWORD}\n"));
    assert_eq!(code, Some(0), "{text}");
    let stored = backend.agents().get("ana@acme.mx").await.unwrap().expect("kept under the lower-case email");
    assert!(stored.password_hash.starts_with("$argon2id$") && !stored.password_hash.contains(PASSWORD));
    assert_eq!(stored.role, Role::Supervisor);
    assert_ne!(run(&add, &format!("{PASSWORD}\n")).0, Some(0), "one account per email");
    assert!(run(&["agents", "add", "x@y.z", "--name", "X", "--role", "boss"], "").1.contains("--role"));
    let (_, listed) = run(&["agents", "list"], "");
    assert!(listed.contains("ana@acme.mx\tAna Souza\tsupervisor\tactive"), "{listed}");
    assert_eq!(run(&["agents", "disable", "ana@acme.mx"], "").0, Some(0));
    assert!(backend.agents().get("ana@acme.mx").await.unwrap().unwrap().disabled);
    assert_eq!(run(&["agents", "disable", "nobody@acme.mx"], "").0, Some(1));
}
