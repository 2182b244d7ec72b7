//! SQLite, the embedded default (`./gatehouse.db`): created when missing, WAL journal (readers
//! never block the writer), `synchronous=NORMAL` (survives a process crash; an OS crash may lose
//! the last transactions), foreign keys on, a 5-second busy timeout. The pool is lazy: up to 16 connections open on
//! demand (readers run beside the one writer) and close after a minute idle, which keeps idle
//! memory low.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Executor, Sqlite};

use super::MigrationFile;
use crate::StoreError;
use crate::sql::{Param, Query, Row, Sql};

/// The SQLite migrations, in order. To add one: create `migrations/sqlite/NNNN_name.sql` and
/// append it here (and its PostgreSQL twin in `postgres.rs`). Never edit an applied one.
pub(crate) const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile {
        version: 1,
        description: "initial schema",
        file: "0001_initial.sql",
        sql: include_str!("../../migrations/sqlite/0001_initial.sql"),
    },
    MigrationFile {
        version: 2,
        description: "sign-in failures",
        file: "0002_sign_in.sql",
        sql: include_str!("../../migrations/sqlite/0002_sign_in.sql"),
    },
    MigrationFile {
        version: 3,
        description: "openid connect provider",
        file: "0003_oidc.sql",
        sql: include_str!("../../migrations/sqlite/0003_oidc.sql"),
    },
    MigrationFile {
        version: 4,
        description: "devices",
        file: "0004_devices.sql",
        sql: include_str!("../../migrations/sqlite/0004_devices.sql"),
    },
    MigrationFile {
        version: 5,
        description: "console tokens",
        file: "0005_console_tokens.sql",
        sql: include_str!("../../migrations/sqlite/0005_console_tokens.sql"),
    },
    MigrationFile {
        version: 6,
        description: "risk",
        file: "0006_risk.sql",
        sql: include_str!("../../migrations/sqlite/0006_risk.sql"),
    },
    MigrationFile {
        version: 7,
        description: "scale indexes",
        file: "0007_scale_indexes.sql",
        sql: include_str!("../../migrations/sqlite/0007_scale_indexes.sql"),
    },
];

pub(crate) async fn connect(url: &str) -> Result<SqlitePool, StoreError> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || path.contains('?') || path == ":memory:" {
        return Err(StoreError::Url {
            url: url.to_owned(),
            reason: "expected the path of a SQLite database file".to_owned(),
        });
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .map_err(|e| StoreError::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(16)
        .min_connections(0)
        .idle_timeout(Some(Duration::from_secs(60)))
        .connect_with(options)
        .await?;
    super::migrator(MIGRATIONS).run(&pool).await?;
    Ok(pool)
}

fn build(query: Query<'_>) -> sqlx::query::Query<'static, Sqlite, sqlx::sqlite::SqliteArguments> {
    let mut q = match query.sql {
        Sql::Static(sql) => sqlx::query(sql),
        Sql::Built(sql) => sqlx::query(AssertSqlSafe(sql)),
    };
    for param in &query.params {
        q = match param {
            Param::Text(v) => q.bind(v.as_deref()),
            Param::Int(v) => q.bind(*v),
            Param::Bool(v) => q.bind(*v),
        };
    }
    q
}

pub(crate) async fn fetch_all<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    query: Query<'_>,
) -> Result<Vec<Row>, StoreError> {
    let rows = build(query).fetch_all(ex).await?;
    Ok(rows.into_iter().map(Row::Sqlite).collect())
}

pub(crate) async fn fetch_optional<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    query: Query<'_>,
) -> Result<Option<Row>, StoreError> {
    Ok(build(query).fetch_optional(ex).await?.map(Row::Sqlite))
}

pub(crate) async fn execute<'e>(
    ex: impl Executor<'e, Database = Sqlite>,
    query: Query<'_>,
) -> Result<u64, StoreError> {
    Ok(build(query).execute(ex).await?.rows_affected())
}
