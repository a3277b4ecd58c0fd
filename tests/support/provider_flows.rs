//! The default flow with identity providers routed to fakes, written to a temporary folder for one test.
#![allow(dead_code)] // each test file uses a different part

use super::common::unique_prefix;

pub const PROVIDER_SECRET_ENV: &str = "PROVIDER_E2E_SECRET";
pub const PROVIDER_SECRET: &str = "e2e-provider-secret";

/// Which provider serves which capability for passports, in the default flow (which requires document and
/// face_match).
#[derive(Default)]
pub struct Providers<'a> {
    /// The provider simulator's URL and the capabilities routed to it.
    pub sim: Option<(&'a str, &'a [&'a str])>,
    /// The Rekognition fake's URL (face_match).
    pub rekognition: Option<&'a str>,
    /// The Veriff fake's URL (document and face_match, one session).
    pub veriff: Option<&'a str>,
    /// The provider simulator fetches the photos through one-time links instead of receiving them.
    pub links: bool,
}

/// The default flow, with the given providers routed and their checks listed for passports.
pub fn flows_dir_for(providers: &Providers) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(unique_prefix("flows").replace(':', "-"));
    std::fs::create_dir_all(&dir).unwrap();
    let mut flow = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/flows/kyc_latam.yaml")).unwrap();
    let mut specs = String::new();
    let mut routes = String::new();
    let mut checks = vec!["quality".to_owned()];
    if let Some((url, capabilities)) = providers.sim {
        specs.push_str(&format!(
            "      kyc_sim:\n        kind: http\n        base_url: {url}\n        secret_env: {PROVIDER_SECRET_ENV}\n        timeout_ms: 2000\n        retries: 0\n        images: {}\n",
            if providers.links { "url" } else { "bytes" }
        ));
        for capability in capabilities {
            routes.push_str(&format!("      - {{ capability: {capability}, provider: kyc_sim }}\n"));
            checks.push(if *capability == "document" { "ocr".into() } else { (*capability).to_owned() });
        }
    }
    if let Some(url) = providers.rekognition {
        specs.push_str(&format!(
            "      aws:\n        kind: rekognition\n        region: us-east-1\n        base_url: {url}\n        similarity_threshold: 90\n        timeout_ms: 5000\n        retries: 1\n        retry_backoff_ms: 10\n"
        ));
        routes.push_str("      - { capability: face_match, provider: aws }\n");
    }
    if let Some(url) = providers.veriff {
        specs.push_str(&format!(
            "      veriff:\n        kind: veriff\n        base_url: {url}\n        api_key_env: VERIFF_E2E_KEY\n        shared_secret_env: VERIFF_E2E_SECRET\n        timeout_ms: 5000\n"
        ));
        routes.push_str("      - { capability: document, provider: veriff }\n      - { capability: face_match, provider: veriff }\n");
    }
    if !specs.is_empty() {
        flow = flow.replace(
            "    passport: { sides: [front], checks: [quality, mrz] }",
            &format!("    passport: {{ sides: [front], checks: [{}] }}", checks.join(", ")),
        );
        flow.push_str(&format!("  providers:\n    providers:\n{specs}    routes:\n{routes}"));
    }
    std::fs::write(dir.join("kyc_latam.yaml"), flow).unwrap();
    dir
}
