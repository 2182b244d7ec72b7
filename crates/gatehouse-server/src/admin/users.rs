//! Users: `/api/v1/users`, their lifecycle, password, groups, enrollments and sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_api::admin::common::GroupRef;
use gatehouse_api::admin::enrollments::{Enrollment as WireEnrollment, EnrollmentList};
use gatehouse_api::admin::sessions::{Session as WireSession, SessionList, SessionsEnded, Verification};
use gatehouse_api::admin::users::{
    CreateUser, SetPassword, UpdateUser, User as WireUser, UserGroups, UserPage,
};
use gatehouse_api::error::ErrorBody;
use gatehouse_core::model::{
    AuthenticatorKey, DisplayName, Email, EndReason, Enrollment, EnrollmentId, EnrollmentStatus, GroupId,
    LifecycleAction, Login, Method, Outcome, PasswordData, Profile, User, UserId, UserStatus,
    UserVerification, event_types,
};
use gatehouse_store::{Tx, UserFilter, new_id};
use serde_json::json;

use super::extract::{Admin, Body, Params, id, page, time, wire};
use super::groups;
use crate::audit::Event;
use crate::passwords::Passwords;
use crate::{ApiError, AppState, session};

pub(crate) fn to_wire(user: &User) -> WireUser {
    WireUser {
        id: user.id.to_string(),
        login: user.login.as_str().to_owned(),
        email: user.email.as_str().to_owned(),
        display_name: user.display_name.as_str().to_owned(),
        status: user.status.as_str().to_owned(),
        profile: user.profile.to_value(),
        created_at: time(user.created_at),
        updated_at: time(user.updated_at),
        status_changed_at: time(user.status_changed_at),
        last_sign_in_at: user.last_sign_in_at.map(time),
    }
}

pub(crate) fn user_id(raw: &str) -> Result<UserId, ApiError> {
    id(raw, "user", UserId::parse)
}

/// The user `raw` names, or 404.
pub(crate) async fn load(tx: &mut Tx, raw: &str) -> Result<User, ApiError> {
    let id = user_id(raw)?;
    tx.users()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

/// A group by id or name.
pub(crate) async fn find_group(tx: &mut Tx, reference: &str, field: &str) -> Result<GroupId, ApiError> {
    if let Ok(id) = GroupId::parse(reference)
        && tx.groups().get(id).await?.is_some()
    {
        return Ok(id);
    }
    match tx.groups().by_name(&reference.to_lowercase()).await? {
        Some(group) => Ok(group.id),
        None => Err(ApiError::invalid(field, format!("no group `{reference}`"))),
    }
}

/// List users (`?q=` prefix of login, email or name; `?status=`; `?group=` id or name; paging).
#[utoipa::path(get, path = "/api/v1/users", tag = "users",
    params(("q" = Option<String>, Query, description = "login, email or display name prefix"),
           ("status" = Option<String>, Query), ("group" = Option<String>, Query, description = "group id or name"),
           ("limit" = Option<u32>, Query), ("after" = Option<String>, Query)),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<UserPage>, ApiError> {
    let request = page(&params)?;
    let status = params
        .get("status")
        .map(|s| UserStatus::parse(s).map_err(|e| ApiError::invalid("status", e.to_string())))
        .transpose()?;
    let mut tx = state.store().begin().await?;
    let group = match params.get("group") {
        Some(g) => Some(find_group(&mut tx, g, "group").await?),
        None => None,
    };
    let filter = UserFilter {
        q: params.get("q").filter(|q| !q.is_empty()).cloned(),
        status,
        group,
    };
    let page = tx.users().list(&filter, &request).await?;
    tx.commit().await?;
    Ok(Json(UserPage {
        items: page.items.iter().map(to_wire).collect(),
        next: page.next,
    }))
}

/// Create a user (active unless `activate: false`), optionally with a password and groups.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = WireUser), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    Body(input): Body<CreateUser>,
) -> Result<(StatusCode, Json<WireUser>), ApiError> {
    let now = state.now();
    let login = Login::parse(&input.login)?;
    let email = Email::parse(&input.email)?;
    let display_name = DisplayName::parse(input.display_name.as_deref().unwrap_or(&input.login))?;
    let profile = Profile::parse(input.profile.clone().unwrap_or_else(|| json!({})))?;
    let hash = match input.password {
        Some(password) => {
            Passwords::check_policy(&password).map_err(|m| ApiError::invalid("password", m))?;
            Some(state.passwords().hash(password).await?)
        }
        None => None,
    };
    let user = User {
        id: new_id(),
        login,
        email,
        display_name,
        status: if input.activate.unwrap_or(true) {
            UserStatus::Active
        } else {
            UserStatus::Staged
        },
        profile,
        created_at: now,
        updated_at: now,
        status_changed_at: now,
        last_sign_in_at: None,
    };
    let mut tx = state.store().begin().await?;
    if tx.users().by_login(user.login.key()).await?.is_some() {
        return Err(
            ApiError::conflict("already_exists", "another user already has this login").with_field("login"),
        );
    }
    tx.users().insert(&user).await?;
    for (i, group) in input.groups.iter().enumerate() {
        let gid = find_group(&mut tx, group, &format!("groups[{i}]")).await?;
        tx.groups().add_member(gid, user.id, now).await?;
    }
    if let Some(hash) = hash {
        insert_password(&mut tx, user.id, hash, now).await?;
    }
    Event::new(event_types::USER_CREATE, admin.actor(), Outcome::Success)
        .user(user.id)
        .detail("login", user.login.as_str())
        .detail("status", user.status.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(to_wire(&user))))
}

