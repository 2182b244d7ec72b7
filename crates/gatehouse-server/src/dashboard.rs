//! The end-user dashboard `/app` (DESIGN section 10): who is signed in, the apps assigned to them
//! (launch links), their authenticators (add, rename, remove after re-verifying), their registered
//! devices and the sessions they have open, with "sign out everywhere". Without a live session it
//! starts a sign-in flow and comes back. Every form is a same-origin POST (the CSRF layer refuses
//! cross-site ones) and answers with a redirect back to `/app`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use gatehouse_core::model::{
    Actor, AuthenticatorKey, EndReason, Enrollment, EnrollmentId, Outcome, event_types, parse_authenticator,
};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::audit::Event;

use crate::flow::{self, Started};
use crate::session::LiveSession;
use crate::{ApiError, AppState, ServerError, session};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/app", get(home))
        .route("/app/logout", post(logout))
        .route("/app/enroll/{authenticator}", post(enroll))
        .route("/app/enrollments/{id}/remove", post(remove))
        .route("/app/enrollments/{id}/rename", post(rename))
        .route("/app/sessions/end-all", post(end_all_sessions))
        .layer(tower_http::csrf::CsrfLayer::new())
}

/// How recently the person must have verified in this session to remove an authenticator; older
/// than this, removing one first asks them to verify again.
const REVERIFY_WINDOW: SignedDuration = SignedDuration::from_mins(5);

/// The longest name a person may give an authenticator.
const MAX_NAME_CHARS: usize = 64;

/// What a person may set up and remove here themselves.
const SELF_SERVICE: [AuthenticatorKey; 4] = [
    AuthenticatorKey::Totp,
    AuthenticatorKey::Email,
    AuthenticatorKey::Phone,
    AuthenticatorKey::Webauthn,
];

#[derive(Debug, Default, Deserialize)]
struct HomeQuery {
    /// The enrollment whose removal waits for the person's confirmation after re-verifying.
    remove: Option<String>,
    /// A short notice to show: `renamed`, `removed`, `verify_failed`.
    notice: Option<String>,
}

