//! `ConversationStore`: each user's document saved by compare-and-set together with its audit records, the
//! outbox cleared at an unchanged version, the audit log, the flow sources, the conversation index and the small
//! values taken once.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::Backend;
use crate::{SHORT_TTL, Store};
use wa_onboard::flow::event::{Effect, Reply};
use wa_onboard::flow::state::{ConversationState, MediaRef, Phase, UserKey};
use wa_onboard::store::conversation::{AuditRecord, OutboxEntry, Saved, Stored, Versioned};
use wa_onboard::store::retention::Lifetime;

conformance!(
    a_first_save_makes_version_one_and_each_save_the_next,
    a_stale_save_conflicts_and_writes_nothing,
    concurrent_saves_let_exactly_one_win,
    users_are_kept_apart,
    clear_outbox_drops_one_entry_at_an_unchanged_version,
    audit_reads_oldest_first_and_the_limit_takes_the_newest,
    flow_sources_are_kept_per_flow_and_version,
    #[redis ignore = "disagreement: Redis keys flow sources by `<flow>@<version>`, so ids containing `@` collide"]
    flow_ids_and_versions_never_mix,
    the_index_finds_the_user_of_a_conversation,
    a_value_is_taken_once,
    concurrent_takers_get_a_value_once,
    values_expire_after_their_ttl,
    the_audit_trail_is_a_hash_chain_that_verifies,
    messages_are_logged_for_a_user_with_a_conversation_only,
    an_erasure_removes_state_trail_and_messages_and_leaves_tombstones,
);

fn user(name: &str) -> UserKey {
    UserKey { phone_number_id: "106540352242922".into(), user: name.into() }
}

/// A document that uses every kind of field, so a backend that stores it as JSON must bring it all back.
fn stored(user: &UserKey, step: &str, outbox: &[&str]) -> Stored {
    let photo = MediaRef {
        media_id: "1234567890".into(),
        mime_type: "image/jpeg".into(),
        sha256: Some("ab".repeat(32)),
        message_id: "wamid.photo".into(),
        at: 1_795_000_100,
    };
    let state = ConversationState {
        conversation_id: format!("conv-{}", user.user),
        user: user.clone(),
        phone: Some("5215512345678".into()),
        flow_id: "kyc".into(),
        flow_version: "3".into(),
        step: step.into(),
        phase: Phase::Checking { submission: "s1".into(), since: 1_795_000_200 },
        language: Some("es".into()),
        vars: BTreeMap::from([("document".into(), "ine".into()), ("name".into(), "Ana Núñez".into())]),
        media: BTreeMap::from([("front".into(), photo.clone())]),
        photo_run: vec!["front".into()],
        extra_media: vec![photo],
        attempts: BTreeMap::from([("selfie".into(), 2)]),
        retake_return: Some("review".into()),
        last_message_at: 1_795_000_100,
        last_choice: Some(("document".into(), "ine".into())),
        visit: 7,
        submissions: 1,
        agent_notice_at: 0,
        photo_checks: Vec::new(),
        prompt_held: false,
        agent_review: false,
        journey: Default::default(),
        started_at: 1_795_000_000,
        updated_at: 1_795_000_200,
    };
    let entry = |key: &&str| OutboxEntry {
        event_key: (*key).to_owned(),
        effects: vec![
            Effect::Send { reply: Reply::Text { body: format!("¿Listo? ({key})") } },
            Effect::MarkRead { message_id: "wamid.in".into() },
            Effect::Note { text: format!("note of {key}") },
        ],
    };
    Stored {
        state,
        outbox: outbox.iter().map(entry).collect(),
        applied: outbox.iter().map(|k| (*k).to_owned()).collect(),
    }
}

const DAYS_30: Lifetime = Lifetime::For(Duration::from_secs(30 * 86400));