async fn insert_password(
    tx: &mut Tx,
    user: UserId,
    hash: String,
    now: jiff::Timestamp,
) -> Result<(), ApiError> {
    let data = serde_json::to_value(PasswordData { hash }).map_err(|e| ApiError::internal(&e))?;
    let existing = tx
        .enrollments()
        .of_user(user)
        .await?
        .into_iter()
        .find(|e| e.authenticator == AuthenticatorKey::Password);
    match existing {
        Some(mut enrollment) => {
            enrollment.data = data;
            enrollment.status = EnrollmentStatus::Active;
            enrollment.updated_at = now;
            tx.enrollments().update(&enrollment).await?;
        }
        None => {
            tx.enrollments()
                .insert(&Enrollment {
                    id: new_id(),
                    user_id: user,
                    authenticator: AuthenticatorKey::Password,
                    methods: vec![Method::Password],
                    status: EnrollmentStatus::Active,
                    name: None,
                    data,
                    hardware_protected: false,
                    user_verification: UserVerification::None,
                    device_id: None,
                    counter: None,
                    created_at: now,
                    updated_at: now,
                    last_used_at: None,
                })
                .await?;
        }
    }
    Ok(())
}

/// Read a user.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = WireUser), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<WireUser>, ApiError> {
    let id = user_id(&raw)?;
    let user = state
        .store()
        .users()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(to_wire(&user)))
}

/// Update a user's login, email, display name or profile (the fields given). Renaming a user
/// whom a policy or access-policy rule names by login is 409 `in_use`: change the rule first.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = WireUser), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(input): Body<UpdateUser>,
) -> Result<Json<WireUser>, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let mut user = load(&mut tx, &raw).await?;
    let mut changed = Vec::new();
    if let Some(login) = &input.login {
        let login = Login::parse(login)?;
        if let Some(other) = tx.users().by_login(login.key()).await?
            && other.id != user.id
        {
            return Err(
                ApiError::conflict("already_exists", "another user already has this login")
                    .with_field("login"),
            );
        }
        if login.key() != user.login.key() {
            ensure_login_unreferenced(&mut tx, &user.login).await?;
        }
        user.login = login;
        changed.push("login");
    }
    if let Some(email) = &input.email {
        user.email = Email::parse(email)?;
        changed.push("email");
    }
    if let Some(name) = &input.display_name {
        user.display_name = DisplayName::parse(name)?;
        changed.push("display_name");
    }
    if let Some(profile) = input.profile {
        user.profile = Profile::parse(profile)?;
        changed.push("profile");
    }
    user.updated_at = now;
    tx.users().update(&user).await?;
    Event::new(event_types::USER_UPDATE, admin.actor(), Outcome::Success)
        .user(user.id)
        .detail("fields", changed)
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(Json(to_wire(&user)))
}

/// 409 `in_use` while a policy rule (`when.users`) or an access-policy rule (`users`) names
/// `login`: rules name users by login, so renaming the user would silently change whom the rule
/// applies to (a user denied by name would no longer be). Groups and zones are guarded alike.
async fn ensure_login_unreferenced(tx: &mut Tx, login: &Login) -> Result<(), ApiError> {
    let name = login.as_str();
    let named = |users: Option<&serde_json::Value>| {
        groups::names(users.and_then(|u| u.get("include")), name)
            || groups::names(users.and_then(|u| u.get("exclude")), name)
    };
    let in_use = |by: String| {
        ApiError::conflict(
            "in_use",
            format!("login `{name}` is used by {by}; change the rule before renaming the user"),
        )
        .with_field("login")
    };
    for policy in tx.policies().list(None).await? {
        for rule in tx.policies().rules(policy.id).await? {
            if named(rule.body.get("when").and_then(|w| w.get("users"))) {
                return Err(in_use(format!(
                    "rule `{}` of the {} policy `{}`",
                    rule.name.as_str(),
                    policy.kind.as_str().replace('_', " "),
                    policy.name.as_str()
                )));
            }
        }
    }
    for rule in tx.access_rules().list().await? {
        if named(rule.body.get("users")) {
            return Err(in_use(format!("access-policy rule `{}`", rule.name.as_str())));
        }
    }
    Ok(())
}

