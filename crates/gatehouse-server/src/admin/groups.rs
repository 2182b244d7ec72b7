//! Groups and membership: `/api/v1/groups`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_api::admin::groups::{CreateGroup, Group as WireGroup, GroupPage, UpdateGroup};
use gatehouse_api::admin::users::UserPage;
use gatehouse_api::error::ErrorBody;
use gatehouse_core::model::{Group, GroupId, GroupName, Outcome, event_types};
use gatehouse_store::{Tx, new_id};
use serde_json::Value;

use super::extract::{Admin, Body, Params, id, page, time};
use super::users;
use crate::audit::Event;
use crate::{ApiError, AppState};

fn to_wire(g: &Group) -> WireGroup {
    WireGroup {
        id: g.id.to_string(),
        name: g.name.as_str().to_owned(),
        description: g.description.clone(),
        builtin: g.builtin,
        created_at: time(g.created_at),
        updated_at: time(g.updated_at),
    }
}

async fn load(tx: &mut Tx, raw: &str) -> Result<Group, ApiError> {
    let gid = id(raw, "group", GroupId::parse)?;
    tx.groups()
        .get(gid)
        .await?
        .ok_or_else(|| ApiError::not_found("group"))
}

fn builtin_refused(group: &Group) -> Result<(), ApiError> {
    if group.builtin {
        return Err(ApiError::conflict(
            "builtin",
            format!("the built-in group `{}` cannot be changed", group.name.as_str()),
        ));
    }
    Ok(())
}

