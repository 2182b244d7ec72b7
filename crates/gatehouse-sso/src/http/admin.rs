//! The tenant admin API (bearer admin token):
//!
//! - `POST /admin/tenants` register; `GET /admin/tenants` list;
//! - `GET|PATCH|DELETE /admin/tenants/{slug}` read, update, delete;
//! - `POST /admin/tenants/{slug}/disable|enable`, `/rotate-secret`, `/test` (connection test),
//!   `/reprovision`; `GET /admin/tenants/{slug}/users`; `GET /admin/audit`.
//!
//! Every tenant view shows the exact redirect URI to register at the IdP. Bad fields answer 400
//! with `field`; a taken slug 409; an unknown tenant 404 `SSO config not found`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_crypto::digest::sha256_hex;
use serde_json::{Map, Value, json};

use super::SharedState;
use super::dashboard::provisioning_json;
use super::sso::secret_aad;
use crate::SsoError;
use crate::clock::{rfc3339, unix};
use crate::domain::advice::redirect_uri_setup;
use crate::domain::{AllowedOrigin, ClientId, ClientSecret, CompanyName, Issuer, TenantSlug};
use crate::oidc::probe;
use crate::provision::RunOutcome;
use crate::store::{NewAudit, TenantRecord};

/// The admin routes, behind the admin token.
pub fn router(state: SharedState) -> Router<SharedState> {
    Router::new()
        .route("/tenants", post(create).get(list))
        .route("/tenants/{slug}", get(read).patch(update).delete(remove))
        .route("/tenants/{slug}/disable", post(disable))
        .route("/tenants/{slug}/enable", post(enable))
        .route("/tenants/{slug}/rotate-secret", post(rotate_secret))
        .route("/tenants/{slug}/test", post(test_connection))
        .route("/tenants/{slug}/reprovision", post(reprovision))
        .route("/tenants/{slug}/users", get(users))
        .route("/audit", get(audit_log))
        .layer(axum::middleware::from_fn_with_state(state, require_admin))
}

/// Refuses requests without a valid admin token.
async fn require_admin(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = presented else {
        return SsoError::Unauthorized.into_response();
    };
    let digest = sha256_hex(token.as_bytes());
    let by_env = state
        .admin_token_hash
        .as_deref()
        .is_some_and(|h| gatehouse_crypto::constant_time_eq(h.as_bytes(), digest.as_bytes()));
    let ok = by_env
        || match state.store.admin_token_known(&digest).await {
            Ok(known) => known,
            Err(e) => return e.into_response(),
        };
    if ok {
        next.run(request).await
    } else {
        tracing::warn!("admin API call with an unknown token");
        SsoError::Unauthorized.into_response()
    }
}

/// The tenant as the admin API shows it (never the secret).
fn view(state: &SharedState, t: &TenantRecord, provisioning: Option<Value>) -> Value {
    let redirect_uri = state.public_url.redirect_uri(&t.slug);
    json!({
        "slug": t.slug.as_str(),
        "company_name": t.company_name,
        "issuer": t.issuer,
        "client_id": t.client_id,
        "client_secret_set": !t.client_secret_sealed.is_empty(),
        "allowed_origins": t.allowed_origins,
        "enabled": t.enabled,
        "redirect_uri": redirect_uri,
        "redirect_uri_instructions": redirect_uri_setup(&redirect_uri),
        "sign_in_url": state.public_url.join(&format!("/sso/start?tenant={}", t.slug)),
        "provisioning": provisioning.unwrap_or(Value::Null),
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
    })
}

async fn full_view(state: &SharedState, t: &TenantRecord) -> Result<Value, SsoError> {
    let provisioning = state.store.provisioning(&t.id).await?;
    Ok(view(state, t, provisioning.as_ref().map(provisioning_json)))
}

fn json_object(body: &Bytes) -> Result<Map<String, Value>, SsoError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| SsoError::Invalid {
        field: None,
        message: format!("request body is not valid JSON: {e}"),
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(SsoError::Invalid {
            field: None,
            message: "request body must be a JSON object".into(),
        }),
    }
}

fn string_field<'a>(body: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, SsoError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SsoError::invalid(name, format!("`{name}` must be a string"))),
    }
}

fn required<'a>(body: &'a Map<String, Value>, name: &str) -> Result<&'a str, SsoError> {
    string_field(body, name)?.ok_or_else(|| SsoError::invalid(name, format!("`{name}` is required")))
}

