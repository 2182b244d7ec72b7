//! Policies and their rules (`/api/v1/policies`) in the JSON form of the policy language, and
//! `POST /api/v1/policies/simulate`. Every write is validated by the policy crate against the
//! whole stored document (zones, other policies) first; a refused write is a 400
//! `invalid_policy` whose `field` is the first error's path and whose `diagnostics` list all.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_api::admin::policies::{
    Policy as WirePolicy, PolicyInput, PolicyList, RuleList, RuleOrder, SimulateRequest,
};
use gatehouse_api::error::{Diagnostic as WireDiagnostic, ErrorBody};
use gatehouse_core::model::{
    Outcome, Policy, PolicyId, PolicyKind, PolicyName, PolicyRule, RuleId, event_types,
};
use gatehouse_policy::simulate::{Simulation, decision_output};
use gatehouse_policy::{Diagnostic, Format, PolicyDocument, PolicyError, PolicySet, check_text};
use gatehouse_store::{Tx, new_id};
use serde_json::{Value, json};

use super::extract::{Admin, Body, Params, id, time};
use crate::audit::Event;
use crate::{ApiError, AppState, directory};

fn wire_diagnostic(d: &Diagnostic, path: String) -> WireDiagnostic {
    WireDiagnostic {
        severity: if d.is_error() { "error" } else { "warning" }.to_owned(),
        code: serde_json::to_value(d.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        path,
        message: d.message.clone(),
    }
}

/// Where a policy sits in the document: `authentication_policies[3]`, `global_session_policy`.
fn prefix(kind: PolicyKind, index: usize) -> String {
    match kind {
        PolicyKind::Authentication => format!("authentication_policies[{index}]"),
        PolicyKind::GlobalSession => "global_session_policy".to_owned(),
        PolicyKind::Enrollment => "enrollment_policy".to_owned(),
    }
}

/// Strips `prefix.` from a diagnostic path (errors about the policy are reported relative to it).
fn relative(path: &str, prefix: &str) -> Option<String> {
    if path == prefix {
        return Some(String::new());
    }
    path.strip_prefix(prefix)
        .and_then(|rest| {
            rest.strip_prefix('.')
                .or_else(|| rest.starts_with('[').then_some(rest))
        })
        .map(str::to_owned)
}

/// The stored document as JSON, with `body` (a policy in the policy language) put in the place of
/// the policy `replacing` (by kind and name) or added. Returns the document and the prefix of the
/// policy in it.
async fn candidate(
    state: &AppState,
    kind: PolicyKind,
    replacing: Option<&str>,
    body: Value,
) -> Result<(Value, String), ApiError> {
    let document = directory::load_document(state.store()).await?;
    let mut doc = serde_json::to_value(&document).map_err(|e| ApiError::internal(&e))?;
    let object = doc
        .as_object_mut()
        .ok_or_else(|| ApiError::internal(&"document is not an object"))?;
    let at = match kind {
        PolicyKind::Authentication => {
            let list = object
                .entry("authentication_policies")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .ok_or_else(|| ApiError::internal(&"policies are not a list"))?;
            let existing = replacing.and_then(|name| {
                list.iter().position(|p| {
                    p.get("name")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            });
            match existing {
                Some(i) => {
                    if let Some(slot) = list.get_mut(i) {
                        *slot = body;
                    }
                    i
                }
                None => {
                    list.push(body);
                    list.len() - 1
                }
            }
        }
        PolicyKind::GlobalSession => {
            object.insert("global_session_policy".to_owned(), body);
            0
        }
        PolicyKind::Enrollment => {
            object.insert("enrollment_policy".to_owned(), body);
            0
        }
    };
    Ok((doc, prefix(kind, at)))
}

/// Validates a candidate document: 400 `invalid_policy` on any error; else the parsed document
/// and the warnings about the policy at `prefix`.
fn validate(doc: &Value, prefix: &str) -> Result<(PolicyDocument, Vec<WireDiagnostic>), ApiError> {
    // Syntax first, for the path of a wrong type or unknown field (the checker locates those by
    // line and column, which mean nothing for a JSON body).
    if let Err(error) = serde_path_to_error::deserialize::<_, PolicyDocument>(doc.clone()) {
        let path = error.path().to_string();
        let field = relative(&path, prefix).unwrap_or(path);
        let message = format!("the policy is not valid: {}", error.inner());
        let mut api = ApiError::new(StatusCode::BAD_REQUEST, "invalid_policy", message.clone());
        if !field.is_empty() && field != "." {
            api = api.with_field(field.clone());
        }
        api.diagnostics = Some(vec![WireDiagnostic {
            severity: "error".to_owned(),
            code: "syntax".to_owned(),
            path: field,
            message: error.inner().to_string(),
        }]);
        return Err(api);
    }
    let report = check_text(&doc.to_string(), Format::Json);
    let located = |d: &Diagnostic| relative(&d.path, prefix).unwrap_or_else(|| d.path.clone());
    let errors: Vec<&Diagnostic> = report.diagnostics.iter().filter(|d| d.is_error()).collect();
    if let Some(first) = errors.first() {
        let field = located(first);
        let mut error = ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_policy",
            format!("the policy is not valid: {}", first.message),
        );
        if !field.is_empty() {
            error = error.with_field(field);
        }
        error.diagnostics = Some(
            report
                .diagnostics
                .iter()
                .map(|d| wire_diagnostic(d, located(d)))
                .collect(),
        );
        return Err(error);
    }
    let warnings = report
        .diagnostics
        .iter()
        .filter_map(|d| relative(&d.path, prefix).map(|p| wire_diagnostic(d, p)))
        .collect();
    let document = report
        .document
        .ok_or_else(|| ApiError::internal(&"a valid policy did not parse"))?;
    Ok((document, warnings))
}

/// A rule as the API shows it: its policy-language JSON plus `id` and `position`.
fn rule_json(rule: &PolicyRule) -> Value {
    let mut body = rule.body.clone();
    if let Some(object) = body.as_object_mut() {
        object.insert("id".to_owned(), json!(rule.id.to_string()));
        object.insert("position".to_owned(), json!(rule.position));
    }
    body
}

/// A rule from a request: `id` and `position` (as answers show them) are ignored.
fn rule_input(mut body: Value) -> Result<Value, ApiError> {
    let object = body
        .as_object_mut()
        .ok_or_else(|| ApiError::invalid_json("a rule must be a JSON object"))?;
    object.remove("id");
    object.remove("position");
    Ok(body)
}

async fn load(tx: &mut Tx, raw: &str) -> Result<Policy, ApiError> {
    let pid = id(raw, "policy", PolicyId::parse)?;
    tx.policies()
        .get(pid)
        .await?
        .ok_or_else(|| ApiError::not_found("policy"))
}

/// The policy's body in the policy language, from the store.
async fn body_of(tx: &mut Tx, policy: &Policy, rules: &[PolicyRule]) -> Result<Value, ApiError> {
    let bodies: Vec<Value> = rules.iter().map(|r| r.body.clone()).collect();
    Ok(match policy.kind {
        PolicyKind::Authentication => {
            let apps: Vec<String> = tx
                .apps()
                .using_policy(policy.id)
                .await?
                .into_iter()
                .map(|a| a.client_id.as_str().to_owned())
                .collect();
            json!({"name": policy.name.as_str(), "apps": apps, "rules": bodies})
        }
        PolicyKind::GlobalSession => json!({"rules": bodies}),
        PolicyKind::Enrollment => policy.settings.clone(),
    })
}

async fn to_wire(state: &AppState, tx: &mut Tx, policy: &Policy) -> Result<WirePolicy, ApiError> {
    let rules = tx.policies().rules(policy.id).await?;
    let body = body_of(tx, policy, &rules).await?;
    let (doc, at) = candidate(state, policy.kind, Some(policy.name.as_str()), body.clone()).await?;
    let warnings = validate(&doc, &at).map(|(_, w)| w).unwrap_or_default();
    Ok(WirePolicy {
        id: policy.id.to_string(),
        kind: policy.kind.as_str().to_owned(),
        name: policy.name.as_str().to_owned(),
        apps: body
            .get("apps")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
        rules: rules.iter().map(rule_json).collect(),
        allowed: (policy.kind == PolicyKind::Enrollment)
            .then(|| {
                policy
                    .settings
                    .get("allowed")
                    .and_then(|a| serde_json::from_value(a.clone()).ok())
            })
            .flatten(),
        warnings,
        created_at: time(policy.created_at),
        updated_at: time(policy.updated_at),
    })
}

/// Every policy, by type then name.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies",
    responses((status = 200, body = PolicyList), (status = 401, body = ErrorBody)))]
