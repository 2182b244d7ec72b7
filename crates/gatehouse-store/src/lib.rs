//! Durable storage for everything the engine reads and writes, on SQLite (the embedded
//! default) or PostgreSQL, behind one interface.
//!
//! Open a [`Store`] with [`Store::connect`] (migrations are applied on the way). Read through
//! its repositories (`store.users().get(id)`), write inside a [`Tx`]
//! (`let mut tx = store.begin().await?; …; tx.commit().await?`).
//!
//! Layout:
//! - `store`: [`Store`], [`Tx`], [`new_id`] and the list of repositories.
//! - `repo`: one repository per kind of record, written once for both databases.
//! - `sql`: the executor seam the repositories use ([`sql::Exec`], queries, rows).
//! - `backend`: the two databases — connecting, migrating, beginning transactions, running
//!   queries. The only code that knows which database is in use.
//! - `nodes`: several nodes on one database — change announcements (`NOTIFY`) and the start lock.
//! - `page`: keyset paging ([`PageRequest`], [`Page`]).
//! - `error`: [`StoreError`].
//!
//! Migrations live in `migrations/sqlite` and `migrations/postgres`, numbered and append-only;
//! see ARCHITECTURE.md for how to add one.

mod backend;
mod error;
mod nodes;
mod page;
pub mod repo;
pub mod sql;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use backend::{Dialect, MigrationFile, migration_lists};
pub use error::StoreError;
pub use nodes::{Change, Changes, Heard, StartLock};
pub use page::{Page, PageError, PageRequest};
pub use repo::{
    AdminToken, AdminTokenBinding, BackchannelLogout, CodeRow, ContextKind, LogFilter, Places, RefreshRow,
    SigningKeyRow, StoredChallenge, UserFilter, UserRiskRow,
};
pub use store::{Read, Store, Tx, new_id};
