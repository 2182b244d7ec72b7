//! The system log: `GET /api/v1/logs` (read only; the log has no write path).

use axum::Json;
use axum::extract::State;
use gatehouse_api::admin::logs::{Actor as WireActor, LogEvent as WireEvent, LogPage, Target};
use gatehouse_api::error::ErrorBody;
use gatehouse_core::model::{Actor, EventType, LogEvent, UserId};
use gatehouse_store::LogFilter;

use super::extract::{Admin, Params, page, time};
use crate::{ApiError, AppState};

fn to_wire(e: &LogEvent) -> WireEvent {
    let (kind, id) = match &e.actor {
        Actor::System => ("system", None),
        Actor::AdminToken(id) => ("admin_token", Some(id.clone())),
        Actor::User(id) => ("user", Some(id.to_string())),
        Actor::Client(id) => ("client", Some(id.clone())),
        Actor::Anonymous => ("anonymous", None),
    };
    WireEvent {
        id: e.id.to_string(),
        at: time(e.at),
        event_type: e.event_type.as_str().to_owned(),
        actor: WireActor {
            kind: kind.to_owned(),
            id,
        },
        target: Target {
            user_id: e.target_user.map(|u| u.to_string()),
            app_id: e.target_app.map(|a| a.to_string()),
            device_id: e.target_device.map(|d| d.to_string()),
        },
        outcome: e.outcome.as_str().to_owned(),
        request_id: e.request_id.clone(),
        client_ip: e.client_ip.clone(),
        details: e.details.clone(),
    }
}

fn timestamp(params: &Params, name: &str) -> Result<Option<jiff::Timestamp>, ApiError> {
    params
        .get(name)
        .map(|t| {
            t.parse::<jiff::Timestamp>().map_err(|_| {
                ApiError::invalid(
                    name,
                    format!("`{name}` must be an RFC 3339 time such as 2026-11-23T10:00:00Z"),
                )
            })
        })
        .transpose()
}

/// Query the system log, newest first: `user` (id or login), `type` (exact, or a prefix ending
/// in `*`), `since` (inclusive) and `until` (exclusive) as RFC 3339 times; paged.
#[utoipa::path(get, path = "/api/v1/logs", tag = "logs",
    params(("user" = Option<String>, Query, description = "user id or login"),
           ("type" = Option<String>, Query, description = "event type, or a prefix ending in `*`"),
           ("since" = Option<String>, Query), ("until" = Option<String>, Query),
           ("limit" = Option<u32>, Query), ("after" = Option<String>, Query)),
    responses((status = 200, body = LogPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    params: Params,
) -> Result<Json<LogPage>, ApiError> {
    let request = page(&params)?;
    let since = timestamp(&params, "since")?;
    let until = timestamp(&params, "until")?;
    let (type_prefix, exact) = match params.get("type").map(String::as_str) {
        None | Some("" | "*") => (None, None),
        Some(t) => match t.strip_suffix('*') {
            Some(prefix) => (
                Some(
                    EventType::parse_prefix(prefix.trim_end_matches('.'))
                        .map_err(|e| ApiError::invalid("type", e.to_string()))?,
                ),
                None,
            ),
            None => {
                let exact = EventType::parse(t).map_err(|e| ApiError::invalid("type", e.to_string()))?;
                (Some(exact.as_str().to_owned()), Some(exact))
            }
        },
    };
    let user = match params.get("user") {
        None => None,
        Some(u) => match UserId::parse(u) {
            Ok(id) => Some(id),
            Err(_) => match state.store().users().by_login(&u.to_lowercase()).await? {
                Some(user) => Some(user.id),
                // Nobody by that login: no events, rather than an error that tells logins apart.
                None => {
                    return Ok(Json(LogPage {
                        items: Vec::new(),
                        next: None,
                    }));
                }
            },
        },
    };
    let filter = LogFilter {
        user,
        type_prefix,
        since,
        until,
    };
    if let Some(exact) = exact {
        // The store matches a type and everything below it; an exact type keeps only its own
        // events, reading on until a page is full.
        // Each read asks for no more than the events still missing, so no matching event is
        // skipped and the cursor of the last read is the right `next`.
        let limit = request.limit as usize;
        let mut items = Vec::new();
        let mut after = request.after.clone();
        loop {
            let remaining = u32::try_from(limit - items.len()).unwrap_or(1);
            let read = gatehouse_store::PageRequest {
                limit: remaining,
                after: after.clone(),
            };
            let page = state.store().log().query(&filter, &read).await?;
            items.extend(page.items.into_iter().filter(|e| e.event_type == exact));
            match page.next {
                Some(next) if items.len() < limit => {
                    after = Some(
                        gatehouse_store::PageRequest::parse(Some(1), Some(&next))
                            .map_err(|e| ApiError::invalid("after", e.to_string()))?
                            .after
                            .unwrap_or_default(),
                    );
                }
                next => {
                    return Ok(Json(LogPage {
                        items: items.iter().map(to_wire).collect(),
                        next,
                    }));
                }
            }
        }
    }
    let page = state.store().log().query(&filter, &request).await?;
    Ok(Json(LogPage {
        items: page.items.iter().map(to_wire).collect(),
        next: page.next,
    }))
}
