//! `/api/v1/openapi.json`: an OpenAPI 3.1 description generated from the handlers; every route it describes is
//! one the service answers, and every route docs/console.md documents is in it (and the other way round).

#[macro_use]
mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::Value;
use wa_onboard::store::api_tokens::ApiToken;

/// `(METHOD, /path)` of each row of docs/console.md's route table.
fn documented_routes() -> BTreeSet<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/console.md")).unwrap();
    doc.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(route, _)| route))
        .filter_map(|route| route.split_once(' '))
        .filter(|(method, path)| ["GET", "POST", "DELETE", "PUT"].contains(method) && path.starts_with("/api/v1"))
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect()
}

fn described_routes(spec: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_description_matches_the_routes_and_the_docs() {
    let app = spawn_app(Backend::Memory, "openapi").await;
    let (token, hash) = wa_onboard::api::auth::new_token();
    assert!(app.backend.api_tokens().add(&ApiToken { name: "desk".into(), hash, created_at: 1 }).await.unwrap());
    let url = format!("{}/api/v1/openapi.json", app.base);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401, "like every API call, behind a token");
    let spec: Value = app.client.get(&url).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"), "{}", spec["openapi"]);
    assert!(spec["components"]["schemas"]["CaseView"].is_object(), "the types are described");
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());

    let mut described = described_routes(&spec);
    described.insert(("GET".into(), "/api/v1/openapi.json".into()));
    assert_eq!(documented_routes(), described, "docs/console.md and the description list the same routes");

    // Every described route is one the service answers (its own JSON error, not the router's 404 or 405).
    for (method, path) in described_routes(&spec) {
        let concrete = path.replace("{id}", "case-none").replace("{slot}", "front");
        let request = app.client.request(method.parse().unwrap(), format!("{}{concrete}", app.base));
        let answer = request.bearer_auth(&token).header("content-type", "application/json").body("{}").send().await;
        let answer = answer.unwrap();
        let status = answer.status().as_u16();
        assert_ne!(status, 405, "{method} {path}");
        let body: Value = answer.json().await.unwrap_or(Value::Null);
        assert!(status == 200 || body["error"].is_string(), "{method} {path}: {status} {body}");
    }
}