fn record(n: u64) -> AuditRecord {
    AuditRecord {
        at: 1_795_000_000 + n,
        conversation_id: "conv-ana".into(),
        actor: if n.is_multiple_of(2) { "bot".into() } else { "user".into() },
        event: format!("text (len {n})"),
        event_key: format!("msg:106540352242922:wamid.{n}"),
        step_before: format!("step{n}"),
        step_after: format!("step{}", n + 1),
        effects: vec![format!("send {n}")],
        ..Default::default()
    }
}

/// Records as they were given, without the position and link the store adds.
fn unchained(records: Vec<AuditRecord>) -> Vec<AuditRecord> {
    records.into_iter().map(|r| AuditRecord { seq: 0, prev: String::new(), ..r }).collect()
}

fn records(range: std::ops::RangeInclusive<u64>) -> Vec<AuditRecord> {
    range.map(record).collect()
}

async fn a_first_save_makes_version_one_and_each_save_the_next(store: Store) {
    let store = store.backend.conversations();
    let ana = user("ana");
    assert_eq!(store.load(&ana).await.unwrap(), None);

    let first = stored(&ana, "welcome", &["e1"]);
    assert_eq!(store.save(&ana, 0, &first, &[record(1)]).await.unwrap(), Saved::Ok(1));
    assert_eq!(store.load(&ana).await.unwrap(), Some(Versioned { version: 1, stored: first }));

    let second = stored(&ana, "document", &["e1", "e2"]);
    assert_eq!(store.save(&ana, 1, &second, &[]).await.unwrap(), Saved::Ok(2));
    let third = stored(&ana, "selfie", &[]);
    assert_eq!(store.save(&ana, 2, &third, &[record(2)]).await.unwrap(), Saved::Ok(3));
    assert_eq!(store.load(&ana).await.unwrap(), Some(Versioned { version: 3, stored: third }));
    assert_eq!(unchained(store.audit(&ana, 10).await.unwrap()), records(1..=2));
}

async fn a_stale_save_conflicts_and_writes_nothing(store: Store) {
    let store = store.backend.conversations();
    let ana = user("ana");
    // No document yet: only version 0 may be written.
    assert_eq!(store.save(&ana, 1, &stored(&ana, "nope", &[]), &[record(9)]).await.unwrap(), Saved::Conflict);
    assert_eq!(store.load(&ana).await.unwrap(), None);
    assert_eq!(unchained(store.audit(&ana, 10).await.unwrap()), vec![]);

    let current = stored(&ana, "welcome", &["e1"]);
    assert_eq!(store.save(&ana, 0, &current, &[record(1)]).await.unwrap(), Saved::Ok(1));
    // Someone still at version 0, and someone ahead of the store: both refused, neither document nor audit written.
    for stale in [0, 2, 7] {
        let other = stored(&ana, &format!("stale{stale}"), &["other"]);
        assert_eq!(store.save(&ana, stale, &other, &[record(50 + stale)]).await.unwrap(), Saved::Conflict);
    }
    assert_eq!(store.load(&ana).await.unwrap(), Some(Versioned { version: 1, stored: current }));
    assert_eq!(unchained(store.audit(&ana, 10).await.unwrap()), records(1..=1));
    // The writer that reloads goes on from the current version.
    assert_eq!(store.save(&ana, 1, &stored(&ana, "next", &[]), &[record(2)]).await.unwrap(), Saved::Ok(2));
}

async fn concurrent_saves_let_exactly_one_win(store: Store) {
    let store = store.backend.conversations();
    let ana = user("ana");
    store.save(&ana, 0, &stored(&ana, "welcome", &[]), &[record(0)]).await.unwrap();
    let tasks = (1..=20u64).map(|i| {
        let (store, ana) = (store.clone(), ana.clone());
        tokio::spawn(async move {
            let doc = stored(&ana, &format!("writer{i}"), &[]);
            (i, store.save(&ana, 1, &doc, &[record(i)]).await.unwrap())
        })
    });
    let results: Vec<(u64, Saved)> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<u64> = results.iter().filter(|(_, saved)| *saved == Saved::Ok(2)).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().all(|(_, saved)| matches!(saved, Saved::Ok(2) | Saved::Conflict)), "{results:?}");
    let winner = winners[0];
    let loaded = store.load(&ana).await.unwrap().unwrap();
    assert_eq!(loaded, Versioned { version: 2, stored: stored(&ana, &format!("writer{winner}"), &[]) });
    assert_eq!(
        unchained(store.audit(&ana, 100).await.unwrap()),
        vec![record(0), record(winner)],
        "only the winner's audit"
    );
}

