//! `DeliveryLog`: the delivery state of each message we sent, from statuses in any order, kept for a while.

use std::time::Duration;

use crate::common::{Backend, redis_conn};
use crate::{SHORT_TTL, Store};
use wa_onboard::store::delivery::{Progress, StatusUpdate};
use wa_onboard::webhook::envelope::{ApiError, Status, StatusKind};

conformance!(
    delivery_state_tolerates_any_order,
    a_failed_message_keeps_its_error_code,
    states_expire_after_their_last_status,
);

const HOUR: Duration = Duration::from_secs(3600);

fn status(wamid: &str, kind: StatusKind, timestamp: u64) -> StatusUpdate {
    meta_status(wamid, kind, timestamp).delivery_update()
}

fn meta_status(wamid: &str, kind: StatusKind, timestamp: u64) -> Status {
    Status {
        id: wamid.into(),
        status: kind,
        timestamp,
        recipient_id: Some("5215512345678".into()),
        recipient_user_id: None,
        conversation: None,
        pricing: None,
        errors: vec![],
        biz_opaque_callback_data: None,
    }
}

async fn delivery_state_tolerates_any_order(store: Store) {
    let log = store.backend.delivery_log(HOUR);
    assert_eq!(log.get("wamid.1").await.unwrap(), None);
    let s = log.apply(&status("wamid.1", StatusKind::Sent, 100)).await.unwrap();
    assert_eq!(s.status, Some(Progress::Sent));
    // Read before delivered: stays read.
    let s = log.apply(&status("wamid.1", StatusKind::Read, 120)).await.unwrap();
    assert_eq!(s.status, Some(Progress::Read));
    let s = log.apply(&status("wamid.1", StatusKind::Delivered, 110)).await.unwrap();
    assert_eq!(s.status, Some(Progress::Read));
    assert_eq!((s.sent_at, s.delivered_at, s.read_at), (Some(100), Some(110), Some(120)));
    // A duplicate keeps the first time.
    let s = log.apply(&status("wamid.1", StatusKind::Read, 999)).await.unwrap();
    assert_eq!(s.read_at, Some(120));
    assert_eq!(log.get("wamid.1").await.unwrap(), Some(s));
    // A read arriving alone is enough.
    let s = log.apply(&status("wamid.2", StatusKind::Read, 50)).await.unwrap();
    assert_eq!((s.status, s.sent_at), (Some(Progress::Read), None));
    // Unknown statuses are tolerated.
    let s = log.apply(&status("wamid.3", StatusKind::Other("deleted".into()), 50)).await.unwrap();
    assert_eq!(s.status, None);
}

async fn a_failed_message_keeps_its_error_code(store: Store) {
    let log = store.backend.delivery_log(HOUR);
    log.apply(&status("wamid.f", StatusKind::Sent, 100)).await.unwrap();
    let mut failed = meta_status("wamid.f", StatusKind::Failed, 101);
    failed.errors.push(ApiError {
        code: 131047,
        title: "Re-engagement message".into(),
        message: None,
        error_data: None,
        href: None,
    });
    let s = log.apply(&failed.delivery_update()).await.unwrap();
    assert_eq!(s.status, Some(Progress::Failed));
    assert_eq!(s.error_code, Some(131047));
    assert_eq!(s.error_title.as_deref(), Some("Re-engagement message"));
    // A late "sent" or "delivered" does not hide the failure.
    let s = log.apply(&status("wamid.f", StatusKind::Delivered, 99)).await.unwrap();
    assert_eq!((s.status, s.error_code), (Some(Progress::Failed), Some(131047)));
    assert_eq!(log.get("wamid.f").await.unwrap(), Some(s));
}

/// A state is kept for the TTL after its last status: each status starts the TTL again, and a state with no
/// status for that long is forgotten.
async fn states_expire_after_their_last_status(store: Store) {
    let log = store.backend.delivery_log(SHORT_TTL);
    log.apply(&status("wamid.t", StatusKind::Sent, 100)).await.unwrap();
    log.apply(&status("wamid.other", StatusKind::Sent, 100)).await.unwrap();
    store.pass_most_of(SHORT_TTL).await;
    log.apply(&status("wamid.t", StatusKind::Delivered, 101)).await.unwrap();
    store.pass_the_rest_of(SHORT_TTL).await;
    assert_eq!(log.get("wamid.other").await.unwrap(), None, "no status since: forgotten");
    let s = log.get("wamid.t").await.unwrap().expect("kept: its last status is recent");
    assert_eq!((s.status, s.sent_at, s.delivered_at), (Some(Progress::Delivered), Some(100), Some(101)));
}

#[tokio::test]
async fn delivery_states_expire_in_redis() {
    let store = Store::open(Backend::Redis, "delivery-ttl", crate::common::DEDUPE_TTL).await;
    let log = store.backend.delivery_log(HOUR);
    log.apply(&status("wamid.t", StatusKind::Sent, 1)).await.unwrap();
    let mut conn = redis_conn().await;
    let key = format!("{}:delivery:wamid.t", store.prefix());
    let ttl: i64 = ::redis::cmd("TTL").arg(key).query_async(&mut conn).await.unwrap();
    assert!(ttl > 3500 && ttl <= 3600, "{ttl}");
    assert_eq!(store.keys.as_ref().unwrap().count(), 1);
}
