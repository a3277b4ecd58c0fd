//! Media downloads against the simulator: lookup, bearer download, expiry, caps, type sniffing and checksums.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sha2::{Digest, Sha256};
use wa_onboard::sim::{Endpoint, Failure, Simulator};
use wa_onboard::whatsapp::media::{MediaError, MediaKind, MediaLimits, fetch_media};

fn jpeg(len: usize) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..len.saturating_sub(4)).map(|i| (i % 251) as u8));
    bytes
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".to_vec()
}

fn limits() -> MediaLimits {
    MediaLimits {
        max_image_bytes: 64 * 1024,
        max_document_bytes: 128 * 1024,
        attempts: 3,
        retry_pause: Duration::from_millis(10),
        download_timeout: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn downloads_and_checks_an_image() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    let bytes = jpeg(20_000);
    sim.register_media("media-1", bytes.clone(), "image/jpeg");
    let media = fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.unwrap();
    assert_eq!(media.bytes.as_ref(), bytes.as_slice());
    assert_eq!(media.mime_type, "image/jpeg");
    assert_eq!(media.sha256_hex, hex::encode(Sha256::digest(&bytes)));

    // The webhook's checksum, hex (older payloads) or base64, is checked too.
    let hex_sum = hex::encode(Sha256::digest(&bytes));
    fetch_media(&api, &limits(), "media-1", Some(&hex_sum), MediaKind::Image).await.unwrap();
    sim.register_media("doc-1", pdf(), "application/pdf");
    let doc = fetch_media(&api, &limits(), "doc-1", None, MediaKind::Document).await.unwrap();
    assert_eq!(doc.mime_type, "application/pdf");
}

#[tokio::test]
async fn the_download_needs_the_bearer_token() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    sim.register_media("media-1", jpeg(100), "image/jpeg");
    let http = reqwest::Client::new();
    let lookup: serde_json::Value = http
        .get(format!("{}/v23.0/media-1", sim.base_url))
        .bearer_auth(wa_onboard::sim::SIM_ACCESS_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(lookup["file_size"], 100);
    assert_eq!(lookup["mime_type"], "image/jpeg");
    let url = lookup["url"].as_str().unwrap();
    assert_eq!(http.get(url).send().await.unwrap().status(), 401);
    assert_eq!(http.get(url).bearer_auth(wa_onboard::sim::SIM_ACCESS_TOKEN).send().await.unwrap().status(), 200);
    drop(api);
}

#[tokio::test]
async fn an_expired_url_is_fetched_again() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    sim.register_media("media-1", jpeg(1000), "image/jpeg");
    sim.fail(Failure::ExpiredMediaUrl);
    let media = fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.unwrap();
    assert_eq!(media.bytes.len(), 1000);
    assert_eq!(sim.pending_failures(), 0);

    // URLs that expire for real (a zero TTL): every fresh URL is stale, the budget runs out.
    sim.set_media_url_ttl(Duration::ZERO);
    let e = fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::Expired);
}

#[tokio::test]
async fn a_checksum_mismatch_is_refused() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    sim.register_media("media-1", jpeg(1000), "image/jpeg");
    let wrong = hex::encode(Sha256::digest(b"something else"));
    let e = fetch_media(&api, &limits(), "media-1", Some(&wrong), MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::ChecksumMismatch);
}

#[tokio::test]
async fn oversize_media_is_refused_without_buffering_it() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    // Declared too large in the lookup: refused before downloading.
    sim.register_media("big", jpeg(100 * 1024), "image/jpeg");
    let e = fetch_media(&api, &limits(), "big", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::TooLarge { limit: 64 * 1024 });
    // Within the document cap it downloads.
    sim.register_media("big-doc", [b"%PDF-1.4\n".as_slice(), &vec![b' '; 100 * 1024]].concat(), "application/pdf");
    assert!(fetch_media(&api, &limits(), "big-doc", None, MediaKind::Document).await.is_ok());

    // A small file whose download never ends (no length announced): the cap stops the stream. Were the body
    // buffered first, this would read 1 GiB.
    sim.register_media("small", jpeg(1000), "image/jpeg");
    sim.fail(Failure::EndlessMedia);
    let started = Instant::now();
    let e = fetch_media(&api, &limits(), "small", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::TooLarge { limit: 64 * 1024 });
    assert!(started.elapsed() < Duration::from_secs(2), "stopped early: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_jpeg_that_is_not_one_is_the_wrong_type() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    sim.register_media("fake", b"GIF89a not a jpeg at all".to_vec(), "image/jpeg");
    let e = fetch_media(&api, &limits(), "fake", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::WrongType { declared: "image/jpeg".into(), sniffed: "unknown".into() });
    // A PNG declared as JPEG.
    sim.register_media("png", b"\x89PNG\r\n\x1a\n0000".to_vec(), "image/jpeg");
    let e = fetch_media(&api, &limits(), "png", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::WrongType { declared: "image/jpeg".into(), sniffed: "image/png".into() });
    // A PDF where an image is expected.
    sim.register_media("pdf", pdf(), "application/pdf");
    let e = fetch_media(&api, &limits(), "pdf", None, MediaKind::Image).await.unwrap_err();
    assert!(matches!(e, MediaError::WrongType { .. }), "{e:?}");
}

#[tokio::test]
async fn unknown_media_is_not_found() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    for id in ["nope", "../messages", "a/b", ""] {
        let e = fetch_media(&api, &limits(), id, None, MediaKind::Image).await.unwrap_err();
        assert_eq!(e, MediaError::NotFound, "{id}");
    }
    sim.register_media("media-1", jpeg(100), "image/jpeg");
    sim.fail(Failure::MediaNotFound);
    let e = fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::NotFound);
}

#[tokio::test]
async fn transient_errors_are_retried_within_the_budget() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    sim.register_media("media-1", jpeg(100), "image/jpeg");
    sim.fail_on(Endpoint::MediaLookup, Failure::ServerError);
    sim.fail_on(Endpoint::MediaDownload, Failure::ServerError);
    assert!(fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.is_ok());
    for _ in 0..3 {
        sim.fail_on(Endpoint::MediaLookup, Failure::ServerError);
    }
    let e = fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.unwrap_err();
    assert!(matches!(e, MediaError::Unavailable(_)), "{e:?}");
}

#[tokio::test]
async fn an_expired_token_stops_media_downloads() {
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    sim.register_media("media-1", jpeg(100), "image/jpeg");
    sim.fail_on(Endpoint::MediaLookup, Failure::TokenExpired);
    let e = fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::TokenExpired);
    assert!(api.token_expired());
    let e = fetch_media(&api, &limits(), "media-1", None, MediaKind::Image).await.unwrap_err();
    assert_eq!(e, MediaError::TokenExpired);
}

#[tokio::test]
async fn media_can_be_registered_over_http() {
    use base64::Engine as _;
    let sim = Simulator::start().await.unwrap();
    let api = sim_api(&sim);
    let bytes = jpeg(500);
    let response = reqwest::Client::new()
        .post(format!("{}/_admin/media", sim.base_url))
        .bearer_auth(wa_onboard::sim::SIM_ACCESS_TOKEN)
        .json(&serde_json::json!({"id": "http-1", "mime_type": "image/jpeg",
            "bytes": base64::engine::general_purpose::STANDARD.encode(&bytes)}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let media = fetch_media(&api, &limits(), "http-1", None, MediaKind::Image).await.unwrap();
    assert_eq!(media.bytes.as_ref(), bytes.as_slice());
}
