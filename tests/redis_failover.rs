//! The bot on a highly available Redis whose master dies mid-onboarding: a Redis Cluster (three masters with one
//! replica each) and a Sentinel-watched master with a replica. Users keep writing through the failover (Meta
//! redelivers what got a 503, and so do these users); afterwards every user has had every reply exactly once,
//! in order. Each test runs its own servers on loopback ports of its own.

#[macro_use]
mod common;
#[path = "support/topologies.rs"]
mod topologies;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use topologies::{LocalCluster, LocalSentinel};
use wa_onboard::app::Workers;
use wa_onboard::demo::driver::{User, describe};

const WAIT: Duration = Duration::from_secs(60);
/// Meta goes on delivering for days; a failover here takes seconds.
const REDELIVER_FOR: Duration = Duration::from_secs(60);
const NUMBER: &str = "100000000000052";

/// Four users go through the first four steps on the Redis at `url`; `fail` runs (off the runtime) after the
/// second step. Answers each user's replies, checked to be exactly one per step.
async fn onboard_across(url: &str, name: &str, fail: impl FnOnce() + Send + 'static) -> Vec<Vec<String>> {
    let prefix = unique_prefix(name);
    let backend = wa_onboard::store::Backend::redis(
        url,
        &prefix,
        Duration::from_secs(2),
        DEDUPE_TTL,
        wa_onboard::clock::system(),
    )
    .await
    .expect("the app connects");
    let app = spawn_app_with(backend, None, &[("WORKER_POLL_MS", "20")], Workers::Run).await;
    let sim = app.sim.clone().unwrap();
    let mut users: Vec<User> = (0..4)
        .map(|i| {
            let phone = format!("52155111190{i:02}");
            User::new(&format!("User {i}"), &phone, &app.base, APP_SECRET, NUMBER, sim.clone())
                .redelivering_for(REDELIVER_FOR)
        })
        .collect();
    for user in &mut users {
        user.says("Hola").await.unwrap();
        user.expect_replies(1, WAIT).await.unwrap();
    }
    for user in &mut users {
        user.taps("lang_es", "Español").await.unwrap();
        user.expect_replies(1, WAIT).await.unwrap();
    }
    tokio::task::spawn_blocking(fail).await.unwrap();
    for user in &mut users {
        user.taps("consent_accept", "Acepto").await.unwrap();
        user.expect_replies(1, WAIT).await.unwrap();
    }
    for user in &mut users {
        user.taps("doc_passport", "Pasaporte").await.unwrap();
        user.expect_replies(1, WAIT).await.unwrap();
    }
    // A duplicate would come a little later (a job run twice): give it the time to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    users
        .iter()
        .map(|user| {
            let mine: Vec<String> = sim
                .messages()
                .into_iter()
                .filter(|m| m.to.as_deref() == Some(user.phone.as_str()))
                .map(|m| describe(&m.body))
                .collect();
            assert_eq!(mine.len(), 4, "{}: one reply per step, none lost or doubled: {mine:#?}", user.name);
            mine
        })
        .collect()
}

/// The same steps, in the same order, for everyone: language buttons, consent, the document list, the photo ask.
fn assert_same_conversation(replies: &[Vec<String>]) {
    for other in &replies[1..] {
        assert_eq!(other, &replies[0]);
    }
    assert!(replies[0][3].to_lowercase().contains("foto"), "the last step asks for the photo: {:?}", replies[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_master_dies_mid_onboarding_and_no_reply_is_lost_or_doubled() {
    let cluster = Arc::new(LocalCluster::start(7300));
    let shared = cluster.clone();
    let replies = onboard_across(&cluster.url, "cluster-failover", move || {
        // The master that holds the inbound queue (hash tag `{inbound}`): every webhook writes there.
        let (killed, now) = shared.kill_master_of("{inbound}");
        assert_ne!(now, killed, "a replica took the queue's slot");
    })
    .await;
    assert_same_conversation(&replies);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_mid_onboarding_loses_and_doubles_no_reply() {
    let sentinel = Arc::new(LocalSentinel::start(7320));
    let before = sentinel.master_port();
    let shared = sentinel.clone();
    let replies = onboard_across(&sentinel.url, "sentinel-failover", move || {
        shared.kill_master();
        assert_ne!(shared.master_port(), before, "the replica is the master now");
    })
    .await;
    assert_same_conversation(&replies);
}