async fn home(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<HomeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(live) = session::from_headers(&state, &headers).await? else {
        return flow::sign_in_to_page(&state, "/app", peer.ip(), &headers).await;
    };
    let now = state.now();
    let enrollments = state.store().enrollments().of_user(live.user.id).await?;
    let confirm = query
        .remove
        .as_deref()
        .and_then(|id| EnrollmentId::parse(id).ok())
        .and_then(|id| enrollments.iter().find(|e| e.id == id && e.is_active()))
        .filter(|_| recently_verified(&live, now));
    let mut notice = String::new();
    if let Some(e) = confirm {
        notice = format!(
            r#"<section class="notice" id="confirm-remove" role="alert"><p>You verified it is you. Remove {}?</p>
<form method="post" action="/app/enrollments/{}/remove"><button type="submit">Remove</button></form>
<p><a href="/app">Keep it</a></p></section>"#,
            escape(&enrollment_label(e)),
            e.id
        );
    } else if let Some(text) = query.notice.as_deref().and_then(notice_text) {
        notice = format!(r#"<p class="notice" id="notice" role="status">{text}</p>"#);
    }
    let mut items = String::new();
    for e in enrollments.iter().filter(|e| e.is_active()) {
        let manage = if SELF_SERVICE.contains(&e.authenticator) {
            format!(
                r#"<form method="post" action="/app/enrollments/{id}/rename" class="inline">
<label for="name-{id}" class="visually-hidden">Name for {label}</label>
<input type="text" id="name-{id}" name="name" maxlength="{MAX_NAME_CHARS}" value="{value}" placeholder="Name it">
<button type="submit" class="link">Rename</button></form>
<form method="post" action="/app/enrollments/{id}/remove"><button type="submit" class="link">Remove</button></form>"#,
                id = e.id,
                label = escape(&enrollment_label(e)),
                value = escape(e.name.as_deref().unwrap_or_default()),
            )
        } else {
            String::new()
        };
        items.push_str(&format!(
            r#"<li data-authenticator="{}">{}{manage}</li>"#,
            e.authenticator,
            escape(&enrollment_label(e)),
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
    let apps = apps_section(&state, &live).await?;
    let devices = devices_section(&state, &live).await?;
    let sessions = sessions_section(&state, &live, now).await?;
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatehouse</title><link rel="stylesheet" href="/assets/gatehouse.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"></head>
<body><main class="card" aria-labelledby="title">
<p class="brand">Gatehouse</p>
<h1 id="title">Hello, {name}</h1>
<p class="muted" id="login">Signed in as {login}</p>
{notice}
<h2>Your apps</h2>
{apps}
<h2>Your authenticators</h2>
<ul id="authenticators">{items}</ul>
{add}
<h2>Your devices</h2>
{devices}
<h2>Where you are signed in</h2>
{sessions}
<form method="post" action="/app/logout"><button type="submit" class="secondary">Sign out</button></form>
</main></body></html>"#,
        name = escape(live.user.display_name.as_str()),
        login = escape(live.user.login.as_str()),
    );
    let mut response = Html(html).into_response();
    flow_page_headers(&mut response);
    Ok(response)
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "renamed" => "Saved the new name.",
        "removed" => "Removed. It can no longer be used to sign in.",
        "signed_out_everywhere" => "You were signed out everywhere else.",
        _ => return None,
    })
}

/// What the person sees for an enrollment: its kind, and the name they gave it.
fn enrollment_label(e: &Enrollment) -> String {
    let label = flow::view::label(e.authenticator, flow::view::default_method(e.authenticator));
    match e.name.as_deref() {
        Some(name) => format!("{label} — {name}"),
        None => label.to_owned(),
    }
}

/// Whether the session holds a verification younger than [`REVERIFY_WINDOW`].
fn recently_verified(live: &LiveSession, now: Timestamp) -> bool {
    live.records
        .iter()
        .any(|r| now.duration_since(r.verified_at) <= REVERIFY_WINDOW)
}

/// The apps assigned to the person (directly or through a group), each launched at the origin of
/// its first redirect URI: the app's own home, which starts its sign-in. Apps without a redirect
/// URI (client credentials only) are machines' apps and not listed, nor is Gatehouse Verify's
/// built-in client.
async fn apps_section(state: &AppState, live: &LiveSession) -> Result<String, ServerError> {
    let store = state.store();
    let groups: Vec<_> = store
        .groups()
        .of_user(live.user.id)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    let page = store
        .apps()
        .list(&gatehouse_store::PageRequest::first(500))
        .await?;
    let mut items = String::new();
    for app in &page.items {
        // Gatehouse Verify's built-in client is the device app's own sign-in, not an app to launch.
        if !app.assignments.includes(live.user.id, &groups)
            || app.client_id.as_str() == gatehouse_api::device::VERIFY_CLIENT_ID
        {
            continue;
        }
        let Some(launch) = app.redirect_uris.first().and_then(|uri| launch_url(uri)) else {
            continue;
        };
        items.push_str(&format!(
            r#"<li data-app="{client_id}"><a href="{launch}">{name}</a></li>"#,
            client_id = escape(app.client_id.as_str()),
            launch = escape(&launch),
            name = escape(app.name.as_str()),
        ));
    }
    Ok(if items.is_empty() {
        r#"<p class="muted" id="apps">No apps are assigned to you yet.</p>"#.to_owned()
    } else {
        format!(r#"<ul id="apps">{items}</ul>"#)
    })
}

/// `scheme://host[:port]/` of an absolute http(s) URI.
fn launch_url(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(format!("{}/", url.origin().ascii_serialization()))
}

async fn devices_section(state: &AppState, live: &LiveSession) -> Result<String, ServerError> {
    let devices = state.store().devices().of_user(live.user.id).await?;
    if devices.is_empty() {
        return Ok(
            r#"<p class="muted" id="devices">No devices. Gatehouse Verify registers this computer or phone when you enroll it.</p>"#
                .to_owned(),
        );
    }
    let mut items = String::new();
    for d in &devices {
        items.push_str(&format!(
            r#"<li data-device="{id}">{name} <span class="muted">{platform} {os}, {model} — {status}</span></li>"#,
            id = d.id,
            name = escape(&d.display_name),
            platform = escape(&d.platform),
            os = escape(&d.os_version),
            model = escape(&d.model),
            status = d.status.as_str(),
        ));
    }
    Ok(format!(r#"<ul id="devices">{items}</ul>"#))
}

async fn sessions_section(
    state: &AppState,
    live: &LiveSession,
    now: Timestamp,
) -> Result<String, ServerError> {
    let sessions = state.store().sessions().open_of_user(live.user.id).await?;
    let mut items = String::new();
    for s in sessions.iter().filter(|s| s.is_live(now)) {
        let this = if s.id == live.session.id {
            r#" <strong>(this browser)</strong>"#
        } else {
            ""
        };
        items.push_str(&format!(
            r#"<li data-session="{id}">Since {created}, last active {seen}{from}{agent}{this}</li>"#,
            id = s.id,
            created = s.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            seen = s.last_seen_at.strftime("%Y-%m-%d %H:%M UTC"),
            from = s
                .client_ip
                .as_deref()
                .map(|ip| format!(", from {}", escape(ip)))
                .unwrap_or_default(),
            agent = s
                .user_agent
                .as_deref()
                .map(|ua| format!(r#" <span class="muted">{}</span>"#, escape(&short_agent(ua))))
                .unwrap_or_default(),
        ));
    }
    Ok(format!(
        r#"<ul id="sessions">{items}</ul>
<form method="post" action="/app/sessions/end-all"><button type="submit" class="secondary">Sign out everywhere</button></form>"#
    ))
}

/// A user agent cut to a readable length.
fn short_agent(agent: &str) -> String {
    let mut out: String = agent.chars().take(60).collect();
    if agent.chars().count() > 60 {
        out.push('…');
    }
    out
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
    if !recently_verified(&live, now) {
        // Removing a way to sign in is for the person themselves: verify again first, then
        // confirm on the page the flow returns to.
        drop(tx);
        return Ok(
            match flow::start_reverify(&state, &live, &format!("/app?remove={id}")).await? {
                Started::Interaction(flow) => Redirect::to(&format!("/signin/{flow}")).into_response(),
                Started::Complete { redirect } | Started::Denied { redirect } => {
                    Redirect::to(&redirect).into_response()
                }
                Started::InteractionRequired { .. } => Redirect::to("/app").into_response(),
            },
        );
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
    Ok(Redirect::to("/app?notice=removed").into_response())
}

#[derive(Debug, Deserialize)]
struct RenameForm {
    name: String,
}

async fn rename(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RenameForm>,
) -> Result<Response, ApiError> {
    let Some(live) = session::from_headers(&state, &headers).await? else {
        return Ok(Redirect::to("/app").into_response());
    };
    let id = EnrollmentId::parse(&id).map_err(|_| ApiError::not_found("enrollment"))?;
    let name = form.name.trim();
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            format!("a name is at most {MAX_NAME_CHARS} characters, without control characters"),
        ));
    }
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let Some(mut enrollment) = tx
        .enrollments()
        .get(id)
        .await?
        .filter(|e| e.user_id == live.user.id && SELF_SERVICE.contains(&e.authenticator))
    else {
        return Err(ApiError::not_found("enrollment"));
    };
    enrollment.name = (!name.is_empty()).then(|| name.to_owned());
    enrollment.updated_at = now;
    tx.enrollments().update(&enrollment).await?;
    Event::new(
        event_types::USER_ENROLLMENT_RENAME,
        Actor::User(live.user.id),
        Outcome::Success,
    )
    .user(live.user.id)
    .detail("enrollment_id", id.to_string())
    .detail("authenticator", enrollment.authenticator.as_str())
    .append(&mut tx, now)
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/app?notice=renamed").into_response())
}

/// "Sign out everywhere": ends every session of the person (their refresh tokens with them),
/// this browser's included.
async fn end_all_sessions(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(live) = session::from_headers(&state, &headers).await? {
        let now = state.now();
        let mut tx = state.store().begin().await?;
        session::end_all_of_user_in(
            &mut tx,
            live.user.id,
            EndReason::Logout,
            Actor::User(live.user.id),
            now,
        )
        .await?;
        tx.commit().await?;
    }
    let mut response = Redirect::to("/app").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie(&state));
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
