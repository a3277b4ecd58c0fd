//! `/api/v1/cases` through HTTP, as an external agent desk uses it: nothing without a token; the waiting queue
//! oldest first with counts; two agents claiming at once get one 200 and one 409; a revoked token gets 401.

#[macro_use]
mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};
use wa_onboard::flow::state::UserKey;
use wa_onboard::store::api_tokens::ApiToken;
use wa_onboard::store::case::CaseInfo;

fn info(n: u32, opened_at: u64) -> CaseInfo {
    CaseInfo {
        id: format!("case-{n}"),
        conversation_id: format!("c-{n}"),
        user: UserKey { phone_number_id: "1065".into(), user: format!("52155{n:08}") },
        masked_phone: Some("*********0002".into()),
        profile_name: Some("<script>alert(1)</script>".into()),
        language: Some("pt".into()),
        document: Some("br_cnh".into()),
        step: "front".into(),
        reason: "blurry".into(),
        attempts: 3,
        opened_at,
    }
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

on_both_backends!(an_agent_desk_lists_and_claims_cases_with_a_token, |backend, name| async move {
    let app = spawn_app(backend, name).await;
    let (token, hash) = wa_onboard::api::auth::new_token();
    let record = ApiToken { name: "desk".into(), hash, created_at: 1 };
    assert!(app.backend.api_tokens().add(&record).await.unwrap());
    for (n, at) in [(1, 300), (2, 100)] {
        app.backend.cases().open(info(n, at)).await.unwrap();
    }

    for path in ["/api/v1/cases", "/api/v1/cases/case-1"] {
        assert_eq!(call(&app, reqwest::Method::GET, path, None, None).await.0, 401, "{path} without a token");
        assert_eq!(call(&app, reqwest::Method::GET, path, Some("wao_forged"), None).await.0, 401);
    }
    let (status, listed) = call(&app, reqwest::Method::GET, "/api/v1/cases?status=waiting", Some(&token), None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = listed["cases"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["case-2", "case-1"], "oldest first");
    assert_eq!(listed["counts"]["waiting"], 2);
    assert_eq!(listed["cases"][0]["reason"], "blurry");
    let (status, _) = call(&app, reqwest::Method::GET, "/api/v1/cases?status=lost", Some(&token), None).await;
    assert_eq!(status, 400);

    // Two agents click "take" at once: one wins, the other is told who holds it.
    let claim = |agent: &'static str| {
        call(&app, reqwest::Method::POST, "/api/v1/cases/case-2/claim", Some(&token), Some(json!({"agent": agent})))
    };
    let (a, b) = tokio::join!(claim("ana@acme.com.br"), claim("bia@acme.com.br"));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (winner, loser) = if a.0 == 200 { (a, b) } else { (b, a) };
    assert_eq!(winner.1["status"], "assigned");
    let holder = winner.1["assigned_to"].as_str().unwrap();
    assert!(loser.1["error"].as_str().unwrap().contains(holder), "{loser:?}");
    let (status, case) = call(&app, reqwest::Method::GET, "/api/v1/cases/case-2", Some(&token), None).await;
    assert_eq!((status, case["assigned_to"].as_str()), (200, Some(holder)));
    assert_eq!(case["profile_name"], "<script>alert(1)</script>", "JSON carries user text as data");
    let (status, _) = call(&app, reqwest::Method::GET, "/api/v1/cases/nope", Some(&token), None).await;
    assert_eq!(status, 404);
    let (status, _) =
        call(&app, reqwest::Method::POST, "/api/v1/cases/case-1/claim", Some(&token), Some(json!({}))).await;
    assert_eq!(status, 400, "a claim names the agent");

    // Revoked: the same token gets 401 at once.
    assert!(app.backend.api_tokens().revoke("desk").await.unwrap());
    assert_eq!(call(&app, reqwest::Method::GET, "/api/v1/cases", Some(&token), None).await.0, 401);
});

#[tokio::test]
async fn api_tokens_are_made_listed_and_revoked_with_the_command_line() {
    let (backend, keys) = open_backend(Backend::Redis, "api-tokens-cli").await;
    let prefix = keys.as_ref().unwrap().prefix.clone();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", redis_url())
            .env("REDIS_KEY_PREFIX", &prefix)
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let (code, token) = run(&["api-tokens", "add", "chatwoot"]);
    assert_eq!(code, Some(0));
    assert!(token.starts_with("wao_") && token.len() == 68, "{token}");
    let stored = backend.api_tokens().list().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].hash, token, "only the hash is kept");
    assert_eq!(
        wa_onboard::api::auth::token_name(backend.api_tokens().as_ref(), &token).await.unwrap().as_deref(),
        Some("chatwoot")
    );
    assert_ne!(run(&["api-tokens", "add", "chatwoot"]).0, Some(0), "a name is used once");
    assert!(run(&["api-tokens", "list"]).1.starts_with("chatwoot\t"));
    assert_eq!(run(&["api-tokens", "revoke", "chatwoot"]).0, Some(0));
    assert_eq!(run(&["api-tokens", "revoke", "chatwoot"]).0, Some(1));
    assert_eq!(wa_onboard::api::auth::token_name(backend.api_tokens().as_ref(), &token).await.unwrap(), None);
}
