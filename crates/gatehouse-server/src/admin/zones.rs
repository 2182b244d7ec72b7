//! Network zones: `/api/v1/zones`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gatehouse_api::admin::zones::{CreateZone, UpdateZone, Zone as WireZone, ZoneList};
use gatehouse_api::error::ErrorBody;
use gatehouse_core::model::{NetworkZone, Outcome, ZoneId, ZoneName, event_types};
use gatehouse_policy::Cidr;
use gatehouse_store::{Tx, new_id};
use serde_json::Value;

use super::extract::{Admin, Body, id, time};
use crate::audit::Event;
use crate::{ApiError, AppState};

fn to_wire(z: &NetworkZone) -> WireZone {
    WireZone {
        id: z.id.to_string(),
        name: z.name.as_str().to_owned(),
        cidrs: z.cidrs.iter().map(ToString::to_string).collect(),
        blocked_cidrs: z.blocked_cidrs.iter().map(ToString::to_string).collect(),
        location: z.location.map(|l| gatehouse_api::admin::zones::ZoneLocation {
            latitude: l.latitude(),
            longitude: l.longitude(),
        }),
        created_at: time(z.created_at),
        updated_at: time(z.updated_at),
    }
}

fn location(
    input: Option<gatehouse_api::admin::zones::ZoneLocation>,
) -> Result<Option<gatehouse_policy::GeoPoint>, ApiError> {
    input
        .map(|l| {
            gatehouse_policy::GeoPoint::new(l.latitude, l.longitude)
                .map_err(|m| ApiError::invalid("location", m))
        })
        .transpose()
}

fn cidrs(list: &[String], field: &str) -> Result<Vec<Cidr>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, c)| Cidr::parse(c).map_err(|e| ApiError::invalid(format!("{field}[{i}]"), e.to_string())))
        .collect()
}

async fn load(tx: &mut Tx, raw: &str) -> Result<NetworkZone, ApiError> {
    let zid = id(raw, "zone", ZoneId::parse)?;
    tx.zones()
        .get(zid)
        .await?
        .ok_or_else(|| ApiError::not_found("zone"))
}

/// Every zone, in name order.
#[utoipa::path(get, path = "/api/v1/zones", tag = "zones",
    responses((status = 200, body = ZoneList), (status = 401, body = ErrorBody)))]
pub async fn list(_admin: Admin, State(state): State<AppState>) -> Result<Json<ZoneList>, ApiError> {
    let zones = state.store().zones().list().await?;
    Ok(Json(ZoneList {
        items: zones.iter().map(to_wire).collect(),
    }))
}

/// Create a zone.
#[utoipa::path(post, path = "/api/v1/zones", tag = "zones", request_body = CreateZone,
    responses((status = 201, body = WireZone), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    admin: Admin,
    State(state): State<AppState>,
    Body(input): Body<CreateZone>,
) -> Result<(StatusCode, Json<WireZone>), ApiError> {
    let now = state.now();
    if input.cidrs.is_empty() {
        return Err(ApiError::invalid("cidrs", "a zone needs at least one CIDR"));
    }
    let zone = NetworkZone {
        id: new_id(),
        name: ZoneName::parse(&input.name)?,
        cidrs: cidrs(&input.cidrs, "cidrs")?,
        blocked_cidrs: cidrs(&input.blocked_cidrs, "blocked_cidrs")?,
        location: location(input.location)?,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.store().begin().await?;
    if tx.zones().by_name(zone.name.key()).await?.is_some() {
        return Err(
            ApiError::conflict("already_exists", "another zone already has this name").with_field("name"),
        );
    }
    tx.zones().insert(&zone).await?;
    Event::new(event_types::ZONE_CREATE, admin.actor(), Outcome::Success)
        .detail("zone_id", zone.id.to_string())
        .detail("name", zone.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok((StatusCode::CREATED, Json(to_wire(&zone))))
}

/// Read a zone.
#[utoipa::path(get, path = "/api/v1/zones/{id}", tag = "zones", params(("id" = String, Path)),
    responses((status = 200, body = WireZone), (status = 404, body = ErrorBody)))]
pub async fn get_one(
    _admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<WireZone>, ApiError> {
    let mut tx = state.store().begin().await?;
    let zone = load(&mut tx, &raw).await?;
    tx.commit().await?;
    Ok(Json(to_wire(&zone)))
}

/// Change a zone's name or networks.
#[utoipa::path(patch, path = "/api/v1/zones/{id}", tag = "zones", params(("id" = String, Path)), request_body = UpdateZone,
    responses((status = 200, body = WireZone), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Body(input): Body<UpdateZone>,
) -> Result<Json<WireZone>, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let mut zone = load(&mut tx, &raw).await?;
    if let Some(name) = &input.name {
        let name = ZoneName::parse(name)?;
        if name.key() != zone.name.key() {
            if tx.zones().by_name(name.key()).await?.is_some() {
                return Err(
                    ApiError::conflict("already_exists", "another zone already has this name")
                        .with_field("name"),
                );
            }
            ensure_unreferenced(&mut tx, &zone).await?;
        }
        zone.name = name;
    }
    if let Some(list) = &input.cidrs {
        if list.is_empty() {
            return Err(ApiError::invalid("cidrs", "a zone needs at least one CIDR"));
        }
        zone.cidrs = cidrs(list, "cidrs")?;
    }
    if let Some(list) = &input.blocked_cidrs {
        zone.blocked_cidrs = cidrs(list, "blocked_cidrs")?;
    }
    if let Some(l) = input.location {
        zone.location = location(l)?;
    }
    zone.updated_at = now;
    tx.zones().update(&zone).await?;
    Event::new(event_types::ZONE_UPDATE, admin.actor(), Outcome::Success)
        .detail("zone_id", zone.id.to_string())
        .detail("name", zone.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(Json(to_wire(&zone)))
}

/// 409 `in_use` while a policy rule's `when.network` names the zone.
async fn ensure_unreferenced(tx: &mut Tx, zone: &NetworkZone) -> Result<(), ApiError> {
    let name = zone.name.as_str();
    for policy in tx.policies().list(None).await? {
        for rule in tx.policies().rules(policy.id).await? {
            let network = rule.body.get("when").and_then(|w| w.get("network"));
            let named = ["include", "exclude"].iter().any(|k| {
                network
                    .and_then(|n| n.get(k))
                    .and_then(Value::as_array)
                    .is_some_and(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .any(|n| n.eq_ignore_ascii_case(name))
                    })
            });
            if named {
                return Err(ApiError::conflict(
                    "in_use",
                    format!(
                        "zone `{name}` is used by rule `{}` of policy `{}`",
                        rule.name.as_str(),
                        policy.name.as_str()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Delete a zone; 409 while a policy rule names it.
#[utoipa::path(delete, path = "/api/v1/zones/{id}", tag = "zones", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    admin: Admin,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<StatusCode, ApiError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    let zone = load(&mut tx, &raw).await?;
    ensure_unreferenced(&mut tx, &zone).await?;
    tx.zones().delete(zone.id).await?;
    Event::new(event_types::ZONE_DELETE, admin.actor(), Outcome::Success)
        .detail("zone_id", zone.id.to_string())
        .detail("name", zone.name.as_str())
        .append(&mut tx, now)
        .await?;
    tx.commit().await?;
    state.policies_changed().await;
    Ok(StatusCode::NO_CONTENT)
}
