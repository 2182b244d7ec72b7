//! The end-user dashboard `/app` (DESIGN section 10): who is signed in, their apps and
//! authenticators. Without a live session it starts a sign-in flow and comes back.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gatehouse_core::model::{Actor, EndReason};

use crate::flow::{self, Started};
use crate::{ApiError, AppState, session};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(home))
        .route("/app/logout", post(logout))
}

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
        items.push_str(&format!(
            "<li>{}{}</li>",
            escape(flow::view::label(
                e.authenticator,
                flow::view::default_method(e.authenticator)
            )),
            e.name
                .as_deref()
                .map(|n| format!(" — {}", escape(n)))
                .unwrap_or_default()
        ));
    }
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse</title><link rel="stylesheet" href="/assets/gatehouse.css"></head>
<body><main class="card" aria-labelledby="title">
<p class="brand">Gatehouse</p>
<h1 id="title">Hello, {name}</h1>
<p class="muted" id="login">Signed in as {login}</p>
<h2>Your authenticators</h2>
<ul id="authenticators">{items}</ul>
<form method="post" action="/app/logout"><button type="submit" class="secondary">Sign out</button></form>
</main></body></html>"#,
        name = escape(live.user.display_name.as_str()),
        login = escape(live.user.login.as_str()),
    );
    let mut response = Html(html).into_response();
    flow_page_headers(&mut response);
    Ok(response)
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
