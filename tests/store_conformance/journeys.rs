//! `JourneyStore`: the funnel's summary of each conversation, one per conversation (a new write replaces it),
//! read by the day it started, marked when the person is erased, and gone the funnel retention after its day.

use std::time::Duration;

use wa_onboard::funnel::JourneySummary;
use wa_onboard::store::journeys::{bucket_expires_at, day_of};
use wa_onboard::store::retention::Retention;

use crate::Store;

conformance!(
    a_new_summary_replaces_the_conversations_earlier_one,
    summaries_are_read_by_when_the_conversation_started,
    an_erasure_marks_the_summary_and_ends_an_open_conversation_as_erased,
    summaries_go_the_funnel_retention_after_their_day,
);

const DAY: u64 = 86_400;

fn summary(id: &str, started_at: u64, outcome: &str) -> JourneySummary {
    JourneySummary {
        conversation_id: id.into(),
        flow_id: "kyc_latam".into(),
        flow_version: "v1".into(),
        started_at,
        updated_at: started_at + 60,
        outcome: outcome.into(),
        ended_at: (!wa_onboard::funnel::summary::outcome::is_open(outcome)).then_some(started_at + 60),
        step: "front".into(),
        steps: vec!["language".into(), "consent".into(), "front".into()],
        document: Some("mx_ine".into()),
        retakes: Vec::new(),
        handoffs: Vec::new(),
        active_secs: 42,
        erased: false,
    }
}

async fn a_new_summary_replaces_the_conversations_earlier_one(store: Store) {
    let journeys = store.backend.journeys();
    let now = store.now_secs();
    journeys.record(&summary("c-1", now, "in_progress")).await.unwrap();
    journeys.record(&summary("c-1", now, "verified")).await.unwrap();
    journeys.record(&summary("c-2", now, "in_progress")).await.unwrap();
    let all = journeys.started_between(now - DAY, now + 1).await.unwrap();
    let outcomes: Vec<(&str, &str)> = all.iter().map(|s| (s.conversation_id.as_str(), s.outcome.as_str())).collect();
    assert_eq!(outcomes, [("c-1", "verified"), ("c-2", "in_progress")]);
    assert_eq!(all[0], summary("c-1", now, "verified"), "kept as written");
}

async fn summaries_are_read_by_when_the_conversation_started(store: Store) {
    let journeys = store.backend.journeys();
    let now = store.now_secs();
    for (id, started) in [("old", now - 10 * DAY), ("week", now - 3 * DAY), ("today", now - 60), ("edge", now)] {
        journeys.record(&summary(id, started, "expired")).await.unwrap();
    }
    let ids = |list: Vec<JourneySummary>| list.into_iter().map(|s| s.conversation_id).collect::<Vec<_>>();
    assert_eq!(ids(journeys.started_between(now - 7 * DAY, now + 1).await.unwrap()), ["week", "today", "edge"]);
    assert_eq!(
        ids(journeys.started_between(now - 7 * DAY, now).await.unwrap()),
        ["week", "today"],
        "until is excluded"
    );
    assert_eq!(
        ids(journeys.started_between(now - 3 * DAY, now - 3 * DAY + 1).await.unwrap()),
        ["week"],
        "since is included"
    );
    assert!(journeys.started_between(now + 1, now + DAY).await.unwrap().is_empty());
}

async fn an_erasure_marks_the_summary_and_ends_an_open_conversation_as_erased(store: Store) {
    let journeys = store.backend.journeys();
    let now = store.now_secs();
    journeys.record(&summary("open", now - 100, "in_progress")).await.unwrap();
    journeys.record(&summary("stopped", now - 100, "stopped")).await.unwrap();
    let before = journeys.mark_erased("open", now - 100, now).await.unwrap();
    assert_eq!(before.map(|s| s.outcome), Some("in_progress".to_owned()), "answers the summary as it was");
    assert!(journeys.mark_erased("stopped", now - 100, now).await.unwrap().is_some());
    assert_eq!(journeys.mark_erased("unknown", now - 100, now).await.unwrap(), None);
    let all = journeys.started_between(now - DAY, now + 1).await.unwrap();
    let marked: Vec<(&str, &str, bool, Option<u64>)> =
        all.iter().map(|s| (s.conversation_id.as_str(), s.outcome.as_str(), s.erased, s.ended_at)).collect();
    assert_eq!(marked, [("open", "erased", true, Some(now)), ("stopped", "stopped", true, Some(now - 40))]);
}

async fn summaries_go_the_funnel_retention_after_their_day(store: Store) {
    let retention = Retention::default().funnel;
    let journeys = store.backend.journeys();
    let now = store.now_secs();
    journeys.record(&summary("c-1", now, "verified")).await.unwrap();
    let expires_at = bucket_expires_at(day_of(now), retention);
    assert!(expires_at >= now + retention.as_secs() && expires_at <= now + retention.as_secs() + DAY);
    if store.is_redis() {
        // Redis keeps the bucket with that expiry (EXPIRETIME, Redis 7).
        let mut conn = crate::common::redis_conn().await;
        let key = format!("{}:journeys:{}", store.prefix(), day_of(now));
        let at: i64 = ::redis::cmd("EXPIRETIME").arg(&key).query_async(&mut conn).await.unwrap();
        assert_eq!(at, expires_at as i64);
    } else {
        store.pass(Duration::from_secs(expires_at - now - 1)).await;
        assert_eq!(journeys.started_between(now - DAY, now + 1).await.unwrap().len(), 1, "kept until then");
        store.pass(Duration::from_secs(2)).await;
        assert!(journeys.started_between(now - DAY, now + 1).await.unwrap().is_empty(), "gone after");
    }
}
