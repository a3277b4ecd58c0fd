//! The providers section of a flow file: parsing, validation, routing, secrets from the environment, and the
//! local provider's warning.

use wa_onboard::clock;
use wa_onboard::config::Env;
use wa_onboard::verify::providers::config::{ProvidersConfig, ProvidersConfigError};
use wa_onboard::verify::providers::local::{LocalProvider, NOTE};
use wa_onboard::verify::providers::{AnswerStatus, Capability, Correlation, ImageRole, ProviderRequest, check};
use wa_onboard::verify::reason::ReasonCode;

const CONFIG: &str = r#"{
  "providers": {
    "acme": { "kind": "http", "base_url": "https://api.acme.example", "secret_env": "PROVIDER_ACME_SECRET",
              "timeout_ms": 8000, "retries": 1, "breaker": { "failure_threshold": 3, "cooldown_ms": 60000 } },
    "registro": { "kind": "http", "base_url": "https://registro.example/api", "secret_env": "PROVIDER_REGISTRO_SECRET" },
    "dev": { "kind": "local" }
  },
  "routes": [
    { "capability": "registry", "countries": ["AR", "CL"], "provider": "registro" },
    { "capability": "registry", "countries": ["*"], "provider": "acme" },
    { "capability": "document", "provider": "acme" },
    { "capability": "liveness", "countries": ["mx"], "provider": "dev" }
  ]
}"#;

#[test]
fn routes_resolve_first_match_by_capability_and_country() {
    let config: ProvidersConfig = serde_json::from_str(CONFIG).unwrap();
    assert!(config.validate().is_empty());
    assert_eq!(config.provider_name_for(Capability::Registry, "AR"), Some("registro"));
    assert_eq!(config.provider_name_for(Capability::Registry, "cl"), Some("registro"));
    assert_eq!(config.provider_name_for(Capability::Registry, "PE"), Some("acme"));
    assert_eq!(config.provider_name_for(Capability::Document, "BR"), Some("acme"));
    assert_eq!(config.provider_name_for(Capability::Liveness, "MX"), Some("dev"));
    assert_eq!(config.provider_name_for(Capability::Liveness, "AR"), None);
    assert_eq!(config.provider_name_for(Capability::FaceMatch, "AR"), None);
    let defaults = &config.providers["registro"];
    assert_eq!((defaults.timeout_ms, defaults.retries, defaults.breaker.failure_threshold), (10_000, 1, 5));
}

#[test]
fn secrets_come_from_the_environment() {
    let config: ProvidersConfig = serde_json::from_str(CONFIG).unwrap();
    let problems = config.build(&Env::from_pairs([("PROVIDER_ACME_SECRET", "s1")]), clock::system()).unwrap_err();
    assert_eq!(
        problems,
        vec![ProvidersConfigError::MissingSecret {
            provider: "registro".to_owned(),
            var: "PROVIDER_REGISTRO_SECRET".to_owned()
        }]
    );
    let providers = config
        .build(&Env::from_pairs([("PROVIDER_ACME_SECRET", "s1"), ("PROVIDER_REGISTRO_SECRET", "s2")]), clock::system())
        .unwrap();
    assert_eq!(providers.provider_for(Capability::Registry, "AR").unwrap().name(), "registro");
    assert!(providers.registry_checker("PE").is_some());
    assert!(providers.face_matcher("AR").is_none());
    let secrets = providers.callback_secrets();
    assert_eq!(secrets["acme"].expose(), "s1");
    assert!(!secrets.contains_key("dev"));
    assert!(!format!("{providers:?}").contains("s1"));
}

