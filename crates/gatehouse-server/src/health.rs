//! `/healthz`: the process is up and its database answers. `/readyz`: this node should get
//! traffic — the database answers with the schema this binary expects, and shutdown has not
//! begun.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.store().settings().get("schema_probe").await {
        Ok(_) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "reason": "database unreachable"})),
            )
        }
    }
}

/// `GET /readyz`: `200 {"status": "ready"}`, or `503` with the reason (`draining`, `database
/// unreachable`, `database schema not migrated`).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let unavailable = |reason: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "reason": reason})),
        )
    };
    if state.draining() {
        return unavailable("draining");
    }
    match state.store().migrated().await {
        Ok(true) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(false) => unavailable("database schema not migrated"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            unavailable("database unreachable")
        }
    }
}
