//! One conformance suite for every store trait of `src/store/`, run on the in-memory backend and on real Redis:
//! each case is written once, against the trait, and runs as `<module>::memory::<case>` and
//! `<module>::redis::<case>` with the same assertions.
//!
//! Time: the memory backend runs on a [`FixedClock`] that a case moves on ([`Store::pass`]), so its expiries cost
//! no wait; on Redis the same case waits for a real, short `EXPIRE`. The rate limiter is the exception: it
//! measures elapsed time on this process (see `wa_onboard::clock`), so its cases take real time on both.
//!
//! Every Redis case works under its own key prefix, deleted when the case ends (never `FLUSHDB`). A case marked
//! `#[ignore]` on one backend documents a known disagreement between the two implementations: run it with
//! `cargo test --test store_conformance -- --ignored` to see it.

#[path = "../common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Backend, RedisKeys, redis_url, unique_prefix};
use wa_onboard::clock::{FixedClock, SharedClock};

/// A short lifetime for cases that watch something expire: on Redis, a real wait of about this long.
pub const SHORT_TTL: Duration = Duration::from_secs(1);

/// One backend opened for one case, with what the case needs to move time and look at Redis.
pub struct Store {
    pub backend: wa_onboard::store::Backend,
    /// The memory backend's clock, which moves only when the case says so; `None` on Redis.
    pub clock: Option<Arc<FixedClock>>,
    /// The case's Redis keys, deleted when the store is dropped; `None` in memory.
    pub keys: Option<RedisKeys>,
}

impl Store {
    /// The backend `kind`, remembering idempotency keys (inbound claims, queue keys) for `key_ttl`.
    pub async fn open(kind: Backend, name: &str, key_ttl: Duration) -> Self {
        match kind {
            Backend::Memory => {
                let clock = FixedClock::starting_now();
                let backend = wa_onboard::store::Backend::memory(key_ttl, clock.clone());
                Self { backend, clock: Some(clock), keys: None }
            }
            Backend::Redis => {
                let prefix = unique_prefix(name);
                let clock: SharedClock = wa_onboard::clock::system();
                // Generous: the machine may be busy with other builds; no case here is about timeouts.
                let backend =
                    wa_onboard::store::Backend::redis(&redis_url(), &prefix, Duration::from_secs(2), key_ttl, clock)
                        .await
                        .expect("Redis must be running for the tests (see README)");
                Self { backend, clock: None, keys: Some(RedisKeys { prefix }) }
            }
        }
    }

    pub fn is_redis(&self) -> bool {
        self.keys.is_some()
    }

    /// The Redis key prefix of this case (panics in memory).
    pub fn prefix(&self) -> &str {
        &self.keys.as_ref().expect("a Redis store").prefix
    }

    /// Now, in Unix seconds, on the clock the backend reads.
    pub fn now_secs(&self) -> u64 {
        self.backend.clock().now_secs()
    }

    /// Lets `by` pass: the fixed clock moves on at once in memory; real time passes on Redis.
    pub async fn pass(&self, by: Duration) {
        match &self.clock {
            Some(clock) => clock.advance(by),
            None => tokio::time::sleep(by).await,
        }
    }

    /// Lets time pass until shortly before `ttl` runs out (counted from a write just made): 1 ms before in
    /// memory, halfway on Redis (real time and `EXPIRE` cannot be cut finer without flaky cases).
    pub async fn pass_most_of(&self, ttl: Duration) {
        if self.is_redis() { self.pass(ttl / 2).await } else { self.pass(ttl - Duration::from_millis(1)).await }
    }

    /// After [`Store::pass_most_of`]: lets the rest of `ttl` pass, and a little more.
    pub async fn pass_the_rest_of(&self, ttl: Duration) {
        if self.is_redis() {
            self.pass(ttl - ttl / 2 + Duration::from_millis(50)).await
        } else {
            self.pass(Duration::from_millis(2)).await
        }
    }
}

/// Runs each case `async fn case(store: Store)` once per backend: `mod memory { case }` and `mod redis { case }`.
/// After a case: `key_ttl = <Duration>` opens its stores with that key lifetime (default [`common::DEDUPE_TTL`]);
/// before it: `#[memory <attr>]` or `#[redis <attr>]` adds an attribute (e.g. `ignore`) on one backend only.
macro_rules! conformance {
    (@key_ttl) => { $crate::common::DEDUPE_TTL };
    (@key_ttl $ttl:expr) => { $ttl };
    ($($(#[memory $memory:meta])* $(#[redis $redis:meta])* $case:ident $(key_ttl = $ttl:expr)?),* $(,)?) => {
        mod memory {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$memory])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let key_ttl = conformance!(@key_ttl $($ttl)?);
                    let store = $crate::Store::open($crate::common::Backend::Memory, stringify!($case), key_ttl).await;
                    super::$case(store).await;
                }
            )*
        }
        mod redis {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$redis])*
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let key_ttl = conformance!(@key_ttl $($ttl)?);
                    let store = $crate::Store::open($crate::common::Backend::Redis, stringify!($case), key_ttl).await;
                    super::$case(store).await;
                }
            )*
        }
    };
}

mod agents;
mod cases;
mod conversations;
mod delivery;
mod ingress;
mod journeys;
mod queues;
mod rate_limit;
mod send_order;
mod values;
mod vault;