/// List groups (paged, in name order).
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups",
    params(("limit" = Option<u32>, Query), ("after" = Option<String>, Query)),
    responses((status = 200, body = GroupPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<GroupPage>, ApiError> {
    let request = page(&params)?;
    let page = state.store().groups().list(&request).await?;
    Ok(Json(GroupPage {
        items: page.items.iter().map(to_wire).collect(),
        next: page.next,
    }))
}

/// Create a group.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroup,
    responses((status = 201, body = WireGroup), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    Body(input): Body<CreateGroup>,
) -> Result<(StatusCode, Json<WireGroup>), ApiError> {
    let now = state.now();
    let group = Group {
        id: new_id(),
        name: GroupName::parse(&input.name)?,
        description: input.description.unwrap_or_default(),
        builtin: false,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.store().begin().await?;
    if tx.groups().by_name(group.name.key()).await?.is_some() {
        return Err(
            ApiError::conflict("already_exists", "another group already has this name").with_field("name"),
        );
    }
    tx.groups().insert(&group).await?;
    Event::new(event_types::GROUP_CREATE, admin.actor(), Outcome::Success)
        .detail("group_id", group.id.to_string())
        .detail("name", group.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(to_wire(&group))))
}

/// Read a group.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path)),
    responses((status = 200, body = WireGroup), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<WireGroup>, ApiError> {
    let mut tx = state.store().begin().await?;
    let group = load(&mut tx, &raw).await?;
    tx.commit().await?;
    Ok(Json(to_wire(&group)))
}

/// Rename a group or change its description. Renaming a group that policies name by its old
/// name is refused (409), as deleting it is.
#[utoipa::path(patch, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path)), request_body = UpdateGroup,
    responses((status = 200, body = WireGroup), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(input): Body<UpdateGroup>,
) -> Result<Json<WireGroup>, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let mut group = load(&mut tx, &raw).await?;
    builtin_refused(&group)?;
    if let Some(name) = &input.name {
        let name = GroupName::parse(name)?;
        if name.key() != group.name.key() {
            if let Some(other) = tx.groups().by_name(name.key()).await?
                && other.id != group.id
            {
                return Err(
                    ApiError::conflict("already_exists", "another group already has this name")
                        .with_field("name"),
                );
            }
            ensure_unreferenced(&mut tx, &group).await?;
        }
        group.name = name;
    }
    if let Some(description) = input.description {
        group.description = description;
    }
    group.updated_at = now;
    tx.groups().update(&group).await?;
    Event::new(event_types::GROUP_UPDATE, admin.actor(), Outcome::Success)
        .detail("group_id", group.id.to_string())
        .detail("name", group.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(Json(to_wire(&group)))
}

/// Whether `list` (a JSON array of names) names `name`, ignoring case.
pub(super) fn names(list: Option<&Value>, name: &str) -> bool {
    list.and_then(Value::as_array).is_some_and(|l| {
        l.iter()
            .filter_map(Value::as_str)
            .any(|n| n.eq_ignore_ascii_case(name))
    })
}

/// 409 `in_use` when a policy rule or an access-policy rule names the group.
async fn ensure_unreferenced(tx: &mut Tx, group: &Group) -> Result<(), ApiError> {
    let name = group.name.as_str();
    for policy in tx.policies().list(None).await? {
        for rule in tx.policies().rules(policy.id).await? {
            let groups = rule.body.get("when").and_then(|w| w.get("groups"));
            if names(groups.and_then(|g| g.get("include")), name)
                || names(groups.and_then(|g| g.get("exclude")), name)
            {
                return Err(ApiError::conflict(
                    "in_use",
                    format!(
                        "group `{name}` is used by rule `{}` of policy `{}`",
                        rule.name.as_str(),
                        policy.name.as_str()
                    ),
                ));
            }
        }
    }
    for rule in tx.access_rules().list().await? {
        let groups = rule.body.get("groups");
        if names(groups.and_then(|g| g.get("include")), name)
            || names(groups.and_then(|g| g.get("exclude")), name)
        {
            return Err(ApiError::conflict(
                "in_use",
                format!(
                    "group `{name}` is used by access-policy rule `{}`",
                    rule.name.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// Delete a group; 409 while a policy rule, an access-policy rule or an app assignment uses it.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let group = load(&mut tx, &raw).await?;
    builtin_refused(&group)?;
    ensure_unreferenced(&mut tx, &group).await?;
    let apps = tx.groups().assigned_apps(group.id).await?;
    if !apps.is_empty() {
        return Err(ApiError::conflict(
            "in_use",
            format!(
                "group `{}` is assigned to apps: {}",
                group.name.as_str(),
                apps.join(", ")
            ),
        ));
    }
    tx.groups().delete(group.id).await?;
    Event::new(event_types::GROUP_DELETE, admin.actor(), Outcome::Success)
        .detail("group_id", group.id.to_string())
        .detail("name", group.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(StatusCode::NO_CONTENT)
}

/// A group's members (paged, in login order).
#[utoipa::path(get, path = "/api/v1/groups/{id}/users", tag = "groups",
    params(("id" = String, Path), ("limit" = Option<u32>, Query), ("after" = Option<String>, Query)),
    responses((status = 200, body = UserPage), (status = 404, body = ErrorBody)))]
pub async fn members(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    params: Params,
) -> Result<Json<UserPage>, ApiError> {
    let request = page(&params)?;
    let mut tx = state.store().begin().await?;
    let group = load(&mut tx, &raw).await?;
    let page = tx.groups().members(group.id, &request).await?;
    tx.commit().await?;
    Ok(Json(UserPage {
        items: page.items.iter().map(users::to_wire).collect(),
        next: page.next,
    }))
}

/// Add a user to a group (idempotent).
#[utoipa::path(put, path = "/api/v1/groups/{id}/users/{user_id}", tag = "groups",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_member(
    admin: Admin,
    State(state): State<AppState>,
    Path((raw, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let group = load(&mut tx, &raw).await?;
    let user = users::load(&mut tx, &user).await?;
    builtin_refused(&group)?;
    if tx.groups().add_member(group.id, user.id, now).await? {
        Event::new(event_types::GROUP_MEMBER_ADD, admin.actor(), Outcome::Success)
            .user(user.id)
            .detail("group_id", group.id.to_string())
            .detail("group", group.name.as_str())
            .append(&mut tx, now)
            .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove a user from a group (404 when not a member).
#[utoipa::path(delete, path = "/api/v1/groups/{id}/users/{user_id}", tag = "groups",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    admin: Admin,
    State(state): State<AppState>,
    Path((raw, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let group = load(&mut tx, &raw).await?;
    let user = users::load(&mut tx, &user).await?;
    builtin_refused(&group)?;
    if !tx.groups().remove_member(group.id, user.id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the user is not a member of this group",
        ));
    }
    Event::new(event_types::GROUP_MEMBER_REMOVE, admin.actor(), Outcome::Success)
        .user(user.id)
        .detail("group_id", group.id.to_string())
        .detail("group", group.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
