//! One suite per trait, run against the in-memory and the Redis implementation: the rate limiter, the delivery
//! log and the media vault behave the same on both.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use wa_onboard::clock::FixedClock;
use wa_onboard::config::MediaKey;
use wa_onboard::store::delivery::{DeliveryLog, Progress, StatusUpdate};
use wa_onboard::store::rate_limit::{LimitError, LimiterSettings, RateLimiter};
use wa_onboard::store::vault::{MediaCipher, MediaVault};
use wa_onboard::webhook::envelope::{ApiError, Status, StatusKind};

// ---------------------------------------------------------------- limiter

fn small_limits() -> LimiterSettings {
    LimiterSettings {
        per_number_per_second: 10,
        per_number_burst: 4,
        per_user_interval: Duration::from_millis(300),
        per_user_burst: 2,
    }
}

async fn limiters(name: &str, settings: LimiterSettings) -> Vec<(Arc<dyn RateLimiter>, Option<RedisKeys>)> {
    let mut out = Vec::new();
    for (backend, keys) in both_backends(name).await {
        out.push((backend.rate_limiter(settings), keys));
    }
    out
}

fn wait_of(result: Result<(), LimitError>) -> Duration {
    match result {
        Err(LimitError::Wait(d)) => d,
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[tokio::test]
async fn limiter_paces_each_user_with_a_burst() {
    for (limiter, _keys) in limiters("limiter-user", small_limits()).await {
        limiter.acquire("n1", "ana").await.unwrap();
        limiter.acquire("n1", "ana").await.unwrap();
        let wait = wait_of(limiter.acquire("n1", "ana").await);
        assert!(wait > Duration::from_millis(200) && wait <= Duration::from_millis(300), "{wait:?}");
        // Another user is not held back; the same user on another business number neither.
        limiter.acquire("n1", "bob").await.unwrap();
        limiter.acquire("n2", "ana").await.unwrap();
        // A refusal charges nothing: after the wait, exactly one more goes through.
        tokio::time::sleep(wait).await;
        limiter.acquire("n1", "ana").await.unwrap();
        assert!(limiter.acquire("n1", "ana").await.is_err());
    }
}

#[tokio::test]
async fn limiter_caps_each_business_number() {
    for (limiter, _keys) in limiters("limiter-number", small_limits()).await {
        for user in ["a", "b", "c", "d"] {
            limiter.acquire("n1", user).await.unwrap();
        }
        let wait = wait_of(limiter.acquire("n1", "e").await);
        assert!(wait > Duration::from_millis(50) && wait <= Duration::from_millis(100), "{wait:?}");
        // A number refusal does not charge the user: "e" still has its whole burst afterwards.
        tokio::time::sleep(Duration::from_millis(250)).await;
        limiter.acquire("n1", "e").await.unwrap();
        limiter.acquire("n1", "e").await.unwrap();
        // Another business number has its own budget.
        limiter.acquire("n2", "a").await.unwrap();
    }
}

#[tokio::test]
async fn limiter_waits_within_a_budget() {
    for (limiter, _keys) in limiters("limiter-wait", small_limits()).await {
        limiter.acquire("n1", "ana").await.unwrap();
        limiter.acquire("n1", "ana").await.unwrap();
        let started = Instant::now();
        limiter.acquire_within("n1", "ana", Duration::from_millis(500)).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
        let refused = limiter.acquire_within("n1", "ana", Duration::from_millis(10)).await;
        assert!(matches!(refused, Err(LimitError::Wait(_))), "{refused:?}");
    }
}

#[tokio::test]
async fn limiter_sustains_its_rate() {
    let settings = LimiterSettings { per_number_per_second: 50, per_number_burst: 1, ..small_limits() };
    for (limiter, _keys) in limiters("limiter-rate", settings).await {
        let started = Instant::now();
        for i in 0..10 {
            limiter.acquire_within("n1", &format!("u{i}"), Duration::from_secs(1)).await.unwrap();
        }
        let elapsed = started.elapsed();
        // 10 at 50/s with no burst: 9 intervals of 20 ms.
        assert!(elapsed >= Duration::from_millis(170) && elapsed < Duration::from_millis(600), "{elapsed:?}");
    }
}

#[tokio::test]
async fn the_redis_limiter_is_shared_between_processes() {
    let (backend, keys) = open_backend(Backend::Redis, "limiter-shared").await;
    let _keys = keys.expect("a Redis backend");
    let prefix = _keys.prefix.clone();
    let one = backend.rate_limiter(small_limits());
    let two = backend.rate_limiter(small_limits());
    one.acquire("n1", "ana").await.unwrap();
    two.acquire("n1", "ana").await.unwrap();
    assert!(one.acquire("n1", "ana").await.is_err());
    assert!(two.acquire("n1", "ana").await.is_err());
    two.acquire("n1", "b").await.unwrap();
    one.acquire("n1", "c").await.unwrap();
    // The number's burst of 4 is used up across both.
    assert!(two.acquire("n1", "d").await.is_err());
    assert!(one.acquire("n1", "d").await.is_err());
    // Keys live under the prefix, with one hash tag per business number, and expire by themselves.
    let keys = _keys.keys();
    assert!(keys.iter().all(|k| k.starts_with(&format!("{prefix}:ratelimit:{{n1}}:"))), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("ana")), "user ids are hashed in key names: {keys:?}");
}

// ---------------------------------------------------------------- delivery

async fn delivery_logs(name: &str) -> Vec<(Arc<dyn DeliveryLog>, Option<RedisKeys>)> {
    let mut out = Vec::new();
    for (backend, keys) in both_backends(name).await {
        out.push((backend.delivery_log(Duration::from_secs(3600)), keys));
    }
    out
}

fn status(wamid: &str, kind: StatusKind, timestamp: u64) -> StatusUpdate {
    meta_status(wamid, kind, timestamp).delivery_update()
}

fn meta_status(wamid: &str, kind: StatusKind, timestamp: u64) -> Status {
    Status {
        id: wamid.into(),
        status: kind,
        timestamp,
        recipient_id: Some("5215512345678".into()),
        recipient_user_id: None,
        conversation: None,
        pricing: None,
        errors: vec![],
    }
}

#[tokio::test]
async fn delivery_state_tolerates_any_order() {
    for (log, _keys) in delivery_logs("delivery-order").await {
        assert_eq!(log.get("wamid.1").await.unwrap(), None);
        let s = log.apply(&status("wamid.1", StatusKind::Sent, 100)).await.unwrap();
        assert_eq!(s.status, Some(Progress::Sent));
        // Read before delivered: stays read.
        let s = log.apply(&status("wamid.1", StatusKind::Read, 120)).await.unwrap();
        assert_eq!(s.status, Some(Progress::Read));
        let s = log.apply(&status("wamid.1", StatusKind::Delivered, 110)).await.unwrap();
        assert_eq!(s.status, Some(Progress::Read));
        assert_eq!((s.sent_at, s.delivered_at, s.read_at), (Some(100), Some(110), Some(120)));
        // A duplicate keeps the first time.
        let s = log.apply(&status("wamid.1", StatusKind::Read, 999)).await.unwrap();
        assert_eq!(s.read_at, Some(120));
        assert_eq!(log.get("wamid.1").await.unwrap(), Some(s));
        // A read arriving alone is enough.
        let s = log.apply(&status("wamid.2", StatusKind::Read, 50)).await.unwrap();
        assert_eq!((s.status, s.sent_at), (Some(Progress::Read), None));
        // Unknown statuses are tolerated.
        let s = log.apply(&status("wamid.3", StatusKind::Other("deleted".into()), 50)).await.unwrap();
        assert_eq!(s.status, None);
    }
}

#[tokio::test]
async fn a_failed_message_keeps_its_error_code() {
    for (log, _keys) in delivery_logs("delivery-failed").await {
        log.apply(&status("wamid.f", StatusKind::Sent, 100)).await.unwrap();
        let mut failed = meta_status("wamid.f", StatusKind::Failed, 101);
        failed.errors.push(ApiError {
            code: 131047,
            title: "Re-engagement message".into(),
            message: None,
            error_data: None,
            href: None,
        });
        let s = log.apply(&failed.delivery_update()).await.unwrap();
        assert_eq!(s.status, Some(Progress::Failed));
        assert_eq!(s.error_code, Some(131047));
        assert_eq!(s.error_title.as_deref(), Some("Re-engagement message"));
        // A late "sent" or "delivered" does not hide the failure.
        let s = log.apply(&status("wamid.f", StatusKind::Delivered, 99)).await.unwrap();
        assert_eq!((s.status, s.error_code), (Some(Progress::Failed), Some(131047)));
    }
}

#[tokio::test]
async fn delivery_states_expire_in_redis() {
    let (backend, keys) = open_backend(Backend::Redis, "delivery-ttl").await;
    let keys = keys.expect("a Redis backend");
    let prefix = keys.prefix.clone();
    let log = backend.delivery_log(Duration::from_secs(3600));
    log.apply(&status("wamid.t", StatusKind::Sent, 1)).await.unwrap();
    let mut conn = redis_conn().await;
    let ttl: i64 = redis::cmd("TTL").arg(format!("{prefix}:delivery:wamid.t")).query_async(&mut conn).await.unwrap();
    assert!(ttl > 3500 && ttl <= 3600, "{ttl}");
    assert_eq!(keys.count(), 1);
}

// ---------------------------------------------------------------- vault

fn key() -> MediaKey {
    MediaKey::new(*b"0123456789abcdef0123456789abcdef")
}

async fn vaults(name: &str, retention: Duration) -> Vec<(Arc<dyn MediaVault>, Option<RedisKeys>)> {
    let mut out = Vec::new();
    for (backend, keys) in both_backends(name).await {
        out.push((backend.vault(MediaCipher::new(&key()), retention), keys));
    }
    out
}

const PHOTO: &[u8] = b"\xFF\xD8\xFF\xE0 front of an INE card, very personal data";

#[tokio::test]
async fn the_vault_keeps_media_with_metadata() {
    for (vault, _keys) in vaults("vault-basic", Duration::from_secs(3600)).await {
        let meta = vault.put("conv-1", "id_front", PHOTO, "image/jpeg").await.unwrap();
        assert_eq!(meta.size, PHOTO.len() as u64);
        assert_eq!(meta.sha256, hex::encode(<sha2::Sha256 as sha2::Digest>::digest(PHOTO)));
        assert_eq!(meta.mime_type, "image/jpeg");
        assert!(meta.received_at_ms > 1_700_000_000_000);
        vault.put("conv-1", "selfie", b"\xFF\xD8\xFF selfie", "image/jpeg").await.unwrap();
        vault.put("conv-2", "id_front", b"other", "image/png").await.unwrap();

        let stored = vault.get("conv-1", "id_front").await.unwrap().unwrap();
        assert_eq!(stored.bytes, PHOTO);
        assert_eq!(stored.meta, meta);
        let names: Vec<String> = vault.list("conv-1").await.unwrap().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["id_front", "selfie"]);
        assert_eq!(vault.get("conv-1", "nope").await.unwrap(), None);

        // Replacing a file keeps one entry.
        vault.put("conv-1", "selfie", b"retake", "image/jpeg").await.unwrap();
        assert_eq!(vault.get("conv-1", "selfie").await.unwrap().unwrap().bytes, b"retake");
        assert_eq!(vault.list("conv-1").await.unwrap().len(), 2);

        vault.delete_conversation("conv-1").await.unwrap();
        assert!(vault.list("conv-1").await.unwrap().is_empty());
        assert_eq!(vault.get("conv-1", "id_front").await.unwrap(), None);
        assert!(vault.get("conv-2", "id_front").await.unwrap().is_some(), "other conversations stay");
    }
}