fn parse_field<T>(name: &str, value: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, SsoError> {
    parse(value).map_err(|m| SsoError::invalid(name, m))
}

fn origins_field(body: &Map<String, Value>) -> Result<Option<Vec<String>>, SsoError> {
    let items = match body.get("allowed_origins") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(SsoError::invalid(
                "allowed_origins",
                "`allowed_origins` must be an array of origins such as `https://app.example.com`",
            ));
        }
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::String(text) = item else {
            return Err(SsoError::invalid(
                "allowed_origins",
                format!("allowed_origins[{i}] must be a string"),
            ));
        };
        let origin = AllowedOrigin::parse(text)
            .map_err(|m| SsoError::invalid("allowed_origins", format!("allowed_origins[{i}]: {m}")))?;
        if !out.iter().any(|o| o == origin.as_str()) {
            out.push(origin.as_str().to_owned());
        }
    }
    if out.len() > 50 {
        return Err(SsoError::invalid(
            "allowed_origins",
            "at most 50 origins per tenant",
        ));
    }
    Ok(Some(out))
}

fn reject_unknown(body: &Map<String, Value>, known: &[&str]) -> Result<(), SsoError> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(SsoError::invalid(
            k,
            format!("unknown field `{k}`; expected one of {}", known.join(", ")),
        )),
        None => Ok(()),
    }
}

fn audit(state: &SharedState, kind: &str, slug: &str, detail: Value) -> NewAudit {
    NewAudit {
        at: unix(state.clock.now()),
        kind: kind.into(),
        tenant: Some(slug.to_owned()),
        actor: "admin".into(),
        detail,
    }
}

const CREATE_FIELDS: &[&str] = &[
    "slug",
    "company_name",
    "issuer",
    "client_id",
    "client_secret",
    "allowed_origins",
];

/// `POST /admin/tenants`.
async fn create(State(state): State<SharedState>, body: Bytes) -> Result<Response, SsoError> {
    let body = json_object(&body)?;
    reject_unknown(&body, CREATE_FIELDS)?;
    let slug = parse_field("slug", required(&body, "slug")?, TenantSlug::parse)?;
    let company = parse_field(
        "company_name",
        required(&body, "company_name")?,
        CompanyName::parse,
    )?;
    let issuer = parse_field("issuer", required(&body, "issuer")?, Issuer::parse)?;
    let client_id = parse_field("client_id", required(&body, "client_id")?, ClientId::parse)?;
    let secret = parse_field(
        "client_secret",
        required(&body, "client_secret")?,
        ClientSecret::parse,
    )?;
    let origins = origins_field(&body)?.unwrap_or_default();
    let now = unix(state.clock.now());
    let id = format!("tnt_{}", uuid::Uuid::now_v7().simple());
    let tenant = TenantRecord {
        client_secret_sealed: state
            .keyring
            .seal(secret.expose().as_bytes(), secret_aad(&id).as_bytes()),
        id,
        slug,
        company_name: company.as_str().to_owned(),
        issuer: issuer.as_str().to_owned(),
        client_id: client_id.as_str().to_owned(),
        allowed_origins: origins,
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    let event = audit(
        &state,
        "tenant.created",
        tenant.slug.as_str(),
        json!({ "issuer": tenant.issuer, "client_id": tenant.client_id, "allowed_origins": tenant.allowed_origins }),
    );
    state.store.insert_tenant(&tenant, &event).await?;
    tracing::info!(tenant = %tenant.slug, issuer = %tenant.issuer, "tenant registered");
    let location = format!("/admin/tenants/{}", tenant.slug);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view(&state, &tenant, None)),
    )
        .into_response())
}

/// `GET /admin/tenants`.
async fn list(State(state): State<SharedState>) -> Result<Json<Value>, SsoError> {
    let tenants = state.store.list_tenants().await?;
    let mut out = Vec::with_capacity(tenants.len());
    for t in &tenants {
        out.push(full_view(&state, t).await?);
    }
    Ok(Json(json!({ "tenants": out })))
}

async fn tenant(state: &SharedState, slug: &str) -> Result<TenantRecord, SsoError> {
    if TenantSlug::parse(slug).is_err() {
        return Err(SsoError::SsoConfigNotFound);
    }
    state
        .store
        .tenant_by_slug(slug)
        .await?
        .ok_or(SsoError::SsoConfigNotFound)
}

/// `GET /admin/tenants/{slug}`.
async fn read(State(state): State<SharedState>, Path(slug): Path<String>) -> Result<Json<Value>, SsoError> {
    let t = tenant(&state, &slug).await?;
    Ok(Json(full_view(&state, &t).await?))
}

