//! The admin device registry (DESIGN 7, protocol 12): `GET /api/v1/devices[?user=…]`,
//! `GET /api/v1/devices/{id}`, `POST /api/v1/devices/{id}/lifecycle/{action}`,
//! `DELETE /api/v1/devices/{id}`. Each lifecycle action applies every effect decided by
//! `gatehouse_core::device::transition` in one transaction with its system log event.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use gatehouse_core::device::{
    DeviceEffect, LifecycleAction, LifecycleDecision, LifecycleRefusal, transition,
};
use gatehouse_core::model::{Actor, AuthenticatorKey, Device, DeviceId, EndReason, Outcome, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::event_type;
use crate::audit::Event;
use crate::{ApiError, AppState, ServerError};

// The routes (`/api/v1/devices…`) are served by `admin::api` with their OpenAPI descriptions.

/// The admin bearer check, shared with the rest of the admin API.
async fn admin(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or_else(|| ApiError::unauthorized("an admin API token is required"))?;
    let found = crate::admin::tokens::authenticate(state.store(), token, state.now())
        .await?
        .ok_or_else(|| ApiError::unauthorized("the admin API token is not valid"))?;
    Ok(Actor::AdminToken(found.id))
}

/// A device as the admin API shows it.
async fn view(state: &AppState, device: &Device) -> Result<Value, ServerError> {
    let enrollments = state.store().enrollments().of_device(device.id).await?;
    let installation_id = state.store().devices().installation_id(device.id).await?;
    let enrollments: Vec<Value> = enrollments
        .iter()
        .filter(|e| e.authenticator == AuthenticatorKey::Device)
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "status": e.status.as_str(),
                "methods": e.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
                "user_verification": e.user_verification.as_str(),
                "created_at": e.created_at.to_string(),
                "last_used_at": e.last_used_at.map(|t| t.to_string()),
            })
        })
        .collect();
    Ok(json!({
        "id": device.id.to_string(),
        "user_id": device.user_id.to_string(),
        "status": device.status.as_str(),
        "display_name": device.display_name,
        "platform": device.platform,
        "os_version": device.os_version,
        "model": device.model,
        "secure_hardware_present": device.secure_hardware,
        "managed": device.managed,
        "biometric_capable": device.biometric_capable,
        "key_storage": if device.pop_key_hardware_protected() { "hardware" } else { "software" },
        "user_verification": device.uv_level.map_or("none", |l| l.as_str()),
        "installation_id": installation_id,
        "enrollments": enrollments,
        "created_at": device.created_at.to_string(),
        "updated_at": device.updated_at.to_string(),
        "last_seen_at": device.last_seen_at.map(|t| t.to_string()),
    }))
}

/// The query of `GET /api/v1/devices`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    user: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    params(("user" = Option<String>, Query, description = "only this user's devices (id or login)")),
    responses((status = 200, description = "`{items, next}`: the registered devices", body = Object),
        (status = 401, body = gatehouse_api::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    admin(&state, &headers).await?;
    let devices = match q.user.as_deref() {
        Some(user) => {
            let id = match UserId::parse(user) {
                Ok(id) => Some(id),
                // A login is accepted too.
                Err(_) => state.store().users().by_login(user).await?.map(|u| u.id),
            };
            match id {
                Some(id) => state.store().devices().of_user(id).await?,
                None => Vec::new(),
            }
        }
        None => state.store().devices().list().await?,
    };
    let mut data = Vec::with_capacity(devices.len());
    for device in &devices {
        data.push(view(&state, device).await?);
    }
    Ok(Json(json!({ "items": data, "next": null })))
}

fn parse_device_id(id: &str) -> Result<DeviceId, ApiError> {
    DeviceId::parse(id).map_err(|_| ApiError::not_found("device"))
}

#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = String, Path)),
    responses((status = 200, description = "the device, its facts and its enrollments", body = Object),
        (status = 404, body = gatehouse_api::error::ErrorBody)))]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    admin(&state, &headers).await?;
    let device = state
        .store()
        .devices()
        .get(parse_device_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    Ok(Json(view(&state, &device).await?))
}

