//! The admin API under `/api/v1` (DESIGN section 10, issue 3), authenticated by admin API tokens,
//! and its OpenAPI document at `/api/v1/openapi.json`.
//!
//! Layout:
//! - `tokens`: admin API tokens — creation (CLI, first start), bearer authentication.
//! - `extract`: the [`extract::Admin`] guard, JSON bodies refused with the failing field, paging.
//! - `users`, `groups`, `apps`, `zones`, `policies`, `access_rules`, `logs`: one module per
//!   resource, each with its handlers and their OpenAPI descriptions.
//!
//! Every write runs in one transaction with its system-log event (actor: the admin token).

use axum::Json;
use axum::Router;
use axum::http::Uri;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, AppState};

pub mod access_rules;
pub mod apps;
pub mod extract;
pub mod groups;
pub mod logs;
pub mod policies;
pub mod risk;
pub mod tokens;
pub mod users;
pub mod zones;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse admin API",
        description = "Users, groups, apps, zones, policies, sessions, enrollments and the system log. \
                       Authenticate with `Authorization: Bearer <admin token>`."
    ),
    modifiers(&BearerAuth),
    security(("admin_token" = [])),
    components(schemas(gatehouse_api::error::ErrorBody, gatehouse_api::error::Diagnostic))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The admin routes with their OpenAPI descriptions.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get_one, users::update, users::delete))
        .routes(routes!(users::lifecycle))
        .routes(routes!(users::set_password))
        .routes(routes!(users::groups_of))
        .routes(routes!(users::enrollments))
        .routes(routes!(users::delete_enrollment))
        .routes(routes!(users::sessions, users::end_sessions))
        .routes(routes!(risk::get_risk, risk::set_risk, risk::clear_risk))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::get_one, groups::update, groups::delete))
        .routes(routes!(groups::members))
        .routes(routes!(groups::add_member, groups::remove_member))
        .routes(routes!(apps::list, apps::create))
        .routes(routes!(apps::get_one, apps::update, apps::delete))
        .routes(routes!(apps::rotate_secret))
        .routes(routes!(zones::list, zones::create))
        .routes(routes!(zones::get_one, zones::update, zones::delete))
        .routes(routes!(policies::list, policies::create))
        .routes(routes!(policies::get_one, policies::replace, policies::delete))
        .routes(routes!(policies::rules, policies::add_rule))
        .routes(routes!(
            policies::get_rule,
            policies::replace_rule,
            policies::delete_rule
        ))
        .routes(routes!(policies::reorder))
        .routes(routes!(policies::simulate))
        .routes(routes!(access_rules::list, access_rules::create))
        .routes(routes!(
            access_rules::get_one,
            access_rules::replace,
            access_rules::delete
        ))
        .routes(routes!(logs::list))
        .routes(routes!(crate::verify::registry::list))
        .routes(routes!(
            crate::verify::registry::show,
            crate::verify::registry::delete
        ))
        .routes(routes!(crate::verify::registry::lifecycle))
}

/// The OpenAPI document of [`api`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().split_for_parts().1
}

/// The admin API's routes, `/api/v1/openapi.json`, and a JSON 404 for unknown `/api/v1` paths.
pub fn router() -> Router<AppState> {
    let (router, document) = api().split_for_parts();
    let document = std::sync::Arc::new(document);
    router
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = std::sync::Arc::clone(&document);
                async move { Json(document.as_ref().clone()) }
            }),
        )
        .route("/api/v1/{*rest}", axum::routing::any(unknown_path))
        .route("/api/v1", axum::routing::any(unknown_path))
}

async fn unknown_path(uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no admin API route at {}", uri.path()),
    )
}
