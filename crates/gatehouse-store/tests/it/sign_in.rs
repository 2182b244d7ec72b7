//! Consecutive sign-in failures for lock-out.

use gatehouse_store::Store;

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(failures_count_up_per_user_and_reset);

async fn failures_count_up_per_user_and_reset(store: Store) {
    let alice = user("alice");
    let bob = user("bob");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.users().insert(&bob).await.unwrap();
    assert_eq!(tx.sign_in_failures().record(alice.id, at(10)).await.unwrap(), 1);
    assert_eq!(tx.sign_in_failures().record(alice.id, at(11)).await.unwrap(), 2);
    assert_eq!(tx.sign_in_failures().record(bob.id, at(12)).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(
        store.sign_in_failures().get(alice.id).await.unwrap(),
        Some((2, at(11)))
    );

    let mut tx = store.begin().await.unwrap();
    tx.sign_in_failures().reset(alice.id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.sign_in_failures().get(alice.id).await.unwrap(), None);
    assert_eq!(
        store.sign_in_failures().get(bob.id).await.unwrap().map(|f| f.0),
        Some(1)
    );
}
