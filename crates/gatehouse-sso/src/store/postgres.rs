//! The PostgreSQL backend (`--database-url postgres://…`). Write transactions are plain
//! `BEGIN` (READ COMMITTED): the races that matter (first logins, state consumption,
//! provisioning claims) are settled by unique constraints and single conditional statements.

use std::str::FromStr;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, SqlSafeStr as _, Transaction};

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgBackend {
    pool: PgPool,
}

impl PgBackend {
    /// Connects to `url` and applies the PostgreSQL migrations.
    pub async fn connect(url: &str) -> Result<Self, SsoError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect_with(options)
            .await?;
        migrator().run(&pool).await?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "initial schema".into(),
        MigrationType::Simple,
        include_str!("../../migrations/postgres/0001_initial.sql").into_sql_str(),
        false,
    )])
}

super::sql::impl_backend!(PgBackend, Postgres, sqlx::postgres::PgRow, "postgres");