async fn users_are_kept_apart(store: Store) {
    let store = store.backend.conversations();
    let ana = user("ana");
    let bob = user("bob");
    // The same user on another business number is another conversation.
    let ana_elsewhere = UserKey { phone_number_id: "999".into(), user: "ana".into() };
    assert_eq!(store.save(&ana, 0, &stored(&ana, "a1", &[]), &[record(1)]).await.unwrap(), Saved::Ok(1));
    assert_eq!(store.save(&ana, 1, &stored(&ana, "a2", &[]), &[record(2)]).await.unwrap(), Saved::Ok(2));
    assert_eq!(store.save(&bob, 0, &stored(&bob, "b1", &[]), &[record(3)]).await.unwrap(), Saved::Ok(1));
    assert_eq!(store.load(&ana_elsewhere).await.unwrap(), None);
    assert_eq!(store.save(&ana_elsewhere, 2, &stored(&ana, "x", &[]), &[]).await.unwrap(), Saved::Conflict);
    store.append_audit(&ana_elsewhere, &[record(4)]).await.unwrap();

    assert_eq!(store.load(&ana).await.unwrap().unwrap().stored, stored(&ana, "a2", &[]));
    assert_eq!(store.load(&bob).await.unwrap().unwrap(), Versioned { version: 1, stored: stored(&bob, "b1", &[]) });
    assert_eq!(unchained(store.audit(&ana, 10).await.unwrap()), records(1..=2));
    assert_eq!(unchained(store.audit(&bob, 10).await.unwrap()), records(3..=3));
    assert_eq!(store.audit(&ana_elsewhere, 10).await.unwrap(), vec![], "no conversation there: no trail kept");
}

async fn clear_outbox_drops_one_entry_at_an_unchanged_version(store: Store) {
    let store = store.backend.conversations();
    let ana = user("ana");
    let doc = stored(&ana, "welcome", &["e1", "e2", "e3"]);
    store.save(&ana, 0, &doc, &[]).await.unwrap();

    store.clear_outbox(&ana, 1, "e2").await.unwrap();
    let loaded = store.load(&ana).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1, "clearing the outbox is not a new version");
    let keys: Vec<&str> = loaded.stored.outbox.iter().map(|e| e.event_key.as_str()).collect();
    assert_eq!(keys, ["e1", "e3"]);
    // Everything else stays as saved.
    assert_eq!(Stored { outbox: doc.outbox.clone(), ..loaded.stored.clone() }, doc);

    // An unknown entry, or a version that is not the current one: nothing changes.
    store.clear_outbox(&ana, 1, "e9").await.unwrap();
    store.clear_outbox(&ana, 0, "e1").await.unwrap();
    store.clear_outbox(&ana, 2, "e1").await.unwrap();
    assert_eq!(store.load(&ana).await.unwrap().unwrap(), loaded);

    // After another save, the old version clears nothing from the new document.
    let next = stored(&ana, "document", &["e1", "e4"]);
    store.save(&ana, 1, &next, &[]).await.unwrap();
    store.clear_outbox(&ana, 1, "e1").await.unwrap();
    assert_eq!(store.load(&ana).await.unwrap().unwrap(), Versioned { version: 2, stored: next });

    // A user with no document: nothing is created.
    store.clear_outbox(&user("nobody"), 0, "e1").await.unwrap();
    store.clear_outbox(&user("nobody"), 1, "e1").await.unwrap();
    assert_eq!(store.load(&user("nobody")).await.unwrap(), None);
}

