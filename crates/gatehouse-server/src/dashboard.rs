//! The end-user dashboard `/app` (DESIGN section 10): who is signed in, their apps and
//! authenticators. Without a live session it starts a sign-in flow and comes back.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gatehouse_core::model::{
    Actor, AuthenticatorKey, EndReason, EnrollmentId, Outcome, event_types, parse_authenticator,
};

use crate::audit::Event;

use crate::flow::{self, Started};
use crate::{ApiError, AppState, session};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(home))
        .route("/app/logout", post(logout))
        .route("/app/enroll/{authenticator}", post(enroll))
        .route("/app/enrollments/{id}/remove", post(remove))
        .layer(tower_http::csrf::CsrfLayer::new())
}

/// What a person may set up and remove here themselves.
const SELF_SERVICE: [AuthenticatorKey; 4] = [
    AuthenticatorKey::Totp,
    AuthenticatorKey::Email,
    AuthenticatorKey::Phone,
    AuthenticatorKey::Webauthn,
];

async fn home(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(live) = session::from_headers(&state, &headers).await? else {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let started = flow::start_dashboard(&state, "/app", peer.ip().to_canonical(), user_agent).await?;
        return Ok(match started {
            Started::Interaction(id) => Redirect::to(&format!("/signin/{id}")).into_response(),
            Started::Complete { redirect } | Started::Denied { redirect } => {
                Redirect::to(&redirect).into_response()
            }
            Started::InteractionRequired { .. } => StatusCode::UNAUTHORIZED.into_response(),
        });
    };
    let enrollments = state.store().enrollments().of_user(live.user.id).await?;
    let mut items = String::new();
    for e in enrollments.iter().filter(|e| e.is_active()) {
        let remove = if SELF_SERVICE.contains(&e.authenticator) {
            format!(
                r#"<form method="post" action="/app/enrollments/{}/remove"><button type="submit" class="link">Remove</button></form>"#,
                e.id
            )
        } else {
            String::new()
        };
        let label = flow::view::label(e.authenticator, flow::view::default_method(e.authenticator));
        let name = e
            .name
            .as_deref()
            .map(|n| format!(" — {}", escape(n)))
            .unwrap_or_default();
        items.push_str(&format!(
            r#"<li data-authenticator="{}">{}{name}{remove}</li>"#,
            e.authenticator,
            escape(label),
        ));
    }
    let policies = state.policies().await?;
    let allowed = policies.document().enrollment();
    let mut add = String::new();
    for key in SELF_SERVICE.iter().filter(|k| allowed.allows(**k)) {
        let label = flow::view::label(*key, flow::view::default_method(*key)).to_lowercase();
        add.push_str(&format!(
            r#"<form method="post" action="/app/enroll/{key}"><button type="submit" class="secondary">Add {}</button></form>"#,
            escape(&label)
        ));
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse</title><link rel="stylesheet" href="/assets/gatehouse.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"></head>
<body><main class="card" aria-labelledby="title">
<p class="brand">Gatehouse</p>
<h1 id="title">Hello, {name}</h1>
<p class="muted" id="login">Signed in as {login}</p>
<h2>Your authenticators</h2>
<ul id="authenticators">{items}</ul>
{add}
<form method="post" action="/app/logout"><button type="submit" class="secondary">Sign out</button></form>
</main></body></html>"#,
        name = escape(live.user.display_name.as_str()),
        login = escape(live.user.login.as_str()),
    );
    let mut response = Html(html).into_response();
    flow_page_headers(&mut response);
    Ok(response)
}

async fn enroll(
    State(state): State<AppState>,
    Path(authenticator): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(live) = session::from_headers(&state, &headers).await? else {
        return Ok(Redirect::to("/app").into_response());
    };
    let key = parse_authenticator("authenticator", &authenticator)?;
    let allowed = state.policies().await?.document().enrollment().allows(key);
    if !SELF_SERVICE.contains(&key) || !allowed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_allowed",
            format!("`{key}` cannot be set up here"),
        ));
    }
    let id = flow::start_enroll(&state, &live, key, "/app").await?;
    Ok(Redirect::to(&format!("/signin/{id}")).into_response())
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(live) = session::from_headers(&state, &headers).await? else {
        return Ok(Redirect::to("/app").into_response());
    };
    let id = EnrollmentId::parse(&id).map_err(|_| ApiError::not_found("enrollment"))?;
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let Some(enrollment) = tx
        .enrollments()
        .get(id)
        .await?
        .filter(|e| e.user_id == live.user.id)
    else {
        return Err(ApiError::not_found("enrollment"));
    };
    if !SELF_SERVICE.contains(&enrollment.authenticator) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_allowed",
            format!("`{}` cannot be removed here", enrollment.authenticator),
        ));
    }
    tx.enrollments().delete(id).await?;
    Event::new(
        event_types::USER_ENROLLMENT_DELETE,
        Actor::User(live.user.id),
        Outcome::Success,
    )
    .user(live.user.id)
    .detail("enrollment_id", id.to_string())
    .detail("authenticator", enrollment.authenticator.as_str())
    .append(&mut tx, now)
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/app").into_response())
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(live) = session::from_headers(&state, &headers).await? {
        session::end(
            &state,
            live.session.id,
            EndReason::Logout,
            Actor::User(live.user.id),
        )
        .await?;
    }
    let mut response = Redirect::to("/app").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state));
    Ok(response)
}

fn flow_page_headers(response: &mut Response) {
    flow::secure_headers(response);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Cookie"));
}

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
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
