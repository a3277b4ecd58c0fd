//! One conformance suite, run against the in-memory store and against real Redis: both must behave the same.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use wa_onboard::clock::FixedClock;
use wa_onboard::jobs::inbound::{InboundEvent, InboundJob};
use wa_onboard::store::{Enqueued, IngressStore, KeptKind, KeptPayload};
use wa_onboard::webhook::envelope::Envelope;

/// The jobs of a fixture, as the ingress makes them.
fn jobs_of(file: &str) -> Vec<InboundJob> {
    let envelope = Envelope::parse(&fixture(file)).unwrap();
    wa_onboard::webhook::ingest::Batch::from_envelope(envelope, 1_795_000_000_000).jobs
}

fn text_job(id: &str) -> InboundJob {
    let envelope = Envelope::parse(&text_webhook(id, "hola")).unwrap();
    wa_onboard::webhook::ingest::Batch::from_envelope(envelope, 1).jobs.remove(0)
}

async fn store_with_ttl(backend: Backend, name: &str, ttl: Duration) -> (Arc<dyn IngressStore>, Option<RedisKeys>) {
    let clock = wa_onboard::clock::system();
    match backend {
        Backend::Memory => (wa_onboard::store::Backend::memory(ttl, clock).ingress(), None),
        Backend::Redis => {
            let prefix = unique_prefix(name);
            let backend =
                wa_onboard::store::Backend::redis(&redis_url(), &prefix, Duration::from_millis(500), ttl, clock)
                    .await
                    .unwrap();
            (backend.ingress(), Some(RedisKeys { prefix }))
        }
    }
}

async fn claims_each_key_once(store: Arc<dyn IngressStore>) {
    let batch = jobs_of("batch_multi.json");
    assert_eq!(store.enqueue_inbound(&batch).await.unwrap(), vec![Enqueued::New; 7]);
    assert_eq!(store.enqueue_inbound(&batch).await.unwrap(), vec![Enqueued::Duplicate; 7]);
    // A batch that mixes old and new answers per job, in order.
    let mixed = vec![batch[0].clone(), text_job("wamid.fresh"), batch[3].clone()];
    assert_eq!(
        store.enqueue_inbound(&mixed).await.unwrap(),
        vec![Enqueued::Duplicate, Enqueued::New, Enqueued::Duplicate]
    );
    assert_eq!(store.enqueue_inbound(&[]).await.unwrap(), vec![]);
    assert_eq!(store.pending_inbound(100).await.unwrap().len(), 8);
}

async fn statuses_are_recorded_once_per_kind(store: Arc<dyn IngressStore>) {
    let mut sent = jobs_of("status_sent.json").remove(0);
    let mut read = sent.clone();
    if let InboundEvent::Status { status, .. } = &mut read.event {
        status.status = wa_onboard::webhook::envelope::StatusKind::Read;
    }
    read.key = read.event.dedupe_key();
    sent.key = sent.event.dedupe_key();
    assert_ne!(sent.key, read.key);
    let results = store.enqueue_inbound(&[sent.clone(), read.clone(), sent, read]).await.unwrap();
    assert_eq!(results, vec![Enqueued::New, Enqueued::New, Enqueued::Duplicate, Enqueued::Duplicate]);
}

async fn pending_jobs_come_back_unchanged(store: Arc<dyn IngressStore>) {
    let mut jobs = Vec::new();
    for file in ["message_image.json", "message_unknown_type.json", "message_username_user.json", "status_failed.json"]
    {
        jobs.extend(jobs_of(file));
    }
    store.enqueue_inbound(&jobs).await.unwrap();
    let mut pending = store.pending_inbound(100).await.unwrap();
    pending.sort_by(|a, b| a.key.cmp(&b.key));
    jobs.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(pending, jobs);
    assert_eq!(store.pending_inbound(2).await.unwrap().len(), 2, "limit is honoured");
}

async fn concurrent_claims_let_exactly_one_through(store: Arc<dyn IngressStore>) {
    let job = text_job("wamid.race");
    let tasks = (0..20).map(|_| {
        let store = store.clone();
        let job = job.clone();
        tokio::spawn(async move { store.enqueue_inbound(&[job]).await.unwrap()[0] })
    });
    let results: Vec<Enqueued> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|r| **r == Enqueued::New).count(), 1, "{results:?}");
    assert_eq!(store.pending_inbound(100).await.unwrap().len(), 1);
}

async fn kept_payloads_read_back_newest_first(store: Arc<dyn IngressStore>) {
    let payload = |i: u64, kind| KeptPayload {
        kind,
        reason: format!("reason {i}"),
        body: format!("{{\"n\":{i}}} ñ"),
        received_at_ms: i,
    };
    store.keep(&[payload(1, KeptKind::InvalidEnvelope), payload(2, KeptKind::OtherField)]).await.unwrap();
    store.keep(&[payload(3, KeptKind::InvalidItem)]).await.unwrap();
    store.keep(&[]).await.unwrap();
    let kept = store.kept(10).await.unwrap();
    assert_eq!(
        kept,
        vec![
            payload(3, KeptKind::InvalidItem),
            payload(2, KeptKind::OtherField),
            payload(1, KeptKind::InvalidEnvelope)
        ]
    );
    assert_eq!(store.kept(1).await.unwrap().len(), 1);
    store.ping().await.unwrap();
}

/// Claims a key, sees it claimed, lets `ttl_passes` run out the 2 s claim, and claims it again.
async fn claims_expire_after_the_dedupe_ttl(store: Arc<dyn IngressStore>, ttl_passes: impl Future<Output = ()>) {
    let job = text_job("wamid.ttl");
    assert_eq!(store.enqueue_inbound(std::slice::from_ref(&job)).await.unwrap(), vec![Enqueued::New]);
    assert_eq!(store.enqueue_inbound(std::slice::from_ref(&job)).await.unwrap(), vec![Enqueued::Duplicate]);
    ttl_passes.await;
    assert_eq!(store.enqueue_inbound(&[job]).await.unwrap(), vec![Enqueued::New]);
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(#[tokio::test] async fn $case() { let (s, _k) = store_with_ttl(Backend::Memory, stringify!($case), DEDUPE_TTL).await; super::$case(s).await; })*
            // In memory the clock is fixed and moved on; Redis below expires the key for real.
            #[tokio::test] async fn claims_expire() {
                let clock = FixedClock::starting_now();
                let store = wa_onboard::store::Backend::memory(Duration::from_secs(2), clock.clone()).ingress();
                super::claims_expire_after_the_dedupe_ttl(store, async { clock.advance(Duration::from_millis(2001)) }).await;
            }
        }
        mod redis {
            use super::*;
            $(#[tokio::test] async fn $case() { let (s, _k) = store_with_ttl(Backend::Redis, stringify!($case), DEDUPE_TTL).await; super::$case(s).await; })*
            #[tokio::test] async fn claims_expire() {
                let (s, _k) = store_with_ttl(Backend::Redis, "ttl", Duration::from_secs(2)).await;
                super::claims_expire_after_the_dedupe_ttl(s, tokio::time::sleep(Duration::from_millis(2100))).await;
            }
        }
    };
}

conformance!(
    claims_each_key_once,
    statuses_are_recorded_once_per_kind,
    pending_jobs_come_back_unchanged,
    concurrent_claims_let_exactly_one_through,
    kept_payloads_read_back_newest_first,
);
