//! `JobQueue`: jobs pushed with an idempotency key (a key seen before queues nothing), due now or at `run_at`.

use serde::{Deserialize, Serialize};

use crate::{SHORT_TTL, Store};
use wa_onboard::jobs::key::JobKey;
use wa_onboard::store::{Enqueued, Queued};

conformance!(
    a_key_queues_its_job_once,
    pending_jobs_come_back_unchanged,
    concurrent_pushes_of_one_key_queue_one_job,
    queues_are_kept_apart_by_name,
    a_delayed_job_waits_for_its_time,
    keys_expire_after_the_key_ttl key_ttl = SHORT_TTL,
    jobs_that_mention_a_person_are_counted_and_erased,
    the_depth_counts_due_and_scheduled_jobs,
    a_queue_in_partitions_answers_as_one_queue,
);

const QUEUE: &str = "conformance";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct TestJob {
    n: u32,
    note: String,
}

fn job(n: u32) -> TestJob {
    TestJob { n, note: format!("job {n}: ñ \"quoted\"") }
}

fn key(name: &str) -> JobKey {
    JobKey::from_stored(name)
}

/// `pending` as a sorted list: the trait promises no order (see `ingress::pending_inbound_is_oldest_first`).
async fn pending(store: &Store, name: &'static str) -> Vec<TestJob> {
    let mut jobs = store.backend.queue::<TestJob>(name).pending(1000).await.unwrap();
    jobs.sort();
    jobs
}

/// What a worker takes at `at` (Unix seconds): every job due by then, taken out of the queue. In memory, the
/// memory queue's own `take` with the fixed clock set to `at`; on Redis, what apalis's fetch promotes (the
/// scheduled set up to score `at`), removed as a fetch would.
async fn taken_at(store: &Store, name: &'static str, at: u64) -> Vec<TestJob> {
    let mut taken = Vec::new();
    if let Some(clock) = &store.clock {
        clock.set_secs(at);
        let queue = store.backend.memory_queue::<TestJob>(name).expect("a memory queue");
        while let Some(t) = queue.take() {
            taken.push(t.job);
        }
    } else {
        let config = wa_onboard::store::redis::queue::queue_config(store.prefix(), name, crate::common::DEDUPE_TTL);
        let mut conn = crate::common::redis_conn().await;
        // Due now: the active list (jobs due when pushed go straight there), then what the scheduled set has due.
        let mut ids: Vec<String> =
            ::redis::cmd("LRANGE").arg(config.active_jobs_list()).arg(0).arg(-1).query_async(&mut conn).await.unwrap();
        let _: () = ::redis::cmd("DEL").arg(config.active_jobs_list()).query_async(&mut conn).await.unwrap();
        let scheduled: Vec<String> = ::redis::cmd("ZRANGEBYSCORE")
            .arg(config.scheduled_jobs_set())
            .arg(0)
            .arg(at)
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.extend(scheduled);
        if !ids.is_empty() {
            let data: Vec<Vec<u8>> =
                ::redis::cmd("HMGET").arg(config.job_data_hash()).arg(&ids).query_async(&mut conn).await.unwrap();
            let _: () =
                ::redis::cmd("ZREM").arg(config.scheduled_jobs_set()).arg(&ids).query_async(&mut conn).await.unwrap();
            taken.extend(data.iter().map(|bytes| serde_json::from_slice::<TestJob>(bytes).unwrap()));
        }
    }
    taken.sort();
    taken
}

