//! An administrator's risk verdict on a user: `/api/v1/users/{id}/risk` (docs/risk.md). While it
//! is in force, every sign-in and token refresh of the user gets that level, whatever the other
//! signals say: how an administrator raises a compromised account or clears a false alarm.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_api::admin::risk::{SetUserRisk, UserRisk};
use gatehouse_api::error::ErrorBody;
use gatehouse_core::model::{Outcome, UserId, event_types};
use gatehouse_policy::PolicyDuration;
use gatehouse_store::UserRiskRow;
use jiff::Timestamp;

use super::extract::{Admin, Body, time};
use super::users::{load, user_id};
use crate::audit::Event;
use crate::{ApiError, AppState};

/// A verdict lasts at most this long.
const MAX_DAYS: i64 = 366;

fn to_wire(user: UserId, row: Option<&UserRiskRow>) -> UserRisk {
    UserRisk {
        user_id: user.to_string(),
        level: row.map(|r| r.level.clone()),
        reason: row.map(|r| r.reason.clone()),
        expires_at: row.map(|r| time(r.expires_at)),
        set_at: row.map(|r| time(r.set_at)),
    }
}

/// The verdict in force on a user.
#[utoipa::path(get, path = "/api/v1/users/{id}/risk", tag = "users", params(("id" = String, Path)),
    responses((status = 200, body = UserRisk), (status = 404, body = ErrorBody)))]
pub async fn get_risk(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<UserRisk>, ApiError> {
    let id = user_id(&raw)?;
    if state.store().users().get(id).await?.is_none() {
        return Err(ApiError::not_found("user"));
    }
    let now = state.now();
    let row = state
        .store()
        .user_risks()
        .get(id)
        .await?
        .filter(|r| r.expires_at > now);
    Ok(Json(to_wire(id, row.as_ref())))
}

/// Set a user's risk level until it expires.
#[utoipa::path(put, path = "/api/v1/users/{id}/risk", tag = "users", params(("id" = String, Path)), request_body = SetUserRisk,
    responses((status = 200, body = UserRisk), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_risk(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(input): Body<SetUserRisk>,
) -> Result<Json<UserRisk>, ApiError> {
    let level = crate::risk::parse_level(&input.level)
        .ok_or_else(|| ApiError::invalid("level", "`level` is one of `low`, `medium`, `high`"))?;
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "give a reason of 1 to 500 characters",
        ));
    }
    let now = state.now();
    let expires_at = match (&input.expires_at, &input.duration) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "duration",
                "give `expires_at` or `duration`, not both",
            ));
        }
        (Some(at), None) => at
            .parse::<Timestamp>()
            .map_err(|_| ApiError::invalid("expires_at", "`expires_at` is an RFC 3339 time"))?,
        (None, duration) => {
            let d = PolicyDuration::parse(duration.as_deref().unwrap_or("P1D"))
                .map_err(|e| ApiError::invalid("duration", e.to_string()))?;
            now.checked_add(d.as_signed())
                .map_err(|_| ApiError::invalid("duration", "too long"))?
        }
    };
    if expires_at <= now || expires_at.as_second() - now.as_second() > MAX_DAYS * 86_400 {
        return Err(ApiError::invalid(
            "expires_at",
            format!("a verdict ends in the future and within {MAX_DAYS} days"),
        ));
    }
    let row = UserRiskRow {
        level: level.as_str().to_owned(),
        reason: reason.to_owned(),
        expires_at,
        set_at: now,
    };
    let mut tx = state.store().begin().await?;
    let user = load(&mut tx, &raw).await?;
    tx.user_risks().set(user.id, &row).await?;
    Event::new(event_types::USER_RISK_SET, admin.actor(), Outcome::Success)
        .user(user.id)
        .detail("level", row.level.clone())
        .detail("reason", row.reason.clone())
        .detail("expires_at", time(expires_at))
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(Json(to_wire(user.id, Some(&row))))
}

/// Remove a user's verdict: their risk is scored from the signals again.
#[utoipa::path(delete, path = "/api/v1/users/{id}/risk", tag = "users", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn clear_risk(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let user = load(&mut tx, &raw).await?;
    if tx.user_risks().clear(user.id).await? {
        Event::new(event_types::USER_RISK_CLEAR, admin.actor(), Outcome::Success)
            .user(user.id)
            .append(&mut tx, now)
            .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
