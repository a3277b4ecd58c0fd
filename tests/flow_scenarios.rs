//! The flows in flows/ pass `flow check`, and every conversation scenario in fixtures/scenarios/ passes.

use std::path::Path;

use wa_onboard::flow::load;
use wa_onboard::flow::scenario;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_flow_passes_flow_check() {
    let flows = load::load_all(&root().join("flows")).unwrap_or_else(|problems| {
        panic!("{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    });
    assert!(flows.contains_key("kyc_latam"));
}

#[test]
fn every_scenario_passes() {
    let flows = load::load_all(&root().join("flows")).expect("flows load");
    let report = scenario::run_path(&root().join("fixtures/scenarios"), &flows).unwrap();
    assert!(report.results.len() >= 20, "the scenarios are found");
    assert_eq!(report.failed(), 0, "\n{report}");
}

#[test]
fn a_broken_scenario_fails_with_a_readable_diff() {
    let flows = load::load_all(&root().join("flows")).expect("flows load");
    let text =
        "name: wrong expectation\nflow: kyc_latam\nsteps:\n  - user: hola\n    bot:\n      - text: \"Bonjour\"\n";
    let scenario: scenario::Scenario = serde_saphyr::from_str(text).unwrap();
    let diff = scenario::run(&scenario, &flows["kyc_latam"]).unwrap_err();
    assert!(diff.contains("step 1: user types \"hola\""), "{diff}");
    assert!(diff.contains("text contains Some(\"Bonjour\")"), "{diff}");
    assert!(diff.contains("buttons [\"lang_es\", \"lang_pt\", \"lang_en\"]"), "{diff}");
}

/// The default flow without its `require` line: a flow that could tell anyone "verified" with nothing checked.
fn unsafe_flow() -> String {
    let base = std::fs::read_to_string(root().join("flows/kyc_latam.yaml")).unwrap();
    let without = base.replace("  require: [document, face_match]\n", "");
    assert_ne!(without, base, "the default flow requires checks");
    without
}

#[test]
fn flow_check_refuses_a_flow_that_can_say_verified_while_requiring_nothing() {
    let text = unsafe_flow();
    let Err(problems) = load::Flow::parse(&text, Path::new("unsafe.yaml")) else {
        panic!("the unsafe flow is refused")
    };
    let problem = problems.iter().find(|p| p.message.contains("verification.require")).expect("names the reason");
    assert!(problem.is_error());
    // The line of the step that says "verified", and the fix.
    // (the line of the step's first key, as for every other problem about a step)
    let verified_line = text.lines().position(|l| l == "  verified:").unwrap() as u64 + 2;
    assert_eq!(problem.line, verified_line, "{problem}");
    let shown = problem.to_string();
    assert!(shown.starts_with(&format!("unsafe.yaml:{verified_line}: error: step `verified`")), "{shown}");
    assert!(shown.contains("require: [document, face_match]") && shown.contains("allow_unverified: true"), "{shown}");

    // The same flow with `allow_unverified: true` loads, with a warning.
    let demo = text.replace("verification:\n", "verification:\n  allow_unverified: true\n");
    let flow = load::Flow::parse(&demo, Path::new("demo.yaml")).unwrap_or_else(|p| panic!("{p:?}"));
    assert!(flow.warnings.iter().any(|w| w.message.contains("allow_unverified")), "{:?}", flow.warnings);
}

#[test]
fn a_required_check_routed_to_the_local_provider_is_said_to_go_to_a_person() {
    let base = std::fs::read_to_string(root().join("flows/kyc_latam.yaml")).unwrap();
    let routed = format!(
        "{base}  providers:\n    providers:\n      dev: {{ kind: local }}\n    routes:\n      - {{ capability: face_match, provider: dev }}\n"
    );
    let flow = load::Flow::parse(&routed, Path::new("local.yaml")).unwrap_or_else(|p| panic!("{p:?}"));
    let warning = flow.warnings.iter().find(|w| w.message.contains("face_match")).expect("a warning");
    assert!(warning.message.contains("every submission goes to a person"), "{warning}");
}

#[test]
fn the_flow_check_command_prints_the_line_and_the_fix_and_fails() {
    let dir = std::env::temp_dir().join(format!("flows-unsafe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("kyc_latam.yaml"), unsafe_flow()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wa-onboard"))
        .args(["flow", "check"])
        .arg(&dir)
        .output()
        .expect("the binary runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{printed}");
    assert!(printed.contains("kyc_latam.yaml:") && printed.contains("error: step `verified`"), "{printed}");
    assert!(printed.contains("hint: add `require: [document, face_match]`"), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_step_that_waits_for_nothing_says_its_text_and_moves_on() {
    let base = std::fs::read_to_string(root().join("flows/kyc_latam.yaml")).unwrap();
    // Insert an informational step between consent and document.
    let flow_text = base
        .replace("        next: document\n      - id: consent_decline", "        next: intro\n      - id: consent_decline")
        .replace(
            "  declined:\n",
            "  intro:\n    text: {es: \"Son 3 pasos.\", pt: \"São 3 passos.\", en: \"3 steps.\"}\n    next: document\n\n  declined:\n",
        );
    let flow = load::Flow::parse(&flow_text, Path::new("inline.yaml")).unwrap_or_else(|p| panic!("{p:?}"));
    let text = "name: intro\nflow: kyc_latam\nsteps:\n  - user: hola\n  - tap: lang_es\n  - tap: consent_accept\n    bot:\n      - text: \"Son 3 pasos.\"\n      - text: \"¿Qué documento\"\n    step: document\n";
    let scenario: scenario::Scenario = serde_saphyr::from_str(text).unwrap();
    scenario::run(&scenario, &flow).unwrap_or_else(|diff| panic!("{diff}"));
}

#[tokio::test]
async fn reloading_invalid_flows_keeps_the_running_ones_and_old_versions_stay_available() {
    use wa_onboard::conversation::flows::FlowRegistry;
    use wa_onboard::store::conversation::ConversationStore;
    let dir = std::env::temp_dir().join(format!("flows-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let original = std::fs::read_to_string(root().join("flows/kyc_latam.yaml")).unwrap();
    std::fs::write(dir.join("kyc_latam.yaml"), &original).unwrap();
    let registry = FlowRegistry::load(&dir, "kyc_latam").unwrap();
    let store = wa_onboard::store::memory::conversations::MemoryConversations::new(
        wa_onboard::clock::system(),
        wa_onboard::store::retention::Retention::default(),
    );
    registry.publish(&store).await.unwrap();
    let first = registry.default_flow().unwrap().version.clone();

    std::fs::write(dir.join("kyc_latam.yaml"), original.replace("next: consent", "next: nowhere")).unwrap();
    assert!(registry.reload().is_err(), "an invalid flow is refused");
    assert_eq!(registry.default_flow().unwrap().version, first, "the running flow is kept");

    std::fs::write(dir.join("kyc_latam.yaml"), original.replace("Elegir documento", "Elegir tu documento")).unwrap();
    registry.reload().unwrap();
    let second = registry.default_flow().unwrap().version.clone();
    assert_ne!(first, second, "new conversations start on the new version");
    // A conversation that started on the first version still finds it, here and in any other process.
    assert!(registry.version("kyc_latam", &first, &store).await.unwrap().is_some());
    let other_process = FlowRegistry::load(&dir, "kyc_latam").unwrap();
    assert!(other_process.version("kyc_latam", &first, &store).await.unwrap().is_some());
    assert!(store.flow_source("kyc_latam", &first).await.unwrap().is_some());
    let _ = std::fs::remove_dir_all(&dir);
}
