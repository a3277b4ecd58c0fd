//! `IngressStore`: inbound jobs claimed by their dedupe key and queued in one step, and the payloads kept for an
//! operator.

use crate::common::{fixture, text_webhook};
use crate::{SHORT_TTL, Store};
use wa_onboard::jobs::inbound::{InboundEvent, InboundJob};
use wa_onboard::store::{Enqueued, KeptCap, KeptKind, KeptPayload};
use wa_onboard::webhook::envelope::Envelope;

conformance!(
    claims_each_key_once,
    statuses_are_recorded_once_per_kind,
    pending_jobs_come_back_unchanged,
    concurrent_claims_let_exactly_one_through,
    kept_payloads_read_back_newest_first,
    kept_payloads_are_capped_in_bytes_and_in_count,
    kept_payloads_go_after_their_age_and_with_an_erasure,
    claims_expire_after_the_dedupe_ttl key_ttl = SHORT_TTL,
    #[redis ignore = "disagreement: Redis lists jobs pushed in the same second in random order (apalis orders its \
                      scheduled set by second, then by a random task id)"]
    pending_inbound_is_oldest_first,
);

/// The jobs of a fixture, as the ingress makes them.
fn jobs_of(file: &str) -> Vec<InboundJob> {
    let envelope = Envelope::parse(&fixture(file)).unwrap();
    wa_onboard::webhook::ingest::Batch::from_envelope(envelope, 1_795_000_000_000, &|_| true).jobs
}

fn text_job(id: &str) -> InboundJob {
    let envelope = Envelope::parse(&text_webhook(id, "hola")).unwrap();
    wa_onboard::webhook::ingest::Batch::from_envelope(envelope, 1, &|_| true).jobs.remove(0)
}

