//! Discovery, JWKS, userinfo, revocation (RFC 7009), introspection (RFC 7662) and RP-initiated
//! logout.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::model::{Actor, EndReason, Outcome, UserId, event_types};
use gatehouse_crypto::{Audience, JwtExpectations, SigningAlgorithm};
use gatehouse_oidc::introspect::{
    KnownToken, KnownTokenKind, RevocationDecision, introspection_response, parse_token_query,
    revocation_decision,
};
use gatehouse_oidc::logout::{IdTokenHint, LogoutDecision, LogoutRequest, decide_logout};
use gatehouse_oidc::protocol::bearer_token;
use gatehouse_oidc::token::{authenticate_client, parse_client_auth};
use gatehouse_oidc::{BearerError, Params, ProtocolError, ScopeSet};
use jiff::Timestamp;
use serde_json::json;

use super::authorize::{error_page, escape, found};
use super::token::{authorization, form, no_store, profile, token_error};
use crate::audit::Event;
use crate::{ApiError, AppState, ServerError, session};

pub async fn discovery(State(state): State<AppState>) -> Response {
    let options = gatehouse_oidc::discovery::DiscoveryOptions {
        backchannel_logout: true,
    };
    let doc = gatehouse_oidc::discovery::discovery_document(state.issuer(), options);
    let mut response = axum::Json(doc).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys = state.oidc().keys(&state).await?;
    let mut response = axum::Json(keys.jwks().to_json()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    Ok(response)
}

fn bearer_error(error: &BearerError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let mut response = (
        status,
        axum::Json(json!({"error": error.error.code.as_str(), "error_description": error.error.description})),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&error.www_authenticate()) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Verifies one of our access tokens, a JWT or an opaque one (signature or seal, issuer,
/// audience, expiry, not revoked).
async fn verify_access_token(
    state: &AppState,
    token: &str,
) -> Result<Option<gatehouse_crypto::VerifiedJwt>, ServerError> {
    let keys = state.oidc().keys(state).await?;
    let issuer = state.issuer().as_str();
    let audiences = [issuer];
    let now = u64::try_from(state.now().as_second()).unwrap_or(0);
    let expect = JwtExpectations::new(issuer, Audience::OneOf(&audiences), now)
        .with_algorithms(&[SigningAlgorithm::Es256])
        .with_type(gatehouse_oidc::claims::ACCESS_TOKEN_TYPE);
    let Ok(verified) = keys.verify_any(token, &expect) else {
        return Ok(None);
    };
    if let Some(jti) = verified.str_claim("jti")
        && state.store().oauth().is_revoked(jti).await?
    {
        return Ok(None);
    }
    Ok(Some(verified))
}

pub async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = match bearer_token(authorization(&headers)) {
        Ok(t) => t,
        Err(e) => return Ok(bearer_error(&e)),
    };
    userinfo_for(&state, token).await
}

/// `POST /oauth2/userinfo`: the token in the `Authorization` header, or as `access_token` in the
/// form body (RFC 6750 section 2.2), not both.
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = form(&body).ok();
    let in_form = params.as_ref().and_then(|p| p.lenient("access_token"));
    let header = authorization(&headers);
    let token = match (header, in_form) {
        (None, Some(token)) => token,
        (Some(_), Some(_)) => {
            return Ok(bearer_error(&BearerError {
                error: ProtocolError::invalid_request(
                    "send the access token once: in the Authorization header or in the form",
                ),
            }));
        }
        (_, None) => match bearer_token(header) {
            Ok(t) => t,
            Err(e) => return Ok(bearer_error(&e)),
        },
    };
    userinfo_for(&state, token).await
}

async fn userinfo_for(state: &AppState, token: &str) -> Result<Response, ApiError> {
    let state = state.clone();
    let Some(verified) = verify_access_token(&state, token).await? else {
        return Ok(bearer_error(&BearerError::invalid_token(
            "the access token is invalid, expired or revoked",
        )));
    };
    let grant = match gatehouse_oidc::claims::userinfo_grant(&verified.claims) {
        Ok(g) => g,
        Err(e) => return Ok(bearer_error(&e)),
    };
    let user = match UserId::parse(&grant.subject) {
        Ok(id) => state.store().users().get(id).await?,
        Err(_) => None,
    };
    let Some(user) = user.filter(|u| u.status.can_sign_in()) else {
        return Ok(bearer_error(&BearerError::invalid_token(
            "the user may no longer sign in",
        )));
    };
    let groups: Vec<String> = state.store().groups().names_of_user(user.id).await?;
    let profile = profile(&user, &groups);
    let claims = gatehouse_oidc::claims::userinfo_claims(&profile, &grant.scope);
    Ok(no_store(StatusCode::OK, &claims))
}

/// What a presented token is, if it is one of ours.
async fn identify(state: &AppState, token: &str) -> Result<Option<KnownToken>, ServerError> {
    if token.contains('.') {
        // A JWT or an opaque access token (`ghat.…`); refresh tokens have no dot.
        let Some(verified) = verify_access_token(state, token).await? else {
            return Ok(None);
        };
        let c = &verified.claims;
        let time = |name: &str| {
            c.get(name)
                .and_then(serde_json::Value::as_i64)
                .and_then(|s| Timestamp::from_second(s).ok())
        };
        let client_id = verified.str_claim("client_id").unwrap_or_default().to_owned();
        let subject = verified.str_claim("sub").map(str::to_owned);
        let is_user = subject.as_deref() != Some(client_id.as_str());
        let username = match subject.as_deref().filter(|_| is_user).map(UserId::parse) {
            Some(Ok(id)) => state
                .store()
                .users()
                .get(id)
                .await?
                .map(|u| u.login.as_str().to_owned()),
            _ => None,
        };
        return Ok(Some(KnownToken {
            kind: KnownTokenKind::Access {
                jti: verified.str_claim("jti").unwrap_or_default().to_owned(),
            },
            client_id,
            scope: verified
                .str_claim("scope")
                .and_then(|s| ScopeSet::parse(s).ok())
                .unwrap_or_default(),
            subject,
            username,
            issued_at: time("iat").unwrap_or_else(|| state.now()),
            expires_at: time("exp").unwrap_or_else(|| state.now()),
            revoked: false,
            audience: verified.str_claim("aud").map(str::to_owned),
            session_id: verified.str_claim("sid").map(str::to_owned),
        }));
    }
    let row = match super::token::refresh_family_of(token) {
        Some(family) => state.store().oauth().refresh_family(family).await?,
        None => None,
    };
    let Some(row) = row else {
        return Ok(None);
    };
    // A token of the family that is not its current one was rotated away: known, inactive.
    let current = super::token::is_current_refresh_token(&row, token);
    let username = state
        .store()
        .users()
        .get(row.user_id)
        .await?
        .map(|u| u.login.as_str().to_owned());
    Ok(Some(KnownToken {
        kind: KnownTokenKind::Refresh {
            family_id: row.family_id.clone(),
        },
        client_id: row.client_id.clone(),
        scope: ScopeSet::parse(&row.scope).unwrap_or_default(),
        subject: Some(row.user_id.to_string()),
        username,
        issued_at: if current { row.issued_at } else { row.created_at },
        expires_at: row.expires_at,
        revoked: !current || row.status != "active",
        audience: None,
        session_id: row.session_id.map(|s| s.to_string()),
    }))
}

/// Authenticates the calling client of revoke/introspect, then runs `then` with the token.
async fn with_client<F>(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    then: F,
) -> Result<Response, ApiError>
where
    F: AsyncFnOnce(
        &gatehouse_oidc::AuthenticatedClient<'_>,
        Option<KnownToken>,
        &super::Client,
    ) -> Result<Response, ServerError>,
{
    let parsed = form(body).and_then(|params| {
        let auth = parse_client_auth(&params, authorization(headers))?;
        let query = parse_token_query(&params)?;
        Ok((auth, query))
    });
    let (auth, query) = match parsed {
        Ok(p) => p,
        Err(e) => return Ok(token_error(&e)),
    };
    let clients = state.oidc().clients(state).await?;
    let client = clients.by_id.get(auth.client_id());
    let authenticated = match authenticate_client(&auth, client.map(|c| &c.registration)) {
        Ok(a) => a,
        Err(e) => return Ok(token_error(&e)),
    };
    let Some(client) = client else {
        return Err(ApiError::internal(&"authenticated an unknown client"));
    };
    let token = identify(state, &query.token).await?;
    Ok(then(&authenticated, token, client).await?)
}

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let st = state.clone();
    with_client(&state, &headers, &body, async move |caller, token, client| {
        let now = st.now();
        let decision = revocation_decision(token.as_ref(), caller, now);
        let mut tx = st.store().begin().await?;
        let what = match &decision {
            RevocationDecision::Nothing => "nothing",
            RevocationDecision::RevokeFamily { family_id } => {
                tx.oauth().revoke_family(family_id).await?;
                "refresh_token"
            }
            RevocationDecision::DenyAccessToken { jti, until } => {
                tx.oauth().revoke_access_token(jti, *until).await?;
                "access_token"
            }
            RevocationDecision::Refuse(e) => {
                return Ok(token_error(e));
            }
        };
        Event::new(
            event_types::APP_OAUTH2_TOKEN_REVOKE,
            Actor::Client(caller.client_id().to_owned()),
            Outcome::Success,
        )
        .app(client.app.id)
        .detail("client_id", caller.client_id())
        .detail("revoked", what)
        .append(&mut tx, now)
        .await?;
        tx.commit().await?;
        Ok(no_store(StatusCode::OK, &json!({})))
    })
    .await
}

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let st = state.clone();
    with_client(&state, &headers, &body, async move |caller, token, _client| {
        let body = introspection_response(token.as_ref(), caller, st.issuer().as_str(), st.now());
        Ok(no_store(StatusCode::OK, &body))
    })
    .await
}

