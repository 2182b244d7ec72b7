//! The executor seam the repositories are written against: a [`Query`] (SQL text with `$N`
//! placeholders and typed parameters), a [`Row`] with typed accessors, and [`Exec`], implemented
//! by [`Pooled`] (a statement on its own, from the pool) and [`InTx`] (inside a transaction).
//!
//! Repositories never learn which database runs the query: both dialects accept the same `$N`
//! placeholders, `ON CONFLICT`, `RETURNING` and `lower()`, and the schema uses only text,
//! 64-bit integers and booleans. The backends run a [`Query`] (rusqlite on SQLite, sqlx on
//! PostgreSQL) and wrap their rows in [`Row`].

use std::borrow::Cow;
use std::future::Future;

use gatehouse_core::model as m;
use jiff::Timestamp;

use crate::StoreError;
use crate::backend::{self, Pools, ReadInner, TxInner};

/// SQL text: static for fixed statements, owned for statements assembled from filters (whose
/// values are still bound as parameters, never spliced in).
#[derive(Debug)]
pub(crate) enum Sql {
    Static(&'static str),
    Built(String),
}

/// A typed query parameter. Nulls carry their type: PostgreSQL needs it.
#[derive(Debug, Clone)]
pub enum Param<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

/// A statement and its parameters.
#[derive(Debug)]
pub struct Query<'a> {
    pub(crate) sql: Sql,
    pub(crate) params: Vec<Param<'a>>,
}

/// Starts a query from fixed SQL text.
pub(crate) fn query<'a>(sql: &'static str) -> Query<'a> {
    Query {
        sql: Sql::Static(sql),
        params: Vec::new(),
    }
}

impl<'a> Query<'a> {
    /// The same query owning its parameters (to hand to another thread).
    pub(crate) fn into_owned(self) -> Query<'static> {
        Query {
            sql: self.sql,
            params: self
                .params
                .into_iter()
                .map(|p| match p {
                    Param::Text(v) => Param::Text(v.map(|t| Cow::Owned(t.into_owned()))),
                    Param::Int(v) => Param::Int(v),
                    Param::Bool(v) => Param::Bool(v),
                })
                .collect(),
        }
    }

    /// A statement assembled at run time (filters, paging). Its values must be bound with
    /// [`Query::bind`], never formatted into `sql`.
    pub(crate) fn built(sql: String) -> Self {
        Self {
            sql: Sql::Built(sql),
            params: Vec::new(),
        }
    }

    /// Binds the next `$N` parameter.
    pub(crate) fn bind(mut self, value: impl Into<Param<'a>>) -> Self {
        self.params.push(value.into());
        self
    }

    /// Binds a value as JSON text.
    pub(crate) fn bind_json(self, value: &impl serde::Serialize) -> Self {
        let text = serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
        self.bind(text)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Self::Text(Some(Cow::Borrowed(value)))
    }
}

impl From<String> for Param<'_> {
    fn from(value: String) -> Self {
        Self::Text(Some(Cow::Owned(value)))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Self::Text(value.map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Param<'_> {
    fn from(value: Option<String>) -> Self {
        Self::Text(value.map(Cow::Owned))
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Self::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Self::Bool(Some(value))
    }
}

/// Times are stored as Unix milliseconds.
impl From<Timestamp> for Param<'_> {
    fn from(value: Timestamp) -> Self {
        Self::Int(Some(value.as_millisecond()))
    }
}

impl From<Option<Timestamp>> for Param<'_> {
    fn from(value: Option<Timestamp>) -> Self {
        Self::Int(value.map(Timestamp::as_millisecond))
    }
}

macro_rules! id_params {
    ($($id:ident),+) => {$(
        impl From<m::$id> for Param<'_> {
            fn from(value: m::$id) -> Self {
                Self::Text(Some(Cow::Owned(value.to_string())))
            }
        }

        impl From<Option<m::$id>> for Param<'_> {
            fn from(value: Option<m::$id>) -> Self {
                Self::Text(value.map(|v| Cow::Owned(v.to_string())))
            }
        }
    )+};
}
id_params!(
    UserId,
    GroupId,
    AppId,
    ZoneId,
    PolicyId,
    RuleId,
    AccessRuleId,
    EnrollmentId,
    DeviceId,
    SessionId,
    FlowId,
    RecordId,
    EventId
);