async fn audit_reads_oldest_first_and_the_limit_takes_the_newest(store: Store) {
    let store = store.backend.conversations();
    let ana = user("ana");
    assert_eq!(unchained(store.audit(&ana, 10).await.unwrap()), vec![]);
    store.save(&ana, 0, &stored(&ana, "welcome", &[]), &records(1..=2)).await.unwrap();
    store.append_audit(&ana, &records(3..=3)).await.unwrap();
    store.append_audit(&ana, &[]).await.unwrap();
    store.save(&ana, 1, &stored(&ana, "document", &[]), &[]).await.unwrap();
    store.save(&ana, 2, &stored(&ana, "selfie", &[]), &records(4..=5)).await.unwrap();
    store.append_audit(&ana, &records(6..=8)).await.unwrap();

    assert_eq!(unchained(store.audit(&ana, 100).await.unwrap()), records(1..=8));
    assert_eq!(unchained(store.audit(&ana, 8).await.unwrap()), records(1..=8));
    assert_eq!(unchained(store.audit(&ana, 3).await.unwrap()), records(6..=8), "the newest three, oldest first");
    assert_eq!(unchained(store.audit(&ana, 1).await.unwrap()), records(8..=8));
    assert_eq!(unchained(store.audit(&ana, 0).await.unwrap()), vec![]);
    // Appending to the audit log does not touch the state.
    let loaded = store.load(&ana).await.unwrap().unwrap();
    assert_eq!(loaded, Versioned { version: 3, stored: stored(&ana, "selfie", &[]) });
}

async fn flow_sources_are_kept_per_flow_and_version(store: Store) {
    let store = store.backend.conversations();
    assert_eq!(store.flow_source("kyc", "1").await.unwrap(), None);
    let source = |v: u32| format!("id: kyc\nversion: {v}\nsteps:\n  welcome:\n    text: \"¡Hola!\"\n");
    store.keep_flow_source("kyc", "1", &source(1)).await.unwrap();
    store.keep_flow_source("kyc", "2", &source(2)).await.unwrap();
    store.keep_flow_source("other", "1", "id: other").await.unwrap();
    assert_eq!(store.flow_source("kyc", "1").await.unwrap(), Some(source(1)));
    assert_eq!(store.flow_source("kyc", "2").await.unwrap(), Some(source(2)));
    assert_eq!(store.flow_source("other", "1").await.unwrap().as_deref(), Some("id: other"));
    assert_eq!(store.flow_source("kyc", "3").await.unwrap(), None);
    assert_eq!(store.flow_source("other", "2").await.unwrap(), None);
    // Keeping a version again replaces its source.
    store.keep_flow_source("kyc", "1", &source(11)).await.unwrap();
    assert_eq!(store.flow_source("kyc", "1").await.unwrap(), Some(source(11)));
}

/// A flow id or version is free text (from the flow file): no two pairs may share a source.
async fn flow_ids_and_versions_never_mix(store: Store) {
    let store = store.backend.conversations();
    store.keep_flow_source("kyc@mx", "1", "first").await.unwrap();
    store.keep_flow_source("kyc", "mx@1", "second").await.unwrap();
    assert_eq!(store.flow_source("kyc@mx", "1").await.unwrap().as_deref(), Some("first"));
    assert_eq!(store.flow_source("kyc", "mx@1").await.unwrap().as_deref(), Some("second"));
}

async fn the_index_finds_the_user_of_a_conversation(store: Store) {
    let store = store.backend.conversations();
    assert_eq!(store.user_of("conv-1").await.unwrap(), None);
    store.index_conversation("conv-1", &user("ana"), DAYS_30).await.unwrap();
    store.index_conversation("conv-2", &user("bob"), DAYS_30).await.unwrap();
    assert_eq!(store.user_of("conv-1").await.unwrap(), Some(user("ana")));
    assert_eq!(store.user_of("conv-2").await.unwrap(), Some(user("bob")));
    assert_eq!(store.user_of("conv-3").await.unwrap(), None);
    // Indexing again names the latest user.
    store.index_conversation("conv-1", &user("carla"), DAYS_30).await.unwrap();
    assert_eq!(store.user_of("conv-1").await.unwrap(), Some(user("carla")));
}

