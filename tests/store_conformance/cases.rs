//! `CaseStore`: one open case per conversation, claimed by one agent at a time, closed once.

use std::collections::BTreeMap;

use wa_onboard::flow::state::UserKey;
use wa_onboard::store::case::{CaseChangeError, CaseEntry, CaseError, CaseInfo, CaseStatus, Opened, TIMELINE_MAX};

use crate::Store;

conformance!(
    a_handoff_opens_one_waiting_case_per_conversation,
    two_agents_claiming_at_once_get_one_winner_and_a_clear_answer,
    closed_cases_leave_the_queue_and_cannot_change,
    the_queue_is_oldest_first_and_counted_per_state,
    a_timeline_keeps_each_entry_once_in_order_and_bounded,
);

fn info(n: u32, opened_at: u64) -> CaseInfo {
    CaseInfo {
        id: format!("case-{n}"),
        conversation_id: format!("c-{n}"),
        user: UserKey { phone_number_id: "1065".into(), user: format!("52155{n:08}") },
        masked_phone: Some(format!("*******{n:04}")),
        profile_name: Some("Ana <b>".into()),
        language: Some("es".into()),
        document: Some("mx_ine".into()),
        step: "front".into(),
        reason: "blurry".into(),
        attempts: 3,
        opened_at,
    }
}

async fn a_handoff_opens_one_waiting_case_per_conversation(store: Store) {
    let cases = store.backend.cases();
    let Opened::New(case) = cases.open(info(1, 100)).await.unwrap() else { panic!("a first handoff opens a case") };
    assert_eq!(case.status, CaseStatus::Waiting);
    // The same conversation handed over again (another reason, another id): the open case is the one.
    let again = CaseInfo { id: "case-1b".into(), reason: "user_asked".into(), ..info(1, 200) };
    let Opened::Existing(existing) = cases.open(again).await.unwrap() else { panic!("one open case per conversation") };
    assert_eq!(existing.info.id, "case-1");
    let stored = cases.get("case-1").await.unwrap().unwrap();
    assert_eq!(stored, case, "read back as written");
    assert_eq!(cases.open_case_of("c-1").await.unwrap().map(|c| c.info.id), Some("case-1".into()));
    assert_eq!(cases.open_case_of("c-2").await.unwrap(), None);
    assert_eq!(cases.get("nope").await.unwrap(), None);
}

async fn two_agents_claiming_at_once_get_one_winner_and_a_clear_answer(store: Store) {
    let cases = store.backend.cases();
    cases.open(info(1, 100)).await.unwrap();
    let claims = (0..8).map(|n| {
        let cases = cases.clone();
        async move { cases.claim("case-1", &format!("agent{n}@acme.mx"), 150).await }
    });
    let results = futures::future::join_all(claims).await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let winner = winners[0].assigned_to.clone().unwrap();
    for loser in results.iter().filter_map(|r| r.as_ref().err()) {
        match loser {
            CaseError::Change(CaseChangeError::TakenBy(by)) => assert_eq!(by, &winner),
            other => panic!("a lost claim says who holds the case, not {other:?}"),
        }
    }
    let case = cases.get("case-1").await.unwrap().unwrap();
    assert_eq!(
        (case.status, case.assigned_to.as_deref(), case.assigned_at),
        (CaseStatus::Assigned, Some(&*winner), Some(150))
    );
    // A supervisor reassigns it.
    let moved = cases.reassign("case-1", "lead@acme.mx", 160).await.unwrap();
    assert_eq!(moved.assigned_to.as_deref(), Some("lead@acme.mx"));
    assert!(matches!(cases.claim("missing", "a", 1).await, Err(CaseError::Change(CaseChangeError::NotFound(_)))));
}