const PATCH_FIELDS: &[&str] = &[
    "slug",
    "company_name",
    "issuer",
    "client_id",
    "client_secret",
    "allowed_origins",
    "enabled",
];

/// `PATCH /admin/tenants/{slug}`.
async fn update(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SsoError> {
    let mut t = tenant(&state, &slug).await?;
    let body = json_object(&body)?;
    reject_unknown(&body, PATCH_FIELDS)?;
    let mut changed: Vec<&str> = Vec::new();
    if let Some(new_slug) = string_field(&body, "slug")?
        && new_slug != t.slug.as_str()
    {
        return Err(SsoError::invalid(
            "slug",
            "the slug cannot be changed: it is part of the redirect URI registered at the IdP; register a new tenant instead",
        ));
    }
    if let Some(v) = string_field(&body, "company_name")? {
        t.company_name = parse_field("company_name", v, CompanyName::parse)?
            .as_str()
            .to_owned();
        changed.push("company_name");
    }
    let old_issuer = t.issuer.clone();
    if let Some(v) = string_field(&body, "issuer")? {
        t.issuer = parse_field("issuer", v, Issuer::parse)?.as_str().to_owned();
        changed.push("issuer");
    }
    if let Some(v) = string_field(&body, "client_id")? {
        t.client_id = parse_field("client_id", v, ClientId::parse)?.as_str().to_owned();
        changed.push("client_id");
    }
    if let Some(v) = string_field(&body, "client_secret")? {
        let secret = parse_field("client_secret", v, ClientSecret::parse)?;
        t.client_secret_sealed = state
            .keyring
            .seal(secret.expose().as_bytes(), secret_aad(&t.id).as_bytes());
        changed.push("client_secret");
    }
    if let Some(origins) = origins_field(&body)? {
        t.allowed_origins = origins;
        changed.push("allowed_origins");
    }
    match body.get("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            t.enabled = *b;
            changed.push("enabled");
        }
        Some(_) => return Err(SsoError::invalid("enabled", "`enabled` must be true or false")),
    }
    t.updated_at = unix(state.clock.now());
    let event = audit(
        &state,
        "tenant.updated",
        t.slug.as_str(),
        json!({ "changed": changed }),
    );
    if !state.store.update_tenant(&t, &event).await? {
        return Err(SsoError::SsoConfigNotFound);
    }
    if old_issuer != t.issuer {
        state.oidc.forget(&old_issuer);
    }
    Ok(Json(full_view(&state, &t).await?))
}

/// `DELETE /admin/tenants/{slug}`.
async fn remove(State(state): State<SharedState>, Path(slug): Path<String>) -> Result<StatusCode, SsoError> {
    let t = tenant(&state, &slug).await?;
    let event = audit(
        &state,
        "tenant.deleted",
        t.slug.as_str(),
        json!({ "issuer": t.issuer }),
    );
    if state.store.delete_tenant(t.slug.as_str(), &event).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(SsoError::SsoConfigNotFound)
    }
}

async fn set_enabled(state: &SharedState, slug: &str, enabled: bool) -> Result<Json<Value>, SsoError> {
    let mut t = tenant(state, slug).await?;
    t.enabled = enabled;
    t.updated_at = unix(state.clock.now());
    let kind = if enabled {
        "tenant.enabled"
    } else {
        "tenant.disabled"
    };
    let event = audit(state, kind, t.slug.as_str(), json!({}));
    if !state.store.update_tenant(&t, &event).await? {
        return Err(SsoError::SsoConfigNotFound);
    }
    Ok(Json(full_view(state, &t).await?))
}

