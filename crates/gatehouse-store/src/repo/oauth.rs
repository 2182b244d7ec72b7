//! The OpenID Connect provider's records: authorization codes (`oauth_codes`), refresh-token
//! families (`oauth_refresh_families`), signing keys (`signing_keys`) and revoked access tokens
//! (`revoked_tokens`). A code is stored under the SHA-256 digest of the value handed out; a
//! refresh-token family, one per sign-in, under its id, with the digest of its current token.
//! Single use and rotation are atomic switches (`UPDATE … WHERE <still unused>`), so of two nodes
//! redeeming the same code or token at once exactly one wins.

use gatehouse_core::model::{SessionId, UserId};
use jiff::Timestamp;

use crate::StoreError;
use crate::sql::{Exec, InTx, Row, query};

/// An authorization code.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRow {
    /// The key the code is stored under (the server's `handle`: its time-ordered prefix and
    /// SHA-256, or for codes of earlier versions the SHA-256 alone).
    pub digest: String,
    pub client_id: String,
    pub user_id: UserId,
    pub session_id: Option<SessionId>,
    /// What the code grants (request, records, auth_time): the JSON text the provider wrote,
    /// which it parses straight into its own type.
    pub grant: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub redeemed_at: Option<Timestamp>,
    /// The refresh-token family issued when it was redeemed (revoked if the code is replayed).
    pub family_id: Option<String>,
}

/// A refresh-token family: the chain of tokens one sign-in's refreshes rotate through, of which
/// only the current one is stored (as its digest).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshRow {
    pub family_id: String,
    /// SHA-256 (hex) of the family's current token.
    pub digest: String,
    pub client_id: String,
    pub user_id: UserId,
    pub session_id: Option<SessionId>,
    pub scope: String,
    /// `active` or `revoked`.
    pub status: String,
    /// What the family grants, as JSON text (as [`CodeRow::grant`]).
    pub grant: String,
    /// When the family began (the code's redemption).
    pub created_at: Timestamp,
    /// When the current token was issued.
    pub issued_at: Timestamp,
    /// When the current token expires.
    pub expires_at: Timestamp,
}

/// A signing key, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub kid: String,
    /// `ES256` or `RS256`.
    pub algorithm: String,
    /// The PKCS#8 DER sealed with the master keyring.
    pub sealed: String,
    /// `active` or `retiring`.
    pub status: String,
    pub created_at: Timestamp,
    /// For a retiring key: published until then.
    pub not_after: Option<Timestamp>,
}

/// The OAuth repository.
#[derive(Debug)]
pub struct OAuth<E> {
    ex: E,
}

fn code_from_row(row: &Row) -> Result<CodeRow, StoreError> {
    Ok(CodeRow {
        digest: row.text("digest")?,
        client_id: row.text("client_id")?,
        user_id: row.parse("user_id", UserId::parse)?,
        session_id: row.opt_parse("session_id", SessionId::parse)?,
        grant: row.text("grant_data")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
        redeemed_at: row.opt_time("redeemed_at")?,
        family_id: row.opt_text("family_id")?,
    })
}

fn refresh_from_row(row: &Row) -> Result<RefreshRow, StoreError> {
    Ok(RefreshRow {
        family_id: row.text("id")?,
        digest: row.text("digest")?,
        client_id: row.text("client_id")?,
        user_id: row.parse("user_id", UserId::parse)?,
        session_id: row.opt_parse("session_id", SessionId::parse)?,
        scope: row.text("scope")?,
        status: row.text("status")?,
        grant: row.text("grant_data")?,
        created_at: row.time("created_at")?,
        issued_at: row.time("issued_at")?,
        expires_at: row.time("expires_at")?,
    })
}

fn key_from_row(row: &Row) -> Result<SigningKeyRow, StoreError> {
    Ok(SigningKeyRow {
        kid: row.text("kid")?,
        algorithm: row.text("algorithm")?,
        sealed: row.text("sealed")?,
        status: row.text("status")?,
        created_at: row.time("created_at")?,
        not_after: row.opt_time("not_after")?,
    })
}

impl<E: Exec> OAuth<E> {
    pub(crate) fn new(ex: E) -> Self {
        Self { ex }
    }

    /// The code stored under `digest`, redeemed or not.
    pub async fn code(&mut self, digest: &str) -> Result<Option<CodeRow>, StoreError> {
        let q = query(
            "SELECT digest, client_id, user_id, session_id, grant_data, created_at, expires_at, \
             redeemed_at, family_id FROM oauth_codes WHERE digest = $1",
        )
        .bind(digest);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(code_from_row)
            .transpose()
    }

    /// The refresh-token family `family_id`, whatever its status.
    pub async fn refresh_family(&mut self, family_id: &str) -> Result<Option<RefreshRow>, StoreError> {
        let q = query(
            "SELECT id, digest, client_id, user_id, session_id, scope, status, grant_data, \
             created_at, issued_at, expires_at FROM oauth_refresh_families WHERE id = $1",
        )
        .bind(family_id);
        self.ex
            .fetch_optional(q)
            .await?
            .as_ref()
            .map(refresh_from_row)
            .transpose()
    }

    /// Every signing key, newest first.
    pub async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRow>, StoreError> {
        let q = query(
            "SELECT kid, algorithm, sealed, status, created_at, not_after FROM signing_keys \
             ORDER BY created_at DESC, kid",
        );
        self.ex.fetch_all(q).await?.iter().map(key_from_row).collect()
    }

