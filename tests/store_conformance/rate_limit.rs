//! `RateLimiter`: GCRA buckets per business number and per user, both charged or neither. The limiter measures
//! elapsed time (not the backend's clock), so these cases take real time on both backends.

use std::time::{Duration, Instant};

use crate::Store;
use crate::common::Backend;
use wa_onboard::store::rate_limit::{LimitError, LimiterSettings};

conformance!(
    limiter_paces_each_user_with_a_burst,
    limiter_caps_each_business_number,
    limiter_waits_within_a_budget,
    limiter_sustains_its_rate,
);

fn small_limits() -> LimiterSettings {
    LimiterSettings {
        per_number_per_second: 10,
        per_number_burst: 4,
        per_user_interval: Duration::from_millis(300),
        per_user_burst: 2,
    }
}

fn wait_of(result: Result<(), LimitError>) -> Duration {
    match result {
        Err(LimitError::Wait(d)) => d,
        other => panic!("expected a wait, got {other:?}"),
    }
}

async fn limiter_paces_each_user_with_a_burst(store: Store) {
    let limiter = store.backend.rate_limiter(small_limits());
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

async fn limiter_caps_each_business_number(store: Store) {
    let limiter = store.backend.rate_limiter(small_limits());
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

async fn limiter_waits_within_a_budget(store: Store) {
    let limiter = store.backend.rate_limiter(small_limits());
    limiter.acquire("n1", "ana").await.unwrap();
    limiter.acquire("n1", "ana").await.unwrap();
    let started = Instant::now();
    limiter.acquire_within("n1", "ana", Duration::from_millis(500)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
    let refused = limiter.acquire_within("n1", "ana", Duration::from_millis(10)).await;
    assert!(matches!(refused, Err(LimitError::Wait(_))), "{refused:?}");
}

async fn limiter_sustains_its_rate(store: Store) {
    let settings = LimiterSettings { per_number_per_second: 50, per_number_burst: 1, ..small_limits() };
    let limiter = store.backend.rate_limiter(settings);
    let started = Instant::now();
    for i in 0..10 {
        limiter.acquire_within("n1", &format!("u{i}"), Duration::from_secs(1)).await.unwrap();
    }
    let elapsed = started.elapsed();
    // 10 at 50/s with no burst: 9 intervals of 20 ms.
    assert!(elapsed >= Duration::from_millis(170) && elapsed < Duration::from_millis(600), "{elapsed:?}");
}

#[tokio::test]
async fn the_redis_limiter_is_shared_between_processes() {
    let store = Store::open(Backend::Redis, "limiter-shared", crate::common::DEDUPE_TTL).await;
    let prefix = store.prefix().to_owned();
    let one = store.backend.rate_limiter(small_limits());
    let two = store.backend.rate_limiter(small_limits());
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
    let keys = store.keys.as_ref().unwrap().keys();
    assert!(keys.iter().all(|k| k.starts_with(&format!("{prefix}:ratelimit:{{n1}}:"))), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains("ana")), "user ids are hashed in key names: {keys:?}");
}
