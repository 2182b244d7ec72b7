//! PostgreSQL (`--database-url postgres://…`), for production and several nodes. Migrations run
//! under sqlx's session advisory lock (`pg_advisory_lock`, keyed by the database name), so nodes
//! starting together apply them once and the others wait, then find them applied.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Executor, Postgres};

use super::MigrationFile;
use crate::StoreError;
use crate::sql::{Param, Query, Row, Sql};

/// The PostgreSQL migrations, in order; twins of the SQLite ones (same versions and names).
pub(crate) const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile {
        version: 1,
        description: "initial schema",
        file: "0001_initial.sql",
        sql: include_str!("../../migrations/postgres/0001_initial.sql"),
    },
    MigrationFile {
        version: 2,
        description: "sign-in failures",
        file: "0002_sign_in.sql",
        sql: include_str!("../../migrations/postgres/0002_sign_in.sql"),
    },
    MigrationFile {
        version: 3,
        description: "openid connect provider",
        file: "0003_oidc.sql",
        sql: include_str!("../../migrations/postgres/0003_oidc.sql"),
    },
    MigrationFile {
        version: 4,
        description: "devices",
        file: "0004_devices.sql",
        sql: include_str!("../../migrations/postgres/0004_devices.sql"),
    },
    MigrationFile {
        version: 5,
        description: "console tokens",
        file: "0005_console_tokens.sql",
        sql: include_str!("../../migrations/postgres/0005_console_tokens.sql"),
    },
    MigrationFile {
        version: 6,
        description: "risk",
        file: "0006_risk.sql",
        sql: include_str!("../../migrations/postgres/0006_risk.sql"),
    },
    MigrationFile {
        version: 7,
        description: "scale indexes",
        file: "0007_scale_indexes.sql",
        sql: include_str!("../../migrations/postgres/0007_scale_indexes.sql"),
    },
    MigrationFile {
        version: 8,
        description: "lighter system log",
        file: "0008_lighter_system_log.sql",
        sql: include_str!("../../migrations/postgres/0008_lighter_system_log.sql"),
    },
    MigrationFile {
        version: 9,
        description: "refresh session index",
        file: "0009_refresh_session_index.sql",
        sql: include_str!("../../migrations/postgres/0009_refresh_session_index.sql"),
    },
    MigrationFile {
        version: 10,
        description: "system log without id index",
        file: "0010_system_log_without_id_index.sql",
        sql: include_str!("../../migrations/postgres/0010_system_log_without_id_index.sql"),
    },
    MigrationFile {
        version: 11,
        description: "quieter flow and session indexes",
        file: "0011_quieter_flow_and_session_indexes.sql",
        sql: include_str!("../../migrations/postgres/0011_quieter_flow_and_session_indexes.sql"),
    },
    MigrationFile {
        version: 12,
        description: "refresh families",
        file: "0012_refresh_families.sql",
        sql: include_str!("../../migrations/postgres/0012_refresh_families.sql"),
    },
    MigrationFile {
        version: 13,
        description: "ordered verification records",
        file: "0013_ordered_verification_records.sql",
        sql: include_str!("../../migrations/postgres/0013_ordered_verification_records.sql"),
    },
];

pub(crate) async fn connect(url: &str) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Url {
        url: redact(url),
        reason: e.to_string(),
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .min_connections(0)
        .idle_timeout(Some(Duration::from_secs(300)))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?;
    super::migrator(MIGRATIONS).run(&pool).await?;
    Ok(pool)
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

fn build(query: Query<'_>) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
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
    ex: impl Executor<'e, Database = Postgres>,
    query: Query<'_>,
) -> Result<Vec<Row>, StoreError> {
    let rows = build(query).fetch_all(ex).await?;
    Ok(rows.into_iter().map(Row::Postgres).collect())
}

pub(crate) async fn fetch_optional<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    query: Query<'_>,
) -> Result<Option<Row>, StoreError> {
    Ok(build(query).fetch_optional(ex).await?.map(Row::Postgres))
}

pub(crate) async fn execute<'e>(
    ex: impl Executor<'e, Database = Postgres>,
    query: Query<'_>,
) -> Result<u64, StoreError> {
    Ok(build(query).execute(ex).await?.rows_affected())
}