#[tokio::test]
async fn the_vault_forgets_media_after_the_retention() {
    // In memory on a fixed clock: time moves when told.
    let clock = FixedClock::starting_now();
    let memory = wa_onboard::store::Backend::memory(DEDUPE_TTL, clock.clone());
    let vault = memory.vault(MediaCipher::new(&key()), Duration::from_secs(3600));
    vault.put("conv-1", "id_front", PHOTO, "image/jpeg").await.unwrap();
    clock.advance(Duration::from_secs(3599));
    assert!(vault.get("conv-1", "id_front").await.unwrap().is_some());
    clock.advance(Duration::from_secs(2));
    assert_eq!(vault.get("conv-1", "id_front").await.unwrap(), None);
    assert!(vault.list("conv-1").await.unwrap().is_empty());

    // On Redis, the keys really expire.
    let (redis, _keys) = open_backend(Backend::Redis, "vault-expiry").await;
    let vault = redis.vault(MediaCipher::new(&key()), Duration::from_secs(1));
    vault.put("conv-1", "id_front", PHOTO, "image/jpeg").await.unwrap();
    assert!(vault.get("conv-1", "id_front").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(vault.get("conv-1", "id_front").await.unwrap(), None);
    assert!(vault.list("conv-1").await.unwrap().is_empty());
}

#[tokio::test]
async fn media_at_rest_is_ciphertext() {
    let (backend, keys) = open_backend(Backend::Redis, "vault-raw").await;
    let _keys = keys.expect("a Redis backend");
    let prefix = _keys.prefix.clone();
    let vault = backend.vault(MediaCipher::new(&key()), Duration::from_secs(60));
    vault.put("conv-1", "id_front", PHOTO, "image/jpeg").await.unwrap();
    let mut conn = redis_conn().await;
    let item = format!("{prefix}:media:{{conv-1}}:item:id_front");
    let raw: Vec<u8> = redis::cmd("HGET").arg(&item).arg("blob").query_async(&mut conn).await.unwrap();
    assert_ne!(raw, PHOTO);
    assert!(raw.len() >= PHOTO.len() + 12 + 16, "nonce and tag are stored with it");
    assert!(!raw.windows(16).any(|w| PHOTO.windows(16).any(|p| p == w)), "no plaintext run in the stored bytes");
    let ttl: i64 = redis::cmd("TTL").arg(&item).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= 60, "{ttl}");

    // Another key cannot open it (e.g. a restart without MEDIA_ENCRYPTION_KEY).
    let other = backend.vault(MediaCipher::random(), Duration::from_secs(60));
    assert!(other.get("conv-1", "id_front").await.is_err());

    let memory = wa_onboard::store::memory::vault::MemoryVault::new(
        MediaCipher::new(&key()),
        Duration::from_secs(60),
        wa_onboard::clock::system(),
    );
    memory.put("c", "n", PHOTO, "image/jpeg").await.unwrap();
    assert_ne!(memory.raw("c", "n").unwrap(), PHOTO);
}
