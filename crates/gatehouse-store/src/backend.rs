//! The two databases behind one seam. This module and its children are the only places that know
//! which database runs: [`Pools`] and [`TxInner`] hold either backend, and the functions below
//! dispatch a [`Query`] to it. Everything else is written once against [`crate::sql::Exec`].

pub(crate) mod postgres;
pub(crate) mod sqlite;

use sqlx::{Decode, Postgres, Type};

use crate::StoreError;
use crate::sql::{Query, Row};

/// The connection pool of the database in use.
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    Sqlite(sqlite::Pool),
    Postgres(sqlx::PgPool),
}

/// An open write transaction.
#[derive(Debug)]
pub(crate) enum TxInner {
    Sqlite(sqlite::Tx),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// An open read snapshot: a read transaction on SQLite; on PostgreSQL, whose statements each
/// take their own snapshot anyway and a transaction would cost two more round trips, the pool.
#[derive(Debug)]
pub(crate) enum ReadInner {
    Sqlite(sqlite::Read),
    Postgres(sqlx::PgPool),
    /// The reads of a write transaction that reads first (`Store::read_then_write`).
    Tx(TxInner),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// `postgres://…` and `postgresql://…` name PostgreSQL; anything else is a SQLite path
    /// (`sqlite:PATH`, `sqlite://PATH` or a bare path).
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::Postgres
        } else {
            Self::Sqlite
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Opens the database at `url` and applies its migrations.
pub(crate) async fn connect(url: &str) -> Result<Pools, StoreError> {
    match Dialect::of_url(url) {
        Dialect::Sqlite => sqlite::connect(url).await.map(Pools::Sqlite),
        Dialect::Postgres => postgres::connect(url).await.map(Pools::Postgres),
    }
}

impl Pools {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Self::Sqlite(_) => Dialect::Sqlite,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Begins a write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is taken at once,
    /// so no reader ever has to upgrade and fail with `SQLITE_BUSY`), a plain `BEGIN` (read
    /// committed) on PostgreSQL, where races are settled by constraints and conditional updates.
    pub(crate) async fn begin(&self) -> Result<TxInner, StoreError> {
        Ok(match self {
            Self::Sqlite(pool) => TxInner::Sqlite(pool.begin().await?),
            // Boxed: sqlx's `begin` future (connection acquisition with its timeout) is 14 KB,
            // and inline it made every future that begins a transaction that large, on SQLite
            // too, copied whole at each move (the token handler's 17.5 KB, now 4.7 KB).
            Self::Postgres(pool) => TxInner::Postgres(Box::pin(pool.begin()).await?),
        })
    }

    pub(crate) fn read(&self) -> Result<ReadInner, StoreError> {
        Ok(match self {
            Self::Sqlite(pool) => ReadInner::Sqlite(pool.read()?),
            Self::Postgres(pool) => ReadInner::Postgres(pool.clone()),
        })
    }

    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(pool) => pool.close(),
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

impl TxInner {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(tx) => tx.commit().await?,
            Self::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(tx) => tx.rollback().await?,
            Self::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

pub(crate) async fn fetch_all_pooled(pools: &Pools, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
    match pools {
        Pools::Sqlite(pool) => sqlite::fetch_all(pool, query).await,
        Pools::Postgres(pool) => postgres::fetch_all(pool, query).await,
    }
}

pub(crate) async fn fetch_optional_pooled(
    pools: &Pools,
    query: Query<'_>,
) -> Result<Option<Row>, StoreError> {
    match pools {
        Pools::Sqlite(pool) => sqlite::fetch_optional(pool, query).await,
        Pools::Postgres(pool) => postgres::fetch_optional(pool, query).await,
    }
}

pub(crate) async fn execute_pooled(pools: &Pools, query: Query<'_>) -> Result<u64, StoreError> {
    match pools {
        Pools::Sqlite(pool) => sqlite::execute(pool, query).await,
        Pools::Postgres(pool) => postgres::execute(pool, query).await,
    }
}

pub(crate) async fn fetch_all_read(read: &mut ReadInner, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
    match read {
        ReadInner::Sqlite(read) => sqlite::fetch_all_read(read, query).await,
        ReadInner::Postgres(pool) => postgres::fetch_all(&*pool, query).await,
        ReadInner::Tx(tx) => fetch_all_tx(tx, query).await,
    }
}

pub(crate) async fn fetch_optional_read(
    read: &mut ReadInner,
    query: Query<'_>,
) -> Result<Option<Row>, StoreError> {
    match read {
        ReadInner::Sqlite(read) => sqlite::fetch_optional_read(read, query).await,
        ReadInner::Postgres(pool) => postgres::fetch_optional(&*pool, query).await,
        ReadInner::Tx(tx) => fetch_optional_tx(tx, query).await,
    }
}

pub(crate) async fn fetch_all_tx(tx: &mut TxInner, query: Query<'_>) -> Result<Vec<Row>, StoreError> {
    match tx {
        TxInner::Sqlite(tx) => sqlite::fetch_all_tx(tx, query).await,
        TxInner::Postgres(tx) => postgres::fetch_all(&mut **tx, query).await,
    }
}

pub(crate) async fn fetch_optional_tx(tx: &mut TxInner, query: Query<'_>) -> Result<Option<Row>, StoreError> {
    match tx {
        TxInner::Sqlite(tx) => sqlite::fetch_optional_tx(tx, query).await,
        TxInner::Postgres(tx) => postgres::fetch_optional(&mut **tx, query).await,
    }
}

pub(crate) async fn execute_tx(tx: &mut TxInner, query: Query<'_>) -> Result<u64, StoreError> {
    match tx {
        TxInner::Sqlite(tx) => sqlite::execute_tx(tx, query).await,
        TxInner::Postgres(tx) => postgres::execute(&mut **tx, query).await,
    }
}

/// Reads one column of a PostgreSQL row.
pub(crate) fn get_pg<T>(row: &sqlx::postgres::PgRow, column: &str) -> Result<T, StoreError>
where
    T: for<'r> Decode<'r, Postgres> + Type<Postgres>,
{
    use sqlx::Row as _;
    row.try_get::<T, _>(column)
        .map_err(|e| StoreError::corrupt(column, e))
}

/// One numbered migration of one dialect.
#[derive(Debug, Clone, Copy)]
pub struct MigrationFile {
    pub version: i64,
    pub description: &'static str,
    /// The file name under `migrations/<dialect>/`.
    pub file: &'static str,
    pub sql: &'static str,
}

/// Builds sqlx's migrator from a dialect's list.
pub(crate) fn migrator(files: &[MigrationFile]) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    Migrator::with_migrations(
        files
            .iter()
            .map(|f| {
                Migration::new(
                    f.version,
                    f.description.into(),
                    MigrationType::Simple,
                    f.sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Both dialects' migration lists, for the test that keeps them in step with the directories.
pub fn migration_lists() -> [(Dialect, &'static [MigrationFile]); 2] {
    [
        (Dialect::Sqlite, sqlite::MIGRATIONS),
        (Dialect::Postgres, postgres::MIGRATIONS),
    ]
}
