//! The system log: filters, newest-first paging, and append-only enforcement in the schema.

use gatehouse_core::model::*;
use gatehouse_store::testing::TestDatabase;
use gatehouse_store::{Dialect, LogFilter, PageRequest, Store, new_id};
use sqlx::Connection as _;

use crate::fixtures::*;
use crate::on_both_backends;

on_both_backends!(events_are_filtered_and_paged_newest_first);

async fn events_are_filtered_and_paged_newest_first(store: Store) {
    let alice = user("alice");
    let bob = user("bob");
    let mut tx = store.begin().await.unwrap();
    let login = event(event_types::USER_SESSION_START, 10)
        .user(alice.id)
        .request(Some("req-1".into()), Some("10.1.2.3".into()))
        .details(serde_json::json!({"rule": "employees"}));
    tx.log().append(&login).await.unwrap();
    tx.log()
        .append(&event(event_types::USER_SESSION_END, 20).user(alice.id))
        .await
        .unwrap();
    tx.log()
        .append(&event(event_types::USER_SUSPEND, 30).user(bob.id))
        .await
        .unwrap();
    let mut admin = event(event_types::APP_CREATE, 40);
    admin.actor = Actor::AdminToken("token-1".into());
    tx.log().append(&admin).await.unwrap();
    let odd = LogEvent::new(
        new_id(),
        at(50),
        EventType::parse("userxsession.odd").unwrap(),
        Actor::Anonymous,
        Outcome::Failure,
    );
    tx.log().append(&odd).await.unwrap();
    tx.commit().await.unwrap();

    let types = |events: &[LogEvent]| {
        events
            .iter()
            .map(|e| e.event_type.to_string())
            .collect::<Vec<_>>()
    };
    let everything = store
        .log()
        .query(&LogFilter::default(), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        types(&everything.items),
        [
            "userxsession.odd",
            "app.lifecycle.create",
            "user.lifecycle.suspend",
            "user.session.end",
            "user.session.start"
        ]
    );
    assert_eq!(everything.items[4], login, "every field round-trips");
    assert_eq!(everything.items[1].actor, Actor::AdminToken("token-1".into()));

    let of_alice = LogFilter {
        user: Some(alice.id),
        ..LogFilter::default()
    };
    let page = store
        .log()
        .query(&of_alice, &PageRequest::first(1))
        .await
        .unwrap();
    assert_eq!(types(&page.items), ["user.session.end"]);
    let next = PageRequest::parse(Some(1), page.next.as_deref()).unwrap();
    let page = store.log().query(&of_alice, &next).await.unwrap();
    assert_eq!(types(&page.items), ["user.session.start"]);
    assert_eq!(page.next, None);

    let sessions = LogFilter {
        type_prefix: Some("user.session".into()),
        ..LogFilter::default()
    };
    assert_eq!(
        store
            .log()
            .query(&sessions, &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    let exact = LogFilter {
        type_prefix: Some("user.lifecycle.suspend".into()),
        ..LogFilter::default()
    };
    assert_eq!(
        store
            .log()
            .query(&exact, &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let wildcard = LogFilter {
        type_prefix: Some("user_session".into()),
        ..LogFilter::default()
    };
    assert!(
        store
            .log()
            .query(&wildcard, &PageRequest::first(10))
            .await
            .unwrap()
            .items
            .is_empty(),
        "`_` is not a wildcard"
    );

    let window = LogFilter {
        since: Some(at(20)),
        until: Some(at(40)),
        ..LogFilter::default()
    };
    let page = store.log().query(&window, &PageRequest::first(10)).await.unwrap();
    assert_eq!(
        types(&page.items),
        ["user.lifecycle.suspend", "user.session.end"],
        "since inclusive, until exclusive"
    );
    assert_eq!(store.log().count().await.unwrap(), 5);
}

async fn raw_rewrites_are_refused(dialect: Dialect) {
    let db = TestDatabase::create(dialect).await;
    let store = db.connect().await;
    let mut tx = store.begin().await.unwrap();
    tx.log()
        .append(&event(event_types::USER_CREATE, 1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    store.close().await;

    let statements = [
        "UPDATE system_log SET outcome = 'failure'",
        "DELETE FROM system_log",
    ];
    for sql in statements {
        let refused = match dialect {
            Dialect::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.url()))
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap_err().to_string()
            }
            Dialect::Postgres => {
                let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap_err().to_string()
            }
        };
        assert!(
            refused.contains("the system log is append-only"),
            "{sql}: {refused}"
        );
    }
    if dialect == Dialect::Postgres {
        let mut conn = sqlx::PgConnection::connect(db.url()).await.unwrap();
        let refused = sqlx::query("TRUNCATE system_log")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("append-only"), "{refused}");
    }
    let store = db.connect().await;
    assert_eq!(store.log().count().await.unwrap(), 1);
    store.close().await;
    db.destroy().await;
}

#[tokio::test]
async fn the_schema_refuses_rewriting_the_log_on_sqlite() {
    raw_rewrites_are_refused(Dialect::Sqlite).await;
}

#[tokio::test]
async fn the_schema_refuses_rewriting_the_log_on_postgres() {
    raw_rewrites_are_refused(Dialect::Postgres).await;
}

on_both_backends!(many_events_append_in_few_statements_and_keep_every_field);

async fn many_events_append_in_few_statements_and_keep_every_field(store: Store) {
    let alice = user("alice");
    // 70 events: more than one multi-row statement's worth.
    let events: Vec<LogEvent> = (0..70)
        .map(|i| {
            event(event_types::USER_SESSION_START, 100 + i)
                .user(alice.id)
                .request(Some(format!("req-{i}")), Some("10.0.0.1".into()))
                .details(serde_json::json!({"n": i}))
        })
        .collect();
    let mut tx = store.begin().await.unwrap();
    tx.log().append_all(&events).await.unwrap();
    tx.log().append_all(&[]).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.log().count().await.unwrap(), 70);
    let page = store
        .log()
        .query(&LogFilter::default(), &PageRequest::first(100))
        .await
        .unwrap();
    let newest = &page.items[0];
    assert_eq!(newest.request_id.as_deref(), Some("req-69"));
    assert_eq!(newest.client_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(newest.target_user, Some(alice.id));
    assert_eq!(newest.details, serde_json::json!({"n": 69}));
}