async fn a_value_is_taken_once(store: Store) {
    let store = store.backend.conversations();
    assert_eq!(store.take_value("pending:1").await.unwrap(), None);
    store.put_value("pending:1", "{\"submission\":\"s1\"}", 3600).await.unwrap();
    store.put_value("pending:2", "two", 3600).await.unwrap();
    assert_eq!(store.take_value("pending:1").await.unwrap().as_deref(), Some("{\"submission\":\"s1\"}"));
    assert_eq!(store.take_value("pending:1").await.unwrap(), None, "taken already");
    // A value put back (e.g. a callback that came too early) can be taken again; a put replaces.
    store.put_value("pending:1", "again", 3600).await.unwrap();
    store.put_value("pending:1", "again, newer", 3600).await.unwrap();
    assert_eq!(store.take_value("pending:1").await.unwrap().as_deref(), Some("again, newer"));
    assert_eq!(store.take_value("pending:2").await.unwrap().as_deref(), Some("two"));
}

async fn concurrent_takers_get_a_value_once(store: Store) {
    let store = store.backend.conversations();
    store.put_value("pending:race", "only once", 3600).await.unwrap();
    let tasks = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_value("pending:race").await.unwrap() })
    });
    let taken: Vec<Option<String>> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let got: Vec<&String> = taken.iter().flatten().collect();
    assert_eq!(got, ["only once"], "{taken:?}");
}

async fn values_expire_after_their_ttl(store: Store) {
    let conversations = store.backend.conversations();
    let ttl_secs = SHORT_TTL.as_secs();
    conversations.put_value("early", "1", ttl_secs).await.unwrap();
    conversations.put_value("late", "2", ttl_secs).await.unwrap();
    store.pass_most_of(SHORT_TTL).await;
    assert_eq!(conversations.take_value("early").await.unwrap().as_deref(), Some("1"));
    store.pass_the_rest_of(SHORT_TTL).await;
    assert_eq!(conversations.take_value("late").await.unwrap(), None);
}

/// Agents decide within days; the index is then forgotten. In memory the fixed clock shows it.
#[tokio::test]
async fn the_index_is_forgotten_after_its_ttl_in_memory() {
    let store = Store::open(Backend::Memory, "index-ttl", crate::common::DEDUPE_TTL).await;
    let conversations = store.backend.conversations();
    conversations.index_conversation("conv-1", &user("ana"), DAYS_30).await.unwrap();
    let ttl = Duration::from_secs(30 * 86400);
    store.pass_most_of(ttl).await;
    assert_eq!(conversations.user_of("conv-1").await.unwrap(), Some(user("ana")));
    store.pass_the_rest_of(ttl).await;
    assert_eq!(conversations.user_of("conv-1").await.unwrap(), None);
}

/// On Redis the same lifetime is the key's `EXPIRE` (nobody waits 30 days).
#[tokio::test]
async fn the_index_is_forgotten_after_its_ttl_on_redis() {
    let store = Store::open(Backend::Redis, "index-ttl", crate::common::DEDUPE_TTL).await;
    let conversations = store.backend.conversations();
    conversations.index_conversation("conv-1", &user("ana"), DAYS_30).await.unwrap();
    let mut conn = crate::common::redis_conn().await;
    let key = format!("{}:convidx:conv-1", store.prefix());
    let ttl: i64 = ::redis::cmd("TTL").arg(&key).query_async(&mut conn).await.unwrap();
    let full = 30 * 86400;
    assert!(ttl > full - 60 && ttl <= full, "{ttl}");
}