/// `POST /admin/tenants/{slug}/disable`.
async fn disable(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Json<Value>, SsoError> {
    set_enabled(&state, &slug, false).await
}

/// `POST /admin/tenants/{slug}/enable`.
async fn enable(State(state): State<SharedState>, Path(slug): Path<String>) -> Result<Json<Value>, SsoError> {
    set_enabled(&state, &slug, true).await
}

/// `POST /admin/tenants/{slug}/rotate-secret {"client_secret"}`: stores the secret the IdP issued
/// after a rotation there, sealed under the keyring's active key.
async fn rotate_secret(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, SsoError> {
    let mut t = tenant(&state, &slug).await?;
    let body = json_object(&body)?;
    reject_unknown(&body, &["client_secret"])?;
    let secret = parse_field(
        "client_secret",
        required(&body, "client_secret")?,
        ClientSecret::parse,
    )?;
    t.client_secret_sealed = state
        .keyring
        .seal(secret.expose().as_bytes(), secret_aad(&t.id).as_bytes());
    t.updated_at = unix(state.clock.now());
    let event = audit(
        &state,
        "tenant.secret_rotated",
        t.slug.as_str(),
        json!({ "key_id": state.keyring.active_key_id() }),
    );
    if !state.store.update_tenant(&t, &event).await? {
        return Err(SsoError::SsoConfigNotFound);
    }
    Ok(Json(full_view(&state, &t).await?))
}

/// `POST /admin/tenants/{slug}/test`: discovery reachable, client credentials accepted, redirect
/// URI accepted by the authorization endpoint.
async fn test_connection(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Json<Value>, SsoError> {
    let t = tenant(&state, &slug).await?;
    let secret = super::sso::open_secret(&state, &t)?;
    let redirect_uri = state.public_url.redirect_uri(&t.slug);
    let issuer = Issuer::parse(&t.issuer).map_err(SsoError::Corrupt)?;
    state.oidc.forget(issuer.as_str());
    let report = probe::test_connection(&state.oidc, &issuer, &t.client_id, &secret, &redirect_uri).await;
    let ok = report.iter().all(|c| c.ok);
    state
        .store
        .append_audit(&audit(
            &state,
            "tenant.tested",
            t.slug.as_str(),
            json!({ "ok": ok, "failed": report.iter().filter(|c| !c.ok).map(|c| c.name).collect::<Vec<_>>() }),
        ))
        .await?;
    Ok(Json(json!({
        "ok": ok,
        "tenant": t.slug.as_str(),
        "issuer": t.issuer,
        "redirect_uri": redirect_uri,
        "redirect_uri_instructions": redirect_uri_setup(&redirect_uri),
        "checks": report.iter().map(probe::Check::json).collect::<Vec<_>>(),
    })))
}

/// `POST /admin/tenants/{slug}/reprovision`: runs the tenant's provisioning now.
async fn reprovision(
    State(state): State<SharedState>,
    Path(slug): Path<String>,
) -> Result<Response, SsoError> {
    let t = tenant(&state, &slug).await?;
    if state.store.provisioning(&t.id).await?.is_none() {
        return Err(SsoError::Invalid {
            field: None,
            message: format!("tenant `{slug}` has nothing to provision yet: no user has signed in"),
        });
    }
    state
        .store
        .append_audit(&audit(
            &state,
            "provision.reprovision_requested",
            t.slug.as_str(),
            json!({}),
        ))
        .await?;
    let outcome = state.provisioner.run(&t.id, true).await?;
    let provisioning = state.store.provisioning(&t.id).await?;
    let body = json!({
        "tenant": t.slug.as_str(),
        "provisioning": provisioning.as_ref().map(provisioning_json),
    });
    match outcome {
        RunOutcome::Done { .. } => Ok(Json(body).into_response()),
        RunOutcome::NotClaimed => Ok((StatusCode::ACCEPTED, Json(body)).into_response()),
        RunOutcome::Failed { error } => Err(SsoError::Provisioning(error)),
    }
}

/// `GET /admin/tenants/{slug}/users`.
async fn users(State(state): State<SharedState>, Path(slug): Path<String>) -> Result<Json<Value>, SsoError> {
    let t = tenant(&state, &slug).await?;
    let users = state.store.users_of_tenant(&t.id).await?;
    Ok(Json(json!({
        "users": users.iter().map(|u| json!({
            "id": u.id,
            "subject": u.subject,
            "issuer": u.issuer,
            "email": u.email,
            "name": u.name,
            "role": u.role,
            "project_role": u.project_role,
            "provisioned": u.synced_at.is_some(),
            "created_at": rfc3339(u.created_at),
            "last_login_at": rfc3339(u.last_login_at),
        })).collect::<Vec<_>>()
    })))
}

/// `GET /admin/audit?tenant=&kind=&limit=`.
async fn audit_log(
    State(state): State<SharedState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, SsoError> {
    let limit = match query.get("limit") {
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| SsoError::invalid("limit", "`limit` must be a number from 1 to 1000"))?,
        None => 100,
    };
    let events = state
        .store
        .audit_events(
            query.get("tenant").map(String::as_str),
            query.get("kind").map(String::as_str),
            limit,
        )
        .await?;
    Ok(Json(json!({
        "events": events.iter().map(|e| json!({
            "id": e.id,
            "at": rfc3339(e.at),
            "kind": e.kind,
            "tenant": e.tenant,
            "actor": e.actor,
            "detail": serde_json::from_str::<Value>(&e.detail).unwrap_or(Value::Null),
        })).collect::<Vec<_>>()
    })))
}
