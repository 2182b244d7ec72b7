//! The authorization server's access-policy rules: `/api/v1/authorization-server/rules`. A rule
//! is the JSON the OIDC provider evaluates (`gatehouse_oidc::access_policy::AccessRule`), checked
//! by that crate before it is stored.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_api::admin::authorization_server::AccessRuleList;
use gatehouse_api::error::ErrorBody;
use gatehouse_core::model::{AccessRuleId, AccessRuleRecord, Outcome, PolicyName, event_types};
use gatehouse_oidc::access_policy::AccessRule;
use gatehouse_store::{Tx, new_id};
use serde_json::{Value, json};

use super::extract::{Admin, Body, id};
use crate::audit::Event;
use crate::{ApiError, AppState};

fn to_wire(rule: &AccessRuleRecord) -> Value {
    let mut body = rule.body.clone();
    if let Some(object) = body.as_object_mut() {
        object.insert("id".to_owned(), json!(rule.id.to_string()));
    }
    body
}

/// Checks a rule body with the OIDC crate; the field named is the one serde names, if any.
fn parse(mut body: Value) -> Result<(AccessRule, Value), ApiError> {
    if let Some(object) = body.as_object_mut() {
        object.remove("id");
    }
    match serde_path_to_error::deserialize::<_, AccessRule>(body.clone()) {
        Ok(rule) => Ok((rule, body)),
        Err(error) => {
            let path = error.path().to_string();
            let mut api = ApiError::invalid_json(format!("the rule is not valid: {}", error.inner()));
            if !path.is_empty() && path != "." {
                api = api.with_field(path);
            }
            Err(api)
        }
    }
}

async fn load(tx: &mut Tx, raw: &str) -> Result<AccessRuleRecord, ApiError> {
    let rid = id(raw, "access-policy rule", AccessRuleId::parse)?;
    tx.access_rules()
        .get(rid)
        .await?
        .ok_or_else(|| ApiError::not_found("access-policy rule"))
}

async fn changed(state: &AppState) {
    state.clients_changed().await;
    state.policies_changed().await;
}

/// Every rule, in evaluation order (priority, then name).
#[utoipa::path(get, path = "/api/v1/authorization-server/rules", tag = "authorization-server",
    responses((status = 200, body = AccessRuleList), (status = 401, body = ErrorBody)))]
pub async fn list(_admin: Admin, State(state): State<AppState>) -> Result<Json<AccessRuleList>, ApiError> {
    let rules = state.store().access_rules().list().await?;
    Ok(Json(AccessRuleList {
        items: rules.iter().map(to_wire).collect(),
    }))
}

/// Create a rule.
#[utoipa::path(post, path = "/api/v1/authorization-server/rules", tag = "authorization-server", request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    Body(body): Body<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = state.now();
    let (rule, body) = parse(body)?;
    let record = AccessRuleRecord {
        id: new_id(),
        name: PolicyName::parse(&rule.name)?,
        priority: i64::from(rule.priority),
        body,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.store().begin().await?;
    if tx.access_rules().by_name(record.name.key()).await?.is_some() {
        return Err(
            ApiError::conflict("already_exists", "another rule already has this name").with_field("name"),
        );
    }
    tx.access_rules().insert(&record).await?;
    Event::new(event_types::AUTHZ_RULE_CREATE, admin.actor(), Outcome::Success)
        .detail("rule_id", record.id.to_string())
        .detail("name", record.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    changed(&state).await;
    Ok((StatusCode::CREATED, Json(to_wire(&record))))
}

/// Read a rule.
#[utoipa::path(get, path = "/api/v1/authorization-server/rules/{id}", tag = "authorization-server", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let mut tx = state.store().begin().await?;
    let rule = load(&mut tx, &raw).await?;
    tx.commit().await?;
    Ok(Json(to_wire(&rule)))
}

/// Replace a rule.
#[utoipa::path(put, path = "/api/v1/authorization-server/rules/{id}", tag = "authorization-server", params(("id" = String, Path)),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn replace(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    let now = state.now();
    let (rule, body) = parse(body)?;
    let mut tx = state.store().begin().await?;
    let mut record = load(&mut tx, &raw).await?;
    let name = PolicyName::parse(&rule.name)?;
    if let Some(other) = tx.access_rules().by_name(name.key()).await?
        && other.id != record.id
    {
        return Err(
            ApiError::conflict("already_exists", "another rule already has this name").with_field("name"),
        );
    }
    record.name = name;
    record.priority = i64::from(rule.priority);
    record.body = body;
    record.updated_at = now;
    tx.access_rules().update(&record).await?;
    Event::new(event_types::AUTHZ_RULE_UPDATE, admin.actor(), Outcome::Success)
        .detail("rule_id", record.id.to_string())
        .detail("name", record.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    changed(&state).await;
    Ok(Json(to_wire(&record)))
}

/// Delete a rule.
#[utoipa::path(delete, path = "/api/v1/authorization-server/rules/{id}", tag = "authorization-server", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let record = load(&mut tx, &raw).await?;
    tx.access_rules().delete(record.id).await?;
    Event::new(event_types::AUTHZ_RULE_DELETE, admin.actor(), Outcome::Success)
        .detail("rule_id", record.id.to_string())
        .detail("name", record.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}
