//! Sessions with their verification records, and flows with optimistic concurrency.

use gatehouse_core::model::*;
use gatehouse_store::{Store, StoreError, new_id};

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(
    a_session_and_its_records_are_written_together,
    ending_sessions_by_user_and_by_device,
    flows_refuse_a_stale_update,
);

async fn a_session_and_its_records_are_written_together(store: Store) {
    let alice = user("alice");
    let s = session(alice.id, &"ab".repeat(32));
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.commit().await.unwrap();

    let password = record(s.id, AuthenticatorKey::Password, Method::Password, 10);
    let totp = record(s.id, AuthenticatorKey::Totp, Method::Otp, 11);
    let mut tx = store.begin().await.unwrap();
    tx.sessions().insert(&s).await.unwrap();
    tx.sessions().add_record(&totp).await.unwrap();
    tx.sessions().add_record(&password).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(
        store.sessions().by_token_digest(&"ab".repeat(32)).await.unwrap(),
        Some(s.clone())
    );
    assert_eq!(store.sessions().get(s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(
        store.sessions().records(s.id).await.unwrap(),
        vec![password, totp],
        "oldest first"
    );
    assert_eq!(
        store.sessions().by_token_digest(&"cd".repeat(32)).await.unwrap(),
        None
    );

    let mut tx = store.begin().await.unwrap();
    let err = tx
        .sessions()
        .insert(&session(alice.id, &"ab".repeat(32)))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate { field: "token" }), "{err}");
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    assert!(tx.sessions().touch(s.id, at(100)).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(
        store.sessions().get(s.id).await.unwrap().unwrap().last_seen_at,
        at(100)
    );
}

async fn ending_sessions_by_user_and_by_device(store: Store) {
    let (alice, bob) = (user("alice"), user("bob"));
    let laptop = device(alice.id);
    let mut with_device = session(alice.id, &"01".repeat(32));
    with_device.device_id = Some(laptop.id);
    let plain = session(alice.id, &"02".repeat(32));
    let bobs = session(bob.id, &"03".repeat(32));
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.users().insert(&bob).await.unwrap();
    tx.devices().insert(&laptop).await.unwrap();
    for s in [&with_device, &plain, &bobs] {
        tx.sessions().insert(s).await.unwrap();
    }
    tx.commit().await.unwrap();
    assert_eq!(store.sessions().open_of_user(alice.id).await.unwrap().len(), 2);

    let mut tx = store.begin().await.unwrap();
    let ended = tx
        .sessions()
        .end_all_of_device(laptop.id, EndReason::DeviceDeactivated, at(50))
        .await
        .unwrap();
    assert_eq!(ended, 1);
    tx.commit().await.unwrap();
    let stored = store.sessions().get(with_device.id).await.unwrap().unwrap();
    assert_eq!(stored.end_reason, Some(EndReason::DeviceDeactivated));
    assert_eq!(stored.ended_at, Some(at(50)));
    assert!(!stored.is_live(at(51)));
    assert!(
        store
            .sessions()
            .get(plain.id)
            .await
            .unwrap()
            .unwrap()
            .is_live(at(51)),
        "password sessions untouched"
    );

    let mut tx = store.begin().await.unwrap();
    assert!(
        !tx.sessions().touch(with_device.id, at(60)).await.unwrap(),
        "ended sessions are not revived"
    );
    assert!(
        !tx.sessions()
            .end(with_device.id, EndReason::Logout, at(60))
            .await
            .unwrap()
    );
    assert_eq!(
        tx.sessions()
            .end_all_of_user(alice.id, EndReason::AdminRevoked, at(70))
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    assert!(store.sessions().open_of_user(alice.id).await.unwrap().is_empty());
    assert_eq!(
        store.sessions().open_of_user(bob.id).await.unwrap(),
        vec![bobs.clone()]
    );
    let mut tx = store.begin().await.unwrap();
    assert!(
        tx.sessions()
            .end(bobs.id, EndReason::Logout, at(80))
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.sessions().get(bobs.id).await.unwrap().unwrap().end_reason,
        Some(EndReason::Logout)
    );
}

async fn flows_refuse_a_stale_update(store: Store) {
    let flow = Flow {
        id: new_id(),
        state: serde_json::json!({"step": "identify", "note": "nul \u{0} escaped"}).to_string(),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
        expires_at: at(600),
    };
    let mut tx = store.begin().await.unwrap();
    tx.flows().insert(&flow).await.unwrap();
    tx.commit().await.unwrap();
    let read = store.flows().get(flow.id).await.unwrap().unwrap();
    assert_eq!(read, flow);

    // Two requests read version 1; the first to write wins, the second is stale.
    let mut first = read.clone();
    first.state = serde_json::json!({"step": "challenge"}).to_string();
    first.updated_at = at(10);
    first.expires_at = at(610);
    let mut second = read.clone();
    second.state = serde_json::json!({"step": "cancelled"}).to_string();
    let mut tx = store.begin().await.unwrap();
    let written = tx.flows().update(&first).await.unwrap();
    assert_eq!(written.version, 2);
    let err = tx.flows().update(&second).await.unwrap_err();
    assert!(matches!(err, StoreError::Stale { what: "flow" }), "{err}");
    tx.commit().await.unwrap();
    let stored = store.flows().get(flow.id).await.unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored.state).unwrap()["step"],
        "challenge"
    );
    assert_eq!(stored.version, 2);
    assert!(!stored.is_expired(at(609)));
    assert!(stored.is_expired(at(610)));

    let expired = Flow {
        id: new_id(),
        expires_at: at(5),
        ..flow.clone()
    };
    let mut tx = store.begin().await.unwrap();
    tx.flows().insert(&expired).await.unwrap();
    assert_eq!(tx.flows().purge_expired(at(100), 1000).await.unwrap(), 1);
    assert!(tx.flows().delete(flow.id).await.unwrap());
    assert!(!tx.flows().delete(flow.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.flows().get(expired.id).await.unwrap(), None);
}
