//! Global sessions (DESIGN section 6): the `gh_session` cookie, finding the live session of a
//! request, and ending sessions (which also revokes the refresh tokens issued from them and the
//! admin console's tokens bound to them).
//!
//! The cookie holds a random 256-bit token; the database keeps only its SHA-256 digest.

use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse_core::model::{
    Actor, EndReason, Outcome, Session, SessionId, User, VerificationRecord, event_types,
};
use gatehouse_store::Tx;
use jiff::Timestamp;

use crate::audit::Event;
use crate::{AppState, ServerError};

/// The session cookie's name.
pub const COOKIE: &str = "gh_session";

/// A session that is live now, with its user and verification records.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub session: Session,
    pub user: User,
    pub records: Vec<VerificationRecord>,
}

/// The `gh_session` token of a request, if it sent one.
pub fn token_from_headers(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The live session of a request: its cookie names a session that has not ended or timed out,
/// whose user may still sign in. Marks it used (idle timeout restarts), at most once a minute.
pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> Result<Option<LiveSession>, ServerError> {
    let Some(token) = token_from_headers(headers) else {
        return Ok(None);
    };
    from_token(state, &token).await
}

/// The live session whose cookie token is `token`.
pub async fn from_token(state: &AppState, token: &str) -> Result<Option<LiveSession>, ServerError> {
    let now = state.now();
    let store = state.store();
    let Some(session) = store
        .sessions()
        .by_token_digest(&crate::handle::key(token))
        .await?
    else {
        return Ok(None);
    };
    if !session.is_live(now) {
        return Ok(None);
    }
    let Some(user) = store.users().get(session.user_id).await? else {
        return Ok(None);
    };
    if !user.status.can_sign_in() {
        return Ok(None);
    }
    let records = store.sessions().records(session.id).await?;
    let mut session = session;
    if now.as_second() - session.last_seen_at.as_second() >= 60 {
        let mut tx = store.begin().await?;
        tx.sessions().touch(session.id, now).await?;
        tx.commit().await?;
        session.last_seen_at = now;
    }
    Ok(Some(LiveSession {
        session,
        user,
        records,
    }))
}

/// Ends one session and revokes the refresh tokens issued from it, with a log event; false when
/// it had already ended.
pub async fn end(
    state: &AppState,
    id: SessionId,
    reason: EndReason,
    actor: Actor,
) -> Result<bool, ServerError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let ended = end_in(&mut tx, id, reason, actor, now).await?;
    tx.commit().await?;
    Ok(ended)
}

/// [`end`] inside a caller's transaction (a lock-out, a deactivation).
pub async fn end_in(
    tx: &mut Tx,
    id: SessionId,
    reason: EndReason,
    actor: Actor,
    now: Timestamp,
) -> Result<bool, ServerError> {
    let Some(session) = tx.sessions().get(id).await? else {
        return Ok(false);
    };
    let ended = tx.sessions().end(id, reason, now).await?;
    if ended {
        crate::oidc::on_session_end(tx, id, session.user_id, now).await?;
        // The admin console's tokens die with their session.
        tx.admin_tokens().revoke_of_session(&id.to_string(), now).await?;
        Event::new(event_types::USER_SESSION_END, actor, Outcome::Success)
            .user(session.user_id)
            .detail("session_id", id.to_string())
            .detail("reason", reason.as_str())
            .append(tx, now)
            .await?;
    }
    Ok(ended)
}

/// Ends every open session of a user inside a caller's transaction; returns how many.
pub async fn end_all_of_user_in(
    tx: &mut Tx,
    user: gatehouse_core::model::UserId,
    reason: EndReason,
    actor: Actor,
    now: Timestamp,
) -> Result<u64, ServerError> {
    let mut count = 0;
    for session in tx.sessions().open_of_user(user).await? {
        if end_in(tx, session.id, reason, actor.clone(), now).await? {
            count += 1;
        }
    }
    Ok(count)
}

/// The `Set-Cookie` value that stores `token`; persistent until `expires` when given (keep me
/// signed in), else a browser-session cookie. Secure when the issuer is https.
pub fn set_cookie(state: &AppState, token: &str, expires: Option<Timestamp>) -> HeaderValue {
    let mut cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax");
    if state.issuer().is_https() {
        cookie.push_str("; Secure");
    }
    if let Some(expires) = expires {
        let max_age = (expires.as_second() - state.now().as_second()).max(0);
        cookie.push_str(&format!("; Max-Age={max_age}"));
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("gh_session=; Path=/"))
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> HeaderValue {
    let secure = if state.issuer().is_https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("gh_session=; Path=/; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_token_is_read_from_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; gh_session=tok123; b=2"),
        );
        assert_eq!(token_from_headers(&headers).as_deref(), Some("tok123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("gh_session_other=x"));
        assert_eq!(token_from_headers(&headers), None);
    }
}