pub async fn list(_admin: Admin, State(state): State<AppState>) -> Result<Json<PolicyList>, ApiError> {
    let mut tx = state.store().begin().await?;
    let mut items = Vec::new();
    for policy in tx.policies().list(None).await? {
        items.push(to_wire(&state, &mut tx, &policy).await?);
    }
    tx.commit().await?;
    Ok(Json(PolicyList { items }))
}

fn kind_of(input: &PolicyInput) -> Result<PolicyKind, ApiError> {
    PolicyKind::parse(&input.kind).map_err(|_| {
        ApiError::invalid(
            "type",
            "`type` must be `authentication`, `global_session` or `enrollment`",
        )
    })
}

/// The policy-language body of an input, and the name it is stored under (the global session
/// and enrollment policies are singletons named `default`).
fn input_body(kind: PolicyKind, input: &PolicyInput) -> Result<(Value, String), ApiError> {
    let rules = input
        .rules
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(rule_input)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match kind {
        PolicyKind::Authentication => {
            PolicyName::parse(&input.name)?;
            (
                json!({"name": input.name, "apps": input.apps.clone().unwrap_or_default(), "rules": rules}),
                input.name.clone(),
            )
        }
        PolicyKind::GlobalSession => (json!({"rules": rules}), "default".to_owned()),
        PolicyKind::Enrollment => {
            let body = match &input.allowed {
                Some(allowed) => json!({ "allowed": allowed }),
                None => json!({}),
            };
            (body, "default".to_owned())
        }
    })
}

