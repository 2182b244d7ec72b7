//! The storage conformance suite: every test runs against SQLite and against PostgreSQL, each on
//! a fresh database (`gatehouse_store::testing`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fixtures;

mod directory;
mod log;
mod migrations;
mod oauth;
mod policies;
mod risk;
mod sessions;
mod sign_in;
mod transactions;

/// Declares tests written once as `async fn NAME(store: Store)` and runs each on both backends:
/// `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                gatehouse_store::testing::TestDatabase::run(gatehouse_store::Dialect::Sqlite, super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                gatehouse_store::testing::TestDatabase::run(gatehouse_store::Dialect::Postgres, super::$name).await;
            }
        }
    )+};
}
pub(crate) use on_both_backends;