async fn closed_cases_leave_the_queue_and_cannot_change(store: Store) {
    let cases = store.backend.cases();
    cases.open(info(1, 100)).await.unwrap();
    cases.claim("case-1", "ana@acme.mx", 110).await.unwrap();
    let closed = cases.close("case-1", CaseStatus::Resolved, "approved", 120).await.unwrap();
    assert_eq!(
        (closed.status, closed.outcome.as_deref(), closed.closed_at),
        (CaseStatus::Resolved, Some("approved"), Some(120))
    );
    assert_eq!(cases.open_case_of("c-1").await.unwrap(), None, "the conversation has no open case any more");
    for change in [
        cases.claim("case-1", "b", 130).await,
        cases.reassign("case-1", "b", 130).await,
        cases.close("case-1", CaseStatus::Withdrawn, "stopped", 130).await,
    ] {
        assert!(matches!(change, Err(CaseError::Change(CaseChangeError::Closed(CaseStatus::Resolved)))), "{change:?}");
    }
    assert_eq!(cases.get("case-1").await.unwrap().unwrap(), closed, "a refused change leaves the case as it was");
    // A later handoff of the same conversation opens a new case; a waiting case can be withdrawn.
    let Opened::New(_) = cases.open(CaseInfo { id: "case-1b".into(), ..info(1, 300) }).await.unwrap() else {
        panic!("a new case after the first was closed")
    };
    let withdrawn = cases.close("case-1b", CaseStatus::Withdrawn, "stopped", 310).await.unwrap();
    assert_eq!(withdrawn.assigned_to, None);
}

async fn the_queue_is_oldest_first_and_counted_per_state(store: Store) {
    let cases = store.backend.cases();
    assert_eq!(cases.list(CaseStatus::Waiting, 10).await.unwrap(), [], "an empty queue is an empty list");
    for (n, at) in [(1, 300), (2, 100), (3, 200), (4, 400)] {
        cases.open(info(n, at)).await.unwrap();
    }
    cases.claim("case-4", "ana@acme.mx", 500).await.unwrap();
    let waiting: Vec<String> =
        cases.list(CaseStatus::Waiting, 10).await.unwrap().into_iter().map(|c| c.info.id).collect();
    assert_eq!(waiting, ["case-2", "case-3", "case-1"], "oldest first");
    assert_eq!(cases.list(CaseStatus::Waiting, 1).await.unwrap()[0].info.id, "case-2", "take next is the oldest");
    assert_eq!(cases.list(CaseStatus::Waiting, 0).await.unwrap(), []);
    let counts = cases.counts().await.unwrap();
    let expected: BTreeMap<CaseStatus, usize> = [
        (CaseStatus::Waiting, 3),
        (CaseStatus::Assigned, 1),
        (CaseStatus::Resolved, 0),
        (CaseStatus::Returned, 0),
        (CaseStatus::Withdrawn, 0),
    ]
    .into();
    assert_eq!(counts, expected);
}

fn entry(key: &str, at: u64, text: &str) -> CaseEntry {
    CaseEntry {
        key: key.into(),
        at,
        actor: "user".into(),
        agent: None,
        kind: "message".into(),
        text: text.into(),
        media: None,
        send_key: None,
    }
}

async fn a_timeline_keeps_each_entry_once_in_order_and_bounded(store: Store) {
    let cases = store.backend.cases();
    cases.open(info(1, 100)).await.unwrap();
    assert_eq!(cases.timeline("case-1").await.unwrap(), [], "a new case has an empty timeline");
    assert!(cases.record("case-1", &entry("e1", 101, "<script>alert(1)</script>")).await.unwrap());
    assert!(cases.record("case-1", &entry("e2", 101, "¿me ayudas?")).await.unwrap());
    // Handing out the same effect again (a retried job) records nothing new.
    assert!(!cases.record("case-1", &entry("e1", 101, "<script>alert(1)</script>")).await.unwrap());
    let texts: Vec<String> = cases.timeline("case-1").await.unwrap().into_iter().map(|e| e.text).collect();
    assert_eq!(texts, ["<script>alert(1)</script>", "¿me ayudas?"], "in order, once each, kept as written");
    assert_eq!(cases.timeline("case-2").await.unwrap(), [], "another case's timeline is its own");

    for n in 0..TIMELINE_MAX + 5 {
        cases.record("case-1", &entry(&format!("bulk-{n}"), 200, "x")).await.unwrap();
    }
    let timeline = cases.timeline("case-1").await.unwrap();
    assert_eq!(timeline.len(), TIMELINE_MAX, "bounded");
    assert_eq!(timeline.last().unwrap().key, format!("bulk-{}", TIMELINE_MAX + 4), "the newest kept");
}
