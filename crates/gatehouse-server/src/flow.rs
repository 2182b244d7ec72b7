//! Sign-in flows (DESIGN sections 4.2–4.4, 5 and 6, issue 4): the interaction API
//! (`/api/v1/flows/{id}`), the sign-in page (`/signin/{id}`) and one-time code delivery.
//!
//! Its contract with `oidc`: the authorize endpoint calls [`start`] with the validated request;
//! the flow evaluates the app's policy at once (a live session may already satisfy it) and
//! answers with a flow to interact with, a completed sign-in's redirect, or a denial's redirect.

use std::net::IpAddr;

use axum::Router;
use gatehouse_core::model::{Application, FlowId};
use gatehouse_oidc::AuthorizationRequest;

use crate::session::LiveSession;
use crate::{ApiError, AppState, Config, ServerError};

/// The flows' state: delivery channels.
#[derive(Debug)]
pub struct FlowState {}

impl FlowState {
    pub fn new(_config: &Config) -> Result<Self, ServerError> {
        Ok(Self {})
    }
}

/// What the authorize endpoint hands to a new sign-in.
#[derive(Debug, Clone)]
pub struct FlowStart {
    /// The validated authorization request (kept in the flow until the code is issued).
    pub request: AuthorizationRequest,
    pub app: Application,
    /// `acr_values` and `max_age` as the policy engine's step-up (they only add requirements).
    pub step_up: gatehouse_policy::StepUp,
    /// `prompt=login`: records of the current session do not count; the user signs in again.
    pub force_login: bool,
    /// `prompt=none`: no interaction may happen; answer at once.
    pub interaction_allowed: bool,
    pub client_ip: IpAddr,
    pub user_agent: Option<String>,
}

/// How a new sign-in begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The user must interact: send the browser to `/signin/{id}`.
    Interaction(FlowId),
    /// The session already satisfies the policy: redirect to the client with the code.
    Complete { redirect: String },
    /// The policy denies the sign-in: redirect to the client with `access_denied`.
    Denied { redirect: String },
    /// `prompt=none` but the user must interact (`login_required` when there is no session,
    /// else `interaction_required`).
    InteractionRequired { login_required: bool },
}

/// Starts a sign-in for an authorization request.
pub async fn start(
    _state: &AppState,
    _session: Option<LiveSession>,
    _start: FlowStart,
) -> Result<Started, ApiError> {
    Err(ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "sign-in flows are not available yet",
    ))
}

/// The flows' routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
