//! Sign in with SSO: `GET|POST /sso/start` sends the browser to the tenant's IdP; the IdP sends
//! it back to `GET /okta-login/{tenant_slug}`, which checks the state, exchanges the code,
//! validates the ID token, provisions, opens the dashboard session and redirects to
//! `/dashboard`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use gatehouse_crypto::digest::sha256_hex;
use gatehouse_crypto::random;
use serde_json::json;

use super::{SharedState, cookies, pages, problem};
use crate::SsoError;
use crate::clock::unix;
use crate::domain::advice::{AdviceContext, idp_error};
use crate::domain::login::{SESSION_TTL, oldest_valid_state};
use crate::domain::{Issuer, TenantSlug};
use crate::oidc::{ClientRegistration, LoginSecrets};
use crate::provision::secs;
use crate::store::{LoginRecord, LoginStateRecord, NewAudit, SessionRecord, TenantRecord};

/// `GET /sso/start?tenant=…`: the start page without a tenant, else the redirect to the IdP.
pub async fn start_get(
    State(state): State<SharedState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Result<Response, SsoError> {
    let tenant = query
        .get("tenant")
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    if tenant.is_empty() {
        if problem::wants_html(&headers) {
            return Ok(pages::start_page(&state.public_url, None).into_response());
        }
        return Err(SsoError::invalid(
            "tenant",
            "`tenant` is required: the organisation's slug, such as `acme-corp`",
        ));
    }
    // Cookies are per host: a login started on another name for this service (`localhost` for
    // `127.0.0.1`) would come back to the public URL without its binding cookie. Move the browser
    // to the public URL first. Only between loopback names: behind a proxy that rewrites `Host`,
    // redirecting would loop.
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok())
        && !host.eq_ignore_ascii_case(&state.public_url.authority())
        && is_loopback_authority(host)
        && is_loopback_authority(&state.public_url.authority())
    {
        let target = state
            .public_url
            .join(&format!("/sso/start?tenant={}", encode(&tenant)));
        return Ok(Redirect::to(&target).into_response());
    }
    let (location, jar, body) = begin(&state, &tenant, &headers, jar).await?;
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, location)],
        jar,
        axum::Json(body),
    )
        .into_response())
}

/// `POST /sso/start` with `{"tenant": …}` (JSON) or `tenant=…` (form): 303 to the IdP.
pub async fn start_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Bytes,
) -> Result<Response, SsoError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let tenant = if content_type.starts_with("application/x-www-form-urlencoded") {
        url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "tenant")
            .map(|(_, v)| v.into_owned())
    } else {
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| SsoError::Invalid {
            field: None,
            message: format!("request body is not JSON: {e}"),
        })?;
        match value.get("tenant") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(SsoError::invalid("tenant", "`tenant` must be a string")),
        }
    };
    let tenant = tenant.map(|t| t.trim().to_owned()).unwrap_or_default();
    if tenant.is_empty() {
        return Err(SsoError::invalid(
            "tenant",
            "`tenant` is required: the organisation's slug, such as `acme-corp`",
        ));
    }
    let (location, jar, body) = begin(&state, &tenant, &headers, jar).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location)],
        jar,
        axum::Json(body),
    )
        .into_response())
}

