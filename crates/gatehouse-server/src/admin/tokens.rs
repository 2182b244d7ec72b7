//! Admin API tokens: random 256-bit secrets shown once, stored as SHA-256 digests
//! (`gatehouse admin token create`, `GATEHOUSE_ADMIN_TOKEN` at first start), and the admin
//! console's short-lived tokens bound to a signed-in administrator's session
//! ([`create_for_session`]): such a token authenticates only while its session is live, its user
//! may sign in and is in [`ADMINS_GROUP`], and it has not expired.

use gatehouse_core::model::{Actor, Outcome, SessionId, UserId, event_types};
use gatehouse_crypto::{digest, random};
use gatehouse_store::{AdminToken, AdminTokenBinding, Store};

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

/// The group whose members may use the admin console.
pub const ADMINS_GROUP: &str = "admins";

/// How long a console token works (the console asks for a new one when it runs out, while the
/// session lives).
pub const CONSOLE_TOKEN_SECONDS: i64 = 600;

/// A console token just created: the secret (shown once) and when it stops working.
#[derive(Debug, Clone)]
pub struct ConsoleToken {
    pub id: String,
    pub secret: String,
    pub expires_at: jiff::Timestamp,
}

/// Creates a console token for `session` of `user` (the caller checked that the session is live
/// and the user an administrator), logged as `admin.token.create` with the user as actor.
pub async fn create_for_session(
    store: &Store,
    session: SessionId,
    user: UserId,
    login: &str,
    now: jiff::Timestamp,
) -> Result<ConsoleToken, ServerError> {
    let secret = format!("{PREFIX}{}", random::token::<32>());
    let id = uuid::Uuid::now_v7().to_string();
    let expires_at = now
        .saturating_add(jiff::SignedDuration::from_secs(CONSOLE_TOKEN_SECONDS))
        .unwrap_or(now);
    let name = format!("console: {login}");
    let (session_text, user_text) = (session.to_string(), user.to_string());
    let mut tx = store.begin().await?;
    tx.admin_tokens()
        .insert_for_session(
            &id,
            &name,
            &digest::sha256_hex(secret.as_bytes()),
            &AdminTokenBinding {
                session_id: &session_text,
                user_id: &user_text,
                expires_at,
            },
            now,
        )
        .await?;
    Event::new(
        event_types::ADMIN_TOKEN_CREATE,
        Actor::User(user),
        Outcome::Success,
    )
    .user(user)
    .detail("token_id", id.clone())
    .detail("name", name)
    .detail("session_id", session_text)
    .detail("expires_at", expires_at.to_string())
    .append(&mut tx, now)
    .await?;
    tx.commit().await?;
    Ok(ConsoleToken {
        id,
        secret,
        expires_at,
    })
}

/// Whether `user` is a member of [`ADMINS_GROUP`].
pub async fn is_administrator(store: &Store, user: UserId) -> Result<bool, ServerError> {
    let Some(group) = store.groups().by_name(ADMINS_GROUP).await? else {
        return Ok(false);
    };
    Ok(store.groups().is_member(group.id, user).await?)
}

/// Whether a console token may still be used at `now`: not expired, its session live (an ended,
/// timed-out or foreign session refuses it), its user able to sign in and still an administrator.
/// Plain admin tokens are not bound and always pass.
async fn binding_holds(store: &Store, token: &AdminToken, now: jiff::Timestamp) -> Result<bool, ServerError> {
    let Some(session_id) = token.session_id.as_deref() else {
        return Ok(true);
    };
    if token.expires_at.is_none_or(|at| now >= at) {
        return Ok(false);
    }
    let (Ok(session_id), Some(Ok(user_id))) = (
        SessionId::parse(session_id),
        token.user_id.as_deref().map(UserId::parse),
    ) else {
        return Ok(false);
    };
    let Some(session) = store.sessions().get(session_id).await? else {
        return Ok(false);
    };
    if session.user_id != user_id || !session.is_live(now) {
        return Ok(false);
    }
    let Some(user) = store.users().get(user_id).await? else {
        return Ok(false);
    };
    if !user.status.can_sign_in() || !is_administrator(store, user_id).await? {
        return Ok(false);
    }
    // Working in the console is activity: the session's idle timer restarts (once a minute).
    if now.as_second() - session.last_seen_at.as_second() >= 60 {
        let mut tx = store.begin().await?;
        tx.sessions().touch(session.id, now).await?;
        tx.commit().await?;
    }
    Ok(true)
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
/// in constant time), marked as used at `now`. A console token also needs its binding to hold
/// (live session, administrator, not expired).
pub async fn authenticate(
    store: &Store,
    secret: &str,
    now: jiff::Timestamp,
) -> Result<Option<AdminToken>, ServerError> {
    let presented = digest::sha256_hex(secret.as_bytes());
    let Some(token) = store.admin_tokens().by_digest(&presented).await? else {
        return Ok(None);
    };
    if !binding_holds(store, &token, now).await? {
        return Ok(None);
    }
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
