//! `ValueStore`: small values in a namespace, written once (the first writer wins) and kept for their TTL.

use std::time::Duration;

use crate::{SHORT_TTL, Store};

conformance!(
    the_first_writer_wins,
    concurrent_writers_let_exactly_one_win,
    a_removed_value_can_be_written_again,
    namespaces_are_kept_apart,
    values_expire_after_their_ttl,
    #[redis ignore = "disagreement: Redis keeps values for whole seconds (`EX`, at least 1 s): 1.5 s becomes 1 s"]
    a_ttl_is_kept_to_the_millisecond,
);

const HOUR: Duration = Duration::from_secs(3600);

async fn the_first_writer_wins(store: Store) {
    let values = store.backend.values("sent");
    assert_eq!(values.get("k").await.unwrap(), None);
    assert!(values.put_if_absent("k", "{\"wamid\":\"wamid.1\"} ñ", HOUR).await.unwrap());
    assert_eq!(values.get("k").await.unwrap().as_deref(), Some("{\"wamid\":\"wamid.1\"} ñ"));
    assert!(!values.put_if_absent("k", "second", HOUR).await.unwrap(), "a second write is refused");
    assert!(!values.put_if_absent("k", "third", HOUR * 48).await.unwrap());
    assert_eq!(values.get("k").await.unwrap().as_deref(), Some("{\"wamid\":\"wamid.1\"} ñ"), "the first is kept");
    assert!(values.put_if_absent("other", "", HOUR).await.unwrap());
    assert_eq!(values.get("other").await.unwrap().as_deref(), Some(""), "an empty value is a value");
    assert_eq!(values.get("missing").await.unwrap(), None);
}

async fn a_removed_value_can_be_written_again(store: Store) {
    let values = store.backend.values("sent");
    assert!(values.put_if_absent("k", "first", HOUR).await.unwrap());
    values.remove("k").await.unwrap();
    assert_eq!(values.get("k").await.unwrap(), None);
    values.remove("k").await.unwrap();
    assert!(values.put_if_absent("k", "second", HOUR).await.unwrap(), "the key is free again");
    assert_eq!(values.get("k").await.unwrap().as_deref(), Some("second"));
}

async fn concurrent_writers_let_exactly_one_win(store: Store) {
    let values = store.backend.values("sent");
    let tasks = (0..20).map(|i| {
        let values = values.clone();
        tokio::spawn(async move { (i, values.put_if_absent("race", &format!("writer {i}"), HOUR).await.unwrap()) })
    });
    let results: Vec<(u32, bool)> = futures::future::join_all(tasks).await.into_iter().map(Result::unwrap).collect();
    let winners: Vec<u32> = results.iter().filter(|(_, won)| *won).map(|(i, _)| *i).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(values.get("race").await.unwrap(), Some(format!("writer {}", winners[0])));
}

async fn namespaces_are_kept_apart(store: Store) {
    let sent = store.backend.values("sent");
    let other = store.backend.values("other");
    assert!(sent.put_if_absent("k", "in sent", HOUR).await.unwrap());
    assert!(other.put_if_absent("k", "in other", HOUR).await.unwrap(), "the same key in another namespace is new");
    assert_eq!(sent.get("k").await.unwrap().as_deref(), Some("in sent"));
    assert_eq!(other.get("k").await.unwrap().as_deref(), Some("in other"));
    // Every handle of a namespace sees the same values.
    let sent_again = store.backend.values("sent");
    assert_eq!(sent_again.get("k").await.unwrap().as_deref(), Some("in sent"));
    assert!(!sent_again.put_if_absent("k", "again", HOUR).await.unwrap());
}

async fn values_expire_after_their_ttl(store: Store) {
    let values = store.backend.values("sent");
    assert!(values.put_if_absent("k", "first", SHORT_TTL).await.unwrap());
    assert!(values.put_if_absent("long", "kept", HOUR).await.unwrap());
    store.pass_most_of(SHORT_TTL).await;
    assert_eq!(values.get("k").await.unwrap().as_deref(), Some("first"));
    assert!(!values.put_if_absent("k", "too early", SHORT_TTL).await.unwrap());
    store.pass_the_rest_of(SHORT_TTL).await;
    assert_eq!(values.get("k").await.unwrap(), None, "expired");
    // Once expired, the key is free again.
    assert!(values.put_if_absent("k", "second", HOUR).await.unwrap());
    assert_eq!(values.get("k").await.unwrap().as_deref(), Some("second"));
    assert_eq!(values.get("long").await.unwrap().as_deref(), Some("kept"), "other values keep their own TTL");
}

/// The TTL is a `Duration`: a value put for 1.5 s is still there after 1.2 s.
async fn a_ttl_is_kept_to_the_millisecond(store: Store) {
    let values = store.backend.values("sent");
    assert!(values.put_if_absent("k", "v", Duration::from_millis(1500)).await.unwrap());
    store.pass(Duration::from_millis(1200)).await;
    assert_eq!(values.get("k").await.unwrap().as_deref(), Some("v"));
    store.pass(Duration::from_millis(450)).await;
    assert_eq!(values.get("k").await.unwrap(), None);
}