/// Writes the `kind` part of `document` (validated) through `directory::apply`.
async fn write(
    tx: &mut Tx,
    kind: PolicyKind,
    document: &PolicyDocument,
    name: &str,
    admin: &Admin,
    now: jiff::Timestamp,
) -> Result<(), ApiError> {
    let only = PolicyDocument {
        version: 1,
        network_zones: Vec::new(),
        global_session_policy: (kind == PolicyKind::GlobalSession)
            .then(|| document.global_session_policy.clone())
            .flatten(),
        enrollment_policy: (kind == PolicyKind::Enrollment)
            .then(|| document.enrollment_policy.clone())
            .flatten(),
        authentication_policies: if kind == PolicyKind::Authentication {
            document
                .authentication_policies
                .iter()
                .filter(|p| p.name.eq_ignore_ascii_case(name))
                .cloned()
                .collect()
        } else {
            Vec::new()
        },
    };
    directory::apply(tx, &only, &admin.actor(), now).await?;
    Ok(())
}

fn unknown_apps(document: &PolicyDocument, name: &str) -> Vec<String> {
    document
        .authentication_policies
        .iter()
        .filter(|p| p.name.eq_ignore_ascii_case(name))
        .flat_map(|p| p.apps.clone())
        .collect()
}

async fn check_apps(tx: &mut Tx, apps: &[String]) -> Result<(), ApiError> {
    for (i, client_id) in apps.iter().enumerate() {
        if tx.apps().by_client_id(client_id).await?.is_none() {
            return Err(ApiError::invalid(
                format!("apps[{i}]"),
                format!("no app with client_id `{client_id}`"),
            ));
        }
    }
    Ok(())
}

/// Create a policy (`authentication`, or the singleton `global_session` / `enrollment`).
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = PolicyInput,
    responses((status = 201, body = WirePolicy), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    Body(input): Body<PolicyInput>,
) -> Result<(StatusCode, Json<WirePolicy>), ApiError> {
    let now = state.now();
    let kind = kind_of(&input)?;
    let (body, name) = input_body(kind, &input)?;
    let mut tx = state.store().begin().await?;
    let key = name.to_lowercase();
    let exists = match kind {
        PolicyKind::Authentication => tx.policies().by_name(kind, &key).await?.is_some(),
        _ => !tx.policies().list(Some(kind)).await?.is_empty(),
    };
    if exists {
        return Err(ApiError::conflict(
            "already_exists",
            format!("a {} policy named `{name}` already exists", kind.as_str()),
        )
        .with_field("name"));
    }
    let (doc, at) = candidate(&state, kind, None, body).await?;
    let (document, _) = validate(&doc, &at)?;
    check_apps(&mut tx, &unknown_apps(&document, &name)).await?;
    write(&mut tx, kind, &document, &name, &admin, now).await?;
    let policy = tx
        .policies()
        .by_name(kind, &key)
        .await?
        .ok_or_else(|| ApiError::internal(&"policy vanished"))?;
    Event::new(event_types::POLICY_CREATE, admin.actor(), Outcome::Success)
        .detail("policy_id", policy.id.to_string())
        .detail("name", policy.name.as_str())
        .append(&mut tx, now)
        .await?;
    let wire = to_wire(&state, &mut tx, &policy).await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok((StatusCode::CREATED, Json(wire)))
}