    /// Whether the access token `jti` was revoked.
    pub async fn is_revoked(&mut self, jti: &str) -> Result<bool, StoreError> {
        let q = query("SELECT jti FROM revoked_tokens WHERE jti = $1").bind(jti);
        Ok(self.ex.fetch_optional(q).await?.is_some())
    }
}

impl OAuth<InTx<'_>> {
    pub async fn insert_code(&mut self, code: &CodeRow) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO oauth_codes (digest, client_id, user_id, session_id, grant_data, created_at, \
             expires_at, redeemed_at, family_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(code.digest.as_str())
        .bind(code.client_id.as_str())
        .bind(code.user_id)
        .bind(code.session_id)
        .bind(code.grant.as_str())
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(code.redeemed_at)
        .bind(code.family_id.as_deref());
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Marks the code used; false when it already was (the caller lost, or the code is replayed).
    pub async fn redeem_code(
        &mut self,
        digest: &str,
        now: Timestamp,
        family_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE oauth_codes SET redeemed_at = $2, family_id = $3 WHERE digest = $1 AND redeemed_at IS NULL",
        )
        .bind(digest)
        .bind(now)
        .bind(family_id);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Forgets codes that expired before `now`; returns how many.
    pub async fn purge_codes(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        self.ex
            .execute(query("DELETE FROM oauth_codes WHERE expires_at < $1").bind(now))
            .await
    }

    /// Begins a family with its first token.
    pub async fn insert_refresh_family(&mut self, token: &RefreshRow) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO oauth_refresh_families (id, digest, client_id, user_id, session_id, scope, \
             status, grant_data, created_at, issued_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(token.family_id.as_str())
        .bind(token.digest.as_str())
        .bind(token.client_id.as_str())
        .bind(token.user_id)
        .bind(token.session_id)
        .bind(token.scope.as_str())
        .bind(token.status.as_str())
        .bind(token.grant.as_str())
        .bind(token.created_at)
        .bind(token.issued_at)
        .bind(token.expires_at);
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Replaces an active family's current token `digest` with `next` (issued at `now`, expiring
    /// at `expires_at`); false when `digest` was not the current token of an active family any
    /// more (a replay, or a concurrent refresh that won).
    pub async fn rotate_refresh_token(
        &mut self,
        family_id: &str,
        digest: &str,
        next: &str,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let q = query(
            "UPDATE oauth_refresh_families SET digest = $3, issued_at = $4, expires_at = $5 \
             WHERE id = $1 AND digest = $2 AND status = 'active'",
        )
        .bind(family_id)
        .bind(digest)
        .bind(next)
        .bind(now)
        .bind(expires_at);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Revokes a family (every token it ever had); returns 1 if it was not revoked yet, else 0.
    pub async fn revoke_family(&mut self, family_id: &str) -> Result<u64, StoreError> {
        let q = query(
            "UPDATE oauth_refresh_families SET status = 'revoked' WHERE id = $1 AND status <> 'revoked'",
        )
        .bind(family_id);
        self.ex.execute(q).await
    }

    /// Revokes every refresh-token family issued from a session; returns how many.
    pub async fn revoke_of_session(&mut self, session: SessionId) -> Result<u64, StoreError> {
        let q = query(
            "UPDATE oauth_refresh_families SET status = 'revoked' WHERE session_id = $1 AND status <> 'revoked'",
        )
        .bind(session);
        self.ex.execute(q).await
    }

    pub async fn insert_signing_key(&mut self, key: &SigningKeyRow) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO signing_keys (kid, algorithm, sealed, status, created_at, not_after) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.kid.as_str())
        .bind(key.algorithm.as_str())
        .bind(key.sealed.as_str())
        .bind(key.status.as_str())
        .bind(key.created_at)
        .bind(key.not_after);
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Makes the active keys of `algorithm` retiring, published until `not_after`; returns how many.
    pub async fn retire_signing_keys(
        &mut self,
        algorithm: &str,
        not_after: Timestamp,
    ) -> Result<u64, StoreError> {
        let q = query(
            "UPDATE signing_keys SET status = 'retiring', not_after = $2 WHERE algorithm = $1 AND status = 'active'",
        )
        .bind(algorithm)
        .bind(not_after);
        self.ex.execute(q).await
    }

    /// Deletes retiring keys whose `not_after` has passed; returns how many.
    pub async fn purge_signing_keys(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let q = query("DELETE FROM signing_keys WHERE status = 'retiring' AND not_after < $1").bind(now);
        self.ex.execute(q).await
    }

    /// Re-seals a key (after a master-key rotation).
    pub async fn reseal_signing_key(&mut self, kid: &str, sealed: &str) -> Result<bool, StoreError> {
        let q = query("UPDATE signing_keys SET sealed = $2 WHERE kid = $1")
            .bind(kid)
            .bind(sealed);
        Ok(self.ex.execute(q).await? == 1)
    }

    /// Denies an access token until it would expire anyway.
    pub async fn revoke_access_token(&mut self, jti: &str, expires_at: Timestamp) -> Result<(), StoreError> {
        let q = query(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at);
        self.ex.execute(q).await?;
        Ok(())
    }

    /// Forgets revoked ids whose tokens expired before `now`.
    pub async fn purge_revoked(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        self.ex
            .execute(query("DELETE FROM revoked_tokens WHERE expires_at < $1").bind(now))
            .await
    }
}