#[utoipa::path(post, path = "/api/v1/devices/{id}/lifecycle/{action}", tag = "devices",
    params(("id" = String, Path), ("action" = String, Path, description = "activate, deactivate, suspend or unsuspend")),
    responses((status = 200, description = "the device after the transition", body = Object),
        (status = 404, body = gatehouse_api::error::ErrorBody),
        (status = 409, description = "invalid_lifecycle_transition", body = gatehouse_api::error::ErrorBody)))]
pub async fn lifecycle(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let actor = admin(&state, &headers).await?;
    let action = match LifecycleAction::parse(&action) {
        Ok(a) if a != LifecycleAction::Delete => a,
        _ => {
            return Err(ApiError::invalid(
                "action",
                "the action must be one of `activate`, `deactivate`, `suspend`, `unsuspend`",
            ));
        }
    };
    let id = parse_device_id(&id)?;
    apply(&state, id, action, actor).await?;
    let device = state
        .store()
        .devices()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    Ok(Json(view(&state, &device).await?))
}

#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices", params(("id" = String, Path)),
    responses((status = 204, description = "deleted with its enrollments"),
        (status = 404, body = gatehouse_api::error::ErrorBody),
        (status = 409, description = "device_not_deactivated", body = gatehouse_api::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = admin(&state, &headers).await?;
    apply(&state, parse_device_id(&id)?, LifecycleAction::Delete, actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn lifecycle_refusal(refusal: &LifecycleRefusal) -> ApiError {
    let code = match refusal {
        LifecycleRefusal::DeleteRequiresDeactivation { .. } => "device_not_deactivated",
        _ => "invalid_lifecycle_transition",
    };
    ApiError::conflict(code, refusal.to_string())
}

/// Applies a lifecycle action with every effect, in one transaction with its log event.
pub async fn apply(
    state: &AppState,
    id: DeviceId,
    action: LifecycleAction,
    actor: Actor,
) -> Result<(), ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let device = tx
        .devices()
        .get(id)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    let change = match transition(device.status, action) {
        LifecycleDecision::Transition(t) => t,
        LifecycleDecision::Refused(r) => return Err(lifecycle_refusal(&r)),
    };
    let enrollments = tx.enrollments().of_device(id).await?;
    let enrollment_ids: Vec<String> = enrollments.iter().map(|e| e.id.to_string()).collect();
    let mut sessions_ended = 0u64;
    let mut challenges_cancelled = 0u64;
    let mut enrollments_changed = 0u64;
    for effect in &change.effects {
        match effect {
            DeviceEffect::EndVerifySessions => {
                for session in tx.sessions().open_verified_by_device(id).await? {
                    if crate::session::end_in(
                        &mut tx,
                        session.id,
                        EndReason::DeviceDeactivated,
                        actor.clone(),
                        now,
                    )
                    .await?
                    {
                        sessions_ended += 1;
                    }
                }
            }
            DeviceEffect::CancelPendingChallenges => {
                challenges_cancelled += tx
                    .device_challenges()
                    .cancel_for_enrollments(&enrollment_ids)
                    .await?;
            }
            DeviceEffect::DeactivateEnrollments => {
                enrollments_changed += tx.enrollments().deactivate_of_device(id, now).await?;
            }
            DeviceEffect::DeleteEnrollments => {
                for enrollment in &enrollments {
                    if tx.enrollments().delete(enrollment.id).await? {
                        enrollments_changed += 1;
                    }
                }
            }
            DeviceEffect::DeleteDevice => {
                tx.devices().delete(id).await?;
            }
            // Verify holds no certificates yet: nothing to revoke (the effect is logged).
            DeviceEffect::RevokeCertificates => {}
        }
    }
    if let Some(to) = change.to
        && change.changed
    {
        let updated = Device {
            status: to,
            updated_at: now,
            ..device.clone()
        };
        tx.devices().update(&updated).await?;
    }
    Event::new(event_type(change.event_type)?, actor, Outcome::Success)
        .user(device.user_id)
        .device(id)
        .detail("from", change.from.as_str())
        .detail("to", change.to.map(|s| s.as_str()))
        .detail("changed", change.changed)
        .detail(
            "effects",
            change
                .effects
                .iter()
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>(),
        )
        .detail("sessions_ended", sessions_ended)
        .detail("challenges_cancelled", challenges_cancelled)
        .detail("enrollments_changed", enrollments_changed)
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    for enrollment in &enrollment_ids {
        crate::verify::wake_everywhere(state, enrollment).await;
    }
    Ok(())
}
