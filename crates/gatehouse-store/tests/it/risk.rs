//! What the risk scorer reads: places users signed in from, and administrators' verdicts.

use gatehouse_store::{ContextKind, Places, Store, UserRiskRow};

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(places_are_known_per_user_kind_and_age);
on_both_backends!(an_admin_verdict_is_set_replaced_and_cleared);
on_both_backends!(a_sign_ins_places_are_recorded_and_read_in_one_statement_each);

async fn places_are_known_per_user_kind_and_age(store: Store) {
    let alice = user("alice");
    let bob = user("bob");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.users().insert(&bob).await.unwrap();
    tx.sign_in_contexts()
        .touch(alice.id, ContextKind::Network, "10.1.2.0/24", at(100))
        .await
        .unwrap();
    tx.sign_in_contexts()
        .touch(alice.id, ContextKind::Device, "d1", at(100))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let nets = |v: &str| vec![v.to_owned()];
    let mut contexts = store.sign_in_contexts();
    assert!(
        contexts
            .seen(alice.id, ContextKind::Network, &nets("10.1.2.0/24"), at(50))
            .await
            .unwrap()
    );
    assert!(
        !contexts
            .seen(alice.id, ContextKind::Network, &nets("10.1.2.0/24"), at(101))
            .await
            .unwrap(),
        "older than the window"
    );
    assert!(
        !contexts
            .seen(alice.id, ContextKind::Zone, &nets("10.1.2.0/24"), at(50))
            .await
            .unwrap(),
        "another kind"
    );
    assert!(
        !contexts
            .seen(bob.id, ContextKind::Device, &nets("d1"), at(50))
            .await
            .unwrap(),
        "another user"
    );
    assert!(
        contexts
            .seen(
                alice.id,
                ContextKind::Device,
                &["d0".to_owned(), "d1".to_owned()],
                at(50)
            )
            .await
            .unwrap(),
        "any of the values"
    );

    // A later sign-in refreshes the place.
    let mut tx = store.begin().await.unwrap();
    tx.sign_in_contexts()
        .touch(alice.id, ContextKind::Network, "10.1.2.0/24", at(200))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        store
            .sign_in_contexts()
            .seen(alice.id, ContextKind::Network, &nets("10.1.2.0/24"), at(150))
            .await
            .unwrap()
    );

    // Housekeeping forgets places not seen since a time, a batch at a time: the device (last seen
    // at 100) goes, the refreshed network (200) stays.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        tx.sign_in_contexts()
            .purge_unseen_since(at(150), 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        tx.sign_in_contexts()
            .purge_unseen_since(at(150), 10)
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    let mut contexts = store.sign_in_contexts();
    assert!(
        !contexts
            .seen(alice.id, ContextKind::Device, &nets("d1"), at(0))
            .await
            .unwrap()
    );
    assert!(
        contexts
            .seen(alice.id, ContextKind::Network, &nets("10.1.2.0/24"), at(0))
            .await
            .unwrap()
    );
}

async fn an_admin_verdict_is_set_replaced_and_cleared(store: Store) {
    let alice = user("alice");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    let verdict = UserRiskRow {
        level: "high".into(),
        reason: "credentials in a breach".into(),
        expires_at: at(1000),
        set_at: at(10),
    };
    tx.user_risks().set(alice.id, &verdict).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.user_risks().get(alice.id).await.unwrap(), Some(verdict));

    let lower = UserRiskRow {
        level: "medium".into(),
        reason: "reviewed".into(),
        expires_at: at(2000),
        set_at: at(20),
    };
    let mut tx = store.begin().await.unwrap();
    tx.user_risks().set(alice.id, &lower).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.user_risks().get(alice.id).await.unwrap(), Some(lower));

    let mut tx = store.begin().await.unwrap();
    assert!(tx.user_risks().clear(alice.id).await.unwrap());
    assert!(!tx.user_risks().clear(alice.id).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(store.user_risks().get(alice.id).await.unwrap(), None);
}

async fn a_sign_ins_places_are_recorded_and_read_in_one_statement_each(store: Store) {
    let alice = user("alice");
    let bob = user("bob");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.users().insert(&bob).await.unwrap();
    tx.sign_in_contexts()
        .touch_all(
            alice.id,
            &[
                (ContextKind::Device, "d1"),
                (ContextKind::Network, "10.1.2.0/24"),
                (ContextKind::Zone, "office"),
                (ContextKind::Zone, "office"),
            ],
            at(100),
            at(100),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.sign_in_contexts()
        .touch_all(
            alice.id,
            &[
                (ContextKind::Network, "10.1.2.0/24"),
                (ContextKind::Zone, "paris"),
            ],
            at(200),
            at(200),
        )
        .await
        .unwrap();
    tx.sign_in_contexts()
        .touch_all(bob.id, &[], at(200), at(200))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut contexts = store.sign_in_contexts();
    assert_eq!(
        contexts
            .places(alice.id, Some("d1"), "10.1.2.0/24")
            .await
            .unwrap(),
        Places {
            device_seen_at: Some(at(100)),
            network_seen_at: Some(at(200)),
            zones: vec![("paris".to_owned(), at(200)), ("office".to_owned(), at(100))],
        }
    );
    assert_eq!(
        contexts.places(alice.id, None, "10.9.9.0/24").await.unwrap(),
        Places {
            device_seen_at: None,
            network_seen_at: None,
            zones: vec![("paris".to_owned(), at(200)), ("office".to_owned(), at(100))],
        },
        "another network; no browser asked about"
    );
    assert_eq!(
        contexts.places(bob.id, Some("d1"), "10.1.2.0/24").await.unwrap(),
        Places::default(),
        "another user's places"
    );

    // Seen again at 300, refreshing only what was last seen before 150: the network (seen at
    // 200) keeps its time; the office (seen at 100) moves to 300.
    let mut tx = store.begin().await.unwrap();
    tx.sign_in_contexts()
        .touch_all(
            alice.id,
            &[
                (ContextKind::Network, "10.1.2.0/24"),
                (ContextKind::Zone, "office"),
            ],
            at(300),
            at(150),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        store
            .sign_in_contexts()
            .places(alice.id, Some("d1"), "10.1.2.0/24")
            .await
            .unwrap(),
        Places {
            device_seen_at: Some(at(100)),
            network_seen_at: Some(at(200)),
            zones: vec![("office".to_owned(), at(300)), ("paris".to_owned(), at(200))],
        },
        "a place seen since `stale_before` keeps its time; a stale one is refreshed"
    );
}