async fn the_audit_trail_is_a_hash_chain_that_verifies(store: Store) {
    let store = store.backend.conversations();
    let ana = user("ana");
    store.save(&ana, 0, &stored(&ana, "welcome", &[]), &records(1..=3)).await.unwrap();
    store.append_audit(&ana, &[record(4)]).await.unwrap();
    store.save(&ana, 1, &stored(&ana, "document", &[]), &[record(5)]).await.unwrap();
    let chain = store.audit_chain(&ana).await.unwrap();
    let check = wa_onboard::store::audit_chain::verify(&chain);
    assert!(check.breaks.is_empty(), "{check:?}");
    assert_eq!((check.records, check.head.map(|h| h.seq)), (5, Some(5)));
    let read = store.audit(&ana, 10).await.unwrap();
    assert_eq!(read.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5], "positioned in order");
    assert!(read[0].prev.is_empty() && read[1..].iter().all(|r| r.prev.len() == 64), "each names the hash before it");
    // A record for a user without a conversation is not kept (their data was erased, or never existed).
    store.append_audit(&user("nobody"), &[record(1)]).await.unwrap();
    assert!(store.audit_chain(&user("nobody")).await.unwrap().links.is_empty());
}

async fn messages_are_logged_for_a_user_with_a_conversation_only(store: Store) {
    use wa_onboard::store::conversation::LoggedMessage;
    let store = store.backend.conversations();
    let ana = user("ana");
    let message = |n: u64| LoggedMessage {
        at: 1_795_000_000 + n,
        conversation_id: "conv-ana".into(),
        message_id: format!("wamid.{n}"),
        kind: "text".into(),
        content: format!("Mi DNI es 3012345{n}"),
    };
    store.log_message(&ana, &message(1)).await.unwrap();
    assert!(store.messages(&ana).await.unwrap().is_empty(), "no conversation: nothing logged");
    store.save(&ana, 0, &stored(&ana, "welcome", &[]), &[]).await.unwrap();
    store.log_message(&ana, &message(2)).await.unwrap();
    store.log_message(&ana, &message(3)).await.unwrap();
    assert_eq!(store.messages(&ana).await.unwrap(), vec![message(2), message(3)]);
}

async fn an_erasure_removes_state_trail_and_messages_and_leaves_tombstones(store: Store) {
    use wa_onboard::store::conversation::{Erased, LoggedMessage, Tombstone};
    let store = store.backend.conversations();
    let ana = user("ana");
    store.save(&ana, 0, &stored(&ana, "welcome", &[]), &records(1..=2)).await.unwrap();
    let message = LoggedMessage {
        at: 1,
        conversation_id: "conv-ana".into(),
        message_id: "wamid.1".into(),
        kind: "text".into(),
        content: "hola".into(),
    };
    store.log_message(&ana, &message).await.unwrap();
    store.index_conversation("conv-ana", &ana, DAYS_30).await.unwrap();
    let head = store.audit_chain(&ana).await.unwrap().head;
    let tombstone = Tombstone {
        conversation_id: "conv-ana".into(),
        flow_id: "kyc".into(),
        flow_version: "3".into(),
        step: "welcome".into(),
        outcome_before: None,
        outcome: "erased".into(),
        started_at: 1,
        erased_at: 2,
        erased_by: "operator:dpo".into(),
        audit_head: head,
    };
    let erased = store.erase(&ana, std::slice::from_ref(&tombstone)).await.unwrap();
    assert_eq!(erased, Erased { states: 1, audit_records: 2, messages: 1 });
    assert_eq!(store.load(&ana).await.unwrap(), None);
    assert!(store.audit_chain(&ana).await.unwrap().links.is_empty());
    assert!(store.messages(&ana).await.unwrap().is_empty());
    assert_eq!(store.user_of("conv-ana").await.unwrap(), None);
    assert_eq!(store.tombstone("conv-ana").await.unwrap(), Some(tombstone));
    assert_eq!(store.erase(&ana, &[]).await.unwrap(), Erased::default(), "a second erasure removes nothing");
}