pub async fn logout_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    logout(
        &state,
        &headers,
        Params::parse(query.as_deref().unwrap_or("")),
        false,
    )
    .await
}

pub async fn logout_post(
    State(state): State<AppState>,
    ConnectInfo(_peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = form(&body).map_err(|e| ApiError::invalid("body", e.error.description))?;
    // A confirmation posted from our own page (same origin) counts as the user's consent.
    let same_origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| {
            state
                .issuer()
                .as_str()
                .trim_end_matches('/')
                .eq_ignore_ascii_case(o)
        });
    let confirmed = same_origin && params.lenient("confirm") == Some("yes");
    logout(&state, &headers, params, confirmed).await
}

async fn logout(
    state: &AppState,
    headers: &HeaderMap,
    params: Params,
    confirmed: bool,
) -> Result<Response, ApiError> {
    let request = match LogoutRequest::parse(&params) {
        Ok(r) => r,
        Err(e) => {
            return Ok(error_page(
                StatusCode::BAD_REQUEST,
                "Sign-out request refused",
                &e,
            ));
        }
    };
    let hint = match request.id_token_hint.as_deref() {
        None => None,
        Some(token) => {
            let keys = state.oidc().keys(state).await?;
            let now = u64::try_from(state.now().as_second()).unwrap_or(0);
            let expect = JwtExpectations::new(state.issuer().as_str(), Audience::Any, now).allow_expired();
            match keys
                .verify(token, &expect)
                .ok()
                .and_then(|v| IdTokenHint::from_claims(&v.claims))
            {
                Some(h) => Some(h),
                None => {
                    let error =
                        ProtocolError::invalid_request("the id_token_hint is not an ID token issued here");
                    return Ok(error_page(
                        StatusCode::BAD_REQUEST,
                        "Sign-out request refused",
                        &error,
                    ));
                }
            }
        }
    };
    let clients = state.oidc().clients(state).await?;
    let client = request
        .client_id(hint.as_ref())
        .and_then(|id| clients.by_id.get(id));
    let live = session::from_headers(state, headers).await?;
    let subject = live.as_ref().map(|l| l.user.id.to_string());
    match decide_logout(
        &request,
        hint.as_ref(),
        client.map(|c| &c.registration),
        subject.as_deref(),
    ) {
        LogoutDecision::ErrorPage(e) => Ok(error_page(
            StatusCode::BAD_REQUEST,
            "Sign-out request refused",
            &e,
        )),
        LogoutDecision::LogOut { confirm, .. } if confirm && !confirmed => Ok(confirm_page(&params)),
        LogoutDecision::LogOut { redirect, .. } => {
            if let Some(live) = &live {
                session::end(
                    state,
                    live.session.id,
                    EndReason::Logout,
                    Actor::User(live.user.id),
                )
                .await?;
            }
            let mut response = match redirect {
                Some(uri) => found(&uri),
                None => signed_out_page(),
            };
            response
                .headers_mut()
                .append(header::SET_COOKIE, session::clear_cookie(state));
            Ok(response)
        }
    }
}

fn confirm_page(params: &Params) -> Response {
    let mut hidden = String::new();
    for name in [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
        "ui_locales",
        "logout_hint",
    ] {
        if let Some(v) = params.lenient(name) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(v)
            ));
        }
    }
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign out</title></head>\
         <body><main><h1>Sign out?</h1><p>An application asks to sign you out of Gatehouse.</p>\
         <form method=\"post\" action=\"{}\">{hidden}<input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\">Sign out</button></form></main></body></html>",
        gatehouse_oidc::issuer::LOGOUT_PATH
    );
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    crate::flow::secure_headers(&mut response);
    response
}

fn signed_out_page() -> Response {
    let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title></head>\
                <body><main><h1>You are signed out</h1></main></body></html>";
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    crate::flow::secure_headers(&mut response);
    response
}
