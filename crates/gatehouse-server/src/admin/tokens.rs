//! Admin API tokens: random 256-bit secrets shown once, stored as SHA-256 digests
//! (`gatehouse admin token create`, `GATEHOUSE_ADMIN_TOKEN` at first start).

use gatehouse_core::model::{Actor, Outcome, event_types};
use gatehouse_crypto::{digest, random};
use gatehouse_store::Store;

use crate::ServerError;
use crate::audit::Event;

/// Prefix of generated tokens, so they are recognisable in a secret scanner.
pub const PREFIX: &str = "gha_";

/// Creates a token named `name` (with the given secret, or a random one) and returns the secret.
pub async fn create(
    store: &Store,
    name: &str,
    secret: Option<&str>,
    now: jiff::Timestamp,
) -> Result<String, ServerError> {
    let secret = secret.map_or_else(|| format!("{PREFIX}{}", random::token::<32>()), str::to_owned);
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = store.begin().await?;
    let inserted = tx
        .admin_tokens()
        .insert(&id, name, &digest::sha256_hex(secret.as_bytes()), now)
        .await?;
    if inserted {
        Event::new(event_types::ADMIN_TOKEN_CREATE, Actor::System, Outcome::Success)
            .detail("token_id", id)
            .detail("name", name)
            .append(&mut tx, now)
            .await?;
    }
    tx.commit().await?;
    Ok(secret)
}

/// At first start (no token can authenticate yet), creates the initial token from
/// `GATEHOUSE_ADMIN_TOKEN` or at random, and returns its secret to print.
pub async fn ensure_initial(
    store: &Store,
    configured: Option<&str>,
    now: jiff::Timestamp,
) -> Result<Option<String>, ServerError> {
    if store.admin_tokens().count_active().await? > 0 {
        // A configured token is honoured even after the first start (it may have been set later).
        if let Some(secret) = configured
            && store
                .admin_tokens()
                .by_digest(&digest::sha256_hex(secret.as_bytes()))
                .await?
                .is_none()
        {
            create(store, "GATEHOUSE_ADMIN_TOKEN", Some(secret), now).await?;
        }
        return Ok(None);
    }
    create(store, "initial", configured, now).await.map(Some)
}

/// The unrevoked token whose secret is `secret` (looked up by its SHA-256 digest, then compared
/// in constant time), marked as used at `now`.
pub async fn authenticate(
    store: &Store,
    secret: &str,
    now: jiff::Timestamp,
) -> Result<Option<gatehouse_store::AdminToken>, ServerError> {
    let presented = digest::sha256_hex(secret.as_bytes());
    let Some(token) = store.admin_tokens().by_digest(&presented).await? else {
        return Ok(None);
    };
    let mut tx = store.begin().await?;
    tx.admin_tokens().touch(&token.id, now).await?;
    tx.commit().await?;
    Ok(Some(token))
}

/// Revokes the token `id`; false when there is no such unrevoked token.
pub async fn revoke(store: &Store, id: &str, now: jiff::Timestamp) -> Result<bool, ServerError> {
    let mut tx = store.begin().await?;
    let revoked = tx.admin_tokens().revoke(id, now).await?;
    if revoked {
        Event::new(event_types::ADMIN_TOKEN_REVOKE, Actor::System, Outcome::Success)
            .detail("token_id", id)
            .append(&mut tx, now)
            .await?;
    }
    tx.commit().await?;
    Ok(revoked)
}