async fn claims_each_key_once(store: Store) {
    let store = store.backend.ingress();
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

async fn statuses_are_recorded_once_per_kind(store: Store) {
    let store = store.backend.ingress();
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

async fn pending_jobs_come_back_unchanged(store: Store) {
    let store = store.backend.ingress();
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
    assert_eq!(store.pending_inbound(0).await.unwrap(), vec![]);
}

async fn concurrent_claims_let_exactly_one_through(store: Store) {
    let store = store.backend.ingress();
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

async fn kept_payloads_read_back_newest_first(store: Store) {
    let base = store.now_secs() * 1000;
    let store = store.backend.ingress();
    let payload = |i: u64, kind| KeptPayload {
        kind,
        reason: format!("reason {i}"),
        body: format!("{{\"n\":{i}}} ñ"),
        received_at_ms: base + i,
    };
    let cap = KeptCap::default();
    store.keep(&[payload(1, KeptKind::InvalidEnvelope), payload(2, KeptKind::OtherField)], cap).await.unwrap();
    store.keep(&[payload(3, KeptKind::InvalidItem)], cap).await.unwrap();
    store.keep(&[], cap).await.unwrap();
    let kept = store.kept(10).await.unwrap();
    assert_eq!(
        kept,
        vec![
            payload(3, KeptKind::InvalidItem),
            payload(2, KeptKind::OtherField),
            payload(1, KeptKind::InvalidEnvelope)
        ]
    );
    assert_eq!(store.kept(1).await.unwrap(), vec![payload(3, KeptKind::InvalidItem)], "the limit takes the newest");
    store.ping().await.unwrap();
}

async fn kept_payloads_are_capped_in_bytes_and_in_count(store: Store) {
    let store = store.backend.ingress();
    let payload = |i: u64, size: usize| KeptPayload {
        kind: KeptKind::InvalidEnvelope,
        reason: format!("reason {i}"),
        body: "é".repeat(size / 2),
        received_at_ms: i,
    };
    let cap = KeptCap {
        max_count: 5,
        max_bytes: 10_000,
        // These payloads were received at the epoch's first milliseconds: no age limit here.
        max_age: std::time::Duration::from_secs(100 * 365 * 86400),
    };
    // Ten bodies of 3,000 bytes: only the newest three fit in 10,000 bytes.
    for i in 0..10 {
        store.keep(&[payload(i, 3000)], cap).await.unwrap();
    }
    let kept = store.kept(100).await.unwrap();
    let order: Vec<u64> = kept.iter().map(|p| p.received_at_ms).collect();
    assert_eq!(order, [9, 8, 7], "the newest that fit in the byte cap, newest first");
    // Small bodies: the count cap holds.
    let small: Vec<KeptPayload> = (10..20).map(|i| payload(i, 10)).collect();
    store.keep(&small, cap).await.unwrap();
    let order: Vec<u64> = store.kept(100).await.unwrap().iter().map(|p| p.received_at_ms).collect();
    assert_eq!(order, [19, 18, 17, 16, 15]);
    // A body larger than the cap is cut (at a character boundary) and says so.
    store.keep(&[payload(99, 50_000)], cap).await.unwrap();
    let kept = store.kept(100).await.unwrap();
    assert_eq!(kept.len(), 1, "the cut body fills the cap alone");
    assert!(
        kept[0].body.len() <= 10_000 && kept[0].body.ends_with("[cut: 50000 bytes in all]"),
        "{}",
        kept[0].body.len()
    );
}

/// Claims a key, sees it still claimed shortly before the dedupe TTL runs out, and claims it again after.
async fn claims_expire_after_the_dedupe_ttl(store: Store) {
    let ingress = store.backend.ingress();
    let job = text_job("wamid.ttl");
    assert_eq!(ingress.enqueue_inbound(std::slice::from_ref(&job)).await.unwrap(), vec![Enqueued::New]);
    assert_eq!(ingress.enqueue_inbound(std::slice::from_ref(&job)).await.unwrap(), vec![Enqueued::Duplicate]);
    store.pass_most_of(SHORT_TTL).await;
    assert_eq!(ingress.enqueue_inbound(std::slice::from_ref(&job)).await.unwrap(), vec![Enqueued::Duplicate]);
    store.pass_the_rest_of(SHORT_TTL).await;
    assert_eq!(ingress.enqueue_inbound(&[job]).await.unwrap(), vec![Enqueued::New]);
    assert_eq!(ingress.pending_inbound(10).await.unwrap().len(), 2, "the job is queued again");
}

/// `pending_inbound` promises the oldest first.
async fn pending_inbound_is_oldest_first(store: Store) {
    let store = store.backend.ingress();
    let jobs: Vec<InboundJob> = (0..20).map(|i| text_job(&format!("wamid.order{i:02}"))).collect();
    store.enqueue_inbound(&jobs[..10]).await.unwrap();
    for job in &jobs[10..] {
        store.enqueue_inbound(std::slice::from_ref(job)).await.unwrap();
    }
    let keys = |jobs: &[InboundJob]| jobs.iter().map(|j| j.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&store.pending_inbound(100).await.unwrap()), keys(&jobs));
    assert_eq!(keys(&store.pending_inbound(5).await.unwrap()), keys(&jobs[..5]));
}

/// A kept payload may hold phone numbers and texts: it goes after `max_age`, and an erasure removes those that
/// mention the person.
async fn kept_payloads_go_after_their_age_and_with_an_erasure(store: Store) {
    let now_ms = store.now_secs() * 1000;
    let ingress = store.backend.ingress();
    let payload = |body: &str, received_at_ms: u64| KeptPayload {
        kind: KeptKind::InvalidEnvelope,
        reason: "unreadable".into(),
        body: body.into(),
        received_at_ms,
    };
    let cap = KeptCap { max_age: std::time::Duration::from_secs(7 * 86400), ..KeptCap::default() };
    let old = payload("{\"from\":\"5491100000001\"}", now_ms - 8 * 86_400_000);
    let anas = payload("{\"from\":\"5215512345678\"}", now_ms - 1000);
    let bobs = payload("{\"from\":\"5491100000002\"}", now_ms);
    ingress.keep(std::slice::from_ref(&old), cap).await.unwrap();
    ingress.keep(&[anas, bobs.clone()], cap).await.unwrap();
    assert_eq!(ingress.kept(10).await.unwrap().len(), 2, "the one older than 7 days went");
    assert_eq!(ingress.erase_kept(&["5215512345678".to_owned()]).await.unwrap(), 1);
    assert_eq!(ingress.kept(10).await.unwrap(), vec![bobs]);
    assert_eq!(ingress.erase_kept(&["5215512345678".to_owned()]).await.unwrap(), 0);
}