/// Delete a user; only a deactivated user may be deleted (409 otherwise).
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let user = load(&mut tx, &raw).await?;
    if user.status != UserStatus::Deactivated {
        return Err(ApiError::conflict(
            "invalid_transition",
            format!(
                "only a deactivated user can be deleted; this user is {}",
                user.status.as_str()
            ),
        ));
    }
    session::end_all_of_user_in(&mut tx, user.id, EndReason::UserDeleted, admin.actor(), now).await?;
    tx.users().delete(user.id).await?;
    Event::new(event_types::USER_DELETE, admin.actor(), Outcome::Success)
        .user(user.id)
        .detail("login", user.login.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Apply a lifecycle action: `activate`, `suspend`, `unsuspend`, `unlock` or `deactivate`.
/// Suspending and deactivating end the user's sessions; unlocking clears the failure count.
#[utoipa::path(post, path = "/api/v1/users/{id}/lifecycle/{action}", tag = "users",
    params(("id" = String, Path), ("action" = String, Path, description = "activate | suspend | unsuspend | unlock | deactivate")),
    responses((status = 200, body = WireUser), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn lifecycle(
    admin: Admin,
    State(state): State<AppState>,
    Path((raw, action)): Path<(String, String)>,
) -> Result<Json<WireUser>, ApiError> {
    let now = state.now();
    let action = LifecycleAction::ADMIN
        .into_iter()
        .find(|a| a.as_str() == action)
        .ok_or_else(|| ApiError::not_found("lifecycle action"))?;
    let mut tx = state.store().begin().await?;
    let mut user = load(&mut tx, &raw).await?;
    let from = user.status;
    user.transition(action, now)?;
    tx.users().update(&user).await?;
    let ended = match action {
        LifecycleAction::Suspend => {
            session::end_all_of_user_in(&mut tx, user.id, EndReason::UserSuspended, admin.actor(), now)
                .await?
        }
        LifecycleAction::Deactivate => {
            session::end_all_of_user_in(&mut tx, user.id, EndReason::UserDeactivated, admin.actor(), now)
                .await?
        }
        _ => 0,
    };
    if matches!(
        action,
        LifecycleAction::Unlock | LifecycleAction::Activate | LifecycleAction::Unsuspend
    ) {
        tx.sign_in_failures().reset(user.id).await?;
    }
    let event_type = match action {
        LifecycleAction::Activate => event_types::USER_ACTIVATE,
        LifecycleAction::Suspend => event_types::USER_SUSPEND,
        LifecycleAction::Unsuspend => event_types::USER_UNSUSPEND,
        LifecycleAction::Unlock => event_types::USER_UNLOCK,
        LifecycleAction::LockOut => event_types::USER_LOCK_OUT,
        LifecycleAction::Deactivate => event_types::USER_DEACTIVATE,
    };
    Event::new(event_type, admin.actor(), Outcome::Success)
        .user(user.id)
        .detail("from", from.as_str())
        .detail("to", user.status.as_str())
        .detail("sessions_ended", ended)
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(Json(to_wire(&user)))
}

/// Set (or replace) a user's password.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", tag = "users", params(("id" = String, Path)), request_body = SetPassword,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_password(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(input): Body<SetPassword>,
) -> Result<StatusCode, ApiError> {
    let id = user_id(&raw)?;
    if state.store().users().get(id).await?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    Passwords::check_policy(&input.password).map_err(|m| ApiError::invalid("password", m))?;
    let hash = state.passwords().hash(input.password).await?;
    let now = state.now();
    let mut tx = state.store().begin().await?;
    insert_password(&mut tx, id, hash, now).await?;
    Event::new(event_types::USER_PASSWORD_SET, admin.actor(), Outcome::Success)
        .user(id)
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The groups a user belongs to.
#[utoipa::path(get, path = "/api/v1/users/{id}/groups", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserGroups), (status = 404, body = ErrorBody)))]
pub async fn groups_of(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<UserGroups>, ApiError> {
    let id = user_id(&raw)?;
    if state.store().users().get(id).await?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    let groups = state.store().groups().of_user(id).await?;
    Ok(Json(UserGroups {
        items: groups
            .iter()
            .map(|g| GroupRef {
                id: g.id.to_string(),
                name: g.name.as_str().to_owned(),
            })
            .collect(),
    }))
}

fn enrollment_to_wire(e: &Enrollment) -> WireEnrollment {
    WireEnrollment {
        id: e.id.to_string(),
        user_id: e.user_id.to_string(),
        authenticator: wire(&e.authenticator),
        methods: e.methods.iter().map(wire).collect(),
        status: e.status.as_str().to_owned(),
        name: e.name.clone(),
        hardware_protected: e.hardware_protected,
        user_verification: wire(&e.user_verification),
        device_id: e.device_id.map(|d| d.to_string()),
        credential_id: crate::flow::webauthn::credential_id(e).map(str::to_owned),
        created_at: time(e.created_at),
        updated_at: time(e.updated_at),
        last_used_at: e.last_used_at.map(time),
    }
}

/// A user's authenticator enrollments (never their secrets).
#[utoipa::path(get, path = "/api/v1/users/{id}/enrollments", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = EnrollmentList), (status = 404, body = ErrorBody)))]
pub async fn enrollments(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<EnrollmentList>, ApiError> {
    let id = user_id(&raw)?;
    if state.store().users().get(id).await?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    let items = state.store().enrollments().of_user(id).await?;
    Ok(Json(EnrollmentList {
        items: items.iter().map(enrollment_to_wire).collect(),
    }))
}

/// Remove one of a user's enrollments.
#[utoipa::path(delete, path = "/api/v1/users/{id}/enrollments/{enrollment_id}", tag = "users",
    params(("id" = String, Path), ("enrollment_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_enrollment(
    admin: Admin,
    State(state): State<AppState>,
    Path((raw, enrollment)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let user = user_id(&raw)?;
    let enrollment_id = id(&enrollment, "enrollment", EnrollmentId::parse)?;
    let mut tx = state.store().begin().await?;
    let found = tx
        .enrollments()
        .get(enrollment_id)
        .await?
        .filter(|e| e.user_id == user)
        .ok_or_else(|| ApiError::not_found("enrollment"))?;
    tx.enrollments().delete(found.id).await?;
    Event::new(
        event_types::USER_ENROLLMENT_DELETE,
        admin.actor(),
        Outcome::Success,
    )
    .user(user)
    .detail("enrollment_id", found.id.to_string())
    .detail("authenticator", wire(&found.authenticator))
    .append(&mut tx, now)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's open sessions.
#[utoipa::path(get, path = "/api/v1/users/{id}/sessions", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = SessionList), (status = 404, body = ErrorBody)))]
pub async fn sessions(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<SessionList>, ApiError> {
    let id = user_id(&raw)?;
    if state.store().users().get(id).await?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    let now = state.now();
    let mut items = Vec::new();
    for s in state.store().sessions().open_of_user(id).await? {
        if s.dead_reason(now).is_some() {
            continue;
        }
        let records = state.store().sessions().records(s.id).await?;
        let idle = s.last_seen_at.checked_add(s.max_idle).unwrap_or(s.expires_at);
        items.push(WireSession {
            id: s.id.to_string(),
            user_id: s.user_id.to_string(),
            device_id: s.device_id.map(|d| d.to_string()),
            created_at: time(s.created_at),
            last_seen_at: time(s.last_seen_at),
            expires_at: time(s.expires_at),
            idle_expires_at: time(idle.min(s.expires_at)),
            keep_signed_in: s.keep_signed_in,
            client_ip: s.client_ip.clone(),
            user_agent: s.user_agent.clone(),
            verifications: records
                .iter()
                .map(|r| Verification {
                    authenticator: wire(&r.authenticator),
                    method: wire(&r.method),
                    verified_at: time(r.verified_at),
                })
                .collect(),
        });
    }
    items.reverse();
    Ok(Json(SessionList { items }))
}

/// End every session of a user (their refresh tokens are revoked with them).
#[utoipa::path(delete, path = "/api/v1/users/{id}/sessions", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = SessionsEnded), (status = 404, body = ErrorBody)))]
pub async fn end_sessions(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<SessionsEnded>, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let user = load(&mut tx, &raw).await?;
    let ended =
        session::end_all_of_user_in(&mut tx, user.id, EndReason::AdminRevoked, admin.actor(), now).await?;
    tx.commit().await?;
    Ok(Json(SessionsEnded { ended }))
}
