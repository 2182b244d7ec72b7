//! Transactions: all or nothing, and concurrent writers on SQLite wait instead of failing; read
//! snapshots only read and never hold a writer up.

use gatehouse_core::model::*;
use gatehouse_store::Store;

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(
    a_dropped_transaction_leaves_nothing_behind,
    concurrent_writers_all_succeed,
    writers_that_share_a_commit_keep_only_what_each_committed,
    a_request_abandoned_while_its_commit_waits_strands_no_one,
    a_failed_statement_does_not_commit_its_companions,
    a_read_snapshot_reads_one_state_and_never_holds_a_writer_up,
    a_transaction_that_reads_first_writes_on_what_it_read,
);

/// A user `login`, committed on its own.
async fn stored(store: &Store, login: &str) -> User {
    let user = user(login);
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&user).await.unwrap();
    tx.commit().await.unwrap();
    user
}

async fn a_dropped_transaction_leaves_nothing_behind(store: Store) {
    let alice = user("alice");
    let totp = enrollment(alice.id, AuthenticatorKey::Totp);
    {
        let mut tx = store.begin().await.unwrap();
        tx.users().insert(&alice).await.unwrap();
        tx.enrollments().insert(&totp).await.unwrap();
        tx.log()
            .append(&event(event_types::USER_ENROLLMENT_CREATE, 1))
            .await
            .unwrap();
        // Dropped here: a crash between the statements.
    }
    assert_eq!(store.users().get(alice.id).await.unwrap(), None);
    assert_eq!(store.enrollments().get(totp.id).await.unwrap(), None);
    assert_eq!(store.log().count().await.unwrap(), 0);

    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&alice).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(store.is_empty().await.unwrap());
}

async fn concurrent_writers_all_succeed(store: Store) {
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let u = user(&format!("user{i:02}"));
                let mut tx = store.begin().await.unwrap();
                // Read then write inside one transaction: on SQLite this would fail with
                // SQLITE_BUSY if the transaction had started as a reader.
                let before = tx.users().count().await.unwrap();
                assert!(before < 16, "{before} users before this writer");
                tx.users().insert(&u).await.unwrap();
                tx.log()
                    .append(&event(event_types::USER_CREATE, i).user(u.id))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(store.users().count().await.unwrap(), 16);
    assert_eq!(store.log().count().await.unwrap(), 16);
}

/// On SQLite, transactions queued behind one another share one commit (group commit): each
/// still keeps or loses its own writes, and its `commit` returns once they are durable and
/// visible to every reader.
async fn writers_that_share_a_commit_keep_only_what_each_committed(store: Store) {
    let writers: Vec<_> = (0..24_i64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let u = user(&format!("user{i:02}"));
                let mut tx = store.begin().await.unwrap();
                tx.users().insert(&u).await.unwrap();
                // Hold the turn across an await, so that the others queue behind this one and
                // join its group.
                tokio::task::yield_now().await;
                tx.log()
                    .append(&event(event_types::USER_CREATE, i).user(u.id))
                    .await
                    .unwrap();
                match i % 3 {
                    0 => {
                        tx.commit().await.unwrap();
                        assert!(
                            store.users().get(u.id).await.unwrap().is_some(),
                            "user{i:02} committed"
                        );
                    }
                    1 => drop(tx),
                    _ => {
                        // A failing statement, then the transaction is abandoned.
                        assert!(tx.users().insert(&user(&format!("USER{i:02}"))).await.is_err());
                        tx.rollback().await.unwrap();
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let mut logins: Vec<String> = store
        .users()
        .list(
            &gatehouse_store::UserFilter::default(),
            &gatehouse_store::PageRequest::first(50),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|u| u.login.as_str().to_owned())
        .collect();
    logins.sort();
    let expected: Vec<String> = (0..24).step_by(3).map(|i| format!("user{i:02}")).collect();
    assert_eq!(logins, expected);
    assert_eq!(store.log().count().await.unwrap(), 8);
}

/// A request whose client went away is dropped at its next await; if that is while its commit
/// waits (for its group, on SQLite), its writes still commit and the writers after it go on.
async fn a_request_abandoned_while_its_commit_waits_strands_no_one(store: Store) {
    let alice = user("alice");
    let (committing, reached) = tokio::sync::oneshot::channel();
    let abandoned = {
        let store = store.clone();
        let alice = alice.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.users().insert(&alice).await.unwrap();
            committing.send(()).unwrap();
            tx.commit().await.unwrap();
        })
    };
    reached.await.unwrap();
    abandoned.abort();
    let _ = abandoned.await;

    let bob = user("bob");
    let mut tx = tokio::time::timeout(std::time::Duration::from_secs(2), store.begin())
        .await
        .expect("the next writer gets its turn")
        .unwrap();
    tx.users().insert(&bob).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(2), tx.commit())
        .await
        .expect("the next commit is not stranded")
        .unwrap();
    assert!(store.users().get(bob.id).await.unwrap().is_some());
    assert!(
        store.users().get(alice.id).await.unwrap().is_some(),
        "the abandoned request's commit went on"
    );
}