async fn a_key_queues_its_job_once(store: Store) {
    let queue = store.backend.queue::<TestJob>(QUEUE);
    let pushed = queue.push(&[Queued::now(key("k1"), job(1)), Queued::now(key("k2"), job(2))]).await.unwrap();
    assert_eq!(pushed, [Enqueued::New, Enqueued::New]);
    assert_eq!(queue.push(&[Queued::now(key("k1"), job(1))]).await.unwrap(), [Enqueued::Duplicate]);
    // A known key with another job, or due later, is still a duplicate: nothing of it is queued.
    let mixed = [Queued::now(key("k1"), job(10)), Queued::now(key("k3"), job(3)), Queued::at(key("k2"), job(20), 1)];
    assert_eq!(queue.push(&mixed).await.unwrap(), [Enqueued::Duplicate, Enqueued::New, Enqueued::Duplicate]);
    // Within one batch, the first job of a key wins.
    let batch = [Queued::now(key("k4"), job(4)), Queued::now(key("k4"), job(40)), Queued::now(key("k5"), job(5))];
    assert_eq!(queue.push(&batch).await.unwrap(), [Enqueued::New, Enqueued::Duplicate, Enqueued::New]);
    assert_eq!(queue.push(&[]).await.unwrap(), []);
    assert_eq!(pending(&store, QUEUE).await, [job(1), job(2), job(3), job(4), job(5)]);
}

async fn pending_jobs_come_back_unchanged(store: Store) {
    let queue = store.backend.queue::<TestJob>(QUEUE);
    let later = store.now_secs() + 3600;
    let jobs: Vec<Queued<TestJob>> = (1..=6)
        .map(|n| {
            if n % 2 == 0 {
                Queued::at(key(&format!("k{n}")), job(n), later)
            } else {
                Queued::now(key(&format!("k{n}")), job(n))
            }
        })
        .collect();
    queue.push(&jobs).await.unwrap();
    assert_eq!(pending(&store, QUEUE).await, (1..=6).map(job).collect::<Vec<_>>(), "due and delayed jobs");
    let some = queue.pending(4).await.unwrap();
    assert_eq!(some.len(), 4, "limit is honoured");
    assert!(some.iter().all(|j| (1..=6).contains(&j.n)), "{some:?}");
    assert_eq!(queue.pending(0).await.unwrap(), []);
}

async fn concurrent_pushes_of_one_key_queue_one_job(store: Store) {
    let queue = store.backend.queue::<TestJob>(QUEUE);
    let tasks = (0..20).map(|n| {
        let queue = queue.clone();
        tokio::spawn(async move { (n, queue.push(&[Queued::now(key("race"), job(n))]).await.unwrap()[0]) })
    });
    let results: Vec<(u32, Enqueued)> =
        futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<u32> = results.iter().filter(|(_, r)| *r == Enqueued::New).map(|(n, _)| *n).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(pending(&store, QUEUE).await, [job(winners[0])]);
}

async fn queues_are_kept_apart_by_name(store: Store) {
    let one = store.backend.queue::<TestJob>("one");
    let two = store.backend.queue::<TestJob>("two");
    // Each queue has its own keys: the same key is new in both.
    assert_eq!(one.push(&[Queued::now(key("k"), job(1))]).await.unwrap(), [Enqueued::New]);
    assert_eq!(two.push(&[Queued::now(key("k"), job(2))]).await.unwrap(), [Enqueued::New]);
    // Every handle of a queue is the same queue.
    let one_again = store.backend.queue::<TestJob>("one");
    assert_eq!(one_again.push(&[Queued::now(key("k"), job(3))]).await.unwrap(), [Enqueued::Duplicate]);
    assert_eq!(pending(&store, "one").await, [job(1)]);
    assert_eq!(pending(&store, "two").await, [job(2)]);
}

async fn a_delayed_job_waits_for_its_time(store: Store) {
    let queue = store.backend.queue::<TestJob>(QUEUE);
    let t = store.now_secs();
    let jobs = [
        Queued::now(key("now"), job(1)),
        Queued::at(key("later"), job(2), t + 60),
        // A time in the past runs at once.
        Queued::at(key("past"), job(3), t - 3600),
    ];
    assert_eq!(queue.push(&jobs).await.unwrap(), [Enqueued::New; 3]);
    // All three wait (on Redis the due ones in the active list, listed before the scheduled one).
    let mut waiting = pending(&store, QUEUE).await;
    waiting.sort_by_key(|j| j.n);
    assert_eq!(waiting, [job(1), job(2), job(3)]);
    assert_eq!(taken_at(&store, QUEUE, t + 2).await, [job(1), job(3)]);
    assert_eq!(taken_at(&store, QUEUE, t + 59).await, [], "not due before its time");
    assert_eq!(pending(&store, QUEUE).await, [job(2)], "it waits in the queue");
    assert_eq!(taken_at(&store, QUEUE, t + 60).await, [job(2)]);
    assert_eq!(pending(&store, QUEUE).await, []);
}