/// Read a policy with its rules.
#[utoipa::path(get, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = String, Path)),
    responses((status = 200, body = WirePolicy), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<WirePolicy>, ApiError> {
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let wire = to_wire(&state, &mut tx, &policy).await?;
    tx.commit().await?;
    Ok(Json(wire))
}

/// Replace a policy (its rules get new ids; `type` cannot change).
#[utoipa::path(put, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = String, Path)), request_body = PolicyInput,
    responses((status = 200, body = WirePolicy), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn replace(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(input): Body<PolicyInput>,
) -> Result<Json<WirePolicy>, ApiError> {
    let now = state.now();
    let kind = kind_of(&input)?;
    let mut tx = state.store().begin().await?;
    let mut policy = load(&mut tx, &raw).await?;
    if policy.kind != kind {
        return Err(ApiError::invalid(
            "type",
            format!(
                "this is a {} policy; its type cannot change",
                policy.kind.as_str()
            ),
        ));
    }
    let (body, name) = input_body(kind, &input)?;
    let (doc, at) = candidate(&state, kind, Some(policy.name.as_str()), body).await?;
    let (document, _) = validate(&doc, &at)?;
    check_apps(&mut tx, &unknown_apps(&document, &name)).await?;
    if kind == PolicyKind::Authentication {
        let new_name = PolicyName::parse(&name)?;
        if new_name.key() != policy.name.key() {
            if tx.policies().by_name(kind, new_name.key()).await?.is_some() {
                return Err(ApiError::conflict(
                    "already_exists",
                    format!("a policy named `{name}` already exists"),
                )
                .with_field("name"));
            }
            policy.name = new_name;
            policy.updated_at = now;
            tx.policies().update(&policy).await?;
        }
        for app in tx.apps().using_policy(policy.id).await? {
            tx.apps().set_policy(app.id, None, now).await?;
        }
    }
    write(&mut tx, kind, &document, &name, &admin, now).await?;
    let policy = tx
        .policies()
        .get(policy.id)
        .await?
        .ok_or_else(|| ApiError::internal(&"policy vanished"))?;
    Event::new(event_types::POLICY_UPDATE, admin.actor(), Outcome::Success)
        .detail("policy_id", policy.id.to_string())
        .detail("name", policy.name.as_str())
        .append(&mut tx, now)
        .await?;
    let wire = to_wire(&state, &mut tx, &policy).await?;
    tx.commit().await?;
    state.policies_changed().await;
    state.clients_changed().await;
    Ok(Json(wire))
}

/// Delete a policy; 409 while an app uses it.
#[utoipa::path(delete, path = "/api/v1/policies/{id}", tag = "policies", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let apps = tx.apps().using_policy(policy.id).await?;
    if !apps.is_empty() {
        let names: Vec<&str> = apps.iter().map(|a| a.client_id.as_str()).collect();
        return Err(ApiError::conflict(
            "in_use",
            format!(
                "policy `{}` is used by apps: {}",
                policy.name.as_str(),
                names.join(", ")
            ),
        ));
    }
    tx.policies().delete(policy.id).await?;
    Event::new(event_types::POLICY_DELETE, admin.actor(), Outcome::Success)
        .detail("policy_id", policy.id.to_string())
        .detail("name", policy.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(StatusCode::NO_CONTENT)
}

/// A policy's rules in order.
#[utoipa::path(get, path = "/api/v1/policies/{id}/rules", tag = "policies", params(("id" = String, Path)),
    responses((status = 200, body = RuleList), (status = 404, body = ErrorBody)))]
