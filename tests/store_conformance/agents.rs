//! [`AgentStore`]: console accounts, sessions that end when idle, failed sign-ins counted in a window.

use std::time::Duration;

use wa_onboard::store::agents::{AgentAccount, Role, SessionRecord};

use crate::{SHORT_TTL, Store};

conformance!(
    an_account_is_made_once_listed_and_updated,
    a_session_lives_while_used_and_ends_when_idle_or_signed_out,
    failed_sign_ins_are_counted_per_key_within_their_window,
);

fn account(email: &str) -> AgentAccount {
    AgentAccount {
        email: email.into(),
        name: "Ana".into(),
        role: Role::Agent,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        created_at: 1,
    }
}

async fn an_account_is_made_once_listed_and_updated(store: Store) {
    let agents = store.backend.agents();
    assert!(agents.add(&account("ana@acme.mx")).await.unwrap());
    assert!(!agents.add(&AgentAccount { name: "Other".into(), ..account("ana@acme.mx") }).await.unwrap());
    assert_eq!(agents.get("ana@acme.mx").await.unwrap().unwrap().name, "Ana", "the first one stays");
    assert!(agents.add(&account("bia@acme.mx")).await.unwrap());
    let emails: Vec<String> = agents.list().await.unwrap().into_iter().map(|a| a.email).collect();
    assert_eq!(emails, ["ana@acme.mx", "bia@acme.mx"]);
    assert!(agents.update(&AgentAccount { disabled: true, ..account("ana@acme.mx") }).await.unwrap());
    assert!(agents.get("ana@acme.mx").await.unwrap().unwrap().disabled);
    assert!(!agents.update(&account("nobody@acme.mx")).await.unwrap(), "update does not create");
    assert_eq!(agents.get("nobody@acme.mx").await.unwrap(), None);
}

async fn a_session_lives_while_used_and_ends_when_idle_or_signed_out(store: Store) {
    let agents = store.backend.agents();
    // Whole seconds: session lifetimes are counted in seconds on both backends.
    let idle = 2;
    let session = |id: &str| SessionRecord {
        id_hash: id.into(),
        email: "ana@acme.mx".into(),
        csrf: "c".into(),
        created_at: 1,
        last_seen_at: 1,
    };
    agents.put_session(&session("s1"), idle).await.unwrap();
    agents.put_session(&session("s2"), idle).await.unwrap();
    assert_eq!(agents.session("s1").await.unwrap(), Some(session("s1")));
    store.pass(Duration::from_secs(1)).await;
    agents.put_session(&session("s1"), idle).await.unwrap(); // used again: alive for another idle period
    // In memory lifetimes are whole seconds of the stepped clock, which may start anywhere within a second: one
    // more second is exactly past s2's lifetime and within s1's. Redis counts real milliseconds: half a second of
    // slack either side.
    let rest = if store.is_redis() { Duration::from_millis(1500) } else { Duration::from_secs(1) };
    store.pass(rest).await;
    assert!(agents.session("s1").await.unwrap().is_some(), "a used session lives on");
    assert_eq!(agents.session("s2").await.unwrap(), None, "an idle one is gone");
    agents.end_session("s1").await.unwrap();
    assert_eq!(agents.session("s1").await.unwrap(), None, "signed out");
}

async fn failed_sign_ins_are_counted_per_key_within_their_window(store: Store) {
    let agents = store.backend.agents();
    let window = SHORT_TTL.as_secs().max(1);
    assert_eq!(agents.failures("account:ana").await.unwrap(), 0);
    for n in 1..=3 {
        assert_eq!(agents.add_failure("account:ana", window).await.unwrap(), n);
    }
    assert_eq!(agents.add_failure("address:10.0.0.1", window).await.unwrap(), 1, "each key counts alone");
    assert_eq!(agents.failures("account:ana").await.unwrap(), 3);
    agents.clear_failures("account:ana").await.unwrap();
    assert_eq!(agents.failures("account:ana").await.unwrap(), 0, "a good sign-in clears the account's count");
    store.pass(Duration::from_secs(window) + Duration::from_millis(100)).await;
    assert_eq!(agents.failures("address:10.0.0.1").await.unwrap(), 0, "the window has passed");
}