/// A key is remembered for the key TTL; after that, the same key queues its job again.
async fn keys_expire_after_the_key_ttl(store: Store) {
    let queue = store.backend.queue::<TestJob>(QUEUE);
    assert_eq!(queue.push(&[Queued::now(key("k"), job(1))]).await.unwrap(), [Enqueued::New]);
    store.pass_most_of(SHORT_TTL).await;
    assert_eq!(queue.push(&[Queued::now(key("k"), job(2))]).await.unwrap(), [Enqueued::Duplicate]);
    store.pass_the_rest_of(SHORT_TTL).await;
    assert_eq!(queue.push(&[Queued::now(key("k"), job(3))]).await.unwrap(), [Enqueued::New]);
    assert_eq!(pending(&store, QUEUE).await, [job(1), job(3)]);
}

/// An erasure finds a person's jobs by what their payload holds (waiting or scheduled), and leaves the others.
async fn jobs_that_mention_a_person_are_counted_and_erased(store: Store) {
    let queue = store.backend.queue::<TestJob>(QUEUE);
    let about = |n: u32, who: &str| TestJob { n, note: format!("reply to {who}") };
    let now = store.now_secs();
    let jobs = vec![
        Queued::now(key("a"), about(1, "5215512345678")),
        Queued::at(key("b"), about(2, "5215512345678"), now + 3600),
        Queued::now(key("c"), about(3, "5491100000000")),
    ];
    queue.push(&jobs).await.unwrap();
    let needles = vec!["5215512345678".to_owned()];
    assert_eq!(queue.count_matching(&needles).await.unwrap(), 2);
    assert_eq!(queue.count_matching(&[]).await.unwrap(), 0, "no needle matches nothing");
    assert_eq!(queue.erase_matching(&needles).await.unwrap(), 2);
    assert_eq!(queue.count_matching(&needles).await.unwrap(), 0);
    assert_eq!(queue.erase_matching(&needles).await.unwrap(), 0, "erasing again removes nothing");
    assert_eq!(pending(&store, QUEUE).await, vec![about(3, "5491100000000")]);
}

async fn the_depth_counts_due_and_scheduled_jobs(store: Store) {
    let queue = store.backend.queue::<TestJob>(QUEUE);
    assert_eq!(queue.depth().await.unwrap(), Default::default(), "an empty queue");
    let later = store.now_secs() + 3600;
    let jobs = [
        Queued::now(key("a"), job(1)),
        Queued::now(key("b"), job(2)),
        Queued::now(key("b"), job(2)),
        Queued::at(key("c"), job(3), later),
    ];
    queue.push(&jobs).await.unwrap();
    let depth = queue.depth().await.unwrap();
    assert_eq!((depth.due, depth.scheduled, depth.dead), (2, 1, 0), "a duplicate key is not counted: {depth:?}");
    let other = store.backend.queue::<TestJob>("other").depth().await.unwrap();
    assert_eq!(other, Default::default(), "another queue's jobs are not counted");
    taken_at(&store, QUEUE, store.now_secs()).await;
    let depth = queue.depth().await.unwrap();
    assert_eq!((depth.due, depth.scheduled), (0, 1), "taken jobs no longer wait: {depth:?}");
}

