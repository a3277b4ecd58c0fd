//! Starting the real binary as an operator would: production (no `--dev`) refuses to start without each setting
//! it needs and names it; with them, the Graph API simulator is not mounted; `serve --dev` runs from any folder.

// Shared with the fault tests, which use all of it.
#[path = "support/processes.rs"]
#[allow(dead_code)]
mod processes;

use std::process::Command;
use std::time::Duration;

use processes::{Service, free_port};

const COMPLETE: &[(&str, &str)] = &[
    ("WHATSAPP_APP_SECRET", "prod-app-secret"),
    ("WHATSAPP_VERIFY_TOKEN", "prod-verify-token"),
    ("REDIS_URL", "redis://127.0.0.1:6379"),
    ("WHATSAPP_ACCESS_TOKEN", "EAAG-production-token"),
    ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
    ("MEDIA_ENCRYPTION_KEY", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"),
];
const REQUIRED: [&str; 4] = ["REDIS_URL", "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "MEDIA_ENCRYPTION_KEY"];

/// Runs `wa-onboard ARGS` with exactly `env` in `dir`; answers (exit code, stderr).
fn run(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn production_refuses_to_start_without_each_required_setting_and_names_it() {
    let bare = &COMPLETE[..2];
    for command in ["serve", "worker"] {
        let (code, stderr) = run(&[command], bare, repo());
        assert_ne!(code, Some(0), "{command} started without any production setting");
        for name in REQUIRED {
            assert!(stderr.contains(name), "{command}: {name} not named in:\n{stderr}");
        }
        assert!(stderr.contains("--dev"), "the refusal says how to try the service locally:\n{stderr}");
    }
    for missing in REQUIRED {
        let env: Vec<(&str, &str)> = COMPLETE.iter().copied().filter(|(k, _)| *k != missing).collect();
        let (code, stderr) = run(&["serve"], &env, repo());
        assert_ne!(code, Some(0), "serve started without {missing}");
        assert!(stderr.contains(missing), "{missing} not named in:\n{stderr}");
        let others: Vec<_> = REQUIRED.iter().filter(|n| **n != missing && stderr.contains(*n)).collect();
        assert!(others.is_empty(), "without {missing} only it is named, not {others:?}:\n{stderr}");
    }
    // The simulator's token is not a production token.
    let mut env: Vec<(&str, &str)> = COMPLETE.iter().copied().filter(|(k, _)| *k != "WHATSAPP_ACCESS_TOKEN").collect();
    env.push(("WHATSAPP_ACCESS_TOKEN", wa_onboard::sim::SIM_ACCESS_TOKEN));
    let (code, stderr) = run(&["serve"], &env, repo());
    assert_ne!(code, Some(0));
    assert!(stderr.contains("WHATSAPP_ACCESS_TOKEN"), "{stderr}");
}

#[tokio::test]
async fn a_production_start_has_no_simulator_and_the_memory_store_only_when_asked() {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut env: Vec<(String, String)> =
        COMPLETE.iter().filter(|(k, _)| *k != "REDIS_URL").map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    env.push(("BIND_ADDR".into(), bind.clone()));
    let mut serve = Service::start("serve", &["serve", "--allow-memory-store"], &env);
    serve.wait_healthy(&format!("http://{bind}/healthz")).await;
    let client = reqwest::Client::new();
    for path in ["/_sim/messages", "/_sim/_admin/reset"] {
        let answer = client.get(format!("http://{bind}{path}")).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{path} is not served outside --dev");
    }
    let failure = client.post(format!("http://{bind}/_sim/_admin/failures")).body(r#"{"kind":"token_expired"}"#);
    assert_eq!(failure.send().await.unwrap().status(), 404);
    serve.terminate();
    assert_eq!(serve.wait_exit(Duration::from_secs(25)), Some(0));
}

#[tokio::test]
async fn serve_dev_runs_from_any_folder_on_the_flow_built_into_the_binary() {
    let elsewhere = std::env::temp_dir().join(format!("wa-onboard-elsewhere-{}", std::process::id()));
    std::fs::create_dir_all(&elsewhere).unwrap();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_wa-onboard"));
    command
        .args(["serve", "--dev"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND_ADDR", &bind)
        .env("LOG_FORMAT", "json")
        .current_dir(&elsewhere)
        .stdout(std::fs::File::create(elsewhere.join("log")).unwrap())
        .stderr(std::fs::File::create(elsewhere.join("err")).unwrap());
    let mut serve = Service { child: command.spawn().unwrap(), name: "serve --dev elsewhere" };
    serve.wait_healthy(&format!("http://{bind}/healthz")).await;
    // It answers a greeting with the built-in flow: the webhook takes a signed message.
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"5215512345678"}],"messages":[{"from":"5215512345678","id":"wamid.elsewhere-1","timestamp":"1795000000","type":"text","text":{"body":"hola"}}]}}]}]}"#;
    let header = wa_onboard::webhook::signature::sign(wa_onboard::config::DEV_APP_SECRET.as_bytes(), body);
    let answer = reqwest::Client::new()
        .post(format!("http://{bind}/webhook"))
        .header("X-Hub-Signature-256", header)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // The per-start simulator token is in the start-up log; with it, the bot's first reply is listed.
    let log = std::fs::read_to_string(elsewhere.join("log")).unwrap()
        + &std::fs::read_to_string(elsewhere.join("err")).unwrap();
    assert!(log.contains("built into the binary"), "the log says which flow runs:\n{log}");
    let token = log
        .split("\"sim_token\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no sim_token in the log:\n{log}"))
        .to_owned();
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listed = client.get(format!("http://{bind}/_sim/messages")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(listed.status(), 200);
        let messages: Vec<serde_json::Value> = listed.json().await.unwrap();
        if messages.iter().any(|m| m["to"] == "5215512345678") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no reply from the built-in flow: {messages:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = client.get(format!("http://{bind}/_sim/messages")).send().await.unwrap();
    assert_eq!(refused.status(), 401, "the simulator's routes need its token");
    // The development agent's email and password are in the log too, and sign in to the console.
    let password = log
        .split("\"password\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no development agent password in the log:\n{log}"))
        .to_owned();
    assert!(log.contains(wa_onboard::console::DEV_AGENT_EMAIL), "{log}");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("email", wa_onboard::console::DEV_AGENT_EMAIL), ("password", password.as_str())])
        .finish();
    let signed_in = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("http://{bind}/console/sign-in"))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "the development agent signs in");
    serve.terminate();
    assert_eq!(serve.wait_exit(Duration::from_secs(25)), Some(0));
    let _ = std::fs::remove_dir_all(&elsewhere);
}