async fn a_failed_statement_does_not_commit_its_companions(store: Store) {
    stored(&store, "alice").await;

    let mut tx = store.begin().await.unwrap();
    tx.log()
        .append(&event(event_types::USER_CREATE, 2))
        .await
        .unwrap();
    assert!(tx.users().insert(&user("ALICE")).await.is_err());
    drop(tx);
    assert_eq!(store.log().count().await.unwrap(), 0);
    assert_eq!(store.users().count().await.unwrap(), 1);
}

async fn a_read_snapshot_reads_one_state_and_never_holds_a_writer_up(store: Store) {
    use gatehouse_store::Dialect;

    let alice = stored(&store, "alice").await;

    let mut read = store.read().unwrap();
    assert_eq!(read.users().get(alice.id).await.unwrap(), Some(alice.clone()));
    // (Writes are not offered: `read.users().insert(…)` does not compile.)
    let bob = user("bob");
    // A writer commits while the snapshot is open.
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&bob).await.unwrap();
    tx.commit().await.unwrap();
    let seen = read.users().get(bob.id).await.unwrap();
    match store.dialect() {
        // One read transaction: the snapshot still sees the state of its first read.
        Dialect::Sqlite => assert_eq!(seen, None),
        // Each statement its own snapshot.
        Dialect::Postgres => assert_eq!(seen, Some(bob.clone())),
    }
    drop(read);

    // Ended snapshots leave no transaction behind on the connections they return.
    for _ in 0..8 {
        let mut read = store.read().unwrap();
        assert_eq!(read.users().count().await.unwrap(), 2);
    }
    let carol = user("carol");
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&carol).await.unwrap();
    tx.commit().await.unwrap();
    let mut read = store.read().unwrap();
    assert_eq!(read.users().get(carol.id).await.unwrap(), Some(carol));
    assert_eq!(store.users().count().await.unwrap(), 3);
}

/// `read_then_write`: the reads of a write transaction, taken before its writes. On SQLite no
/// writer comes between them; the writes commit with the transaction, and dropped it leaves
/// nothing.
async fn a_transaction_that_reads_first_writes_on_what_it_read(store: Store) {
    use gatehouse_store::Dialect;

    let alice = stored(&store, "alice").await;

    let mut read = store.read_then_write().await.unwrap();
    assert_eq!(read.users().get(alice.id).await.unwrap(), Some(alice.clone()));
    // Another writer, started now.
    let bob = user("bob");
    let mut other = Some({
        let store = store.clone();
        let bob = bob.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.users().insert(&bob).await.unwrap();
            tx.commit().await.unwrap();
        })
    });
    match store.dialect() {
        // It waits for the turn this transaction holds, however long it is given.
        Dialect::Sqlite => {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            assert_eq!(read.users().get(bob.id).await.unwrap(), None);
        }
        // Writers do not wait for each other; read committed, each statement sees its commit.
        Dialect::Postgres => {
            other.take().unwrap().await.unwrap();
            assert_eq!(read.users().get(bob.id).await.unwrap(), Some(bob.clone()));
        }
    }
    let carol = user("carol");
    let mut tx = read.into_tx().unwrap();
    tx.users().insert(&carol).await.unwrap();
    tx.commit().await.unwrap();
    if let Some(other) = other {
        other.await.unwrap();
    }
    assert_eq!(store.users().count().await.unwrap(), 3);

    // Dropped, it rolls back what it wrote and lets the next writer in.
    let dave = user("dave");
    {
        let read = store.read_then_write().await.unwrap();
        let mut tx = read.into_tx().unwrap();
        tx.users().insert(&dave).await.unwrap();
    }
    assert_eq!(store.users().get(dave.id).await.unwrap(), None);
    let mut tx = store.begin().await.unwrap();
    tx.users().insert(&dave).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.users().count().await.unwrap(), 4);

    // A plain snapshot has no transaction to hand over.
    assert!(matches!(
        store.read().unwrap().into_tx(),
        Err(gatehouse_store::StoreError::ReadOnly)
    ));
}

/// Another process (a second store on the same SQLite file: `gatehouse keys rotate` beside a
/// running server) holding the write lock makes a writer wait on a blocking thread, not fail,
/// and reads go on meanwhile.
#[tokio::test]
async fn a_writer_in_another_process_is_waited_for_not_refused() {
    use gatehouse_store::Dialect;
    use gatehouse_store::testing::TestDatabase;

    let db = TestDatabase::create(Dialect::Sqlite).await;
    let first = db.connect().await;
    let second = db.connect().await;
    let mut holder = first.begin().await.unwrap();
    holder.users().insert(&user("alice")).await.unwrap();
    let waiter = tokio::spawn(async move {
        let mut tx = second.begin().await.unwrap();
        tx.users().insert(&user("bob")).await.unwrap();
        tx.commit().await.unwrap();
        second
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!waiter.is_finished(), "the second writer waits for the lock");
    assert_eq!(
        first.users().count().await.unwrap(),
        0,
        "reads go on, seeing what is committed"
    );
    holder.commit().await.unwrap();
    let second = waiter.await.unwrap();
    assert_eq!(second.users().count().await.unwrap(), 2);
    first.close().await;
    second.close().await;
    db.destroy().await;
}
