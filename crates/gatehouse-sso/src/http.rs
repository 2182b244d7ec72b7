//! The axum edge of the gateway.
//!
//! - [`admin`]: the tenant admin API under `/admin` (bearer admin token).
//! - [`sso`]: `GET|POST /sso/start` and the IdP callback `GET /okta-login/{tenant_slug}`.
//! - [`dashboard`]: the start page `/`, `GET /dashboard`, `POST /logout`.
//! - [`cors`]: browser calls allowed only from the tenant's registered origins.
//! - [`problem`]: the one place errors become responses: JSON `{"error", "message", "field"?}`
//!   for API callers, an error page for browsers (chosen by `Accept`).
//! - [`pages`]: the askama templates.
//! - [`cookies`]: the gateway's cookies (browser binding of a login, dashboard session).

pub mod admin;
pub mod cookies;
pub mod cors;
pub mod dashboard;
pub mod pages;
pub mod problem;
pub mod sso;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderName;
use axum::routing::get;
use gatehouse_crypto::Keyring;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::domain::PublicUrl;
use crate::oidc::Oidc;
use crate::provision::Provisioner;
use crate::store::Store;

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    pub keyring: Keyring,
    pub oidc: Oidc,
    pub provisioner: Provisioner,
    pub clock: Arc<dyn Clock>,
    pub public_url: PublicUrl,
    /// SHA-256 (hex) of `GATEHOUSE_SSO_ADMIN_TOKEN`, when set.
    pub admin_token_hash: Option<String>,
    /// How long a callback waits for the first provisioning run before showing the dashboard.
    pub provision_wait: Duration,
}

/// Shared state handle.
pub type SharedState = Arc<AppState>;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The gateway's routes with their middleware.
pub fn router(state: SharedState) -> Router {
    let browser = Router::new()
        .route("/sso/start", get(sso::start_get).post(sso::start_post))
        .route("/dashboard", get(dashboard::dashboard))
        .route("/logout", axum::routing::post(dashboard::logout))
        .layer(cors::layer(state.clone()));
    Router::new()
        .route("/", get(dashboard::home))
        .route("/healthz", get(healthz))
        .route("/okta-login/{tenant_slug}", get(sso::callback))
        .merge(browser)
        .nest("/admin", admin::router(state.clone()))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(problem::negotiate))
        .layer(RequestBodyLimitLayer::new(64 * 1024))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn healthz(axum::extract::State(state): axum::extract::State<SharedState>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.store.admin_token_count().await {
        Ok(_) => {
            axum::Json(serde_json::json!({ "status": "ok", "database": state.store.kind() })).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "unavailable", "error": "database unreachable" })),
            )
                .into_response()
        }
    }
}

async fn not_found() -> crate::SsoError {
    crate::SsoError::NotFound
}
