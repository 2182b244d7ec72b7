//! The admin API under `/api/v1` (DESIGN section 10, issue 3), authenticated by admin API tokens,
//! and its OpenAPI document at `/api/v1/openapi.json`.
//!
//! Layout:
//! - `tokens`: admin API tokens — creation (CLI, first start), bearer authentication.

use axum::Router;

use crate::AppState;

pub mod tokens;

/// The admin API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