#[test]
fn invalid_files_say_what_is_wrong() {
    let bad = r#"{
      "providers": { "acme": { "kind": "http", "base_url": "ftp://x" }, "dev": { "kind": "local" } },
      "routes": [ { "capability": "registry", "provider": "nobody" } ]
    }"#;
    let config: ProvidersConfig = serde_json::from_str(bad).unwrap();
    let text: Vec<String> = config.validate().iter().map(|p| p.to_string()).collect();
    assert_eq!(text.len(), 3, "{text:?}");
    assert!(text[0].contains("http or https"));
    assert!(text[1].contains("secret_env"));
    assert!(text[2].contains("nobody"));
    // Typos are errors, not silently ignored settings; a secret written in the file is refused too.
    assert!(serde_json::from_str::<ProvidersConfig>(r#"{"providers":{"a":{"kind":"local","timout_ms":1}}}"#).is_err());
    assert!(serde_json::from_str::<ProvidersConfig>(r#"{"providers":{"a":{"kind":"http","secret":"x"}}}"#).is_err());
    assert!(serde_json::from_str::<ProvidersConfig>(r#"{"routes":[{"capability":"ocr","provider":"a"}]}"#).is_err());
}

#[test]
fn rekognition_and_veriff_are_validated_as_docs_providers_md_says() {
    let bad = r#"{
      "providers": {
        "aws": { "kind": "rekognition", "similarity_threshold": 140 },
        "veriff": { "kind": "veriff", "api_key_env": "VERIFF_KEY" }
      },
      "routes": [
        { "capability": "face_match", "provider": "aws" },
        { "capability": "document", "provider": "aws" },
        { "capability": "document", "provider": "veriff" }
      ]
    }"#;
    let config: ProvidersConfig = serde_json::from_str(bad).unwrap();
    let text: Vec<String> = config.validate().iter().map(|p| p.to_string()).collect();
    assert_eq!(text.len(), 3, "{text:?}");
    assert!(text.iter().any(|t| t.contains("similarity_threshold must be between 0 and 100")), "{text:?}");
    assert!(text.iter().any(|t| t.contains("shared_secret_env")), "{text:?}");
    assert!(text.iter().any(|t| t.contains("Rekognition serves face_match only, not document")), "{text:?}");
    // Veriff's keys come from the environment, like every secret.
    let good = r#"{
      "providers": { "veriff": { "kind": "veriff", "api_key_env": "VERIFF_KEY", "shared_secret_env": "VERIFF_SECRET" } },
      "routes": [ { "capability": "document", "provider": "veriff" } ]
    }"#;
    let config: ProvidersConfig = serde_json::from_str(good).unwrap();
    assert!(config.validate().is_empty());
    let missing = config.build(&Env::from_pairs([("VERIFF_KEY", "k")]), clock::system()).unwrap_err();
    assert_eq!(
        missing,
        vec![ProvidersConfigError::MissingSecret { provider: "veriff".into(), var: "VERIFF_SECRET".into() }]
    );
    let env = Env::from_pairs([("VERIFF_KEY", "k"), ("VERIFF_SECRET", "s")]);
    let built = config.build(&env, clock::system()).unwrap();
    assert_eq!(built.provider_for(Capability::Document, "MX").unwrap().name(), "veriff");
    assert!(built.veriff_keys().contains_key("veriff"));
}

#[tokio::test]
async fn local_provider_passes_with_media_and_says_it_checked_nothing() {
    let local = LocalProvider::new("dev");
    let mut request = ProviderRequest {
        correlation: Correlation { conversation_id: "c".to_owned(), attempt: 1 },
        country: "MX".to_owned(),
        document_type: None,
        document_number: None,
        images: vec![],
        fields: Default::default(),
        callback_url: None,
    };
    let no_selfie = check(&local, Capability::Liveness, &request).await.unwrap();
    assert_eq!(no_selfie.status, AnswerStatus::Retry { reason: ReasonCode::NoFace });
    request.images.push(wa_onboard::verify::providers::ProviderImage {
        role: ImageRole::Selfie,
        content: wa_onboard::verify::providers::ImageContent::Bytes {
            mime: "image/jpeg".into(),
            bytes: vec![1].into(),
        },
    });
    let answer = check(&local, Capability::Liveness, &request).await.unwrap();
    assert_eq!(answer.status, AnswerStatus::Pass);
    assert_eq!(answer.fields["note"], NOTE);
    assert_eq!(NOTE, "local provider: no identity check");
}
