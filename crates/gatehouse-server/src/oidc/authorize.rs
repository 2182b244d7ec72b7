//! The authorization endpoint (`/oauth2/authorize`, GET and POST): validates the request with
//! `gatehouse_oidc`, shows an error page (never a redirect) for an unknown client or an
//! unregistered redirect URI, applies the access policies' first check, `prompt` and `max_age`,
//! and hands the request to the sign-in flow.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::model::{Actor, Outcome, event_types};
use gatehouse_oidc::{AuthorizeOutcome, ErrorCode, GrantType, Params, ProtocolError, SessionDecision};

use crate::audit::Event;
use crate::flow::{self, FlowStart, Started};
use crate::{ApiError, AppState, session};

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    authorize(
        &state,
        peer,
        &headers,
        Params::parse(query.as_deref().unwrap_or("")),
    )
    .await
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::invalid("body", "the form is not UTF-8"))?;
    authorize(&state, peer, &headers, Params::parse(text)).await
}

/// A 302 to `location`.
pub(crate) fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// An HTML page telling the user what went wrong (never a redirect to an unverified URI).
pub(crate) fn error_page(status: StatusCode, title: &str, error: &ProtocolError) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><main><h1>{title}</h1><p id=\"error\" data-error=\"{code}\">{code}</p>\
         <p id=\"error-description\">{description}</p></main></body></html>",
        title = escape(title),
        code = escape(error.code.as_str()),
        description = escape(&error.description),
    );
    let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    flow::secure_headers(&mut response);
    response
}

async fn authorize(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let now = state.now();
    let clients = state.oidc().clients(state).await?;
    let client = gatehouse_oidc::authorize::client_id(&params).and_then(|id| clients.by_id.get(id));
    let request =
        match gatehouse_oidc::validate_authorize(&params, client.map(|c| &c.registration), state.issuer()) {
            AuthorizeOutcome::Valid(request) => request,
            AuthorizeOutcome::ErrorPage(error) => {
                log_deny(state, client.map(|c| c.app.id), &error, peer).await?;
                return Ok(error_page(
                    StatusCode::BAD_REQUEST,
                    "Sign-in request refused",
                    &error,
                ));
            }
            AuthorizeOutcome::Redirect { location, error } => {
                log_deny(state, client.map(|c| c.app.id), &error, peer).await?;
                return Ok(found(&location));
            }
        };
    let Some(client) = client else {
        return Err(ApiError::internal(&"validated request without a client"));
    };
    if !clients
        .policies
        .could_allow(&request.client_id, GrantType::AuthorizationCode, &request.scope)
    {
        let error = ProtocolError::policy_failed();
        log_deny(state, Some(client.app.id), &error, peer).await?;
        return Ok(found(&request.error_redirect(&error, state.issuer())));
    }
    let live = session::from_headers(state, headers).await?;
    let auth_time = live.as_ref().map(|l| {
        l.records
            .iter()
            .map(|r| r.verified_at)
            .max()
            .unwrap_or(l.session.created_at)
    });
    let force_login = match request.session_decision(auth_time, now) {
        SessionDecision::Fail(error) => {
            log_deny(state, Some(client.app.id), &error, peer).await?;
            return Ok(found(&request.error_redirect(&error, state.issuer())));
        }
        SessionDecision::SignInAgain => true,
        SessionDecision::UseSession | SessionDecision::SignIn => false,
    };
    let step_up = request.step_up();
    let requirement = step_up.requirement().unwrap_or_default();
    let policy_step_up = gatehouse_policy::StepUp {
        min_factors: requirement.min_factors,
        phishing_resistant: requirement.phishing_resistant,
        hardware_protected: requirement.hardware_protected,
        max_age: step_up.max_record_age(),
        in_flow_only: step_up.force_reauthentication,
    };
    let interaction_allowed = request.interaction_allowed();
    let (browser, new_browser_cookie) = crate::risk::browser_of(state, headers);
    let start = FlowStart {
        request: request.clone(),
        app: client.app.clone(),
        step_up: policy_step_up,
        force_login,
        interaction_allowed,
        client_ip: crate::risk::client_ip(state, peer.ip(), headers),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        browser: Some(browser),
    };
    let mut response = match flow::start(state, live, start).await? {
        Started::Interaction(id) => found(&format!("/signin/{id}")),
        Started::Complete { redirect } | Started::Denied { redirect } => found(&redirect),
        Started::InteractionRequired { login_required } => {
            let error = if login_required {
                ProtocolError::new(
                    ErrorCode::LoginRequired,
                    "no one is signed in and prompt=none forbids asking",
                )
            } else {
                request.interaction_required()
            };
            log_deny(state, Some(client.app.id), &error, peer).await?;
            found(&request.error_redirect(&error, state.issuer()))
        }
    };
    if let Some(cookie) = new_browser_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn log_deny(
    state: &AppState,
    app: Option<gatehouse_core::model::AppId>,
    error: &ProtocolError,
    peer: SocketAddr,
) -> Result<(), ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let mut event = Event::new(
        event_types::APP_OAUTH2_AUTHORIZE_DENY,
        Actor::Anonymous,
        Outcome::Failure,
    )
    .detail("error", error.code.as_str())
    .detail("error_description", error.description.as_str())
    .client_ip(peer.ip().to_canonical().to_string());
    if let Some(app) = app {
        event = event.app(app);
    }
    event.append(&mut tx, now).await?;
    tx.commit().await?;
    Ok(())
}