/// Looks the tenant up, checks the calling origin, stores the login state and builds the IdP
/// URL.
async fn begin(
    state: &SharedState,
    tenant_input: &str,
    headers: &HeaderMap,
    jar: CookieJar,
) -> Result<(String, CookieJar, serde_json::Value), SsoError> {
    let tenant = enabled_tenant(state, tenant_input).await?;
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let own = origin.eq_ignore_ascii_case(&state.public_url.origin());
        if !own && !tenant.allowed_origins.iter().any(|o| o == origin) {
            return Err(SsoError::OriginNotAllowed(origin.to_owned()));
        }
    }
    let issuer = Issuer::parse(&tenant.issuer).map_err(SsoError::Corrupt)?;
    let provider = state.oidc.discover(&issuer).await?;
    let redirect_uri = state.public_url.redirect_uri(&tenant.slug);
    let secrets = LoginSecrets {
        state: random::token::<32>(),
        nonce: random::token::<32>(),
        pkce_verifier: random::token::<32>(),
    };
    let binding = cookies::token(&jar, cookies::BINDING).unwrap_or_else(random::token::<32>);
    let state_hash = sha256_hex(secrets.state.as_bytes());
    let now = unix(state.clock.now());
    state
        .store
        .insert_login_state(&LoginStateRecord {
            pkce_verifier_sealed: state.keyring.seal(
                secrets.pkce_verifier.as_bytes(),
                aad(&state_hash, "pkce").as_bytes(),
            ),
            nonce_sealed: state
                .keyring
                .seal(secrets.nonce.as_bytes(), aad(&state_hash, "nonce").as_bytes()),
            state_hash,
            tenant_id: tenant.id.clone(),
            browser_hash: sha256_hex(binding.as_bytes()),
            created_at: now,
        })
        .await?;
    let secret = open_secret(state, &tenant)?;
    let location = state.oidc.authorization_url(
        &provider,
        &ClientRegistration {
            client_id: &tenant.client_id,
            client_secret: &secret,
            redirect_uri: &redirect_uri,
        },
        &secrets,
    )?;
    audit(
        state,
        &tenant,
        "sso.started",
        "anonymous",
        json!({ "issuer": provider.issuer }),
    )
    .await?;
    tracing::info!(tenant = %tenant.slug, issuer = %provider.issuer, "sso login started");
    let jar = jar.add(cookies::binding(binding, &state.public_url));
    let body = json!({ "redirect": location, "redirect_uri": redirect_uri, "tenant": tenant.slug.as_str() });
    Ok((location, jar, body))
}

