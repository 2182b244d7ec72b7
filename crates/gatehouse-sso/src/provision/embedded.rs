//! The embedded default provisioning services: the projects and subscriptions API of
//! [`super::client`], served by the gateway itself on a loopback port of its own and kept in the
//! gateway's database, so `gatehouse-sso serve --demo` works alone. A real deployment points
//! `--projects-url` and `--subscriptions-url` at its own services instead.
//!
//! Creation is idempotent by key (project `external_id`, one subscription per project), as the
//! API asks of any implementation. Calls need the bearer token generated at start.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::clock::{Clock, unix};
use crate::store::{Store, SvcMember};

#[derive(Debug, Clone)]
struct Embedded {
    store: Store,
    clock: Arc<dyn Clock>,
    token: String,
}

/// The embedded services' router; every call must carry `Authorization: Bearer {token}`.
pub fn router(store: Store, clock: Arc<dyn Clock>, token: String) -> Router {
    Router::new()
        .route("/projects", post(create_project).get(list_projects))
        .route("/projects/{project_id}/members/{user_id}", put(put_member))
        .route("/projects/{project_id}/members", get(list_members))
        .route(
            "/subscriptions",
            post(create_subscription).get(list_subscriptions),
        )
        .with_state(Embedded { store, clock, token })
}

fn authorized(state: &Embedded, headers: &HeaderMap) -> bool {
    let presented = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    gatehouse_crypto::constant_time_eq(presented.as_bytes(), state.token.as_bytes())
}

fn fail(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

fn internal(e: crate::SsoError) -> Response {
    tracing::error!(error = %e, "embedded provisioning service failed");
    fail(StatusCode::INTERNAL_SERVER_ERROR, "internal", "storage failed")
}

#[derive(Debug, Deserialize)]
struct NewProject {
    external_id: String,
    name: String,
}

async fn create_project(
    State(s): State<Embedded>,
    headers: HeaderMap,
    body: Option<Json<NewProject>>,
) -> Response {
    if !authorized(&s, &headers) {
        return fail(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token required");
    }
    let Some(Json(p)) = body else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected {\"external_id\", \"name\"}",
        );
    };
    if p.external_id.is_empty() {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "external_id must not be empty",
        );
    }
    let id = format!("prj_{}", uuid::Uuid::now_v7().simple());
    match s
        .store
        .svc_create_project(&id, &p.external_id, &p.name, unix(s.clock.now()))
        .await
    {
        Ok((project, created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({ "id": project.id, "external_id": project.external_id, "name": project.name })),
            )
                .into_response()
        }
        Err(e) => internal(e),
    }
}

async fn list_projects(State(s): State<Embedded>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return fail(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token required");
    }
    match s.store.svc_projects().await {
        Ok(all) => Json(json!({
            "projects": all.iter().map(|p| json!({"id": p.id, "external_id": p.external_id, "name": p.name})).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Debug, Deserialize)]
struct NewSubscription {
    project_id: String,
    plan: String,
}

async fn create_subscription(
    State(s): State<Embedded>,
    headers: HeaderMap,
    body: Option<Json<NewSubscription>>,
) -> Response {
    if !authorized(&s, &headers) {
        return fail(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token required");
    }
    let Some(Json(n)) = body else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected {\"project_id\", \"plan\"}",
        );
    };
    let id = format!("sub_{}", uuid::Uuid::now_v7().simple());
    match s
        .store
        .svc_create_subscription(&id, &n.project_id, &n.plan, unix(s.clock.now()))
        .await
    {
        Ok(Some((sub, created))) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({ "id": sub.id, "project_id": sub.project_id, "plan": sub.plan })),
            )
                .into_response()
        }
        Ok(None) => fail(StatusCode::NOT_FOUND, "not_found", "no such project"),
        Err(e) => internal(e),
    }
}

async fn list_subscriptions(State(s): State<Embedded>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return fail(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token required");
    }
    match s.store.svc_subscriptions().await {
        Ok(all) => Json(json!({
            "subscriptions": all.iter().map(|x| json!({"id": x.id, "project_id": x.project_id, "plan": x.plan})).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Debug, Deserialize)]
struct MemberBody {
    email: Option<String>,
    name: Option<String>,
    role: String,
    project_role: String,
}

async fn put_member(
    State(s): State<Embedded>,
    Path((project_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Option<Json<MemberBody>>,
) -> Response {
    if !authorized(&s, &headers) {
        return fail(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token required");
    }
    let Some(Json(m)) = body else {
        return fail(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected {\"role\", \"project_role\", …}",
        );
    };
    let member = SvcMember {
        project_id,
        user_id,
        email: m.email,
        name: m.name,
        role: m.role,
        project_role: m.project_role,
        updated_at: unix(s.clock.now()),
    };
    match s.store.svc_upsert_member(&member).await {
        Ok(Some(created)) => {
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({ "project_id": member.project_id, "user_id": member.user_id })),
            )
                .into_response()
        }
        Ok(None) => fail(StatusCode::NOT_FOUND, "not_found", "no such project"),
        Err(e) => internal(e),
    }
}

async fn list_members(
    State(s): State<Embedded>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&s, &headers) {
        return fail(StatusCode::UNAUTHORIZED, "unauthorized", "bearer token required");
    }
    match s.store.svc_members(&project_id).await {
        Ok(all) => Json(json!({
            "members": all.iter().map(|m| json!({
                "user_id": m.user_id, "email": m.email, "role": m.role, "project_role": m.project_role
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(e) => internal(e),
    }
}