/// A result row of either backend, read through typed accessors that name the column on error.
#[derive(Debug)]
pub enum Row {
    Sqlite(backend::sqlite::SqliteRow),
    Postgres(sqlx::postgres::PgRow),
}

impl Row {
    pub(crate) fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self {
            Self::Sqlite(row) => row.opt_text(column),
            Self::Postgres(row) => backend::get_pg::<Option<String>>(row, column),
        }
    }

    pub(crate) fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?
            .ok_or_else(|| StoreError::corrupt(column, "it is null"))
    }

    pub(crate) fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self {
            Self::Sqlite(row) => row.opt_int(column),
            Self::Postgres(row) => backend::get_pg::<Option<i64>>(row, column),
        }
    }

    pub(crate) fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_int(column)?
            .ok_or_else(|| StoreError::corrupt(column, "it is null"))
    }

    pub(crate) fn bool(&self, column: &str) -> Result<bool, StoreError> {
        match self {
            Self::Sqlite(row) => row.bool(column),
            Self::Postgres(row) => backend::get_pg::<bool>(row, column),
        }
    }

    pub(crate) fn time(&self, column: &str) -> Result<Timestamp, StoreError> {
        to_time(column, self.int(column)?)
    }

    pub(crate) fn opt_time(&self, column: &str) -> Result<Option<Timestamp>, StoreError> {
        self.opt_int(column)?.map(|ms| to_time(column, ms)).transpose()
    }

    /// A text column parsed with a domain parser (`Login::parse`, `UserId::parse`, …).
    pub(crate) fn parse<T, E: std::fmt::Display>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, StoreError> {
        let text = self.text(column)?;
        parse(&text).map_err(|e| StoreError::corrupt(column, e))
    }

    pub(crate) fn opt_parse<T, E: std::fmt::Display>(
        &self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_text(column)?
            .map(|text| parse(&text).map_err(|e| StoreError::corrupt(column, e)))
            .transpose()
    }

    /// A text column holding JSON.
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> Result<T, StoreError> {
        let text = self.text(column)?;
        serde_json::from_str(&text).map_err(|e| StoreError::corrupt(column, e))
    }
}

fn to_time(column: &str, ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::corrupt(column, e))
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Pooled<'_> {}
    impl Sealed for super::InTx<'_> {}
    impl Sealed for super::InRead<'_> {}
}

/// Runs queries: [`Pooled`], [`InTx`] or [`InRead`]. Sealed; repositories are generic over it so one body of
/// code serves reads outside and inside transactions.
pub trait Exec: Send + sealed::Sealed {
    fn fetch_all<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 's;

    fn fetch_optional<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send + 's;

    /// Runs a statement; returns the number of rows it affected.
    fn execute<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 's;
}

/// Statements run on their own, each on a connection from the pool (reads).
#[derive(Debug, Clone, Copy)]
pub struct Pooled<'s>(pub(crate) &'s Pools);

/// Statements run inside a transaction (every write).
#[derive(Debug)]
pub struct InTx<'t>(pub(crate) &'t mut TxInner);

/// Statements run inside a read snapshot. Reads only: repositories offer their writes on
/// [`InTx`] alone, and a statement that would write fails with [`StoreError::ReadOnly`].
#[derive(Debug)]
pub struct InRead<'r>(pub(crate) &'r mut ReadInner);

impl Exec for Pooled<'_> {
    fn fetch_all<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 's {
        backend::fetch_all_pooled(self.0, query)
    }

    fn fetch_optional<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send + 's {
        backend::fetch_optional_pooled(self.0, query)
    }

    fn execute<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 's {
        backend::execute_pooled(self.0, query)
    }
}

impl Exec for InTx<'_> {
    fn fetch_all<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 's {
        backend::fetch_all_tx(self.0, query)
    }

    fn fetch_optional<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send + 's {
        backend::fetch_optional_tx(self.0, query)
    }

    fn execute<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 's {
        backend::execute_tx(self.0, query)
    }
}

impl Exec for InRead<'_> {
    fn fetch_all<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 's {
        backend::fetch_all_read(self.0, query)
    }

    fn fetch_optional<'s>(
        &'s mut self,
        query: Query<'s>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send + 's {
        backend::fetch_optional_read(self.0, query)
    }

    fn execute<'s>(
        &'s mut self,
        _query: Query<'s>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 's {
        std::future::ready(Err(StoreError::ReadOnly))
    }
}
