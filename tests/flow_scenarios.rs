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