pub async fn rules(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<RuleList>, ApiError> {
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let rules = tx.policies().rules(policy.id).await?;
    tx.commit().await?;
    Ok(Json(RuleList {
        items: rules.iter().map(rule_json).collect(),
    }))
}

/// Validates the policy with `rules` (bodies) in place of its stored ones.
async fn validate_rules(
    state: &AppState,
    tx: &mut Tx,
    policy: &Policy,
    rules: Vec<Value>,
) -> Result<(), ApiError> {
    if policy.kind == PolicyKind::Enrollment {
        return Err(ApiError::invalid("rules", "the enrollment policy has no rules"));
    }
    let stored = tx.policies().rules(policy.id).await?;
    let mut body = body_of(tx, policy, &stored).await?;
    if let Some(object) = body.as_object_mut() {
        object.insert("rules".to_owned(), Value::Array(rules));
    }
    let (doc, at) = candidate(state, policy.kind, Some(policy.name.as_str()), body).await?;
    validate(&doc, &at)?;
    Ok(())
}

fn rule_name(body: &Value) -> Result<PolicyName, ApiError> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::invalid("name", "a rule needs a `name`"))?;
    Ok(PolicyName::parse(name)?)
}

/// Add a rule: at `?position=` (0-based), else just above the last rule (the catch-all).
#[utoipa::path(post, path = "/api/v1/policies/{id}/rules", tag = "policies",
    params(("id" = String, Path), ("position" = Option<i64>, Query)), request_body = Object,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_rule(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    params: Params,
    Body(body): Body<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let now = state.now();
    let body = rule_input(body)?;
    let name = rule_name(&body)?;
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let stored = tx.policies().rules(policy.id).await?;
    let count = i64::try_from(stored.len()).unwrap_or(i64::MAX);
    let position = match params.get("position") {
        Some(p) => p
            .parse::<i64>()
            .ok()
            .filter(|p| (0..=count).contains(p))
            .ok_or_else(|| {
                ApiError::invalid("position", format!("`position` must be between 0 and {count}"))
            })?,
        None => (count - 1).max(0),
    };
    if stored.iter().any(|r| r.name.key() == name.key()) {
        return Err(
            ApiError::conflict("already_exists", "the policy already has a rule of this name")
                .with_field("name"),
        );
    }
    let mut bodies: Vec<Value> = stored.iter().map(|r| r.body.clone()).collect();
    bodies.insert(
        usize::try_from(position).unwrap_or(0).min(bodies.len()),
        body.clone(),
    );
    validate_rules(&state, &mut tx, &policy, bodies).await?;
    let mut rule = PolicyRule {
        id: new_id(),
        policy_id: policy.id,
        position,
        name,
        body,
        created_at: now,
        updated_at: now,
    };
    rule.position = tx.policies().insert_rule(&rule).await?;
    Event::new(event_types::POLICY_RULE_CREATE, admin.actor(), Outcome::Success)
        .detail("policy_id", policy.id.to_string())
        .detail("rule_id", rule.id.to_string())
        .detail("rule", rule.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok((StatusCode::CREATED, Json(rule_json(&rule))))
}

async fn load_rule(tx: &mut Tx, policy: &Policy, raw: &str) -> Result<PolicyRule, ApiError> {
    let rid = id(raw, "rule", RuleId::parse)?;
    tx.policies()
        .rule(policy.id, rid)
        .await?
        .ok_or_else(|| ApiError::not_found("rule"))
}

/// Read one rule.
#[utoipa::path(get, path = "/api/v1/policies/{id}/rules/{rule_id}", tag = "policies",
    params(("id" = String, Path), ("rule_id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn get_rule(
    _admin: Admin,
    State(state): State<AppState>,
    Path((raw, rule)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let rule = load_rule(&mut tx, &policy, &rule).await?;
    tx.commit().await?;
    Ok(Json(rule_json(&rule)))
}

/// Replace one rule (its place is kept).
#[utoipa::path(put, path = "/api/v1/policies/{id}/rules/{rule_id}", tag = "policies",
    params(("id" = String, Path), ("rule_id" = String, Path)), request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replace_rule(
    admin: Admin,
    State(state): State<AppState>,
    Path((raw, rule)): Path<(String, String)>,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    let now = state.now();
    let body = rule_input(body)?;
    let name = rule_name(&body)?;
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let mut rule = load_rule(&mut tx, &policy, &rule).await?;
    let stored = tx.policies().rules(policy.id).await?;
    let bodies = stored
        .iter()
        .map(|r| {
            if r.id == rule.id {
                body.clone()
            } else {
                r.body.clone()
            }
        })
        .collect();
    validate_rules(&state, &mut tx, &policy, bodies).await?;
    rule.name = name;
    rule.body = body;
    rule.updated_at = now;
    tx.policies().update_rule(&rule).await?;
    Event::new(event_types::POLICY_RULE_UPDATE, admin.actor(), Outcome::Success)
        .detail("policy_id", policy.id.to_string())
        .detail("rule_id", rule.id.to_string())
        .detail("rule", rule.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(Json(rule_json(&rule)))
}

/// Delete one rule (refused when the policy would be left invalid, e.g. without a catch-all).
#[utoipa::path(delete, path = "/api/v1/policies/{id}/rules/{rule_id}", tag = "policies",
    params(("id" = String, Path), ("rule_id" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_rule(
    admin: Admin,
    State(state): State<AppState>,
    Path((raw, rule)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let rule = load_rule(&mut tx, &policy, &rule).await?;
    let stored = tx.policies().rules(policy.id).await?;
    let bodies = stored
        .iter()
        .filter(|r| r.id != rule.id)
        .map(|r| r.body.clone())
        .collect();
    validate_rules(&state, &mut tx, &policy, bodies).await?;
    tx.policies().delete_rule(policy.id, rule.id).await?;
    Event::new(event_types::POLICY_RULE_DELETE, admin.actor(), Outcome::Success)
        .detail("policy_id", policy.id.to_string())
        .detail("rule_id", rule.id.to_string())
        .detail("rule", rule.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-order a policy's rules atomically: the body lists every rule id once, in the new order.
#[utoipa::path(put, path = "/api/v1/policies/{id}/rules/order", tag = "policies",
    params(("id" = String, Path)), request_body = RuleOrder,
    responses((status = 200, body = RuleList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reorder(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(order): Body<RuleOrder>,
) -> Result<Json<RuleList>, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let policy = load(&mut tx, &raw).await?;
    let ids = order
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            RuleId::parse(r)
                .map_err(|_| ApiError::invalid(format!("rules[{i}]"), format!("`{r}` is not a rule id")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stored = tx.policies().rules(policy.id).await?;
    let mut bodies = Vec::new();
    for (i, rid) in ids.iter().enumerate() {
        let rule = stored
            .iter()
            .find(|r| r.id == *rid)
            .ok_or_else(|| ApiError::invalid(format!("rules[{i}]"), "not a rule of this policy"))?;
        bodies.push(rule.body.clone());
    }
    validate_rules(&state, &mut tx, &policy, bodies).await?;
    if !tx.policies().reorder_rules(policy.id, &ids, now).await? {
        return Err(ApiError::invalid(
            "rules",
            "list every rule id of the policy exactly once",
        ));
    }
    Event::new(event_types::POLICY_RULE_REORDER, admin.actor(), Outcome::Success)
        .detail("policy_id", policy.id.to_string())
        .detail("order", order.rules.clone())
        .append(&mut tx, now)
        .await?;
    let rules = tx.policies().rules(policy.id).await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(Json(RuleList {
        items: rules.iter().map(rule_json).collect(),
    }))
}

/// Evaluate an app's authentication policy (stored, or `policy` given inline) against the
/// context of DESIGN 4.5; answers what `gatehouse policy simulate --json` prints.
#[utoipa::path(post, path = "/api/v1/policies/simulate", tag = "policies", request_body = SimulateRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn simulate(
    _admin: Admin,
    State(state): State<AppState>,
    Body(request): Body<SimulateRequest>,
) -> Result<Json<Value>, ApiError> {
    let set = match &request.policy {
        Some(policy) => {
            let (document, _) = validate(policy, "")?;
            std::sync::Arc::new(PolicySet::compile(&document).map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_policy", e.to_string()).with_field("policy")
            })?)
        }
        None => state.policies().await?,
    };
    let policy = set
        .policy_for_app(&request.app)
        .ok_or_else(|| ApiError::invalid("app", PolicyError::UnknownApp(request.app.clone()).to_string()))?;
    let simulation = Simulation::parse(&request.context.to_string()).map_err(|e| match e {
        PolicyError::Parse(d) => {
            let field = if d.path.is_empty() {
                "context".to_owned()
            } else {
                format!("context.{}", d.path)
            };
            ApiError::invalid(field, d.message)
        }
        other => ApiError::invalid("context", other.to_string()),
    })?;
    let decision = simulation.run(policy);
    Ok(Json(
        serde_json::to_value(decision_output(&decision)).map_err(|e| ApiError::internal(&e))?,
    ))
}