/// `QUEUE_PARTITIONS=3`: the queue is three apalis queues on Redis (each its own hash tag), and still answers as
/// one: each push in order, a key once, pending, depth, counts and erasure over every partition. One user's jobs
/// share a partition. (Memory has no partitions: the same answers.)
async fn a_queue_in_partitions_answers_as_one_queue(store: Store) {
    let Store { backend, clock, keys } = store;
    let store = Store { backend: backend.with_queue_partitions(3), clock, keys };
    let queue = store.backend.queue::<TestJob>(QUEUE);
    let about = |n: u32, who: &str| TestJob { n, note: format!("reply to {who}") };
    let owner = |n: u32| if n.is_multiple_of(4) { "ana".to_owned() } else { format!("user-{n}") };
    let jobs: Vec<_> =
        (0..40).map(|n| Queued::now(key(&format!("k{n}")), about(n, &owner(n))).owned_by(&owner(n))).collect();
    let mut batch = jobs[..20].to_vec();
    batch.push(jobs[3].clone());
    let answers = queue.push(&batch).await.unwrap();
    assert!(answers[..20].iter().all(|a| *a == Enqueued::New), "{answers:?}");
    assert_eq!(answers[20], Enqueued::Duplicate, "a key twice in one batch queues once");
    let answers = queue.push(&jobs[10..]).await.unwrap();
    assert_eq!(answers.iter().filter(|a| **a == Enqueued::Duplicate).count(), 10, "{answers:?}");
    assert_eq!(answers[10..].iter().filter(|a| **a == Enqueued::New).count(), 20, "answers keep the jobs' order");

    let mut all: Vec<TestJob> = jobs.iter().map(|q| q.job.clone()).collect();
    all.sort();
    assert_eq!(pending(&store, QUEUE).await, all);
    assert_eq!(queue.depth().await.unwrap().due, 40);

    if store.is_redis() {
        // Each partition holds some of the jobs, and every job of "ana" is in one of them.
        let mut conn = crate::common::redis_conn().await;
        let mut holding = 0;
        let ana = (wa_onboard::store::queue::route_of("ana") % 3) as usize;
        for index in 0..3 {
            let name = wa_onboard::store::redis::queue::partition_name(QUEUE, index);
            let config =
                wa_onboard::store::redis::queue::queue_config(store.prefix(), &name, crate::common::DEDUPE_TTL);
            let held: Vec<Vec<u8>> =
                ::redis::cmd("HVALS").arg(config.job_data_hash()).query_async(&mut conn).await.unwrap();
            let held: Vec<TestJob> = held.iter().map(|bytes| serde_json::from_slice(bytes).unwrap()).collect();
            holding += usize::from(!held.is_empty());
            let anas = held.iter().filter(|job| job.note.ends_with("ana")).count();
            assert_eq!(anas, if index == ana { 10 } else { 0 }, "partition {name}: {held:?}");
        }
        assert_eq!(holding, 3, "the jobs are spread over the three partitions");

        // A process run with one partition (a command started without QUEUE_PARTITIONS) still erases a person's
        // job held in another partition.
        let elsewhere = (0..40)
            .map(owner)
            .find(|o| o != "ana" && !wa_onboard::store::queue::route_of(o).is_multiple_of(3))
            .expect("a user outside partition 0");
        let one = wa_onboard::store::Backend::redis(
            &crate::common::redis_url(),
            store.prefix(),
            std::time::Duration::from_secs(2),
            crate::common::DEDUPE_TTL,
            store.backend.clock(),
        )
        .await
        .unwrap();
        let needle = vec![format!("reply to {elsewhere}\"")];
        assert_eq!(one.queue::<TestJob>(QUEUE).erase_matching(&needle).await.unwrap(), 1, "{elsewhere}");
        assert_eq!(queue.count_matching(&needle).await.unwrap(), 0);
    }
    let left = if store.is_redis() { 39 } else { 40 };
    assert_eq!(queue.depth().await.unwrap().due, left);

    let needles = vec!["ana".to_owned()];
    assert_eq!(queue.count_matching(&needles).await.unwrap(), 10);
    assert_eq!(queue.erase_matching(&needles).await.unwrap(), 10);
    assert_eq!(queue.count_matching(&needles).await.unwrap(), 0);
    assert_eq!(queue.depth().await.unwrap().due, left - 10);
}
