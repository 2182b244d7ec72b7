//! The admin console `/admin` (DESIGN section 10): a single-page app over the public admin API.
//!
//! The page itself holds no data. Without a live session, `/admin` starts a Gatehouse sign-in
//! flow (as Gatehouse's own pages, client `gatehouse`) that comes back here. With a session whose
//! user is in `admins`, it serves the console shell; its script then trades the session for a
//! short-lived admin API token (`POST /admin/session-token`, which needs the page's anti-CSRF
//! token and passes the same-origin checks of the CSRF layer) and calls `/api/v1/...` with it
//! like any other API client. The token is bound to the session: it stops working when the
//! session ends, times out, or its user leaves `admins` (`admin::tokens`). Anyone else who signs
//! in gets a page that says they are not an administrator, with a way out.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gatehouse_core::model::{Actor, EndReason, Outcome, event_types};
use gatehouse_crypto::{compare, digest};
use serde_json::json;

use crate::admin::tokens;
use crate::audit::Event;
use crate::flow;
use crate::session::{self, LiveSession};
use crate::{ApiError, AppState};

const SCRIPT: &str = include_str!("../assets/console/console.js");
const STYLE: &str = include_str!("../assets/console/console.css");

/// The header (or form field `csrf`) that carries the page's anti-CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/", get(|| async { Redirect::permanent("/admin") }))
        .route("/admin/session-token", post(session_token))
        .route("/admin/logout", post(logout))
        .route("/assets/console/console.js", get(script))
        .route("/assets/console/console.css", get(style))
        // Browser-facing and cookie-authenticated: refuse cross-site POSTs.
        .layer(tower_http::csrf::CsrfLayer::new())
}

/// The anti-CSRF token of a session: a digest of its secret cookie token, so only a page that
/// was served to the cookie's holder knows it.
fn csrf_token(session_token: &str) -> String {
    digest::sha256_hex(format!("gatehouse-console-csrf:{session_token}").as_bytes())
}

async fn page(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let live = session::from_headers(&state, &headers).await?;
    let (Some(live), Some(cookie)) = (live, session::token_from_headers(&headers)) else {
        return flow::sign_in_to_page(&state, "/admin", peer.ip(), &headers).await;
    };
    let csrf = csrf_token(&cookie);
    if !tokens::is_administrator(state.store(), live.user.id).await? {
        return Ok(not_an_administrator(&live, &csrf));
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="gatehouse-csrf" content="{csrf}">
<title>Admin console · Gatehouse</title>
<link rel="stylesheet" href="/assets/console/console.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<script src="/assets/console/console.js" defer></script>
</head>
<body>
<header class="top">
  <p class="brand">Gatehouse <span>admin</span></p>
  <p class="who">Signed in as <strong id="who">{login}</strong></p>
  <form method="post" action="/admin/logout" id="logout-form">
    <input type="hidden" name="csrf" value="{csrf}">
    <button type="submit" class="secondary small">Sign out</button>
  </form>
</header>
<nav id="nav" aria-label="Console sections"></nav>
<main id="main" tabindex="-1" aria-live="polite"><p class="muted">Loading…</p></main>
<noscript><p>The admin console needs JavaScript.</p></noscript>
</body>
</html>
"#,
        login = escape(live.user.login.as_str()),
    );
    Ok(html_page(StatusCode::OK, html))
}

/// A signed-in person who is not in `admins`: say so, and offer their apps or another account.
fn not_an_administrator(live: &LiveSession, csrf: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Not an administrator · Gatehouse</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
</head>
<body>
<main class="card" aria-labelledby="title">
  <p class="brand">Gatehouse</p>
  <h1 id="title">You are not an administrator</h1>
  <p>You are signed in as <strong id="login">{login}</strong>. The admin console is for members of
  the <code>{group}</code> group; ask an administrator if you need access.</p>
  <p><a href="/app">Go to your apps</a></p>
  <form method="post" action="/admin/logout">
    <input type="hidden" name="csrf" value="{csrf}">
    <button type="submit" class="secondary">Sign in as someone else</button>
  </form>
</main>
</body>
</html>
"#,
        login = escape(live.user.login.as_str()),
        group = tokens::ADMINS_GROUP,
    );
    html_page(StatusCode::FORBIDDEN, html)
}

fn html_page(status: StatusCode, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    flow::secure_headers(&mut response);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

/// The anti-CSRF token a request presents: the `X-CSRF-Token` header, else the form field
/// `csrf` of a form-encoded body.
fn presented_csrf(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(value) = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(value.to_owned());
    }
    // The token is hex, so it needs no percent-decoding.
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "csrf")
        .map(|(_, value)| value.to_owned())
}

/// The live session of a request that also proved it comes from a page served to this session.
async fn checked_session(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<LiveSession, ApiError> {
    let (Some(live), Some(cookie)) = (
        session::from_headers(state, headers).await?,
        session::token_from_headers(headers),
    ) else {
        return Err(ApiError::unauthorized(
            "you are not signed in; open /admin to sign in",
        ));
    };
    let expected = csrf_token(&cookie);
    let presented = presented_csrf(headers, body).unwrap_or_default();
    if !compare::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            "the anti-CSRF token is missing or wrong; reload the console",
        ));
    }
    Ok(live)
}

/// `POST /admin/session-token`: a short-lived admin API token for the signed-in administrator.
async fn session_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let live = checked_session(&state, &headers, &body).await?;
    if !tokens::is_administrator(state.store(), live.user.id).await? {
        // A refused attempt at the admin API is a security decision: it goes in the log.
        let now = state.now();
        let mut tx = state.store().begin().await?;
        Event::new(
            event_types::ADMIN_TOKEN_CREATE,
            Actor::User(live.user.id),
            Outcome::Deny,
        )
        .user(live.user.id)
        .detail("reason", "not_admin")
        .detail("session_id", live.session.id.to_string())
        .append(&mut tx, now)
        .await?;
        tx.commit().await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_admin",
            format!(
                "you are not an administrator: only members of `{}` may use the admin console",
                tokens::ADMINS_GROUP
            ),
        ));
    }
    let now = state.now();
    let token = tokens::create_for_session(
        state.store(),
        live.session.id,
        live.user.id,
        live.user.login.as_str(),
        now,
    )
    .await?;
    let mut response = Json(json!({
        "token": token.secret,
        "token_type": "Bearer",
        "token_id": token.id,
        "expires_at": token.expires_at.to_string(),
        "expires_in": tokens::CONSOLE_TOKEN_SECONDS,
        "user": {
            "id": live.user.id.to_string(),
            "login": live.user.login.as_str(),
            "display_name": live.user.display_name.as_str(),
        },
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /admin/logout`: ends the session (and with it the console's tokens), back to `/admin`.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    match checked_session(&state, &headers, &body).await {
        Ok(live) => {
            session::end(
                &state,
                live.session.id,
                EndReason::Logout,
                Actor::User(live.user.id),
            )
            .await?;
        }
        // Already signed out: nothing to end.
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {}
        Err(e) => return Err(e),
    }
    let mut response = Redirect::to("/admin").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state));
    Ok(response)
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// HTML-escapes text for element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_is_read_from_the_header_or_the_form() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_csrf(&headers, b"a=1&csrf=abc"), Some("abc".to_owned()));
        assert_eq!(presented_csrf(&headers, b"a=1"), None);
        headers.insert(CSRF_HEADER, HeaderValue::from_static("xyz"));
        assert_eq!(presented_csrf(&headers, b"csrf=abc"), Some("xyz".to_owned()));
        assert_ne!(csrf_token("one"), csrf_token("two"));
    }
}
