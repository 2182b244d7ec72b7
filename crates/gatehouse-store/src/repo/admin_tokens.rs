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
    })
}

impl<E: Exec> AdminTokens<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// The unrevoked token whose secret hashes to `digest`.
    pub async fn by_digest(&mut self, digest: &str) -> Result<Option<AdminToken>, StoreError> {
        let q = query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM admin_tokens \
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
            "SELECT id, name, created_at, last_used_at, revoked_at FROM admin_tokens ORDER BY created_at, id",
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