/// `GET /okta-login/{tenant_slug}`: the IdP's redirect back.
pub async fn callback(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    jar: CookieJar,
) -> Result<Response, SsoError> {
    let tenant = enabled_tenant(&state, &slug).await?;
    let now = state.clock.now();
    let binding = cookies::token(&jar, cookies::BINDING);
    let (Some(state_value), Some(binding)) = (query.get("state").filter(|s| !s.is_empty()), binding) else {
        audit(
            &state,
            &tenant,
            "sso.state.rejected",
            "anonymous",
            json!({ "reason": "missing state or binding cookie" }),
        )
        .await?;
        return Err(SsoError::InvalidState);
    };
    let state_hash = sha256_hex(state_value.as_bytes());
    let consumed = state
        .store
        .consume_login_state(
            &state_hash,
            &tenant.id,
            &sha256_hex(binding.as_bytes()),
            unix(oldest_valid_state(now)),
        )
        .await?;
    let Some(consumed) = consumed else {
        audit(
            &state,
            &tenant,
            "sso.state.rejected",
            "anonymous",
            json!({ "reason": "unknown, used, foreign or expired state" }),
        )
        .await?;
        return Err(SsoError::InvalidState);
    };
    let redirect_uri = state.public_url.redirect_uri(&tenant.slug);
    if let Some(error) = query.get("error").filter(|e| !e.is_empty()) {
        let description = query.get("error_description").cloned();
        let advice = idp_error(
            error,
            description.as_deref(),
            AdviceContext {
                issuer: &tenant.issuer,
                client_id: &tenant.client_id,
                redirect_uri: &redirect_uri,
            },
        );
        audit(
            &state,
            &tenant,
            "sso.idp_error",
            "anonymous",
            json!({ "error": error, "error_description": description, "who_must_act": advice.actor.code() }),
        )
        .await?;
        return Err(SsoError::Idp {
            error: error.clone(),
            description,
            advice,
        });
    }
    let Some(code) = query.get("code").filter(|c| !c.is_empty()) else {
        return Err(SsoError::invalid(
            "code",
            "the identity provider sent neither `code` nor `error`",
        ));
    };
    let pkce_verifier = open_text(&state, &consumed.pkce_verifier_sealed, &aad(&state_hash, "pkce"))?;
    let nonce = open_text(&state, &consumed.nonce_sealed, &aad(&state_hash, "nonce"))?;
    let secret = open_secret(&state, &tenant)?;
    let issuer = Issuer::parse(&tenant.issuer).map_err(SsoError::Corrupt)?;
    let identity = state
        .oidc
        .exchange_and_verify(
            &issuer,
            &ClientRegistration {
                client_id: &tenant.client_id,
                client_secret: &secret,
                redirect_uri: &redirect_uri,
            },
            code,
            &LoginSecrets {
                state: state_value.clone(),
                nonce,
                pkce_verifier,
            },
        )
        .await;
    let identity = match identity {
        Ok(identity) => identity,
        Err(e) => {
            let code = e.view().code;
            audit(
                &state,
                &tenant,
                "sso.login.failed",
                "anonymous",
                json!({ "reason": code, "message": e.to_string() }),
            )
            .await?;
            return Err(e);
        }
    };
    let now = unix(state.clock.now());
    let outcome = state
        .store
        .record_login(&LoginRecord {
            tenant_id: tenant.id.clone(),
            tenant_slug: tenant.slug.to_string(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            name: identity.name.clone(),
            new_user_id: format!("usr_{}", uuid::Uuid::now_v7().simple()),
            now,
        })
        .await?;
    tracing::info!(
        tenant = %tenant.slug,
        user = %outcome.user.id,
        project_role = %outcome.user.project_role,
        first_login_of_tenant = outcome.inserted_project,
        "sso login succeeded"
    );
    provision_soon(&state, &tenant.id).await;
    let token = random::token::<32>();
    let ttl = secs(SESSION_TTL);
    state
        .store
        .insert_session(&SessionRecord {
            token_hash: sha256_hex(token.as_bytes()),
            user_id: outcome.user.id.clone(),
            tenant_id: tenant.id.clone(),
            created_at: now,
            expires_at: now + ttl,
        })
        .await?;
    // The binding cookie stays: other tabs may have logins of their own in flight.
    let jar = jar.add(cookies::session(token, ttl, &state.public_url));
    Ok((jar, Redirect::to(&state.public_url.join("/dashboard"))).into_response())
}

/// Runs the tenant's provisioning now, waiting a moment for it so the dashboard usually shows the
/// project at once; a slow or failing run carries on (or is retried) in the background.
async fn provision_soon(state: &SharedState, tenant_id: &str) {
    let provisioner = state.provisioner.clone();
    let tenant_id = tenant_id.to_owned();
    let run = tokio::spawn(async move { provisioner.run(&tenant_id, false).await });
    match tokio::time::timeout(state.provision_wait, run).await {
        Ok(Ok(Ok(outcome))) => tracing::debug!(?outcome, "provisioning after login"),
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "provisioning after login failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "provisioning task failed"),
        Err(_) => tracing::info!("provisioning still running; showing the dashboard meanwhile"),
    }
}

/// The tenant named by `input` if it exists and is enabled; else 404 `SSO config not found`.
pub async fn enabled_tenant(state: &SharedState, input: &str) -> Result<TenantRecord, SsoError> {
    let Ok(slug) = TenantSlug::parse(input) else {
        return Err(SsoError::SsoConfigNotFound);
    };
    match state.store.tenant_by_slug(slug.as_str()).await? {
        Some(t) if t.enabled => Ok(t),
        _ => Err(SsoError::SsoConfigNotFound),
    }
}

fn aad(state_hash: &str, what: &str) -> String {
    format!("login_states:{state_hash}:{what}")
}

/// Associated data binding a tenant's sealed client secret to its row.
pub fn secret_aad(tenant_id: &str) -> String {
    format!("tenants:{tenant_id}:client_secret")
}

fn open_text(state: &SharedState, sealed: &str, aad: &str) -> Result<String, SsoError> {
    let opened = state.keyring.open(sealed, aad.as_bytes())?;
    String::from_utf8(opened.plaintext.to_vec())
        .map_err(|_| SsoError::Corrupt("sealed value is not UTF-8".into()))
}

/// The tenant's client secret, opened from its sealed form.
pub fn open_secret(state: &SharedState, tenant: &TenantRecord) -> Result<String, SsoError> {
    open_text(state, &tenant.client_secret_sealed, &secret_aad(&tenant.id))
}

async fn audit(
    state: &SharedState,
    tenant: &TenantRecord,
    kind: &str,
    actor: &str,
    detail: serde_json::Value,
) -> Result<(), SsoError> {
    state
        .store
        .append_audit(&NewAudit {
            at: unix(state.clock.now()),
            kind: kind.into(),
            tenant: Some(tenant.slug.to_string()),
            actor: actor.into(),
            detail,
        })
        .await
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Whether `host[:port]` names this machine (`localhost`, `127.0.0.0/8`, `[::1]`).
fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_authority;

    #[test]
    fn loopback_authorities() {
        for yes in [
            "localhost:8090",
            "127.0.0.1:8090",
            "[::1]:8090",
            "LOCALHOST",
            "127.1.2.3",
        ] {
            assert!(is_loopback_authority(yes), "{yes}");
        }
        for no in ["sso.example.com", "10.0.0.1:8090", "example.com:443"] {
            assert!(!is_loopback_authority(no), "{no}");
        }
    }
}
