//! `SendOrder`: each user's line of reply jobs. A job sends once no job queued at a lower conversation version is
//! still in the line; it leaves when its messages are out.

use wa_onboard::flow::state::UserKey;

use crate::Store;

conformance!(
    a_job_waits_for_the_jobs_queued_before_it,
    entering_again_keeps_the_first_place,
    a_job_that_left_does_not_come_back,
    users_have_lines_of_their_own,
    a_job_outside_the_line_never_waits,
    an_erasure_forgets_the_line,
    a_line_goes_a_day_after_its_last_entry,
);

fn user(name: &str) -> UserKey {
    UserKey { phone_number_id: "106540352242922".into(), user: name.into() }
}

async fn a_job_waits_for_the_jobs_queued_before_it(store: Store) {
    let order = store.backend.send_order();
    let ana = user("5215512345678");
    // Queued out of order: "verified" (version 7) reaches the line before "checking" (version 5) is taken.
    order.enter(&ana, "msg:verified:send", 7).await.unwrap();
    order.enter(&ana, "msg:checking:send", 5).await.unwrap();
    order.enter(&ana, "msg:agent", 7).await.unwrap();
    assert_eq!(order.ahead_of(&ana, "msg:checking:send").await.unwrap(), None, "the first goes at once");
    assert_eq!(order.ahead_of(&ana, "msg:verified:send").await.unwrap().as_deref(), Some("msg:checking:send"));
    assert_eq!(order.ahead_of(&ana, "msg:agent").await.unwrap().as_deref(), Some("msg:checking:send"));
    order.leave(&ana, "msg:checking:send").await.unwrap();
    assert_eq!(order.ahead_of(&ana, "msg:verified:send").await.unwrap(), None, "then the next");
    assert_eq!(
        order.ahead_of(&ana, "msg:agent").await.unwrap(),
        None,
        "jobs of one version do not wait for each other"
    );
    order.leave(&ana, "msg:checking:send").await.unwrap();
    order.leave(&ana, "never:entered").await.unwrap();
}

async fn entering_again_keeps_the_first_place(store: Store) {
    let order = store.backend.send_order();
    let ana = user("5215512345678");
    order.enter(&ana, "first", 3).await.unwrap();
    order.enter(&ana, "second", 4).await.unwrap();
    // A retried dispatch of the second job, with a lower version, does not jump the line.
    order.enter(&ana, "second", 2).await.unwrap();
    assert_eq!(order.ahead_of(&ana, "second").await.unwrap().as_deref(), Some("first"));
    assert_eq!(order.ahead_of(&ana, "first").await.unwrap(), None);
}

async fn users_have_lines_of_their_own(store: Store) {
    let order = store.backend.send_order();
    let (ana, bruno) = (user("5215512345678"), user("5511987654321"));
    let other_number = UserKey { phone_number_id: "107000000000055".into(), user: ana.user.clone() };
    order.enter(&ana, "a1", 1).await.unwrap();
    order.enter(&bruno, "b9", 9).await.unwrap();
    order.enter(&other_number, "c5", 5).await.unwrap();
    assert_eq!(order.ahead_of(&bruno, "b9").await.unwrap(), None);
    assert_eq!(order.ahead_of(&other_number, "c5").await.unwrap(), None, "the same person on another number");
    order.enter(&ana, "a2", 2).await.unwrap();
    assert_eq!(order.ahead_of(&ana, "a2").await.unwrap().as_deref(), Some("a1"));
}

async fn a_job_outside_the_line_never_waits(store: Store) {
    let order = store.backend.send_order();
    let ana = user("5215512345678");
    order.enter(&ana, "queued", 1).await.unwrap();
    assert_eq!(order.ahead_of(&ana, "not-in-the-line").await.unwrap(), None, "e.g. queued before lines existed");
    assert_eq!(order.ahead_of(&user("nobody"), "x").await.unwrap(), None);
}

async fn an_erasure_forgets_the_line(store: Store) {
    let order = store.backend.send_order();
    let ana = user("5215512345678");
    order.enter(&ana, "msg:wamid.HBgM1:send", 1).await.unwrap();
    order.enter(&ana, "msg:wamid.HBgM2:send", 2).await.unwrap();
    assert_eq!(order.erase(&ana).await.unwrap(), 2);
    assert_eq!(order.erase(&ana).await.unwrap(), 0, "erasing again removes nothing");
    order.enter(&ana, "msg:wamid.HBgM3:send", 3).await.unwrap();
    assert_eq!(order.ahead_of(&ana, "msg:wamid.HBgM3:send").await.unwrap(), None, "the old places are gone");
    order.erase(&ana).await.unwrap();
    if store.is_redis() {
        assert_eq!(store.keys.as_ref().map(|k| k.count()), Some(0), "no key is left");
    }
}

async fn a_job_that_left_does_not_come_back(store: Store) {
    let order = store.backend.send_order();
    let ana = user("5215512345678");
    order.enter(&ana, "msg:2:send", 2).await.unwrap();
    order.leave(&ana, "msg:2:send").await.unwrap();
    // The next event hands out the earlier outbox again (its clean-up had not run): the job is a duplicate in
    // the queue and will not run again, so it must not take a place that nobody would give up.
    order.enter(&ana, "msg:2:send", 2).await.unwrap();
    order.enter(&ana, "msg:3:send", 3).await.unwrap();
    assert_eq!(order.ahead_of(&ana, "msg:3:send").await.unwrap(), None);
    assert_eq!(order.ahead_of(&ana, "msg:2:send").await.unwrap(), None);
}

async fn a_line_goes_a_day_after_its_last_entry(store: Store) {
    let order = store.backend.send_order();
    let ana = user("5215512345678");
    order.enter(&ana, "stuck", 1).await.unwrap();
    order.enter(&ana, "next", 2).await.unwrap();
    if store.is_redis() {
        let mut conn = crate::common::redis_conn().await;
        let keys = store.keys.as_ref().map(|k| k.keys()).unwrap_or_default();
        assert!(keys.iter().all(|k| !k.contains("5215512345678")), "the phone stays out of key names: {keys:?}");
        let key = keys.into_iter().find(|k| k.contains(":sendq:{106540352242922:")).expect("the line's key");
        let ttl: i64 = ::redis::cmd("TTL").arg(key).query_async(&mut conn).await.unwrap();
        assert!(ttl > 23 * 3600 && ttl <= 24 * 3600, "the line expires in a day: {ttl}");
        return;
    }
    store.pass(wa_onboard::store::send_order::LINE_TTL).await;
    assert_eq!(order.erase(&ana).await.unwrap(), 0, "forgotten with its jobs");
}
