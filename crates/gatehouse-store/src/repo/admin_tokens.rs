//! Admin API tokens (`admin_tokens`): stored as SHA-256 digests only. A token is looked up by
//! its digest; a revoked token stays listed but no longer authenticates.

use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// An admin API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminToken {
    /// A UUID; appears as the actor of the log events the token causes.
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// For a console token: the session it was issued to (it authenticates only while that
    /// session is live), the session's user, and when it stops working.
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub expires_at: Option<Timestamp>,
}

/// A token bound to a signed-in administrator's session (the admin console's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenBinding<'a> {
    pub session_id: &'a str,
    pub user_id: &'a str,
    pub expires_at: Timestamp,
}

/// The admin-tokens repository.
#[derive(Debug)]
pub struct AdminTokens<E> {
    ex: E,
}

fn token_from_row(row: &Row) -> Result<AdminToken, StoreError> {
    Ok(AdminToken {
        id: row.text("id")?,
        name: row.text("name")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
        revoked_at: row.opt_time("revoked_at")?,
        session_id: row.opt_text("session_id")?,
        user_id: row.opt_text("user_id")?,
        expires_at: row.opt_time("expires_at")?,
    })
}

impl<E: Exec> AdminTokens<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// The unrevoked token whose secret hashes to `digest`.
    pub async fn by_digest(&mut self, digest: &str) -> Result<Option<AdminToken>, StoreError> {
        let q = query(
            "SELECT id, name, created_at, last_used_at, revoked_at, session_id, user_id, expires_at FROM admin_tokens \
             WHERE token_digest = $1 AND revoked_at IS NULL",
        )
        .bind(digest);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    /// Every token, oldest first.
    pub async fn list(&mut self) -> Result<Vec<AdminToken>, StoreError> {
        let q = query(
            "SELECT id, name, created_at, last_used_at, revoked_at, session_id, user_id, expires_at FROM admin_tokens ORDER BY created_at, id",
        );
        let rows = self.ex.fetch_all(q).await?;
        rows.iter().map(token_from_row).collect()
    }

    /// How many tokens can authenticate.
    pub async fn count_active(&mut self) -> Result<i64, StoreError> {
        let row = self
            .ex
            .fetch_optional(query(
                "SELECT COUNT(*) AS n FROM admin_tokens WHERE revoked_at IS NULL",
            ))
            .await?;
        row.map_or(Ok(0), |r| r.int("n"))
    }
}

impl AdminTokens<InTx<'_>> {
    /// Stores a token's digest; false when a token with this digest already exists.
    pub async fn insert(
        &mut self,
        id: &str,
        name: &str,
        digest: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = query(
            "INSERT INTO admin_tokens (id, name, token_digest, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (token_digest) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(digest)
        .bind(now);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Stores the digest of a console token bound to a session; false when the digest exists.
    pub async fn insert_for_session(
        &mut self,
        id: &str,
        name: &str,
        digest: &str,
        binding: &AdminTokenBinding<'_>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = query(
            "INSERT INTO admin_tokens (id, name, token_digest, created_at, session_id, user_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (token_digest) DO NOTHING",
        )
        .bind(id)
        .bind(name)
        .bind(digest)
        .bind(now)
        .bind(binding.session_id)
        .bind(binding.user_id)
        .bind(binding.expires_at);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Revokes every unrevoked token bound to `session_id`; returns how many.
    pub async fn revoke_of_session(&mut self, session_id: &str, now: Timestamp) -> Result<u64, StoreError> {
        let q = query("UPDATE admin_tokens SET revoked_at = $2 WHERE session_id = $1 AND revoked_at IS NULL")
            .bind(session_id)
            .bind(now);
        self.ex.execute(q).await
    }

    /// Records a use (callers do it at most once a minute per token).
    pub async fn touch(&mut self, id: &str, now: Timestamp) -> Result<(), StoreError> {
        self.ex
            .execute(
                query("UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(now),
            )
            .await?;
        Ok(())
    }

    /// Revokes a token; false when unknown or already revoked.
    pub async fn revoke(&mut self, id: &str, now: Timestamp) -> Result<bool, StoreError> {
        let q = query("UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now);
        Ok(self.ex.execute(q).await? == 1)
    }
}
