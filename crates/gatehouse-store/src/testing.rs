//! Test support (feature `testing`): a fresh database per test on either backend.
//!
//! SQLite databases live in a temporary directory removed on drop. PostgreSQL databases are
//! created on the server named by `GATEHOUSE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) under a random name and dropped by
//! [`TestDatabase::destroy`] — [`TestDatabase::run`] does both around a test body, even when
//! the body panics.

#![expect(
    clippy::panic,
    reason = "test support: a database that cannot be set up must fail the test loudly"
)]

use std::future::Future;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::{Dialect, Store};

/// The PostgreSQL server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists only for one test.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    dialect: Dialect,
    /// PostgreSQL: the database's name, dropped by `destroy`.
    pg_name: Option<String>,
    /// SQLite: the directory holding the file.
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A new, empty database of `dialect` (not yet migrated: [`Store::connect`] does that).
    pub async fn create(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Sqlite => Self::sqlite(),
            Dialect::Postgres => Self::postgres().await,
        }
    }

    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let url = dir.path().join("gatehouse.db").display().to_string();
        Self {
            url,
            dialect: Dialect::Sqlite,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Self {
        let admin = postgres_admin_url();
        let name = format!("gh_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL server at {admin}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
        let _ = conn.close().await;
        let mut url =
            url::Url::parse(&admin).unwrap_or_else(|e| panic!("bad test PostgreSQL URL {admin}: {e}"));
        url.set_path(&name);
        Self {
            url: url.to_string(),
            dialect: Dialect::Postgres,
            pg_name: Some(name),
            _dir: None,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Connects (and migrates).
    pub async fn connect(&self) -> Store {
        Store::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot open test database {}: {e}", self.url))
    }

    /// Runs one SQL statement on its own connection (tests that damage the database on purpose).
    pub async fn execute(&self, sql: &str) {
        let statement = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
        let done = match self.dialect {
            Dialect::Postgres => match PgConnection::connect(&self.url).await {
                Ok(mut conn) => statement.execute(&mut conn).await.map(drop),
                Err(e) => Err(e),
            },
            Dialect::Sqlite => {
                let url = format!("sqlite://{}", self.url);
                match sqlx::sqlite::SqliteConnection::connect(&url).await {
                    Ok(mut conn) => sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                        .execute(&mut conn)
                        .await
                        .map(drop),
                    Err(e) => Err(e),
                }
            }
        };
        done.unwrap_or_else(|e| panic!("cannot run `{sql}` on {}: {e}", self.url));
    }

    /// Drops a PostgreSQL database (closing other sessions first); removes a SQLite directory.
    pub async fn destroy(self) {
        if let Some(name) = &self.pg_name {
            let admin = postgres_admin_url();
            if let Ok(mut conn) = PgConnection::connect(&admin).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        }
    }

    /// Runs `body` against a fresh migrated store of `dialect`, then destroys the database, and
    /// re-raises the body's panic if it failed.
    pub async fn run<F, Fut>(dialect: Dialect, body: F)
    where
        F: FnOnce(Store) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let db = Self::create(dialect).await;
        let store = db.connect().await;
        let closer = store.clone();
        let outcome = tokio::spawn(body(store)).await;
        closer.close().await;
        db.destroy().await;
        if let Err(error) = outcome {
            if error.is_panic() {
                std::panic::resume_unwind(error.into_panic());
            }
            panic!("test task failed: {error}");
        }
    }
}
