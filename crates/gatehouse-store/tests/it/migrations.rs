//! Migrations: listed in step with their directories, the same versions for both dialects,
//! applied once, and safe when several nodes start together.

use std::collections::BTreeSet;
use std::path::Path;

use gatehouse_store::testing::TestDatabase;
use gatehouse_store::{Dialect, Store, migration_lists};

#[test]
fn every_migration_file_is_listed_and_both_dialects_agree() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut versions = Vec::new();
    for (dialect, list) in migration_lists() {
        let dir = root.join(dialect.as_str());
        let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        let listed: BTreeSet<String> = list.iter().map(|m| m.file.to_owned()).collect();
        assert_eq!(
            on_disk,
            listed,
            "{dialect:?}: every file in {} must be listed",
            dir.display()
        );
        for (index, migration) in list.iter().enumerate() {
            let expected = i64::try_from(index).unwrap() + 1;
            assert_eq!(
                migration.version, expected,
                "{dialect:?}: versions are 1, 2, 3, … in order"
            );
            assert!(
                migration.file.starts_with(&format!("{expected:04}_")),
                "{dialect:?}: {} must start with its version",
                migration.file
            );
            let text = std::fs::read_to_string(dir.join(migration.file)).unwrap();
            assert_eq!(text, migration.sql);
        }
        versions.push(
            list.iter()
                .map(|m| (m.version, m.description, m.file))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        versions[0], versions[1],
        "SQLite and PostgreSQL have the same migrations"
    );
}

async fn reconnecting_applies_nothing_twice(dialect: Dialect) {
    let db = TestDatabase::create(dialect).await;
    let first = db.connect().await;
    let mut tx = first.begin().await.unwrap();
    tx.users().insert(&crate::fixtures::user("alice")).await.unwrap();
    tx.commit().await.unwrap();
    first.close().await;
    let second = db.connect().await;
    assert_eq!(second.users().count().await.unwrap(), 1);
    assert_eq!(second.dialect(), dialect);
    second.close().await;
    db.destroy().await;
}

#[tokio::test]
async fn reconnecting_applies_nothing_twice_on_sqlite() {
    reconnecting_applies_nothing_twice(Dialect::Sqlite).await;
}

#[tokio::test]
async fn reconnecting_applies_nothing_twice_on_postgres() {
    reconnecting_applies_nothing_twice(Dialect::Postgres).await;
}

#[tokio::test]
async fn nodes_starting_together_on_postgres_migrate_once() {
    let db = TestDatabase::create(Dialect::Postgres).await;
    let url = db.url().to_owned();
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { Store::connect(&url).await })
        })
        .collect();
    for node in nodes {
        let store = node.await.unwrap().unwrap();
        assert!(store.is_empty().await.unwrap());
        store.close().await;
    }
    db.destroy().await;
}

#[tokio::test]
async fn a_sqlite_database_is_created_where_the_url_points() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.db");
    for url in [
        path.display().to_string(),
        format!("sqlite:{}", path.display()),
        format!("sqlite://{}", path.display()),
    ] {
        let store = Store::connect(&url).await.unwrap();
        assert_eq!(store.dialect(), Dialect::Sqlite);
        store.close().await;
    }
    assert!(path.exists());
    let err = Store::connect("sqlite::memory:").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("expected the path of a SQLite database file"),
        "{err}"
    );
    let err = Store::connect(&dir.path().join("missing/dir/x.db").display().to_string())
        .await
        .unwrap_err();
    assert!(!err.to_string().is_empty());
}

/// 0008 and 0010 rebuild SQLite's `system_log` (no AUTOINCREMENT; the unused `at` and `type`
/// indexes, then the id's unique index, gone): every event stays, in order, positions included;
/// the log stays append-only; new events follow the last.
#[test]
fn the_lighter_system_log_keeps_every_event_where_it_was() {
    let sqlite = migration_lists()
        .into_iter()
        .find(|(d, _)| *d == Dialect::Sqlite)
        .map(|(_, files)| files)
        .unwrap();
    let db = rusqlite::Connection::open_in_memory().unwrap();
    for m in sqlite.iter().filter(|m| m.version < 8) {
        db.execute_batch(m.sql).unwrap();
    }
    let insert = "INSERT INTO system_log (seq, id, at, event_type, actor_type, outcome, target_user_id, details) \
                  VALUES (?1, ?2, ?3, ?4, 'system', 'success', ?5, '{}')";
    let before = [
        (1_i64, "e-1", 1000_i64, "user.session.start", Some("u-1")),
        (2, "e-2", 1001, "user.authentication.verify", None),
        (7, "e-7", 1005, "policy.evaluate", Some("u-1")),
    ];
    for (seq, id, at, kind, user) in before {
        db.execute(insert, rusqlite::params![seq, id, at, kind, user])
            .unwrap();
    }
    for lighter in sqlite.iter().filter(|m| m.version >= 8) {
        db.execute_batch(lighter.sql).unwrap();
    }

    let read = |db: &rusqlite::Connection| -> Vec<(i64, String, i64, String, Option<String>)> {
        let mut q = db
            .prepare("SELECT seq, id, at, event_type, target_user_id FROM system_log ORDER BY seq")
            .unwrap();
        q.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let expected: Vec<_> = before
        .iter()
        .map(|(seq, id, at, kind, user)| {
            (
                *seq,
                id.to_string(),
                *at,
                kind.to_string(),
                user.map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(read(&db), expected);
    for refused in [
        "DELETE FROM system_log",
        "UPDATE system_log SET outcome = 'failure'",
    ] {
        let e = db.execute(refused, []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{refused}: {e}");
    }
    db.execute(
        "INSERT INTO system_log (id, at, event_type, actor_type, outcome, details) \
         VALUES ('e-next', 1006, 'user.session.end', 'system', 'success', '{}')",
        [],
    )
    .unwrap();
    let next: i64 = db
        .query_row("SELECT seq FROM system_log WHERE id = 'e-next'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(next, 8, "the next event follows the last one");
    let mut q = db
        .prepare(
            "SELECT name FROM sqlite_schema WHERE tbl_name = 'system_log' AND type = 'index' ORDER BY name",
        )
        .unwrap();
    let indexes: Vec<String> = q
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, ["system_log_user"]);
}
