//! `StoreError`: the crate's one error type. It says what went wrong in storage terms (a
//! duplicate, a stale version, a row that no longer parses, the database being unreachable);
//! the edge decides what status each becomes.

/// Everything storage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write: another record already has this `field`.
    #[error("another record already has this {field}")]
    Duplicate { field: &'static str },

    /// A delete or update refused because other records still refer to this one.
    #[error("the {what} is still in use")]
    InUse { what: &'static str },

    /// An optimistic-concurrency update lost: the record changed since it was read.
    #[error("the {what} was changed by someone else; read it again")]
    Stale { what: &'static str },

    /// The database refused a value (PostgreSQL's data exceptions, such as NUL in text).
    #[error("the database refused a value: {0}")]
    InvalidValue(String),

    /// The database is busy (SQLite lock held too long, PostgreSQL serialization failure).
    #[error("the database is busy; try again")]
    Busy,

    /// A stored value does not parse as its type: the data was changed outside Gatehouse.
    #[error("stored {column} is corrupt: {reason}")]
    Corrupt { column: String, reason: String },

    /// The database URL is not usable.
    #[error("database URL `{url}` is not valid: {reason}")]
    Url { url: String, reason: String },

    /// Applying migrations failed (an edited migration, a database from a newer Gatehouse).
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// Any other database failure (connection lost, disk full).
    #[error("database error: {0}")]
    Database(sqlx::Error),

    /// Any other SQLite failure (disk full, file unreadable).
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),

    /// The operating system refused something storage needs (a thread, a file).
    #[error("storage could not start: {0}")]
    Io(String),

    /// The store was closed (shutting down).
    #[error("the database is closed")]
    Closed,

    /// A write was attempted through a read snapshot ([`crate::Read`]); writes go through a
    /// [`crate::Tx`].
    #[error("a read snapshot does not write")]
    ReadOnly,
}

impl StoreError {
    /// The same failure again, for each transaction of a SQLite group commit that shared it.
    pub(crate) fn shared(&self) -> Self {
        match self {
            Self::Busy => Self::Busy,
            Self::Closed => Self::Closed,
            Self::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
                Self::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
            }
            other => Self::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
                Some(other.to_string()),
            )),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => Self::Busy,
            _ => Self::Sqlite(error),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            // PostgreSQL: class 22 is "data exception" (bad encoding, NUL, out of range);
            // 40001/40P01 are serialization failure and deadlock. SQLite: 5 BUSY, 6 LOCKED.
            let code = db.code().unwrap_or_default();
            if code.starts_with("22") {
                return Self::InvalidValue(db.message().to_owned());
            }
            if matches!(code.as_ref(), "40001" | "40P01" | "5" | "6" | "517" | "262") {
                return Self::Busy;
            }
        }
        Self::Database(error)
    }
}

impl StoreError {
    /// Turns a unique-constraint failure into [`StoreError::Duplicate`] naming `field`.
    pub(crate) fn unique_as(self, field: &'static str) -> Self {
        match &self {
            Self::Database(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Self::Duplicate { field }
            }
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                ) =>
            {
                Self::Duplicate { field }
            }
            _ => self,
        }
    }

    /// Turns a foreign-key failure into [`StoreError::InUse`] naming `what`.
    pub(crate) fn foreign_key_as(self, what: &'static str) -> Self {
        match &self {
            // SQLite reports an `ON DELETE RESTRICT` refusal as a trigger constraint (1811).
            Self::Database(sqlx::Error::Database(db))
                if db.is_foreign_key_violation()
                    || db.message().contains("FOREIGN KEY constraint failed") =>
            {
                Self::InUse { what }
            }
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, message))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
                    || message
                        .as_deref()
                        .is_some_and(|m| m.contains("FOREIGN KEY constraint failed")) =>
            {
                Self::InUse { what }
            }
            _ => self,
        }
    }

    pub(crate) fn corrupt(column: &str, reason: impl ToString) -> Self {
        Self::Corrupt {
            column: column.to_owned(),
            reason: reason.to_string(),
        }
    }
}
