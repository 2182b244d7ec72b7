//! Consecutive failed sign-in verifications per user (`sign_in_failures`), for lock-out. A
//! success or an unlock resets the count.

use gatehouse_core::model::UserId;
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, query};

/// The sign-in failures repository.
#[derive(Debug)]
pub struct SignInFailures<E> {
    ex: E,
}

impl<E: Exec> SignInFailures<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// The user's consecutive failures and when the last one happened.
    pub async fn get(&mut self, user: UserId) -> Result<Option<(i64, Timestamp)>, StoreError> {
        let row = self
            .ex
            .fetch_optional(
                query("SELECT failures, last_failure_at FROM sign_in_failures WHERE user_id = $1").bind(user),
            )
            .await?;
        row.map(|r| Ok((r.int("failures")?, r.time("last_failure_at")?)))
            .transpose()
    }
}

impl SignInFailures<InTx<'_>> {
    /// Counts one more failure; returns the new count.
    pub async fn record(&mut self, user: UserId, now: Timestamp) -> Result<i64, StoreError> {
        let q = query(
            "INSERT INTO sign_in_failures (user_id, failures, last_failure_at) VALUES ($1, 1, $2) \
             ON CONFLICT (user_id) DO UPDATE SET failures = sign_in_failures.failures + 1, \
             last_failure_at = excluded.last_failure_at",
        )
        .bind(user)
        .bind(now);
        self.ex.execute(q).await?;
        let row = self
            .ex
            .fetch_optional(query("SELECT failures FROM sign_in_failures WHERE user_id = $1").bind(user))
            .await?;
        row.map_or(Ok(0), |r| r.int("failures"))
    }

    /// Forgets the user's failures (after a success or an unlock).
    pub async fn reset(&mut self, user: UserId) -> Result<(), StoreError> {
        self.ex
            .execute(query("DELETE FROM sign_in_failures WHERE user_id = $1").bind(user))
            .await?;
        Ok(())
    }
}
