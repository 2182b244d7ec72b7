//! CORS for the browser-facing JSON endpoints (`/sso/start`, `/dashboard`, `/logout`): an origin
//! is allowed only when a tenant registered it, and — when the request names its tenant (the
//! `tenant` query parameter, or the session's tenant) — only that tenant's origins count.
//!
//! A JSON `POST /sso/start` names its tenant in the body, which a preflight cannot see; the
//! handler checks the origin against that tenant again (`sso::begin`). The IdP callback and the
//! admin API are never CORS-enabled. The gateway's own origin needs no CORS.

use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum_extra::extract::cookie::CookieJar;
use gatehouse_crypto::digest::sha256_hex;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{SharedState, cookies};
use crate::clock::unix;

/// The CORS layer reading each tenant's registered origins from the database.
pub fn layer(state: SharedState) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::async_predicate(
            move |origin: HeaderValue, parts: &Parts| {
                let state = state.clone();
                let tenant_hint = tenant_from_query(parts);
                let session = cookies::token(&CookieJar::from_headers(&parts.headers), cookies::SESSION);
                async move {
                    let Ok(origin) = origin.to_str() else {
                        return false;
                    };
                    allowed(&state, origin, tenant_hint, session).await
                }
            },
        ))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::ACCEPT])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

async fn allowed(
    state: &SharedState,
    origin: &str,
    tenant_hint: Option<String>,
    session: Option<String>,
) -> bool {
    let tenants = match state.store.tenants_allowing_origin(origin).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "CORS lookup failed; refusing the origin");
            return false;
        }
    };
    let session_tenant = match session {
        Some(token) => session_tenant(state, &token).await,
        None => None,
    };
    let verdict = match tenant_hint.or(session_tenant) {
        Some(slug) => tenants.contains(&slug),
        None => !tenants.is_empty(),
    };
    if !verdict {
        tracing::info!(%origin, "CORS: origin refused");
    }
    verdict
}

async fn session_tenant(state: &SharedState, token: &str) -> Option<String> {
    let now = unix(state.clock.now());
    let session = state
        .store
        .session(&sha256_hex(token.as_bytes()), now)
        .await
        .ok()??;
    let tenant = state.store.tenant_by_id(&session.tenant_id).await.ok()??;
    Some(tenant.slug.to_string())
}

fn tenant_from_query(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "tenant")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}
